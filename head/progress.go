package head

import "gonum.org/v1/gonum/optimize"

// Progress hears how training goes, for a person watching (the CLI shows
// it as a bar or log lines); head never prints. Calls come in order from
// the goroutine that called Train or TrainStream.
type Progress interface {
	// Fit says a fit begins: one penalty of the path, or the refit.
	Fit(f Fit)
	// Iteration says the current fit finished an iteration (L-BFGS) or an
	// epoch (Adam): it of at most max.
	Iteration(it, max int)
}

// Fit is one fit of the penalty path, or the refit of the chosen penalty
// on train + validation after it.
type Fit struct {
	Index  int     // from 1
	Count  int     // fits in the path (the grid, or 1); a path may stop early
	Lambda float64 // the penalty (Spark's regParam)
	Refit  bool
}

// noProgress is the Progress of Options without one.
type noProgress struct{}

func (noProgress) Fit(Fit)            {}
func (noProgress) Iteration(int, int) {}

func (o *Options) progress() Progress {
	if o.Progress == nil {
		return noProgress{}
	}
	return o.Progress
}

// iterations passes L-BFGS's major iterations on to the Progress (gonum
// calls a Recorder at each step of the optimization).
type iterations struct{ o *Options }

func (iterations) Init() error { return nil }

func (r iterations) Record(_ *optimize.Location, op optimize.Operation, st *optimize.Stats) error {
	if op == optimize.MajorIteration {
		r.o.progress().Iteration(st.MajorIterations, r.o.MaxIter)
	}
	return nil
}
