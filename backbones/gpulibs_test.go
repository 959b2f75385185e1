package backbones

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// buildSO compiles a tiny ELF shared object at path with the given soname,
// linked against the files in deps (each becomes a DT_NEEDED entry of its
// soname), with an optional RUNPATH, and defining the given C source.
func buildSO(t *testing.T, path, soname, runpath, src string, deps ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	if src == "" {
		src = "int fz_" + strings.NewReplacer(".", "_", "-", "_", "+", "_").Replace(soname) + ";\n"
	}
	args := []string{"-shared", "-fPIC", "-nostdlib", "-o", path, "-Wl,-soname," + soname, "-Wl,--no-as-needed"}
	if runpath != "" {
		args = append(args, "-Wl,--enable-new-dtags,-rpath,"+runpath)
	}
	args = append(args, "-x", "c", "-", "-x", "none")
	args = append(args, deps...)
	cmd := exec.Command(cc, args...)
	cmd.Stdin = strings.NewReader(src)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", cc, args, err, out)
	}
}

// fakeNVIDIA lays out what the CUDA provider needs, with the names of the
// real libraries: a provider needing cuBLAS, the CUDA runtime and the
// driver (last, as in the real file), cuBLAS needing cuBLASLt, and a
// Python environment holding CUDA 13 (nvidia/cu13/lib) and cuDNN 9
// (nvidia/cudnn/lib) as PyTorch's wheels do. The driver is built aside,
// where nothing looks, unless withDriver names a folder for it.
func fakeNVIDIA(t *testing.T, root, withDriver string) (provider, site string) {
	site = filepath.Join(root, "venv", "lib", "python3.12", "site-packages")
	cu13 := filepath.Join(site, "nvidia", "cu13", "lib")
	cudnn := filepath.Join(site, "nvidia", "cudnn", "lib")
	aside := filepath.Join(root, "aside")
	driverDir := aside
	if withDriver != "" {
		driverDir = withDriver
	}
	buildSO(t, filepath.Join(driverDir, "libcuda.so.1"), "libcuda.so.1", "", "")
	buildSO(t, filepath.Join(cu13, "libcublasLt.so.13"), "libcublasLt.so.13", "", "")
	buildSO(t, filepath.Join(cu13, "libcublas.so.13"), "libcublas.so.13", "$ORIGIN", "", filepath.Join(cu13, "libcublasLt.so.13"))
	buildSO(t, filepath.Join(cu13, "libcudart.so.13"), "libcudart.so.13", "", "")
	buildSO(t, filepath.Join(cudnn, "libcudnn_graph.so.9"), "libcudnn_graph.so.9", "", "")
	buildSO(t, filepath.Join(cudnn, "libcudnn.so.9"), "libcudnn.so.9", "", "")
	// A cuDNN part whose own need is nowhere: left out, not an error.
	buildSO(t, filepath.Join(aside, "libnvrtc.so.13"), "libnvrtc.so.13", "", "")
	buildSO(t, filepath.Join(cudnn, "libcudnn_engines_runtime_compiled.so.9"), "libcudnn_engines_runtime_compiled.so.9", "", "", filepath.Join(aside, "libnvrtc.so.13"))
	provider = filepath.Join(root, "ort", providersCUDA)
	buildSO(t, provider, providersCUDA, "", "",
		filepath.Join(cu13, "libcublas.so.13"), filepath.Join(cu13, "libcudart.so.13"), filepath.Join(driverDir, "libcuda.so.1"))
	return provider, site
}

func noSystem(string) bool { return false }

