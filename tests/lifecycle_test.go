package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/table"
)

// A spec with a URL and a SHA-256 downloads its weights into the models
// directory on first use (from a local server here), then reuses them.
func TestDownloadWeights(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	model := testmodels.Build(testmodels.Options{Seed: 2})
	sum := sha256.Sum256(model)
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.Write(model)
	}))
	defer srv.Close()
	spec := filepath.Join(dir, "remote.yaml")
	os.WriteFile(filepath.Join(dir, "classes.txt"), []byte("a\nb\nc\nd\ne\n"), 0o644)
	os.WriteFile(spec, []byte(fmt.Sprintf(tinySpecYAML, "NCHW")+
		fmt.Sprintf("file: remote-tiny.onnx\nurl: %s/remote-tiny.onnx\nsha256: %s\n", srv.URL, hex.EncodeToString(sum[:]))), 0o644)
	in := filepath.Join(dir, "images")
	dataset(t, in)
	models := filepath.Join(dir, "models")
	for i, want := range []int{1, 1} {
		out := filepath.Join(dir, fmt.Sprint("out", i))
		r := run(t, "featurize", "--spec", spec, "--models-dir", models, "--input", in, "--output", out, "--progress", "none")
		if r.code != exitOK {
			t.Fatalf("run %d: exit %d %s", i, r.code, r.stderr)
		}
		if hits != want {
			t.Errorf("run %d: %d downloads, want %d", i, hits, want)
		}
	}
	got, err := os.ReadFile(filepath.Join(models, "remote-tiny.onnx"))
	if err != nil || !bytes.Equal(got, model) {
		t.Errorf("models directory does not hold the weights: %v", err)
	}
	// --offline with an empty models directory explains itself.
	r := run(t, "featurize", "--spec", spec, "--models-dir", filepath.Join(dir, "empty"), "--offline", "--input", in, "--output", filepath.Join(dir, "o"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "--offline") {
		t.Errorf("offline: exit %d %s", r.code, r.stderr)
	}
}

// Ctrl-C stops the job between batches: exit 130, the parts committed so
// far stay, nothing half-written, no _SUCCESS.
func TestInterrupt(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{})
	in := filepath.Join(dir, "images")
	slowPNGs(t, in, 400) // decoded one at a time: slow enough to interrupt
	out := filepath.Join(dir, "out")
	stderr := interruptAfterFirstPart(t, out, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out,
		"--batch-size", "2", "--workers", "1", "--threads", "1", "--rows-per-part", "4", "--progress", "none")
	if !strings.Contains(stderr, "stopping after the current batch") {
		t.Errorf("stderr: %s", stderr)
	}
	if _, err := os.Stat(filepath.Join(out, table.SuccessFile)); err == nil {
		t.Error("_SUCCESS written by a stopped job")
	}
	noTempFiles(t, out)
	ents, _ := os.ReadDir(out)
	if len(ents) == 0 {
		t.Fatal("committed parts were removed")
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "part-") {
			t.Errorf("unexpected file after a stop: %s", e.Name())
			continue
		}
		rows, err := table.ReadAll[table.FeatureRow](out)
		if err != nil {
			t.Fatalf("a committed part is unreadable: %v", err)
		}
		if len(rows)%4 != 0 {
			t.Errorf("%d rows: a part is incomplete", len(rows))
		}
	}
	if len(ents) >= 100 {
		t.Errorf("the job did not stop early (%d parts)", len(ents))
	}
}
