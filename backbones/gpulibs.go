package backbones

import (
	"debug/elf"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// What a GPU provider needs, read from the files themselves: the DT_NEEDED
// entries of the provider library (debug/elf), and recursively of each
// NVIDIA library found as a file, plus cuDNN, which the CUDA provider loads
// at run time (dlopen "libcudnn.so.9", not in DT_NEEDED). A library is
// found the way the loader finds it (the needing file's RUNPATH, the
// runtime's own folder, the system loader) or else in the NVIDIA folders
// of the Python environments on the machine (PyTorch's pip wheels put
// CUDA and cuDNN in site-packages/nvidia/*/lib), so that a GPU box with
// PyTorch needs no LD_LIBRARY_PATH.

// runtimeLoaded are the libraries a provider loads at run time by soname
// rather than through DT_NEEDED.
var runtimeLoaded = []string{"libcudnn.so.9"}

// baseLibs come with the C and C++ toolchain of every Linux system: never
// searched for.
var baseLibs = []string{"libc.so.", "libm.so.", "libdl.so.", "librt.so.", "libpthread.so.", "libstdc++.so.", "libgcc_s.so.", "ld-linux"}

func isBaseLib(soname string) bool {
	for _, b := range baseLibs {
		if strings.HasPrefix(soname, b) {
			return true
		}
	}
	return false
}

// libResolver resolves the sonames a provider needs.
type libResolver struct {
	// runtimeDir is the folder of libonnxruntime.so.1 (and its providers).
	runtimeDir string
	// system reports whether the system loader finds a soname by itself
	// (LD_LIBRARY_PATH, ld.so.cache, the default folders).
	system func(soname string) bool
	// dirs are searched last, in order: the Python environments' NVIDIA
	// library folders (pythonNVIDIADirs).
	dirs []string
}

// missingLib is a soname nothing provides, and the file that needs it.
type missingLib struct{ soname, neededBy string }

// libPlan is the outcome: the files to load, each after the files it needs
// (the system's own libraries excluded), and what is missing, the driver
// (libcuda) first because nothing else matters without it.
type libPlan struct {
	load      []string
	optional  []string // cuDNN's parts: loaded after load, where they load
	missing   []missingLib
	cudaMajor string // of the CUDA runtime the providers need (libcudart.so.N), for hints
}

type planState struct {
	r       *libResolver
	machine elf.Machine
	seen    map[string]bool // sonames resolved or reported
	plan    libPlan
}

// plan resolves everything the provider files need (absolute paths).
func (r *libResolver) plan(providers []string) libPlan {
	st := &planState{r: r, seen: map[string]bool{}, machine: elf.EM_X86_64}
	for _, p := range providers {
		if f, err := elf.Open(p); err == nil {
			st.machine = f.Machine
			f.Close()
			break
		}
	}
	for _, p := range providers {
		st.seen[filepath.Base(p)] = true
		st.needs(p)
	}
	last := filepath.Base(providers[len(providers)-1])
	for _, so := range runtimeLoaded {
		if path, ok := st.resolve(so, last, ""); ok && path != "" {
			st.cudnnParts(path)
		}
	}
	sort.SliceStable(st.plan.missing, func(i, j int) bool {
		return isDriver(st.plan.missing[i].soname) && !isDriver(st.plan.missing[j].soname)
	})
	return st.plan
}

func isDriver(soname string) bool { return strings.HasPrefix(soname, "libcuda.so") }

// needs resolves the DT_NEEDED entries of the file at path.
func (st *planState) needs(path string) {
	f, err := elf.Open(path)
	if err != nil {
		return // not ELF: the loader will say so when it loads it
	}
	needed, _ := f.ImportedLibraries()
	runpath := searchPath(f, filepath.Dir(path))
	f.Close()
	for _, so := range needed {
		st.resolve(so, filepath.Base(path), runpath)
	}
}

// resolve finds soname (needed by the file named by, whose own RUNPATH is
// runpath) and, when it is a file outside the system's reach, what it needs,
// before adding it to the load order. It returns the file ("" when the
// system loader has it) and whether it was found.
func (st *planState) resolve(soname, by, runpath string) (string, bool) {
	if isBaseLib(soname) || st.seen[soname] {
		return "", true
	}
	if v, ok := strings.CutPrefix(soname, "libcudart.so."); ok && st.plan.cudaMajor == "" {
		st.plan.cudaMajor = v
	}
	st.seen[soname] = true
	dirs := append(filepath.SplitList(runpath), st.r.runtimeDir)
	if path := st.find(soname, dirs); path != "" {
		st.needs(path)
		st.plan.load = append(st.plan.load, path)
		return path, true
	}
	if st.r.system != nil && st.r.system(soname) {
		return "", true
	}
	if path := st.find(soname, st.r.dirs); path != "" {
		st.needs(path)
		st.plan.load = append(st.plan.load, path)
		return path, true
	}
	st.plan.missing = append(st.plan.missing, missingLib{soname, by})
	return "", false
}

// cudnnParts adds cuDNN 9's sub-libraries (libcudnn_graph.so.9, ..., which
// libcudnn.so.9 loads by soname when it needs them) from its folder, each
// only when everything it needs is there too, as optional loads: a part
// that cannot load is cuDNN's to report if an operator needs it.
func (st *planState) cudnnParts(cudnn string) {
	parts, _ := filepath.Glob(filepath.Join(filepath.Dir(cudnn), "libcudnn_*.so.9"))
	sort.Strings(parts)
	for _, p := range parts {
		so := filepath.Base(p)
		if st.seen[so] || !st.fits(p) {
			continue
		}
		trial := &planState{r: st.r, machine: st.machine, seen: map[string]bool{}}
		for k, v := range st.seen {
			trial.seen[k] = v
		}
		if _, ok := trial.resolve(so, filepath.Base(cudnn), filepath.Dir(cudnn)); ok && len(trial.plan.missing) == 0 {
			st.seen = trial.seen
			st.plan.optional = append(st.plan.optional, trial.plan.load...)
		}
	}
}

// find returns the first file named soname in dirs that the loader would
// take (an ELF shared object for this machine), or "".
func (st *planState) find(soname string, dirs []string) string {
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, soname)
		if st.fits(p) {
			if abs, err := filepath.Abs(p); err == nil {
				return abs
			}
		}
	}
	return ""
}

