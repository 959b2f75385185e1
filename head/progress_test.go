package head

import (
	"context"
	"fmt"
	"testing"
)

// progressLog records what a Progress hears, as lines.
type progressLog struct {
	lines []string
	last  int // the current fit's last iteration
}

func (p *progressLog) Fit(f Fit) {
	p.lines = append(p.lines, fmt.Sprintf("fit %d/%d %g refit=%v", f.Index, f.Count, f.Lambda, f.Refit))
	p.last = 0
}

func (p *progressLog) Iteration(it, max int) {
	if it != p.last+1 || it > max {
		p.lines = append(p.lines, fmt.Sprintf("iteration %d of %d after %d", it, max, p.last))
	}
	p.last = it
}

// Each fit of the path is announced with its penalty, in order, then the
// refit; each fit's iterations come one by one, never past the cap, with
// L-BFGS and with Adam.
func TestTrainReportsProgress(t *testing.T) {
	train, val := noisy(300, 6, 3, 1), noisy(120, 6, 3, 2)
	for _, solver := range []string{"lbfgs", "adam"} {
		t.Run(solver, func(t *testing.T) {
			p := &progressLog{}
			res, err := Train(context.Background(), train, val, 3, Options{Solver: solver, MaxIter: 15, Grid: []float64{1, 0.1, 0.01}, Progress: p})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i, pt := range res.Curve {
				want = append(want, fmt.Sprintf("fit %d/3 %g refit=false", i+1, pt.Lambda))
			}
			want = append(want, fmt.Sprintf("fit 1/1 %g refit=true", res.Lambda))
			if fmt.Sprint(p.lines) != fmt.Sprint(want) {
				t.Errorf("heard %q\nwant  %q", p.lines, want)
			}
			// gonum calls a Recorder for every major iteration but the one
			// that ends the fit.
			if its := res.RefitPoint.Iterations; p.last == 0 || p.last > its || p.last < its-1 {
				t.Errorf("the refit's last iteration heard was %d (it ran %v)", p.last, res.RefitPoint)
			}
		})
	}
}
