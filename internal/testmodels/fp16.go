package testmodels

import (
	"encoding/binary"
	"math"
	"math/rand"

	"github.com/featurizer/featurizer/backbones/onnxgraph"
	"google.golang.org/protobuf/encoding/protowire"
)

// Models for the float16 conversion: every case the converter treats
// differently, in networks small enough to check by hand and to run on the
// CPU.

// MixedChannels is the channel count of Mixed's feature maps; MixedClasses
// the length of its logits.
const (
	MixedChannels = 4
	MixedClasses  = 5
)

// Mixed is a float32 network (opset 13, input "x" [N,3,8,8]) with a node
// of each kind the float16 conversion handles:
//
//	xr     = Reshape(x, si)       shape arithmetic: si from Shape(x), Cast to
//	                              float, Mul by a Constant, Cast to int64
//	c1     = Conv(xr, w1, b1)     b1 stored as packed float_data
//	r1     = Relu(c1)
//	c2     = Conv(r1, w2)         w2 stored as unpacked float_data
//	sv     = Identity(shared)     a shared weight, as torch.onnx writes it
//	a1     = Add(c2, sv)
//	m1     = Mul(a1, k)           k: Constant tensor
//	m2     = Mul(m1, kf)          kf: Constant value_float
//	mx     = Max(m2, mixb)        Max stays float32 (onnxconverter-common's list)
//	a2     = Add(mx, mixb)        mixb read by both precisions
//	g      = GlobalAveragePool(a2)
//	f      = Flatten(g)           a graph output
//	logits = Gemm(f, gw, gb)      a graph output
//	probs  = Softmax(logits)      a graph output
//
// plus an unused int64 initializer and a double one, which must stay as
// they are.
func Mixed() []byte {
	rng := rand.New(rand.NewSource(7))
	w := func(n int, scale float32) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = (rng.Float32()*2 - 1) * scale
		}
		return v
	}
	C := int64(MixedChannels)
	k := int64(MixedClasses)
	f32 := onnxgraph.FloatTensor
	scalar := func(name string, v float32) onnxgraph.Tensor { return f32(name, nil, []float32{v}) }
	node := func(name, op string, in []string, out string, attrs ...onnxgraph.Attr) onnxgraph.Node {
		return onnxgraph.Node{Name: name, OpType: op, Inputs: in, Outputs: []string{out}, Attrs: attrs}
	}
	spec := onnxgraph.ModelSpec{
		Opset:  13,
		Inputs: []onnxgraph.ValueInfo{{Name: "x", ElemType: onnxgraph.Float, Shape: []onnxgraph.Dim{{Param: "N"}, {Value: 3}, {Value: 8}, {Value: 8}}, HasShape: true}},
		Initializers: []onnxgraph.Tensor{
			f32("w1", []int64{C, 3, 3, 3}, w(int(C)*27, 0.5)),
			f32("b1", []int64{C}, w(int(C), 0.1)),
			f32("w2", []int64{C, C, 1, 1}, w(int(C*C), 0.5)),
			f32("shared", []int64{C, 1, 1}, w(int(C), 0.2)),
			scalar("mixb", 0.05),
			f32("gw", []int64{k, C}, w(int(k*C), 1)),
			f32("gb", []int64{k}, w(int(k), 0.1)),
			onnxgraph.Int64Tensor("unused_i64", []int64{3}, []int64{1, -2, 1 << 40}),
			{Name: "unused_f64", Dims: []int64{2}, ElemType: onnxgraph.Double, Raw: f64Bytes(0.1, 3e300)},
		},
		Nodes: []onnxgraph.Node{
			node("shape", "Shape", []string{"x"}, "s"),
			node("shape_f", "Cast", []string{"s"}, "sf", onnxgraph.IntAttr("to", int64(onnxgraph.Float))),
			node("one", "Constant", nil, "k1", onnxgraph.TensorAttr("value", scalar("", 1))),
			node("shape_mul", "Mul", []string{"sf", "k1"}, "sf2"),
			node("shape_i", "Cast", []string{"sf2"}, "si", onnxgraph.IntAttr("to", int64(onnxgraph.Int64))),
			node("reshape", "Reshape", []string{"x", "si"}, "xr"),
			node("conv1", "Conv", []string{"xr", "w1", "b1"}, "c1", onnxgraph.IntsAttr("kernel_shape", 3, 3), onnxgraph.IntsAttr("pads", 1, 1, 1, 1)),
			node("relu1", "Relu", []string{"c1"}, "r1"),
			node("conv2", "Conv", []string{"r1", "w2"}, "c2", onnxgraph.IntsAttr("kernel_shape", 1, 1)),
			node("shared_id", "Identity", []string{"shared"}, "sv"),
			node("add1", "Add", []string{"c2", "sv"}, "a1"),
			node("k", "Constant", nil, "k", onnxgraph.TensorAttr("value", f32("", []int64{1}, []float32{0.5}))),
			node("mul1", "Mul", []string{"a1", "k"}, "m1"),
			node("kf", "Constant", nil, "kf", onnxgraph.FloatAttr("value_float", 2)),
			node("mul2", "Mul", []string{"m1", "kf"}, "m2"),
			node("max", "Max", []string{"m2", "mixb"}, "mx"),
			node("add2", "Add", []string{"mx", "mixb"}, "a2"),
			node("gap", "GlobalAveragePool", []string{"a2"}, "g"),
			node("flatten", "Flatten", []string{"g"}, "f", onnxgraph.IntAttr("axis", 1)),
			node("gemm", "Gemm", []string{"f", "gw", "gb"}, "logits", onnxgraph.IntAttr("transB", 1)),
			node("softmax", "Softmax", []string{"logits"}, "probs", onnxgraph.IntAttr("axis", 1)),
		},
		Outputs: []onnxgraph.ValueInfo{
			{Name: "probs", ElemType: onnxgraph.Float, Shape: []onnxgraph.Dim{{Param: "N"}, {Value: k}}, HasShape: true},
			{Name: "logits", ElemType: onnxgraph.Float, Shape: []onnxgraph.Dim{{Param: "N"}, {Value: k}}, HasShape: true},
			{Name: "f", ElemType: onnxgraph.Float, Shape: []onnxgraph.Dim{{Param: "N"}, {Value: C}}, HasShape: true}},
	}
	b, err := onnxgraph.Build(spec)
	if err != nil {
		panic(err)
	}
	b = FloatData(b, "b1", true)
	return FloatData(b, "w2", false)
}

