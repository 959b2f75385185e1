package featurize

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func tiffCorpus(t testing.TB) []string {
	paths, err := filepath.Glob(filepath.Join("testdata", "corpus", "tiff", "*.tif"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no TIFF corpus (make corpus): %v", err)
	}
	return paths
}

// Decoders on many goroutines give each file the same verdict and pixels
// as one decoder alone: libtiff's messages go to the call that caused
// them, never through shared state.
func TestTIFFConcurrentSameResult(t *testing.T) {
	paths := tiffCorpus(t)
	type result struct {
		pix []byte
		err string
	}
	want := map[string]result{}
	var d Decoder
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := d.Decode(data)
		if err != nil {
			want[p] = result{err: err.Error()}
		} else {
			want[p] = result{pix: append([]byte(nil), img.Pix...)}
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var d Decoder
			for i := range paths {
				p := paths[(i+g*7)%len(paths)]
				data, _ := os.ReadFile(p)
				img, err := d.Decode(data)
				w := want[p]
				switch {
				case err != nil && err.Error() != w.err:
					t.Errorf("%s: error %q, alone %q", p, err, w.err)
				case err == nil && !bytes.Equal(img.Pix, w.pix):
					t.Errorf("%s: pixels differ from a lone decoder's", p)
				}
			}
		}(g)
	}
	wg.Wait()
}

// Pillow's own checks on the header and IFD, without Pillow.
func TestTIFFOpenRefusals(t *testing.T) {
	for name, data := range map[string][]byte{
		"short":          []byte("II*\x00"),
		"bigtiff short":  []byte("II+\x00\x08\x00\x00\x00"),
		"ifd past end":   []byte("II*\x00\xff\x00\x00\x00"),
		"no tags":        []byte("II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
		"ifd cut inside": []byte("II*\x00\x08\x00\x00\x00\x05\x00\x00\x01\x03\x00"),
	} {
		var d Decoder
		if img, err := d.Decode(data); err == nil {
			t.Errorf("%s: decoded %dx%d, Pillow refuses it", name, img.W, img.H)
		}
	}
}

// FuzzTIFF: no input crashes the decoder, hangs it or makes it allocate
// past its pixel limit.
func FuzzTIFF(f *testing.F) {
	for _, p := range tiffCorpus(f) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(data) <= 8192 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !isTIFFMagic(data) {
			return
		}
		d := Decoder{MaxPixels: 1 << 20}
		img, err := d.decodeTIFF(data)
		if err == nil && (img.W*img.H > 1<<20 || len(img.Pix) != img.W*img.H*3) {
			t.Fatalf("bad image %dx%d, %d bytes", img.W, img.H, len(img.Pix))
		}
	})
}

// int() of an ASCII or bytes tag value parses as Python's int literal
// (measured with /usr/bin/python3).
func TestTIFFPyInt(t *testing.T) {
	for _, c := range []struct {
		in   string
		str  bool
		want float64
		ok   bool
	}{
		{"23", true, 23, true}, {" 23 ", true, 23, true}, {"\t23\n", false, 23, true},
		{"2_3", true, 23, true}, {"0_5", false, 5, true}, {"+5", true, 5, true}, {"-5", true, -5, true},
		{"0022", true, 22, true}, {"\xa023\x85", true, 23, true}, {"\xa023", false, 0, false},
		{"_10", true, 0, false}, {"10_", true, 0, false}, {"1__0", true, 0, false}, {"", true, 0, false},
		{"23\x00", true, 0, false}, {"0x5", true, 0, false}, {"5 5", true, 0, false}, {"\x1c23", true, 0, false},
	} {
		got, ok := parsePyInt([]byte(c.in), c.str)
		if ok != c.ok || got != c.want {
			t.Errorf("int(%q, str=%v) = %v, %v; want %v, %v", c.in, c.str, got, ok, c.want, c.ok)
		}
	}
}
