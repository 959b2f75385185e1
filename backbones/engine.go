package backbones

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/featurizer/featurizer/backbones/onnxgraph"
	"github.com/featurizer/featurizer/modelspec"
	ort "github.com/yalue/onnxruntime_go"
)

// EngineOptions configure an Engine. The zero value runs on all cores and
// returns features only.
type EngineOptions struct {
	// Threads is ONNX Runtime's intra-op thread count; 0 means one per core.
	Threads int
	// Logits keeps the classifier output (for prediction).
	Logits bool
	// NoFeatures drops the feature tap (prediction only).
	NoFeatures bool
	// Spin lets ONNX Runtime's threads busy-wait between operators. It
	// saves a little latency but takes cores from image decoding.
	Spin bool
	// Device is cpu (default), cuda or tensorrt; DeviceID picks the GPU.
	Device   string
	DeviceID int
	// FP16 runs in half precision: on cuda the graph is converted to
	// float16 at load (inputs and outputs stay float32); TensorRT builds
	// float16 engines itself.
	FP16 bool
}

// Engine runs a backbone with ONNX Runtime: image tensors in, feature
// vectors and class scores out. One Engine is one session; Run may be
// called from several goroutines at once, each call with buffers of its own
// (ONNX Runtime's Run is safe for concurrent calls, and on a GPU each call
// runs on a CUDA stream of its own: one batch's copy overlaps another's
// compute). Close must wait for the calls.
type Engine struct {
	session    *ort.DynamicAdvancedSession
	inputName  string
	outputs    []string
	sample     []int64 // shape of one image, e.g. [3, 224, 224]
	featureDim int
	numClasses int
	tap        Tap
	withFeat   bool
	withLogits bool
	pinned     *pinnedHost // page-locked input buffers on a GPU
}

const featureOutput = "featurizer_features"

// NewEngine loads the backbone's weights, exposes the feature tap and
// creates the session. The runtime must be initialized (InitRuntime).
func NewEngine(b *Backbone, o EngineOptions) (*Engine, error) {
	// External data files, if any, are read into the model here (ReadModel).
	data, err := ReadModel(b.WeightsPath)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	return NewEngineFromBytes(data, &b.Spec, o)
}

// NewEngineFromBytes is NewEngine for a model already in memory. It must be
// self-contained: a model whose tensors keep their data in external files
// needs ReadModel (or NewEngine), which knows where the files are.
func NewEngineFromBytes(data []byte, spec *modelspec.Spec, o EngineOptions) (*Engine, error) {
	m, err := onnxgraph.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	if refs, err := onnxgraph.ExternalRefs(data); err != nil || len(refs) > 0 {
		if err != nil {
			return nil, fmt.Errorf("load model: %w", err)
		}
		return nil, fmt.Errorf("load model: tensor %q keeps its data in the external file %q, which a model given as bytes cannot reach; load the model from its file (backbones.ReadModel inlines the data)", refs[0].Tensor, refs[0].Location)
	}
	e := &Engine{withFeat: !o.NoFeatures, withLogits: o.Logits}
	if o.Device == DeviceCUDA || o.Device == DeviceTensorRT {
		// Without the runtime's allocator, batches stay in pageable memory:
		// slower copies, same results.
		e.pinned, _ = openPinnedHost()
	}
	if !e.withFeat && !e.withLogits {
		return nil, errors.New("engine: nothing to compute (no features, no logits)")
	}
	if err := e.pickInput(m, spec); err != nil {
		return nil, err
	}

	var logits string
	if e.withLogits || spec.Features.Tensor == "" {
		if logits, err = pickLogits(m, spec); err != nil {
			return nil, err
		}
	}

	var edit onnxgraph.Edit
	edit.Outputs = []onnxgraph.ValueInfo{}
	if err := CheckDevice(o.Device); err != nil {
		return nil, err
	}
	if e.withFeat {
		fg, err := planFeatures(m, spec, e.inputName, e.sample, logits)
		if err != nil {
			return nil, err
		}
		e.tap = fg.Tap
		edit.AddNodes = fg.Nodes
		edit.AddInitializers = fg.Inits
		edit.Outputs = append(edit.Outputs, onnxgraph.ValueInfo{Name: fg.Output, ElemType: onnxgraph.Float})
		e.outputs = append(e.outputs, fg.Output)
	}
	if e.withLogits {
		edit.Outputs = append(edit.Outputs, onnxgraph.ValueInfo{Name: logits, ElemType: onnxgraph.Float})
		e.outputs = append(e.outputs, logits)
	}
	edited, err := m.Apply(edit)
	if err != nil {
		return nil, fmt.Errorf("edit model: %w", err)
	}
	if o.FP16 {
		m, data = nil, nil // the float16 copy is made without them
		if edited, err = deviceGraph(edited, o); err != nil {
			return nil, err
		}
	}
	// The weights exist up to four times while the session is created
	// (file bytes, edited bytes, ONNX Runtime's parse, its tensors): hand
	// the copies we no longer need back to the OS first, so that the peak
	// RSS of a ResNet-50 job stays well under 1.5 GB.
	m, data = nil, nil
	debug.FreeOSMemory()
	e.session, err = newSession(edited, e.inputName, e.outputs, o)
	edited = nil
	debug.FreeOSMemory()
	if err != nil {
		return nil, err
	}
	// One image of zeros tells the output sizes and proves the session runs.
	dims, err := runShapes(e.session, e.sample, len(e.outputs))
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("test run: %w", err)
	}
	i := 0
	if e.withFeat {
		if len(dims[0]) != 2 {
			e.Close()
			return nil, fmt.Errorf("feature tap %q with pooling %s gives shape %v, not one vector per image; set features.pooling", e.tap.Tensor, e.tap.Pooling, dims[0])
		}
		e.featureDim = int(dims[0][1])
		if spec.Features.Dim != 0 && spec.Features.Dim != e.featureDim {
			e.Close()
			return nil, fmt.Errorf("features.dim: the tap %q gives %d values per image, the spec expects %d", e.tap.Tensor, e.featureDim, spec.Features.Dim)
		}
		i++
	}
	if e.withLogits {
		d := dims[i]
		n := int64(1)
		for _, v := range d[1:] {
			n *= v
		}
		e.numClasses = int(n)
	}
	return e, nil
}

