package backbones

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

static int fz_can_dlopen(const char *name) {
	void *h = dlopen(name, RTLD_LAZY | RTLD_LOCAL);
	if (h == NULL) return 0;
	dlclose(h);
	return 1;
}
*/
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	ort "github.com/yalue/onnxruntime_go"
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

// deviceLibs are the files a GPU provider needs, in the order they are
// checked: ONNX Runtime's provider libraries (next to libonnxruntime.so)
// and the NVIDIA libraries they load.
var deviceLibs = map[string][]struct {
	name     string
	besideRT bool
	hint     string
}{
	DeviceCUDA: {
		{"libonnxruntime_providers_shared.so", true, "the ONNX Runtime GPU release (onnxruntime-linux-x64-gpu) puts it next to libonnxruntime.so; the CPU build pinned by make setup has no GPU providers"},
		{"libonnxruntime_providers_cuda.so", true, "the ONNX Runtime GPU release (onnxruntime-linux-x64-gpu) puts it next to libonnxruntime.so; the CPU build pinned by make setup has no GPU providers"},
		{"libcudart.so.12", false, "install the CUDA 12 runtime (or use the featurizer GPU container image)"},
		{"libcublas.so.12", false, "install CUDA 12's cuBLAS (or use the featurizer GPU container image)"},
		{"libcudnn.so.9", false, "install cuDNN 9 for CUDA 12 (or use the featurizer GPU container image)"},
	},
	DeviceTensorRT: {
		{"libonnxruntime_providers_shared.so", true, "the ONNX Runtime GPU release puts it next to libonnxruntime.so"},
		{"libonnxruntime_providers_tensorrt.so", true, "the ONNX Runtime GPU release puts it next to libonnxruntime.so"},
		{"libonnxruntime_providers_cuda.so", true, "the ONNX Runtime GPU release puts it next to libonnxruntime.so"},
		{"libcudart.so.12", false, "install the CUDA 12 runtime"},
		{"libnvinfer.so.10", false, "install TensorRT 10 for CUDA 12 (libnvinfer10)"},
	},
}

// CheckDevice reports the first library a device needs that cannot be
// loaded, naming the file and how to get it. The runtime must be
// initialized (its directory is where the provider libraries belong).
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
	for _, l := range deviceLibs[device] {
		path := l.name
		if l.besideRT {
			path = filepath.Join(filepath.Dir(lib), l.name)
			if _, err := os.Stat(path); err != nil {
				return fmt.Errorf("--device %s: %s is missing (looked for %s): %s", device, l.name, path, l.hint)
			}
			continue
		}
		if !canDlopen(path) {
			return fmt.Errorf("--device %s: cannot load %s: %s", device, l.name, l.hint)
		}
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
			return fmt.Errorf("--fp16 needs a GPU device (--device tensorrt)")
		}
		return nil
	case DeviceCUDA:
		if o.FP16 {
			return fmt.Errorf("--fp16: the CUDA provider runs the model's float32 graph as it is; use --device tensorrt for float16")
		}
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
			"trt_engine_cache_path":   filepath.Join(CacheDir(), "tensorrt"),
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
