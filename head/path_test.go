package head

import (
	"context"
	"math"
	"math/rand"
	"testing"
)

// noisy draws k overlapping Gaussian classes in d dimensions: with few
// rows per dimension a weakly penalized fit overfits, and the validation
// loss rises while the training loss still falls.
func noisy(n, d, k int, seed int64) *Dataset {
	rng := rand.New(rand.NewSource(seed))
	centers := rand.New(rand.NewSource(99))
	means := make([]float64, k*d)
	for i := range means {
		means[i] = centers.NormFloat64() * 0.5
	}
	ds := &Dataset{N: n, D: d, X: make([]float32, n*d), Y: make([]int32, n)}
	for i := 0; i < n; i++ {
		c := i % k
		ds.Y[i] = int32(c)
		for j := 0; j < d; j++ {
			ds.X[i*d+j] = float32(means[c*d+j] + rng.NormFloat64()*2 + 3)
		}
	}
	return ds
}

// objectiveGrad is the gradient of what logistic regression minimizes,
// written out in float64 apart from the graph: the (unweighted) mean
// cross-entropy on rows already standardized, plus lambda/2 |W|^2. Its
// largest component is 0 at the optimum.
func objectiveGrad(p *Params, data []*Dataset, lambda float64) float64 {
	d, k := p.D, p.K
	gw := make([]float64, d*k)
	gb := make([]float64, k)
	n := 0
	z := make([]float64, k)
	for _, ds := range data {
		for i := 0; i < ds.N; i++ {
			x := ds.X[i*d : (i+1)*d]
			mx := math.Inf(-1)
			for c := 0; c < k; c++ {
				z[c] = float64(p.B[c])
				for j, v := range x {
					z[c] += float64(v) * float64(p.W[j*k+c])
				}
				mx = math.Max(mx, z[c])
			}
			var s float64
			for c := range z {
				z[c] = math.Exp(z[c] - mx)
				s += z[c]
			}
			for c := 0; c < k; c++ {
				r := z[c] / s
				if int32(c) == ds.Y[i] {
					r--
				}
				gb[c] += r
				for j, v := range x {
					gw[j*k+c] += r * float64(v)
				}
			}
			n++
		}
	}
	worst := 0.0
	for i, g := range gw {
		worst = math.Max(worst, math.Abs(g/float64(n)+lambda*float64(p.W[i])))
	}
	for _, g := range gb {
		worst = math.Max(worst, math.Abs(g/float64(n)))
	}
	return worst
}

// Logistic regression is convex: a fit runs to the tolerance and ends at
// the optimum, where the gradient of the penalized loss vanishes, even
// when the validation loss rose on the way (early stopping used to hand
// back an iterate far from it).
func TestLogisticRegressionConverges(t *testing.T) {
	train, val := noisy(240, 40, 3, 1), noisy(120, 40, 3, 2)
	lam := 1e-3
	res, err := Train(context.Background(), train, val, 3, Options{RegParam: &lam, NoRefit: true})
	if err != nil {
		t.Fatal(err)
	}
	pt := res.Curve[0]
	// train was standardized in place by res.Std: the fit's own space.
	g := objectiveGrad(res.Params, []*Dataset{train}, lam)
	t.Logf("%d iterations, gradient %.2e (float64 check %.2e), train loss %.5f, validation loss %.4f", pt.Iterations, pt.GradNorm, g, pt.TrainLoss, pt.ValLoss)
	if g > 1e-4 {
		t.Errorf("the fit ended %.2e from the optimum (largest gradient component), after %d iterations", g, pt.Iterations)
	}
	if !pt.Converged || pt.EarlyStopped {
		t.Errorf("converged %v, early stopped %v", pt.Converged, pt.EarlyStopped)
	}
}

// Every penalty of the path is fitted: the losses differ per penalty, the
// penalized training loss falls as the penalty weakens, each fit reaches
// the tolerance, and the validation loss picks the penalty.
func TestPathFitsEachPenalty(t *testing.T) {
	train, val := noisy(240, 40, 3, 1), noisy(120, 40, 3, 2)
	grid := []float64{1, 0.1, 0.01, 0.001}
	res, err := Train(context.Background(), train, val, 3, Options{Grid: grid, NoRefit: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Curve) != len(grid) {
		t.Fatalf("%d points on the path, want %d", len(res.Curve), len(grid))
	}
	best := 0
	for i, pt := range res.Curve {
		t.Logf("lambda %g: train loss %.5f, validation loss %.5f, %d iterations, gradient %.1e", pt.Lambda, pt.TrainLoss, pt.ValLoss, pt.Iterations, pt.GradNorm)
		if !pt.Converged {
			t.Errorf("lambda %g: not converged (gradient %.1e after %d iterations)", pt.Lambda, pt.GradNorm, pt.Iterations)
		}
		if i == 0 {
			continue
		}
		prev := res.Curve[i-1]
		if math.Abs(pt.ValLoss-prev.ValLoss) < 1e-4 {
			t.Errorf("lambda %g and %g: the same validation loss %.5f: the fit did not move", prev.Lambda, pt.Lambda, pt.ValLoss)
		}
		if !(pt.TrainLoss < prev.TrainLoss) {
			t.Errorf("lambda %g: penalized train loss %.5f, not below %.5f at lambda %g", pt.Lambda, pt.TrainLoss, prev.TrainLoss, prev.Lambda)
		}
		if pt.ValLoss < res.Curve[best].ValLoss {
			best = i
		}
	}
	if res.Lambda != res.Curve[best].Lambda {
		t.Errorf("chose %g, the best validation loss is at %g", res.Lambda, res.Curve[best].Lambda)
	}
}
