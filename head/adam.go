package head

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"time"
)

// source is the training data of Adam: one pass per call, in an order
// drawn from rng.
type source interface {
	each(ctx context.Context, batch int, rng *rand.Rand, fn func(x []float32, y []int32, n int) error) error
}

// memorySource passes over datasets held in memory (train, or train and
// validation for a refit), rows shuffled across them.
type memorySource struct{ data []*Dataset }

func (m *memorySource) each(ctx context.Context, batch int, rng *rand.Rand, fn func(x []float32, y []int32, n int) error) error {
	total := 0
	for _, ds := range m.data {
		total += ds.N
	}
	if total == 0 {
		return nil
	}
	d := m.data[0].D
	order := rng.Perm(total)
	bx := make([]float32, batch*d)
	by := make([]int32, batch)
	for i := 0; i < total; i += batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := min(batch, total-i)
		for j := 0; j < k; j++ {
			ds, r := m.row(order[i+j])
			copy(bx[j*d:(j+1)*d], ds.X[r*d:(r+1)*d])
			by[j] = ds.Y[r]
		}
		if err := fn(bx[:k*d], by[:k], k); err != nil {
			return err
		}
	}
	return nil
}

// row maps an index over all the datasets to one of them and its row.
func (m *memorySource) row(i int) (*Dataset, int) {
	for _, ds := range m.data {
		if i < ds.N {
			return ds, i
		}
		i -= ds.N
	}
	panic("head: row index out of range")
}

// streamSource streams the training table, standardizing on the fly; a
// refit adds the validation rows (in memory, standardized) after it.
type streamSource struct {
	s     *Stream
	std   *Standardizer
	extra *memorySource
}

func (s *streamSource) each(ctx context.Context, batch int, rng *rand.Rand, fn func(x []float32, y []int32, n int) error) error {
	err := s.s.Each(ctx, batch, rng.Perm, func(x []float32, y []int32, n int) error {
		s.std.Apply(x, n)
		return fn(x, y, n)
	})
	if err != nil || s.extra == nil {
		return err
	}
	return s.extra.each(ctx, batch, rng, fn)
}

// adam fits by mini-batch Adam on the graph's gradients; the L1 part of
// the elastic net is a proximal step (soft thresholding) after each
// update. With validation rows it stops early and keeps the best epoch.
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

func newAdam(p *Params, src source, val *Dataset, cw []float32, o *Options) (*adam, error) {
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
		a.o.progress().Iteration(epoch+1, a.o.MaxIter)
		pt.TrainLoss = sum / float64(max(batches, 1))
		if a.val == nil {
			pt.Kept = epoch + 1
			continue
		}
		vl, _, err := a.val.eval()
		if err != nil {
			return pt, err
		}
		if vl < bestLoss-1e-9 {
			bestLoss, since = vl, 0
			best = a.p.Clone()
			pt.Kept = epoch + 1
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
