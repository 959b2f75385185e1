package tests

import (
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/download"
	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/internal/testservers"
	"github.com/featurizer/featurizer/table"
)

// copyTable copies a local table directory (one level, plus _rejects/).
func copyTable(t *testing.T, src, dst string) {
	t.Helper()
	filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		out, err := os.Create(filepath.Join(dst, rel))
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		_, err = io.Copy(out, in)
		return err
	})
}

// readersSetup featurizes the colour images (train in parts of 10 rows)
// and trains a model on the complete tables.
func readersSetup(t *testing.T) (dir, model, spec, trainTable, modelDir string) {
	t.Helper()
	dir, model, spec = trainSetup(t, 3)
	trainTable = filepath.Join(dir, "train10")
	if r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", filepath.Join(dir, "img", "train"),
		"--output", trainTable, "--rows-per-part", "10", "--quiet"); r.code != exitOK {
		t.Fatalf("featurize: %d %s", r.code, r.stderr)
	}
	modelDir = filepath.Join(dir, "model")
	if r := run(t, "train", "--features", trainTable, "--validation", filepath.Join(dir, "features", "validation"),
		"--output", modelDir, "--reg-param", "0.01", "--quiet"); r.code != exitOK {
		t.Fatalf("train: %d %s", r.code, r.stderr)
	}
	return dir, model, spec, trainTable, modelDir
}

// oneLine checks an error exit: the code, a single line on stderr that
// holds every want, and no panic.
func oneLine(t *testing.T, what string, r result, code int, want ...string) {
	t.Helper()
	if r.code != code || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || strings.Contains(r.stderr, "panic") {
		t.Errorf("%s: exit %d (want %d), stderr:\n%s", what, r.code, code, r.stderr)
		return
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("%s: stderr lacks %q:\n%s", what, w, r.stderr)
		}
	}
}

