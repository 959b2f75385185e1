// Package host describes the machine a benchmark ran on, for its report.
package host

import (
	"os"
	"runtime"
	"strings"
)

// CPUName is the processor's model name from /proc/cpuinfo, or GOARCH
// where there is none.
func CPUName() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if _, v, ok := strings.Cut(l, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}
