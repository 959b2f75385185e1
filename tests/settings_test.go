package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every numeric setting is range-checked the same way whether it comes
// from a flag, the job file or --set, and the one-line error names it as
// the user wrote it (exit 2, before any work).
func TestSettingsRangeChecked(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"train", "validation", "test"} {
		os.MkdirAll(filepath.Join(dir, "img", d), 0o755)
	}
	job := filepath.Join(dir, "job.yaml")
	os.WriteFile(job, []byte(jobYAML), 0o644)
	in, out, table := filepath.Join(dir, "img", "train"), filepath.Join(dir, "out"), filepath.Join(dir, "no-table")
	featurize := []string{"featurize", "--backbone", "mobilenetv2", "--offline", "--input", in, "--output", out}
	train := []string{"train", "--features", table, "--output", out}

	cases := []struct {
		args []string
		want string
	}{
		// The job file, through --set.
		{[]string{"--set", "featurize.batch_size=0"}, "featurize.batch_size: expected a positive integer, got 0"},
		{[]string{"--set", "featurize.batch_size=-5"}, "featurize.batch_size: expected a positive integer, got -5"},
		{[]string{"--set", "featurize.workers=-2"}, "featurize.workers: expected a positive integer, got -2"},
		{[]string{"--set", "featurize.threads=0"}, "featurize.threads: expected a positive integer, got 0"},
		{[]string{"--set", "featurize.max_pixels=-1"}, "featurize.max_pixels: expected a positive integer, got -1"},
		{[]string{"--set", "featurize.device=tpu"}, `featurize.device: expected cpu, cuda or tensorrt, got "tpu"`},
		{[]string{"--set", "featurize.device_id=-1"}, "featurize.device_id: expected a GPU index (0 or more), got -1"},
		{[]string{"--set", "train.max_iter=-1"}, "train.max_iter: expected a positive integer, got -1"},
		{[]string{"--set", "train.max_iter=0"}, "train.max_iter: expected a positive integer, got 0"},
		{[]string{"--set", "train.hidden=-3"}, "train.hidden: expected a number of hidden units (0 for none), got -3"},
		{[]string{"--set", "train.batch_size=0"}, "train.batch_size: expected a positive integer, got 0"},
		{[]string{"--set", "train.learning_rate=0"}, "train.learning_rate: expected a number > 0, got 0"},
		{[]string{"--set", "train.grid=[0.1, -1]"}, "train.grid: expected numbers >= 0, got -1"},
		{[]string{"--set", "train.reg_param=-1"}, "train.reg_param: expected a number >= 0, got -1"},
		{[]string{"--set", "train.elastic_net_param=1.5"}, "train.elastic_net_param: expected a value in [0, 1], got 1.5"},
		{[]string{"--set", "data.validation_fraction=1"}, "data.validation_fraction: expected a fraction in [0, 1), got 1"},
		{[]string{"--set", "data.validation_fraction=0.6", "--set", "data.test_fraction=0.5"}, "data.validation_fraction and data.test_fraction leave no training rows"},
		// The same settings as flags.
		{append(featurize, "--batch-size", "-5"), "--batch-size: expected a positive integer, got -5"},
		{append(featurize, "--workers", "-2"), "--workers: expected a positive integer, got -2"},
		{append(featurize, "--threads", "0"), "--threads: expected a positive integer, got 0"},
		{append(featurize, "--max-pixels", "-1"), "--max-pixels: expected a positive integer, got -1"},
		{append(featurize, "--readers", "-1"), "--readers: expected a positive integer (or 0 for the default), got -1"},
		{append(featurize, "--rows-per-part", "0"), "--rows-per-part: expected a positive integer, got 0"},
		{append(featurize, "--device-id", "-1"), "--device-id: expected a GPU index (0 or more), got -1"},
		{append(train, "--max-iter", "-1"), "--max-iter: expected a positive integer, got -1"},
		{append(train, "--patience", "-1"), "--patience: expected a positive integer, got -1"},
		{append(train, "--hidden", "-3"), "--hidden: expected a number of hidden units (0 for none), got -3"},
		{append(train, "--batch-size", "0"), "--batch-size: expected a positive integer, got 0"},
		{append(train, "--learning-rate", "0"), "--learning-rate: expected a number > 0, got 0"},
		{append(train, "--elastic-net-param", "1.5"), "--elastic-net-param: expected a value in [0, 1], got 1.5"},
		{append(train, "--validation-fraction", "0.6", "--test-fraction", "0.5"), "--validation-fraction and --test-fraction leave no training rows"},
	}
	for _, c := range cases {
		args := c.args
		if strings.HasPrefix(args[0], "--") {
			args = append([]string{"run", job}, args...)
		}
		r := run(t, args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("%s: got exit %d %q, want one line with %q", strings.Join(c.args, " "), r.code, r.stderr, c.want)
		}
	}
	// The same values written in the file itself.
	os.WriteFile(job, []byte(jobYAML+"featurize:\n  batch_size: 0\n"), 0o644)
	if r := run(t, "run", job); r.code != exitUsage || !strings.Contains(r.stderr, "job.yaml: featurize.batch_size: expected a positive integer, got 0") {
		t.Errorf("batch_size 0 in the file: exit %d %q", r.code, r.stderr)
	}
}
