package tests

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/internal/testservers"
	"github.com/featurizer/featurizer/table"
)

// Four shard processes in parallel write the same table as one process:
// the same rows, each exactly once, and one manifest once all are done.
func TestShardsEqualOneRun(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{Seed: 4})
	in := filepath.Join(dir, "images")
	for i := 0; i < 60; i++ {
		writePNG(t, filepath.Join(in, []string{"a", "b", "c"}[i%3], fmt.Sprintf("%02d.png", i)), picture(30+i%7, 40, i))
	}
	one := filepath.Join(dir, "one")
	if r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", one, "--quiet"); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	sharded := filepath.Join(dir, "sharded")
	runShards(t, 4, func(i int) []string {
		return []string{"featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", sharded,
			"--shard", fmt.Sprintf("%d/4", i), "--quiet", "--rows-per-part", "7"}
	}, nil)
	a, _ := table.ReadAll[table.FeatureRow](one)
	m, err := table.ReadManifest(sharded)
	if err != nil {
		t.Fatalf("no manifest after all shards finished: %v", err)
	}
	b, _ := table.ReadAll[table.FeatureRow](sharded)
	if len(a) != 60 || len(b) != 60 || m.Rows != 60 {
		t.Fatalf("%d rows unsharded, %d sharded, manifest %d", len(a), len(b), m.Rows)
	}
	byPath := map[string]table.FeatureRow{}
	for _, r := range b {
		if _, dup := byPath[r.Path]; dup {
			t.Fatalf("%s twice", r.Path)
		}
		byPath[r.Path] = r
	}
	for _, r := range a {
		s, ok := byPath[r.Path]
		if !ok {
			t.Fatalf("%s missing from the sharded table", r.Path)
		}
		if *s.Label != *r.Label || *s.LabelIndex != *r.LabelIndex {
			t.Errorf("%s: labels differ", r.Path)
		}
		for i := range r.Features {
			if math.Abs(float64(r.Features[i]-s.Features[i])) > 1e-5 {
				t.Fatalf("%s: feature %d differs", r.Path, i)
			}
		}
	}
	// The sharded table trains like any other.
	if r := run(t, "train", "--features", sharded, "--output", filepath.Join(dir, "model"), "--quiet", "--reg-param", "0.01"); r.code != exitOK {
		t.Errorf("train on the sharded table: %s", r.stderr)
	}
	// A shard's parts are not redone by accident.
	r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", sharded, "--shard", "2/4")
	if r.code != exitUsage || !strings.Contains(r.stderr, "parts of shard 2/4") {
		t.Errorf("rerun of a shard: %d %s", r.code, r.stderr)
	}
}

// A Kubernetes Indexed Job gives the shard through the environment.
func TestShardFromIndexedJobEnv(t *testing.T) {
	fx := newFixture(t, testmodels.Options{})
	dir, model, spec, in := fx.dir, fx.model, fx.spec, fx.in
	out := filepath.Join(dir, "out")
	r := runEnv(t, map[string]string{"JOB_COMPLETION_INDEX": "1", "JOB_COMPLETION_COUNT": "2"}, "featurize", "--backbone", model, "--spec", spec,
		"--input", in, "--output", out, "--quiet")
	if r.code != exitOK {
		t.Fatal(r.stderr)
	}
	parts, _ := filepath.Glob(filepath.Join(out, "part-s001-*.parquet"))
	if len(parts) == 0 {
		t.Errorf("no parts of shard 1: %v", parts)
	}
	r = runEnv(t, map[string]string{"JOB_COMPLETION_INDEX": "3", "JOB_COMPLETION_COUNT": "2"}, "featurize", "--backbone", model, "--spec", spec,
		"--input", in, "--output", filepath.Join(dir, "o2"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "JOB_COMPLETION_INDEX") {
		t.Errorf("bad index: %d %s", r.code, r.stderr)
	}
}

// Images in Azure Blob storage (a real Azurite server on loopback): the
// CLI lists the container and featurizes it like a directory, naming rows
// by their URLs.
func TestFeaturizeFromAzureBlob(t *testing.T) {
	needRuntime(t)
	loc, put := testservers.Azurite(t)
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{})
	local := filepath.Join(dir, "images")
	dataset(t, local)
	filepath.Walk(local, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(local, p)
			b, _ := os.ReadFile(p)
			if err := put(filepath.ToSlash(rel), b); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	fromBlob, fromDisk := filepath.Join(dir, "blob"), filepath.Join(dir, "disk")
	if r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", loc, "--output", fromBlob, "--quiet"); r.code != exitOK {
		t.Fatalf("%d %s", r.code, r.stderr)
	}
	if r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", local, "--output", fromDisk, "--quiet"); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	a, _ := table.ReadAll[table.FeatureRow](fromBlob)
	b, _ := table.ReadAll[table.FeatureRow](fromDisk)
	if len(a) != 9 || len(b) != 9 {
		t.Fatalf("%d rows from the container, %d from disk", len(a), len(b))
	}
	for i := range a {
		if !strings.HasPrefix(a[i].Path, "azblob://featurizer/images/") || !strings.HasSuffix(b[i].Path, strings.TrimPrefix(a[i].Path, "azblob://featurizer/images")) {
			t.Errorf("row %d: %s vs %s", i, a[i].Path, b[i].Path)
		}
		if fmt.Sprint(a[i].Features) != fmt.Sprint(b[i].Features) || (a[i].Label == nil) != (b[i].Label == nil) || (a[i].Label != nil && *a[i].Label != *b[i].Label) {
			t.Errorf("row %d differs", i)
		}
	}
}
