package backbones

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/featurizer/featurizer/download"
)

// gpuRuntimeForTest is the make setup-gpu runtime, or a skip (a failure
// where FEATURIZER_REQUIRE_GPU_RUNTIME=1, as in CI, which runs make
// setup-gpu).
func gpuRuntimeForTest(t *testing.T) string {
	t.Helper()
	lib := filepath.Join(DefaultGPURuntimeDir(), ORTLibName)
	for _, f := range gpuRuntimeFiles {
		if _, err := os.Stat(filepath.Join(DefaultGPURuntimeDir(), f.name)); err != nil {
			if os.Getenv("FEATURIZER_REQUIRE_GPU_RUNTIME") != "" {
				t.Fatalf("the GPU runtime is required here (FEATURIZER_REQUIRE_GPU_RUNTIME) but %v: run make setup-gpu", err)
			}
			t.Skipf("the GPU runtime is not installed (%v): run make setup-gpu", err)
		}
	}
	return lib
}

// stubNVIDIA builds, in a fake Python environment laid out like PyTorch's
// (site-packages/nvidia/cu13/lib, nvidia/cudnn/lib), a stand-in for every
// library the real provider file names in DT_NEEDED, plus cuDNN: each with
// its soname, the symbols the provider imports from it, under the symbol
// versions it asks for, and cuBLAS needing cuBLASLt as the real one does.
// Only the libraries are fake: which ones, and what they must define, come
// from the provider file. Returns the environment's prefix.
func stubNVIDIA(t *testing.T, provider string) string {
	t.Helper()
	f, err := elf.Open(provider)
	if err != nil {
		t.Fatal(err)
	}
	needed, _ := f.ImportedLibraries()
	syms, _ := f.ImportedSymbols()
	f.Close()
	venv := filepath.Join(t.TempDir(), "venv")
	if err := os.MkdirAll(filepath.Join(venv, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	cu13 := filepath.Join(venv, "lib", "python3.12", "site-packages", "nvidia", "cu13", "lib")
	cudnn := filepath.Join(venv, "lib", "python3.12", "site-packages", "nvidia", "cudnn", "lib")
	bySoname := map[string][]elf.ImportedSymbol{}
	for _, s := range syms {
		bySoname[s.Library] = append(bySoname[s.Library], s)
	}
	var libs []string
	for _, so := range needed {
		if !isBaseLib(so) {
			libs = append(libs, so)
		}
	}
	if len(libs) < 4 {
		t.Fatalf("the provider names only %v: not the CUDA provider", libs)
	}
	sort.Slice(libs, func(i, j int) bool { return libs[i] == "libcublasLt.so.13" }) // cuBLAS links to it
	for _, so := range libs {
		var src strings.Builder
		version := map[string][]string{}
		for _, s := range bySoname[so] {
			switch s.Name {
			case "cudaGetDeviceCount": // one device, so the provider takes device_id 0
				fmt.Fprintf(&src, "int %s(int *n) { *n = 1; return 0; }\n", s.Name)
			default: // success, and NULL handles
				fmt.Fprintf(&src, "long %s(void) { return 0; }\n", s.Name)
			}
			version[s.Version] = append(version[s.Version], s.Name)
		}
		args := []string{}
		if len(version) > 0 {
			var vs strings.Builder
			for v, names := range version {
				fmt.Fprintf(&vs, "%s { global: %s; };\n", v, strings.Join(names, "; "))
			}
			script := filepath.Join(t.TempDir(), so+".map")
			os.WriteFile(script, []byte(vs.String()), 0o644)
			args = append(args, "-Wl,--version-script="+script)
		}
		var deps []string
		if so == "libcublas.so.13" {
			deps = append(deps, filepath.Join(cu13, "libcublasLt.so.13"))
		}
		buildSOArgs(t, filepath.Join(cu13, so), so, src.String(), args, deps...)
	}
	buildSO(t, filepath.Join(cudnn, "libcudnn.so.9"), "libcudnn.so.9", "", "")
	return venv
}

func buildSOArgs(t *testing.T, path, soname, src string, extra []string, deps ...string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if src == "" {
		src = "int fz_stub;\n"
	}
	args := append([]string{"-shared", "-fPIC", "-o", path, "-Wl,-soname," + soname, "-Wl,--no-as-needed"}, extra...)
	args = append(args, "-x", "c", "-", "-x", "none")
	args = append(args, deps...)
	cmd := exec.Command("gcc", args...)
	cmd.Stdin = strings.NewReader(src)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc %v: %v\n%s", args, err, out)
	}
}

// The device check on the real provider files make setup-gpu installs,
// each run in a fresh process (ONNX Runtime loads once per process; no
// LD_LIBRARY_PATH anywhere):
//   - on this machine as it is: one line naming libcuda.so.1 (the driver)
//     first, then what the provider's DT_NEEDED entries name (CUDA 13, not
//     the .so.12 the check once hard-coded) and cuDNN 9;
//   - with a Python environment holding stand-ins for those libraries at
//     PyTorch's paths: the check passes, and ONNX Runtime then loads the
//     real CUDA provider, whose sonames resolve to the libraries the check
//     loaded by absolute path;
//   - the same environment without the check: the provider fails to load
//     (libcublasLt.so.13 cannot be opened), so the check's loading is what
//     makes it work.
func TestCheckDeviceOnTheRealProvider(t *testing.T) {
	lib := gpuRuntimeForTest(t)
	venv := stubNVIDIA(t, filepath.Join(filepath.Dir(lib), providersCUDA))
	home := t.TempDir()
	run := func(mode string, env ...string) string {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestDeviceHelperProcess$", "-test.count=1")
		cmd.Env = append([]string{"FZ_DEVICE_HELPER=" + mode, "PATH=/usr/bin:/bin", "HOME=" + home,
			"FEATURIZER_CACHE=" + download.CacheDir(), "TMPDIR=" + t.TempDir()}, env...)
		out, _ := cmd.CombinedOutput()
		t.Logf("%s %v:\n%s", mode, env, out)
		return string(out)
	}

	out := run("check")
	if !strings.Contains(out, "runtime "+lib+" "+ORTGPUVersion+"\n") {
		t.Errorf("--device cuda did not load the GPU runtime by itself:\n%s", out)
	}
	line := between(out, "check: ", "\n")
	if !strings.HasPrefix(line, "--device cuda: libcuda.so.1 not found (needed by libonnxruntime_providers_cuda.so): ") ||
		!strings.Contains(line, "also missing: libcublasLt.so.13, libcublas.so.13, libcurand.so.10, libcudart.so.13, libcudnn.so.9") ||
		strings.Contains(line, ".so.12") {
		t.Errorf("check without the NVIDIA libraries:\n%s", out)
	}

	out = run("check", "VIRTUAL_ENV="+venv)
	if !strings.Contains(out, "check: ok\n") || !strings.Contains(out, "provider: appended\n") || !strings.Contains(out, "dlopen libcudnn.so.9: true\n") {
		t.Errorf("with NVIDIA's libraries in a Python environment, the CUDA provider did not load:\n%s", out)
	}
	out = run("check", "PATH="+filepath.Join(venv, "bin")+":/usr/bin:/bin")
	if !strings.Contains(out, "check: --device cuda: libcuda.so.1 not found") {
		// a venv on PATH counts only with a python in it
		t.Errorf("a folder without python counted as a Python environment:\n%s", out)
	}
	os.Symlink("/bin/sh", filepath.Join(venv, "bin", "python3"))
	out = run("check", "PATH="+filepath.Join(venv, "bin")+":/usr/bin:/bin")
	if !strings.Contains(out, "check: ok\n") || !strings.Contains(out, "provider: appended\n") {
		t.Errorf("with the environment's python on PATH, the CUDA provider did not load:\n%s", out)
	}

	out = run("nocheck", "VIRTUAL_ENV="+venv)
	if !strings.Contains(out, "provider: ") || !strings.Contains(out, "libcublasLt.so.13: cannot open shared object file") {
		t.Errorf("without the check's loading, the provider should not find its libraries:\n%s", out)
	}
}

func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	before, _, _ := strings.Cut(after, end)
	return before
}

// TestDeviceHelperProcess is the child of TestCheckDeviceOnTheRealProvider.
func TestDeviceHelperProcess(t *testing.T) {
	mode := os.Getenv("FZ_DEVICE_HELPER")
	if mode == "" {
		t.Skip("helper process")
	}
	if err := InitRuntimeFor("", DeviceCUDA); err != nil {
		fmt.Println("init:", err)
		return
	}
	_, path, _ := RuntimeInfo()
	fmt.Printf("runtime %s %s\n", path, ort.GetVersion())
	if mode == "check" {
		if err := CheckDevice(DeviceCUDA); err != nil {
			fmt.Printf("check: %v\n", err)
			return
		}
		fmt.Println("check: ok")
		// What the provider does at run time for cuDNN: dlopen by soname.
		fmt.Printf("dlopen libcudnn.so.9: %v\n", canDlopen("libcudnn.so.9"))
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		fmt.Println("options:", err)
		return
	}
	defer opts.Destroy()
	if err := appendCUDA(opts, 0); err != nil {
		fmt.Printf("provider: %v\n", err)
		return
	}
	fmt.Println("provider: appended")
}