func f64Bytes(v ...float64) []byte {
	b := make([]byte, 8*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(f))
	}
	return b
}

// FloatData rewrites the main graph's float32 initializer name to keep its
// values in float_data instead of raw_data, packed (one length-delimited
// field, as protobuf writes it) or not (one fixed32 field per value, as
// older writers did).
func FloatData(model []byte, name string, packed bool) []byte {
	return rewriteGraph(model, func(g []byte) []byte {
		return rewriteMessages(g, 5, func(t []byte) []byte {
			var tname string
			var raw []byte
			walk(t, func(num protowire.Number, typ protowire.Type, field, payload []byte) {
				switch {
				case num == 8 && typ == protowire.BytesType:
					tname = string(payload)
				case num == 9 && typ == protowire.BytesType:
					raw = payload
				}
			})
			if tname != name {
				return t
			}
			var out []byte
			walk(t, func(num protowire.Number, _ protowire.Type, field, _ []byte) {
				if num != 9 {
					out = append(out, field...)
				}
			})
			if packed {
				out = protowire.AppendTag(out, 4, protowire.BytesType)
				return protowire.AppendBytes(out, raw)
			}
			for i := 0; i+4 <= len(raw); i += 4 {
				out = protowire.AppendTag(out, 4, protowire.Fixed32Type)
				out = protowire.AppendFixed32(out, binary.LittleEndian.Uint32(raw[i:]))
			}
			return out
		})
	})
}

