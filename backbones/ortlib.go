package backbones

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// The ONNX Runtime release this project pins. make setup fetches the
// library from the npm package onnxruntime-node and checks both hashes.
const (
	ORTVersion    = "1.30.0"
	ORTLibName    = "libonnxruntime.so.1"
	ORTLibSHA256  = "ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23"
	ORTNpmPackage = "onnxruntime-node@1.30.0"
)

// DefaultORTLibPath is where make setup puts the library.
func DefaultORTLibPath() string {
	return filepath.Join(CacheDir(), "onnxruntime", ORTVersion, ORTLibName)
}

// FindORTLibrary returns the absolute path of the ONNX Runtime shared
// library: explicit if given, else $FEATURIZER_ORT_LIB, the setup cache,
// next to the executable, or the system library directories.
func FindORTLibrary(explicit string) (string, error) {
	var candidates []string
	if explicit != "" {
		candidates = []string{explicit}
	} else if env := os.Getenv("FEATURIZER_ORT_LIB"); env != "" {
		candidates = []string{env}
	} else {
		candidates = append(candidates, DefaultORTLibPath())
		if exe, err := os.Executable(); err == nil {
			dir := filepath.Dir(exe)
			candidates = append(candidates, filepath.Join(dir, ORTLibName), filepath.Join(dir, "..", "lib", ORTLibName))
		}
		candidates = append(candidates, "/usr/local/lib/"+ORTLibName, "/usr/lib/"+ORTLibName)
	}
	for _, c := range candidates {
		abs, err := filepath.Abs(c)
		if err != nil {
			continue
		}
		if st, err := os.Stat(abs); err == nil && !st.IsDir() {
			return abs, nil
		}
	}
	return "", fmt.Errorf("ONNX Runtime library %s not found (looked in %s); run `make setup` or set FEATURIZER_ORT_LIB / --ort-lib",
		ORTLibName, strings.Join(candidates, ", "))
}

var (
	ortOnce sync.Once
	ortErr  error
	ortPath string
)

// InitRuntime loads ONNX Runtime from libPath (made absolute) once per
// process. Later calls return the first call's result.
func InitRuntime(libPath string) error {
	ortOnce.Do(func() {
		path, err := FindORTLibrary(libPath)
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
