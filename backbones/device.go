package backbones

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

static int fz_can_dlopen(const char *name) {
	void *h = dlopen(name, RTLD_LAZY | RTLD_LOCAL);
	if (h == NULL) return 0;
	dlclose(h);
	return 1;
}

// fz_preload loads a library by absolute path, for good, into the global
// namespace: a later dlopen of its soname (by the provider, by cuDNN) finds
// it there. Returns NULL or the loader's message (malloc'ed: dlerror's
// buffer is per thread).
static char *fz_preload(const char *path) {
	if (dlopen(path, RTLD_NOW | RTLD_GLOBAL) != NULL) return NULL;
	const char *e = dlerror();
	return strdup(e != NULL ? e : "dlopen failed");
}
*/
import "C"

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/featurizer/featurizer/download"
)

// Devices the engine runs on, mapped onto ONNX Runtime's execution
// providers.
const (
	DeviceCPU      = "cpu"
	DeviceCUDA     = "cuda"
	DeviceTensorRT = "tensorrt"
)

// DefaultBatchSize is a good batch for each device: a GPU wants more images
// per call than a CPU.
func DefaultBatchSize(device string) int {
	if device == DeviceCUDA || device == DeviceTensorRT {
		return 128
	}
	return 32
}

// deviceProviders are the provider libraries each GPU device loads from
// the runtime's folder, the one that needs the most last.
var deviceProviders = map[string][]string{
	DeviceCUDA:     {providersShared, providersCUDA},
	DeviceTensorRT: {providersShared, providersCUDA, providersTensorRT},
}

// CheckDevice makes sure a GPU device can start, or reports the first piece
// missing in one line: the provider libraries beside the runtime, then what
// they need, read from their ELF DT_NEEDED entries (recursively) plus
// cuDNN 9, found by the system loader or in the Python environments'
// site-packages/nvidia folders. Libraries found only there are loaded now,
// by absolute path in dependency order and into the global namespace, so
// the provider's own loading by soname succeeds without LD_LIBRARY_PATH.
// The runtime must be initialized (its folder holds the providers).
func CheckDevice(device string) error {
	switch device {
	case "", DeviceCPU:
		return nil
	case DeviceCUDA, DeviceTensorRT:
	default:
		return fmt.Errorf("--device: expected cpu, cuda or tensorrt, got %q", device)
	}
	_, lib, err := RuntimeInfo()
	if err != nil {
		return err
	}
	dir := filepath.Dir(lib)
	var providers []string
	for _, name := range deviceProviders[device] {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("--device %s: %s is missing beside %s: %s", device, name, lib, noProvidersHint(device))
		}
		f, err := elf.Open(p)
		if err != nil {
			return fmt.Errorf("--device %s: %s is not a shared library (%v): a damaged install; run `make setup-gpu` again or reinstall the GPU build", device, p, err)
		}
		f.Close()
		providers = append(providers, p)
	}
	r := &libResolver{runtimeDir: dir, system: canDlopen, dirs: pythonNVIDIADirs(currentPyEnv())}
	plan := r.plan(providers)
	if len(plan.missing) > 0 {
		return missingLibsError(device, plan, len(r.dirs))
	}
	if err := preload(plan.load); err != nil {
		return fmt.Errorf("--device %s: %w", device, err)
	}
	for _, p := range plan.optional {
		preload([]string{p}) // cuDNN reports a part it needs and cannot load
	}
	return nil
}

func noProvidersHint(device string) string {
	return fmt.Sprintf("this ONNX Runtime has no GPU providers (the CPU build of make setup has none); run `make setup-gpu` (ONNX Runtime %s for CUDA 13), which --device %s then uses, or point FEATURIZER_ORT_LIB at a GPU build", ORTGPUVersion, device)
}

// missingLibsError names the first missing library, how to get it, and the
// others missing, in one line.
func missingLibsError(device string, plan libPlan, pyDirs int) error {
	first := plan.missing[0]
	msg := fmt.Sprintf("--device %s: %s not found (needed by %s): %s", device, first.soname, first.neededBy, libHint(first.soname, plan.cudaMajor))
	if len(plan.missing) > 1 {
		var more []string
		for _, m := range plan.missing[1:] {
			more = append(more, m.soname)
		}
		msg += "; also missing: " + strings.Join(more, ", ")
	}
	if pyDirs == 0 {
		return fmt.Errorf("%s (looked in the system library path; no Python environment on PATH or in $VIRTUAL_ENV has site-packages/nvidia)", msg)
	}
	return fmt.Errorf("%s (looked in the system library path and %d site-packages/nvidia folders)", msg, pyDirs)
}

