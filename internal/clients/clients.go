package clients

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// RequireEnv makes a missing environment a failure instead of a skip.
const RequireEnv = "FEATURIZER_REQUIRE_CLIENTS"

// PythonEnv overrides the interpreter (another virtual environment).
const PythonEnv = "FEATURIZER_CLIENTS_PYTHON"

// Root is the repository root: the nearest directory at or above the
// working directory whose go.mod declares featurizer's module.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/featurizer/featurizer\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no featurizer go.mod above the working directory")
		}
		dir = parent
	}
}

// PythonPath is the clients' interpreter: $FEATURIZER_CLIENTS_PYTHON, else
// ROOT/.venv/bin/python. It may not exist.
func PythonPath() (string, error) {
	if p := os.Getenv(PythonEnv); p != "" {
		return p, nil
	}
	root, err := Root()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".venv", "bin", "python"), nil
}

// probes caches import checks: one Python start per module set and test
// binary, not per test.
var probes sync.Map // string -> *probeResult

// Available reports why the clients' Python cannot import modules, or nil.
func Available(modules ...string) (string, error) {
	py, err := PythonPath()
	if err != nil {
		return "", err
	}
	key := py + "\x00" + strings.Join(modules, ",")
	v, _ := probes.LoadOrStore(key, &probeResult{})
	r := v.(*probeResult)
	r.once.Do(func() { r.err = probe(py, modules) })
	return py, r.err
}

type probeResult struct {
	once sync.Once
	err  error
}

func probe(py string, modules []string) error {
	if _, err := os.Stat(py); err != nil {
		return fmt.Errorf("the clients' Python %s is not installed (run make setup)", py)
	}
	code := "pass"
	if len(modules) > 0 {
		code = "import " + strings.Join(modules, ", ")
	}
	if out, err := exec.Command(py, "-c", code).CombinedOutput(); err != nil {
		return fmt.Errorf("%s cannot %s: %v: %s (run make setup: requirements-clients.txt)", py, code, err, lastLine(string(out)))
	}
	if contains(modules, "pyspark") {
		// PySpark 3.5 runs on Java 8, 11 or 17.
		if out, err := exec.Command("java", "-version").CombinedOutput(); err != nil {
			return fmt.Errorf("PySpark needs Java: java -version: %v: %s (apt-get install openjdk-17-jre-headless)", err, lastLine(string(out)))
		}
	}
	return nil
}

// Python returns the clients' interpreter after checking that it imports
// modules (and, for pyspark, that Java runs). Without it the test skips,
// or fails when FEATURIZER_REQUIRE_CLIENTS is set.
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	py, err := Available(modules...)
	if err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("%v (%s is set)", err, RequireEnv)
		} else {
			t.Skipf("%v; set %s=1 to make this a failure", err, RequireEnv)
		}
	}
	return py
}

// Env is the environment for the clients' processes: PySpark's workers
// run the same interpreter as its driver, Spark binds to loopback (no
// host name lookup, nothing reachable from outside), and no __pycache__
// is left in the source tree.
func Env(py string) []string {
	return append(os.Environ(),
		"PYSPARK_PYTHON="+py,
		"PYSPARK_DRIVER_PYTHON="+py,
		"SPARK_LOCAL_IP=127.0.0.1",
		"SPARK_LOCAL_HOSTNAME=localhost",
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONUNBUFFERED=1",
	)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
