package head

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"gonum.org/v1/gonum/optimize"
)

// gcPercent is the garbage collector's target while training: the graphs
// allocate their temporaries at every run, and with the training matrix
// live the default (100) would let garbage grow to the matrix's size.
const gcPercent = 20

// l1Smooth is the epsilon of sqrt(w^2 + eps^2) standing in for |w|.
const l1Smooth = 1e-4

// lossHistory is how many iterations back the relative loss tolerance
// looks (as Spark's L-BFGS, breeze, does).
const lossHistory = 10

// lbfgs fits on whole training matrices with gonum's L-BFGS driving the
// graph's loss and gradients; the L1 part of the elastic net is smoothed.
// Logistic regression runs to the tolerance; the MLP also stops early on
// validation.
type lbfgs struct {
	p    *Params
	full *fullBatch
	val  *evaluator // nil for a refit
	o    *Options
}

func newLBFGS(p *Params, data []*Dataset, val *Dataset, cw []float32, o *Options, workers int) (*lbfgs, error) {
	smooth := 0.0
	if o.ElasticNet > 0 {
		smooth = l1Smooth
	}
	full, err := newFullBatch(p, data, cw, smooth, workers)
	if err != nil {
		return nil, err
	}
	ev, err := newEvaluator(p, val)
	if err != nil {
		return nil, err
	}
	return &lbfgs{p: p, full: full, val: ev, o: o}, nil
}

func (l *lbfgs) fit(ctx context.Context, pen Penalty) (CurvePoint, error) {
	start := time.Now()
	l.full.setPenalty(pen)
	n := l.p.Len()
	x0 := make([]float64, n)
	l.p.flatten(x0)
	var lastX []float64
	var lastF float64
	lastG := make([]float64, n)
	var evalErr error
	eval := func(x []float64) {
		if lastX != nil && floatsEqual(x, lastX) {
			return
		}
		if evalErr != nil {
			return
		}
		if err := ctx.Err(); err != nil {
			evalErr = err
		}
		l.p.unflatten(x)
		f, err := l.full.eval(lastG)
		if err != nil && evalErr == nil {
			evalErr = err
		}
		if evalErr != nil {
			f = math.NaN()
		}
		lastF = f
		lastX = append(lastX[:0], x...)
	}
	tol := &tolerance{tol: l.o.Tol}
	var conv optimize.Converger = tol
	var stop *earlyStop
	if l.o.earlyStopping() && l.val != nil {
		stop = &earlyStop{tolerance: tol, val: l.val, p: l.p, patience: l.o.Patience}
		conv = stop
	}
	problem := optimize.Problem{
		Func: func(x []float64) float64 { eval(x); return lastF },
		Grad: func(g, x []float64) { eval(x); copy(g, lastG) },
	}
	settings := &optimize.Settings{MajorIterations: l.o.MaxIter, FuncEvaluations: 3 * l.o.MaxIter, Converger: conv, GradientThreshold: l.o.Tol}
	settings.Recorder = iterations{l.o}
	// Moré-Thuente is the line search L-BFGS is usually paired with (as in
	// scipy); gonum's default bisection takes many more evaluations. Near
	// the optimum the float32 loss is flat to its precision and the search
	// fails there: a step tolerance of 1e-4 (not 1e-10) makes it fail in a
	// dozen evaluations rather than a hundred, at the same point.
	ls := &optimize.MoreThuente{StepTolerance: 1e-4}
	res, err := optimize.Minimize(problem, x0, settings, &optimize.LBFGS{Store: 10, Linesearcher: ls})
	if evalErr != nil {
		return CurvePoint{}, evalErr
	}
	if res == nil {
		return CurvePoint{}, fmt.Errorf("L-BFGS: %w", err)
	}
	pt := CurvePoint{Lambda: pen.Lambda, Iterations: res.Stats.MajorIterations, Kept: res.Stats.MajorIterations, Evaluations: res.Stats.FuncEvaluations}
	switch {
	case stop != nil && stop.stopped && stop.best != nil:
		// Early stopping (the MLP) restores the best iterate on validation.
		l.p.unflatten(stop.best)
		pt.EarlyStopped, pt.Kept = true, stop.bestIter
	default:
		l.p.unflatten(res.X)
		pt.Converged = res.Status == optimize.GradientThreshold || res.Status == optimize.FunctionConvergence
		if err != nil {
			// The line search found no lower point: the loss is flat to
			// float32 precision, as close to the optimum as it gets.
			pt.Converged = true
			l.o.logf("lambda %.3g: L-BFGS ended at the precision limit (%v)", pen.Lambda, err)
		}
	}
	if f, err := l.full.eval(lastG); err == nil {
		pt.TrainLoss = f
		for _, g := range lastG {
			pt.GradNorm = math.Max(pt.GradNorm, math.Abs(g))
		}
	}
	if l.val != nil {
		if pt.ValLoss, pt.ValAccuracy, err = l.val.eval(); err != nil {
			return pt, err
		}
	}
	pt.Seconds = time.Since(start).Seconds()
	return pt, nil
}

func floatsEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// tolerance ends a fit when the loss fell by at most tol, relative, over
// the last lossHistory iterations (Spark's tol; the gradient side is
// gonum's GradientThreshold).
type tolerance struct {
	tol  float64
	hist []float64
}

func (t *tolerance) Init(dim int) { t.hist = t.hist[:0] }

