package head

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"gonum.org/v1/gonum/optimize"
)

// Options configure training. The zero value trains logistic regression
// with L-BFGS, standardized features and the penalty chosen on validation.
type Options struct {
	// Solver: "lbfgs" (full batch, the data in memory), "adam" (mini-batch)
	// or "" / "auto" (lbfgs when the training matrix fits in MemoryBudget).
	Solver string
	// RegParam is Spark's regParam (lambda); nil chooses it on validation
	// over Grid.
	RegParam *float64
	// Grid is the lambda grid; default 1e-6 .. 1, two points per decade.
	Grid []float64
	// ElasticNet is Spark's elasticNetParam: 0 is L2, 1 is L1.
	ElasticNet    float64
	NoStandardize bool
	// ClassWeight "balanced" weighs classes by n / (K * n_class).
	ClassWeight string
	// Hidden > 0 adds a ReLU hidden layer of that width (an MLP head).
	Hidden int
	// MaxIter is L-BFGS iterations per fit (default 200) or Adam epochs
	// (default 30).
	MaxIter   int
	BatchSize int     // Adam; default 256
	LearnRate float64 // Adam; default 1e-3
	// Patience stops a fit after this many iterations (L-BFGS, default 10)
	// or epochs (Adam, default 4) without a better validation loss.
	Patience int
	Seed     int64
	// Tol stops L-BFGS when the loss changes by less than this, relatively,
	// over 5 iterations; default 1e-7.
	Tol float64
	// MemoryBudget is the largest training matrix (bytes) that "auto"
	// loads for L-BFGS; default 4 GiB.
	MemoryBudget int64
	// Log receives one line per fit; nil drops them.
	Log func(string)
}

// DefaultGrid is the lambda grid searched when no RegParam is given.
func DefaultGrid() []float64 {
	var g []float64
	for e := 0.0; e >= -6; e -= 0.5 {
		g = append(g, math.Pow(10, e))
	}
	return g
}

func (o *Options) defaults(adam bool) {
	if o.MaxIter <= 0 {
		o.MaxIter = 200
		if adam {
			o.MaxIter = 30
		}
	}
	if o.Patience <= 0 {
		o.Patience = 10
		if adam {
			o.Patience = 4
		}
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.LearnRate <= 0 {
		o.LearnRate = 1e-3
	}
	if o.Tol <= 0 {
		o.Tol = 1e-7
	}
	if len(o.Grid) == 0 {
		o.Grid = DefaultGrid()
	}
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(fmt.Sprintf(format, args...))
	}
}

// OptionError is a bad training option; its text names the option.
type OptionError struct{ Msg string }

func (e *OptionError) Error() string { return e.Msg }

func optErr(format string, args ...any) error { return &OptionError{fmt.Sprintf(format, args...)} }

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
}

// Result is a trained head.
type Result struct {
	Params       *Params
	Std          *Standardizer // nil without standardization
	Lambda       float64
	Alpha        float64
	Solver       string
	BLAS         string
	Curve        []CurvePoint
	Iterations   int
	MaxIter      int // per fit, after defaults
	TrainSeconds float64
}

// Standardizer maps features to zero mean and unit variance (train
// statistics); constant features keep a scale of 1.
type Standardizer struct {
	Mean []float32 `json:"mean"`
	Std  []float32 `json:"std"`
}

// FitStandardizer computes the statistics of ds (float64 accumulation).
func FitStandardizer(ds *Dataset) *Standardizer {
	return fitStd(ds.D, func(fn func(x []float32, n int)) { fn(ds.X, ds.N) })
}

func fitStd(d int, each func(func(x []float32, n int))) *Standardizer {
	sum := make([]float64, d)
	sq := make([]float64, d)
	var n float64
	each(func(x []float32, rows int) {
		for i := 0; i < rows; i++ {
			r := x[i*d : (i+1)*d]
			for j, v := range r {
				sum[j] += float64(v)
				sq[j] += float64(v) * float64(v)
			}
		}
		n += float64(rows)
	})
	s := &Standardizer{Mean: make([]float32, d), Std: make([]float32, d)}
	for j := range sum {
		m := sum[j] / math.Max(n, 1)
		v := sq[j]/math.Max(n, 1) - m*m
		s.Mean[j] = float32(m)
		s.Std[j] = 1
		if v > 1e-12 {
			s.Std[j] = float32(math.Sqrt(v))
		}
	}
	return s
}

