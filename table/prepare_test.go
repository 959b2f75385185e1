package table

import (
	"context"
	"encoding/json"
	"errors"
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/storage"
)

// writeRunPart commits a one-row part whose footer says which run wrote it.
func writeRunPart(t *testing.T, d storage.Store, name string, r RunInfo) {
	t.Helper()
	meta := map[string]string{MetadataKey: `{"backbone":"tiny"}`, RunKey: r.JSON()}
	p, err := NewPart[FeatureRow](context.Background(), d, name, meta)
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]FeatureRow{{Path: name, Features: []float32{1}}})
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
}

func writeRecord(t *testing.T, d storage.Store, s Shard, m Manifest) {
	t.Helper()
	if err := WriteJSON(context.Background(), d, s.doneFile(), m); err != nil {
		t.Fatal(err)
	}
}

// allFiles lists every file of d (recursively one level: _rejects, _shards).
func allFiles(t *testing.T, d storage.Store) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"", RejectsDir, ShardsDir} {
		ents, _ := d.List(context.Background(), sub)
		for _, e := range ents {
			if !e.IsDir {
				out = append(out, path.Join(sub, e.Name))
			}
		}
	}
	sort.Strings(out)
	return out
}

// The second shard of a new 2-shard run with --overwrite, on a folder that
// held a complete 3-shard table, starting after the first shard of the
// run: what no shard of the new run writes goes (the 3-shard layout's
// records, the parts of shard 2, the manifest, _SUCCESS, the summaries of
// shard 2), and so does everything of its own shard; the names shard 0/2
// writes are left to it: its new part, and even an older table's part
// under one of its names (it removes those itself when it starts; a
// sibling deleting them could delete a part committed a moment ago under
// the same name).
func TestPrepareOverwriteOtherLayout(t *testing.T) {
	ctx := context.Background()
	for name, dirOf := range leaseDirs(t) {
		t.Run(name, func(t *testing.T) {
			d := dirOf("reshard")
			old := RunInfo{Job: "j3", Run: "old", Shards: 3}
			for i := 0; i < 3; i++ {
				s := Shard{Index: i, Count: 3}
				writeRunPart(t, d, s.PartName(0), old)
				writeRunPart(t, d, RejectsDir+"/"+s.PartName(0), old)
				writeRecord(t, d, s, Manifest{Job: "j3", Run: "old"})
				WriteJSON(ctx, d, "_summary-s00"+string(rune('0'+i))+".json", map[string]int{})
			}
			writeRunPart(t, d, "part-g0001-s001-00000.parquet", old) // an old generation
			writeRunPart(t, d, "part-00003.parquet", old)            // an unsharded table's
			WriteJSON(ctx, d, ManifestFile, Manifest{Shards: 3})
			d.WriteFile(ctx, SuccessFile, nil)
			// Shard 0 of the new run (run "new") has committed a part.
			now := RunInfo{Job: "j2", Run: "new", Shards: 2}
			writeRunPart(t, d, "part-s000-00001.parquet", now)
			writeRecord(t, d, Shard{Index: 1, Count: 2}, Manifest{Job: "j2", Run: "older"}) // its own, from an older table
			if err := Prepare(ctx, d, PrepareOptions{Shard: Shard{Index: 1, Count: 2}, Overwrite: true, Run: now}); err != nil {
				t.Fatal(err)
			}
			want := []string{"_rejects/part-s000-00000.parquet", "_summary-s000.json", "_summary-s001.json", "part-s000-00000.parquet", "part-s000-00001.parquet"}
			if got := allFiles(t, d); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("left:\n  %v\nwant\n  %v", got, want)
			}
		})
	}
}

// The process that created the run's lease, with --overwrite, removes the
// other shards' names too: no process of its run may have committed yet.
func TestPrepareOverwriteByCreator(t *testing.T) {
	ctx := context.Background()
	d := storage.NewLocal(t.TempDir())
	old := RunInfo{Job: "j2", Run: "old", Shards: 2}
	for i := 0; i < 2; i++ {
		s := Shard{Index: i, Count: 2}
		writeRunPart(t, d, s.PartName(0), old)
		writeRunPart(t, d, RejectsDir+"/"+s.PartName(0), old)
		writeRecord(t, d, s, Manifest{Job: "j2", Run: "old"})
	}
	WriteJSON(ctx, d, ManifestFile, Manifest{Shards: 2})
	d.WriteFile(ctx, SuccessFile, nil)
	if err := Prepare(ctx, d, PrepareOptions{Shard: Shard{Index: 0, Count: 2}, Overwrite: true, Run: RunInfo{Job: "j2", Run: "new"}, Creator: true}); err != nil {
		t.Fatal(err)
	}
	if got := allFiles(t, d); len(got) != 0 {
		t.Errorf("left: %v", got)
	}
}

