package backbones

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// fakeRegistry serves npm packages (the packument and the tarball, as the
// npm registry lays them out) from memory, counting the requests; a package
// marked truncated sends half its tarball and hangs up.
type fakeRegistry struct {
	srv       *httptest.Server
	mu        sync.Mutex
	pkgs      map[string][]byte // name@version -> tarball
	truncated map[string]bool
	requests  int
}

func newFakeRegistry(t *testing.T) *fakeRegistry {
	r := &fakeRegistry{pkgs: map[string][]byte{}, truncated: map[string]bool{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *fakeRegistry) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	path := strings.TrimPrefix(req.URL.Path, "/")
	for spec, tgz := range r.pkgs {
		name, version, _ := strings.Cut(spec, "@")
		file := name + "-" + version + ".tgz"
		switch path {
		case name:
			sum := sha512.Sum512(tgz)
			json.NewEncoder(w).Encode(map[string]any{
				"name":      name,
				"dist-tags": map[string]string{"latest": version},
				"versions": map[string]any{version: map[string]any{
					"name": name, "version": version,
					"dist": map[string]string{
						"tarball":   r.srv.URL + "/" + name + "/-/" + file,
						"integrity": "sha512-" + base64.StdEncoding.EncodeToString(sum[:]),
					},
				}},
			})
			return
		case name + "/-/" + file:
			w.Header().Set("Content-Length", fmt.Sprint(len(tgz)))
			if r.truncated[spec] {
				w.Write(tgz[:len(tgz)/2])
				if hj, ok := w.(http.Hijacker); ok {
					if c, _, err := hj.Hijack(); err == nil {
						c.Close()
					}
				}
				return
			}
			w.Write(tgz)
			return
		}
	}
	http.NotFound(w, req)
}

// tgz builds a package tarball holding the given files.
func tgz(t *testing.T, files map[string]string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// setupGPUPins is the repository's pins file with the HOST_GPU_* values
// replaced.
func setupGPUPins(t *testing.T, set map[string]string) string {
	data, err := os.ReadFile("../scripts/ort-runtime.pins")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for k, v := range set {
		re := regexp.MustCompile(`(?m)^` + k + `=.*$`)
		if !re.MatchString(s) {
			t.Fatalf("the pins file has no %s", k)
		}
		s = re.ReplaceAllString(s, k+"="+v)
	}
	p := filepath.Join(t.TempDir(), "ort-runtime.pins")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// make setup-gpu's download code, against a local registry serving crafted
// packages: it installs what matches the pins, keeps a verified copy
// without downloading again, and refuses, in one line and leaving nothing
// behind (nor touching an earlier install), a package or a library whose
// SHA-256 differs from its pin, a download cut short and a package that
// lacks a file.
func TestSetupGPUScript(t *testing.T) {
	if _, err := exec.LookPath("npm"); err != nil {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("neither npm nor curl is installed")
		}
	}
	const core, prov = "onnxruntime-node@1.29.0", "com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9"
	libs := map[string]string{
		"package/bin/napi-v6/linux/x64/libonnxruntime.so.1":                   "core stand-in\n",
		"package/Plugins/Linux/x64/libonnxruntime_providers_shared.so":        "shared stand-in\n",
		"package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so":          "cuda stand-in\n",
		"package/Plugins/Linux/x64/libonnxruntime_providers_tensorrt.so":      "tensorrt stand-in\n",
		"package/Plugins/Linux/x64/libonnxruntime_providers_tensorrt.so.meta": "unity\n",
		"package/bin/napi-v6/linux/x64/onnxruntime_binding.node":              "node\n",
		"package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so.meta":     "unity\n",
		"package/Plugins/Linux/x64/libonnxruntime_providers_shared.so.meta":   "unity\n",
	}
	pick := func(prefix string, skip string) map[string]string {
		m := map[string]string{}
		for k, v := range libs {
			if strings.HasPrefix(k, prefix) && k != skip {
				m[k] = v
			}
		}
		return m
	}
	coreTgz := tgz(t, pick("package/bin/", ""))
	provTgz := tgz(t, pick("package/Plugins/", ""))
	good := map[string]string{
		"HOST_GPU_CORE_SHA256":               sha256Hex(coreTgz),
		"HOST_GPU_PROVIDERS_SHA256":          sha256Hex(provTgz),
		"HOST_GPU_CORE_LIB_SHA256":           sha256Hex([]byte("core stand-in\n")),
		"HOST_GPU_PROVIDERS_SHARED_SHA256":   sha256Hex([]byte("shared stand-in\n")),
		"HOST_GPU_PROVIDERS_CUDA_SHA256":     sha256Hex([]byte("cuda stand-in\n")),
		"HOST_GPU_PROVIDERS_TENSORRT_SHA256": sha256Hex([]byte("tensorrt stand-in\n")),
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		m[k] = v
		return m
	}

	reg := newFakeRegistry(t)
	reg.pkgs[core], reg.pkgs[prov] = coreTgz, provTgz
	home := t.TempDir()
	type result struct {
		code           int
		stdout, stderr string
	}
	run := func(cache, pins string, env ...string) result {
		t.Helper()
		cmd := exec.Command("../scripts/setup-ort-gpu.sh", "--pins", pins, "--registry", reg.srv.URL)
		cmd.Env = append(os.Environ(), "FEATURIZER_CACHE="+cache, "HOME="+home, "npm_config_fetch_retries=0",
			"npm_config_update_notifier=false", "npm_config_audit=false", "npm_config_fund=false")
		cmd.Env = append(cmd.Env, env...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return result{code, out.String(), errb.String()}
	}
	// refused: exit 1, one line on stderr saying want, nothing installed
	// and no temporary folder left; an earlier install (old) untouched.
	refused := func(name string, r result, cache, want string, old bool) {
		t.Helper()
		t.Logf("%s: %s", name, r.stderr)
		lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
		if r.code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "setup-ort-gpu: ") || !strings.Contains(lines[0], want) ||
			!strings.HasSuffix(lines[0], "nothing installed") {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and one line with %q", name, r.code, r.stderr, want)
		}
		entries, _ := os.ReadDir(filepath.Join(cache, "onnxruntime"))
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp.") {
				t.Errorf("%s: left %s behind", name, e.Name())
			}
		}
		dest := filepath.Join(cache, "onnxruntime", ORTGPUDir)
		if old {
			if b, err := os.ReadFile(filepath.Join(dest, "old-install")); err != nil || string(b) != "old\n" {
				t.Errorf("%s: the earlier install was touched", name)
			}
		} else if _, err := os.Stat(dest); err == nil {
			t.Errorf("%s: %s exists after a refusal", name, dest)
		}
	}

	// Installs, then keeps the verified copy without a request.
	cache := t.TempDir()
	dest := filepath.Join(cache, "onnxruntime", ORTGPUDir)
	os.MkdirAll(dest, 0o755)
	os.WriteFile(filepath.Join(dest, "old-install"), []byte("old\n"), 0o644)
	goodPins := setupGPUPins(t, good)
	r := run(cache, goodPins)
	if r.code != 0 || !strings.Contains(r.stdout, "installed, SHA-256 verified") {
		t.Fatalf("install: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for name, body := range map[string]string{ORTLibName: "core stand-in\n", providersShared: "shared stand-in\n",
		providersCUDA: "cuda stand-in\n", providersTensorRT: "tensorrt stand-in\n"} {
		if b, err := os.ReadFile(filepath.Join(dest, name)); err != nil || string(b) != body {
			t.Errorf("installed %s: %q, %v", name, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dest, "old-install")); err == nil {
		t.Error("the unverified earlier folder was merged into, not replaced")
	}
	sums := exec.Command("sha256sum", "-c", "--status", "SHA256SUMS")
	sums.Dir = dest
	if out, err := sums.CombinedOutput(); err != nil {
		t.Errorf("SHA256SUMS: %v %s", err, out)
	}
	reg.requests = 0
	if r := run(cache, goodPins); r.code != 0 || !strings.Contains(r.stdout, "(verified)") || reg.requests != 0 {
		t.Errorf("rerun: exit %d, %d requests\n%s%s", r.code, reg.requests, r.stdout, r.stderr)
	}

	// Refusals, each on a fresh cache holding an earlier install or none.
	earlier := func() string {
		c := t.TempDir()
		d := filepath.Join(c, "onnxruntime", ORTGPUDir)
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "old-install"), []byte("old\n"), 0o644)
		return c
	}
	c := t.TempDir()
	refused("wrong tarball", run(c, setupGPUPins(t, with("HOST_GPU_CORE_SHA256", strings.Repeat("ab", 32)))), c,
		"onnxruntime-node-1.29.0.tgz: SHA-256 is "+good["HOST_GPU_CORE_SHA256"]+", pinned "+strings.Repeat("ab", 32), false)
	c = earlier()
	refused("wrong library", run(c, setupGPUPins(t, with("HOST_GPU_PROVIDERS_CUDA_SHA256", strings.Repeat("cd", 32)))), c,
		"libonnxruntime_providers_cuda.so (from "+prov+"): SHA-256 is "+good["HOST_GPU_PROVIDERS_CUDA_SHA256"]+", pinned "+strings.Repeat("cd", 32), true)

	reg.truncated[prov] = true
	c = earlier()
	refused("truncated download", run(c, goodPins), c, "download of "+prov+" failed", true)
	reg.truncated[prov] = false

	reg.pkgs[prov] = tgz(t, pick("package/Plugins/", "package/Plugins/Linux/x64/libonnxruntime_providers_tensorrt.so"))
	c = t.TempDir()
	refused("missing file", run(c, setupGPUPins(t, with("HOST_GPU_PROVIDERS_SHA256", sha256Hex(reg.pkgs[prov])))), c,
		"package/Plugins/Linux/x64/libonnxruntime_providers_tensorrt.so is not in the package", false)
	reg.pkgs[prov] = provTgz

	// The curl path (no npm) installs the same way and is refused the same way.
	if _, err := exec.LookPath("curl"); err == nil {
		c = t.TempDir()
		if r := run(c, goodPins, "FEATURIZER_FETCH=curl"); r.code != 0 || !strings.Contains(r.stdout, "installed, SHA-256 verified") {
			t.Errorf("curl install: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		reg.truncated[prov] = true
		c = t.TempDir()
		refused("curl, truncated download", run(c, goodPins, "FEATURIZER_FETCH=curl"), c, "download of "+prov+" failed (curl)", false)
		reg.truncated[prov] = false
	}
}
