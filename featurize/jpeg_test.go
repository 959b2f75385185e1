package featurize

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/internal/corrupt"
)

// corpusClassFiles lists one class of the committed corpus.
func corpusClassFiles(t testing.TB, class string) []string {
	t.Helper()
	ps, err := filepath.Glob(filepath.Join("testdata", "corpus", class, "*"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(ps)
	return ps
}

// FEATURIZER_SCAN_DIR=DIR compares every image under DIR with Pillow's
// verdict and pixels: how real-world collections are checked.
func TestScanDirMatchesPillow(t *testing.T) {
	root := os.Getenv("FEATURIZER_SCAN_DIR")
	if root == "" {
		t.Skip("FEATURIZER_SCAN_DIR not set")
	}
	needPillow(t)
	var paths []string
	filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if b, err := os.ReadFile(p); err == nil && Sniff(b) != "" {
				paths = append(paths, p)
			}
		}
		return nil
	})
	want, err := corrupt.PillowVerdicts(paths)
	if err != nil {
		t.Fatal(err)
	}
	var d Decoder
	defer d.Close()
	bad := 0
	for _, p := range paths {
		v, got := want[p], verdictOf(&d, p)
		switch {
		case v.OK != got.ok:
			t.Errorf("%s: Pillow ok=%v (%s), featurizer ok=%v (%s)", p, v.OK, v.Error, got.ok, got.err)
			bad++
		case v.OK && v.SHA256 != "" && (v.SHA256 != got.sha256 || v.Width != got.w || v.Height != got.h):
			t.Errorf("%s: pixels differ (featurizer %dx%d, Pillow %dx%d)", p, got.w, got.h, v.Width, v.Height)
			bad++
		}
	}
	t.Logf("%d files, %d disagree", len(paths), bad)
}

// Decoding at a reduced size (FastDecode) never changes the verdict: the
// data is read the same way whatever the output scale.
func TestJPEGFastDecodeSameVerdict(t *testing.T) {
	paths := corpusClassFiles(t, "jpeg")
	if len(paths) == 0 {
		t.Skip("no jpeg corpus")
	}
	var full Decoder
	fast := Decoder{FastDecode: true, MinSize: func(w, h int) (int, int) { return 1, 1 }}
	defer full.Close()
	defer fast.Close()
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err1 := full.Decode(data)
		_, err2 := fast.Decode(data)
		if (err1 == nil) != (err2 == nil) {
			t.Errorf("%s: full size: %v; scaled: %v", filepath.Base(p), err1, err2)
		}
	}
}

// Rejections say what Pillow says, prefixed by the format.
func TestJPEGErrorsNameTheFormat(t *testing.T) {
	var d Decoder
	defer d.Close()
	for _, p := range corpusClassFiles(t, "jpeg") {
		data, _ := os.ReadFile(p)
		if _, err := d.Decode(data); err != nil && !strings.Contains(strings.ToUpper(err.Error()), "JPEG") {
			t.Errorf("%s: %v does not name the format", filepath.Base(p), err)
		}
	}
}

// FuzzJPEGOpen feeds mutated corpus JPEGs to Pillow's marker walk and the
// decoder: errors are fine, panics and impossible sizes are not.
func FuzzJPEGOpen(f *testing.F) {
	for _, class := range []string{"jpeg", "orient"} {
		for _, p := range corpusClassFiles(f, class) {
			if b, err := os.ReadFile(p); err == nil && Sniff(b) == "jpeg" && len(b) < 32<<10 {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := jpegOpen(data)
		if err == nil && (fr.w <= 0 || fr.h <= 0) {
			t.Fatalf("jpegOpen accepted a %dx%d frame", fr.w, fr.h)
		}
		if o := jpegOrientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
		d := Decoder{MaxPixels: 1 << 20}
		defer d.Close()
		img, err := d.Decode(data)
		if err == nil && (img.W <= 0 || img.H <= 0 || len(img.Pix) < img.W*img.H*3) {
			t.Fatalf("bad image %dx%d with %d bytes", img.W, img.H, len(img.Pix))
		}
	})
}
