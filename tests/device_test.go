package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/internal/testmodels"
)

// Asking for a GPU where its libraries are missing says which file is
// missing and how to get it: first ONNX Runtime's provider libraries, then
// (with those in place) the CUDA runtime.
func TestDeviceErrorsNameTheMissingFile(t *testing.T) {
	fx := newFixture(t, testmodels.Options{})
	dir, model, spec, in := fx.dir, fx.model, fx.spec, fx.in
	_, lib, _ := backbones.RuntimeInfo()

	r := runEnv(t, map[string]string{"FEATURIZER_ORT_LIB": lib}, "featurize", "--backbone", model, "--spec", spec, "--input", in,
		"--output", filepath.Join(dir, "o1"), "--device", "cuda")
	if r.code != exitFailure || !strings.Contains(r.stderr, "libonnxruntime_providers_shared.so is missing") || !strings.Contains(r.stderr, "make setup-gpu") {
		t.Errorf("cuda without providers: %d %s", r.code, r.stderr)
	}

	// A runtime directory with provider files that are no libraries: a
	// damaged install, named as such.
	gpu := filepath.Join(dir, "ort-gpu")
	os.MkdirAll(gpu, 0o755)
	os.Symlink(lib, filepath.Join(gpu, backbones.ORTLibName))
	for _, f := range []string{"libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so", "libonnxruntime_providers_tensorrt.so"} {
		os.WriteFile(filepath.Join(gpu, f), nil, 0o644)
	}
	r = runEnv(t, map[string]string{"FEATURIZER_ORT_LIB": filepath.Join(gpu, backbones.ORTLibName)}, "featurize", "--backbone", model, "--spec", spec,
		"--input", in, "--output", filepath.Join(dir, "o2"), "--device", "cuda")
	if r.code != exitFailure || !strings.Contains(r.stderr, "libonnxruntime_providers_shared.so is not a shared library") {
		t.Errorf("cuda with damaged providers: %d %s", r.code, r.stderr)
	}

	r = run(t, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", filepath.Join(dir, "o3"), "--fp16")
	if r.code == exitOK || !strings.Contains(r.stderr, "--fp16 needs a GPU device") {
		t.Errorf("fp16 on cpu: %d %s", r.code, r.stderr)
	}
	if r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", filepath.Join(dir, "o4"), "--device", "tpu"); r.code != exitUsage {
		t.Errorf("unknown device: %d %s", r.code, r.stderr)
	}
}

// --device cuda loads the GPU runtime of make setup-gpu by itself (no
// FEATURIZER_ORT_LIB), and on a machine without an NVIDIA driver stops
// with exit 1 and one line naming the first missing piece, the driver's
// libcuda.so.1 (what the provider needs is read from its ELF file: CUDA
// 13); featurizer version shows both runtimes.
func TestGPURuntimeChosenByDevice(t *testing.T) {
	needRuntime(t)
	gpuLib := filepath.Join(backbones.DefaultGPURuntimeDir(), backbones.ORTLibName)
	if _, err := os.Stat(gpuLib); err != nil {
		if os.Getenv("FEATURIZER_REQUIRE_GPU_RUNTIME") != "" {
			t.Fatalf("FEATURIZER_REQUIRE_GPU_RUNTIME is set but %v: run make setup-gpu", err)
		}
		t.Skipf("the GPU runtime is not installed (%v): run make setup-gpu", err)
	}
	env := map[string]string{"FEATURIZER_ORT_LIB": ""}
	r := runEnv(t, env, "version", "--device", "cuda")
	if r.code != exitOK || !strings.Contains(r.stdout, "onnxruntime "+backbones.ORTGPUVersion+" ("+gpuLib+"; pinned "+backbones.ORTGPUVersion+")") ||
		!strings.Contains(r.stdout, "runtime for --device cpu: "+backbones.DefaultORTLibPath()+": installed, SHA-256 verified") ||
		!strings.Contains(r.stdout, "runtime for --device cuda|tensorrt: "+gpuLib+": installed, SHA-256 verified") {
		t.Errorf("version --device cuda: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	empty := t.TempDir()
	r = runEnv(t, map[string]string{"FEATURIZER_ORT_LIB": "", "FEATURIZER_CACHE": empty}, "version")
	if !strings.Contains(r.stdout, "runtime for --device cuda|tensorrt: not installed: run `make setup-gpu`") {
		t.Errorf("version without the GPU runtime:\n%s", r.stdout)
	}

	if _, err := os.Stat("/dev/nvidiactl"); err == nil {
		t.Skip("this machine has an NVIDIA driver: the missing-driver message cannot be checked here")
	}
	fx := newFixture(t, testmodels.Options{})
	dir, model, spec, in := fx.dir, fx.model, fx.spec, fx.in
	r = runEnv(t, env, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", filepath.Join(dir, "out"), "--device", "cuda")
	var errLines []string
	for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if strings.HasPrefix(l, "featurizer: ") {
			errLines = append(errLines, l)
		}
	}
	if r.code != exitFailure || len(errLines) != 1 || !strings.Contains(errLines[0], "--device cuda: libcuda.so.1 not found (needed by libonnxruntime_providers_cuda.so)") ||
		!strings.Contains(errLines[0], "libcublasLt.so.13") || strings.Contains(r.stderr, ".so.12") ||
		strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
		t.Errorf("--device cuda without a driver: exit %d\n%s", r.code, r.stderr)
	}
}
