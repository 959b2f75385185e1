package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/internal/testservers"
	"github.com/featurizer/featurizer/jobs"
	"github.com/featurizer/featurizer/storage"
	"github.com/featurizer/featurizer/table"
)

// s3Images writes n labelled PNGs and one broken file both to a local
// directory and, through put, to the images/ prefix of a bucket.
func s3Images(t *testing.T, dir string, n, w, h int, put func(key string, data []byte) error) string {
	t.Helper()
	local := filepath.Join(dir, "images")
	for i := 0; i < n; i++ {
		writePNG(t, filepath.Join(local, []string{"x", "y", "z"}[i%3], fmt.Sprintf("%02d.png", i)), picture(w+i, h, i))
	}
	os.WriteFile(filepath.Join(local, "y", "broken.png"), []byte("not a png"), 0o644)
	filepath.Walk(local, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(local, p)
			b, _ := os.ReadFile(p)
			if err := put("images/"+filepath.ToSlash(rel), b); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	return local
}

// sameRows checks that two tables hold the same images (by their path
// relative to the input root), labels and features, and the same rejects.
func sameRows(t *testing.T, want, wantRoot, got, gotRoot string) {
	t.Helper()
	rows := func(loc, root string) map[string]table.FeatureRow {
		rs, err := table.ReadAll[table.FeatureRow](loc)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]table.FeatureRow{}
		for _, r := range rs {
			rel := strings.TrimPrefix(r.Path, root)
			if _, dup := out[rel]; dup {
				t.Fatalf("%s: %s twice", loc, r.Path)
			}
			out[rel] = r
		}
		return out
	}
	a, b := rows(want, wantRoot), rows(got, gotRoot)
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d rows in %s, %d in %s", len(b), got, len(a), want)
	}
	for rel, r := range a {
		s, ok := b[rel]
		if !ok {
			t.Fatalf("%s missing from %s", rel, got)
		}
		if *s.Label != *r.Label || *s.LabelIndex != *r.LabelIndex {
			t.Errorf("%s: labels differ", rel)
		}
		for i := range r.Features {
			if math.Abs(float64(r.Features[i]-s.Features[i])) > 1e-5 {
				t.Fatalf("%s: feature %d differs", rel, i)
			}
		}
	}
	rej, _ := table.ReadAll[table.RejectRow](storage.Join(got, table.RejectsDir))
	if len(rej) != 1 || !strings.HasSuffix(rej[0].Path, "y/broken.png") {
		t.Errorf("rejects of %s: %+v", got, rej)
	}
}

// noTempKeys checks that no hidden temporary object is left in a bucket.
func noTempKeys(t *testing.T, location string) {
	t.Helper()
	s, root, err := storage.Resolve(context.Background(), location)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Walk(context.Background(), root, func(e storage.Entry) error {
		if storage.IsTemp(filepath.Base(e.Rel)) {
			t.Errorf("temporary object left: %s", e.Path)
		}
		return nil
	})
}

