package table

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/storage"
	"github.com/parquet-go/parquet-go"
)

func TestPartIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, PartName(3))
	p, err := NewLocalPart[FeatureRow](path, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	l := "x"
	if err := p.Write([]FeatureRow{{Path: "a", Label: &l, Features: []float32{1, 2}}, {Path: "b", Features: []float32{3, 4}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("the part is visible before Commit")
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	rows, err := ReadAll[FeatureRow](dir)
	if err != nil || len(rows) != 2 || rows[1].Features[1] != 4 || *rows[0].Label != "x" || rows[1].Label != nil {
		t.Fatalf("%v %+v", err, rows)
	}
	meta, _ := FooterMetadata(path)
	if meta["k"] != "v" {
		t.Errorf("footer %v", meta)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	q, _ := NewLocalPart[FeatureRow](filepath.Join(dir, PartName(4)), nil)
	q.Write([]FeatureRow{{Path: "c"}})
	q.Abort()
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("abort left %v", ents)
	}
}

// An unsharded run's Prepare: a new directory is made, a complete table
// is refused without overwrite and removed with it, and files featurizer
// did not write are never deleted.
func TestPrepareUnsharded(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "new")
	prep := func(overwrite bool) error {
		return Prepare(context.Background(), storage.NewLocal(out), PrepareOptions{Overwrite: overwrite, Creator: true})
	}
	if err := prep(false); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(out); err != nil || !st.IsDir() {
		t.Fatalf("no directory made: %v", err)
	}
	os.WriteFile(filepath.Join(out, PartName(0)), nil, 0o644)
	os.WriteFile(filepath.Join(out, SuccessFile), nil, 0o644)
	if err := prep(false); !errors.Is(err, ErrOutputExists) || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("got %v", err)
	}
	if err := prep(true); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("overwrite left %v", ents)
	}
	os.WriteFile(filepath.Join(out, "thesis.pdf"), nil, 0o644)
	if err := prep(true); err == nil || !strings.Contains(err.Error(), "thesis.pdf") {
		t.Errorf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "thesis.pdf")); err != nil {
		t.Error("a file featurizer did not write was removed")
	}
}

// Spark reads features as array<float> only from the standard three-level
// LIST layout.
func TestSparkListLayout(t *testing.T) {
	dir := t.TempDir()
	p, _ := NewLocalPart[FeatureRow](filepath.Join(dir, PartName(0)), nil)
	p.Write([]FeatureRow{{Path: "a", Features: []float32{1}}})
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(filepath.Join(dir, PartName(0)))
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	schema := pf.Schema().String()
	for _, want := range []string{"required binary path (STRING)", "optional binary label (STRING)", "optional int32 label_index (INT(32,true))",
		"required group features (LIST) {", "repeated group list {", "required float element;"} {
		if !strings.Contains(schema, want) {
			t.Errorf("schema lacks %q:\n%s", want, schema)
		}
	}
	if !strings.HasPrefix(pf.Metadata().CreatedBy, "featurizer version ") {
		t.Errorf("created_by %q", pf.Metadata().CreatedBy)
	}
}

// A shard that starts (or resumes) removes its own leftovers only: the
// other shards' temporaries are files being written right now.
func TestShardRemovesOnlyItsTemps(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := storage.NewLocal(dir)
	os.MkdirAll(filepath.Join(dir, RejectsDir), 0o755)
	os.MkdirAll(filepath.Join(dir, ShardsDir), 0o755)
	files := map[string]bool{ // name -> removed by shard 1 of generation 1
		".part-g0001-s001-00000.parquet.tmp-1":               true,
		RejectsDir + "/.part-g0001-s001-00003.parquet.tmp-2": true,
		ShardsDir + "/.shard-g0001-001-of-004.json.tmp-3":    true,
		"._summary-s001.json.tmp-4":                          true,
		".part-g0001-s002-00000.parquet.tmp-5":               false,
		ShardsDir + "/.shard-g0001-002-of-004.json.tmp-6":    false,
		"._manifest.json.tmp-7":                              false,
	}
	for n := range files {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644)
	}
	if err := Prepare(ctx, d, PrepareOptions{Shard: Shard{Index: 1, Count: 4, Gen: 1}, Base: &Manifest{}}); err != nil {
		t.Fatal(err)
	}
	for n, removed := range files {
		_, err := os.Stat(filepath.Join(dir, n))
		if removed != (err != nil) {
			t.Errorf("%s: removed %v, want %v", n, err != nil, removed)
		}
	}
}
