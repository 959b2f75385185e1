package table

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/featurizer/featurizer/storage"
)

// An incremental run killed after it rewrote an earlier part without the
// dropped inputs, before its manifest: the rerun's index no longer has
// those inputs, so it must take the part's rows from the part, not from
// the old manifest, or the new manifest disagrees with the part.
func TestReadIndexRecountsRewrittenParts(t *testing.T) {
	ctx := context.Background()
	d := storage.NewLocal(t.TempDir())
	write := func(name string, paths []string, rejects []string) {
		var items []InputRef
		for _, p := range append(append([]string{}, paths...), rejects...) {
			items = append(items, InputRef{Path: p, Size: 1, Version: "v"})
		}
		in, _ := json.Marshal(PartInputs{Inputs: int64(len(items)), Items: items})
		part, err := NewPart[FeatureRow](ctx, d, name, map[string]string{PartInputsKey: string(in)})
		if err != nil {
			t.Fatal(err)
		}
		var rows []FeatureRow
		for _, p := range paths {
			rows = append(rows, FeatureRow{Path: p, Features: []float32{1}})
		}
		if err := part.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := part.Commit(); err != nil {
			t.Fatal(err)
		}
		rej, err := NewPart[RejectRow](ctx, d, RejectsDir+"/"+name, nil)
		if err != nil {
			t.Fatal(err)
		}
		var rr []RejectRow
		for _, p := range rejects {
			rr = append(rr, RejectRow{Path: p, Stage: "decode", Error: "bad"})
		}
		if err := rej.Write(rr); err != nil {
			t.Fatal(err)
		}
		if err := rej.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	write("part-00000.parquet", []string{"a", "b"}, []string{"c"})
	write("part-00001.parquet", []string{"d", "e"}, nil)
	m := &Manifest{
		Parts:       []PartInfo{{File: "part-00000.parquet", Rows: 2}, {File: "part-00001.parquet", Rows: 2}},
		RejectParts: []PartInfo{{File: RejectsDir + "/part-00000.parquet", Rows: 1}, {File: RejectsDir + "/part-00001.parquet", Rows: 0}},
	}
	// The killed run dropped a and c.
	if _, _, err := FilterPart(ctx, d, "part-00000.parquet", map[string]bool{"a": true, "c": true}); err != nil {
		t.Fatal(err)
	}
	index, err := ReadIndex(ctx, d, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := index["a"]; ok {
		t.Errorf("a is still indexed")
	}
	if m.Parts[0].Rows != 1 || m.Parts[1].Rows != 2 || m.RejectParts[0].Rows != 0 || m.RejectParts[1].Rows != 0 {
		t.Errorf("counts after the rewrite: parts %+v, rejects %+v", m.Parts, m.RejectParts)
	}
}
