package combined

import (
	"math"
	"math/rand"
	"os"
	"reflect"
	"testing"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/head"
	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/modelspec"
)

// model.onnx gives, for each image, what the head computes on the
// backbone's pooled features: checked against the test network's plain-Go
// forward pass and the head's arithmetic written out here, for logistic
// regression and for an MLP, on both layouts.
func TestBuildMatchesBackboneThenHead(t *testing.T) {
	if err := backbones.InitRuntime(""); err != nil {
		if os.Getenv("FEATURIZER_REQUIRE_ORT") != "" {
			t.Fatal(err)
		}
		t.Skipf("ONNX Runtime not available (run make setup): %v", err)
	}
	const k, n = 3, 4
	for _, c := range []struct {
		name   string
		o      testmodels.Options
		hidden int
		sample []int64
	}{
		{"nchw-logistic", testmodels.Options{Seed: 21}, 0, []int64{3, 32, 32}},
		{"nhwc-mlp-opset18", testmodels.Options{Seed: 22, Layout: "NHWC", Pool: "reducemean", Opset: 18}, 5, []int64{32, 32, 3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			layout := c.o.Layout
			if layout == "" {
				layout = "NCHW"
			}
			spec := &modelspec.Spec{Input: modelspec.InputSpec{Layout: layout, Size: [2]int{32, 32}}, Resize: modelspec.ResizeSpec{Policy: "squash"},
				Normalize: modelspec.NormalizeSpec{Scale: 1, Std: [3]float32{1, 1, 1}}}
			if err := spec.Validate(); err != nil {
				t.Fatal(err)
			}
			p := head.NewParams(testmodels.FeatureDim, c.hidden, k, 3)
			rng := rand.New(rand.NewSource(4))
			for _, v := range [][]float32{p.W, p.B, p.B1} {
				for i := range v {
					v[i] = rng.Float32()*2 - 1
				}
			}
			model, input, sample, err := Build(testmodels.Build(c.o), spec, p)
			if err != nil {
				t.Fatal(err)
			}
			if input != "image" || !reflect.DeepEqual(sample, c.sample) {
				t.Fatalf("input %q of shape %v, want image %v", input, sample, c.sample)
			}
			s, err := backbones.NewSession(model, input, []string{head.CombinedOutput}, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			size := int(sample[0] * sample[1] * sample[2])
			in := make([]float32, n*size)
			for i := range in {
				in[i] = rng.Float32()*2 - 1
			}
			got := make([]float32, n*k)
			if err := s.Run(in, append([]int64{n}, sample...), [][]float32{got}, [][]int64{{n, k}}); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				feats, _ := testmodels.Forward(c.o, in[i*size:(i+1)*size])
				want := headProbs(p, feats)
				for j := range want {
					if math.Abs(float64(got[i*k+j]-want[j])) > 1e-5 {
						t.Fatalf("image %d class %d: %v, want %v", i, j, got[i*k:(i+1)*k], want)
					}
				}
			}
		})
	}
}

// headProbs is softmax(relu(x W1 + B1) W + B), or softmax(x W + B) without
// a hidden layer, in float64.
func headProbs(p *head.Params, x []float32) []float32 {
	h := make([]float64, len(x))
	for i, v := range x {
		h[i] = float64(v)
	}
	if p.H > 0 {
		h = dense(h, p.W1, p.B1, p.H)
		for i := range h {
			h[i] = math.Max(h[i], 0)
		}
	}
	z := dense(h, p.W, p.B, p.K)
	m, sum := math.Inf(-1), 0.0
	for _, v := range z {
		m = math.Max(m, v)
	}
	out := make([]float32, len(z))
	for _, v := range z {
		sum += math.Exp(v - m)
	}
	for i, v := range z {
		out[i] = float32(math.Exp(v-m) / sum)
	}
	return out
}

func dense(x []float64, w, b []float32, out int) []float64 {
	y := make([]float64, out)
	for j := range y {
		y[j] = float64(b[j])
		for i, v := range x {
			y[j] += v * float64(w[i*out+j])
		}
	}
	return y
}