// A featurize + train + predict job with its input, tables and model in
// MinIO, through a proxy that drops connections, answers 503 and stalls
// on a share of the requests: it completes with exactly the rows of the
// same job on local disk.
func TestMinIOJobThroughFaults(t *testing.T) {
	needRuntime(t)
	srv := testservers.MinIO(t)
	px := srv.FaultProxy(t, testservers.FaultOptions{Seed: 7, SlowDown: 0.08, DropBefore: 0.05, DropMidResponse: 0.05, Delay: 0.05, DelayDuration: 100 * time.Millisecond})
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{Seed: 4})
	local := s3Images(t, dir, 45, 200, 150, srv.Put)

	localOut := filepath.Join(dir, "local")
	if r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", local, "--output", localOut, "--rows-per-part", "8", "--quiet"); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	in, out := px.URL("images"), px.URL("tables/features")
	r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out, "--rows-per-part", "8", "--quiet")
	if r.code != exitOK {
		t.Fatalf("featurize through faults: %s\n%s", r.stderr, px.Counts())
	}
	// The objects have no stored checksum: no SDK warning per object.
	if strings.Contains(r.stderr, "WARN") || strings.Count(r.stderr, "\n") > 1 {
		t.Errorf("noise on stderr: %s", r.stderr)
	}
	sameRows(t, localOut, local+"/", srv.URL("tables/features"), "s3://"+srv.Bucket+"/images/")
	if r := run(t, "show", srv.URL("tables/features"), "--rows", "2"); r.code != exitOK || !strings.Contains(r.stdout, "features table: 45 rows") || !strings.Contains(r.stdout, "s3://"+srv.Bucket+"/images/") {
		t.Errorf("show on a bucket: %d %s %s", r.code, r.stdout, r.stderr)
	}
	noTempKeys(t, srv.URL("tables"))
	// Train on the table in the bucket, write the model there, predict from it.
	modelOut := px.URL("models/head")
	if r := run(t, "train", "--features", out, "--output", modelOut, "--quiet"); r.code != exitOK {
		t.Fatalf("train through faults: %s\n%s", r.stderr, px.Counts())
	}
	preds := px.URL("tables/predictions")
	if r := run(t, "predict", "--model", modelOut, "--features", out, "--output", preds, "--quiet"); r.code != exitOK {
		t.Fatalf("predict through faults: %s\n%s", r.stderr, px.Counts())
	}
	p, err := table.ReadAll[table.PredictionRow](srv.URL("tables/predictions"))
	if err != nil || len(p) != 45 {
		t.Fatalf("%d predictions, %v", len(p), err)
	}
	// The model uploaded to the bucket is the one trained to local disk
	// from the same table (training is deterministic for a seed).
	localModel := filepath.Join(dir, "model")
	if r := run(t, "train", "--features", srv.URL("tables/features"), "--output", localModel, "--quiet"); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	a, _ := os.ReadFile(filepath.Join(localModel, "head.onnx"))
	d, _ := storage.Open(context.Background(), srv.URL("models/head"))
	b, err := d.ReadFile(context.Background(), "head.onnx")
	d.Close()
	if err != nil || string(a) != string(b) {
		t.Errorf("head.onnx in the bucket differs from the one trained to local disk (%v)", err)
	}
	c := px.Counts()
	t.Logf("fault proxy: %s", c)
	if c.SlowDown == 0 || c.DropBefore == 0 || c.DropMidResponse == 0 {
		t.Errorf("not every kind of fault was injected: %s", c)
	}
}

