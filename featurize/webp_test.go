package featurize

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readCorpus(t testing.TB, class, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "corpus", class, name))
	if err != nil {
		t.Skip(err)
	}
	return b
}

// The canvas is checked against MaxPixels before libwebp allocates it.
func TestWebPMaxPixels(t *testing.T) {
	b := readCorpus(t, "webp", "anim-canvas-over-limit.webp")
	var d Decoder
	if _, err := d.Decode(b); err == nil || !strings.Contains(err.Error(), "--max-pixels") {
		t.Errorf("14000x14000 canvas: got %v, want the pixel limit", err)
	}
	d.MaxPixels = 100
	if _, err := d.Decode(readCorpus(t, "webp", "lossy-q75.webp")); err == nil || !strings.Contains(err.Error(), "--max-pixels") {
		t.Errorf("37x23 with a limit of 100 pixels: got %v, want the pixel limit", err)
	}
}

// What libwebp refuses comes back in words, prefixed by the format.
func TestWebPErrors(t *testing.T) {
	for pattern, want := range map[string]string{
		"bad-fourcc.webp":                  "cannot identify",
		"riff-header-only.webp":            "cannot identify",
		"riff-size-long-lossy.webp":        "could not create decoder object",
		"alph-bad-method.webp":             "could not decode the first frame",
		"trunc-sizes-fixed-lossy-0*.webp":  "not enough data",
		"trunc-sizes-fixed-lossless*.webp": "could not decode the first frame",
	} {
		paths, _ := filepath.Glob(filepath.Join("testdata", "corpus", "webp", pattern))
		if len(paths) == 0 {
			t.Skipf("no corpus file %s", pattern)
		}
		for _, p := range paths {
			var d Decoder
			_, err := d.Decode(readCorpus(t, "webp", filepath.Base(p)))
			if err == nil || !strings.HasPrefix(err.Error(), "WebP: ") || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: got %v, want a WebP error saying %q", filepath.Base(p), err, want)
			}
		}
	}
}

// The EXIF chunk is the one libwebp's demuxer hands Pillow: in a VP8X file
// that flags it, inside the RIFF size.
func TestWebPEXIFChunk(t *testing.T) {
	for name, want := range map[string]bool{
		"exif-orientation-6-lossy.webp":       true,
		"exif-before-image.webp":              true,
		"exif-simple-vp8-trailing-chunk.webp": false,
		"exif-vp8x-flag-unset.webp":           false,
		"exif-after-riff-end.webp":            false,
		"lossy-q75.webp":                      false,
	} {
		if got := webpEXIF(readCorpus(t, "webp", name)) != nil; got != want {
			t.Errorf("%s: EXIF chunk found %v, want %v", name, got, want)
		}
	}
}

// Pillow reads a file RGBA or RGB by WebPGetFeatures' alpha flag alone:
// a VP8L header that says "no alpha" drops real alpha, and one that says
// "alpha" over opaque pixels changes nothing.
func TestWebPAlphaFlag(t *testing.T) {
	var d Decoder
	with, err := d.Decode(readCorpus(t, "webp", "lossless-alpha-gradient.webp"))
	if err != nil {
		t.Fatal(err)
	}
	with = &RGB{W: with.W, H: with.H, Pix: append([]uint8(nil), with.Pix...)}
	without, err := d.Decode(readCorpus(t, "webp", "vp8l-alpha-bit-cleared.webp"))
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for i := range with.Pix {
		if with.Pix[i] == without.Pix[i] {
			same++
		}
	}
	if same == len(with.Pix) {
		t.Error("clearing the VP8L alpha bit did not drop the alpha")
	}
}

// FuzzWebP feeds mutated corpus WebPs to libwebp as Pillow drives it:
// errors are fine, crashes and inconsistent images are not.
func FuzzWebP(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "corpus", "webp", "*.webp"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 16<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 12 {
			return
		}
		// Keep it a RIFF WebP with a consistent RIFF size, so the fuzzer
		// spends its time in the chunks and the bitstreams.
		data = append([]byte("RIFF\x00\x00\x00\x00WEBP"), data[12:]...)
		binary.LittleEndian.PutUint32(data[4:], uint32(len(data)-8))
		webpEXIF(data)                   // what Pillow's getexif reads
		d := Decoder{MaxPixels: 1 << 16} // small, so each run is quick
		img, err := d.Decode(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "WebP") && !strings.Contains(err.Error(), "pixels") {
				t.Fatalf("error does not say WebP: %v", err)
			}
			return
		}
		if img.W <= 0 || img.H <= 0 || len(img.Pix) != img.W*img.H*3 {
			t.Fatalf("bad image %dx%d with %d bytes", img.W, img.H, len(img.Pix))
		}
	})
}