// Without --overwrite nothing is removed: a complete table is refused
// saying how it was written, and so are parts of another layout.
func TestPrepareRefusals(t *testing.T) {
	ctx := context.Background()
	d := storage.NewLocal(t.TempDir())
	old := RunInfo{Job: "j2", Run: "old", Shards: 2}
	for i := 0; i < 2; i++ {
		s := Shard{Index: i, Count: 2}
		writeRunPart(t, d, s.PartName(0), old)
		writeRecord(t, d, s, Manifest{Job: "j2", Run: "old"})
	}
	WriteJSON(ctx, d, ManifestFile, Manifest{Shards: 2})
	d.WriteFile(ctx, SuccessFile, nil)
	before := allFiles(t, d)
	for _, c := range []struct {
		s    Shard
		want string
	}{
		{Shard{Index: 0, Count: 3}, "already holds a complete table written as 2 shards, not 3 (this is shard 0/3); pass --overwrite"},
		{Shard{}, "already holds a complete table written as 2 shards; pass --overwrite"},
		{Shard{Index: 1, Count: 2}, "already holds the finished parts of shard 1/2; pass --overwrite"},
	} {
		err := Prepare(ctx, d, PrepareOptions{Shard: c.s, Run: RunInfo{Job: "x", Run: "r"}})
		if !errors.Is(err, ErrOutputExists) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("shard %v: %v", c.s, err)
		}
	}
	// An interrupted 2-shard run, and a 3-shard run starting: the parts of
	// shard 1/2 are not the 3-shard layout's to resume or keep.
	d.Remove(ctx, SuccessFile)
	d.Remove(ctx, ManifestFile)
	d.Remove(ctx, ShardsDir)
	writeRunPart(t, d, "part-s002-00000.parquet", RunInfo{Job: "j4", Run: "x", Shards: 4})
	err := Prepare(ctx, storage.NewLocal(d.Location()), PrepareOptions{Shard: Shard{Index: 0, Count: 2}, Run: RunInfo{Job: "j2", Run: "new"}})
	if !errors.Is(err, ErrOutputExists) || !strings.Contains(err.Error(), "part-s002-00000.parquet, written as 4 shards") {
		t.Errorf("another layout's part: %v", err)
	}
	if got := allFiles(t, d); len(got) != len(before)-4+1 {
		t.Errorf("a refusal removed files: %v", got)
	}
}

// The last step before a manifest: the folder must hold exactly the parts
// it lists.
func TestSettle(t *testing.T) {
	ctx := context.Background()
	d := storage.NewLocal(t.TempDir())
	run := RunInfo{Job: "j", Run: "r", Shards: 1}
	writeRunPart(t, d, PartName(0), run)
	writeRunPart(t, d, RejectsDir+"/"+PartName(0), run)
	m := Manifest{Parts: []PartInfo{{File: PartName(0), Rows: 1}}, RejectParts: []PartInfo{{File: RejectsDir + "/" + PartName(0), Rows: 1}}}
	if err := Settle(ctx, d, &m, FinishOptions{Run: "r"}); err != nil {
		t.Fatalf("a folder that holds what it lists: %v", err)
	}
	// A part of another run, unlisted: refused, then removed with Overwrite.
	writeRunPart(t, d, "part-s002-00000.parquet", RunInfo{Job: "k", Run: "old", Shards: 3})
	writeRunPart(t, d, RejectsDir+"/part-s002-00000.parquet", RunInfo{Job: "k", Run: "old", Shards: 3})
	err := Settle(ctx, d, &m, FinishOptions{Run: "r"})
	if err == nil || !strings.Contains(err.Error(), "_rejects/part-s002-00000.parquet, part-s002-00000.parquet") || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("unlisted part: %v", err)
	}
	if err := Settle(ctx, d, &m, FinishOptions{Run: "r", Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if got := allFiles(t, d); strings.Join(got, " ") != "_rejects/part-00000.parquet part-00000.parquet" {
		t.Errorf("after Settle with Overwrite: %v", got)
	}
	// An unlisted part of this very run is never removed.
	writeRunPart(t, d, PartName(1), run)
	if err := Settle(ctx, d, &m, FinishOptions{Run: "r", Overwrite: true}); err == nil || !strings.Contains(err.Error(), "of this run") {
		t.Errorf("unlisted part of this run: %v", err)
	}
	d.Remove(ctx, PartName(1))
	// A listed part that is not there.
	m.Parts = append(m.Parts, PartInfo{File: PartName(7)})
	if err := Settle(ctx, d, &m, FinishOptions{Run: "r"}); err == nil || !strings.Contains(err.Error(), "part-00007.parquet listed in the manifest but not in the folder") {
		t.Errorf("missing part: %v", err)
	}
}

func TestParsePartName(t *testing.T) {
	for name, want := range map[string]string{
		"part-00012.parquet":            `{0 -1 12}`,
		"part-s003-00012.parquet":       `{0 3 12}`,
		"part-g0002-00012.parquet":      `{2 -1 12}`,
		"part-g0002-s001-00000.parquet": `{2 1 0}`,
		"part-s3-00012.parquet":         "no",
		"part-00012.parquet.tmp":        "no",
		"part-s001-g0002-00000.parquet": "no",
		"part-x.parquet":                "no",
	} {
		p, ok := parsePartName(name)
		got := "no"
		if ok {
			b, _ := json.Marshal([]int{p.gen, p.shard, p.k})
			got = strings.NewReplacer("[", "{", "]", "}", ",", " ").Replace(string(b))
		}
		if got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
}