func (t *tolerance) Converged(loc *optimize.Location) optimize.Status {
	t.hist = append(t.hist, loc.F)
	if n := len(t.hist); n > lossHistory {
		old := t.hist[n-1-lossHistory]
		if old-loc.F <= t.tol*math.Abs(loc.F) {
			return optimize.FunctionConvergence
		}
	}
	return optimize.NotTerminated
}

// earlyStop adds to the tolerance an end when the validation loss has not
// improved for patience iterations (the MLP, which is not convex).
type earlyStop struct {
	*tolerance
	val      *evaluator
	p        *Params
	patience int
	best     []float64
	bestLoss float64
	bestIter int
	iter     int
	since    int
	stopped  bool
}

func (s *earlyStop) Init(dim int) {
	s.tolerance.Init(dim)
	s.best, s.bestLoss, s.bestIter, s.iter, s.since, s.stopped = nil, math.Inf(1), 0, 0, 0, false
}

func (s *earlyStop) Converged(loc *optimize.Location) optimize.Status {
	if st := s.tolerance.Converged(loc); st != optimize.NotTerminated {
		return st // the fit keeps where it ended
	}
	s.p.unflatten(loc.X)
	vl, _, err := s.val.eval()
	if err != nil {
		return optimize.Failure
	}
	if vl < s.bestLoss-1e-9 {
		s.bestLoss, s.since, s.bestIter = vl, 0, s.iter
		s.best = append(s.best[:0], loc.X...)
	} else if s.since++; s.since >= s.patience {
		s.stopped = true
		return optimize.FunctionConvergence
	}
	s.iter++
	return optimize.NotTerminated
}

// chunk is a view of up to fullBatch.size rows with their targets.
type chunk struct {
	x, t, sw []float32
	n        int
}

// fullBatch evaluates the loss and gradients over whole training
// matrices (train, or train and validation for a refit), in chunks of
// rows spread over one graph per core. Each graph reads views of the
// matrices (no copies) and keeps its temporaries chunk sized; the sums run
// in a fixed order, so results do not depend on scheduling.
type fullBatch struct {
	d, k   int
	size   int
	chunks []chunk
	nets   []*net
	grads  [][]float64 // per worker
	losses []float64
	pen    Penalty
}

func newFullBatch(p *Params, data []*Dataset, cw []float32, smooth float64, workers int) (*fullBatch, error) {
	const chunkRows = 4096
	total := 0
	var y []int32
	for _, ds := range data {
		total += ds.N
		y = append(y, ds.Y[:ds.N]...)
	}
	// Chunks of at most chunkRows, and at least one per worker: a small
	// matrix still keeps every core busy.
	workers = max(1, workers)
	f := &fullBatch{d: p.D, k: p.K, size: min(chunkRows, max(1, (total+workers-1)/workers))}
	// Sample weights are normalized over all the rows together.
	t, sw := make([]float32, total*p.K), make([]float32, total)
	fillTargets(t, sw, y, total, p.K, cw)
	off := 0
	for _, ds := range data {
		for lo := 0; lo < ds.N; lo += f.size {
			hi := min(lo+f.size, ds.N)
			ch := chunk{x: ds.X[lo*p.D : hi*p.D], t: t[(off+lo)*p.K : (off+hi)*p.K], sw: sw[off+lo : off+hi], n: hi - lo}
			if ch.n < f.size {
				// A short last chunk, padded once with zero-weight rows (the
				// rows do not change while this fullBatch lives).
				ch.x, ch.t, ch.sw = padTo(ch.x, f.size*p.D), padTo(ch.t, f.size*p.K), padTo(ch.sw, f.size)
			}
			f.chunks = append(f.chunks, ch)
		}
		off += ds.N
	}
	workers = min(workers, max(1, len(f.chunks)))
	for w := 0; w < workers; w++ {
		nt, err := newNet(f.size, p, true, smooth)
		if err != nil {
			return nil, err
		}
		f.nets = append(f.nets, nt)
		f.grads = append(f.grads, make([]float64, p.Len()))
	}
	f.losses = make([]float64, workers)
	return f, nil
}

func (f *fullBatch) setPenalty(pen Penalty) { f.pen = pen }

// eval returns the penalized loss and writes its gradient into grad.
func (f *fullBatch) eval(grad []float64) (float64, error) {
	errs := make([]error, len(f.nets))
	var wg sync.WaitGroup
	for w, nt := range f.nets {
		wg.Add(1)
		go func(w int, nt *net) {
			defer wg.Done()
			g := f.grads[w]
			clear(g)
			f.losses[w] = 0
			for ci := w; ci < len(f.chunks); ci += len(f.nets) {
				ch := f.chunks[ci]
				// The penalty enters once: in the first chunk.
				if ci == 0 {
					nt.setPenalty(f.pen)
				} else {
					nt.setPenalty(Penalty{})
				}
				if err := nt.feed(ch.x, ch.t, ch.sw); err != nil {
					errs[w] = err
					return
				}
				if err := nt.run(); err != nil {
					errs[w] = err
					return
				}
				f.losses[w] += nt.rowLoss()
				i := 0
				for _, gn := range nt.grads {
					for _, v := range gn.Value().Data().([]float32) {
						g[i] += float64(v)
						i++
					}
				}
			}
		}(w, nt)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	clear(grad)
	loss := f.nets[0].penaltyValue(f.pen)
	for w := range f.nets {
		loss += f.losses[w]
		for i, v := range f.grads[w] {
			grad[i] += v
		}
	}
	return loss, nil
}

func padTo(s []float32, n int) []float32 {
	out := make([]float32, n)
	copy(out, s)
	return out
}
