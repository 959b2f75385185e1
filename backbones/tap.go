package backbones

import (
	"fmt"
	"sort"
	"strings"

	"github.com/featurizer/featurizer/backbones/onnxgraph"
)

// Tap is a resolved feature tap.
type Tap struct {
	Tensor  string // tensor inside the graph
	Pooling string // mean, max, none or auto
	// Reason says how an automatic tap was found; empty for a named tap.
	Reason string
}

var (
	denseOps = set("Gemm", "MatMul", "QLinearMatMul", "QGemm", "MatMulInteger", "FusedMatMul", "DynamicQuantizeMatMul", "MatMulIntegerToFloat")
	// headOps sit between the last dense layer and the output.
	headOps = set("Softmax", "LogSoftmax", "Add", "Sub", "Mul", "Div", "Identity", "Dropout", "Flatten",
		"Reshape", "Squeeze", "Unsqueeze", "DequantizeLinear", "QuantizeLinear", "QLinearAdd", "QLinearMul",
		"Cast", "Sigmoid", "QLinearSoftmax", "QLinearSigmoid")
	// shapeOps change shape or representation, not values.
	shapeOps  = set("Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Cast", "QuantizeLinear", "DequantizeLinear", "Transpose")
	poolOps   = set("GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceMax", "AveragePool", "QLinearGlobalAveragePool", "QLinearAveragePool")
	quantized = set("QuantizeLinear", "QLinearConv", "QLinearMatMul", "QLinearAdd", "QLinearMul", "QLinearGlobalAveragePool",
		"QLinearAveragePool", "QLinearConcat", "QLinearLeakyRelu", "QLinearSigmoid", "QLinearSoftmax", "QLinearReduceMean", "ConvInteger", "MatMulInteger")
)

