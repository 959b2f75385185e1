package onnxgraph

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// Float16 conversion, after onnxconverter-common's convert_float_to_float16
// with keep_io_types: float32 initializers, Constants and computations become
// float16, the model's inputs and outputs stay float32 behind Casts, and the
// ops that are numerically sensitive (or lack float16 kernels) keep running in
// float32 with Casts at their boundaries.
//
// onnxconverter-common learns every tensor's type from onnx's shape
// inference; here the types come from a small table of the standard
// operators' type rules, with the model's value_info as a fallback. What that
// cannot type, or does not know, stays float32: the result is always a
// consistent model, at worst a less converted one. Three choices differ from
// onnxconverter-common, each to keep features close to float32:
//
//   - Only the data path is converted: nodes that compute on the model's
//     inputs. Arithmetic on shapes and constants (a Resize's scales, a
//     Reshape's target computed with Mul) stays float32, where float16 would
//     round sizes above 2048.
//   - A Cast to float16 is placed once per tensor, where the tensor is
//     made, and shared by all consumers; layout ops (Reshape, Flatten,
//     Transpose, ...) follow their input's precision instead of forcing a
//     Cast pair.
//   - Weights round to nearest (numpy's float16 cast) and clamp at ±65504;
//     onnxconverter-common clamps at ±1e4 and lifts tiny values to 1e-7.

// Float16Options configure ToFloat16. The zero value keeps DefaultFloat32Ops
// in float32.
type Float16Options struct {
	// KeepFloat32 adds op types to keep in float32.
	KeepFloat32 []string
}

// DefaultFloat32Ops are the op types kept in float32: onnxconverter-common's
// default block list (ops without float16 kernels in ONNX Runtime, or whose
// float inputs must stay float32), and the ops whose result depends on
// sums over many values or on exponentials: global pooling, reductions,
// softmax, normalization statistics.
var DefaultFloat32Ops = []string{
	// onnxconverter-common's DEFAULT_OP_BLOCK_LIST (the ai.onnx.ml ones are
	// kept anyway: only the default domain is converted).
	"ArrayFeatureExtractor", "Binarizer", "CastMap", "CategoryMapper", "DictVectorizer", "FeatureVectorizer",
	"Imputer", "LabelEncoder", "LinearClassifier", "LinearRegressor", "Normalizer", "OneHotEncoder",
	"RandomUniformLike", "SVMClassifier", "SVMRegressor", "Scaler", "TreeEnsembleClassifier",
	"TreeEnsembleRegressor", "ZipMap", "NonMaxSuppression", "TopK", "RoiAlign", "Resize", "Range",
	"CumSum", "Min", "Max", "Upsample",
	// Pooling reductions, reductions, softmax.
	"GlobalAveragePool", "GlobalLpPool", "LpPool",
	"ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
	"ReduceProd", "ReduceMax", "ReduceMin",
	"Softmax", "LogSoftmax",
	// Normalization statistics (BatchNormalization when it was not folded
	// into the convolution at export).
	"BatchNormalization", "InstanceNormalization", "GroupNormalization", "MeanVarianceNormalization",
	"LpNormalization",
}

// ErrQuantized is returned for a quantized model: its float parts are the
// quantizer's choice of precision, and its integer kernels are what it is
// for; there is nothing for a float16 conversion to do.
var ErrQuantized = errors.New("quantized model")

// Float16Result is a converted model and what the conversion did.
type Float16Result struct {
	Model []byte
	// Converted counts the nodes that now compute in float16; Kept lists,
	// by op type, the nodes on the data path that stay float32 (a node off
	// it, or with nothing to convert, is not counted).
	Converted int
	Kept      map[string]int
	// Casts counts the Cast nodes added; Initializers the float32
	// initializers and Constants converted (copies included).
	Casts        int
	Initializers int
}

// ToFloat16 converts a float32 model to float16 (see ConvertFloat16).
func ToFloat16(model []byte, o Float16Options) ([]byte, error) {
	r, err := ConvertFloat16(model, o)
	if err != nil {
		return nil, err
	}
	return r.Model, nil
}

