package main

import (
	"strings"
	"testing"

	"github.com/featurizer/featurizer/jobs"
)

// A GPU that waited for decoded images gets one line saying so, with the
// stage seconds and what to try; a CPU run or a busy GPU gets none.
func TestBottleneckNote(t *testing.T) {
	sum := &jobs.Summary{Device: "cuda", Workers: 16, Batches: 40, WallSeconds: 50, InferBusyShare: 0.43, InferWaitDataShare: 0.51,
		StageSeconds: map[string]float64{"read": 1.2, "decode": 580.1, "preprocess": 190.2, "infer_busy": 21.5}}
	note := bottleneckNote(sum)
	for _, want := range []string{"decoding is the bottleneck", "43%", "51%", "decode 580.1s", "preprocess 190.2s", "16 workers", "--workers", "--fast-decode"} {
		if !strings.Contains(note, want) {
			t.Errorf("note lacks %q: %s", want, note)
		}
	}
	if strings.Contains(note, "\n") {
		t.Errorf("more than one line: %q", note)
	}
	cpu := *sum
	cpu.Device = "cpu"
	busy := *sum
	busy.InferBusyShare, busy.InferWaitDataShare = 0.95, 0.02
	for _, s := range []*jobs.Summary{&cpu, &busy} {
		if n := bottleneckNote(s); n != "" {
			t.Errorf("%s busy %.2f: %q", s.Device, s.InferBusyShare, n)
		}
	}
}
