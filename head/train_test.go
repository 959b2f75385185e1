package head

import (
	"context"
	"math"
	"math/rand"
	"testing"
)

// blobs draws k well-separated Gaussian clusters in d dimensions.
func blobs(n, d, k int, spread float64, seed int64) *Dataset {
	rng := rand.New(rand.NewSource(seed))
	centers := make([][]float64, k)
	for c := range centers {
		centers[c] = make([]float64, d)
		for j := range centers[c] {
			centers[c][j] = rng.NormFloat64() * 4
		}
	}
	ds := &Dataset{N: n, D: d, X: make([]float32, n*d), Y: make([]int32, n)}
	for i := 0; i < n; i++ {
		c := i % k
		ds.Y[i] = int32(c)
		for j := 0; j < d; j++ {
			ds.X[i*d+j] = float32(centers[c][j] + rng.NormFloat64()*spread)
		}
	}
	return ds
}

func cloneDS(ds *Dataset) *Dataset {
	c := *ds
	c.X = append([]float32(nil), ds.X...)
	c.Y = append([]int32(nil), ds.Y...)
	return &c
}

// The graph's gradients against central finite differences of its loss,
// for logistic regression and the MLP, with the whole elastic net.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	for _, hidden := range []int{0, 4} {
		ds := blobs(12, 5, 3, 1, 1)
		p := NewParams(5, hidden, 3, 7)
		rng := rand.New(rand.NewSource(3))
		for _, s := range p.slices() {
			for i := range s {
				s[i] = float32(rng.NormFloat64() * 0.3)
			}
		}
		nt, err := newNet(ds.N, p, true, l1Smooth)
		if err != nil {
			t.Fatal(err)
		}
		if err := nt.setBatch(ds.X, ds.Y, ds.N, []float32{1, 2, 0.5}); err != nil {
			t.Fatal(err)
		}
		nt.setPenalty(Penalty{Lambda: 0.1, Alpha: 0.3})
		grad := make([]float64, p.Len())
		if _, err := nt.lossAndGrad(grad); err != nil {
			t.Fatal(err)
		}
		x := make([]float64, p.Len())
		p.flatten(x)
		scratch := make([]float64, p.Len())
		lossAt := func(x []float64) float64 {
			p.unflatten(x)
			f, err := nt.lossAndGrad(scratch)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		const h = 1e-2
		worst := 0.0
		for i := range x {
			orig := x[i]
			x[i] = orig + h
			fp := lossAt(x)
			x[i] = orig - h
			fm := lossAt(x)
			x[i] = orig
			fd := (fp - fm) / (2 * h)
			if d := math.Abs(fd-grad[i]) / math.Max(1e-2, math.Abs(fd)+math.Abs(grad[i])); d > worst {
				worst = d
			}
			if math.Abs(fd-grad[i]) > 2e-3*math.Max(1, math.Abs(fd)) {
				t.Errorf("hidden %d, parameter %d: gradient %.6f, finite difference %.6f", hidden, i, grad[i], fd)
			}
		}
		t.Logf("hidden %d: worst relative gradient error %.2e over %d parameters", hidden, worst, len(x))
	}
}

// Separable clusters: every solver reaches 100% on held-out points, with a
// given or a searched penalty.
func TestSeparable(t *testing.T) {
	train := blobs(600, 8, 4, 0.5, 1)
	val := blobs(200, 8, 4, 0.5, 1) // same centers (same seed), new noise
	for i := range val.X {
		val.X[i] += float32(rand.New(rand.NewSource(int64(i))).NormFloat64() * 0.01)
	}
	lam := 1e-3
	cases := []struct {
		name string
		o    Options
	}{
		{"lbfgs-l2", Options{RegParam: &lam}},
		{"lbfgs-path", Options{}},
		{"lbfgs-elasticnet", Options{RegParam: &lam, ElasticNet: 0.5}},
		{"adam", Options{Solver: "adam", RegParam: &lam, MaxIter: 20}},
		{"mlp-lbfgs", Options{RegParam: &lam, Hidden: 8}},
		{"balanced", Options{RegParam: &lam, ClassWeight: "balanced"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, va := cloneDS(train), cloneDS(val)
			res, err := Train(context.Background(), tr, va, 4, c.o)
			if err != nil {
				t.Fatal(err)
			}
			probs, err := res.Params.Probabilities(va.X, va.N)
			if err != nil {
				t.Fatal(err)
			}
			correct := 0
			for i := 0; i < va.N; i++ {
				if argmax(probs[i*4:(i+1)*4]) == int(va.Y[i]) {
					correct++
				}
			}
			if correct != va.N {
				t.Errorf("%d of %d correct", correct, va.N)
			}
			if c.o.RegParam == nil && len(res.Curve) < 2 {
				t.Errorf("no path: %+v", res.Curve)
			}
			t.Logf("%s: lambda %.3g, %d iterations, curve %d points", c.name, res.Lambda, res.Iterations, len(res.Curve))
		})
	}
}

// The same seed gives the same model, bit for bit.
func TestReproducible(t *testing.T) {
	for _, o := range []Options{{Seed: 5}, {Solver: "adam", Seed: 5, MaxIter: 5}, {Hidden: 6, Seed: 5, MaxIter: 30}} {
		var got [][]float32
		for run := 0; run < 2; run++ {
			res, err := Train(context.Background(), blobs(300, 6, 3, 2, 9), blobs(90, 6, 3, 2, 10), 3, o)
			if err != nil {
				t.Fatal(err)
			}
			var all []float32
			for _, s := range res.Params.slices() {
				all = append(all, s...)
			}
			got = append(got, all)
		}
		for i := range got[0] {
			if math.Float32bits(got[0][i]) != math.Float32bits(got[1][i]) {
				t.Fatalf("options %+v: parameter %d differs between runs: %v vs %v", o, i, got[0][i], got[1][i])
			}
		}
	}
}
