package memstat

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// PeakRSS returns the high-water mark of resident memory in bytes (VmHWM on
// Linux), or 0 where it cannot be read. Unlike the rusage of a child, it
// does not include the parent's memory at fork time.
func PeakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
