package backbones

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/featurizer/featurizer/download"
	"github.com/featurizer/featurizer/internal/version"
)

// The library of the ONNX Runtime release this project pins
// (version.ONNXRuntime). make setup fetches it from the npm package
// onnxruntime-node and checks both hashes.
const (
	ORTLibName    = "libonnxruntime.so.1"
	ORTLibSHA256  = "ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23"
	ORTNpmPackage = "onnxruntime-node@1.30.0"
)

// The GPU runtime make setup-gpu installs for the host (--device cuda and
// tensorrt outside the container): ONNX Runtime 1.29.0 for CUDA 13, the core
// from onnxruntime-node and Microsoft's provider libraries from
// com.github.asus4.onnxruntime.linux-x64-gpu, all in one folder (the core
// loads its providers from its own directory, and core and providers must be
// one version). scripts/ort-runtime.pins holds these pins (HOST_GPU_*);
// scripts/install-runtime.sh check keeps these constants equal to them.
const (
	ORTGPUVersion                 = "1.29.0"
	ORTGPUDir                     = "1.29.0-cuda13"
	ORTGPULibSHA256               = "89688f5cf51c7e31befbb7b9101bc027799009b18d1baa9a5b1146a72e69538d"
	ORTGPUProvidersSharedSHA256   = "c6a12593396095f5670160e284c35d1700b7708cf3037b7042e2a5200ccae772"
	ORTGPUProvidersCUDASHA256     = "56cf3254b118ad837ccc4ed8f6d1b23504bbf7ef91b34cbc0b289cb7f10b3037"
	ORTGPUProvidersTensorRTSHA256 = "ef6071798a339038ad66c428fb1a809cf8e499bffc3b6870e4e8bc4f4c6a6320"
)

// The provider libraries ONNX Runtime loads from its own directory.
const (
	providersShared   = "libonnxruntime_providers_shared.so"
	providersCUDA     = "libonnxruntime_providers_cuda.so"
	providersTensorRT = "libonnxruntime_providers_tensorrt.so"
)

// gpuRuntimeFiles are the files of the make setup-gpu folder and their pins.
var gpuRuntimeFiles = []struct{ name, sha256 string }{
	{ORTLibName, ORTGPULibSHA256},
	{providersShared, ORTGPUProvidersSharedSHA256},
	{providersCUDA, ORTGPUProvidersCUDASHA256},
	{providersTensorRT, ORTGPUProvidersTensorRTSHA256},
}

// DefaultORTLibPath is where make setup puts the library.
func DefaultORTLibPath() string {
	return filepath.Join(download.CacheDir(), "onnxruntime", version.ONNXRuntime, ORTLibName)
}

// DefaultGPURuntimeDir is where make setup-gpu puts the GPU runtime.
func DefaultGPURuntimeDir() string {
	return filepath.Join(download.CacheDir(), "onnxruntime", ORTGPUDir)
}

func isGPU(device string) bool { return device == DeviceCUDA || device == DeviceTensorRT }

// FindORTLibrary returns the absolute path of the CPU runtime:
// FindORTLibraryFor(explicit, DeviceCPU).
func FindORTLibrary(explicit string) (string, error) {
	return FindORTLibraryFor(explicit, DeviceCPU)
}

// FindORTLibraryFor returns the absolute path of the ONNX Runtime shared
// library to load for a device: explicit if given, else
// $FEATURIZER_ORT_LIB, else for a GPU device the first library found with
// GPU providers beside it (the make setup-gpu folder first, then the places
// below), else the make setup cache, next to the executable (and ../lib),
// or the system library directories. ONNX Runtime can be loaded once per
// process, so the device decides before InitRuntimeFor.
func FindORTLibraryFor(explicit, device string) (string, error) {
	var candidates []string
	if explicit != "" {
		candidates = []string{explicit}
	} else if env := os.Getenv("FEATURIZER_ORT_LIB"); env != "" {
		candidates = []string{env}
	} else {
		candidates = defaultORTCandidates()
		if isGPU(device) {
			if p, ok := findGPURuntime(); ok {
				return p, nil
			}
		}
	}
	for _, c := range candidates {
		if abs, ok := regularFile(c); ok {
			return abs, nil
		}
	}
	hint := "run `make setup` or set FEATURIZER_ORT_LIB / --ort-lib"
	if isGPU(device) {
		hint = "run `make setup-gpu` (ONNX Runtime " + ORTGPUVersion + " for CUDA 13) or set FEATURIZER_ORT_LIB / --ort-lib to a GPU build"
	}
	return "", fmt.Errorf("ONNX Runtime library %s not found (looked in %s); %s", ORTLibName, strings.Join(candidates, ", "), hint)
}

