package head

import "math"

// Standardizer maps features to zero mean and unit variance (training
// statistics); constant features keep a scale of 1.
type Standardizer struct {
	Mean []float32 `json:"mean"`
	Std  []float32 `json:"std"`
}

// moments accumulates per-feature sums (float64) for a Standardizer; two
// of them add up, so the statistics of train + validation come from one
// pass over each.
type moments struct {
	sum, sq []float64
	n       float64
}

func newMoments(d int) *moments { return &moments{sum: make([]float64, d), sq: make([]float64, d)} }

func (m *moments) add(x []float32, rows int) {
	d := len(m.sum)
	for i := 0; i < rows; i++ {
		r := x[i*d : (i+1)*d]
		for j, v := range r {
			m.sum[j] += float64(v)
			m.sq[j] += float64(v) * float64(v)
		}
	}
	m.n += float64(rows)
}

func (m *moments) plus(o *moments) *moments {
	out := newMoments(len(m.sum))
	for j := range m.sum {
		out.sum[j] = m.sum[j] + o.sum[j]
		out.sq[j] = m.sq[j] + o.sq[j]
	}
	out.n = m.n + o.n
	return out
}

func (m *moments) standardizer() *Standardizer {
	d := len(m.sum)
	s := &Standardizer{Mean: make([]float32, d), Std: make([]float32, d)}
	n := math.Max(m.n, 1)
	for j := range m.sum {
		mean := m.sum[j] / n
		v := m.sq[j]/n - mean*mean
		s.Mean[j] = float32(mean)
		s.Std[j] = 1
		if v > 1e-12 {
			s.Std[j] = float32(math.Sqrt(v))
		}
	}
	return s
}

func datasetMoments(ds *Dataset) *moments {
	m := newMoments(ds.D)
	m.add(ds.X, ds.N)
	return m
}

// FitStandardizer computes the statistics of ds (float64 accumulation).
func FitStandardizer(ds *Dataset) *Standardizer { return datasetMoments(ds).standardizer() }

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

// restandardize maps n rows of x, standardized by from, to the scale of
// to, in place (one affine map per feature, in float64).
func restandardize(x []float32, n int, from, to *Standardizer) {
	if from == nil || to == nil {
		return
	}
	d := len(from.Mean)
	scale, shift := make([]float64, d), make([]float64, d)
	for j := range scale {
		scale[j] = float64(from.Std[j]) / float64(to.Std[j])
		shift[j] = (float64(from.Mean[j]) - float64(to.Mean[j])) / float64(to.Std[j])
	}
	for i := 0; i < n; i++ {
		r := x[i*d : (i+1)*d]
		for j, v := range r {
			r[j] = float32(float64(v)*scale[j] + shift[j])
		}
	}
}

// moveParams returns parameters that compute on features standardized by
// to what p computes on features standardized by from (the first layer
// absorbs the change; from or to nil is the identity scale).
func moveParams(p *Params, from, to *Standardizer) *Params {
	q := Fold(p, from) // raw features in
	if to == nil {
		return q
	}
	w, b, cols := q.W, q.B, q.K
	if q.H > 0 {
		w, b, cols = q.W1, q.B1, q.H
	}
	for c := 0; c < cols; c++ {
		shift := float64(b[c])
		for j := 0; j < q.D; j++ {
			raw := float64(w[j*cols+c])
			shift += float64(to.Mean[j]) * raw
			w[j*cols+c] = float32(raw * float64(to.Std[j]))
		}
		b[c] = float32(shift)
	}
	return q
}
