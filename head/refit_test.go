package head

import (
	"context"
	"math"
	"testing"
)

func concat(a, b *Dataset) *Dataset {
	return &Dataset{N: a.N + b.N, D: a.D, X: append(append([]float32(nil), a.X...), b.X...), Y: append(append([]int32(nil), a.Y...), b.Y...)}
}

func sameStd(t *testing.T, what string, got, want *Standardizer) {
	t.Helper()
	if got == nil || want == nil {
		t.Fatalf("%s: standardizer %v, want %v", what, got, want)
	}
	for j := range want.Mean {
		if math.Abs(float64(got.Mean[j]-want.Mean[j])) > 1e-5*(1+math.Abs(float64(want.Mean[j]))) ||
			math.Abs(float64(got.Std[j]-want.Std[j])) > 1e-5*float64(want.Std[j]) {
			t.Fatalf("%s: feature %d: mean %v std %v, want %v %v", what, j, got.Mean[j], got.Std[j], want.Mean[j], want.Std[j])
		}
	}
}

// After choosing the penalty on validation, the model is refit on train +
// validation with that penalty, standardized by their joint statistics,
// to the optimum; the validation probabilities stay those of the fit that
// chose. NoRefit keeps the selection fit.
func TestRefitOnTrainAndValidation(t *testing.T) {
	rawTrain, rawVal := noisy(240, 40, 3, 1), noisy(120, 40, 3, 2)
	grid := []float64{1, 0.1, 0.01}
	ctx := context.Background()
	res, err := Train(ctx, cloneDS(rawTrain), cloneDS(rawVal), 3, Options{Grid: grid})
	if err != nil {
		t.Fatal(err)
	}
	kept, err := Train(ctx, cloneDS(rawTrain), cloneDS(rawVal), 3, Options{Grid: grid, NoRefit: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Refit || res.RefitRows != 360 || res.RefitPoint == nil || !res.RefitPoint.Converged {
		t.Fatalf("refit %v on %d rows, point %+v", res.Refit, res.RefitRows, res.RefitPoint)
	}
	if kept.Refit || kept.RefitPoint != nil {
		t.Fatalf("NoRefit refit anyway")
	}
	if res.Lambda != kept.Lambda {
		t.Errorf("the refit changed the choice: %g, without refit %g", res.Lambda, kept.Lambda)
	}
	all := concat(rawTrain, rawVal)
	sameStd(t, "refit", res.Std, FitStandardizer(all))
	sameStd(t, "no refit", kept.Std, FitStandardizer(rawTrain))
	res.Std.Apply(all.X, all.N)
	if g := objectiveGrad(res.Params, []*Dataset{all}, res.Lambda); g > 1e-4 {
		t.Errorf("the refit ended %.2e from the optimum on train + validation", g)
	}
	// The selection fit's validation probabilities, whatever the refit.
	if len(res.ValProbs) != rawVal.N*3 {
		t.Fatalf("%d validation probabilities", len(res.ValProbs))
	}
	for i := range res.ValProbs {
		if math.Float32bits(res.ValProbs[i]) != math.Float32bits(kept.ValProbs[i]) {
			t.Fatalf("validation probability %d: %v with refit, %v without", i, res.ValProbs[i], kept.ValProbs[i])
		}
	}
	var ll float64
	for i := 0; i < rawVal.N; i++ {
		ll -= math.Log(float64(res.ValProbs[i*3+int(rawVal.Y[i])]))
	}
	for _, pt := range res.Curve {
		if pt.Lambda == res.Lambda && math.Abs(ll/float64(rawVal.N)-pt.ValLoss) > 1e-5 {
			t.Errorf("validation log-loss of ValProbs %.6f, the chosen fit's %.6f", ll/float64(rawVal.N), pt.ValLoss)
		}
	}
	differ := false
	for i := range res.Params.W {
		differ = differ || res.Params.W[i] != kept.Params.W[i]
	}
	if !differ {
		t.Error("the refit model is the selection model")
	}
}

// Adam and the MLP stop early on validation; their refit trains again
// from the same start for the iterations the chosen fit kept.
func TestRefitEarlyStopped(t *testing.T) {
	lam := 1e-3
	for _, o := range []Options{{Solver: "adam", RegParam: &lam, MaxIter: 8, Seed: 3}, {Hidden: 6, RegParam: &lam, MaxIter: 40, Seed: 3}} {
		res, err := Train(context.Background(), noisy(240, 10, 3, 1), noisy(120, 10, 3, 2), 3, o)
		if err != nil {
			t.Fatal(err)
		}
		pt := res.Curve[0]
		if !res.Refit || res.RefitPoint == nil || pt.Kept < 1 || pt.Kept > pt.Iterations || res.RefitPoint.Iterations != pt.Kept {
			t.Errorf("%s hidden %d: refit %v, kept %d of %d iterations, refit point %+v", o.Solver, o.Hidden, res.Refit, pt.Kept, pt.Iterations, res.RefitPoint)
		}
	}
}
