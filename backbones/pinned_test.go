package backbones

import (
	"os"
	"testing"
	"time"

	"github.com/featurizer/featurizer/internal/testmodels"
)

// On a machine with a CUDA runtime: page-locked buffers are handed out and
// copy to the device faster than pageable memory. Elsewhere it skips
// (FEATURIZER_REQUIRE_CUDA=1 makes that a failure, for GPU machines).
func TestPinnedHost(t *testing.T) {
	p, err := openPinnedHost()
	if err != nil {
		if os.Getenv("FEATURIZER_REQUIRE_CUDA") != "" {
			t.Fatal(err)
		}
		t.Skipf("no CUDA runtime here: %v", err)
	}
	defer p.Close()
	b, err := p.Floats(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = float32(i)
	}
	if b[12345] != 12345 {
		t.Fatal("pinned memory does not hold what was written")
	}
	start := time.Now()
	now := func() float64 { return time.Since(start).Seconds() }
	// One ResNet-50 batch of 128 at 224x224: 77 MB.
	pageable, pinned, err := p.copyBench(128*3*224*224*4, 20, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("host to device, 77 MB batches: pageable %.1f GB/s, page-locked %.1f GB/s (%.1fx)", pageable, pinned, pinned/pageable)
	if pinned < pageable {
		t.Errorf("page-locked copies are not faster: %.1f vs %.1f GB/s", pinned, pageable)
	}
}

// An engine made for the CPU hands out ordinary memory, even on a machine
// whose CUDA runtime could give page-locked buffers; each buffer is its own
// (calls in flight at once fill theirs side by side) and Run reads it.
func TestInputBufferCPU(t *testing.T) {
	needRuntime(t)
	if p, err := openPinnedHost(); err == nil {
		p.Close()
		t.Log("a CUDA runtime is here: the CPU engine must not use it")
	}
	o := testmodels.Options{Seed: 5}
	for _, device := range []string{"", DeviceCPU} {
		e, err := NewEngineFromBytes(testmodels.Build(o), tinySpec(o), EngineOptions{Device: device, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if e.Pinned() {
			t.Errorf("device %q: the engine hands out page-locked memory", device)
		}
		const n = 3
		size := n * e.SampleSize()
		a, b := e.InputBuffer(size), e.InputBuffer(size)
		if len(a) != size || len(b) != size {
			t.Fatalf("device %q: InputBuffer(%d) gave %d and %d values", device, size, len(a), len(b))
		}
		want := randomImages(n, e.SampleSize(), 11)
		copy(a, want)
		copy(b, randomImages(n, e.SampleSize(), 12))
		if j, ok := closeEnough(a, want, 0); !ok {
			t.Fatalf("device %q: filling one buffer changed another at %d", device, j)
		}
		feats := make([]float32, n*e.FeatureDim())
		if err := e.Run(a, n, feats, nil); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			wf, _ := testmodels.Forward(o, want[i*e.SampleSize():(i+1)*e.SampleSize()])
			if j, ok := closeEnough(feats[i*e.FeatureDim():(i+1)*e.FeatureDim()], wf, 1e-5); !ok {
				t.Fatalf("device %q: image %d feature %d: %v, reference %v", device, i, j, feats[i*e.FeatureDim()+j], wf[j])
			}
		}
	}
}