// defaultORTCandidates are the places the library is looked for when
// neither --ort-lib nor FEATURIZER_ORT_LIB names it.
func defaultORTCandidates() []string {
	candidates := []string{DefaultORTLibPath()}
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		candidates = append(candidates, filepath.Join(dir, ORTLibName), filepath.Join(dir, "..", "lib", ORTLibName))
	}
	return append(candidates, "/usr/local/lib/"+ORTLibName, "/usr/lib/"+ORTLibName)
}

// findGPURuntime returns the first default library with GPU providers
// beside it: the make setup-gpu folder, then the other default places (the
// container's ../lib holds the official GPU release).
func findGPURuntime() (string, bool) {
	for _, c := range append([]string{filepath.Join(DefaultGPURuntimeDir(), ORTLibName)}, defaultORTCandidates()...) {
		abs, ok := regularFile(c)
		if !ok {
			continue
		}
		if _, ok := regularFile(filepath.Join(filepath.Dir(abs), providersShared)); ok {
			return abs, true
		}
	}
	return "", false
}

func regularFile(p string) (string, bool) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", false
	}
	st, err := os.Stat(abs)
	return abs, err == nil && !st.IsDir()
}

var (
	ortOnce sync.Once
	ortErr  error
	ortPath string
)

// InitRuntime loads the CPU runtime: InitRuntimeFor(libPath, DeviceCPU).
func InitRuntime(libPath string) error {
	return InitRuntimeFor(libPath, DeviceCPU)
}

// InitRuntimeFor loads ONNX Runtime once per process, from libPath (made
// absolute) or else the library FindORTLibraryFor picks for the device (the
// make setup-gpu runtime for cuda and tensorrt when it is installed). Later
// calls return the first call's result.
func InitRuntimeFor(libPath, device string) error {
	ortOnce.Do(func() {
		path, err := FindORTLibraryFor(libPath, device)
		if err != nil {
			ortErr = err
			return
		}
		ort.SetSharedLibraryPath(path)
		// ONNX Runtime 1.30 starts Microsoft's 1DS telemetry on Linux when
		// its environment is created: it writes a device ID and an upload
		// queue under ~/.cache/Microsoft and an empty /tmp/mat-debug-PID.log
		// (the SDK's trace file), and uploads events. A batch job should do
		// none of that; ORT_DISABLE_TELEMETRY=1 switches all of it off. A
		// value the user set is kept.
		if _, set := os.LookupEnv(ortTelemetryEnv); !set {
			os.Setenv(ortTelemetryEnv, "1")
		}
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			ortErr = fmt.Errorf("load ONNX Runtime from %s: %w", path, err)
			return
		}
		removeTelemetryTrace()
		ortPath = path
	})
	return ortErr
}

// ortTelemetryEnv is ONNX Runtime's opt-out of its POSIX telemetry.
const ortTelemetryEnv = "ORT_DISABLE_TELEMETRY"

// removeTelemetryTrace deletes the 1DS SDK's trace file of this process
// when telemetry runs anyway (the user set ORT_DISABLE_TELEMETRY=0): it
// stays empty (ONNX Runtime sets the trace mask to 0), so it is litter.
// Only this process's file, and only when empty.
func removeTelemetryTrace() {
	name := fmt.Sprintf("mat-debug-%d.log", os.Getpid())
	for _, dir := range []string{os.TempDir(), "/tmp"} {
		p := filepath.Join(dir, name)
		if st, err := os.Lstat(p); err == nil && st.Mode().IsRegular() && st.Size() == 0 {
			os.Remove(p)
		}
	}
}

// RuntimeInfo returns the loaded ONNX Runtime version and library path.
func RuntimeInfo() (version, path string, err error) {
	if ortErr != nil {
		return "", "", ortErr
	}
	if ortPath == "" {
		return "", "", errors.New("ONNX Runtime not initialized")
	}
	return ort.GetVersion(), ortPath, nil
}