// ConvertFloat16 converts the float32 computations of a model's main graph
// to float16, keeping its float32 inputs and outputs. Every field it does not
// change is copied as it was. The model must hold its tensors' data (no
// external data) and must not be quantized (ErrQuantized).
func ConvertFloat16(model []byte, o Float16Options) (*Float16Result, error) {
	if _, err := Parse(model); err != nil {
		return nil, err
	}
	c := &f16conv{keep: map[string]bool{}, types: map[string]int32{}, data: map[string]bool{},
		plans: map[string]*f16plan{}, names: map[string]bool{},
		res: &Float16Result{Kept: map[string]int{}}}
	for _, op := range DefaultFloat32Ops {
		c.keep[op] = true
	}
	for _, op := range o.KeepFloat32 {
		c.keep[op] = true
	}
	var graph []byte
	err := eachFieldRaw(model, func(num protowire.Number, typ protowire.Type, _, payload []byte) error {
		if num == 7 && typ == protowire.BytesType {
			graph = payload
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotONNX, err)
	}
	c.size = len(graph)
	if err := c.read(graph); err != nil {
		return nil, err
	}
	if err := c.plan(); err != nil {
		return nil, err
	}
	g, err := c.write()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(model))
	done := false
	err = eachFieldRaw(model, func(num protowire.Number, typ protowire.Type, field, _ []byte) error {
		if num != 7 || typ != protowire.BytesType {
			out = append(out, field...)
			return nil
		}
		if !done { // a repeated graph field merges; Parse took the last, so do we
			done = true
			out = appendMessage(out, 7, g)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.res.Model = out
	return c.res, nil
}

// Element types named only here.
const (
	typeString int32 = 8
	typeBool   int32 = 9
)

type f16node struct {
	raw             []byte
	name, op, dom   string
	inputs, outputs []string
	attrs           []f16attr
	free            []string // outer names its subgraphs read
}

type f16attr struct {
	raw    []byte // the AttributeProto
	name   string
	i      int64
	hasI   bool
	t      []byte // field 5
	graphs [][]byte
	f      float32
	floats []float32
}

func (n *f16node) attr(name string) *f16attr {
	for i := range n.attrs {
		if n.attrs[i].name == name {
			return &n.attrs[i]
		}
	}
	return nil
}

func (n *f16node) hasGraph() bool {
	for _, a := range n.attrs {
		if len(a.graphs) > 0 {
			return true
		}
	}
	return false
}

// gfield is one top-level field of the graph, in order.
type gfield struct {
	num     protowire.Number
	field   []byte
	payload []byte
	node    int    // index into nodes for node fields
	name    string // initializers, inputs, outputs, value_info
}

// f16plan is what becomes of one float32 tensor of the original graph.
type f16plan struct {
	home     int32 // Float or Float16; 0 while a flexible source is undecided
	flexible bool  // an initializer or a Constant: either precision for free
	want16   bool
	want32   bool
	name16   string
	name32   string
	rename   bool // a graph output made in float16: its producer writes name16
	derived  bool // a layout op's output on a flexible tensor
	src      int  // producing node, -1 for graph inputs and initializers
}

func (p *f16plan) name(t int32) string {
	if t == Float16 {
		return p.name16
	}
	return p.name32
}

type f16use struct {
	node, input int
	tensor      string
	want        int32
}

type f16conv struct {
	keep     map[string]bool
	fields   []gfield
	nodes    []*f16node
	order    []int // nodes in topological order
	inits    map[string]int32
	inputs   []ValueInfo
	outputs  []ValueInfo
	hints    map[string]int32 // types from value_info and outputs
	types    map[string]int32 // original element types
	data     map[string]bool  // computed from the model's inputs
	plans    map[string]*f16plan
	modes    []int
	uses     []f16use
	castTo16 map[int]bool
	names    map[string]bool // every name in use
	size     int             // of the original graph
	res      *Float16Result
}

const (
	modeKeep = iota
	modeConvert
	modeConstant
	modeDerived // a layout op on a flexible tensor: decided by its consumers
)

func (c *f16conv) read(graph []byte) error {
	c.inits = map[string]int32{}
	c.hints = map[string]int32{}
	c.castTo16 = map[int]bool{}
	err := eachFieldRaw(graph, func(num protowire.Number, typ protowire.Type, field, payload []byte) error {
		f := gfield{num: num, field: field, payload: payload, node: -1}
		if typ == protowire.BytesType {
			switch num {
			case 1:
				n, err := parseF16Node(payload)
				if err != nil {
					return passErr{fmt.Errorf("%w: node %d: %v", ErrNotONNX, len(c.nodes), err)}
				}
				f.node = len(c.nodes)
				c.nodes = append(c.nodes, n)
			case 5:
				t, ext, err := parseTensor(payload)
				if err != nil {
					return passErr{fmt.Errorf("%w: initializer: %v", ErrNotONNX, err)}
				}
				if ext {
					return passErr{fmt.Errorf("initializer %q keeps its data in an external file; inline it first (InlineExternal)", t.Name)}
				}
				f.name = t.Name
				c.inits[t.Name] = t.ElemType
				c.names[t.Name] = true
			case 15:
				name, et, err := sparseNameType(payload)
				if err != nil {
					return passErr{fmt.Errorf("%w: sparse initializer: %v", ErrNotONNX, err)}
				}
				f.name = name
				c.types[name] = et
				c.names[name] = true
			case 11, 12, 13:
				vi, err := parseValueInfo(payload)
				if err != nil {
					return passErr{fmt.Errorf("%w: value info: %v", ErrNotONNX, err)}
				}
				f.name = vi.Name
				c.names[vi.Name] = true
				switch num {
				case 11:
					c.inputs = append(c.inputs, vi)
				case 12:
					c.outputs = append(c.outputs, vi)
					c.hints[vi.Name] = vi.ElemType
				default:
					c.hints[vi.Name] = vi.ElemType
				}
			}
		}
		c.fields = append(c.fields, f)
		return nil
	})
	if err != nil {
		return unwrapPass(err)
	}
	for _, n := range c.nodes {
		if isQuantizedOp(n.op) {
			return fmt.Errorf("%w: %s node %q; float16 applies to float32 models, run this one without it", ErrQuantized, n.op, n.name)
		}
		for _, s := range n.inputs {
			c.names[s] = true
		}
		for _, s := range n.outputs {
			c.names[s] = true
		}
		c.names[n.name] = true
		for _, a := range n.attrs {
			for _, g := range a.graphs {
				free, defined, err := graphNames(g)
				if err != nil {
					return fmt.Errorf("%w: subgraph of %s node %q: %v", ErrNotONNX, n.op, n.name, err)
				}
				n.free = appendNew(n.free, free...)
				for _, d := range defined {
					c.names[d] = true
				}
			}
		}
	}
	c.order = topoOrder(c.nodes)
	return nil
}

func isQuantizedOp(op string) bool {
	switch op {
	case "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "ConvInteger", "MatMulInteger",
		"QGemm", "QAttention", "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "DynamicQuantizeLSTM":
		return true
	}
	return strings.HasPrefix(op, "QLinear")
}

// plan decides each node's precision and each tensor's names.
func (c *f16conv) plan() error {
	// Original types and the data path.
	for _, in := range c.inputs {
		c.types[in.Name] = in.ElemType
		if _, isInit := c.inits[in.Name]; !isInit {
			c.data[in.Name] = true
		}
	}
	for name, t := range c.inits {
		c.types[name] = t
	}
	for _, i := range c.order {
		n := c.nodes[i]
		in := make([]int32, len(n.inputs))
		isData := false
		for j, s := range n.inputs {
			in[j] = c.types[s]
			isData = isData || c.data[s]
		}
		for _, s := range n.free {
			isData = isData || c.data[s]
		}
		out := inferTypes(n, in, false)
		for j, s := range n.outputs {
			if s == "" {
				continue
			}
			t := int32(0)
			if j < len(out) {
				t = out[j]
			}
			if t == 0 {
				t = c.hints[s]
			}
			c.types[s] = t
			if isData && n.op != "Shape" && n.op != "Size" {
				c.data[s] = true
			}
		}
	}

	// Sources: the inputs stay float32; initializers may become float16.
	for _, in := range c.inputs {
		if _, isInit := c.inits[in.Name]; !isInit && in.ElemType == Float {
			c.plans[in.Name] = &f16plan{home: Float, name32: in.Name, src: -1}
		}
	}
	for name, t := range c.inits {
		if t == Float {
			c.plans[name] = &f16plan{flexible: true, src: -1}
		}
	}
	for _, f := range c.fields {
		if f.num == 15 && c.types[f.name] == Float {
			c.plans[f.name] = &f16plan{home: Float, name32: f.name, src: -1}
		}
	}

	c.modes = make([]int, len(c.nodes))
	for _, i := range c.order {
		n := c.nodes[i]
		mode := c.mode(i)
		c.modes[i] = mode
		if mode == modeConstant || mode == modeDerived {
			if s := n.outputs[0]; c.types[s] == Float {
				c.plans[s] = &f16plan{flexible: true, derived: mode == modeDerived, src: i}
			}
			continue
		}
		want := Float
		switch {
		case metaOps[n.op]: // reads no values
			if mode == modeConvert {
				want = Float16
			}
		case mode == modeConvert:
			want = Float16
			c.res.Converted++
		case c.onDataPath(n) && c.touchesFloat(n):
			c.res.Kept[n.op]++
		}
		resolved := make([]int32, len(n.inputs))
		for j, s := range n.inputs {
			resolved[j] = c.types[s]
			if p := c.plans[s]; p != nil && c.types[s] == Float {
				resolved[j] = want
				c.want(p, want)
				c.uses = append(c.uses, f16use{node: i, input: j, tensor: s, want: want})
			}
		}
		for _, s := range n.free { // subgraphs stay float32 and read float32
			if p := c.plans[s]; p != nil {
				c.want(p, Float)
				c.uses = append(c.uses, f16use{node: i, input: -1, tensor: s, want: Float})
			}
		}
		var out []int32
		if mode == modeConvert {
			if n.op == "Cast" {
				if a := n.attr("to"); a != nil && int32(a.i) == Float {
					c.castTo16[i] = true
				}
			}
			out = inferTypes(n, resolved, c.castTo16[i])
		}
		for j, s := range n.outputs {
			if s == "" || c.types[s] != Float {
				if mode == modeConvert && s != "" && j < len(out) && out[j] != c.types[s] {
					return fmt.Errorf("float16: %s node %q: output %q would change from element type %d to %d", n.op, n.name, s, c.types[s], out[j])
				}
				continue
			}
			home := Float
			if mode == modeConvert {
				home = out[j]
				if home != Float && home != Float16 {
					return fmt.Errorf("float16: %s node %q: cannot tell the element type of its output %q", n.op, n.name, s)
				}
			}
			c.plans[s] = &f16plan{home: home, src: i}
		}
	}
	for _, o := range c.outputs {
		if p := c.plans[o.Name]; p != nil {
			c.want(p, Float)
		}
	}

	// Flexible tensors (initializers, Constants, layout ops on them) take
	// the precision their consumers want; consumers come first, so walk
	// back.
	for k := len(c.order) - 1; k >= 0; k-- {
		i := c.order[k]
		n := c.nodes[i]
		for _, s := range n.outputs {
			if p := c.plans[s]; p != nil && p.flexible && p.src == i {
				c.resolveFlexible(s, p)
			}
		}
		if c.modes[i] == modeDerived {
			home := c.plans[n.outputs[0]].home
			c.want(c.plans[n.inputs[0]], home)
			c.uses = append(c.uses, f16use{node: i, input: 0, tensor: n.inputs[0], want: home})
			c.modes[i] = modeKeep
			if home == Float16 {
				c.modes[i] = modeConvert
			}
		}
	}
	for _, name := range sortedKeys(c.plans) {
		if p := c.plans[name]; p.flexible && p.src < 0 {
			c.resolveFlexible(name, p)
		}
	}

	// The others keep their name in their home precision; the other
	// precision, where wanted, is a new tensor made by a Cast.
	isOutput := map[string]bool{}
	for _, o := range c.outputs {
		isOutput[o.Name] = true
	}
	for _, name := range sortedKeys(c.plans) {
		p := c.plans[name]
		if p.flexible {
			continue
		}
		if p.home == Float16 {
			if isOutput[name] {
				p.rename, p.name16, p.name32 = true, c.fresh(name+"_fp16"), name
				c.res.Casts++
				continue
			}
			p.name16 = name
			if p.want32 {
				p.name32 = c.fresh(name + "_fp32")
				c.res.Casts++
			}
			continue
		}
		p.name32 = name
		if p.want16 {
			p.name16 = c.fresh(name + "_fp16")
			c.res.Casts++
		}
	}
	return nil
}

// resolveFlexible decides a flexible tensor's precision: float16 when only
// float16 is wanted (converted in place), else float32, with a float16
// copy (a converted initializer or Constant, or a Cast after a layout op)
// when float16 is wanted too.
func (c *f16conv) resolveFlexible(name string, p *f16plan) {
	if p.want16 && !p.want32 {
		p.home, p.name16 = Float16, name
		if !p.derived {
			c.res.Initializers++
		}
		return
	}
	p.home, p.name32 = Float, name
	if p.want16 {
		p.name16 = c.fresh(name + "_fp16")
		if p.derived {
			c.res.Casts++
		} else {
			c.res.Initializers++
		}
	}
}

func (c *f16conv) want(p *f16plan, t int32) {
	if t == Float16 {
		p.want16 = true
	} else {
		p.want32 = true
	}
}

// mode decides a node's precision.
func (c *f16conv) mode(i int) int {
	n := c.nodes[i]
	if n.dom != "" && n.dom != "ai.onnx" {
		return modeKeep // custom ops: their float16 kernels are not known here
	}
	if n.op == "Constant" && len(n.outputs) == 1 {
		if a := n.attr("value"); a != nil && a.t != nil {
			return modeConstant
		}
		if n.attr("value_float") != nil || n.attr("value_floats") != nil {
			return modeConstant
		}
		return modeKeep
	}
	if followsInput[n.op] && len(n.outputs) == 1 && len(n.inputs) > 0 && !c.onDataPath(n) && c.types[n.outputs[0]] == Float {
		if p := c.plans[n.inputs[0]]; p != nil && p.flexible && c.types[n.inputs[0]] == Float {
			return modeDerived // Identity of a shared weight, as torch.onnx writes it
		}
	}
	if c.keep[n.op] || neverConvert[n.op] || n.hasGraph() || !c.onDataPath(n) || !c.touchesFloat(n) {
		return modeKeep
	}
	if inferTypes(n, make([]int32, len(n.inputs)), false) == nil {
		return modeKeep // no type rule: an op this table does not know
	}
	for _, s := range n.inputs {
		if s != "" && c.types[s] == 0 {
			return modeKeep // an input of unknown type might need a Cast
		}
	}
	if (followsInput[n.op] || metaOps[n.op]) && len(n.inputs) > 0 {
		if p := c.plans[n.inputs[0]]; p != nil && !p.flexible && c.types[n.inputs[0]] == Float {
			if p.home == Float {
				return modeKeep
			}
			return modeConvert
		}
	}
	return modeConvert
}

func (c *f16conv) onDataPath(n *f16node) bool {
	for _, s := range n.inputs {
		if c.data[s] {
			return true
		}
	}
	for _, s := range n.free {
		if c.data[s] {
			return true
		}
	}
	return false
}

func (c *f16conv) touchesFloat(n *f16node) bool {
	for _, s := range n.inputs {
		if c.types[s] == Float {
			return true
		}
	}
	for _, s := range n.outputs {
		if c.types[s] == Float {
			return true
		}
	}
	return false
}

func (c *f16conv) fresh(base string) string {
	name := base
	for k := 1; c.names[name]; k++ {
		name = fmt.Sprintf("%s_%d", base, k)
	}
	c.names[name] = true
	return name
}

// write builds the new graph.
func (c *f16conv) write() ([]byte, error) {
	inputName := map[[2]int]string{} // (node, input) -> new name
	for _, u := range c.uses {
		if u.input >= 0 {
			inputName[[2]int{u.node, u.input}] = c.plans[u.tensor].name(u.want)
		}
	}
	// Casts made where their tensor is made: after its node, or first for
	// the graph's inputs.
	after := map[int][][]byte{}
	var first [][]byte
	for _, name := range sortedKeys(c.plans) {
		p := c.plans[name]
		if p.flexible && p.derived {
			if p.home == Float && p.name16 != "" {
				after[p.src] = append(after[p.src], c.castNode(p.name32, p.name16, Float16))
			}
			continue
		}
		if p.flexible {
			if p.src >= 0 && p.home == Float && p.name16 != "" {
				n, err := constantCopy(c.nodes[p.src], p.name16)
				if err != nil {
					return nil, err
				}
				after[p.src] = append(after[p.src], n)
			}
			continue
		}
		var cast []byte
		switch {
		case p.rename:
			cast = c.castNode(p.name16, p.name32, Float)
		case p.home == Float16 && p.name32 != "":
			cast = c.castNode(p.name16, p.name32, Float)
		case p.home == Float && p.name16 != "":
			cast = c.castNode(p.name32, p.name16, Float16)
		default:
			continue
		}
		if p.src >= 0 {
			after[p.src] = append(after[p.src], cast)
		} else {
			first = append(first, cast)
		}
	}

	var nodes []byte
	emit := func(b []byte) { nodes = appendMessage(nodes, 1, b) }
	for _, b := range first {
		emit(b)
	}
	for i, n := range c.nodes {
		b, err := c.rewriteNode(i, n, inputName)
		if err != nil {
			return nil, err
		}
		emit(b)
		for _, b := range after[i] {
			emit(b)
		}
	}

	out := make([]byte, 0, len(nodes)+c.size) // float16 weights take less room than float32 ones did
	wroteNodes := false
	for _, f := range c.fields {
		switch f.num {
		case 1:
			if !wroteNodes {
				out = append(out, nodes...)
				wroteNodes = true
			}
			continue
		case 5:
			p := c.plans[f.name]
			if p == nil || c.inits[f.name] != Float {
				break
			}
			if p.home == Float16 {
				t, err := tensorToFloat16(f.payload, "")
				if err != nil {
					return nil, err
				}
				out = appendMessage(out, 5, t)
				continue
			}
			if p.name16 != "" {
				t, err := tensorToFloat16(f.payload, p.name16)
				if err != nil {
					return nil, err
				}
				out = append(out, f.field...)
				out = appendMessage(out, 5, t)
				continue
			}
		case 11, 13:
			// An initializer listed as an input, or a tensor now made in
			// float16 under its own name: its declared type follows.
			if p := c.plans[f.name]; p != nil && p.home == Float16 && p.name16 == f.name {
				vi, err := setElemType(f.payload, Float16)
				if err != nil {
					return nil, err
				}
				out = appendMessage(out, f.num, vi)
				continue
			}
		}
		out = append(out, f.field...)
	}
	if !wroteNodes {
		out = append(out, nodes...)
	}
	return out, nil
}

func (c *f16conv) castNode(from, to string, t int32) []byte {
	c.names[to] = true
	return encodeNode(Node{Name: c.fresh("featurizer/fp16/cast/" + to), OpType: "Cast", Inputs: []string{from}, Outputs: []string{to},
		Attrs: []Attr{IntAttr("to", int64(t))}})
}

// rewriteNode re-encodes node i with its new input and output names, a Cast
// retargeted to float16, a Constant converted, or subgraphs that read
// renamed outer tensors; an unchanged node is copied as it was.
func (c *f16conv) rewriteNode(i int, n *f16node, inputName map[[2]int]string) ([]byte, error) {
	changed := false
	ins := make([]string, len(n.inputs))
	for j, s := range n.inputs {
		ins[j] = s
		if v, ok := inputName[[2]int{i, j}]; ok && v != s {
			ins[j], changed = v, true
		}
	}
	outs := make([]string, len(n.outputs))
	for j, s := range n.outputs {
		outs[j] = s
		if p := c.plans[s]; p != nil && p.rename && p.src == i {
			outs[j], changed = p.name16, true
		}
	}
	attrs := map[int][]byte{}
	if c.castTo16[i] {
		for k, a := range n.attrs {
			if a.name == "to" {
				attrs[k] = setAttrInt(a.raw, int64(Float16))
			}
		}
	}
	if c.modes[i] == modeConstant {
		if p := c.plans[n.outputs[0]]; p != nil && p.home == Float16 {
			for k, a := range n.attrs {
				b, err := constantAttrToFloat16(a)
				if err != nil {
					return nil, fmt.Errorf("float16: Constant %q: %w", n.name, err)
				}
				if b != nil {
					attrs[k] = b
				}
			}
		}
	}
	ren := map[string]string{}
	for _, s := range n.free {
		if p := c.plans[s]; p != nil && p.name32 != s {
			ren[s] = p.name32
		}
	}
	if len(ren) > 0 {
		for k, a := range n.attrs {
			if len(a.graphs) == 0 {
				continue
			}
			b, err := renameInAttr(a.raw, ren)
			if err != nil {
				return nil, err
			}
			attrs[k] = b
		}
	}
	if !changed && len(attrs) == 0 {
		return n.raw, nil
	}
	var b []byte
	in, o, k := 0, 0, 0
	err := eachFieldRaw(n.raw, func(num protowire.Number, typ protowire.Type, field, _ []byte) error {
		if typ != protowire.BytesType {
			b = append(b, field...)
			return nil
		}
		switch num {
		case 1:
			b = appendString(b, 1, ins[in])
			in++
		case 2:
			b = appendString(b, 2, outs[o])
			o++
		case 5:
			if a, ok := attrs[k]; ok {
				b = appendMessage(b, 5, a)
			} else {
				b = append(b, field...)
			}
			k++
		default:
			b = append(b, field...)
		}
		return nil
	})
	return b, err
}
