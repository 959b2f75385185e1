package onnxgraph

import "google.golang.org/protobuf/encoding/protowire"

// Element type rules of the standard ONNX operators, as much of them as the
// float16 conversion needs: what each output's element type is, given the
// inputs' types and the node's attributes. 0 is unknown.

// sameAsInput0: every output has the element type of the first input.
var sameAsInput0 = setOf(
	"Abs", "Acos", "Acosh", "Add", "Asin", "Asinh", "Atan", "Atanh", "AveragePool", "BitShift",
	"BitwiseAnd", "BitwiseNot", "BitwiseOr", "BitwiseXor", "Ceil", "Celu", "CenterCropPad", "Clip", "Col2Im",
	"Compress", "Concat", "Conv", "ConvTranspose", "Cos", "Cosh", "CumSum", "DeformConv", "DepthToSpace", "Det",
	"Div", "Einsum", "Elu", "Erf", "Exp", "Expand", "Flatten", "Floor", "Gather", "GatherElements", "GatherND",
	"Gelu", "Gemm", "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool", "GridSample", "GroupNormalization",
	"HardSigmoid", "HardSwish", "Hardmax", "Identity", "InstanceNormalization", "LRN", "LeakyRelu", "Log",
	"LogSoftmax", "LpNormalization", "LpPool", "MatMul", "Max", "MaxRoiPool", "MaxUnpool", "Mean",
	"MeanVarianceNormalization", "Min", "Mish", "Mod", "Mul", "Neg", "PRelu", "Pad", "Pow", "Range", "Reciprocal",
	"ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin",
	"ReduceProd", "ReduceSum", "ReduceSumSquare", "Relu", "Reshape", "Resize", "ReverseSequence", "RoiAlign",
	"Round", "Scatter", "ScatterElements", "ScatterND", "Selu", "Shrink", "Sigmoid", "Sign", "Sin", "Sinh",
	"Slice", "Softmax", "Softplus", "Softsign", "SpaceToDepth", "Split", "Sqrt", "Squeeze", "Sub", "Sum",
	"Swish", "Tan", "Tanh", "ThresholdedRelu", "Tile", "Transpose", "Trilu", "Unsqueeze", "Upsample",
)

var (
	int64Out = setOf("Shape", "Size", "NonZero", "ArgMax", "ArgMin", "NonMaxSuppression")
	boolOut  = setOf("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "IsNaN", "IsInf", "Not", "And", "Or", "Xor")
	// neverConvert make values from attributes, not from their inputs.
	neverConvert = setOf("ConstantOfShape", "EyeLike", "RandomNormal", "RandomUniform", "RandomNormalLike",
		"RandomUniformLike", "Bernoulli", "Multinomial")
	// followsInput move or reshape values without arithmetic: they run in
	// the precision their input already has.
	followsInput = setOf("Identity", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Dropout",
		"Slice", "Split", "Tile", "Expand", "DepthToSpace", "SpaceToDepth", "Gather", "GatherElements", "GatherND")
	// metaOps read only their input's shape: any precision will do.
	metaOps = setOf("Shape", "Size")
)

func setOf(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// inferTypes returns the element types of n's outputs given its inputs'
// (in[i] for n.inputs[i]), or nil for an op without a rule here. castTo16
// reads a Cast to float32 as one to float16.
func inferTypes(n *f16node, in []int32, castTo16 bool) []int32 {
	if n.dom != "" && n.dom != "ai.onnx" {
		return nil
	}
	at := func(i int) int32 {
		if i < len(in) {
			return in[i]
		}
		return 0
	}
	out := make([]int32, len(n.outputs))
	all := func(t int32) []int32 {
		for i := range out {
			out[i] = t
		}
		return out
	}
	attrType := func(name string, def int32) int32 {
		if a := n.attr(name); a != nil && a.hasI {
			return int32(a.i)
		}
		return def
	}
	switch op := n.op; {
	case sameAsInput0[op]:
		return all(at(0))
	case int64Out[op]:
		return all(Int64)
	case boolOut[op]:
		return all(typeBool)
	case op == "BatchNormalization": // training mode adds the running statistics
		all(at(0))
		for i := 1; i < len(out) && i < 3; i++ {
			out[i] = at(i + 2)
		}
		return out
	case op == "Dropout":
		all(typeBool)
		out[0] = at(0)
		return out
	case op == "MaxPool", op == "TopK":
		all(Int64)
		out[0] = at(0)
		return out
	case op == "Unique":
		all(Int64)
		out[0] = at(0)
		return out
	case op == "LayerNormalization": // mean and inverse deviation in stash_type
		all(attrType("stash_type", Float))
		out[0] = at(0)
		return out
	case op == "Cast":
		t := attrType("to", 0)
		if castTo16 && t == Float {
			t = Float16
		}
		return all(t)
	case op == "CastLike", op == "Where":
		return all(at(1))
	case op == "OneHot":
		return all(at(2))
	case op == "Constant":
		return all(constantType(n))
	case op == "ConstantOfShape":
		if a := n.attr("value"); a != nil && a.t != nil {
			t, _, _ := parseTensor(a.t)
			return all(t.ElemType)
		}
		return all(Float)
	case op == "RandomNormal", op == "RandomUniform":
		return all(attrType("dtype", Float))
	case op == "EyeLike", op == "RandomNormalLike", op == "RandomUniformLike", op == "Bernoulli":
		return all(attrType("dtype", at(0)))
	case op == "Multinomial":
		return all(attrType("dtype", Int32))
	case op == "If", op == "Loop", op == "Scan":
		return subgraphOutputTypes(n, out)
	}
	return nil
}

func constantType(n *f16node) int32 {
	for _, a := range n.attrs {
		switch a.name {
		case "value":
			if a.t != nil {
				t, _, _ := parseTensor(a.t)
				return t.ElemType
			}
		case "value_float", "value_floats":
			return Float
		case "value_int", "value_ints":
			return Int64
		case "value_string", "value_strings":
			return typeString
		case "sparse_value":
			return 0 // the values' type; rare enough to leave unknown
		}
	}
	return 0
}

// subgraphOutputTypes reads the element types of a control-flow node's
// outputs from its body's declared outputs: If's then_branch, Loop's body
// (after the condition), Scan's body.
func subgraphOutputTypes(n *f16node, out []int32) []int32 {
	name, skip := "then_branch", 0
	switch n.op {
	case "Loop":
		name, skip = "body", 1
	case "Scan":
		name = "body"
	}
	a := n.attr(name)
	if a == nil || len(a.graphs) == 0 {
		return out
	}
	var types []int32
	eachField(a.graphs[0], func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num == 12 && typ == protowire.BytesType {
			vi, err := parseValueInfo(v)
			if err == nil {
				types = append(types, vi.ElemType)
			}
		}
		return nil
	})
	for i := range out {
		if i+skip < len(types) {
			out[i] = types[i+skip]
		}
	}
	return out
}
