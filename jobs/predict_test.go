package jobs

import (
	"math"
	"testing"
)

// The top k are exactly k entries, in rank order, ties to the lower class
// index, each with its label and probability.
func TestPredictRowTies(t *testing.T) {
	r := PredictRow([]float32{1, 3, 3, 2, 3}, true, []string{"a", "b", "c", "d", "e"}, 4)
	z := math.Exp(1) + 3*math.Exp(3) + math.Exp(2)
	p3, p2 := math.Exp(3)/z, math.Exp(2)/z
	want := []struct {
		index int32
		label string
		prob  float64
	}{{1, "b", p3}, {2, "c", p3}, {4, "e", p3}, {3, "d", p2}}
	if len(r.TopK) != len(want) {
		t.Fatalf("top-k has %d entries, want %d: %+v", len(r.TopK), len(want), r.TopK)
	}
	for i, w := range want {
		k := r.TopK[i]
		if k.Index != w.index || k.Label != w.label || math.Abs(float64(k.Probability)-w.prob) > 1e-7 {
			t.Errorf("top-k[%d] = %+v, want index %d, label %s, probability %.7f", i, k, w.index, w.label, w.prob)
		}
	}
	if r.Prediction != "b" || r.PredictionIndex != 1 || math.Abs(float64(r.Probability)-p3) > 1e-7 {
		t.Errorf("%+v", r)
	}
	// Probabilities from the model are kept as they are; without class
	// names the label is the index.
	p := PredictRow([]float32{0.1, 0.7, 0.2}, false, nil, 2)
	if p.Prediction != "1" || p.Probability != 0.7 || len(p.TopK) != 2 ||
		p.TopK[0].Index != 1 || p.TopK[0].Label != "1" || p.TopK[0].Probability != 0.7 ||
		p.TopK[1].Index != 2 || p.TopK[1].Label != "2" || p.TopK[1].Probability != 0.2 {
		t.Errorf("%+v", p)
	}
}
