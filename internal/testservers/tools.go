package testservers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// findTool finds a server binary: the path in the environment variable
// env, else rel under the tools that make setup installs
// ($FEATURIZER_CACHE, default the user cache dir + featurizer, then
// tools/), else name on PATH; "" when it is nowhere.
func findTool(env, rel, name string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	cache := os.Getenv("FEATURIZER_CACHE")
	if cache == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(d, "featurizer")
		}
	}
	if p := filepath.Join(cache, "tools", rel); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// PinProcess restricts every running process named name (all its threads)
// to the CPUs cpus ("3", "12-15"): benchmarks put a server on cores of its
// own, as a remote store would be.
func PinProcess(name, cpus string) error {
	found := false
	for _, pid := range pids(name) {
		found = true
		if out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, pid).CombinedOutput(); err != nil {
			return fmt.Errorf("taskset: %v %s", err, out)
		}
	}
	if !found {
		return fmt.Errorf("no %s process", name)
	}
	return nil
}

// ProcessCPU sums the CPU time (user + system) of the running processes
// named name, from /proc (0 where there is none).
func ProcessCPU(name string) time.Duration {
	var total time.Duration
	for _, pid := range pids(name) {
		stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name (which may hold spaces): utime and
		// stime are the 12th and 13th, in clock ticks (100 per second).
		_, rest, _ := strings.Cut(string(stat), ") ")
		f := strings.Fields(rest)
		if len(f) > 12 {
			var u, s int64
			fmt.Sscan(f[11], &u)
			fmt.Sscan(f[12], &s)
			total += time.Duration(u+s) * 10 * time.Millisecond
		}
	}
	return total
}

// pids lists the processes named name.
func pids(name string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(comm)) == name {
			out = append(out, e.Name())
		}
	}
	return out
}