func libHint(soname, cuda string) string {
	if cuda == "" {
		cuda = "13"
	}
	pipSuffix := ""
	if cuda != "13" {
		pipSuffix = "-cu" + cuda
	}
	switch {
	case isDriver(soname):
		return "it is the NVIDIA driver's library; this machine has no NVIDIA driver the loader can find (no GPU?)"
	case strings.HasPrefix(soname, "libcudnn"):
		return fmt.Sprintf("cuDNN 9 for CUDA %s: pip install nvidia-cudnn-cu%s (PyTorch for CUDA %s brings it), or NVIDIA's cuDNN package", cuda, cuda, cuda)
	case strings.HasPrefix(soname, "libnvinfer"), strings.HasPrefix(soname, "libnvonnxparser"):
		major := soname[strings.LastIndex(soname, ".")+1:]
		return fmt.Sprintf("TensorRT %s for CUDA %s: pip install 'tensorrt-cu%s-libs==%s.*', or NVIDIA's TensorRT %s package", major, cuda, cuda, major, major)
	}
	return fmt.Sprintf("part of CUDA %s: pip install nvidia-cublas%s nvidia-cuda-runtime%s nvidia-curand%s (PyTorch for CUDA %s brings them), or the CUDA %s toolkit", cuda, pipSuffix, pipSuffix, pipSuffix, cuda, cuda)
}

var preloaded sync.Map // absolute path -> true

// preload loads the files in order (each after what it needs), once per
// process.
func preload(paths []string) error {
	for _, p := range paths {
		if _, done := preloaded.Load(p); done {
			continue
		}
		c := C.CString(p)
		e := C.fz_preload(c)
		C.free(unsafe.Pointer(c))
		if e != nil {
			msg := C.GoString(e)
			C.free(unsafe.Pointer(e))
			return fmt.Errorf("load %s: %s", p, msg)
		}
		preloaded.Store(p, true)
	}
	return nil
}

func canDlopen(name string) bool {
	c := C.CString(name)
	defer C.free(unsafe.Pointer(c))
	return C.fz_can_dlopen(c) == 1
}

// appendProvider adds the device's execution provider to the session
// options. TensorRT falls back to CUDA, then CPU, for unsupported nodes.
func appendProvider(opts *ort.SessionOptions, o EngineOptions) error {
	switch o.Device {
	case "", DeviceCPU:
		if o.FP16 {
			return fmt.Errorf("--fp16 needs a GPU device (--device cuda or tensorrt): the CPU provider has few float16 kernels and would cast back to float32 around the others")
		}
		return nil
	case DeviceCUDA:
		// With FP16 the engine has already converted the graph to float16.
		return appendCUDA(opts, o.DeviceID)
	case DeviceTensorRT:
		trt, err := ort.NewTensorRTProviderOptions()
		if err != nil {
			return fmt.Errorf("TensorRT provider: %w", err)
		}
		defer trt.Destroy()
		settings := map[string]string{
			"device_id":               fmt.Sprint(o.DeviceID),
			"trt_engine_cache_enable": "1",
			"trt_engine_cache_path":   filepath.Join(download.CacheDir(), "tensorrt"),
		}
		if o.FP16 {
			settings["trt_fp16_enable"] = "1"
		}
		if err := trt.Update(settings); err != nil {
			return fmt.Errorf("TensorRT provider: %w", err)
		}
		if err := opts.AppendExecutionProviderTensorRT(trt); err != nil {
			return fmt.Errorf("TensorRT provider: %w", err)
		}
		return appendCUDA(opts, o.DeviceID)
	}
	return fmt.Errorf("--device: expected cpu, cuda or tensorrt, got %q", o.Device)
}

func appendCUDA(opts *ort.SessionOptions, id int) error {
	cuda, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return fmt.Errorf("CUDA provider: %w", err)
	}
	defer cuda.Destroy()
	if err := cuda.Update(map[string]string{"device_id": fmt.Sprint(id)}); err != nil {
		return fmt.Errorf("CUDA provider: %w", err)
	}
	if err := opts.AppendExecutionProviderCUDA(cuda); err != nil {
		return fmt.Errorf("CUDA provider: %w", err)
	}
	return nil
}
