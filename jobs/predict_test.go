package jobs

import (
	"math"
	"testing"
)

func TestPredictRowTies(t *testing.T) {
	r := PredictRow([]float32{1, 3, 3, 2, 3}, true, []string{"a", "b", "c", "d", "e"}, 4)
	want := []int32{1, 2, 4, 3}
	for i, k := range r.TopK {
		if k.Index != want[i] {
			t.Fatalf("top-k %+v, want order %v", r.TopK, want)
		}
	}
	z := math.Exp(1) + 3*math.Exp(3) + math.Exp(2)
	if r.Prediction != "b" || r.PredictionIndex != 1 || math.Abs(float64(r.Probability)-math.Exp(3)/z) > 1e-7 {
		t.Errorf("%+v", r)
	}
	// Probabilities from the model are kept as they are.
	p := PredictRow([]float32{0.1, 0.7, 0.2}, false, nil, 2)
	if p.Prediction != "1" || p.Probability != 0.7 || p.TopK[1].Index != 2 {
		t.Errorf("%+v", p)
	}
}
