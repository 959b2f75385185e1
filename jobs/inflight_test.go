package jobs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/featurize"
	"github.com/featurizer/featurizer/inputs"
)

// Batch size and batches in flight follow the device wherever a job comes
// from (flags, predict, a job file), unless set.
func TestDefaultsByDevice(t *testing.T) {
	for _, c := range []struct {
		device          string
		batch, inflight int
	}{{"", 32, 1}, {"cpu", 32, 1}, {"cuda", 128, 2}, {"tensorrt", 128, 2}} {
		cm := Common{Device: c.device}
		cm.defaults()
		if cm.BatchSize != c.batch || cm.InFlight != c.inflight {
			t.Errorf("device %q: batch %d, inflight %d; want %d, %d", c.device, cm.BatchSize, cm.InFlight, c.batch, c.inflight)
		}
	}
	set := Common{Device: "cuda", BatchSize: 64, InFlight: 3}
	set.defaults()
	if set.BatchSize != 64 || set.InFlight != 3 {
		t.Errorf("set values replaced: %+v", set)
	}

	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "train"), 0o755)
	for _, c := range []struct {
		featurize       string
		batch, inflight int
	}{
		{"{device: cuda}", 128, 2},
		{"{device: tensorrt, inflight: 3}", 128, 3},
		{"{inflight: 4, batch_size: 8}", 8, 4},
		{"{}", 32, 1},
	} {
		job := filepath.Join(dir, "job.yaml")
		os.WriteFile(job, []byte("backbone: mobilenetv2\noutput: out\ndata: {train: train}\nfeaturize: "+c.featurize+"\n"), 0o644)
		jc, err := LoadJob(job, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.featurize, err)
		}
		cm := jc.settings()
		cm.defaults()
		if cm.BatchSize != c.batch || cm.InFlight != c.inflight {
			t.Errorf("job file featurize %s: batch %d, inflight %d; want %d, %d", c.featurize, cm.BatchSize, cm.InFlight, c.batch, c.inflight)
		}
		src, err := inputs.Open(context.Background(), nil, filepath.Join(dir, "train"))
		if err != nil {
			t.Fatal(err)
		}
		if o := (&setup{src: src}).options(&cm); o.InFlight != c.inflight || o.BatchSize != c.batch {
			t.Errorf("job file featurize %s: the pipeline gets batch %d, inflight %d", c.featurize, o.BatchSize, o.InFlight)
		}
	}
}

// --inflight is range-checked like every setting, named as written.
func TestValidateInFlight(t *testing.T) {
	given := func(s string) bool { return s == "inflight" }
	for _, c := range []struct {
		v     int
		given Given
		want  string
	}{
		{0, nil, ""},
		{1, given, ""},
		{16, given, ""},
		{0, given, "inflight: expected 1 to 16 batches in inference at once, got 0"},
		{-1, nil, "inflight: expected 1 to 16 batches in inference at once, got -1"},
		{17, given, "inflight: expected 1 to 16 batches in inference at once, got 17"},
	} {
		cm := Common{InFlight: c.v}
		check(t, cm.Validate(FlagKey, c.given), c.want, "--")
		check(t, cm.Validate(FileKey("featurize"), c.given), c.want, "featurize.")
	}
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "train"), 0o755)
	job := filepath.Join(dir, "job.yaml")
	os.WriteFile(job, []byte("backbone: mobilenetv2\noutput: out\ndata: {train: train}\nfeaturize: {inflight: 0}\n"), 0o644)
	if _, err := LoadJob(job, nil); err == nil || !strings.Contains(err.Error(), "featurize.inflight: expected 1 to 16 batches in inference at once, got 0") {
		t.Errorf("job file with inflight 0: %v", err)
	}
}

// The summary carries the device's busy share and what it waited for, and
// says decoding is the bottleneck only on a GPU that mostly waited for it.
func TestSummaryBusyShare(t *testing.T) {
	st := &featurize.Stats{Rows: 10, Batches: 20, InferBusyShare: 0.31234, InferWaitShare: 0.6, MaxInFlight: 2,
		StageSec: map[string]float64{"infer_busy": 3.1}}
	c := &Common{Device: "cuda", InFlight: 2}
	sum := (&setup{}).summary(c, "featurize", st)
	if sum.Device != "cuda" || sum.InFlight != 2 || sum.InferBusyShare != 0.312 || sum.InferWaitDataShare != 0.6 ||
		sum.InferMaxConcurrent != 2 || sum.StageSeconds["infer_busy"] != 3.1 {
		t.Fatalf("summary %+v", sum)
	}
	if !sum.DecodeBound() {
		t.Error("a GPU busy 31% and waiting 60% for data is decode-bound")
	}
	for _, c := range []struct {
		name  string
		edit  func(s *Summary)
		bound bool
	}{
		{"cpu", func(s *Summary) { s.Device = "cpu" }, false},
		{"tensorrt", func(s *Summary) { s.Device = "tensorrt" }, true},
		{"busy", func(s *Summary) { s.InferBusyShare, s.InferWaitDataShare = 0.9, 0.1 }, false},
		{"writer-bound", func(s *Summary) { s.InferWaitDataShare = 0.05 }, false}, // idle, but not for data
		{"few batches", func(s *Summary) { s.Batches = 2 }, false},
	} {
		s := *sum
		c.edit(&s)
		if got := s.DecodeBound(); got != c.bound {
			t.Errorf("%s: decode-bound %v, want %v", c.name, got, c.bound)
		}
	}
}