// The needs come from the ELF files: the provider's DT_NEEDED entries, and
// recursively those of what it needs (cuBLAS needs cuBLASLt), loaded in
// dependency order; the driver is reported first although it is the
// provider's last entry; cuDNN (loaded at run time) is part of the check.
func TestPlanReadsNeededLibrariesFromELF(t *testing.T) {
	root := t.TempDir()
	provider, site := fakeNVIDIA(t, root, "")
	cu13 := filepath.Join(site, "nvidia", "cu13", "lib")
	cudnn := filepath.Join(site, "nvidia", "cudnn", "lib")
	dirs := []string{cu13, cudnn}

	r := &libResolver{runtimeDir: filepath.Dir(provider), system: noSystem, dirs: dirs}
	plan := r.plan([]string{provider})
	want := []missingLib{{"libcuda.so.1", providersCUDA}}
	if !reflect.DeepEqual(plan.missing, want) {
		t.Fatalf("missing %v, want %v", plan.missing, want)
	}
	if plan.cudaMajor != "13" {
		t.Errorf("CUDA major %q, want 13 (from libcudart.so.13)", plan.cudaMajor)
	}

	// Nothing in the Python environment: every NVIDIA library is missing,
	// the driver first, then the provider's entries in order, then cuDNN.
	plan = (&libResolver{runtimeDir: filepath.Dir(provider), system: noSystem}).plan([]string{provider})
	var names []string
	for _, m := range plan.missing {
		names = append(names, m.soname)
	}
	if got := strings.Join(names, " "); got != "libcuda.so.1 libcublas.so.13 libcudart.so.13 libcudnn.so.9" {
		t.Errorf("missing %q", got)
	}
	if len(plan.load) != 0 {
		t.Errorf("loads %v with everything missing", plan.load)
	}

	// The driver where the system loader finds it: the plan is complete,
	// in dependency order, cuDNN's parts that can load included.
	system := func(so string) bool { return so == "libcuda.so.1" }
	plan = (&libResolver{runtimeDir: filepath.Dir(provider), system: system, dirs: dirs}).plan([]string{provider})
	if len(plan.missing) != 0 {
		t.Fatalf("missing %v", plan.missing)
	}
	wantLoad := []string{
		filepath.Join(cu13, "libcublasLt.so.13"), filepath.Join(cu13, "libcublas.so.13"), filepath.Join(cu13, "libcudart.so.13"),
		filepath.Join(cudnn, "libcudnn.so.9"),
	}
	if !reflect.DeepEqual(plan.load, wantLoad) {
		t.Errorf("load order\n%v\nwant\n%v", plan.load, wantLoad)
	}
	if want := []string{filepath.Join(cudnn, "libcudnn_graph.so.9")}; !reflect.DeepEqual(plan.optional, want) {
		t.Errorf("cuDNN parts %v, want %v (the part needing libnvrtc.so.13 left out)", plan.optional, want)
	}
}

// A library the system loader finds is left to it; a file that is not an
// ELF shared object (or is built for another machine) does not count as
// found; the needing file's RUNPATH ($ORIGIN) is searched first.
func TestPlanSystemRunpathAndImpostors(t *testing.T) {
	root := t.TempDir()
	provider, site := fakeNVIDIA(t, root, "")
	cu13 := filepath.Join(site, "nvidia", "cu13", "lib")
	cudnn := filepath.Join(site, "nvidia", "cudnn", "lib")

	all := func(string) bool { return true }
	plan := (&libResolver{runtimeDir: filepath.Dir(provider), system: all, dirs: []string{cu13, cudnn}}).plan([]string{provider})
	if len(plan.missing) != 0 || len(plan.load) != 0 {
		t.Errorf("with every library on the system: load %v, missing %v", plan.load, plan.missing)
	}

	// Impostors named like the libraries: a text file, and an ELF object
	// file that is no shared object.
	bad := filepath.Join(root, "bad")
	os.MkdirAll(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "libcudart.so.13"), []byte("not ELF\n"), 0o644)
	obj := filepath.Join(bad, "libcublas.so.13")
	cmd := exec.Command("gcc", "-c", "-o", obj, "-x", "c", "-")
	cmd.Stdin = strings.NewReader("int x;\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc -c: %v %s", err, out)
	}
	system := func(so string) bool { return so == "libcuda.so.1" }
	plan = (&libResolver{runtimeDir: filepath.Dir(provider), system: system, dirs: []string{bad}}).plan([]string{provider})
	var names []string
	for _, m := range plan.missing {
		names = append(names, m.soname)
	}
	if got := strings.Join(names, " "); got != "libcublas.so.13 libcudart.so.13 libcudnn.so.9" {
		t.Errorf("impostors taken: missing %q, load %v", got, plan.load)
	}

	// A library's RUNPATH ($ORIGIN/...) is searched before anything else
	// for what it needs, as the loader does.
	lt := filepath.Join(root, "rp", "b", "libcublasLt.so.13")
	buildSO(t, lt, "libcublasLt.so.13", "", "")
	buildSO(t, filepath.Join(root, "rp", "a", "libcublas.so.13"), "libcublas.so.13", "$ORIGIN/../b", "", lt)
	plan = (&libResolver{runtimeDir: filepath.Dir(provider), system: system, dirs: []string{filepath.Join(root, "rp", "a"), cu13, cudnn}}).plan([]string{provider})
	if len(plan.missing) != 0 || len(plan.load) < 2 || plan.load[0] != lt || plan.load[1] != filepath.Join(root, "rp", "a", "libcublas.so.13") {
		t.Errorf("RUNPATH: load %v, missing %v", plan.load, plan.missing)
	}
}

