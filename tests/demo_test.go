package tests

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/featurizer/featurizer/download"
	"github.com/featurizer/featurizer/table"
)

// makeDemo runs the README's `make demo` in the repository as a clone
// without ../shared sees it (SHARED names a folder that does not exist),
// with the binary the tests built (GO=true: no second build) and env added
// to its environment. Its output goes to out.
func makeDemo(t *testing.T, env map[string]string, out string) result {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "-C", "..", "--no-print-directory", "demo",
		"SHARED="+filepath.Join(t.TempDir(), "no-shared"), "BIN="+binary, "GO=true", "DEMO_OUT="+out)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" {
			cmd.Env = append(cmd.Env, kv) // not a make of its own: `make test` runs this
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return runCmd(t, cmd)
}

// From a clone without ../shared, make demo downloads MobileNetV2's weights
// and the ImageNet class list into an empty models folder (here from a
// local server standing in for their pinned URLs, FEATURIZER_MIRROR,
// serving the files of ../shared/models: the real ones, so the pinned
// SHA-256 checks pass) and predicts the ImageNet classes of the sample
// photos in samples/.
func TestDemoWithoutShared(t *testing.T) {
	sh := shared(t) // only to serve the real weights from
	var mu sync.Mutex
	served := map[string]int{}
	files := http.FileServer(http.Dir(filepath.Join(sh, "models")))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served[r.URL.Path]++
		mu.Unlock()
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()
	models, out := t.TempDir(), t.TempDir()
	r := makeDemo(t, map[string]string{"FEATURIZER_MODELS": models, "FEATURIZER_MIRROR": srv.URL}, out)
	if r.code != exitOK {
		t.Fatalf("make demo: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, name := range []string{"mobilenetv2-12-int8.onnx", "imagenet-classes.txt"} {
		if served["/"+name] != 1 {
			t.Errorf("%s downloaded %d times, want once (served: %v)", name, served["/"+name], served)
		}
		got, err := download.HashFile(filepath.Join(models, name))
		want, _ := download.HashFile(filepath.Join(sh, "models", name))
		if err != nil || got != want {
			t.Errorf("%s in the models folder: SHA-256 %s, %v; want %s", name, got, err, want)
		}
	}
	rows, err := table.ReadAll[table.PredictionRow](filepath.Join(out, "predictions"))
	if err != nil {
		t.Fatal(err)
	}
	top := map[string]string{}
	for _, row := range rows {
		if len(row.TopK) != 5 {
			t.Errorf("%s: top-%d, want top-5", row.Path, len(row.TopK))
		}
		top[filepath.Base(row.Path)] = row.Prediction
	}
	var names []string
	for n := range top {
		names = append(names, n)
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "astronaut.jpg camera.jpg chelsea.jpg coffee.jpg rocket.jpg" {
		t.Errorf("predicted %v, want the five samples", names)
	}
	if top["chelsea.jpg"] != "Egyptian cat" || top["coffee.jpg"] != "espresso" {
		t.Errorf("the cat is a %q, the coffee %q; want Egyptian cat and espresso", top["chelsea.jpg"], top["coffee.jpg"])
	}
	if !strings.Contains(r.stdout, "Egyptian cat") || !strings.Contains(r.stdout, "clothing job (featurize, train, evaluate) needs the photos in") {
		t.Errorf("make demo shows no predictions, or not why the clothing job was skipped:\n%s", r.stdout)
	}
}

// Offline (no server answers), make demo stops with one line that names
// both files, their pinned URLs and SHA-256s and the folder to put them in,
// and leaves that folder empty.
func TestDemoOffline(t *testing.T) {
	needRuntime(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mirror := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	models, out := t.TempDir(), t.TempDir()
	r := makeDemo(t, map[string]string{"FEATURIZER_MODELS": models, "FEATURIZER_MIRROR": mirror}, out)
	if r.code == exitOK {
		t.Fatalf("make demo succeeded offline\n%s%s", r.stdout, r.stderr)
	}
	var lines []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(l, "featurizer: ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("want one error line, got %d:\n%s", len(lines), r.stderr)
	}
	for _, part := range []string{
		"offline",
		"mobilenetv2-12-int8.onnx from https://github.com/onnx/models/raw/main/validated/vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx (SHA-256 cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f)",
		"imagenet-classes.txt from https://raw.githubusercontent.com/pytorch/hub/master/imagenet_classes.txt (SHA-256 e697a491aa735cc6c2aaf982f8e86e8fc7b0a1ea7750a2cc6a2bdfc1e109012f)",
		"into " + models + " yourself",
	} {
		if !strings.Contains(lines[0], part) {
			t.Errorf("the line does not say %q:\n%s", part, lines[0])
		}
	}
	if ents, _ := os.ReadDir(models); len(ents) != 0 {
		t.Errorf("the models folder holds %v", ents)
	}
}