// Apply standardizes n rows of x in place.
func (s *Standardizer) Apply(x []float32, n int) {
	if s == nil {
		return
	}
	d := len(s.Mean)
	for i := 0; i < n; i++ {
		r := x[i*d : (i+1)*d]
		for j := range r {
			r[j] = (r[j] - s.Mean[j]) / s.Std[j]
		}
	}
}

// ClassWeights returns per-class weights for mode ("" or "balanced").
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
	return nil, optErr("class_weight: expected none or balanced, got %q", mode)
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

// Train fits a head on train (held in memory, standardized in place when
// standardization is on; val too) and selects the penalty on val. Without
// validation rows the penalty must be given.
func Train(ctx context.Context, train, val *Dataset, k int, o Options) (*Result, error) {
	solver := o.Solver
	if solver == "" || solver == "auto" {
		solver = "lbfgs"
		if o.MemoryBudget > 0 && int64(train.N)*int64(train.D)*4 > o.MemoryBudget {
			solver = "adam"
		}
	}
	if solver != "lbfgs" && solver != "adam" {
		return nil, optErr("solver: expected auto, lbfgs or adam, got %q", o.Solver)
	}
	o.defaults(solver == "adam")
	if err := checkOptions(&o, val); err != nil {
		return nil, err
	}
	res := &Result{Solver: solver, BLAS: UseBLAS(), Alpha: o.ElasticNet, MaxIter: o.MaxIter}
	start := time.Now()
	defer debug.SetGCPercent(debug.SetGCPercent(gcPercent))
	if !o.NoStandardize {
		res.Std = FitStandardizer(train)
		res.Std.Apply(train.X, train.N)
		if val != nil {
			res.Std.Apply(val.X, val.N)
		}
	}
	cw, err := ClassWeights(train.Y, k, o.ClassWeight)
	if err != nil {
		return nil, err
	}
	p := NewParams(train.D, o.Hidden, k, o.Seed)
	var fit fitter
	if solver == "lbfgs" {
		fit, err = newLBFGS(p, train, val, cw, &o)
	} else {
		fit, err = newAdam(p, &memorySource{ds: train}, train.D, val, cw, &o)
	}
	if err != nil {
		return nil, err
	}
	if err := path(ctx, fit, p, res, &o); err != nil {
		return nil, err
	}
	res.TrainSeconds = time.Since(start).Seconds()
	return res, nil
}

