package backbones

import (
	"testing"

	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/modelspec"
)

// A model that takes NHWC images but computes in NCHW inside (one Transpose
// after the input, then ONNX's channels-first Conv and GlobalAveragePool):
// the shape of every Keras model tf2onnx exports. The pooled tap is
// [N, C, 1, 1] whatever the input layout, so its spatial axes are 2 and 3,
// not the input's 1 and 2.
func TestTapLayoutOfNHWCModels(t *testing.T) {
	needRuntime(t)
	cases := []struct {
		name  string
		o     testmodels.Options
		named string // features.tensor, or "" for the automatic tap
	}{
		{"automatic tap, softmax head", testmodels.Options{Layout: "NHWC", Head: "softmax", Seed: 11}, ""},
		{"automatic tap, logits head", testmodels.Options{Layout: "NHWC", Seed: 12}, ""},
		{"named feature map, mean-pooled", testmodels.Options{Layout: "NHWC", Seed: 13}, "feature_map"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := tinySpec(c.o)
			if c.named != "" {
				spec.Features = modelspec.FeatureSpec{Tensor: c.named, Pooling: "mean"}
			}
			e, err := NewEngineFromBytes(testmodels.Build(c.o), spec, EngineOptions{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if e.FeatureDim() != testmodels.FeatureDim {
				t.Fatalf("feature dimension %d, want %d (tap %+v)", e.FeatureDim(), testmodels.FeatureDim, e.Tap())
			}
			const n = 3
			in := randomImages(n, e.SampleSize(), 5)
			feats := make([]float32, n*e.FeatureDim())
			if err := e.Run(in, n, feats, nil); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				want, _ := testmodels.Forward(c.o, in[i*e.SampleSize():(i+1)*e.SampleSize()])
				got := feats[i*testmodels.FeatureDim : (i+1)*testmodels.FeatureDim]
				if j, ok := closeEnough(got, want, 1e-5); !ok {
					t.Fatalf("image %d feature %d: %v, reference %v", i, j, got[j], want[j])
				}
			}
		})
	}
}