// channelsFirst ops take and give NCHW image tensors by ONNX's definition,
// whatever layout the model's input has: tf2onnx exports a Keras model
// (NHWC input) with one Transpose after the input and NCHW inside, so its
// pooled tap is [N, C, 1, 1], not [N, 1, 1, C].
var (
	channelsFirst = set("Conv", "ConvTranspose", "QLinearConv", "ConvInteger", "MaxPool", "AveragePool", "LpPool",
		"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "BatchNormalization", "InstanceNormalization", "LRN")
	// sameLayout ops give their data input's layout.
	sameLayout = set("Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Elu", "Selu", "Tanh",
		"Identity", "Dropout", "Cast", "QuantizeLinear", "DequantizeLinear", "Add", "Sub", "Mul", "Div", "Max", "Min", "Concat")
)

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// FindTap finds the pooled penultimate layer of a classification graph,
// walking back from output: through the classifier head to the last dense
// layer, then from its input back to the global pooling. A model without a
// dense head (the classifier replaced by Identity) has its features at the
// output itself.
func FindTap(g *onnxgraph.Graph, output string) (Tap, error) {
	t := output
	for step := 0; step < 32; step++ {
		p := g.Producer(t)
		if p == nil {
			break
		}
		switch {
		case denseOps[p.OpType]:
			return tapFromDenseInput(g, p)
		case poolOps[p.OpType]:
			return Tap{Tensor: output, Pooling: "auto", Reason: fmt.Sprintf("the output %q follows a %s without a dense layer, so it is the feature vector", output, p.OpType)}, nil
		case headOps[p.OpType] || shapeOps[p.OpType]:
			next := dataInput(g, p)
			if next == "" {
				return Tap{}, fmt.Errorf("find feature tap: no data input for %s node %q", p.OpType, p.Name)
			}
			t = next
		default:
			return Tap{}, fmt.Errorf("find feature tap: walking back from %q reached a %s node (%q) before any dense layer; name the tensor in the spec (features.tensor)", output, p.OpType, p.Name)
		}
	}
	return Tap{}, fmt.Errorf("find feature tap: no dense layer before output %q; name the tensor in the spec (features.tensor)", output)
}

func tapFromDenseInput(g *onnxgraph.Graph, dense *onnxgraph.Node) (Tap, error) {
	f := dense.Inputs[0]
	t := f
	for step := 0; step < 16; step++ {
		p := g.Producer(t)
		if p == nil {
			break
		}
		if poolOps[p.OpType] {
			if !quantized[p.OpType] {
				return Tap{Tensor: p.Outputs[0], Pooling: "auto",
					Reason: fmt.Sprintf("output of %s %q, the input of the last dense layer %s %q", p.OpType, p.Name, dense.OpType, dense.Name)}, nil
			}
			// A quantized pool loses precision: pool the dequantized
			// tensor before it ourselves.
			pre, err := floatOf(g, p.Inputs[0])
			if err != nil {
				return Tap{}, err
			}
			pooling := "mean"
			if strings.Contains(p.OpType, "Max") {
				pooling = "max"
			}
			return Tap{Tensor: pre, Pooling: pooling,
				Reason: fmt.Sprintf("float input of the quantized %s %q before the last dense layer %s %q, pooled by %s", p.OpType, p.Name, dense.OpType, dense.Name, pooling)}, nil
		}
		if !shapeOps[p.OpType] {
			break
		}
		t = p.Inputs[0]
	}
	ft, err := floatOf(g, f)
	if err != nil {
		return Tap{}, err
	}
	return Tap{Tensor: ft, Pooling: "auto", Reason: fmt.Sprintf("input of the last dense layer %s %q", dense.OpType, dense.Name)}, nil
}

// tensorLayout returns "NCHW" when the ONNX ops that make the rank-4 tensor
// t fix its layout, else "" (unknown: the model input's layout is assumed).
func tensorLayout(g *onnxgraph.Graph, t string) string {
	for step := 0; step < 64; step++ {
		p := g.Producer(t)
		if p == nil || (p.Domain != "" && p.Domain != "ai.onnx") {
			return ""
		}
		switch {
		case channelsFirst[p.OpType]:
			return "NCHW"
		case sameLayout[p.OpType]:
			if t = dataInput(g, p); t == "" {
				return ""
			}
		default:
			return ""
		}
	}
	return ""
}

// floatOf returns t, or the float tensor that carries the same values when
// t is quantized.
func floatOf(g *onnxgraph.Graph, t string) (string, error) {
	p := g.Producer(t)
	if p == nil || !quantized[p.OpType] {
		return t, nil
	}
	if p.OpType == "QuantizeLinear" {
		return p.Inputs[0], nil
	}
	for _, c := range g.Consumers(t) {
		if c.OpType == "DequantizeLinear" && c.Inputs[0] == t {
			return c.Outputs[0], nil
		}
	}
	return "", fmt.Errorf("find feature tap: tensor %q is quantized and nothing dequantizes it; name a float tensor in the spec (features.tensor)", t)
}

// dataInput picks the input of n that carries data rather than weights:
// the first one produced by a node that is not a Constant, else the first
// graph input among them.
func dataInput(g *onnxgraph.Graph, n *onnxgraph.Node) string {
	for _, in := range n.Inputs {
		if in == "" || g.Initializers[in] {
			continue
		}
		if p := g.Producer(in); p != nil && p.OpType != "Constant" {
			return in
		}
	}
	for _, in := range n.Inputs {
		for _, gi := range g.Inputs {
			if gi.Name == in {
				return in
			}
		}
	}
	return ""
}

// suggest lists graph tensors whose names contain any part of name, to help
// with a mistyped features.tensor.
func suggest(g *onnxgraph.Graph, name string) string {
	var hits []string
	lname := strings.ToLower(name)
	for _, t := range g.TensorNames() {
		lt := strings.ToLower(t)
		if strings.Contains(lt, lname) || strings.Contains(lname, lt) {
			hits = append(hits, t)
		}
	}
	if len(hits) == 0 {
		return ""
	}
	sort.Strings(hits)
	if len(hits) > 8 {
		hits = hits[:8]
	}
	return " (similar names: " + strings.Join(hits, ", ") + ")"
}
