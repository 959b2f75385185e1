package tests

import (
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
	"github.com/featurizer/featurizer/internal/testservers"
)

// The exit code says what went wrong, and the same cause gives the same
// code through 'featurize' and through 'run': a server, the network or a
// wrong file on disk fail the job (1); what the user has to fix in the
// command line or provide is 2.
func TestExitCodesByCause(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	model := testmodels.Build(testmodels.Options{Seed: 4})
	sum := sha256.Sum256(model)
	digest := hex.EncodeToString(sum[:])
	os.WriteFile(filepath.Join(dir, "classes.txt"), []byte("a\nb\nc\nd\ne\n"), 0o644)
	in := filepath.Join(dir, "images")
	dataset(t, in)

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "backend down", http.StatusInternalServerError)
	}))
	defer failing.Close()
	// An S3 endpoint that answers every request with 503 SlowDown.
	slow := testservers.NewFaultProxy(t, "http://127.0.0.1:1", testservers.FaultOptions{SlowDown: 1})
	t.Setenv("AWS_ACCESS_KEY_ID", testservers.MinIOAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testservers.MinIOSecretKey)
	t.Setenv("AWS_REGION", testservers.MinIORegion)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	bucket := fmt.Sprintf("s3://images/train?endpoint=%s&use_path_style=true&region=%s", slow.Endpoint, testservers.MinIORegion)

	// spec writes a spec whose weights file is name in the models
	// directory, downloaded from url when missing.
	spec := func(name, url string) string {
		p := filepath.Join(dir, name+".yaml")
		extra := fmt.Sprintf("file: %s.onnx\nsha256: %s\n", name, digest)
		if url != "" {
			extra += "url: " + url + "\n"
		}
		os.WriteFile(p, []byte(fmt.Sprintf(tinySpecYAML, "NCHW")+extra), 0o644)
		return p
	}
	models := filepath.Join(dir, "models")
	os.MkdirAll(models, 0o755)
	// On disk under the name the spec gives, but not the file it names.
	os.WriteFile(filepath.Join(models, "wrong.onnx"), testmodels.Build(testmodels.Options{Seed: 5}), 0o644)
	tiny, tinySpec := tinyBackbone(t, dir, testmodels.Options{})

	cases := []struct {
		name     string
		specFile string // --spec, with --models-dir models
		backbone string
		input    string
		flags    []string
		want     int
		says     string
	}{
		{name: "weights download fails", specFile: spec("download", failing.URL+"/download.onnx"), input: in, want: exitFailure, says: "500"},
		{name: "weights checksum mismatch", specFile: spec("wrong", ""), input: in, want: exitFailure, says: "SHA-256"},
		{name: "input bucket answers 503", specFile: tinySpec, backbone: tiny, input: bucket, want: exitFailure, says: "503"},
		{name: "weights missing offline", specFile: spec("absent", failing.URL+"/absent.onnx"), input: in, flags: []string{"--offline"}, want: exitUsage, says: "--offline"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"featurize", "--spec", c.specFile, "--models-dir", models, "--input", c.input,
				"--output", filepath.Join(dir, fmt.Sprint("out", i)), "--progress", "none"}
			if c.backbone != "" {
				args = append(args, "--backbone", c.backbone)
			}
			r := run(t, append(args, c.flags...)...)
			if r.code != c.want || !strings.Contains(r.stderr, c.says) {
				t.Errorf("featurize: exit %d, want %d (an error that says %q)\n%s", r.code, c.want, c.says, r.stderr)
			}

			job := filepath.Join(dir, fmt.Sprint("job", i, ".yaml"))
			yaml := fmt.Sprintf("name: exit-codes\nspec: %q\nmodels_dir: %q\noutput: %q\ndata:\n  train: %q\n",
				c.specFile, models, filepath.Join(dir, fmt.Sprint("job", i)), c.input)
			if c.backbone != "" {
				yaml += fmt.Sprintf("backbone: %q\n", c.backbone)
			}
			os.WriteFile(job, []byte(yaml), 0o644)
			r = run(t, append([]string{"run", job, "--progress", "none"}, c.flags...)...)
			if r.code != c.want || !strings.Contains(r.stderr, c.says) {
				t.Errorf("run: exit %d, want %d (an error that says %q)\n%s", r.code, c.want, c.says, r.stderr)
			}
		})
	}
	// Training on a table in a bucket that answers 503.
	features := fmt.Sprintf("s3://tables/features?endpoint=%s&use_path_style=true&region=%s", slow.Endpoint, testservers.MinIORegion)
	if r := run(t, "train", "--features", features, "--output", filepath.Join(dir, "model")); r.code != exitFailure || !strings.Contains(r.stderr, "503") {
		t.Errorf("train: exit %d, want 1 (an error that says 503)\n%s", r.code, r.stderr)
	}
}
