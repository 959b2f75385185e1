package tests

import (
	"fmt"
	"math/rand"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/featurizer/featurizer/internal/corrupt"
)

func writeCorpus(dir string) error { return corrupt.Write(dir) }
func corpusFiles() []corrupt.File  { return corrupt.Files }

// killAtRandom runs the CLI with args up to trials times, each run killed
// (SIGKILL) after lo plus a random share of span milliseconds (seeded),
// and stops at the first run that ends by itself. After each kill, check
// looks at the output and says whether the job had finished anyway. It
// returns the number of kills.
func killAtRandom(t *testing.T, seed int64, trials, lo, span int, args []string, check func(kills int) (finished bool)) int {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	kills := 0
	for trial := 0; trial < trials; trial++ {
		cmd := exec.Command(binary, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("trial %d: %v", trial, err)
			}
			return kills // finished before the kill
		case <-time.After(time.Duration(lo+rng.Intn(span)) * time.Millisecond):
		}
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		kills++
		if check != nil && check(kills) {
			break
		}
	}
	return kills
}

// runShards runs n CLI processes in parallel, process i with args(i), and
// fails the test with the output of each one that fails, unless accept
// (when given) lets that failure pass.
func runShards(t *testing.T, n int, args func(i int) []string, accept func(i int, output string) bool) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if out, err := exec.Command(binary, args(i)...).CombinedOutput(); err != nil && (accept == nil || !accept(i, string(out))) {
				errs[i] = fmt.Sprintf("process %d: %v %s", i, err, out)
			}
		}(i)
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Fatal(e)
		}
	}
}