// Issue 8, item 5: a table that a killed job left (parts, no manifest, no
// _SUCCESS), or whose folder does not match its manifest, is refused by
// every command that reads it, naming what is missing and how to finish
// it; show shows it under a loud warning and exits 2.
func TestIncompleteTablesRefused(t *testing.T) {
	dir, _, _, trainTable, modelDir := readersSetup(t)
	val := filepath.Join(dir, "features", "validation")

	killed := filepath.Join(dir, "killed") // what kill -9 leaves
	copyTable(t, trainTable, killed)
	for _, n := range []string{table.SuccessFile, table.ManifestFile, table.SummaryFile} {
		os.Remove(filepath.Join(killed, n))
	}
	noSuccess := filepath.Join(dir, "no-success") // an incremental run stopped half-way
	copyTable(t, trainTable, noSuccess)
	os.Remove(filepath.Join(noSuccess, table.SuccessFile))
	missing := filepath.Join(dir, "missing")
	copyTable(t, trainTable, missing)
	os.Remove(filepath.Join(missing, table.PartName(3)))
	extra := filepath.Join(dir, "extra")
	copyTable(t, trainTable, extra)
	copyTable(t, filepath.Join(trainTable, table.PartName(0)), filepath.Join(extra, "part-00099.parquet"))

	cases := []struct {
		name, table string
		want        []string
	}{
		{"killed", killed, []string{"incomplete", "missing " + table.SuccessFile + ", " + table.ManifestFile, "rerun the same featurize command", "--overwrite"}},
		{"no _SUCCESS", noSuccess, []string{"incomplete", "missing " + table.SuccessFile, "rerun the same featurize command"}},
		{"part missing", missing, []string{"incomplete", table.PartName(3) + " (listed in " + table.ManifestFile + ")", "--overwrite"}},
		{"extra part", extra, []string{"incomplete", "part-00099.parquet in the folder but not in its " + table.ManifestFile}},
	}
	for _, c := range cases {
		out := filepath.Join(dir, "m-"+strings.ReplaceAll(c.name, " ", "-"))
		oneLine(t, c.name+": train --features", run(t, "train", "--features", c.table, "--validation", val, "--output", out, "--reg-param", "0.01"), exitUsage,
			append([]string{"features: table " + c.table}, c.want...)...)
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: train wrote a model from an incomplete table", c.name)
		}
		oneLine(t, c.name+": train --validation", run(t, "train", "--features", trainTable, "--validation", c.table, "--output", out, "--reg-param", "0.01"), exitUsage,
			append([]string{"validation: table " + c.table}, c.want...)...)
		oneLine(t, c.name+": train --test", run(t, "train", "--features", trainTable, "--validation", val, "--test", c.table, "--output", out, "--reg-param", "0.01"), exitUsage,
			append([]string{"test: table " + c.table}, c.want...)...)
		oneLine(t, c.name+": predict --features", run(t, "predict", "--quiet", "--model", modelDir, "--features", c.table, "--output", filepath.Join(dir, "p-"+c.name)), exitUsage,
			append([]string{"features: table " + c.table}, c.want...)...)
		r := run(t, "show", c.table)
		if r.code != exitUsage || !strings.HasPrefix(r.stdout, "INCOMPLETE TABLE") {
			t.Errorf("%s: show: exit %d\n%s%s", c.name, r.code, r.stdout, r.stderr)
		}
	}

	// What Spark skips does not make a table incomplete: a writer's lease,
	// a killed upload's temporary.
	os.WriteFile(filepath.Join(trainTable, "_lease.json"), []byte(`{}`), 0o644)
	os.WriteFile(filepath.Join(trainTable, ".part-00001.parquet.tmp-abc123"), []byte("half"), 0o644)
	if r := run(t, "train", "--features", trainTable, "--validation", val, "--output", filepath.Join(dir, "m-ok"), "--reg-param", "0.01", "--quiet"); r.code != exitOK {
		t.Errorf("train on a complete table with hidden files: %d %s", r.code, r.stderr)
	}
	if r := run(t, "show", trainTable); r.code != exitOK || strings.Contains(r.stdout, "INCOMPLETE") {
		t.Errorf("show of a complete table: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// Tables that several shards wrote, and incremental generations, are
// complete tables; a sharded table whose shards have not all finished is
// not, and the error names the shards to rerun.
func TestShardedAndIncrementalTablesRead(t *testing.T) {
	dir, model, spec := trainSetup(t, 3)
	val := filepath.Join(dir, "features", "validation")
	sharded := filepath.Join(dir, "sharded")
	featurize := func(out string, extra ...string) {
		t.Helper()
		args := append([]string{"featurize", "--backbone", model, "--spec", spec, "--input", filepath.Join(dir, "img", "train"),
			"--output", out, "--rows-per-part", "5", "--quiet"}, extra...)
		if r := run(t, args...); r.code != exitOK {
			t.Fatalf("%v: %d %s", extra, r.code, r.stderr)
		}
	}
	featurize(sharded, "--shard", "0/2")
	half := filepath.Join(dir, "half")
	copyTable(t, sharded, half)
	oneLine(t, "half-sharded", run(t, "train", "--features", half, "--validation", val, "--output", filepath.Join(dir, "m0"), "--reg-param", "0.01"), exitUsage,
		"incomplete", "shards not finished: 1/2", "--shard i/n")
	featurize(sharded, "--shard", "1/2")
	for _, tb := range []string{sharded} {
		if r := run(t, "train", "--features", tb, "--validation", val, "--output", filepath.Join(dir, "m1"), "--reg-param", "0.01", "--quiet"); r.code != exitOK {
			t.Errorf("train on the sharded table: %d %s", r.code, r.stderr)
		}
	}
	// A new image: an incremental generation (part-g0001-*).
	writePNG(t, filepath.Join(dir, "img", "train", "red", "new.png"), picture(40, 40, 1))
	inc := filepath.Join(dir, "features", "train")
	if r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", filepath.Join(dir, "img", "train"), "--output", inc, "--incremental", "--quiet"); r.code != exitOK {
		t.Fatalf("incremental: %d %s", r.code, r.stderr)
	}
	if g, _ := filepath.Glob(filepath.Join(inc, "part-g0001-*.parquet")); len(g) == 0 {
		t.Fatal("no new generation written")
	}
	if r := run(t, "train", "--features", inc, "--validation", val, "--output", filepath.Join(dir, "m2"), "--reg-param", "0.01", "--quiet"); r.code != exitOK {
		t.Errorf("train on the incremental table: %d %s", r.code, r.stderr)
	}
	if r := run(t, "show", inc); r.code != exitOK || strings.Contains(r.stdout, "INCOMPLETE") {
		t.Errorf("show of the incremental table: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// Issue 8, item 11: every part's footer is checked against the manifest,
// and a lone part file's against the model: a part swapped for one made
// with other weights is refused, naming the part and the field.
func TestPartFootersChecked(t *testing.T) {
	dir, _, _, trainTable, modelDir := readersSetup(t)
	val := filepath.Join(dir, "features", "validation")
	other, otherSpec := tinyBackbone(t, t.TempDir(), testmodels.Options{Seed: 99})
	otherTable := filepath.Join(dir, "other")
	if r := run(t, "featurize", "--backbone", other, "--spec", otherSpec, "--input", filepath.Join(dir, "img", "train"),
		"--output", otherTable, "--rows-per-part", "10", "--quiet"); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	sum, _ := download.HashFile(other)
	swapped := filepath.Join(dir, "swapped")
	copyTable(t, trainTable, swapped)
	copyTable(t, filepath.Join(otherTable, table.PartName(2)), filepath.Join(swapped, table.PartName(2)))
	want := []string{"part " + table.PartName(2), "weights_sha256", sum[:12]}
	oneLine(t, "train", run(t, "train", "--features", swapped, "--validation", val, "--output", filepath.Join(dir, "m"), "--reg-param", "0.01"), exitUsage, want...)
	oneLine(t, "train --validation", run(t, "train", "--features", trainTable, "--validation", swapped, "--output", filepath.Join(dir, "m"), "--reg-param", "0.01"), exitUsage, want...)
	oneLine(t, "predict", run(t, "predict", "--quiet", "--model", modelDir, "--features", swapped, "--output", filepath.Join(dir, "p")), exitUsage, want...)
	if r := run(t, "show", swapped); r.code != exitUsage || !strings.HasPrefix(r.stdout, "INCONSISTENT TABLE") {
		t.Errorf("show: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// One part file of another backbone's table, given alone: its footer
	// is the provenance, checked against the model's.
	oneLine(t, "predict one part", run(t, "predict", "--quiet", "--model", modelDir, "--features", filepath.Join(otherTable, table.PartName(0)), "--output", filepath.Join(dir, "p1")), exitUsage,
		"feature mismatch", sum[:12])
}

// rewriteFeatures rewrites part name of a local table with fn applied to
// its rows, keeping its footer (so the table stays complete).
func rewriteFeatures(t *testing.T, dir, name string, fn func(rows []table.FeatureRow)) {
	t.Helper()
	p := filepath.Join(dir, name)
	meta, err := table.FooterMetadata(p)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := table.ReadPart[table.FeatureRow](t.Context(), dir, name)
	if err != nil {
		t.Fatal(err)
	}
	fn(rows)
	w, err := table.NewLocalPart[table.FeatureRow](p, meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// Issue 8, item 6: NaN and infinite features. predict --features makes
// such rows rejects (stage features) and counts them; train stops with
// one line naming the table, the first bad row and the column, on every
// table it reads and with both solvers, and never panics.
func TestNonFiniteFeatures(t *testing.T) {
	dir, _, _, trainTable, modelDir := readersSetup(t)
	val := filepath.Join(dir, "features", "validation")
	bad := filepath.Join(dir, "bad")
	copyTable(t, trainTable, bad)
	var nanPath, infPath string
	rewriteFeatures(t, bad, table.PartName(1), func(rows []table.FeatureRow) {
		rows[3].Features[5] = float32(math.NaN())
		rows[6].Features[0] = float32(math.Inf(-1))
		nanPath, infPath = rows[3].Path, rows[6].Path
	})

	pred := filepath.Join(dir, "pred")
	r := run(t, "predict", "--quiet", "--model", modelDir, "--features", bad, "--output", pred)
	if r.code != exitOK || !strings.Contains(r.stdout, "2 rejected (features 2)") {
		t.Errorf("predict: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	preds, err := table.ReadAll[table.PredictionRow](pred)
	if err != nil {
		t.Fatal(err)
	}
	if len(preds) != 70 {
		t.Errorf("%d predictions, want 70", len(preds))
	}
	for _, p := range preds {
		if p.Path == nanPath || p.Path == infPath || math.IsNaN(float64(p.Probability)) {
			t.Errorf("a prediction for a non-finite row: %+v", p)
		}
	}
	rej, err := table.ReadAll[table.RejectRow](filepath.Join(pred, table.RejectsDir))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]table.RejectRow{}
	for _, x := range rej {
		got[x.Path] = x
	}
	if x := got[nanPath]; x.Stage != "features" || !strings.Contains(x.Error, "features[5] is NaN") {
		t.Errorf("NaN row's reject: %+v", x)
	}
	if x := got[infPath]; x.Stage != "features" || !strings.Contains(x.Error, "features[0] is -Inf") {
		t.Errorf("-Inf row's reject: %+v", x)
	}

	// train: the first bad row in table order is the NaN one (part 1, row 3
	// of it: row 13 of the table), whatever split it falls in.
	want := []string{"table " + bad, "row 13 (" + nanPath + ")", "NaN in features[5]"}
	oneLine(t, "train --features (split)", run(t, "train", "--features", bad, "--output", filepath.Join(dir, "m1")), exitUsage, append([]string{"features: "}, want...)...)
	oneLine(t, "train --features", run(t, "train", "--features", bad, "--validation", val, "--output", filepath.Join(dir, "m2")), exitUsage, append([]string{"features: "}, want...)...)
	oneLine(t, "train --features adam", run(t, "train", "--features", bad, "--validation", val, "--test", val, "--output", filepath.Join(dir, "m3"), "--solver", "adam", "--max-iter", "2", "--quiet"), exitUsage,
		append([]string{"features: "}, want...)...)
	oneLine(t, "train --validation", run(t, "train", "--features", trainTable, "--validation", bad, "--output", filepath.Join(dir, "m4")), exitUsage, append([]string{"validation: "}, want...)...)
	oneLine(t, "train --test", run(t, "train", "--features", trainTable, "--validation", val, "--test", bad, "--output", filepath.Join(dir, "m5"), "--reg-param", "0.01"), exitUsage,
		append([]string{"test: "}, want...)...)
	for _, m := range []string{"m1", "m2", "m3", "m4", "m5"} {
		if _, err := os.Stat(filepath.Join(dir, m)); err == nil {
			t.Errorf("%s: a model was written from a table with NaN", m)
		}
	}
}

// A table in a bucket is checked the same way before it is read: MinIO.
func TestIncompleteTableInMinIO(t *testing.T) {
	srv := testservers.MinIO(t)
	dir, _, _, trainTable, modelDir := readersSetup(t)
	put := func(key, file string) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Put(key, b); err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := os.ReadDir(trainTable)
	for _, e := range ents {
		if !e.IsDir() {
			put("complete/"+e.Name(), filepath.Join(trainTable, e.Name()))
			if e.Name() != table.SuccessFile && e.Name() != table.ManifestFile {
				put("killed/"+e.Name(), filepath.Join(trainTable, e.Name()))
			}
		}
	}
	val := filepath.Join(dir, "features", "validation")
	if r := run(t, "train", "--features", srv.URL("complete"), "--validation", val, "--output", filepath.Join(dir, "m0"), "--reg-param", "0.01", "--quiet"); r.code != exitOK {
		t.Fatalf("train from the bucket: %d %s", r.code, r.stderr)
	}
	killed := srv.URL("killed")
	want := []string{"incomplete", "missing " + table.SuccessFile + ", " + table.ManifestFile, "rerun the same featurize command"}
	oneLine(t, "train", run(t, "train", "--features", killed, "--validation", val, "--output", filepath.Join(dir, "m1"), "--reg-param", "0.01"), exitUsage, want...)
	oneLine(t, "predict", run(t, "predict", "--quiet", "--model", modelDir, "--features", killed, "--output", filepath.Join(dir, "p")), exitUsage, want...)
	if r := run(t, "show", killed); r.code != exitUsage || !strings.HasPrefix(r.stdout, "INCOMPLETE TABLE") {
		t.Errorf("show: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// featurizer run reuses a split's table only when it is complete: a table
// that lost a part is made again, not reported up to date.
func TestRunDoesNotReuseIncompleteTable(t *testing.T) {
	dir, _, _ := trainSetup(t, 5)
	job := filepath.Join(dir, "job.yaml")
	os.WriteFile(job, []byte(jobYAML), 0o644)
	if r := run(t, "run", job, "--quiet"); r.code != exitOK {
		t.Fatalf("run: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	val := filepath.Join(dir, "job-out", "features", "validation")
	os.Remove(filepath.Join(val, table.PartName(0)))
	r := run(t, "run", job, "--quiet")
	if r.code != exitOK || !strings.Contains(r.stdout, "featurize validation   done") || !strings.Contains(r.stdout, "featurize train        up to date") {
		t.Errorf("rerun: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, "show", val); r.code != exitOK || strings.Contains(r.stdout, "INCOMPLETE") {
		t.Errorf("the validation table after the rerun: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