func (st *planState) fits(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return f.Type == elf.ET_DYN && f.Machine == st.machine
}

// searchPath is the file's DT_RUNPATH (or DT_RPATH) with $ORIGIN expanded.
func searchPath(f *elf.File, origin string) string {
	rp, _ := f.DynString(elf.DT_RUNPATH)
	if len(rp) == 0 {
		rp, _ = f.DynString(elf.DT_RPATH)
	}
	var dirs []string
	for _, s := range rp {
		for _, d := range filepath.SplitList(s) {
			d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", origin), "$ORIGIN", origin)
			dirs = append(dirs, d)
		}
	}
	return strings.Join(dirs, string(filepath.ListSeparator))
}

// pyEnv is what locates the Python environments: PATH, $VIRTUAL_ENV,
// $CONDA_PREFIX and the home folder (pip --user).
type pyEnv struct{ path, virtualEnv, condaPrefix, home string }

func currentPyEnv() pyEnv {
	home, _ := os.UserHomeDir()
	return pyEnv{os.Getenv("PATH"), os.Getenv("VIRTUAL_ENV"), os.Getenv("CONDA_PREFIX"), home}
}

// pythonNVIDIADirs lists the folders where pip puts NVIDIA's libraries
// (site-packages/nvidia/*/lib, CUDA 13's nvidia/cu13/lib among them, and
// TensorRT's tensorrt_libs) in every Python environment: $VIRTUAL_ENV,
// $CONDA_PREFIX, each folder on PATH holding a python (its prefix, and
// the prefix of the interpreter it links to; pyenv's shims: every pyenv
// version), and the user site. Nothing is run: lib/python3*/site-packages
// is looked for next to each python.
func pythonNVIDIADirs(e pyEnv) []string {
	var prefixes []string
	addPrefix := func(p string) {
		if p != "" {
			prefixes = append(prefixes, filepath.Clean(p))
		}
	}
	addPrefix(e.virtualEnv)
	addPrefix(e.condaPrefix)
	for _, dir := range filepath.SplitList(e.path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		pythons, _ := filepath.Glob(filepath.Join(dir, "python3.[0-9]*"))
		for _, n := range []string{"python3", "python"} {
			pythons = append(pythons, filepath.Join(dir, n))
		}
		found := false
		for _, py := range pythons {
			st, err := os.Stat(py)
			if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
				continue
			}
			if !found {
				addPrefix(filepath.Dir(dir))
				found = true
			}
			if real, err := filepath.EvalSymlinks(py); err == nil {
				addPrefix(filepath.Dir(filepath.Dir(real)))
			}
		}
		if found && filepath.Base(dir) == "shims" {
			versions, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), "versions", "*"))
			for _, v := range versions {
				addPrefix(v)
			}
		}
		if found && (filepath.Dir(dir) == "/usr") {
			addPrefix("/usr/local") // Debian's pip installs into /usr/local/lib/python3*/dist-packages
		}
	}
	if e.home != "" {
		addPrefix(filepath.Join(e.home, ".local"))
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range prefixes {
		var sites []string
		for _, pat := range []string{"lib/python3*/site-packages", "lib/python3*/dist-packages", "lib64/python3*/site-packages"} {
			m, _ := filepath.Glob(filepath.Join(p, pat))
			sites = append(sites, m...)
		}
		for _, sp := range sites {
			libs, _ := filepath.Glob(filepath.Join(sp, "nvidia", "*", "lib"))
			sort.Strings(libs)
			libs = append(libs, filepath.Join(sp, "tensorrt_libs"))
			for _, l := range libs {
				real, err := filepath.EvalSymlinks(l)
				if err != nil || seen[real] {
					continue
				}
				if st, err := os.Stat(real); err == nil && st.IsDir() {
					seen[real] = true
					out = append(out, l)
				}
			}
		}
	}
	return out
}
