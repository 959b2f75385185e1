package table

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/storage"
	"github.com/parquet-go/parquet-go"
)

// writerStores are the places a Writer must work: local disk and memory
// (the lease tests cover a real S3 server).
func writerStores(t *testing.T) map[string]func(name string) storage.Store {
	t.Helper()
	open := func(loc string) storage.Store {
		d, err := storage.Open(context.Background(), loc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	root := t.TempDir()
	return map[string]func(string) storage.Store{
		"local": func(name string) storage.Store { return open(filepath.Join(root, name)) },
		"mem": func(name string) storage.Store {
			return open("mem://writer-" + strings.ReplaceAll(t.Name(), "/", "-") + "/" + name)
		},
	}
}

func testWriterOptions(input string) WriterOptions {
	return WriterOptions{Input: input, Provenance: Provenance{Tool: "featurizer", Backbone: "tiny", FeatureDim: 1}, RowsPerPart: 2}
}

// write adds inputs seq from..to-1 of input names (a reject every third),
// flushing after each.
func write(t *testing.T, p *PartWriter[FeatureRow], names []string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		in := InputRef{Path: names[i], Size: int64(i)}
		var err error
		if i%3 == 2 {
			err = p.Reject(int64(i), in, "decode", "not an image")
		} else {
			err = p.Row(int64(i), in, FeatureRow{Path: names[i], Features: []float32{float32(i)}})
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
	}
}

func inputNames(n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprintf("in/%02d.jpg", i))
	}
	return out
}

