package version

import (
	"runtime"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X .../version.Version=v1.2.3".
var Version = "0.1.0-dev"

// ONNXRuntime is the ONNX Runtime release this build pins for the CPU: the
// one make setup installs and backbones loads, and the one MLflow models
// pin. A constant here rather than in backbones so that packages without
// cgo can name it; scripts/install-runtime.sh check keeps it equal to
// ORT_VERSION of scripts/ort-runtime.pins.
const ONNXRuntime = "1.30.0"

// Tool is the version string recorded in provenance.
func Tool() string {
	v := Version
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += "+" + s.Value[:12]
			}
		}
	}
	return v
}

// Go is the Go version the binary was built with.
func Go() string { return runtime.Version() }