func (e *Engine) pickInput(m *onnxgraph.Model, spec *modelspec.Spec) error {
	ins := m.Graph.Inputs
	var in *onnxgraph.ValueInfo
	if spec.Input.Name == "" {
		if len(ins) != 1 {
			return fmt.Errorf("input.name: the model has %d inputs (%s); name the image input", len(ins), inputNames(ins))
		}
		in = &ins[0]
	} else {
		for i := range ins {
			if ins[i].Name == spec.Input.Name {
				in = &ins[i]
			}
		}
		if in == nil {
			return fmt.Errorf("input.name: the model has no input %q (it has %s)", spec.Input.Name, inputNames(ins))
		}
	}
	h, w := int64(spec.Input.Size[0]), int64(spec.Input.Size[1])
	if spec.Input.Layout == "NCHW" {
		e.sample = []int64{3, h, w}
	} else {
		e.sample = []int64{h, w, 3}
	}
	if in.HasShape {
		if len(in.Shape) != 4 {
			return fmt.Errorf("input %q has rank %d, expected a 4-D image batch", in.Name, len(in.Shape))
		}
		for i, d := range in.Shape[1:] {
			if d.Value > 0 && d.Value != e.sample[i] {
				return fmt.Errorf("input.layout/size: the model input %q is %s, the spec says %s %v", in.Name, shapeString(in.Shape), spec.Input.Layout, e.sample)
			}
		}
		if d := in.Shape[0]; d.Value > 1 {
			return fmt.Errorf("input %q has a fixed batch size of %d; export the model with a dynamic batch axis", in.Name, d.Value)
		}
	}
	if in.ElemType != 0 && in.ElemType != onnxgraph.Float {
		return fmt.Errorf("input %q has element type %d, expected float32", in.Name, in.ElemType)
	}
	e.inputName = in.Name
	return nil
}

func pickLogits(m *onnxgraph.Model, spec *modelspec.Spec) (string, error) {
	outs := m.Graph.Outputs
	if len(outs) == 0 {
		return "", errors.New("the model has no outputs")
	}
	name := ""
	if spec.Classifier != nil {
		name = spec.Classifier.Output
	}
	if name == "" {
		return outs[0].Name, nil
	}
	for _, o := range outs {
		if o.Name == name {
			return name, nil
		}
	}
	var names []string
	for _, o := range outs {
		names = append(names, o.Name)
	}
	return "", fmt.Errorf("classifier.output: the model has no output %q (it has %v)", name, names)
}

