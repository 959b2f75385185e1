package table

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/storage"
)

// writeTable writes a complete featurizer table of parts (name -> rows)
// with provenance prov in every footer, the manifest and _SUCCESS.
func writeTable(t *testing.T, dir string, prov Provenance, parts map[string]int) {
	t.Helper()
	ctx := context.Background()
	d := storage.NewLocal(dir)
	os.MkdirAll(dir, 0o755)
	js, _ := json.Marshal(prov)
	m := Manifest{Format: ManifestFormat, Kind: "features", Provenance: prov}
	for name, n := range parts {
		writePart(t, filepath.Join(dir, name), map[string]string{MetadataKey: string(js)}, n)
		m.Parts = append(m.Parts, PartInfo{File: name, Rows: n})
	}
	if err := WriteJSON(ctx, d, ManifestFile, m); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFile(ctx, SuccessFile, nil); err != nil {
		t.Fatal(err)
	}
}

func writePart(t *testing.T, path string, meta map[string]string, n int) {
	t.Helper()
	p, err := NewLocalPart[FeatureRow](path, meta)
	if err != nil {
		t.Fatal(err)
	}
	var rows []FeatureRow
	for i := 0; i < n; i++ {
		rows = append(rows, FeatureRow{Path: filepath.Base(path), Features: []float32{1, 2}})
	}
	if err := p.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
}

func verify(t *testing.T, dir string) (*Checked, error) {
	t.Helper()
	return Verify(context.Background(), storage.NewLocal(dir), VerifyOptions{})
}

// What is a complete table, what is not, and what the error says.
func TestVerify(t *testing.T) {
	prov := Provenance{Tool: "featurizer", ToolVersion: "1", Backbone: "tiny", WeightsSHA256: "abc", FeatureDim: 2, Labels: []string{"a", "b"}}
	parts := map[string]int{"part-00000.parquet": 3, "part-00001.parquet": 2}
	fresh := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "tbl")
		writeTable(t, dir, prov, parts)
		return dir
	}
	incomplete := func(t *testing.T, dir string, want ...string) {
		t.Helper()
		c, err := verify(t, dir)
		var ie *IncompleteError
		if !errors.As(err, &ie) || c == nil {
			t.Fatalf("want an IncompleteError, got %v", err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q lacks %q", err, w)
			}
		}
	}
	mismatch := func(t *testing.T, dir, part, field string) {
		t.Helper()
		_, err := verify(t, dir)
		var me *MismatchError
		if !errors.As(err, &me) || me.Part != part || me.Field != field || !strings.Contains(err.Error(), part) {
			t.Fatalf("want a mismatch of %s on %s, got %v", part, field, err)
		}
	}

	t.Run("complete, with hidden files", func(t *testing.T) {
		dir := fresh(t)
		os.WriteFile(filepath.Join(dir, "_lease.json"), []byte("{}"), 0o644)
		os.WriteFile(filepath.Join(dir, ".part-00002.parquet.tmp-xyz"), []byte("half"), 0o644)
		os.WriteFile(filepath.Join(dir, "_summary-s001.json"), []byte("{}"), 0o644)
		c, err := verify(t, dir)
		if err != nil || !c.Featurizer || c.Manifest == nil || len(c.Parts) != 2 {
			t.Fatalf("%+v %v", c, err)
		}
	})
	t.Run("kill -9 leftover", func(t *testing.T) {
		dir := fresh(t)
		os.Remove(filepath.Join(dir, SuccessFile))
		os.Remove(filepath.Join(dir, ManifestFile))
		incomplete(t, dir, "missing _SUCCESS, _manifest.json", "rerun the same featurize command", "--overwrite")
	})
	t.Run("no _SUCCESS", func(t *testing.T) {
		dir := fresh(t)
		os.Remove(filepath.Join(dir, SuccessFile))
		incomplete(t, dir, "missing _SUCCESS;")
	})
	t.Run("listed part missing", func(t *testing.T) {
		dir := fresh(t)
		os.Remove(filepath.Join(dir, "part-00001.parquet"))
		incomplete(t, dir, "missing part-00001.parquet (listed in _manifest.json)", "--overwrite")
	})
	t.Run("unlisted part", func(t *testing.T) {
		dir := fresh(t)
		writePart(t, filepath.Join(dir, "part-00002.parquet"), nil, 1)
		incomplete(t, dir, "part-00002.parquet in the folder but not in its _manifest.json")
	})
	t.Run("unlisted other file and folder", func(t *testing.T) {
		dir := fresh(t)
		os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644)
		os.Mkdir(filepath.Join(dir, "label=a"), 0o755)
		incomplete(t, dir, "label=a/, notes.txt in the folder")
	})
	t.Run("unreadable manifest", func(t *testing.T) {
		dir := fresh(t)
		os.WriteFile(filepath.Join(dir, ManifestFile), []byte("{"), 0o644)
		incomplete(t, dir, "a readable _manifest.json")
	})
	t.Run("footer from other weights", func(t *testing.T) {
		dir := fresh(t)
		other := prov
		other.WeightsSHA256 = "def"
		js, _ := json.Marshal(other)
		writePart(t, filepath.Join(dir, "part-00001.parquet"), map[string]string{MetadataKey: string(js)}, 2)
		mismatch(t, dir, "part-00001.parquet", "weights_sha256")
	})
	t.Run("footer with other labels", func(t *testing.T) {
		dir := fresh(t)
		other := prov
		other.Labels = []string{"a", "c"}
		js, _ := json.Marshal(other)
		writePart(t, filepath.Join(dir, "part-00000.parquet"), map[string]string{MetadataKey: string(js)}, 3)
		mismatch(t, dir, "part-00000.parquet", "labels")
	})
	t.Run("footer decoded fast", func(t *testing.T) {
		dir := fresh(t)
		other := prov
		other.FastDecode = true
		js, _ := json.Marshal(other)
		writePart(t, filepath.Join(dir, "part-00001.parquet"), map[string]string{MetadataKey: string(js)}, 2)
		mismatch(t, dir, "part-00001.parquet", "fast_decode")
	})
	t.Run("another tool version is the same table", func(t *testing.T) {
		dir := fresh(t)
		other := prov
		other.ToolVersion = "2"
		js, _ := json.Marshal(other)
		writePart(t, filepath.Join(dir, "part-00000.parquet"), map[string]string{MetadataKey: string(js)}, 3)
		if _, err := verify(t, dir); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("rows differ from the manifest", func(t *testing.T) {
		dir := fresh(t)
		js, _ := json.Marshal(prov)
		writePart(t, filepath.Join(dir, "part-00000.parquet"), map[string]string{MetadataKey: string(js)}, 4)
		mismatch(t, dir, "part-00000.parquet", "rows")
	})
	t.Run("part without provenance", func(t *testing.T) {
		dir := fresh(t)
		writePart(t, filepath.Join(dir, "part-00000.parquet"), nil, 3)
		mismatch(t, dir, "part-00000.parquet", MetadataKey)
	})
	t.Run("another tool's table", func(t *testing.T) {
		dir := t.TempDir()
		writePart(t, filepath.Join(dir, "part-00000-abc-c000.snappy.parquet"), nil, 3)
		os.WriteFile(filepath.Join(dir, SuccessFile), nil, 0o644)
		c, err := verify(t, dir)
		if err != nil || c.Featurizer || c.Manifest != nil || len(c.Parts) != 1 {
			t.Fatalf("%+v %v", c, err)
		}
	})
	t.Run("not a table", func(t *testing.T) {
		var ne *NotTableError
		if _, err := verify(t, filepath.Join(t.TempDir(), "nothing")); !errors.As(err, &ne) {
			t.Errorf("missing directory: %v", err)
		}
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "x.csv"), nil, 0o644)
		if _, err := verify(t, dir); !errors.As(err, &ne) {
			t.Errorf("no parts: %v", err)
		}
	})
}

