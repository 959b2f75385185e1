package backbones

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// The device picks the runtime before it is loaded: cuda and tensorrt the
// make setup-gpu folder when it is there, cpu the make setup library;
// --ort-lib and FEATURIZER_ORT_LIB win for every device.
func TestFindORTLibraryForDevice(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("FEATURIZER_CACHE", cache)
	t.Setenv("FEATURIZER_ORT_LIB", "")
	cpuLib := DefaultORTLibPath()
	gpuLib := filepath.Join(DefaultGPURuntimeDir(), ORTLibName)

	if _, err := FindORTLibraryFor("", DeviceCUDA); err == nil || !strings.Contains(err.Error(), "make setup-gpu") {
		t.Errorf("nothing installed, cuda: %v", err)
	}
	writeFile(t, cpuLib, "cpu")
	for dev, want := range map[string]string{DeviceCPU: cpuLib, DeviceCUDA: cpuLib, DeviceTensorRT: cpuLib} {
		// Without a GPU runtime the CPU one is loaded, and CheckDevice
		// names the missing providers and make setup-gpu.
		if got, err := FindORTLibraryFor("", dev); err != nil || got != want {
			t.Errorf("CPU runtime only, %s: %s, %v", dev, got, err)
		}
	}
	writeFile(t, gpuLib, "gpu")
	if got, _ := FindORTLibraryFor("", DeviceCUDA); got != cpuLib {
		t.Errorf("a GPU folder without its providers was taken: %s", got)
	}
	writeFile(t, filepath.Join(DefaultGPURuntimeDir(), providersShared), "shared")
	for dev, want := range map[string]string{DeviceCPU: cpuLib, DeviceCUDA: gpuLib, DeviceTensorRT: gpuLib, "": cpuLib} {
		if got, err := FindORTLibraryFor("", dev); err != nil || got != want {
			t.Errorf("both runtimes, %q: %s, %v; want %s", dev, got, err, want)
		}
	}
	other := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	writeFile(t, other, "other")
	if got, _ := FindORTLibraryFor(other, DeviceCUDA); got != other {
		t.Errorf("--ort-lib: %s", got)
	}
	t.Setenv("FEATURIZER_ORT_LIB", other)
	for _, dev := range []string{DeviceCPU, DeviceCUDA} {
		if got, _ := FindORTLibraryFor("", dev); got != other {
			t.Errorf("FEATURIZER_ORT_LIB, %s: %s", dev, got)
		}
	}
}

// featurizer version's report: a file that differs from its pin is named
// with both hashes and what to run; a library elsewhere is checked against
// the SHA256SUMS installed beside it (the container's), or said to be
// unverified.
func TestRuntimesReport(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("FEATURIZER_CACHE", cache)
	t.Setenv("FEATURIZER_ORT_LIB", "")
	rs := Runtimes()
	if rs[0].Installed || !strings.Contains(rs[0].Note, "make setup") || rs[1].Installed || !strings.Contains(rs[1].Note, "make setup-gpu") {
		t.Errorf("nothing installed: %+v", rs)
	}
	writeFile(t, DefaultORTLibPath(), "not the pinned library")
	for _, f := range gpuRuntimeFiles {
		writeFile(t, filepath.Join(DefaultGPURuntimeDir(), f.name), "not pinned either")
	}
	rs = Runtimes()
	if !rs[0].Installed || rs[0].Verified || !strings.Contains(rs[0].Note, "libonnxruntime.so.1: SHA-256 ") ||
		!strings.Contains(rs[0].Note, "pinned "+ORTLibSHA256) || !strings.Contains(rs[0].Note, "`make setup` again") {
		t.Errorf("CPU runtime off its pin: %+v", rs[0])
	}
	if !rs[1].Installed || rs[1].Verified || rs[1].Path != filepath.Join(DefaultGPURuntimeDir(), ORTLibName) ||
		!strings.Contains(rs[1].Note, "pinned "+ORTGPULibSHA256) || !strings.Contains(rs[1].Note, "`make setup-gpu` again") {
		t.Errorf("GPU runtime off its pin: %+v", rs[1])
	}

	// FEATURIZER_ORT_LIB: a folder with a SHA256SUMS (as the container
	// recipe writes), then one whose library changed since.
	dir := t.TempDir()
	for _, f := range []string{ORTLibName, providersShared, providersCUDA} {
		writeFile(t, filepath.Join(dir, f), f+" bytes")
	}
	var sums strings.Builder
	for _, f := range []string{ORTLibName, providersShared, providersCUDA} {
		h, _ := fileSHA256(filepath.Join(dir, f))
		sums.WriteString(h + "  " + f + "\n")
	}
	writeFile(t, filepath.Join(dir, "SHA256SUMS"), sums.String())
	t.Setenv("FEATURIZER_ORT_LIB", filepath.Join(dir, ORTLibName))
	rs = Runtimes()
	for _, r := range rs {
		if !r.Verified || !strings.Contains(r.Note, "SHA256SUMS") || r.Path != filepath.Join(dir, ORTLibName) {
			t.Errorf("FEATURIZER_ORT_LIB with SHA256SUMS: %+v", r)
		}
	}
	writeFile(t, filepath.Join(dir, providersCUDA), "changed")
	if r := Runtimes()[1]; r.Verified || !strings.Contains(r.Note, providersCUDA+" differs") {
		t.Errorf("changed provider: %+v", r)
	}
	os.Remove(filepath.Join(dir, "SHA256SUMS"))
	if r := Runtimes()[0]; r.Verified || !strings.Contains(r.Note, "not verified") {
		t.Errorf("no SHA256SUMS: %+v", r)
	}
}
