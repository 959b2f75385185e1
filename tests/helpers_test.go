package tests

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/featurizer/featurizer/internal/corrupt"
	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/table"
)

// The CLI's exit codes (decided in cmd/featurizer/main.go; the README's
// exit codes).
const (
	exitOK          = 0   // done, rejects included
	exitFailure     = 1   // the job failed
	exitUsage       = 2   // bad flags or configuration, or a file the user has to provide
	exitInterrupted = 130 // stopped by a signal
)

// fixture is what most end-to-end tests start from: a temporary folder
// with a tiny backbone (tiny.onnx, its spec tiny.yaml and classes.txt) and
// the small labelled dataset in images/ (see dataset). It needs ONNX
// Runtime; a fixture that cannot be written fails the test.
type fixture struct {
	dir   string // the test's temporary folder
	model string // tiny.onnx
	spec  string // tiny.yaml
	in    string // images/
}

func newFixture(t *testing.T, o testmodels.Options) fixture {
	t.Helper()
	needRuntime(t)
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, o)
	in := filepath.Join(dir, "images")
	dataset(t, in)
	return fixture{dir: dir, model: model, spec: spec, in: in}
}

// path is a path under the fixture's folder.
func (f fixture) path(elem ...string) string {
	return filepath.Join(append([]string{f.dir}, elem...)...)
}

// writeFile writes a fixture file (and its folder), failing the test when
// it cannot.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

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

// slowPNGs writes n copies of one 1200x1200 PNG into dir: slow enough to
// decode that a job on them can be stopped midway.
func slowPNGs(t *testing.T, dir string, n int) {
	t.Helper()
	first := filepath.Join(dir, "000.png")
	writePNG(t, first, picture(1200, 1200, 3))
	data, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("%03d.png", i)), data)
	}
}

// interruptAfterFirstPart runs the CLI with args, sends SIGINT once the
// table in out has its second part committed, and requires exit 130; it
// returns the CLI's stderr.
func interruptAfterFirstPart(t *testing.T, out string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(out, table.PartName(1))); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no part committed within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	return stderr.String()
}
