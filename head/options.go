package head

import (
	"fmt"
	"math"
)

// Options configure training. The zero value trains logistic regression
// with L-BFGS to convergence on standardized features, chooses the penalty
// on validation and refits on train + validation.
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
	// NoRefit keeps the fit on train alone; by default the chosen penalty
	// is refit on train + validation (Spark's TrainValidationSplit).
	NoRefit bool
	// ClassWeight "none" (or "") or "balanced": n / (K * n_class).
	ClassWeight string
	// Hidden > 0 adds a ReLU hidden layer of that width (an MLP head).
	Hidden int
	// MaxIter caps L-BFGS iterations per fit (default 200) or Adam epochs
	// (default 30).
	MaxIter   int
	BatchSize int     // Adam; default 256
	LearnRate float64 // Adam; default 1e-3
	// Patience stops an Adam or MLP fit after this many epochs (Adam,
	// default 4) or iterations (MLP with L-BFGS, default 10) without a
	// better validation loss. Logistic regression with L-BFGS is convex and
	// runs to Tol instead.
	Patience int
	Seed     int64
	// Tol ends an L-BFGS fit (Spark's tol): when the largest gradient
	// component is at most Tol, or the loss fell by at most Tol (relative)
	// over the last 10 iterations; default 1e-6.
	Tol float64
	// MemoryBudget is the largest training matrix (bytes) that "auto"
	// loads for L-BFGS; default 4 GiB.
	MemoryBudget int64
	// Log receives one line per fit; nil drops them.
	Log func(string)
	// Progress hears of each fit and iteration as they go; nil: nobody.
	Progress Progress
}

// Defaults of Options' zero fields.
const (
	DefaultTol          = 1e-6
	DefaultBatchSize    = 256
	DefaultLearnRate    = 1e-3
	DefaultMemoryBudget = 4 << 30
	DefaultClassWeight  = "none"
	DefaultSolver       = "auto"
)

// DefaultOptions are the options the CLI and job files start from: the
// zero value with the defaults that do not depend on the solver written
// out (MaxIter and Patience do, and stay 0 until Train picks the solver).
func DefaultOptions() Options {
	return Options{Solver: DefaultSolver, ClassWeight: DefaultClassWeight, BatchSize: DefaultBatchSize,
		LearnRate: DefaultLearnRate, Tol: DefaultTol, Seed: 1}
}

// DefaultGrid is the lambda grid searched when no RegParam is given.
func DefaultGrid() []float64 {
	var g []float64
	for e := 0.0; e >= -6; e -= 0.5 {
		g = append(g, math.Pow(10, e))
	}
	return g
}

// OptionError is a bad training option: Setting names it as a job file
// does (max_iter), Msg says what was expected.
type OptionError struct{ Setting, Msg string }

func (e *OptionError) Error() string { return e.Setting + ": " + e.Msg }

func optErr(setting, format string, args ...any) error {
	return &OptionError{setting, fmt.Sprintf(format, args...)}
}

// Validate checks the options' values; 0 and "" stand for the defaults.
// It is the one home of these checks: the CLI and job files call it too.
func (o *Options) Validate() error {
	switch o.Solver {
	case "", "auto", "lbfgs", "adam":
	default:
		return optErr("solver", "expected auto, lbfgs or adam, got %q", o.Solver)
	}
	switch o.ClassWeight {
	case "", "none", "balanced":
	default:
		return optErr("class_weight", "expected none or balanced, got %q", o.ClassWeight)
	}
	if r := o.RegParam; r != nil && !nonNegative(*r) {
		return optErr("reg_param", "expected a number >= 0, got %v", *r)
	}
	for _, g := range o.Grid {
		if !nonNegative(g) {
			return optErr("grid", "expected numbers >= 0, got %v", g)
		}
	}
	if !(o.ElasticNet >= 0 && o.ElasticNet <= 1) {
		return optErr("elastic_net_param", "expected a value in [0, 1], got %v", o.ElasticNet)
	}
	if o.Hidden < 0 {
		return optErr("hidden", "expected a number of hidden units (0 for none), got %d", o.Hidden)
	}
	for _, s := range []struct {
		name string
		v    int
	}{{"max_iter", o.MaxIter}, {"patience", o.Patience}, {"batch_size", o.BatchSize}} {
		if s.v < 0 {
			return optErr(s.name, "expected a positive integer, got %d", s.v)
		}
	}
	if !nonNegative(o.LearnRate) {
		return optErr("learning_rate", "expected a number > 0, got %v", o.LearnRate)
	}
	if !nonNegative(o.Tol) {
		return optErr("tol", "expected a number > 0, got %v", o.Tol)
	}
	return nil
}

func nonNegative(v float64) bool { return v >= 0 && !math.IsInf(v, 1) }

// ResolveSolver is the solver Train uses for a training matrix of rows x
// dim: "auto" picks lbfgs when the matrix fits in MemoryBudget.
func (o *Options) ResolveSolver(rows, dim int) string {
	if o.Solver != "" && o.Solver != "auto" {
		return o.Solver
	}
	budget := o.MemoryBudget
	if budget <= 0 {
		budget = DefaultMemoryBudget
	}
	if int64(rows)*int64(dim)*4 > budget {
		return "adam"
	}
	return "lbfgs"
}

// withDefaults fills the zero fields for the solver.
func (o *Options) withDefaults(solver string) {
	adam := solver == "adam"
	o.Solver = solver
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
		o.BatchSize = DefaultBatchSize
	}
	if o.LearnRate <= 0 {
		o.LearnRate = DefaultLearnRate
	}
	if o.Tol <= 0 {
		o.Tol = DefaultTol
	}
	if len(o.Grid) == 0 {
		o.Grid = DefaultGrid()
	}
}

// prepare validates o, resolves the solver and fills the defaults; val
// is needed to choose the penalty.
func (o *Options) prepare(solver string, val *Dataset) error {
	if err := o.Validate(); err != nil {
		return err
	}
	o.withDefaults(solver)
	if o.RegParam == nil && (val == nil || val.N == 0) {
		return optErr("reg_param", "no validation rows to choose it on; give a validation set or a reg_param")
	}
	return nil
}

// earlyStopping says whether fits stop on validation loss: Adam and the
// MLP. Logistic regression with L-BFGS is convex and runs to Tol.
func (o *Options) earlyStopping() bool { return o.Solver == "adam" || o.Hidden > 0 }

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(fmt.Sprintf(format, args...))
	}
}
