package clients

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that notes how a test would have ended.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Fatalf(format string, a ...any) { r.fatal = format }
func (r *recorder) Skipf(format string, a ...any)  { r.skip = format }

// Without the environment a test skips, saying how to get it; with
// FEATURIZER_REQUIRE_CLIENTS (CI) it fails instead.
func TestMissingEnvironmentSkipsOrFails(t *testing.T) {
	t.Setenv(PythonEnv, filepath.Join(t.TempDir(), "no-venv", "bin", "python"))
	if _, err := Available("pyspark"); err == nil || !strings.Contains(err.Error(), "make setup") {
		t.Fatalf("Available: %v", err)
	}
	t.Setenv(RequireEnv, "")
	r := &recorder{TB: t}
	Python(r, "pyspark")
	if r.skip == "" || r.fatal != "" {
		t.Errorf("without %s: skip %q, fatal %q", RequireEnv, r.skip, r.fatal)
	}
	t.Setenv(RequireEnv, "1")
	r = &recorder{TB: t}
	Python(r, "pyspark")
	if r.fatal == "" || r.skip != "" {
		t.Errorf("with %s: skip %q, fatal %q", RequireEnv, r.skip, r.fatal)
	}
}

// A module the environment lacks is named, and the root is the module's.
func TestMissingModuleNamed(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "clients", "clients.go")); err != nil {
		t.Fatalf("root %s: %v", root, err)
	}
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	t.Setenv(PythonEnv, py)
	_, err = Available("no_such_module_featurizer")
	if err == nil || !strings.Contains(err.Error(), "no_such_module_featurizer") {
		t.Errorf("Available: %v", err)
	}
}
