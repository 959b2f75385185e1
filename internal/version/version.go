// Package version names this build of featurizer.
package version

import (
	"runtime"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X .../version.Version=v1.2.3".
var Version = "0.1.0-dev"

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
