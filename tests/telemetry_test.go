package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/internal/testmodels"
)

// ONNX Runtime 1.30 starts its telemetry when the environment is created,
// unless told not to or run under CI: a device ID and an upload queue in
// ~/.cache/Microsoft, and an empty /tmp/mat-debug-PID.log per process. A
// run leaves none of them. The child gets a home of its own and none of
// the variables that would switch telemetry off by themselves, so the test
// means the same on a laptop and in CI.
func TestNoTelemetryLitter(t *testing.T) {
	needRuntime(t)
	lib, err := backbones.FindORTLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	fx := newFixture(t, testmodels.Options{})
	dir, model, spec, in := fx.dir, fx.model, fx.spec, fx.in
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o755)

	quiet := map[string]bool{"ORT_DISABLE_TELEMETRY": true, "ORT_RUNNING_UNIT_TESTS": true, "XDG_CACHE_HOME": true, "HOME": true,
		"CI": true, "TF_BUILD": true, "GITHUB_ACTIONS": true, "GITLAB_CI": true, "CIRCLECI": true, "TRAVIS": true,
		"JENKINS_URL": true, "CODEBUILD_BUILD_ID": true, "BUILDKITE": true, "TEAMCITY_VERSION": true, "APPVEYOR": true,
		"BITBUCKET_BUILD_NUMBER": true, "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI": true}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !quiet[k] {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+home, "FEATURIZER_ORT_LIB="+lib)

	for _, args := range [][]string{
		{"featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", filepath.Join(dir, "out"), "--progress", "none"},
		{"version"},
	} {
		cmd := exec.Command(binary, args...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", args[0], err, stderr.String())
		}
		trace := fmt.Sprintf("mat-debug-%d.log", cmd.Process.Pid)
		for _, d := range []string{"/tmp", os.TempDir()} {
			if _, err := os.Stat(filepath.Join(d, trace)); err == nil {
				os.Remove(filepath.Join(d, trace))
				t.Errorf("%s: ONNX Runtime's telemetry trace %s was left in %s", args[0], trace, d)
			}
		}
	}
	filepath.Walk(home, func(p string, info os.FileInfo, err error) error {
		if err == nil && p != home {
			t.Errorf("written into the home directory: %s", p)
		}
		return nil
	})
}
