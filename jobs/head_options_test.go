package jobs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A job file's train.refit and train.tol reach the head's options (as
// --refit and --tol do); a tol given as 0 is refused, naming the key.
func TestJobFileRefitAndTol(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "train"), 0o755)
	load := func(train string) (*JobConfig, error) {
		job := filepath.Join(dir, "job.yaml")
		os.WriteFile(job, []byte("backbone: mobilenetv2\noutput: out\ndata: {train: train}\n"+train), 0o644)
		return LoadJob(job, nil)
	}
	jc, err := load("")
	if err != nil {
		t.Fatal(err)
	}
	if o := jc.headOptions(); o.NoRefit || o.Tol != 0 {
		t.Errorf("defaults: no refit %v, tol %v", o.NoRefit, o.Tol)
	}
	if jc, err = load("train: {refit: false, tol: 1.0e-7}\n"); err != nil {
		t.Fatal(err)
	}
	if o := jc.headOptions(); !o.NoRefit || o.Tol != 1e-7 {
		t.Errorf("refit: false, tol: 1e-7 gave no refit %v, tol %v", o.NoRefit, o.Tol)
	}
	if jc, err = load("train: {refit: true}\n"); err != nil || jc.headOptions().NoRefit {
		t.Errorf("refit: true: %v", err)
	}
	_, err = load("train: {tol: 0}\n")
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "train.tol: expected a number > 0, got 0") {
		t.Errorf("tol 0: %v", err)
	}
}
