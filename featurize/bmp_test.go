package featurize

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readBMPCorpus(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "corpus", "bmp", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Refusals say what Pillow says.
func TestBMPErrors(t *testing.T) {
	for name, want := range map[string]string{
		"bad-compression-4.bmp":      "BMP: Unsupported BMP compression (4)",
		"bad-bits-2.bmp":             "BMP: Unsupported BMP pixel depth (2)",
		"bad-header-size-41.bmp":     "BMP: Unsupported BMP header type (41)",
		"pal8-colors70000.bmp":       "BMP: Unsupported BMP Palette size (70000)",
		"pal8-colors300.bmp":         "BMP: invalid palette size",
		"rgb32-bad-v5.bmp":           "BMP: Unsupported BMP bitfields layout",
		"rle8-bw-palette.bmp":        "BMP: unknown raw mode for given image mode",
		"rle8-truncated.bmp":         "BMP: not enough image data",
		"pal4-grey-ramp-short.bmp":   "BMP: codec configuration error",
		"trunc-rgb24-0411.bmp":       "BMP: image file is truncated",
		"width0.bmp":                 "BMP: cannot identify image file",
		"huge-dimensions.bmp":        "over the limit",
		"bad-header-size-16.bmp":     "BMP: Unsupported BMP header type (16)",
		"rle8-delta-short.bmp":       "BMP: not enough values to unpack",
		"pal8-offset-past-end.bmp":   "BMP: image file is truncated",
		"trunc-pal8-0053.bmp":        "BMP: Truncated File Read",
		"short-14.bmp":               "BMP: cannot identify image file",
		"large-dimensions-short.bmp": "BMP: image file is truncated",
	} {
		var d Decoder
		_, err := d.Decode(readBMPCorpus(t, name))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", name, err, want)
		}
	}
}

// A header announcing a large image over a few bytes of data is refused
// before any pixel memory is taken.
func TestBMPNoAllocationBeforeData(t *testing.T) {
	for _, name := range []string{"rle8-huge-short.bmp", "large-dimensions-short.bmp"} {
		var d Decoder
		if _, err := d.Decode(readBMPCorpus(t, name)); err == nil {
			t.Fatalf("%s decoded", name)
		}
		if cap(d.pix) != 0 || cap(d.cmyk) != 0 {
			t.Errorf("%s: %d+%d bytes allocated before the data ran out", name, cap(d.pix), cap(d.cmyk))
		}
	}
}

// Buffers reused between calls leave nothing behind: an RLE image decoded
// after a larger one has the pixels of a fresh decoder.
func TestBMPReuse(t *testing.T) {
	var fresh, reused Decoder
	if _, err := reused.Decode(readBMPCorpus(t, "rgb24.bmp")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"rle8-escapes.bmp", "rle4-escapes.bmp", "pal4-grey-ramp-mapped.bmp"} {
		b := readBMPCorpus(t, name)
		want, err := fresh.Decode(b)
		if err != nil {
			t.Fatal(name, err)
		}
		wantPix := append([]byte(nil), want.Pix...)
		got, err := reused.Decode(b)
		if err != nil {
			t.Fatal(name, err)
		}
		if string(got.Pix) != string(wantPix) {
			t.Errorf("%s: pixels depend on the previous image", name)
		}
	}
}

func FuzzBMP(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "corpus", "bmp", "*.bmp"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !strings.HasPrefix(string(b), "BM") {
			return
		}
		d := Decoder{MaxPixels: 1 << 20}
		img, err := d.decodeBMP(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "BMP: ") {
				t.Fatalf("error without the format: %v", err)
			}
			return
		}
		if img.W <= 0 || img.H <= 0 || len(img.Pix) != img.W*img.H*3 {
			t.Fatalf("bad image %dx%d with %d bytes", img.W, img.H, len(img.Pix))
		}
	})
}