// ShapeArithmetic is a network whose output width is computed in float:
// y = Resize(x, sizes = [N, C, H, Cast<int64>(Cast<float>(W) * 1)]) for an
// input "x" [1,1,1,W] that goes through a Relu on the way. With W above
// 2048 a float16 Mul would round the width (2049 -> 2048).
func ShapeArithmetic() []byte {
	node := func(name, op string, in []string, out string, attrs ...onnxgraph.Attr) onnxgraph.Node {
		return onnxgraph.Node{Name: name, OpType: op, Inputs: in, Outputs: []string{out}, Attrs: attrs}
	}
	b, err := onnxgraph.Build(onnxgraph.ModelSpec{
		Opset:  13,
		Inputs: []onnxgraph.ValueInfo{{Name: "x", ElemType: onnxgraph.Float, Shape: []onnxgraph.Dim{{Value: 1}, {Value: 1}, {Value: 1}, {Param: "W"}}, HasShape: true}},
		Initializers: []onnxgraph.Tensor{
			onnxgraph.FloatTensor("one", []int64{1}, []float32{1}),
			onnxgraph.Int64Tensor("lead", []int64{3}, []int64{1, 1, 1}),
			onnxgraph.Int64Tensor("last", []int64{1}, []int64{3}),
		},
		Nodes: []onnxgraph.Node{
			node("relu", "Relu", []string{"x"}, "r"),
			node("shape", "Shape", []string{"r"}, "s"),
			node("w", "Gather", []string{"s", "last"}, "wi"),
			node("wf", "Cast", []string{"wi"}, "wf", onnxgraph.IntAttr("to", int64(onnxgraph.Float))),
			node("scale", "Mul", []string{"wf", "one"}, "wf2"),
			node("wi2", "Cast", []string{"wf2"}, "wi2", onnxgraph.IntAttr("to", int64(onnxgraph.Int64))),
			node("sizes", "Concat", []string{"lead", "wi2"}, "sizes", onnxgraph.IntAttr("axis", 0)),
			{Name: "resize", OpType: "Resize", Inputs: []string{"r", "", "", "sizes"}, Outputs: []string{"y"}},
		},
		Outputs: []onnxgraph.ValueInfo{{Name: "y", ElemType: onnxgraph.Float, Shape: []onnxgraph.Dim{{Value: 1}, {Value: 1}, {Value: 1}, {Param: "W2"}}, HasShape: true}},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// IfModel is a network with control flow: y = If(cond, then: Relu(h) + h,
// else: h), where h = Conv(x, w) lives in the main graph and the branches
// read it from the outer scope; cond is a bool input. Input "x" [N,2,4,4],
// "cond" []; output "y".
func IfModel() []byte {
	ins := func(b []byte, names ...string) []byte {
		for _, n := range names {
			b = protowire.AppendTag(b, 1, protowire.BytesType)
			b = protowire.AppendString(b, n)
		}
		return b
	}
	str := func(b []byte, num protowire.Number, s string) []byte {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendString(b, s)
	}
	msg := func(b []byte, num protowire.Number, m []byte) []byte {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendBytes(b, m)
	}
	node := func(op string, in []string, out string) []byte {
		b := ins(nil, in...)
		b = str(b, 2, out)
		return str(b, 4, op)
	}
	valueInfo := func(name string, et int32) []byte { // [N,2,4,4]
		tensor := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), uint64(et))
		shape := msg(nil, 1, str(nil, 2, "N"))
		for _, d := range []uint64{2, 4, 4} {
			shape = msg(shape, 1, protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), d))
		}
		tensor = msg(tensor, 2, shape)
		return msg(str(nil, 1, name), 2, msg(nil, 1, tensor))
	}
	branch := func(name string, nodes [][]byte, out string) []byte {
		var g []byte
		for _, n := range nodes {
			g = msg(g, 1, n)
		}
		g = str(g, 2, name)
		return msg(g, 12, valueInfo(out, onnxgraph.Float))
	}
	then := branch("then", [][]byte{node("Relu", []string{"h"}, "tr"), node("Add", []string{"tr", "h"}, "ty")}, "ty")
	els := branch("else", [][]byte{node("Identity", []string{"h"}, "ey")}, "ey")
	graphAttr := func(name string, g []byte) []byte {
		a := str(nil, 1, name)
		a = msg(a, 6, g)
		return protowire.AppendVarint(protowire.AppendTag(a, 20, protowire.VarintType), 5) // GRAPH
	}
	ifNode := node("If", []string{"cond"}, "y")
	ifNode = str(ifNode, 3, "if")
	ifNode = msg(ifNode, 5, graphAttr("then_branch", then))
	ifNode = msg(ifNode, 5, graphAttr("else_branch", els))

	rng := rand.New(rand.NewSource(3))
	wv := make([]float32, 2*2*3*3)
	for i := range wv {
		wv[i] = rng.Float32() - 0.5
	}
	b, err := onnxgraph.Build(onnxgraph.ModelSpec{
		Opset: 13,
		Inputs: []onnxgraph.ValueInfo{{Name: "x", ElemType: onnxgraph.Float, Shape: []onnxgraph.Dim{{Param: "N"}, {Value: 2}, {Value: 4}, {Value: 4}}, HasShape: true},
			{Name: "cond", ElemType: 9, Shape: []onnxgraph.Dim{}, HasShape: true}},
		Initializers: []onnxgraph.Tensor{onnxgraph.FloatTensor("w", []int64{2, 2, 3, 3}, wv)},
		Nodes: []onnxgraph.Node{{Name: "conv", OpType: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"h"},
			Attrs: []onnxgraph.Attr{onnxgraph.IntsAttr("kernel_shape", 3, 3), onnxgraph.IntsAttr("pads", 1, 1, 1, 1)}}},
		Outputs: []onnxgraph.ValueInfo{{Name: "y", ElemType: onnxgraph.Float, Shape: []onnxgraph.Dim{{Param: "N"}, {Value: 2}, {Value: 4}, {Value: 4}}, HasShape: true}},
	})
	if err != nil {
		panic(err)
	}
	// Append the If node to the graph.
	return rewriteGraph(b, func(g []byte) []byte { return msg(append([]byte{}, g...), 1, ifNode) })
}

func walk(b []byte, fn func(num protowire.Number, typ protowire.Type, field, payload []byte)) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			panic(protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			panic(protowire.ParseError(m))
		}
		var payload []byte
		if typ == protowire.BytesType {
			payload, _ = protowire.ConsumeBytes(b[n:])
		}
		fn(num, typ, b[:n+m], payload)
		b = b[n+m:]
	}
}

func rewriteGraph(model []byte, fn func([]byte) []byte) []byte {
	return rewriteMessages(model, 7, fn)
}

func rewriteMessages(msg []byte, field protowire.Number, fn func([]byte) []byte) []byte {
	var out []byte
	walk(msg, func(num protowire.Number, typ protowire.Type, f, payload []byte) {
		if num == field && typ == protowire.BytesType {
			out = protowire.AppendTag(out, num, protowire.BytesType)
			out = protowire.AppendBytes(out, fn(payload))
			return
		}
		out = append(out, f...)
	})
	return out
}
