package head

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"
)

// Train fits a head on train and chooses the penalty on val, both held in
// memory, then (unless NoRefit) refits the chosen penalty on train + val.
// Both are standardized in place: afterwards their X are in the final
// model's scale (res.Std), raw no longer. Without validation rows the
// penalty must be given, and there is no refit.
func Train(ctx context.Context, train, val *Dataset, k int, o Options) (*Result, error) {
	if err := o.prepare(o.ResolveSolver(train.N, train.D), val); err != nil {
		return nil, err
	}
	t := &trainer{o: &o, k: k, d: train.D, val: val, trainM: datasetMoments(train), trainY: train.Y[:train.N]}
	t.standardize = func(from, to *Standardizer) {
		if from == nil {
			to.Apply(train.X, train.N)
		} else {
			restandardize(train.X, train.N, from, to)
		}
	}
	t.newFitter = func(p *Params, _ *Standardizer, o *Options, val *Dataset, refit bool, cw []float32) (fitter, error) {
		data := []*Dataset{train}
		if refit {
			data = append(data, t.val)
		}
		if o.Solver == "lbfgs" {
			return newLBFGS(p, data, val, cw, o, runtime.NumCPU())
		}
		return newAdam(p, &memorySource{data: data}, val, cw, o)
	}
	return t.run(ctx)
}

// TrainStream fits with Adam on a table that is never loaded whole; val
// is held in memory and treated as Train treats it.
func TrainStream(ctx context.Context, src *Stream, val *Dataset, k int, o Options) (*Result, error) {
	if err := o.prepare("adam", val); err != nil {
		return nil, err
	}
	// One pass for the statistics (and the class counts of balanced weights).
	seq := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	var m *moments
	var ys []int32
	err := src.Each(ctx, 4096, seq, func(x []float32, y []int32, n int) error {
		if m == nil {
			if src.T.Dim == 0 {
				return errors.New("empty table")
			}
			m = newMoments(src.T.Dim)
		}
		m.add(x, n)
		ys = append(ys, y[:n]...)
		return nil
	})
	if err != nil {
		// Statistics of part of the table would train a wrong model.
		return nil, fmt.Errorf("standardization pass over %s: %w", src.T.Dir, err)
	}
	if m == nil {
		m = newMoments(src.T.Dim)
	}
	t := &trainer{o: &o, k: k, d: src.T.Dim, val: val, trainM: m, trainY: ys}
	t.standardize = func(from, to *Standardizer) {} // the stream standardizes as it reads
	t.newFitter = func(p *Params, std *Standardizer, o *Options, val *Dataset, refit bool, cw []float32) (fitter, error) {
		s := &streamSource{s: src, std: std}
		if refit {
			s.extra = &memorySource{data: []*Dataset{t.val}}
		}
		return newAdam(p, s, val, cw, o)
	}
	return t.run(ctx)
}

// trainer is what Train and TrainStream share once their training rows
// are summarized: standardization, the penalty path, the refit.
type trainer struct {
	o      *Options // validated, with defaults
	k, d   int
	val    *Dataset
	trainM *moments // of the raw training rows
	trainY []int32
	// standardize maps the training rows held in memory from one scale to
	// another (from nil: raw).
	standardize func(from, to *Standardizer)
	// newFitter fits p on the training rows (and, for a refit, the
	// validation rows too), standardized by std; val, when not nil, is
	// evaluated (and stops Adam and the MLP early).
	newFitter func(p *Params, std *Standardizer, o *Options, val *Dataset, refit bool, cw []float32) (fitter, error)
}

func (t *trainer) run(ctx context.Context) (*Result, error) {
	o := t.o
	res := &Result{Solver: o.Solver, BLAS: UseBLAS(), Alpha: o.ElasticNet, MaxIter: o.MaxIter}
	start := time.Now()
	defer debug.SetGCPercent(debug.SetGCPercent(gcPercent))
	hasVal := t.val != nil && t.val.N > 0
	var valM *moments
	if hasVal && !o.NoRefit {
		valM = datasetMoments(t.val) // raw, for the refit's statistics
	}
	var std *Standardizer
	if !o.NoStandardize {
		std = t.trainM.standardizer()
		t.standardize(nil, std)
		if t.val != nil {
			std.Apply(t.val.X, t.val.N)
		}
	}
	cw, err := ClassWeights(t.trainY, t.k, o.ClassWeight)
	if err != nil {
		return nil, err
	}
	p := NewParams(t.d, o.Hidden, t.k, o.Seed)
	f, err := t.newFitter(p, std, o, t.val, false, cw)
	if err != nil {
		return nil, err
	}
	if err := path(ctx, f, p, res, o); err != nil {
		return nil, err
	}
	res.Std = std
	if hasVal {
		if res.ValProbs, err = res.Params.Probabilities(t.val.X, t.val.N); err != nil {
			return nil, err
		}
		if !o.NoRefit {
			if err := t.refit(ctx, res, valM); err != nil {
				return nil, err
			}
		}
	}
	res.TrainSeconds = time.Since(start).Seconds()
	return res, nil
}

// refit fits the chosen penalty on train + validation, standardized by
// their joint statistics (what Spark's TrainValidationSplit does with its
// best parameters). Logistic regression starts from the chosen fit and
// runs to the tolerance; Adam and the MLP, stopped early on validation,
// train again from the same start for as many iterations as the chosen
// fit kept.
func (t *trainer) refit(ctx context.Context, res *Result, valM *moments) error {
	o := *t.o
	from := res.Std
	var to *Standardizer
	if from != nil {
		to = t.trainM.plus(valM).standardizer()
		t.standardize(from, to)
		restandardize(t.val.X, t.val.N, from, to)
	}
	y := append(append(make([]int32, 0, len(t.trainY)+t.val.N), t.trainY...), t.val.Y[:t.val.N]...)
	cw, err := ClassWeights(y, t.k, o.ClassWeight)
	if err != nil {
		return err
	}
	var p *Params
	if o.earlyStopping() {
		p = NewParams(t.d, o.Hidden, t.k, o.Seed)
		o.MaxIter = keptIterations(res)
	} else {
		p = moveParams(res.Params, from, to)
	}
	f, err := t.newFitter(p, to, &o, nil, true, cw)
	if err != nil {
		return err
	}
	o.progress().Fit(Fit{Index: 1, Count: 1, Lambda: res.Lambda, Refit: true})
	pt, err := f.fit(ctx, Penalty{Lambda: res.Lambda, Alpha: o.ElasticNet})
	if err != nil {
		return fmt.Errorf("refit on train + validation: %w", err)
	}
	pt.NonZeroWeight = nonZero(p)
	o.logf("refit on train + validation (%d rows), reg_param %.3g: %d iterations in %.1fs%s", len(y), res.Lambda, pt.Iterations, pt.Seconds, pt.ending())
	res.Params, res.Std, res.Refit, res.RefitRows, res.RefitPoint = p, to, true, len(y), &pt
	res.Iterations += pt.Iterations
	return nil
}
