package featurize

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/internal/corrupt"
)

func TestCorruptCorpus(t *testing.T) {
	dir := t.TempDir()
	if err := corrupt.Write(dir); err != nil {
		t.Fatal(err)
	}
	var d Decoder
	defer d.Close()
	reasons := map[string]string{
		"zero-bytes.jpg":           "empty file",
		"truncated.jpg":            "truncated JPEG",
		"text-named.jpg":           "unknown image format",
		"huge-header.jpg":          "60000x60000 = 3600000000 pixels, over the limit",
		"huge-header.png":          "60000x60000 = 3600000000 pixels, over the limit",
		"garbage-after-header.png": "PNG",
	}
	for _, f := range corrupt.Files {
		data, _ := os.ReadFile(filepath.Join(dir, f.Name))
		img, err := d.Decode(data)
		if f.Stage == "" {
			if err != nil {
				t.Errorf("%s: %v", f.Name, err)
				continue
			}
			want := [2]int{96, 64}
			if f.Name == "exif-rotated.jpg" || f.Name == "alpha.png" {
				want = [2]int{64, 96} // rotated by EXIF / drawn tall
			}
			if img.W != want[0] || img.H != want[1] || len(img.Pix) != img.W*img.H*3 {
				t.Errorf("%s: %dx%d, want %v", f.Name, img.W, img.H, want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), reasons[f.Name]) {
			t.Errorf("%s: got %v, want an error containing %q", f.Name, err, reasons[f.Name])
		}
	}
}

// A 60000x60000 header is refused before any pixel memory exists.
func TestHugeHeaderAllocatesNothing(t *testing.T) {
	dir := t.TempDir()
	if err := corrupt.Write(dir); err != nil {
		t.Fatal(err)
	}
	// readFixture fails the test rather than decode nothing: an empty or
	// missing file is refused too, for another reason, and allocates
	// nothing either.
	readFixture := func(name string) []byte {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(data) == 0 {
			t.Fatalf("fixture %s: %d bytes, %v", name, len(data), err)
		}
		return data
	}
	for _, name := range []string{"huge-header.jpg", "huge-header.png"} {
		data := readFixture(name)
		var d Decoder
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := d.Decode(data)
		runtime.ReadMemStats(&after)
		d.Close()
		// Refused for its header's size, the case under test.
		if err == nil || !strings.Contains(err.Error(), "60000x60000 = 3600000000 pixels, over the limit") {
			t.Fatalf("%s: got %v, want a refusal of its 60000x60000 header", name, err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Errorf("%s: decoding allocated %d bytes before refusing", name, grew)
		}
	}
	d := Decoder{MaxPixels: 96*64 - 1}
	data := readFixture("ok.jpg")
	if _, err := d.Decode(data); err == nil || !strings.Contains(err.Error(), "--max-pixels") {
		t.Errorf("the limit is not applied: %v", err)
	}
}

func TestFastDecodeScales(t *testing.T) {
	m := corrupt.Image(1600, 1200)
	dir := t.TempDir()
	p := filepath.Join(dir, "big.jpg")
	writeImage(t, p, m)
	data, _ := os.ReadFile(p)
	pp := NewPreprocessor(cropSpec(256, 224))
	d := Decoder{FastDecode: true, MinSize: pp.MinDecodeSize}
	defer d.Close()
	img, err := d.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	// 1/4 scale gives 400x300: the smallest that keeps the short side >= 256.
	if img.W != 400 || img.H != 300 {
		t.Errorf("fast decode gave %dx%d, want 400x300", img.W, img.H)
	}
	dst := make([]float32, 3*224*224)
	if err := pp.Apply(img, dst); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecode feeds mutated real files to every decoder: errors are fine,
// crashes and inconsistent images are not.
func FuzzDecode(f *testing.F) {
	dir := f.TempDir()
	corrupt.Write(dir)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if len(b) < 64<<10 {
			f.Add(b)
		}
	}
	// Every JPEG structure: progressive, restart markers, arithmetic
	// coding, grey, CMYK, YCCK.
	jdir := filepath.Join(dir, "jpegs")
	names, err := corrupt.WriteDamagedJPEGs(jdir, 1)
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range names {
		if b, _ := os.ReadFile(filepath.Join(jdir, n)); strings.HasSuffix(n, "-intact.jpg") && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	for _, p := range []string{"coral-test-images/hot_dog.jpg", "coral-test-images/cat.bmp"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "shared", "data", p)); err == nil {
			f.Add(b)
		}
	}
	pp := NewPreprocessor(cropSpec(40, 32))
	dst := make([]float32, 3*32*32)
	f.Fuzz(func(t *testing.T, data []byte) {
		d := Decoder{MaxPixels: 1 << 22}
		defer d.Close()
		img, err := d.Decode(data)
		if err != nil {
			return
		}
		if img.W <= 0 || img.H <= 0 || len(img.Pix) != img.W*img.H*3 {
			t.Fatalf("bad image %dx%d with %d bytes", img.W, img.H, len(img.Pix))
		}
		if err := pp.Apply(img, dst); err != nil {
			t.Fatal(err)
		}
	})
}