// Four shard processes in parallel reading and writing MinIO make the
// table of one process, row for row; kill -9 at random moments against
// MinIO converges to it too.
func TestMinIOShardsAndKill9(t *testing.T) {
	needRuntime(t)
	srv := testservers.MinIO(t)
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{Seed: 5})
	s3Images(t, dir, 60, 900, 800, srv.Put) // large enough that a kill lands mid-run
	in := srv.URL("images")
	args := func(out string, extra ...string) []string {
		return append([]string{"featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out,
			"--rows-per-part", "5", "--batch-size", "2", "--workers", "1", "--threads", "1", "--quiet"}, extra...)
	}
	one := srv.URL("one")
	if r := run(t, args(one)...); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	sharded := srv.URL("sharded")
	runShards(t, 4, func(i int) []string { return args(sharded, "--shard", fmt.Sprintf("%d/4", i)) }, nil)
	sameTable(t, one, sharded)
	m, _ := table.ReadManifest(sharded)
	if len(m.Parts) < 4 {
		t.Errorf("%d parts from 4 shards", len(m.Parts))
	}
	// The bucket grows and an object is replaced: four shards update the
	// table incrementally (the object's MD5/ETag tells the change).
	for i := 60; i < 70; i++ {
		var buf bytes.Buffer
		png.Encode(&buf, picture(300, 200, i))
		srv.Put(fmt.Sprintf("images/z/%02d.png", i), buf.Bytes())
	}
	var buf bytes.Buffer
	png.Encode(&buf, picture(400, 300, 99))
	srv.Put("images/x/00.png", buf.Bytes())
	runShards(t, 4, func(i int) []string { return args(sharded, "--incremental", "--shard", fmt.Sprintf("%d/4", i)) }, nil)
	fresh := srv.URL("fresh")
	if r := run(t, args(fresh)...); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	sameTable(t, fresh, sharded)
	var news, changed int64
	d, _ := storage.Open(context.Background(), sharded)
	for i := 0; i < 4; i++ {
		var s jobs.Summary
		b, _ := d.ReadFile(context.Background(), fmt.Sprintf("_summary-s%03d.json", i))
		json.Unmarshal(b, &s)
		if s.Incremental != nil {
			news, changed = news+s.Incremental.New, changed+s.Incremental.Changed
		}
	}
	d.Close()
	if news != 10 || changed != 1 {
		t.Errorf("incremental shards found %d new and %d changed objects, want 10 and 1", news, changed)
	}

	killed := srv.URL("killed")
	kills := killAtRandom(t, 2, 6, 30, 400, args(killed), func(kills int) bool {
		// Whatever is visible is whole.
		if _, err := table.ReadAll[table.FeatureRow](killed); err != nil {
			t.Fatalf("after kill %d: %v", kills, err)
		}
		d, _ := storage.Open(context.Background(), killed)
		defer d.Close()
		_, err := d.ReadFile(context.Background(), table.SuccessFile)
		return err == nil
	})
	if r := run(t, args(killed)...); r.code != exitOK && !strings.Contains(r.stderr, "already holds a complete table") {
		t.Fatalf("final rerun: %d %s", r.code, r.stderr)
	}
	t.Logf("%d kills", kills)
	if kills == 0 {
		t.Error("every run finished before its kill: nothing was tested")
	}
	sameTable(t, fresh, killed) // the bucket has grown since "one"
	noTempKeys(t, killed)
}

// A whole run job (featurize three splits, train, evaluate) with its
// tables and model in MinIO: a rerun is a no-op, a new image updates its
// split only.
func TestRunJobInMinIO(t *testing.T) {
	srv := testservers.MinIO(t)
	dir, _, _ := trainSetup(t, 5)
	job := filepath.Join(dir, "job.yaml")
	os.WriteFile(job, []byte(jobYAML), 0o644)
	out := srv.URL("job")
	r := run(t, "run", job, "--quiet", "--set", "output="+out)
	if r.code != exitOK {
		t.Fatalf("run: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Count(r.stdout, " done ") != 4 || !strings.Contains(r.stdout, "test accuracy") {
		t.Errorf("first run: %s", r.stdout)
	}
	stamp := func() string {
		d, err := storage.Open(context.Background(), storage.Join(out, "model"))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		b, _ := d.ReadFile(context.Background(), "model.json")
		return string(b)
	}
	before := stamp()
	if before == "" {
		t.Fatal("no model.json in the bucket")
	}
	r = run(t, "run", job, "--quiet", "--set", "output="+out)
	if r.code != exitOK || strings.Count(r.stdout, "up to date") != 4 || stamp() != before {
		t.Errorf("second run was not a no-op: %d\n%s", r.code, r.stdout)
	}
	writePNG(t, filepath.Join(dir, "img", "test", "red", "new.png"), picture(40, 40, 1))
	r = run(t, "run", job, "--quiet", "--set", "output="+out)
	if r.code != exitOK || !strings.Contains(r.stdout, "featurize test         done") || !strings.Contains(r.stdout, "featurize train        up to date") {
		t.Errorf("new image: %d\n%s", r.code, r.stdout)
	}
	m, err := table.ReadManifest(storage.Join(out, "features", "test"))
	if err != nil || m.Generation != 1 {
		t.Errorf("the test split was not updated incrementally: %+v %v", m, err)
	}
	noTempKeys(t, out)
}
