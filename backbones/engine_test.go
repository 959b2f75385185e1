package backbones

import (
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/modelspec"
)

// needRuntime loads ONNX Runtime or skips; CI sets FEATURIZER_REQUIRE_ORT so
// that a missing library fails instead.
func needRuntime(t *testing.T) {
	t.Helper()
	if err := InitRuntime(""); err != nil {
		if os.Getenv("FEATURIZER_REQUIRE_ORT") != "" {
			t.Fatal(err)
		}
		t.Skipf("ONNX Runtime not available (run make setup): %v", err)
	}
}

func tinySpec(o testmodels.Options) *modelspec.Spec {
	layout := o.Layout
	if layout == "" {
		layout = "NCHW"
	}
	s := &modelspec.Spec{Input: modelspec.InputSpec{Layout: layout, Size: [2]int{32, 32}}, Resize: modelspec.ResizeSpec{Policy: "squash"},
		Normalize: modelspec.NormalizeSpec{Scale: 1, Std: [3]float32{1, 1, 1}}}
	if err := s.Validate(); err != nil {
		panic(err)
	}
	return s
}

func randomImages(n, size int, seed int64) []float32 {
	rng := rand.New(rand.NewSource(seed))
	v := make([]float32, n*size)
	for i := range v {
		v[i] = rng.Float32()*2 - 1
	}
	return v
}

func closeEnough(a, b []float32, tol float64) (int, bool) {
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol*(1+math.Abs(float64(b[i]))) {
			return i, false
		}
	}
	return 0, true
}

// The engine's features must equal the network computed independently in
// Go, whatever the layout, opset, pooling op or head.
func TestEngineMatchesReference(t *testing.T) {
	needRuntime(t)
	cases := []struct {
		name   string
		o      testmodels.Options
		tap    string
		reason string
	}{
		{"nchw-gap-logits", testmodels.Options{}, "gap", "GlobalAveragePool"},
		{"nhwc-reducemean-softmax-opset18", testmodels.Options{Layout: "NHWC", Head: "softmax", Pool: "reducemean", Opset: 18}, "pooled", "ReduceMean"},
		{"nchw-reducemean-opset13", testmodels.Options{Pool: "reducemean", Seed: 3}, "pooled", "ReduceMean"},
		{"headless", testmodels.Options{Head: "none", Seed: 4}, "features", "without a dense layer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := tinySpec(c.o)
			e, err := NewEngineFromBytes(testmodels.Build(c.o), spec, EngineOptions{Logits: c.o.Head != "none", Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if e.FeatureDim() != testmodels.FeatureDim || e.Tap().Tensor != c.tap || !strings.Contains(e.Tap().Reason, c.reason) {
				t.Fatalf("dim %d tap %+v", e.FeatureDim(), e.Tap())
			}
			const n = 5
			in := randomImages(n, e.SampleSize(), 7)
			feats := make([]float32, n*e.FeatureDim())
			logits := make([]float32, n*e.NumClasses())
			if err := e.Run(in, n, feats, logits); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				wf, wl := testmodels.Forward(c.o, in[i*e.SampleSize():(i+1)*e.SampleSize()])
				if j, ok := closeEnough(feats[i*16:(i+1)*16], wf, 1e-5); !ok {
					t.Fatalf("image %d feature %d: %v, reference %v", i, j, feats[i*16+j], wf[j])
				}
				if wl != nil {
					k := e.NumClasses()
					if j, ok := closeEnough(logits[i*k:(i+1)*k], wl, 1e-5); !ok {
						t.Fatalf("image %d output %d: %v, reference %v", i, j, logits[i*k+j], wl[j])
					}
				}
			}
			// A batch gives each image what it gets alone.
			one := make([]float32, e.FeatureDim())
			if err := e.Run(in[2*e.SampleSize():], 1, one, make([]float32, e.NumClasses())); err != nil {
				t.Fatal(err)
			}
			if j, ok := closeEnough(one, feats[2*16:3*16], 1e-6); !ok {
				t.Errorf("batched and single differ at %d", j)
			}
		})
	}
}

