package featurize

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/internal/corrupt"
	"github.com/featurizer/featurizer/modelspec"
)

// corpusClasses are the folders of testdata/corpus: one per format, each
// made by tools/corpus/<class>.py (make corpus) and committed.
var corpusClasses = []string{"bmp", "gif", "jpeg", "orient", "png", "tiff", "webp"}

// corpusFiles lists the corpus, class by class.
func corpusFiles(t *testing.T) map[string][]string {
	t.Helper()
	root := filepath.Join("testdata", "corpus")
	byClass := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		class, _, ok := strings.Cut(filepath.ToSlash(rel), "/")
		if !ok {
			return nil // README.md and the like
		}
		byClass[class] = append(byClass[class], p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if only := os.Getenv("FEATURIZER_CORPUS_CLASS"); only != "" {
		// One class at a time, while working on its decoder.
		return map[string][]string{only: byClass[only]}
	}
	for _, c := range corpusClasses {
		if len(byClass[c]) == 0 {
			t.Errorf("corpus class %s has no files (make corpus)", c)
		}
	}
	for c := range byClass {
		if !contains(corpusClasses, c) {
			t.Errorf("corpus folder %s is not a known class %v", c, corpusClasses)
		}
	}
	return byClass
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// Every file of the committed corpus is a row exactly when Pillow decodes
// it, and then with Pillow's pixels and the PIL/torchvision reference's
// float32 tensor, bit for bit.
func TestCorpusMatchesPillow(t *testing.T) {
	needPillow(t)
	byClass := corpusFiles(t)
	var paths []string
	for _, ps := range byClass {
		paths = append(paths, ps...)
	}
	sort.Strings(paths)
	want, err := corrupt.PillowVerdicts(paths)
	if err != nil {
		t.Fatal(err)
	}
	if v := corrupt.PillowVersion(); v != corrupt.PinnedPillow {
		// Another Pillow (FEATURIZER_PILLOW_PYTHON) is a probe, not the pin:
		// the README says where Pillow itself changed since.
		if os.Getenv("FEATURIZER_PILLOW_PYTHON") == "" {
			t.Fatalf("the judge is Pillow %s; the tests pin Pillow %s (Debian bookworm's python3-pil)", v, corrupt.PinnedPillow)
		}
		t.Logf("judge: Pillow %s (not the pinned %s)", v, corrupt.PinnedPillow)
	}

	pre := modelspec.Preprocessing{
		Input:     modelspec.InputSpec{Layout: "NCHW", Size: [2]int{224, 224}, Color: "RGB"},
		Resize:    modelspec.ResizeSpec{Policy: "crop", Size: 256, Filter: "bilinear"},
		Normalize: modelspec.NormalizeSpec{Scale: 255, Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}},
	}
	dir := t.TempDir()
	var d Decoder
	defer d.Close()
	type tally struct{ files, rows, refused, bad int }
	tallies := map[string]*tally{}
	var jobs []refJob
	var bad []string
	for i, p := range paths {
		rel, _ := filepath.Rel(filepath.Join("testdata", "corpus"), p)
		class := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
		tl := tallies[class]
		if tl == nil {
			tl = &tally{}
			tallies[class] = tl
		}
		tl.files++
		v := want[p]
		got := verdictOf(&d, p)
		fail := func(format string, args ...any) {
			tl.bad++
			bad = append(bad, rel+": "+fmt.Sprintf(format, args...))
		}
		switch {
		case v.OK && !got.ok:
			fail("Pillow decodes it (%dx%d), featurizer rejects it: %s", v.Width, v.Height, got.err)
			continue
		case !v.OK && got.ok:
			fail("Pillow refuses it (%s), featurizer makes a %dx%d row", v.Error, got.w, got.h)
			continue
		case !v.OK:
			tl.refused++
			continue
		}
		tl.rows++
		if v.SHA256 == "" {
			continue // Pillow opens it but cannot composite it: nothing to compare
		}
		if got.w != v.Width || got.h != v.Height || got.sha256 != v.SHA256 {
			fail("pixels differ from Pillow's (featurizer %dx%d, Pillow %dx%d)", got.w, got.h, v.Width, v.Height)
			continue
		}
		out := filepath.Join(dir, fmt.Sprintf("%d.raw", i))
		jobs = append(jobs, refJob{Path: p, Policy: "crop", Size: 256, Width: 224, Height: 224, Out: out, TensorOut: out + ".f32",
			Mean: pre.Normalize.Mean, Std: pre.Normalize.Std})
	}
	if len(jobs) > 0 {
		runReference(t, jobs)
		pp := NewPreprocessor(pre)
		for _, j := range jobs {
			img := decodeFile(t, &d, j.Path)
			checkTensor(t, pp, img, j)
		}
	}
	for _, c := range corpusClasses {
		if tl := tallies[c]; tl != nil {
			t.Logf("%-6s %3d files: %3d rows, %3d refused by both, %d disagree", c, tl.files, tl.rows, tl.refused, tl.bad)
		}
	}
	for _, b := range bad {
		t.Error(b)
	}
	t.Logf("%d files, %d tensors compared", len(paths), len(jobs))
}

// The corpus stays small enough to live in the repository.
func TestCorpusSize(t *testing.T) {
	var total int64
	for _, ps := range corpusFiles(t) {
		for _, p := range ps {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			total += st.Size()
		}
	}
	if total > 8<<20 {
		t.Errorf("corpus is %d bytes; keep it under 8 MiB", total)
	}
}