// Sharded and incremental layouts: complete when the manifest lists them;
// a sharded table whose shards have not all finished names them.
func TestVerifyShards(t *testing.T) {
	prov := Provenance{Tool: "featurizer", Backbone: "tiny", WeightsSHA256: "abc", FeatureDim: 2}
	dir := filepath.Join(t.TempDir(), "tbl")
	writeTable(t, dir, prov, map[string]int{"part-s000-00000.parquet": 2, "part-s001-00000.parquet": 1, "part-g0001-s001-00000.parquet": 1})
	os.MkdirAll(filepath.Join(dir, ShardsDir), 0o755)
	for _, n := range []string{"shard-000-of-002.json", "shard-001-of-002.json", "shard-g0001-000-of-002.json", "shard-g0001-001-of-002.json"} {
		os.WriteFile(filepath.Join(dir, ShardsDir, n), []byte("{}"), 0o644)
	}
	if _, err := verify(t, dir); err != nil {
		t.Fatal(err)
	}
	// Generation 2 under way: shard 0 finished, shard 1 not.
	os.Remove(filepath.Join(dir, SuccessFile))
	js, _ := json.Marshal(prov)
	writePart(t, filepath.Join(dir, "part-g0002-s000-00000.parquet"), map[string]string{MetadataKey: string(js)}, 1)
	os.WriteFile(filepath.Join(dir, ShardsDir, "shard-g0002-000-of-002.json"), []byte("{}"), 0o644)
	_, err := verify(t, dir)
	if err == nil || !strings.Contains(err.Error(), "shards not finished: 1/2)") || !strings.Contains(err.Error(), "part-g0002-s000-00000.parquet in the folder") {
		t.Fatalf("%v", err)
	}
}