// Naming the unpooled feature map with mean pooling gives the same vector
// as the model's own global pool.
func TestEngineNamedTap(t *testing.T) {
	needRuntime(t)
	o := testmodels.Options{Seed: 9}
	spec := tinySpec(o)
	spec.Features = modelspec.FeatureSpec{Tensor: "feature_map", Pooling: "mean", Dim: 16}
	e, err := NewEngineFromBytes(testmodels.Build(o), spec, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	in := randomImages(2, e.SampleSize(), 1)
	feats := make([]float32, 2*16)
	if err := e.Run(in, 2, feats, nil); err != nil {
		t.Fatal(err)
	}
	wf, _ := testmodels.Forward(o, in[e.SampleSize():])
	if j, ok := closeEnough(feats[16:], wf, 1e-5); !ok {
		t.Fatalf("feature %d: %v vs %v", j, feats[16+j], wf[j])
	}
}

func TestEngineErrors(t *testing.T) {
	needRuntime(t)
	model := testmodels.Build(testmodels.Options{})
	cases := []struct {
		name string
		mod  func(*modelspec.Spec)
		want string
	}{
		{"unknown tap", func(s *modelspec.Spec) { s.Features.Tensor = "feature_mapp" }, `features.tensor: the model has no tensor "feature_mapp" (similar names: feature_map)`},
		{"dim mismatch", func(s *modelspec.Spec) { s.Features.Dim = 2048 }, "features.dim: the tap \"gap\" gives 16 values per image, the spec expects 2048"},
		{"input name", func(s *modelspec.Spec) { s.Input.Name = "data" }, `input.name: the model has no input "data"`},
		{"input size", func(s *modelspec.Spec) { s.Input.Size = [2]int{224, 224} }, "input.layout/size"},
		{"layout", func(s *modelspec.Spec) { s.Input.Layout = "NHWC" }, "input.layout/size"},
		{"classifier output", func(s *modelspec.Spec) {
			s.Classifier = &modelspec.ClassifierSpec{Output: "prob", Activation: "logits"}
		}, `classifier.output: the model has no output "prob"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := tinySpec(testmodels.Options{})
			c.mod(s)
			_, err := NewEngineFromBytes(model, s, EngineOptions{Logits: true})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
	if _, err := NewEngineFromBytes([]byte("not a model"), tinySpec(testmodels.Options{}), EngineOptions{}); err == nil {
		t.Error("junk model accepted")
	}
}

// On the real int8 MobileNetV2 the automatic search finds the tap the
// catalog names: tensor 627, mean-pooled to 1280 values.
func TestMobileNetV2Tap(t *testing.T) {
	needRuntime(t)
	path := filepath.Join("..", "..", "shared", "models", "mobilenetv2-12-int8.onnx")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("../shared is absent (%v): the MobileNetV2 checks need it", err)
	}
	spec, _ := modelspec.Lookup("mobilenetv2")
	named, err := NewEngineFromBytes(data, spec, EngineOptions{Logits: true})
	if err != nil {
		t.Fatal(err)
	}
	defer named.Close()
	auto := *spec
	auto.Features = modelspec.FeatureSpec{Pooling: "auto"}
	found, err := NewEngineFromBytes(data, &auto, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer found.Close()
	if found.Tap().Tensor != "627" || found.Tap().Pooling != "mean" || found.FeatureDim() != 1280 || named.NumClasses() != 1000 {
		t.Fatalf("auto tap %+v dim %d classes %d", found.Tap(), found.FeatureDim(), named.NumClasses())
	}
	in := randomImages(2, named.SampleSize(), 5)
	a, b := make([]float32, 2*1280), make([]float32, 2*1280)
	named.Run(in, 2, a, make([]float32, 2000))
	found.Run(in, 2, b, nil)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("feature %d differs: %v vs %v", i, a[i], b[i])
		}
	}
}