// FeatureGraph is what it takes to read features out of a backbone: the
// nodes that pool the tap into an [N, D] tensor, added to the model.
type FeatureGraph struct {
	Input  string  // the image input
	Sample []int64 // the shape of one image
	Nodes  []onnxgraph.Node
	Inits  []onnxgraph.Tensor
	Output string // the [N, D] feature tensor
	Tap    Tap
}

// PlanFeatures finds the feature tap of m (named by the spec, or searched)
// and the pooling that turns it into one vector per image. The combined
// backbone+head export builds on it; it may run a probe session, so the
// runtime must be initialized.
func PlanFeatures(m *onnxgraph.Model, spec *modelspec.Spec) (*FeatureGraph, error) {
	e := &Engine{}
	if err := e.pickInput(m, spec); err != nil {
		return nil, err
	}
	logits := ""
	if spec.Features.Tensor == "" {
		var err error
		if logits, err = pickLogits(m, spec); err != nil {
			return nil, err
		}
	}
	return planFeatures(m, spec, e.inputName, e.sample, logits)
}

func planFeatures(m *onnxgraph.Model, spec *modelspec.Spec, input string, sample []int64, logits string) (*FeatureGraph, error) {
	fg := &FeatureGraph{Input: input, Sample: sample}
	var err error
	if spec.Features.Tensor == "" {
		if fg.Tap, err = FindTap(&m.Graph, logits); err != nil {
			return nil, err
		}
	} else {
		fg.Tap = Tap{Tensor: spec.Features.Tensor, Pooling: spec.Features.Pooling}
		if !m.Graph.HasTensor(fg.Tap.Tensor) {
			return nil, fmt.Errorf("features.tensor: the model has no tensor %q%s", fg.Tap.Tensor, suggest(&m.Graph, fg.Tap.Tensor))
		}
	}
	if spec.Features.Pooling != "auto" {
		fg.Tap.Pooling = spec.Features.Pooling
	}
	rank := 4
	if fg.Tap.Pooling == "auto" || fg.Tap.Pooling == "none" {
		// Known from the graph in the common cases; otherwise one run of a
		// probe session tells (at the cost of a second copy of the weights
		// in memory for a moment).
		if rank = staticRank(&m.Graph, fg.Tap.Tensor); rank == 0 {
			if rank, err = probeRank(m, input, fg.Tap.Tensor, sample); err != nil {
				return nil, err
			}
		}
	}
	layout := spec.Input.Layout
	if l := tensorLayout(&m.Graph, fg.Tap.Tensor); l != "" {
		layout = l // the graph's own layout inside (NCHW in tf2onnx's exports of NHWC models)
	}
	fg.Nodes, fg.Inits, fg.Output, err = poolNodes(m, fg.Tap, rank, layout)
	return fg, err
}

// poolNodes adds the pooling of the tap tensor to one vector per image.
func poolNodes(m *onnxgraph.Model, tap Tap, rank int, layout string) ([]onnxgraph.Node, []onnxgraph.Tensor, string, error) {
	pooling := tap.Pooling
	if pooling == "auto" {
		pooling = "mean"
		if rank <= 2 {
			pooling = "none"
		}
	}
	if pooling == "none" {
		if rank == 2 {
			return nil, nil, tap.Tensor, nil
		}
		return []onnxgraph.Node{{Name: "featurizer/flatten", OpType: "Flatten", Inputs: []string{tap.Tensor},
			Outputs: []string{featureOutput}, Attrs: []onnxgraph.Attr{onnxgraph.IntAttr("axis", 1)}}}, nil, featureOutput, nil
	}
	var axes []int64
	switch {
	case rank == 4 && layout == "NHWC":
		axes = []int64{1, 2}
	case rank == 4:
		axes = []int64{2, 3}
	case rank == 3:
		axes = []int64{1}
	default:
		return nil, nil, "", fmt.Errorf("features.pooling: cannot %s-pool a rank-%d tensor %q", pooling, rank, tap.Tensor)
	}
	op := map[string]string{"mean": "ReduceMean", "max": "ReduceMax"}[pooling]
	node := onnxgraph.Node{Name: "featurizer/pool", OpType: op, Inputs: []string{tap.Tensor}, Outputs: []string{featureOutput},
		Attrs: []onnxgraph.Attr{onnxgraph.IntAttr("keepdims", 0)}}
	var inits []onnxgraph.Tensor
	if m.Opset() >= 18 {
		// Since opset 18 the axes of Reduce* are an input, not an attribute.
		inits = append(inits, onnxgraph.Int64Tensor("featurizer_pool_axes", []int64{int64(len(axes))}, axes))
		node.Inputs = append(node.Inputs, "featurizer_pool_axes")
	} else {
		node.Attrs = append(node.Attrs, onnxgraph.IntsAttr("axes", axes...))
	}
	return []onnxgraph.Node{node}, inits, featureOutput, nil
}

