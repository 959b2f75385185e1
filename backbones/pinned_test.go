package backbones

import (
	"os"
	"testing"
	"time"
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

// On the CPU the engine hands out ordinary memory.
func TestInputBufferCPU(t *testing.T) {
	e := &Engine{}
	if e.Pinned() || len(e.InputBuffer(10)) != 10 {
		t.Fatal("CPU engine: want 10 ordinary floats")
	}
}