// The NVIDIA folders of every Python environment are found without
// running python: $VIRTUAL_ENV, a python on PATH (its prefix and that of
// the interpreter it links to), pyenv's shims, $CONDA_PREFIX, the user
// site; nvidia/*/lib (cu13 among them) and tensorrt_libs, each once.
func TestPythonNVIDIADirs(t *testing.T) {
	root := t.TempDir()
	mk := func(p string) string {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	exe := func(p string) {
		mk(filepath.Dir(p))
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A base interpreter and a venv whose python links to it.
	base := filepath.Join(root, "base")
	exe(filepath.Join(base, "bin", "python3.12"))
	baseCudnn := mk(filepath.Join(base, "lib", "python3.12", "site-packages", "nvidia", "cudnn", "lib"))
	venv := filepath.Join(root, "venv")
	mk(filepath.Join(venv, "bin"))
	os.Symlink(filepath.Join(base, "bin", "python3.12"), filepath.Join(venv, "bin", "python3"))
	venvCu13 := mk(filepath.Join(venv, "lib", "python3.12", "site-packages", "nvidia", "cu13", "lib"))
	venvTRT := mk(filepath.Join(venv, "lib", "python3.12", "site-packages", "tensorrt_libs"))
	mk(filepath.Join(venv, "lib", "python3.12", "site-packages", "nvidia", "cu13", "include")) // not a lib folder
	// $VIRTUAL_ENV, not on PATH.
	active := filepath.Join(root, "active")
	activeCublas := mk(filepath.Join(active, "lib", "python3.11", "site-packages", "nvidia", "cublas", "lib"))
	// pyenv: shims on PATH, interpreters under versions/.
	pyenv := filepath.Join(root, "pyenv")
	exe(filepath.Join(pyenv, "shims", "python3"))
	pyenvCu13 := mk(filepath.Join(pyenv, "versions", "3.13.1", "lib", "python3.13", "site-packages", "nvidia", "cu13", "lib"))
	// conda, the user site, and a folder on PATH without python.
	conda := filepath.Join(root, "conda")
	condaCudnn := mk(filepath.Join(conda, "lib", "python3.10", "site-packages", "nvidia", "cudnn", "lib"))
	home := filepath.Join(root, "home")
	userCurand := mk(filepath.Join(home, ".local", "lib", "python3.12", "site-packages", "nvidia", "curand", "lib"))
	nopy := filepath.Join(root, "nopy")
	mk(filepath.Join(nopy, "bin"))
	mk(filepath.Join(nopy, "lib", "python3.12", "site-packages", "nvidia", "cu13", "lib"))

	path := strings.Join([]string{filepath.Join(nopy, "bin"), filepath.Join(venv, "bin"), filepath.Join(pyenv, "shims"), "relative/bin", filepath.Join(venv, "bin")}, ":")
	got := pythonNVIDIADirs(pyEnv{path: path, virtualEnv: active, condaPrefix: conda, home: home})
	want := []string{activeCublas, condaCudnn, venvCu13, venvTRT, baseCudnn, pyenvCu13, userCurand}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := pythonNVIDIADirs(pyEnv{path: filepath.Join(nopy, "bin")}); len(got) != 0 {
		t.Errorf("no python anywhere: %v", got)
	}
}

// The refusal is one line: the first missing piece, how to get it (for the
// CUDA version the provider was built for), and the rest.
func TestMissingLibsMessage(t *testing.T) {
	plan := libPlan{cudaMajor: "13", missing: []missingLib{{"libcuda.so.1", providersCUDA}, {"libcublasLt.so.13", providersCUDA}, {"libcudnn.so.9", providersCUDA}}}
	msg := missingLibsError(DeviceCUDA, plan, 0).Error()
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "--device cuda: libcuda.so.1 not found (needed by libonnxruntime_providers_cuda.so): it is the NVIDIA driver's library") ||
		!strings.Contains(msg, "; also missing: libcublasLt.so.13, libcudnn.so.9 (") {
		t.Errorf("%q", msg)
	}
	for so, want := range map[string]string{
		"libcublasLt.so.13": "part of CUDA 13: pip install nvidia-cublas nvidia-cuda-runtime nvidia-curand",
		"libcudnn.so.9":     "cuDNN 9 for CUDA 13: pip install nvidia-cudnn-cu13",
		"libnvinfer.so.10":  "TensorRT 10 for CUDA 13: pip install 'tensorrt-cu13-libs==10.*'",
	} {
		if got := libHint(so, "13"); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q", so, got)
		}
	}
	if got := libHint("libcublas.so.12", "12"); !strings.HasPrefix(got, "part of CUDA 12: pip install nvidia-cublas-cu12 nvidia-cuda-runtime-cu12") {
		t.Errorf("CUDA 12: %q", got)
	}
}
