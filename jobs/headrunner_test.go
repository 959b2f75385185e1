package jobs

import (
	"fmt"
	"math/rand"
	"os"
	"sync"
	"testing"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/head"
	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/modelspec"
)

// With --inflight above 1 the pipeline calls the runner from several
// goroutines: backbone-then-head must give each call its own features in
// between, so that every batch gets its own probabilities.
func TestHeadRunnerConcurrentCalls(t *testing.T) {
	if err := backbones.InitRuntime(""); err != nil {
		if os.Getenv("FEATURIZER_REQUIRE_ORT") != "" {
			t.Fatal(err)
		}
		t.Skipf("ONNX Runtime not available (run make setup): %v", err)
	}
	spec := &modelspec.Spec{Input: modelspec.InputSpec{Layout: "NCHW", Size: [2]int{32, 32}}, Resize: modelspec.ResizeSpec{Policy: "squash"},
		Normalize: modelspec.NormalizeSpec{Scale: 1, Std: [3]float32{1, 1, 1}}}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	eng, err := backbones.NewEngineFromBytes(testmodels.Build(testmodels.Options{Seed: 2}), spec, backbones.EngineOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	rng := rand.New(rand.NewSource(1))
	p := head.NewParams(testmodels.FeatureDim, 0, 3, 1)
	for i := range p.W {
		p.W[i] = rng.Float32()*2 - 1
	}
	hm, err := head.HeadModel(p)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := backbones.NewSession(hm, head.FeaturesInput, []string{head.ProbsOutput}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	h := &headRunner{eng: eng, head: hs, k: 3}

	const batches, n = 8, 4
	size := eng.SampleSize()
	inputs := make([][]float32, batches)
	want := make([][]float32, batches)
	for b := range inputs {
		inputs[b] = make([]float32, n*size)
		for i := range inputs[b] {
			inputs[b][i] = rng.Float32()*4 - 2
		}
		want[b] = make([]float32, n*3)
		if err := h.Run(inputs[b], n, nil, want[b]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, batches)
	for b := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := make([]float32, n*3)
			for rep := 0; rep < 200; rep++ {
				if err := h.Run(inputs[b], n, nil, got); err != nil {
					errs <- err
					return
				}
				if fmt.Sprint(got) != fmt.Sprint(want[b]) {
					errs <- fmt.Errorf("batch %d, call %d: %v, alone %v", b, rep, got, want[b])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
