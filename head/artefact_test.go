package head

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/featurizer/featurizer/backbones"
)

func needRuntime(t *testing.T) {
	t.Helper()
	if err := backbones.InitRuntime(""); err != nil {
		if os.Getenv("FEATURIZER_REQUIRE_ORT") != "" {
			t.Fatal(err)
		}
		t.Skipf("ONNX Runtime not available (run make setup): %v", err)
	}
}

// Folding the standardization into the weights gives the same
// probabilities on raw features as the trained parameters on standardized
// ones; head.onnx computes them too; the directory round-trips.
func TestArtefactRoundTrip(t *testing.T) {
	needRuntime(t)
	for _, hidden := range []int{0, 5} {
		raw := blobs(200, 6, 3, 1.5, 4)
		for i := range raw.X {
			raw.X[i] = raw.X[i]*7 + 3 // far from standardized
		}
		train := cloneDS(raw)
		lam := 0.01
		res, err := Train(context.Background(), train, nil, 3, Options{RegParam: &lam, Hidden: hidden, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := res.Params.Probabilities(train.X, train.N) // standardized in place by Train
		folded := Fold(res.Params, res.Std)
		got, _ := folded.Probabilities(raw.X, raw.N)
		if j := maxDiff(got, want); j > 1e-5 {
			t.Fatalf("hidden %d: folded probabilities differ by %g", hidden, j)
		}
		dir := t.TempDir()
		art := &Artefact{Classes: []string{"a", "b", "c"}, Head: HeadInfo{Type: "x", Dim: 6, Hidden: hidden, K: 3}}
		if err := art.Save(dir, folded); err != nil {
			t.Fatal(err)
		}
		back, p, err := LoadArtefact(dir)
		if err != nil {
			t.Fatal(err)
		}
		if back.Classes[2] != "c" || p.H != hidden {
			t.Fatalf("%+v", back)
		}
		again, _ := p.Probabilities(raw.X, raw.N)
		if maxDiff(again, got) != 0 {
			t.Fatal("weights changed through head.onnx")
		}
		// head.onnx in ONNX Runtime.
		data, _ := os.ReadFile(dir + "/" + HeadONNX)
		s, err := backbones.NewSession(data, FeaturesInput, []string{ProbsOutput}, 1)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, raw.N*3)
		if err := s.Run(raw.X, []int64{int64(raw.N), 6}, [][]float32{out}, [][]int64{{int64(raw.N), 3}}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if j := maxDiff(out, got); j > 1e-5 {
			t.Fatalf("hidden %d: ONNX Runtime probabilities differ by %g", hidden, j)
		}
	}
}

func maxDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

// With a penalty that dwarfs the data, the weights vanish and the
// intercepts learn the class priors: probabilities = class frequencies.
func TestStrongPenaltyGivesPriors(t *testing.T) {
	ds := blobs(400, 5, 4, 1, 8)
	ds.Y = ds.Y[:400]
	for i := range ds.Y {
		ds.Y[i] = int32(0)
		if i%4 == 1 {
			ds.Y[i] = 1
		}
		if i%10 == 2 {
			ds.Y[i] = 2
		}
		if i%10 == 3 {
			ds.Y[i] = 3
		}
	}
	counts := make([]float64, 4)
	for _, y := range ds.Y {
		counts[y]++
	}
	lam := 1e6
	res, err := Train(context.Background(), ds, nil, 4, Options{RegParam: &lam})
	if err != nil {
		t.Fatal(err)
	}
	probs, _ := res.Params.Probabilities(ds.X, 1)
	for c := 0; c < 4; c++ {
		if want := counts[c] / 400; math.Abs(float64(probs[c])-want) > 1e-3 {
			t.Errorf("class %d: probability %.4f, prior %.4f", c, probs[c], want)
		}
	}
}