// writeAll writes a whole table with the options o and returns its manifest.
func writeAll(t *testing.T, d storage.Store, o WriterOptions, n int) *Manifest {
	t.Helper()
	ctx := context.Background()
	w, err := NewWriter(ctx, d, o)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Prepare(ctx, nil); err != nil {
		t.Fatal(err)
	}
	p := NewPartWriter[FeatureRow](ctx, w)
	write(t, p, inputNames(n), 0, n)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	parts, rejects := w.Parts()
	if err := w.Finish(ctx, Finishing{Parts: parts, RejectParts: rejects, Summary: map[string]int{"inputs": n}}); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifestDir(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The manifest and _SUCCESS appear only when the run finishes; until then
// the committed parts are there, under the run's lease.
func TestWriterManifestLast(t *testing.T) {
	ctx := context.Background()
	for name, storeOf := range writerStores(t) {
		t.Run(name, func(t *testing.T) {
			d := storeOf("t")
			w, err := NewWriter(ctx, d, testWriterOptions("in"))
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if err := w.Prepare(ctx, nil); err != nil {
				t.Fatal(err)
			}
			p := NewPartWriter[FeatureRow](ctx, w)
			write(t, p, inputNames(5), 0, 5)
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			before := allFiles(t, d)
			for _, f := range []string{ManifestFile, SuccessFile, SummaryFile} {
				if contains(before, f) {
					t.Fatalf("%s before Finish: %v", f, before)
				}
			}
			if !contains(before, LeaseFile) || !contains(before, "part-00002.parquet") {
				t.Fatalf("no lease or not every part before Finish: %v", before)
			}
			parts, rejects := w.Parts()
			if err := w.Finish(ctx, Finishing{Parts: parts, RejectParts: rejects, Summary: map[string]int{"inputs": 5}}); err != nil {
				t.Fatal(err)
			}
			want := []string{ManifestFile, SuccessFile, SummaryFile, RejectsDir + "/part-00001.parquet",
				"part-00000.parquet", "part-00001.parquet", "part-00002.parquet"}
			if got := allFiles(t, d); !sameSet(got, want) {
				t.Fatalf("after Finish: %v, want %v", got, want)
			}
			m, err := ReadManifestDir(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			if m.Rows != 4 || m.Rejected != 1 || len(m.Parts) != 3 || m.Input != "in" || m.Kind != "features" || m.Run != w.Run().Run || m.Shards != 1 {
				t.Fatalf("manifest %+v", m)
			}
			if _, err := Verify(ctx, d, VerifyOptions{}); err != nil {
				t.Fatalf("the table is not complete: %v", err)
			}
			if rows := readRows(t, d, m); len(rows) != 4 || rows[3].Path != "in/04.jpg" {
				t.Fatalf("rows %+v", rows)
			}
		})
	}
}

// One job at a time: a second job is refused while the first holds the
// output, with or without Overwrite, and gets it once the first is done.
func TestWriterLeaseRefusesAnotherJob(t *testing.T) {
	ctx := context.Background()
	for name, storeOf := range writerStores(t) {
		t.Run(name, func(t *testing.T) {
			d := storeOf("t")
			w, err := NewWriter(ctx, d, testWriterOptions("in/a"))
			if err != nil {
				t.Fatal(err)
			}
			for _, overwrite := range []bool{false, true} {
				o := testWriterOptions("in/b")
				o.Overwrite = overwrite
				_, err := NewWriter(ctx, d, o)
				var be *BusyError
				if !errors.As(err, &be) || !strings.Contains(err.Error(), "being written by another job") {
					t.Fatalf("another job (overwrite %v): %v", overwrite, err)
				}
			}
			w.Close()
			if names := allFiles(t, d); contains(names, LeaseFile) {
				t.Fatalf("the lease stays after Close: %v", names)
			}
			w2, err := NewWriter(ctx, d, testWriterOptions("in/b"))
			if err != nil {
				t.Fatalf("after the first job: %v", err)
			}
			w2.Close()
		})
	}
}

// Overwrite leaves nothing of the old table: parts of another layout and
// their rejects, the summary, the manifest; without Overwrite a complete
// table is refused and left as it was.
func TestWriterOverwriteLeavesNothing(t *testing.T) {
	ctx := context.Background()
	for name, storeOf := range writerStores(t) {
		t.Run(name, func(t *testing.T) {
			d := storeOf("t")
			writeAll(t, d, testWriterOptions("in/a"), 9) // parts 0-4
			old := allFiles(t, d)

			w, err := NewWriter(ctx, d, testWriterOptions("in/b"))
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Prepare(ctx, nil); !errors.Is(err, ErrOutputExists) {
				t.Fatalf("a complete table without overwrite: %v", err)
			}
			w.Close()
			if got := allFiles(t, d); !reflect.DeepEqual(got, old) {
				t.Fatalf("a refused run changed the table: %v, was %v", got, old)
			}

			// Another job, two shards, with overwrite: the old parts all go.
			o := testWriterOptions("in/b")
			o.Overwrite = true
			var ws []*Writer
			for i := 0; i < 2; i++ {
				o.Shard = Shard{Index: i, Count: 2}
				w, err := NewWriter(ctx, d, o)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
				ws = append(ws, w)
			}
			if ws[0].Run() != ws[1].Run() {
				t.Fatalf("the shards of one job are in different runs: %v, %v", ws[0].Run(), ws[1].Run())
			}
			for i, w := range ws {
				if err := w.Prepare(ctx, nil); err != nil {
					t.Fatal(err)
				}
				p := NewPartWriter[FeatureRow](ctx, w)
				write(t, p, inputNames(2), 0, 2)
				if err := p.Close(); err != nil {
					t.Fatal(err)
				}
				parts, rejects := w.Parts()
				if err := w.Finish(ctx, Finishing{Parts: parts, RejectParts: rejects, Summary: i}); err != nil {
					t.Fatal(err)
				}
			}
			want := []string{ManifestFile, SuccessFile, "_shards/shard-000-of-002.json", "_shards/shard-001-of-002.json",
				"_summary-s000.json", "_summary-s001.json", "part-s000-00000.parquet", "part-s001-00000.parquet"}
			if got := allFiles(t, d); !sameSet(got, want) {
				t.Fatalf("after the overwrite: %v, want %v", got, want)
			}
			m, err := ReadManifestDir(ctx, d)
			if err != nil || m.Rows != 4 || m.Input != "in/b" || m.Shards != 2 {
				t.Fatalf("manifest %+v, %v", m, err)
			}
		})
	}
}

// A stopped run is resumed: its committed parts are kept, Skip passes over
// their inputs (and refuses a changed listing), and the finished table is
// the one a single run writes. Parts of other settings are refused.
func TestWriterResume(t *testing.T) {
	ctx := context.Background()
	for name, storeOf := range writerStores(t) {
		t.Run(name, func(t *testing.T) {
			d := storeOf("t")
			names := inputNames(7)
			w, err := NewWriter(ctx, d, testWriterOptions("in"))
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Prepare(ctx, nil); err != nil {
				t.Fatal(err)
			}
			if w.Skip() != nil {
				t.Fatal("a fresh run skips inputs")
			}
			p := NewPartWriter[FeatureRow](ctx, w)
			write(t, p, names, 0, 5) // parts 0 and 1 committed, part 2 open
			p.Abort()
			w.Close() // stopped

			// Another job's settings: refused, naming the part and setting.
			o := testWriterOptions("in")
			o.Provenance.Backbone = "other"
			w2, err := NewWriter(ctx, d, o)
			if err != nil {
				t.Fatal(err)
			}
			var se *SettingsError
			if err := w2.Prepare(ctx, nil); !errors.As(err, &se) || !strings.Contains(err.Error(), `backbone: "tiny" in the table, "other" now`) {
				t.Fatalf("parts of other settings: %v", err)
			}
			w2.Close()

			w, err = NewWriter(ctx, d, testWriterOptions("in"))
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if err := w.Prepare(ctx, nil); err != nil {
				t.Fatal(err)
			}
			if got := len(w.Committed()); got != 2 {
				t.Fatalf("%d parts resumed, want 2", got)
			}
			if rows, rejected := w.Resumed(); rows != 3 || rejected != 1 {
				t.Fatalf("resumed %d rows, %d rejects; want 3, 1", rows, rejected)
			}
			skip := w.Skip()
			for i, want := range []bool{true, true, true, true, false, false, false} {
				if got, err := skip(int64(i), names[i]); got != want || err != nil {
					t.Fatalf("skip input %d: %v, %v", i, got, err)
				}
			}
			var ce *InputChangedError
			if _, err := skip(2, "in/new.jpg"); !errors.As(err, &ce) || ce.Part != "part-00001.parquet" {
				t.Fatalf("a changed listing: %v", err)
			}
			p = NewPartWriter[FeatureRow](ctx, w)
			write(t, p, names, 4, 7)
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			parts, rejects := w.Parts()
			if err := w.Finish(ctx, Finishing{Parts: parts, RejectParts: rejects}); err != nil {
				t.Fatal(err)
			}
			resumed, err := ReadManifestDir(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			fd := storeOf("fresh")
			fresh := writeAll(t, fd, testWriterOptions("in"), 7)
			if !reflect.DeepEqual(resumed.Parts, fresh.Parts) || !reflect.DeepEqual(resumed.RejectParts, fresh.RejectParts) || resumed.Rows != 5 || resumed.Rejected != 2 {
				t.Fatalf("resumed table %+v / %+v, a fresh one %+v / %+v", resumed.Parts, resumed.RejectParts, fresh.Parts, fresh.RejectParts)
			}
			if a, b := readRows(t, d, resumed), readRows(t, fd, fresh); !reflect.DeepEqual(a, b) {
				t.Fatalf("rows differ from a fresh run's:\n%v\n%v", a, b)
			}
		})
	}
}

// A run that lost its lease to another job commits nothing more and
// writes no manifest.
func TestWriterLostLease(t *testing.T) {
	ctx := context.Background()
	d := writerStores(t)["local"]("t")
	w, err := NewWriter(ctx, d, testWriterOptions("in/a"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Prepare(ctx, nil); err != nil {
		t.Fatal(err)
	}
	lost := make(chan error, 1)
	w.OnLost(func(err error) { lost <- err })
	p := NewPartWriter[FeatureRow](ctx, w)
	write(t, p, inputNames(2), 0, 2)
	// Another job takes the output over (as with a stale lease).
	if err := d.Remove(ctx, LeaseFile); err != nil {
		t.Fatal(err)
	}
	other, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/b", 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release(ctx)
	if err := p.Close(); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("commit after the lease was lost: %v", err)
	}
	p.Abort()
	if err := w.Finish(ctx, Finishing{}); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("finish after the lease was lost: %v", err)
	}
	if got := allFiles(t, d); contains(got, ManifestFile) || contains(got, "part-00000.parquet") {
		t.Fatalf("a run without its lease wrote %v", got)
	}
}

// readRows reads the rows of the parts m lists, through d.
func readRows(t *testing.T, d storage.Store, m *Manifest) []FeatureRow {
	t.Helper()
	var out []FeatureRow
	for _, p := range m.Parts {
		data, err := d.ReadFile(context.Background(), p.File)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := parquet.Read[FeatureRow](bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rows...)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sameSet compares file lists, ignoring the lease's files (a completed
// table's lease may be left marked done when its removal fails).
func sameSet(got, want []string) bool {
	var g []string
	for _, n := range got {
		if !isLeaseFile(n) {
			g = append(g, n)
		}
	}
	return reflect.DeepEqual(g, sortedCopy(want))
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