// staticRank returns the rank of tensor when the graph makes it plain, or 0.
func staticRank(g *onnxgraph.Graph, tensor string) int {
	for _, o := range g.Outputs {
		if o.Name == tensor && o.HasShape {
			return len(o.Shape)
		}
	}
	for _, v := range g.ValueInfo {
		if v.Name == tensor && v.HasShape {
			return len(v.Shape)
		}
	}
	p := g.Producer(tensor)
	if p == nil {
		return 0
	}
	switch p.OpType {
	case "Flatten", "Gemm":
		return 2
	case "GlobalAveragePool", "GlobalMaxPool", "QLinearGlobalAveragePool":
		if r := staticRank(g, p.Inputs[0]); r != 0 {
			return r
		}
		return 4 // after the convolutions of an image network
	case "Conv", "QLinearConv", "MaxPool", "AveragePool", "BatchNormalization":
		return 4 // 2-D image networks
	case "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "Identity", "Dropout", "DequantizeLinear", "QuantizeLinear":
		return staticRank(g, p.Inputs[0])
	}
	return 0
}

// probeRank runs the model once with the tap exposed as it is, to learn its
// rank; ONNX files often carry no shapes for inner tensors.
func probeRank(m *onnxgraph.Model, input, tensor string, sample []int64) (int, error) {
	edited, err := m.Apply(onnxgraph.Edit{Outputs: []onnxgraph.ValueInfo{{Name: tensor, ElemType: onnxgraph.Float}}})
	if err != nil {
		return 0, fmt.Errorf("edit model: %w", err)
	}
	s, err := newSession(edited, input, []string{tensor}, EngineOptions{Threads: 1})
	if err != nil {
		return 0, err
	}
	defer s.Destroy()
	dims, err := runShapes(s, sample, 1)
	if err != nil {
		return 0, fmt.Errorf("probe feature tap %q: %w", tensor, err)
	}
	return len(dims[0]), nil
}

func newSession(model []byte, input string, outputs []string, o EngineOptions) (*ort.DynamicAdvancedSession, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	defer opts.Destroy()
	threads := o.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	if err := opts.SetIntraOpNumThreads(threads); err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	spin := "0"
	if o.Spin {
		spin = "1"
	}
	if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", spin); err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	if err := appendProvider(opts, o); err != nil {
		return nil, err
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, []string{input}, outputs, opts)
	if err != nil {
		return nil, fmt.Errorf("create ONNX Runtime session: %w", err)
	}
	return s, nil
}

// runShapes runs one image of zeros and returns the output shapes.
func runShapes(s *ort.DynamicAdvancedSession, sample []int64, nout int) ([][]int64, error) {
	shape := append([]int64{1}, sample...)
	in, err := ort.NewEmptyTensor[float32](ort.NewShape(shape...))
	if err != nil {
		return nil, err
	}
	defer in.Destroy()
	outs := make([]ort.Value, nout)
	if err := s.Run([]ort.Value{in}, outs); err != nil {
		return nil, err
	}
	dims := make([][]int64, nout)
	for i, o := range outs {
		dims[i] = []int64(o.GetShape())
		o.Destroy()
	}
	return dims, nil
}

// SampleSize is the number of float32 values of one input image.
func (e *Engine) SampleSize() int {
	n := 1
	for _, d := range e.sample {
		n *= int(d)
	}
	return n
}

// FeatureDim is the length of one feature vector (0 without features).
func (e *Engine) FeatureDim() int { return e.featureDim }

// NumClasses is the length of one classifier output (0 without logits).
func (e *Engine) NumClasses() int { return e.numClasses }

