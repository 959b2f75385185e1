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
	needRuntime(t)
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{})
	in := filepath.Join(dir, "images")
	dataset(t, in)
	_, lib, _ := backbones.RuntimeInfo()

	r := run2(t, map[string]string{"FEATURIZER_ORT_LIB": lib}, "featurize", "--backbone", model, "--spec", spec, "--input", in,
		"--output", filepath.Join(dir, "o1"), "--device", "cuda")
	if r.code == 0 || !strings.Contains(r.stderr, "libonnxruntime_providers_shared.so is missing") || !strings.Contains(r.stderr, "GPU release") {
		t.Errorf("cuda without providers: %d %s", r.code, r.stderr)
	}

	// A runtime directory with the provider files present: the next
	// missing piece on this CPU machine is the CUDA runtime.
	gpu := filepath.Join(dir, "ort-gpu")
	os.MkdirAll(gpu, 0o755)
	os.Symlink(lib, filepath.Join(gpu, backbones.ORTLibName))
	for _, f := range []string{"libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so", "libonnxruntime_providers_tensorrt.so"} {
		os.WriteFile(filepath.Join(gpu, f), nil, 0o644)
	}
	r = run2(t, map[string]string{"FEATURIZER_ORT_LIB": filepath.Join(gpu, backbones.ORTLibName)}, "featurize", "--backbone", model, "--spec", spec,
		"--input", in, "--output", filepath.Join(dir, "o2"), "--device", "cuda")
	if r.code == 0 || !strings.Contains(r.stderr, "cannot load libcudart.so.12") || !strings.Contains(r.stderr, "CUDA 12") {
		t.Errorf("cuda without CUDA: %d %s", r.code, r.stderr)
	}

	r = run(t, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", filepath.Join(dir, "o3"), "--fp16")
	if r.code == 0 || !strings.Contains(r.stderr, "--fp16 needs a GPU device") {
		t.Errorf("fp16 on cpu: %d %s", r.code, r.stderr)
	}
	if r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", filepath.Join(dir, "o4"), "--device", "tpu"); r.code != 2 {
		t.Errorf("unknown device: %d %s", r.code, r.stderr)
	}
}
