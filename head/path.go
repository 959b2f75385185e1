package head

import (
	"context"
	"fmt"
	"math"
)

// CurvePoint is one lambda of the regularization path.
type CurvePoint struct {
	Lambda        float64 `json:"lambda"`
	TrainLoss     float64 `json:"train_loss"`
	ValLoss       float64 `json:"validation_loss"`
	ValAccuracy   float64 `json:"validation_accuracy"`
	Iterations    int     `json:"iterations"`
	Seconds       float64 `json:"seconds"`
	EarlyStopped  bool    `json:"early_stopped"`
	NonZeroWeight float64 `json:"nonzero_weight_fraction"`
	// GradNorm is the largest gradient component of the penalized loss
	// where an L-BFGS fit ended; Converged says it reached Tol.
	GradNorm  float64 `json:"gradient_norm,omitempty"`
	Converged bool    `json:"converged"`
	// Kept is the iteration (epoch) whose parameters an early-stopped fit
	// kept: what a refit of Adam or the MLP replays.
	Kept int `json:"kept_iteration,omitempty"`
	// Evaluations of the loss and gradient over the training rows (L-BFGS).
	Evaluations int `json:"evaluations,omitempty"`
}

// Result is a trained head.
type Result struct {
	Params *Params
	Std    *Standardizer // nil without standardization
	Lambda float64
	Alpha  float64
	Solver string
	BLAS   string
	Curve  []CurvePoint
	// ValProbs are the validation rows' probabilities under the fit that
	// chose the penalty (on train alone): validation metrics describe it.
	ValProbs []float32
	// Refit says Params and Std come from a refit on train + validation
	// with the chosen penalty (RefitRows rows); RefitPoint is that fit.
	Refit        bool
	RefitRows    int
	RefitPoint   *CurvePoint
	Iterations   int
	MaxIter      int // per fit, after defaults
	TrainSeconds float64
}

// ClassWeights returns per-class weights for mode ("", "none" or
// "balanced").
func ClassWeights(y []int32, k int, mode string) ([]float32, error) {
	switch mode {
	case "", "none":
		return nil, nil
	case "balanced":
		counts := make([]float64, k)
		for _, c := range y {
			counts[c]++
		}
		w := make([]float32, k)
		for c := range w {
			if counts[c] > 0 {
				w[c] = float32(float64(len(y)) / (float64(k) * counts[c]))
			}
		}
		return w, nil
	}
	return nil, optErr("class_weight", "expected none or balanced, got %q", mode)
}

// fitter fits the parameters (in place, warm-started) for one penalty.
type fitter interface {
	fit(ctx context.Context, pen Penalty) (CurvePoint, error)
}

// path fits every lambda of the grid, strongest first, each warm-started
// from the previous solution, and keeps the one with the best validation
// loss; the path stops after three worse values in a row. A given
// RegParam is a path of one.
func path(ctx context.Context, f fitter, p *Params, res *Result, o *Options) error {
	grid := o.Grid
	if o.RegParam != nil {
		grid = []float64{*o.RegParam}
	}
	var best *Params
	bestLoss := math.Inf(1)
	worse := 0
	for i, lambda := range grid {
		o.progress().Fit(Fit{Index: i + 1, Count: len(grid), Lambda: lambda})
		pt, err := f.fit(ctx, Penalty{Lambda: lambda, Alpha: o.ElasticNet})
		if err != nil {
			return err
		}
		pt.NonZeroWeight = nonZero(p)
		res.Curve = append(res.Curve, pt)
		res.Iterations += pt.Iterations
		o.logf("lambda %.3g: validation loss %.4f, accuracy %.4f, %d iterations in %.1fs%s", lambda, pt.ValLoss, pt.ValAccuracy, pt.Iterations, pt.Seconds, pt.ending())
		finite := !math.IsNaN(pt.ValLoss) && !math.IsInf(pt.ValLoss, 0)
		if finite && (len(grid) == 1 || pt.ValLoss < bestLoss) {
			bestLoss, best, res.Lambda, worse = pt.ValLoss, p.Clone(), lambda, 0
		} else if worse++; worse >= 3 {
			o.logf("validation loss rose for 3 lambdas in a row: the path stops here")
			break
		}
	}
	if best == nil {
		// A NaN loss never compares lower: without this the caller got nil
		// parameters (and a nil pointer in the next step).
		return fmt.Errorf("training diverged: the validation loss was not a finite number for any reg_param tried (%v)", grid[:len(res.Curve)])
	}
	res.Params = best
	return nil
}

func (pt *CurvePoint) ending() string {
	switch {
	case pt.EarlyStopped:
		return fmt.Sprintf(" (stopped early, kept iteration %d)", pt.Kept)
	case pt.Converged:
		return fmt.Sprintf(" (%d evaluations, converged, gradient %.1e)", pt.Evaluations, pt.GradNorm)
	case pt.GradNorm > 0:
		return fmt.Sprintf(" (%d evaluations, not converged, gradient %.1e)", pt.Evaluations, pt.GradNorm)
	}
	return ""
}

// keptIterations is what the chosen fit of an early-stopped path had
// trained, warm start included: the kept iterations of every fit up to it.
func keptIterations(res *Result) int {
	n := 0
	for _, pt := range res.Curve {
		n += pt.Kept
		if pt.Lambda == res.Lambda {
			break
		}
	}
	return max(n, 1)
}

func nonZero(p *Params) float64 {
	n, nz := 0, 0
	for _, s := range p.weightSlices() {
		for _, v := range s {
			n++
			if v != 0 {
				nz++
			}
		}
	}
	return float64(nz) / float64(max(n, 1))
}

// evaluator computes the unpenalized cross-entropy and accuracy of the
// current parameters on a dataset (for early stopping and the path).
type evaluator struct {
	ds *Dataset
	nt *net
}

func newEvaluator(p *Params, ds *Dataset) (*evaluator, error) {
	if ds == nil || ds.N == 0 {
		return nil, nil
	}
	nt, err := newNet(min(2048, ds.N), p, false, 0)
	if err != nil {
		return nil, err
	}
	return &evaluator{ds: ds, nt: nt}, nil
}

func (e *evaluator) eval() (loss, acc float64, err error) {
	d, k, c := e.ds.D, e.nt.p.K, e.nt.n
	var correct int
	for i := 0; i < e.ds.N; i += c {
		m := min(c, e.ds.N-i)
		if err := e.nt.setBatch(e.ds.X[i*d:(i+m)*d], nil, m, nil); err != nil {
			return 0, 0, err
		}
		if err := e.nt.run(); err != nil {
			return 0, 0, err
		}
		probs := e.nt.probs.Value().Data().([]float32)
		for r := 0; r < m; r++ {
			row := probs[r*k : (r+1)*k]
			y := e.ds.Y[i+r]
			loss -= math.Log(math.Max(float64(row[y]), 1e-15))
			if argmax(row) == int(y) {
				correct++
			}
		}
	}
	return loss / float64(e.ds.N), float64(correct) / float64(e.ds.N), nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// copyParams copies src into dst in place (dst's slices back the graphs).
func copyParams(dst, src *Params) {
	for i, s := range dst.slices() {
		copy(s, src.slices()[i])
	}
}