// TrainStream fits with Adam on a table that is never loaded whole.
func TrainStream(ctx context.Context, src *Stream, val *Dataset, k int, o Options) (*Result, error) {
	o.defaults(true)
	if err := checkOptions(&o, val); err != nil {
		return nil, err
	}
	res := &Result{Solver: "adam", BLAS: UseBLAS(), Alpha: o.ElasticNet, MaxIter: o.MaxIter}
	start := time.Now()
	defer debug.SetGCPercent(debug.SetGCPercent(gcPercent))
	seq := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	// One pass for the statistics (and the class counts of balanced weights).
	var ys []int32
	var passErr error
	std := fitStd(src.T.Dim, func(fn func(x []float32, n int)) {
		passErr = src.Each(ctx, 4096, seq, func(x []float32, y []int32, n int) error {
			if src.T.Dim == 0 {
				return errors.New("empty table")
			}
			fn(x, n)
			ys = append(ys, y[:n]...)
			return nil
		})
	})
	if passErr != nil {
		return nil, passErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !o.NoStandardize {
		res.Std = std
		if val != nil {
			res.Std.Apply(val.X, val.N)
		}
	}
	cw, err := ClassWeights(ys, k, o.ClassWeight)
	if err != nil {
		return nil, err
	}
	p := NewParams(src.T.Dim, o.Hidden, k, o.Seed)
	fit, err := newAdam(p, &streamSource{s: src, std: res.Std}, src.T.Dim, val, cw, &o)
	if err != nil {
		return nil, err
	}
	if err := path(ctx, fit, p, res, &o); err != nil {
		return nil, err
	}
	res.TrainSeconds = time.Since(start).Seconds()
	return res, nil
}

func checkOptions(o *Options, val *Dataset) error {
	if o.ElasticNet < 0 || o.ElasticNet > 1 {
		return optErr("elastic_net_param: expected a value in [0, 1], got %v", o.ElasticNet)
	}
	if o.RegParam != nil && *o.RegParam < 0 {
		return optErr("reg_param: expected a value >= 0, got %v", *o.RegParam)
	}
	if o.RegParam == nil && (val == nil || val.N == 0) {
		return optErr("reg_param: no validation rows to choose it on; give a validation set or a reg_param")
	}
	return nil
}

// fitter fits the parameters (in place, warm-started) for one penalty.
type fitter interface {
	fit(ctx context.Context, pen Penalty) (CurvePoint, error)
}

// path fits every lambda of the grid, strongest first, each warm-started
// from the previous solution, and keeps the one with the best validation
// loss. A given RegParam is a path of one.
func path(ctx context.Context, f fitter, p *Params, res *Result, o *Options) error {
	grid := o.Grid
	if o.RegParam != nil {
		grid = []float64{*o.RegParam}
	}
	var best *Params
	bestLoss := math.Inf(1)
	worse := 0
	for _, lambda := range grid {
		pt, err := f.fit(ctx, Penalty{Lambda: lambda, Alpha: o.ElasticNet})
		if err != nil {
			return err
		}
		pt.NonZeroWeight = nonZero(p)
		res.Curve = append(res.Curve, pt)
		res.Iterations += pt.Iterations
		o.logf("lambda %.3g: validation loss %.4f, accuracy %.4f, %d iterations in %.1fs", lambda, pt.ValLoss, pt.ValAccuracy, pt.Iterations, pt.Seconds)
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

// lbfgs fits on the whole training matrix with gonum's L-BFGS driving the
// graph's loss and gradients; the L1 part of the elastic net is smoothed.
type lbfgs struct {
	p    *Params
	full *fullBatch
	val  *evaluator
	o    *Options
}

// gcPercent is the garbage collector's target while training: the graphs
// allocate their temporaries at every run, and with the training matrix
// live the default (100) would let garbage grow to the matrix's size.
const gcPercent = 20

// l1Smooth is the epsilon of sqrt(w^2 + eps^2) standing in for |w|.
const l1Smooth = 1e-4

// fullBatch evaluates the loss and gradients over the whole training
// matrix, in chunks of rows spread over one graph per core. Each graph
// reads views of the matrix (no copies) and keeps its temporaries chunk
// sized; the sums run in a fixed order, so results do not depend on
// scheduling.
type fullBatch struct {
	ds     *Dataset
	t, sw  []float32 // n x K weighted targets, n weights (normalized over all rows)
	nets   []*net
	chunk  int
	grads  [][]float64 // per worker
	losses []float64
	pen    Penalty
}

func newFullBatch(p *Params, ds *Dataset, cw []float32, smooth float64, workers int) (*fullBatch, error) {
	const chunk = 4096
	c := min(chunk, ds.N)
	nchunks := (ds.N + c - 1) / c
	workers = max(1, min(workers, nchunks))
	f := &fullBatch{ds: ds, chunk: c, t: make([]float32, ds.N*p.K), sw: make([]float32, ds.N)}
	fillTargets(f.t, f.sw, ds.Y, ds.N, p.K, cw)
	for w := 0; w < workers; w++ {
		nt, err := newNet(c, p, true, smooth)
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
	d, k, c := f.ds.D, f.nets[0].p.K, f.chunk
	nchunks := (f.ds.N + c - 1) / c
	errs := make([]error, len(f.nets))
	var wg sync.WaitGroup
	for w, nt := range f.nets {
		wg.Add(1)
		go func(w int, nt *net) {
			defer wg.Done()
			g := f.grads[w]
			clear(g)
			f.losses[w] = 0
			for ci := w; ci < nchunks; ci += len(f.nets) {
				lo, hi := ci*c, min((ci+1)*c, f.ds.N)
				x, t, sw := f.ds.X[lo*d:hi*d], f.t[lo*k:hi*k], f.sw[lo:hi]
				if hi-lo < c { // the short last chunk, padded with zero-weight rows
					x, t, sw = padTo(x, c*d), padTo(t, c*k), padTo(sw, c)
				}
				// The penalty enters once: in the first chunk.
				if ci == 0 {
					nt.setPenalty(f.pen)
				} else {
					nt.setPenalty(Penalty{})
				}
				if err := nt.feed(x, t, sw); err != nil {
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

func newLBFGS(p *Params, train, val *Dataset, cw []float32, o *Options) (*lbfgs, error) {
	smooth := 0.0
	if o.ElasticNet > 0 {
		smooth = l1Smooth
	}
	full, err := newFullBatch(p, train, cw, smooth, runtime.NumCPU())
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
	stop := &earlyStop{val: l.val, p: l.p, patience: l.o.Patience, tol: l.o.Tol}
	problem := optimize.Problem{
		Func: func(x []float64) float64 { eval(x); return lastF },
		Grad: func(g, x []float64) { eval(x); copy(g, lastG) },
	}
	settings := &optimize.Settings{MajorIterations: l.o.MaxIter, FuncEvaluations: 3 * l.o.MaxIter, Converger: stop, GradientThreshold: 1e-8}
	// Moré-Thuente is the line search L-BFGS is usually paired with (as in
	// scipy); gonum's default bisection takes many more evaluations.
	res, err := optimize.Minimize(problem, x0, settings, &optimize.LBFGS{Store: 10, Linesearcher: &optimize.MoreThuente{}})
	if evalErr != nil {
		return CurvePoint{}, evalErr
	}
	if res == nil {
		return CurvePoint{}, fmt.Errorf("L-BFGS: %w", err)
	}
	if err != nil {
		// A line search that can no longer improve ends the fit where it is.
		l.o.logf("lambda %.3g: L-BFGS ended at the precision limit (%v)", pen.Lambda, err)
	}
	// Early stopping restores the best iterate on validation; a fit that
	// converged first keeps its solution (the optimum of the penalized
	// loss, what scikit-learn returns too).
	if stop.stopped && stop.best != nil {
		l.p.unflatten(stop.best)
	} else {
		l.p.unflatten(res.X)
	}
	pt := CurvePoint{Lambda: pen.Lambda, Iterations: res.Stats.MajorIterations, Seconds: time.Since(start).Seconds(), EarlyStopped: stop.stopped}
	if f, err := l.full.eval(lastG); err == nil {
		pt.TrainLoss = f
	}
	if l.val != nil {
		if pt.ValLoss, pt.ValAccuracy, err = l.val.eval(); err != nil {
			return pt, err
		}
	}
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

// earlyStop ends an L-BFGS fit when the validation loss has not improved
// for patience iterations, or the training loss has stopped moving.
type earlyStop struct {
	val      *evaluator
	p        *Params
	patience int
	tol      float64
	best     []float64
	bestLoss float64
	since    int
	stopped  bool
	hist     []float64
}

func (s *earlyStop) Init(dim int) {
	s.best, s.bestLoss, s.since, s.stopped, s.hist = nil, math.Inf(1), 0, false, nil
}

func (s *earlyStop) Converged(loc *optimize.Location) optimize.Status {
	s.hist = append(s.hist, loc.F)
	if n := len(s.hist); n > 5 {
		old := s.hist[n-6]
		if math.Abs(old-loc.F) <= s.tol*math.Max(1, math.Abs(old)) {
			return optimize.FunctionConvergence // the fit keeps its optimum
		}
	}
	if s.val == nil {
		return optimize.NotTerminated
	}
	s.p.unflatten(loc.X)
	vl, _, err := s.val.eval()
	if err != nil {
		return optimize.Failure
	}
	if vl < s.bestLoss-1e-9 {
		s.bestLoss, s.since = vl, 0
		s.best = append(s.best[:0], loc.X...)
	} else if s.since++; s.since >= s.patience {
		s.stopped = true
		return optimize.FunctionConvergence
	}
	return optimize.NotTerminated
}

// source is the training data of Adam: one pass per call, in an order
// drawn from rng.
type source interface {
	each(ctx context.Context, batch int, rng *rand.Rand, fn func(x []float32, y []int32, n int) error) error
}

type memorySource struct{ ds *Dataset }

func (m *memorySource) each(ctx context.Context, batch int, rng *rand.Rand, fn func(x []float32, y []int32, n int) error) error {
	d := m.ds.D
	order := rng.Perm(m.ds.N)
	bx := make([]float32, batch*d)
	by := make([]int32, batch)
	for i := 0; i < m.ds.N; i += batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := min(batch, m.ds.N-i)
		for j := 0; j < k; j++ {
			r := order[i+j]
			copy(bx[j*d:(j+1)*d], m.ds.X[r*d:(r+1)*d])
			by[j] = m.ds.Y[r]
		}
		if err := fn(bx[:k*d], by[:k], k); err != nil {
			return err
		}
	}
	return nil
}

type streamSource struct {
	s   *Stream
	std *Standardizer
}

func (s *streamSource) each(ctx context.Context, batch int, rng *rand.Rand, fn func(x []float32, y []int32, n int) error) error {
	return s.s.Each(ctx, batch, rng.Perm, func(x []float32, y []int32, n int) error {
		s.std.Apply(x, n)
		return fn(x, y, n)
	})
}

// adam fits by mini-batch Adam on the graph's gradients; the L1 part of
// the elastic net is a proximal step (soft thresholding) after each update.
type adam struct {
	p    *Params
	nt   *net
	src  source
	val  *evaluator
	cw   []float32
	o    *Options
	rng  *rand.Rand
	m, v [][]float32
	step int
}

func newAdam(p *Params, src source, d int, val *Dataset, cw []float32, o *Options) (*adam, error) {
	nt, err := newNet(o.BatchSize, p, true, 0)
	if err != nil {
		return nil, err
	}
	ev, err := newEvaluator(p, val)
	if err != nil {
		return nil, err
	}
	a := &adam{p: p, nt: nt, src: src, val: ev, cw: cw, o: o, rng: rand.New(rand.NewSource(o.Seed))}
	for _, s := range p.slices() {
		a.m = append(a.m, make([]float32, len(s)))
		a.v = append(a.v, make([]float32, len(s)))
	}
	return a, nil
}

func (a *adam) fit(ctx context.Context, pen Penalty) (CurvePoint, error) {
	start := time.Now()
	a.nt.setPenalty(Penalty{Lambda: pen.Lambda, Alpha: pen.Alpha})
	const b1, b2, eps = 0.9, 0.999, 1e-8
	lr := a.o.LearnRate
	l1 := float32(lr * pen.Lambda * pen.Alpha)
	weights := a.p.weightSlices()
	isWeight := func(s []float32) bool {
		for _, w := range weights {
			if &w[0] == &s[0] {
				return true
			}
		}
		return false
	}
	best := a.p.Clone()
	bestLoss := math.Inf(1)
	since := 0
	pt := CurvePoint{Lambda: pen.Lambda}
	for epoch := 0; epoch < a.o.MaxIter; epoch++ {
		var sum float64
		var batches int
		err := a.src.each(ctx, a.o.BatchSize, a.rng, func(x []float32, y []int32, n int) error {
			if err := a.nt.setBatch(x, y, n, a.cw); err != nil {
				return err
			}
			if err := a.nt.run(); err != nil {
				return err
			}
			sum += float64(a.nt.loss.Value().Data().(float32))
			batches++
			a.step++
			c1 := 1 - math.Pow(b1, float64(a.step))
			c2 := 1 - math.Pow(b2, float64(a.step))
			for i, g := range a.nt.gradSlices() {
				s, m, v := a.p.slices()[i], a.m[i], a.v[i]
				for j, gj := range g {
					m[j] = b1*m[j] + (1-b1)*gj
					v[j] = b2*v[j] + (1-b2)*gj*gj
					s[j] -= float32(lr * (float64(m[j]) / c1) / (math.Sqrt(float64(v[j])/c2) + eps))
				}
				if l1 > 0 && len(s) > 0 && isWeight(s) {
					for j, w := range s {
						switch {
						case w > l1:
							s[j] = w - l1
						case w < -l1:
							s[j] = w + l1
						default:
							s[j] = 0
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			return pt, err
		}
		pt.Iterations = epoch + 1
		pt.TrainLoss = sum / float64(max(batches, 1))
		if a.val == nil {
			continue
		}
		vl, _, err := a.val.eval()
		if err != nil {
			return pt, err
		}
		if vl < bestLoss-1e-9 {
			bestLoss, since = vl, 0
			best = a.p.Clone()
		} else if since++; since >= a.o.Patience {
			pt.EarlyStopped = true
			break
		}
	}
	if a.val != nil && math.IsInf(bestLoss, 1) {
		// Not one finite validation loss: keeping the starting point would
		// hand back an untrained head as if it were trained.
		return pt, fmt.Errorf("training diverged: the validation loss was not a finite number in any epoch (reg_param %g)", pen.Lambda)
	}
	if a.val != nil {
		copyParams(a.p, best)
		var err error
		if pt.ValLoss, pt.ValAccuracy, err = a.val.eval(); err != nil {
			return pt, err
		}
	}
	pt.Seconds = time.Since(start).Seconds()
	return pt, nil
}

// copyParams copies src into dst in place (dst's slices back the graphs).
func copyParams(dst, src *Params) {
	for i, s := range dst.slices() {
		copy(s, src.slices()[i])
	}
}
