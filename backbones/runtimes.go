package backbones

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/featurizer/featurizer/internal/version"
)

// RuntimeStatus describes one ONNX Runtime the featurizer can load: which
// devices use it, where it is, and whether it is what was pinned.
type RuntimeStatus struct {
	Devices   string // "cpu", or "cuda|tensorrt"
	Pinned    string // what make setup (cpu) or make setup-gpu installs: "1.30.0, CPU"
	Path      string // the library those devices load; "" when none is found
	Installed bool
	Verified  bool   // every file matches its pinned SHA-256, or the SHA256SUMS installed with it
	Note      string // how it was verified, why not, or what to run
}

// Runtimes reports the CPU and the GPU runtime, without loading either:
// the library each device would load (FindORTLibraryFor) and whether its
// files match their SHA-256s.
func Runtimes() []RuntimeStatus {
	cpu := RuntimeStatus{Devices: DeviceCPU, Pinned: version.ONNXRuntime + ", CPU"}
	if p, err := FindORTLibraryFor("", DeviceCPU); err == nil {
		cpu.Path, cpu.Installed = p, true
		cpu.Verified, cpu.Note = verifyRuntime(p, false)
	} else {
		cpu.Note = "not installed: run `make setup` (ONNX Runtime " + version.ONNXRuntime + ", CPU)"
	}
	gpu := RuntimeStatus{Devices: DeviceCUDA + "|" + DeviceTensorRT, Pinned: ORTGPUVersion + ", CUDA 13"}
	p, ok := "", false
	if env := os.Getenv("FEATURIZER_ORT_LIB"); env != "" {
		p, ok = regularFile(env)
	} else {
		p, ok = findGPURuntime()
	}
	if ok {
		gpu.Path, gpu.Installed = p, true
		gpu.Verified, gpu.Note = verifyRuntime(p, true)
	} else {
		gpu.Note = "not installed: run `make setup-gpu` (ONNX Runtime " + ORTGPUVersion + " for CUDA 13)"
	}
	return []RuntimeStatus{cpu, gpu}
}

// verifyRuntime checks the library at path (and, for a GPU runtime, its
// providers): against the pins when it is where make setup or make
// setup-gpu put it, else against a SHA256SUMS beside it (the container's).
func verifyRuntime(path string, gpu bool) (bool, string) {
	dir := filepath.Dir(path)
	if gpu {
		for _, f := range []string{providersShared, providersCUDA} {
			if _, ok := regularFile(filepath.Join(dir, f)); !ok {
				return false, f + " is missing beside it: no GPU providers"
			}
		}
	}
	var want []struct{ name, sha256 string }
	switch {
	case !gpu && path == DefaultORTLibPath():
		want = append(want, struct{ name, sha256 string }{ORTLibName, ORTLibSHA256})
	case gpu && dir == DefaultGPURuntimeDir():
		want = gpuRuntimeFiles
	default:
		sums, err := readSHA256SUMS(filepath.Join(dir, "SHA256SUMS"))
		if err != nil {
			return false, "not a pinned install (no SHA256SUMS beside it): not verified"
		}
		for _, s := range sums {
			if got, err := fileSHA256(filepath.Join(dir, s.name)); err != nil || got != s.sha256 {
				return false, fmt.Sprintf("%s differs from the SHA256SUMS beside it", s.name)
			}
		}
		return true, "installed, matches the SHA256SUMS beside it"
	}
	for _, w := range want {
		got, err := fileSHA256(filepath.Join(dir, w.name))
		if err != nil {
			return false, fmt.Sprintf("%s: %v", w.name, err)
		}
		if got != w.sha256 {
			redo := "make setup"
			if gpu {
				redo = "make setup-gpu"
			}
			return false, fmt.Sprintf("%s: SHA-256 %s, pinned %s: run `%s` again", w.name, got, w.sha256, redo)
		}
	}
	return true, "installed, SHA-256 verified"
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readSHA256SUMS reads sha256sum's output format (HASH  NAME).
func readSHA256SUMS(path string) ([]struct{ name, sha256 string }, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []struct{ name, sha256 string }
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		hash, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(hash) != 64 || name == "" || strings.ContainsRune(name, '/') {
			return nil, fmt.Errorf("%s: not a sha256sum line: %q", path, sc.Text())
		}
		out = append(out, struct{ name, sha256 string }{name, hash})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return out, nil
}