// Tap is the feature tap in use.
func (e *Engine) Tap() Tap { return e.tap }

// Run infers n images from input (n*SampleSize values) and writes n*FeatureDim
// features and n*NumClasses scores into feats and logits (either may be nil
// when not computed). It blocks until ONNX Runtime returns; callers check
// for cancellation between calls.
func (e *Engine) Run(input []float32, n int, feats, logits []float32) error {
	if n <= 0 {
		return nil
	}
	shape := append([]int64{int64(n)}, e.sample...)
	in, err := ort.NewTensor(ort.NewShape(shape...), input[:n*e.SampleSize()])
	if err != nil {
		return fmt.Errorf("input tensor: %w", err)
	}
	defer in.Destroy()
	outs := make([]ort.Value, 0, 2)
	if e.withFeat {
		t, err := ort.NewTensor(ort.NewShape(int64(n), int64(e.featureDim)), feats[:n*e.featureDim])
		if err != nil {
			return fmt.Errorf("feature tensor: %w", err)
		}
		defer t.Destroy()
		outs = append(outs, t)
	}
	if e.withLogits {
		t, err := ort.NewTensor(ort.NewShape(int64(n), int64(e.numClasses)), logits[:n*e.numClasses])
		if err != nil {
			return fmt.Errorf("logits tensor: %w", err)
		}
		defer t.Destroy()
		outs = append(outs, t)
	}
	if err := e.session.Run([]ort.Value{in}, outs); err != nil {
		return fmt.Errorf("inference: %w", err)
	}
	return nil
}

// InputBuffer returns room for n input values, to be passed to Run: on a
// GPU, page-locked memory (valid until Close), so that the copy of each
// batch to the device is a direct DMA instead of a staged one. Calls in
// flight at once each need their own; it is safe to call concurrently.
func (e *Engine) InputBuffer(n int) []float32 {
	if e.pinned != nil {
		if b, err := e.pinned.Floats(n); err == nil {
			return b
		}
	}
	return make([]float32, n)
}

// Pinned reports whether InputBuffer hands out page-locked memory.
func (e *Engine) Pinned() bool { return e.pinned != nil }

// Close releases the session and the page-locked buffers.
func (e *Engine) Close() error {
	if e.session == nil {
		return nil
	}
	err := e.session.Destroy()
	e.session = nil
	if e.pinned != nil {
		e.pinned.Close()
	}
	return err
}

func inputNames(ins []onnxgraph.ValueInfo) string {
	s := ""
	for i, in := range ins {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q %s", in.Name, shapeString(in.Shape))
	}
	return s
}

func shapeString(dims []onnxgraph.Dim) string {
	s := "["
	for i, d := range dims {
		if i > 0 {
			s += ","
		}
		switch {
		case d.Param != "":
			s += d.Param
		case d.Value > 0:
			s += fmt.Sprint(d.Value)
		default:
			s += "?"
		}
	}
	return s + "]"
}

// Session is a plain ONNX Runtime session with one float32 input, for
// models other than backbones (a classifier head, a combined model).
type Session struct {
	s    *ort.DynamicAdvancedSession
	outs int
}

// NewSession creates a session for model with the given input and outputs.
func NewSession(model []byte, input string, outputs []string, threads int) (*Session, error) {
	s, err := newSession(model, input, outputs, EngineOptions{Threads: threads})
	if err != nil {
		return nil, err
	}
	return &Session{s: s, outs: len(outputs)}, nil
}

// Run feeds input (of shape in) and writes each output into outs[i], whose
// shape is outShapes[i].
func (s *Session) Run(input []float32, in []int64, outs [][]float32, outShapes [][]int64) error {
	t, err := ort.NewTensor(ort.NewShape(in...), input)
	if err != nil {
		return fmt.Errorf("input tensor: %w", err)
	}
	defer t.Destroy()
	vals := make([]ort.Value, len(outs))
	for i := range outs {
		o, err := ort.NewTensor(ort.NewShape(outShapes[i]...), outs[i])
		if err != nil {
			return fmt.Errorf("output tensor: %w", err)
		}
		defer o.Destroy()
		vals[i] = o
	}
	if err := s.s.Run([]ort.Value{t}, vals); err != nil {
		return fmt.Errorf("inference: %w", err)
	}
	return nil
}

// Close releases the session.
func (s *Session) Close() error { return s.s.Destroy() }
