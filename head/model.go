package head

import (
	"fmt"
	"math"
	"math/rand"

	_ "go4.org/unsafe/assume-no-moving-gc" // Gorgonia needs the newer pin on Go 1.26
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Params are the head's weights, float32, row-major. With H = 0 the head is
// multinomial logistic regression (W is D x K); otherwise W1 (D x H) and B1
// feed a ReLU layer and W is H x K.
type Params struct {
	D, H, K int
	W1, B1  []float32
	W, B    []float32
}

// NewParams makes zero weights for logistic regression, or He-uniform
// seeded weights for the MLP.
func NewParams(d, h, k int, seed int64) *Params {
	p := &Params{D: d, H: h, K: k}
	in := d
	if h > 0 {
		rng := rand.New(rand.NewSource(seed))
		lim := float32(math.Sqrt(6 / float64(d)))
		p.W1 = make([]float32, d*h)
		for i := range p.W1 {
			p.W1[i] = (rng.Float32()*2 - 1) * lim
		}
		p.B1 = make([]float32, h)
		in = h
		p.W = make([]float32, in*k)
		lim2 := float32(math.Sqrt(6 / float64(h+k)))
		for i := range p.W {
			p.W[i] = (rng.Float32()*2 - 1) * lim2
		}
	} else {
		p.W = make([]float32, in*k)
	}
	p.B = make([]float32, k)
	return p
}

// slices returns the parameter blocks in a fixed order.
func (p *Params) slices() [][]float32 {
	if p.H > 0 {
		return [][]float32{p.W1, p.B1, p.W, p.B}
	}
	return [][]float32{p.W, p.B}
}

// weightSlices are the penalized blocks (not the intercepts).
func (p *Params) weightSlices() [][]float32 {
	if p.H > 0 {
		return [][]float32{p.W1, p.W}
	}
	return [][]float32{p.W}
}

// Len is the number of parameters.
func (p *Params) Len() int {
	n := 0
	for _, s := range p.slices() {
		n += len(s)
	}
	return n
}

// Clone deep-copies p.
func (p *Params) Clone() *Params {
	q := *p
	cp := func(s []float32) []float32 {
		if s == nil {
			return nil
		}
		return append([]float32(nil), s...)
	}
	q.W1, q.B1, q.W, q.B = cp(p.W1), cp(p.B1), cp(p.W), cp(p.B)
	return &q
}

// flatten copies the parameters into x (float64, for gonum/optimize).
func (p *Params) flatten(x []float64) {
	i := 0
	for _, s := range p.slices() {
		for _, v := range s {
			x[i] = float64(v)
			i++
		}
	}
}

func (p *Params) unflatten(x []float64) {
	i := 0
	for _, s := range p.slices() {
		for j := range s {
			s[j] = float32(x[i])
			i++
		}
	}
}

// Penalty is Spark's elastic net: Lambda * (Alpha*|w|_1 + (1-Alpha)/2*|w|^2)
// on the weights (never the intercepts).
type Penalty struct {
	Lambda float64
	Alpha  float64
}

// net is the Gorgonia graph of the head for batches of n rows: penalized
// weighted cross-entropy, its gradients, and the class probabilities. Its
// inputs are fed by G.Let, so the same graph reads views of a large matrix
// chunk by chunk without copying it.
type net struct {
	n      int
	p      *Params // its slices back the parameter nodes: no copies
	vm     G.VM
	X      *G.Node
	T      *G.Node // n x K: one-hot targets times the normalized sample weight
	SW     *G.Node // n: normalized sample weights
	xbuf   []float32
	tbuf   []float32
	swbuf  []float32
	l2, l1 float32 // penalty coefficients, graph inputs so one graph serves a whole path
	l2n    *G.Node
	l1n    *G.Node
	pen    Penalty
	smooth float64
	loss   *G.Node
	rows   *G.Node // per-row weighted loss: summed in float64 for the line search
	probs  *G.Node
	params []*G.Node
	grads  []*G.Node
}

// newNet builds the graph for batches of n rows. train adds the loss and
// its gradients (and drops the probabilities); smoothL1 > 0 puts a
// smoothed L1 term in the graph.
func newNet(n int, p *Params, train bool, smoothL1 float64) (*net, error) {
	UseBLAS()
	g := G.NewGraph()
	nt := &net{n: n, p: p, smooth: smoothL1, xbuf: make([]float32, n*p.D)}
	mat := func(name string, r, c int, back []float32) *G.Node {
		return G.NewMatrix(g, tensor.Float32, G.WithShape(r, c), G.WithName(name), G.WithValue(tensor.New(tensor.WithBacking(back), tensor.WithShape(r, c))))
	}
	vec := func(name string, l int, back []float32) *G.Node {
		return G.NewVector(g, tensor.Float32, G.WithShape(l), G.WithName(name), G.WithValue(tensor.New(tensor.WithBacking(back), tensor.WithShape(l))))
	}
	X := mat("X", n, p.D, nt.xbuf)
	nt.X = X
	in, inDim := X, p.D
	var err error
	if p.H > 0 {
		W1, B1 := mat("W1", p.D, p.H, p.W1), vec("B1", p.H, p.B1)
		nt.params = append(nt.params, W1, B1)
		var h *G.Node
		if h, err = G.Mul(X, W1); err != nil {
			return nil, err
		}
		if h, err = G.BroadcastAdd(h, B1, nil, []byte{0}); err != nil {
			return nil, err
		}
		if in, err = G.Rectify(h); err != nil {
			return nil, err
		}
		inDim = p.H
	}
	W, B := mat("W", inDim, p.K, p.W), vec("B", p.K, p.B)
	nt.params = append(nt.params, W, B)
	z, err := G.Mul(in, W)
	if err != nil {
		return nil, err
	}
	if z, err = G.BroadcastAdd(z, B, nil, []byte{0}); err != nil {
		return nil, err
	}
	// log-sum-exp, shifted by the row maximum for stability.
	m := G.Must(G.Max(z, 1))
	zs := G.Must(G.BroadcastSub(z, m, nil, []byte{1}))
	ez := G.Must(G.Exp(zs))
	se := G.Must(G.Sum(ez, 1))
	if !train {
		nt.probs = G.Must(G.BroadcastHadamardDiv(ez, se, nil, []byte{1}))
		nt.vm = G.NewTapeMachine(g.SubgraphRoots(nt.probs))
		return nt, nil
	}
	nt.tbuf = make([]float32, n*p.K)
	nt.swbuf = make([]float32, n)
	nt.T = mat("T", n, p.K, nt.tbuf)
	nt.SW = vec("SW", n, nt.swbuf)
	lse := G.Must(G.Add(G.Must(G.Log(se)), m))
	// row i: sw_i * (lse_i - z_{i,y_i}); T holds sw_i at y_i.
	rows := G.Must(G.Sub(G.Must(G.HadamardProd(lse, nt.SW)), G.Must(G.Sum(G.Must(G.HadamardProd(z, nt.T)), 1))))
	nt.rows = rows
	loss := G.Must(G.Sum(rows))
	weights := []*G.Node{W}
	if p.H > 0 {
		weights = []*G.Node{nt.params[0], W}
	}
	L2 := G.NewScalar(g, tensor.Float32, G.WithName("l2"), G.WithValue(float32(0)))
	nt.l2n = L2
	for _, wn := range weights {
		loss = G.Must(G.Add(loss, G.Must(G.Mul(L2, G.Must(G.Sum(G.Must(G.Square(wn))))))))
	}
	if smoothL1 > 0 {
		L1 := G.NewScalar(g, tensor.Float32, G.WithName("l1"), G.WithValue(float32(0)))
		nt.l1n = L1
		eps := G.NewConstant(float32(smoothL1 * smoothL1))
		for _, wn := range weights {
			abs := G.Must(G.Sqrt(G.Must(G.Add(G.Must(G.Square(wn)), eps))))
			loss = G.Must(G.Add(loss, G.Must(G.Mul(L1, G.Must(G.Sum(abs))))))
		}
	}
	nt.loss = loss
	if nt.grads, err = G.Grad(loss, nt.params...); err != nil {
		return nil, fmt.Errorf("gradients: %w", err)
	}
	// Only what the loss and its gradients need: the derivative with
	// respect to X is never computed.
	roots := append([]*G.Node{loss, rows}, nt.grads...)
	nt.vm = G.NewTapeMachine(g.SubgraphRoots(roots...))
	return nt, nil
}

// setPenalty sets the penalty's coefficients: lambda*(1-alpha)/2 on the
// squared weights and, when the graph has it, lambda*alpha on the smoothed
// absolute values.
func (nt *net) setPenalty(pen Penalty) {
	nt.pen = pen
	nt.l2 = float32(pen.Lambda * (1 - pen.Alpha) / 2)
	nt.l1 = float32(pen.Lambda * pen.Alpha)
}

// feed points the inputs at x (n*D values) and, for a training graph, at
// the targets t (n*K) and weights sw (n). Nothing is copied.
func (nt *net) feed(x, t, sw []float32) error {
	if err := G.Let(nt.X, tensor.New(tensor.WithBacking(x[:nt.n*nt.p.D]), tensor.WithShape(nt.n, nt.p.D))); err != nil {
		return err
	}
	if nt.T == nil {
		return nil
	}
	if err := G.Let(nt.T, tensor.New(tensor.WithBacking(t[:nt.n*nt.p.K]), tensor.WithShape(nt.n, nt.p.K))); err != nil {
		return err
	}
	return G.Let(nt.SW, tensor.New(tensor.WithBacking(sw[:nt.n]), tensor.WithShape(nt.n)))
}

// run executes the graph once; its values stay readable until the next
// run (the machine is reset before, not after).
func (nt *net) run() error {
	nt.vm.Reset()
	if nt.l2n != nil {
		if err := G.Let(nt.l2n, nt.l2); err != nil {
			return err
		}
	}
	if nt.l1n != nil {
		if err := G.Let(nt.l1n, nt.l1); err != nil {
			return err
		}
	}
	return nt.vm.RunAll()
}

// rowLoss sums the last run's per-row losses in float64.
func (nt *net) rowLoss() float64 {
	var loss float64
	for _, v := range nt.rows.Value().Data().([]float32) {
		loss += float64(v)
	}
	return loss
}

// penaltyValue is the penalty of the current weights, in float64.
func (nt *net) penaltyValue(pen Penalty) float64 {
	eps2 := nt.smooth * nt.smooth
	l2 := pen.Lambda * (1 - pen.Alpha) / 2
	l1 := pen.Lambda * pen.Alpha
	var v float64
	for _, s := range nt.p.weightSlices() {
		var sq, abs float64
		for _, w := range s {
			sq += float64(w) * float64(w)
			if nt.l1n != nil {
				abs += math.Sqrt(float64(w)*float64(w) + eps2)
			}
		}
		v += l2 * sq
		if nt.l1n != nil {
			v += l1 * abs
		}
	}
	return v
}

// lossAndGrad runs the graph on its own buffers and returns the loss
// (float64: the graph's per-row terms and the penalty summed here, as a
// float32 total of many rows is too coarse for L-BFGS's line search), with
// the gradients written to grad in parameter order.
func (nt *net) lossAndGrad(grad []float64) (float64, error) {
	if err := nt.feed(nt.xbuf, nt.tbuf, nt.swbuf); err != nil {
		return 0, err
	}
	if err := nt.run(); err != nil {
		return 0, err
	}
	i := 0
	for _, gn := range nt.grads {
		for _, v := range gn.Value().Data().([]float32) {
			grad[i] = float64(v)
			i++
		}
	}
	return nt.rowLoss() + nt.penaltyValue(nt.pen), nil
}

// gradSlices returns the gradients of the last run as float32 views.
func (nt *net) gradSlices() [][]float32 {
	out := make([][]float32, len(nt.grads))
	for i, gn := range nt.grads {
		out[i] = gn.Value().Data().([]float32)
	}
	return out
}

// setBatch copies rows x (m*D values, m <= n) with classes y into the
// net's buffers, with weighted one-hot targets (per-class weights cw,
// normalized over the batch); the remaining rows are zero with zero
// weight. It feeds the buffers.
func (nt *net) setBatch(x []float32, y []int32, m int, cw []float32) error {
	d := nt.p.D
	copy(nt.xbuf, x[:m*d])
	clear(nt.xbuf[m*d:])
	if nt.T != nil {
		fillTargets(nt.tbuf, nt.swbuf, y, m, nt.p.K, cw)
	}
	return nt.feed(nt.xbuf, nt.tbuf, nt.swbuf)
}

// fillTargets writes normalized sample weights (sum 1 over the m rows) and
// the weighted one-hot targets; rows past m get zero.
func fillTargets(t, sw []float32, y []int32, m, k int, cw []float32) {
	clear(t)
	clear(sw)
	var total float64
	for i := 0; i < m; i++ {
		total += float64(classWeight(cw, y[i]))
	}
	if total == 0 {
		return
	}
	for i := 0; i < m; i++ {
		w := float32(float64(classWeight(cw, y[i])) / total)
		sw[i] = w
		t[i*k+int(y[i])] = w
	}
}

func classWeight(cw []float32, y int32) float32 {
	if cw == nil {
		return 1
	}
	return cw[y]
}

// Probabilities computes class probabilities for every row of x (n*D,
// standardized already) in chunks, appending to out.
func (p *Params) Probabilities(x []float32, n int) ([]float32, error) {
	const chunk = 2048
	c := min(chunk, max(n, 1))
	nt, err := newNet(c, p, false, 0)
	if err != nil {
		return nil, err
	}
	out := make([]float32, 0, n*p.K)
	for i := 0; i < n; i += c {
		m := min(c, n-i)
		if err := nt.setBatch(x[i*p.D:(i+m)*p.D], nil, m, nil); err != nil {
			return nil, err
		}
		if err := nt.run(); err != nil {
			return nil, err
		}
		out = append(out, nt.probs.Value().Data().([]float32)[:m*p.K]...)
	}
	return out, nil
}
