package modelspec

import (
	"os/exec"
	"strings"
	"testing"
)

// The packages that need a backbone's description but never run one. They
// must not link ONNX Runtime's cgo layer (or backbones, which carries it):
// that is why the spec types live here and not in backbones.
var runtimeFree = []string{
	"github.com/featurizer/featurizer/modelspec",
	"github.com/featurizer/featurizer/table",
	"github.com/featurizer/featurizer/head",
	"github.com/featurizer/featurizer/inputs",
	"github.com/featurizer/featurizer/featurize",
	"github.com/featurizer/featurizer/storage",
	"github.com/featurizer/featurizer/backbones/onnxgraph",
}

var runtimePackages = []string{
	"github.com/yalue/onnxruntime_go",
	"github.com/featurizer/featurizer/backbones",
}

func TestValuePackagesDoNotLinkRuntime(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("this test lists dependencies with the go command: %v", err)
	}
	for _, pkg := range runtimeFree {
		out, err := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			t.Fatalf("go list -deps %s: %v %s", pkg, err, msg)
		}
		deps := strings.Fields(string(out))
		if len(deps) == 0 || deps[len(deps)-1] != pkg {
			t.Fatalf("go list -deps %s: the package itself is not listed last: %v", pkg, deps)
		}
		for _, d := range deps {
			for _, bad := range runtimePackages {
				if d == bad {
					t.Errorf("%s links %s; it needs only value types (modelspec)", pkg, bad)
				}
			}
		}
	}
}

// modelspec itself needs no cgo at all, so that anything can import it.
func TestModelspecHasNoCgo(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("this test lists dependencies with the go command: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}} {{len .CgoFiles}}", "github.com/featurizer/featurizer/modelspec").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 2 {
		t.Fatalf("go list gave %q", out)
	}
	for _, l := range lines {
		if f := strings.Fields(l); len(f) != 2 || f[1] != "0" {
			t.Errorf("modelspec depends on a package with cgo: %s", l)
		}
	}
}
