package backbones

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/backbones/onnxgraph"
	"github.com/featurizer/featurizer/download"
	"github.com/featurizer/featurizer/internal/testmodels"
)

// writeExternal writes model into dir/name with its tensors moved into an
// external data file, as torch.onnx.export does, and returns the model path.
func writeExternal(t *testing.T, dir, name string, model []byte, o onnxgraph.ExternalizeOptions) string {
	t.Helper()
	ext, data, err := onnxgraph.Externalize(model, o)
	if err != nil {
		t.Fatal(err)
	}
	if data == nil {
		t.Fatal("no tensor was moved out")
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, ext, 0o644); err != nil {
		t.Fatal(err)
	}
	dp := filepath.Join(dir, filepath.FromSlash(o.Location))
	if err := os.MkdirAll(filepath.Dir(dp), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runBoth featurizes the same images with two engines and wants identical
// features and logits, bit for bit.
func runBoth(t *testing.T, a, b *Engine) {
	t.Helper()
	if a.FeatureDim() != b.FeatureDim() || a.NumClasses() != b.NumClasses() || a.Tap() != b.Tap() {
		t.Fatalf("dim %d/%d classes %d/%d tap %+v/%+v", a.FeatureDim(), b.FeatureDim(), a.NumClasses(), b.NumClasses(), a.Tap(), b.Tap())
	}
	const n = 4
	in := randomImages(n, a.SampleSize(), 11)
	fa, fb := make([]float32, n*a.FeatureDim()), make([]float32, n*b.FeatureDim())
	la, lb := make([]float32, n*a.NumClasses()), make([]float32, n*b.NumClasses())
	if err := a.Run(in, n, fa, la); err != nil {
		t.Fatal(err)
	}
	if err := b.Run(in, n, fb, lb); err != nil {
		t.Fatal(err)
	}
	for i := range fa {
		if fa[i] != fb[i] {
			t.Fatalf("feature %d: %v vs %v", i, fa[i], fb[i])
		}
	}
	for i := range la {
		if la[i] != lb[i] {
			t.Fatalf("logit %d: %v vs %v", i, la[i], lb[i])
		}
	}
}

// A model whose weights sit in an external data file gives exactly the
// features of the same model in one file.
func TestExternalDataEngine(t *testing.T) {
	needRuntime(t)
	cases := []struct {
		name string
		o    testmodels.Options
		ext  onnxgraph.ExternalizeOptions
	}{
		{"torch-style", testmodels.Options{Seed: 5}, onnxgraph.ExternalizeOptions{Location: "model.onnx.data"}},
		{"aligned-subdir-nhwc-opset18", testmodels.Options{Layout: "NHWC", Pool: "reducemean", Opset: 18, Seed: 6},
			onnxgraph.ExternalizeOptions{Location: "weights/model.bin", Align: 4096, MinBytes: 100}},
		{"no-length", testmodels.Options{Seed: 7}, onnxgraph.ExternalizeOptions{Location: "model.onnx.data", NoLength: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			single := testmodels.Build(c.o)
			path := writeExternal(t, t.TempDir(), "model.onnx", single, c.ext)
			spec := tinySpec(c.o)
			want, err := NewEngineFromBytes(single, spec, EngineOptions{Logits: true, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			got, err := NewEngine(&Backbone{Spec: *spec, WeightsPath: path}, EngineOptions{Logits: true, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			runBoth(t, got, want)
			inlined, err := ReadModel(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(inlined) != len(single) {
				t.Errorf("inlined model is %d bytes, the one-file model %d", len(inlined), len(single))
			}
		})
	}
}

func TestExternalDataErrors(t *testing.T) {
	needRuntime(t)
	o := testmodels.Options{}
	single := testmodels.Build(o)
	spec := tinySpec(o)
	load := func(path string) error {
		e, err := NewEngine(&Backbone{Spec: *spec, WeightsPath: path}, EngineOptions{Threads: 1})
		if err == nil {
			e.Close()
		}
		return err
	}
	torch := onnxgraph.ExternalizeOptions{Location: "model.onnx.data"}
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string) string
		want  []string
	}{
		{"missing data file", func(t *testing.T, dir string) string {
			p := writeExternal(t, dir, "model.onnx", single, torch)
			os.Remove(p + ".data")
			return p
		}, []string{`tensor "conv1.w"`, "external data file " + "DIR/model.onnx.data is missing"}},
		{"short data file", func(t *testing.T, dir string) string {
			p := writeExternal(t, dir, "model.onnx", single, torch)
			st, _ := os.Stat(p + ".data")
			os.Truncate(p+".data", st.Size()-10)
			return p
		}, []string{`tensor "fc.b"`, "beyond the end of DIR/model.onnx.data", "truncated"}},
		{"short data file without lengths", func(t *testing.T, dir string) string {
			p := writeExternal(t, dir, "model.onnx", single, onnxgraph.ExternalizeOptions{Location: "model.onnx.data", NoLength: true})
			st, _ := os.Stat(p + ".data")
			os.Truncate(p+".data", st.Size()-10)
			return p
		}, []string{`tensor "fc.b"`, "needs"}},
		{"parent directory", func(t *testing.T, dir string) string {
			sub := filepath.Join(dir, "models")
			os.Mkdir(sub, 0o755)
			p := writeExternal(t, sub, "model.onnx", single, onnxgraph.ExternalizeOptions{Location: "../model.onnx.data"})
			return p
		}, []string{`tensor "conv1.w"`, `location "../model.onnx.data" leaves the model's directory`}},
		{"absolute path", func(t *testing.T, dir string) string {
			abs := filepath.Join(dir, "elsewhere.data")
			p := writeExternal(t, dir, "model.onnx", single, onnxgraph.ExternalizeOptions{Location: abs})
			return p
		}, []string{`tensor "conv1.w"`, "is an absolute path"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := c.setup(t, dir)
			err := load(p)
			if err == nil {
				t.Fatal("loaded")
			}
			t.Log(err)
			for _, w := range c.want {
				w = strings.ReplaceAll(w, "DIR", dir)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	t.Run("bytes without their files", func(t *testing.T) {
		ext, _, err := onnxgraph.Externalize(single, torch)
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewEngineFromBytes(ext, spec, EngineOptions{})
		if err == nil || !strings.Contains(err.Error(), `tensor "conv1.w" keeps its data in the external file "model.onnx.data"`) {
			t.Fatalf("got %v", err)
		}
	})
}

func sha(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// The recorded hash of a one-file model is the file's SHA-256, as before;
// with external data it is that of the model file followed by its data
// files, so a changed data file changes it.
func TestHashModel(t *testing.T) {
	dir := t.TempDir()
	single := testmodels.Build(testmodels.Options{})
	sp := filepath.Join(dir, "single.onnx")
	os.WriteFile(sp, single, 0o644)
	if got, _ := HashModel(sp); got != sha(single) {
		t.Errorf("one-file model: %s, want its file hash %s", got, sha(single))
	}
	notModel := filepath.Join(dir, "classes.txt")
	os.WriteFile(notModel, []byte("cat\ndog\n"), 0o644)
	if got, _ := HashModel(notModel); got != sha([]byte("cat\ndog\n")) {
		t.Errorf("non-model file: %s", got)
	}

	// Two data files, referred to in the order b then a: hashed in that order.
	ext1, d1, err := onnxgraph.Externalize(single, onnxgraph.ExternalizeOptions{Location: "b.data", MinBytes: 800})
	if err != nil {
		t.Fatal(err)
	}
	ext, d2, err := onnxgraph.Externalize(ext1, onnxgraph.ExternalizeOptions{Location: "a.data"})
	if err != nil {
		t.Fatal(err)
	}
	mp := filepath.Join(dir, "model.onnx")
	os.WriteFile(mp, ext, 0o644)
	os.WriteFile(filepath.Join(dir, "b.data"), d1, 0o644)
	os.WriteFile(filepath.Join(dir, "a.data"), d2, 0o644)
	refs, _ := onnxgraph.ExternalRefs(ext)
	if refs[0].Location != "b.data" {
		t.Fatalf("first reference %+v", refs[0])
	}
	h1, err := HashModel(mp)
	if err != nil {
		t.Fatal(err)
	}
	if want := sha(ext, d1, d2); h1 != want {
		t.Errorf("external model: %s, want SHA-256(model, b.data, a.data) %s", h1, want)
	}
	// One flipped bit in a data file gives another hash.
	d2[len(d2)-1] ^= 1
	os.WriteFile(filepath.Join(dir, "a.data"), d2, 0o644)
	h2, err := HashModel(mp)
	if err != nil {
		t.Fatal(err)
	}
	if h2 == h1 || h2 != sha(ext, d1, d2) {
		t.Errorf("changed data file: %s (before %s)", h2, h1)
	}

	// Resolve records it, for a model file with a spec and for a store entry.
	specPath := filepath.Join(dir, "spec.yaml")
	os.WriteFile(specPath, []byte("input: {layout: NCHW, size: [32, 32], color: RGB}\nresize: {policy: squash}\nnormalize: {scale: 1, mean: [0, 0, 0], std: [1, 1, 1]}\nfeatures: {pooling: auto}\n"), 0o644)
	b, err := Resolve(context.Background(), ResolveOptions{Name: mp, SpecPath: specPath, Store: &download.Store{Dir: dir, Offline: true}})
	if err != nil {
		t.Fatal(err)
	}
	if b.WeightsSHA256 != h2 {
		t.Errorf("resolved %s, want %s", b.WeightsSHA256, h2)
	}
	s := &download.Store{Dir: dir, Offline: true}
	if _, d, err := ensureModel(context.Background(), s, "model.onnx", "", "", ""); err != nil || d != h2 {
		t.Errorf("store: %s %v", d, err)
	}
	if _, _, err := ensureModel(context.Background(), s, "model.onnx", "", sha(ext), ""); err == nil || !strings.Contains(err.Error(), "external data file") {
		t.Errorf("a pinned one-file hash: %v", err)
	}
	if _, d, _ := s.Ensure(context.Background(), "model.onnx", "", "", ""); d != sha(ext) {
		t.Error("Ensure (plain files) changed")
	}
	// A missing data file is reported when the weights are resolved.
	os.Remove(filepath.Join(dir, "a.data"))
	if _, err := HashModel(mp); err == nil || !strings.Contains(err.Error(), "a.data, which is missing") {
		t.Errorf("missing data file: %v", err)
	}
}

// A real external-data model from Debian's PyTorch and onnx packages, when
// they are installed: torch exports a small CNN, onnx saves it with
// save_as_external_data. Optional: it skips without them.
func TestTorchExternalData(t *testing.T) {
	needRuntime(t)
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	if out, err := exec.Command(py, "-c", "import torch, onnx").CombinedOutput(); err != nil {
		t.Skipf("needs python3-torch and python3-onnx (apt-get install python3-torch python3-onnx): %s", strings.TrimSpace(string(out)))
	}
	dir := t.TempDir()
	script := `
import sys, torch, onnx
torch.manual_seed(0)
net = torch.nn.Sequential(
    torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
    torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(),
    torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 5)).eval()
single, ext = sys.argv[1], sys.argv[2]
torch.onnx.export(net, torch.zeros(1, 3, 32, 32), single, input_names=["input"], output_names=["output"],
                  opset_version=13, dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
m = onnx.load(single)
onnx.save_model(m, ext, save_as_external_data=True, all_tensors_to_one_file=True,
                location="torch.onnx.data", size_threshold=0)
`
	single, ext := filepath.Join(dir, "single.onnx"), filepath.Join(dir, "torch.onnx")
	if out, err := exec.Command(py, "-c", script, single, ext).CombinedOutput(); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	data, err := os.ReadFile(ext)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := onnxgraph.ExternalRefs(data)
	if err != nil || len(refs) == 0 {
		t.Fatalf("the onnx package wrote no external tensors (%v)", err)
	}
	spec := tinySpec(testmodels.Options{})
	want, err := NewEngine(&Backbone{Spec: *spec, WeightsPath: single}, EngineOptions{Logits: true, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	got, err := NewEngine(&Backbone{Spec: *spec, WeightsPath: ext}, EngineOptions{Logits: true, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if got.FeatureDim() != 16 {
		t.Errorf("feature dim %d", got.FeatureDim())
	}
	runBoth(t, got, want)
	d, err := os.ReadFile(ext + ".data")
	if err != nil {
		t.Fatal(err)
	}
	if h, err := HashModel(ext); err != nil || h != sha(data, d) {
		t.Errorf("hash %s %v", h, err)
	}
}
