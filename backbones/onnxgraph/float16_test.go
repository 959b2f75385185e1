package onnxgraph_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/backbones/onnxgraph"
	"github.com/featurizer/featurizer/internal/testmodels"
	"google.golang.org/protobuf/encoding/protowire"
)

// numpyPython is Debian's python3 with numpy, the reference for float16
// rounding. CI sets FEATURIZER_REQUIRE_REFERENCE so that this cannot skip.
func numpyPython(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import numpy").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("needs %s with numpy (apt-get install python3-numpy): %v %s", py, err, strings.TrimSpace(string(out)))
		if os.Getenv("FEATURIZER_REQUIRE_REFERENCE") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

// float16Samples are float32 bit patterns that cover every case of the
// rounding: zeros, float32 subnormals, the float16 subnormal range and its
// ties, the normal range and its ties, the largest float16 and the values
// around the overflow threshold (65520), infinities, NaNs with payloads
// and signs, then random patterns and random weights.
func float16Samples() []uint32 {
	var s []uint32
	f := func(v float32) { s = append(s, math.Float32bits(v), math.Float32bits(-v)) }
	for _, v := range []float32{0, 1, 0.5, 2, 1e-8, 5.96e-8, 6e-8, 1e-7, 6.1e-5, 6.103515625e-05, 65504, 65519, 65519.996, 65520, 65536, 1e5, 3.4e38, 0.1, 1.0 / 3, 2048, 2049, 2050, 4097} {
		f(v)
	}
	for e := -30; e <= 17; e++ { // powers of two and the ties next to them
		p := float32(math.Ldexp(1, e))
		f(p)
		f(p * (1 + 1.0/2048)) // halfway between two float16 values: ties to even
		f(p * (1 + 3.0/2048))
		f(p * (1 + 1.0/2048 + 1.0/(1<<22)))
		f(p * (1 - 1.0/4096))
	}
	for _, b := range []uint32{0x00000001, 0x007fffff, 0x33000000, 0x33000001, 0x337fffff, 0x33800000, 0x387fe000, 0x387ff000, 0x387fffff,
		0x477fe000, 0x477fefff, 0x477ff000, 0x477ff001, 0x47800000,
		0x7f800000, 0x7fc00000, 0x7f800001, 0x7f801fff, 0x7f802000, 0x7fa00000, 0x7fffffff, 0x7fbfffff} {
		s = append(s, b, b|0x80000000)
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200000; i++ {
		s = append(s, rng.Uint32())
	}
	for i := 0; i < 50000; i++ {
		s = append(s, math.Float32bits(float32(rng.NormFloat64()*math.Pow(10, float64(rng.Intn(12)-8)))))
	}
	return s
}

// Float16Bits is numpy's float32 -> float16 cast, bit for bit, except that
// finite values too large for float16 clamp to ±65504 where numpy gives
// infinity.
func TestFloat16BitsMatchesNumpy(t *testing.T) {
	py := numpyPython(t)
	dir := t.TempDir()
	in := float16Samples()
	raw := make([]byte, 4*len(in))
	for i, b := range in {
		binary.LittleEndian.PutUint32(raw[4*i:], b)
	}
	inPath, outPath := filepath.Join(dir, "in.f32"), filepath.Join(dir, "out.f16")
	if err := os.WriteFile(inPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, numpy as np
x = np.fromfile(sys.argv[1], dtype="<u4").view("<f4")
with np.errstate(over="ignore", invalid="ignore"):
    x.astype("<f2").view("<u2").tofile(sys.argv[2])
`
	if out, err := exec.Command(py, "-c", script, inPath, outPath).CombinedOutput(); err != nil {
		t.Fatalf("numpy: %v %s", err, out)
	}
	ref, err := os.ReadFile(outPath)
	if err != nil || len(ref) != 2*len(in) {
		t.Fatalf("numpy output: %d bytes, %v", len(ref), err)
	}
	clamped, bad := 0, 0
	for i, b := range in {
		want := binary.LittleEndian.Uint16(ref[2*i:])
		f := math.Float32frombits(b)
		if want&0x7fff == 0x7c00 && !math.IsInf(float64(f), 0) {
			want = want&0x8000 | 0x7bff // overflow: clamped, not infinite
			clamped++
		}
		if got := onnxgraph.Float16Bits(f); got != want {
			if bad++; bad <= 10 {
				t.Errorf("Float16Bits(%#08x = %g) = %#04x, numpy (clamped) %#04x", b, f, got, want)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d values differ from numpy", bad, len(in))
	}
	if clamped == 0 {
		t.Error("no sample overflowed: the clamp is untested")
	}
}

// Float16Value decodes every float16 bit pattern as numpy does.
func TestFloat16ValueMatchesNumpy(t *testing.T) {
	py := numpyPython(t)
	out, err := exec.Command(py, "-c", `
import sys, numpy as np
np.arange(65536, dtype="<u2").view("<f2").astype("<f4").view("<u4").tofile(sys.stdout.buffer)
`).Output()
	if err != nil || len(out) != 4*65536 {
		t.Fatalf("numpy: %v (%d bytes)", err, len(out))
	}
	for h := 0; h < 65536; h++ {
		want := binary.LittleEndian.Uint32(out[4*h:])
		if got := math.Float32bits(onnxgraph.Float16Value(uint16(h))); got != want {
			t.Fatalf("Float16Value(%#04x) = %#08x, numpy %#08x", h, got, want)
		}
		// And back: every float16 value is its own rounding.
		if f := onnxgraph.Float16Value(uint16(h)); !math.IsNaN(float64(f)) && onnxgraph.Float16Bits(f) != uint16(h) {
			t.Fatalf("Float16Bits(Float16Value(%#04x)) = %#04x", h, onnxgraph.Float16Bits(f))
		}
	}
}

// A model as the test reads it back: nodes with the attributes that
// matter here, initializers with their element type and values.
type rnode struct {
	name, op        string
	inputs, outputs []string
	ints            map[string]int64
	tensor          *rtensor // Constant's value
	floatAttr       bool     // Constant's value_float(s)
}

type rtensor struct {
	name string
	elem int32
	dims []int64
	raw  []byte   // exactly as stored in raw_data
	f32  []uint32 // float_data, packed or not
}

type rgraph struct {
	nodes   []rnode
	inits   map[string]rtensor
	inputs  map[string]int32
	outputs []string
	outType map[string]int32
}

func walkFields(t *testing.T, b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64)) {
	t.Helper()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatal(protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.Fixed32Type:
			var u uint32
			u, n = protowire.ConsumeFixed32(b)
			x = uint64(u)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			t.Fatal(protowire.ParseError(n))
		}
		b = b[n:]
		fn(num, typ, v, x)
	}
}

func readTensor(t *testing.T, b []byte) rtensor {
	var r rtensor
	walkFields(t, b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) {
		switch {
		case num == 1 && typ == protowire.VarintType:
			r.dims = append(r.dims, int64(x))
		case num == 2:
			r.elem = int32(x)
		case num == 8:
			r.name = string(v)
		case num == 9:
			r.raw = append([]byte{}, v...)
		case num == 4 && typ == protowire.BytesType:
			for ; len(v) >= 4; v = v[4:] {
				r.f32 = append(r.f32, binary.LittleEndian.Uint32(v))
			}
		case num == 4 && typ == protowire.Fixed32Type:
			r.f32 = append(r.f32, uint32(x))
		}
	})
	return r
}

// float32s returns a float32 tensor's values as bits.
func (r rtensor) float32s() []uint32 {
	if r.f32 != nil {
		return r.f32
	}
	out := make([]uint32, len(r.raw)/4)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(r.raw[4*i:])
	}
	return out
}

func valueInfoType(t *testing.T, b []byte) (string, int32) {
	var name string
	var et int32
	walkFields(t, b, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
		switch num {
		case 1:
			name = string(v)
		case 2:
			walkFields(t, v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
				if num == 1 {
					walkFields(t, v, func(num protowire.Number, _ protowire.Type, _ []byte, x uint64) {
						if num == 1 {
							et = int32(x)
						}
					})
				}
			})
		}
	})
	return name, et
}

func readModel(t *testing.T, model []byte) rgraph {
	t.Helper()
	g := rgraph{inits: map[string]rtensor{}, inputs: map[string]int32{}, outType: map[string]int32{}}
	walkFields(t, model, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
		if num != 7 {
			return
		}
		walkFields(t, v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
			switch num {
			case 1:
				n := rnode{ints: map[string]int64{}}
				walkFields(t, v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
					switch num {
					case 1:
						n.inputs = append(n.inputs, string(v))
					case 2:
						n.outputs = append(n.outputs, string(v))
					case 3:
						n.name = string(v)
					case 4:
						n.op = string(v)
					case 5:
						var aname string
						walkFields(t, v, func(num protowire.Number, typ protowire.Type, av []byte, x uint64) {
							switch {
							case num == 1:
								aname = string(av)
							case num == 3:
								n.ints[aname] = int64(x)
							case num == 5:
								tt := readTensor(t, av)
								n.tensor = &tt
							case num == 2 || num == 7:
								n.floatAttr = true
							}
						})
					}
				})
				g.nodes = append(g.nodes, n)
			case 5:
				r := readTensor(t, v)
				g.inits[r.name] = r
			case 11:
				name, et := valueInfoType(t, v)
				g.inputs[name] = et
			case 12:
				name, et := valueInfoType(t, v)
				g.outputs = append(g.outputs, name)
				g.outType[name] = et
			}
		})
	})
	return g
}

// types computes every tensor's element type independently of the
// converter, for the ops of the test models, and checks that each node's
// inputs agree where ONNX requires one type.
func (g rgraph) types(t *testing.T) map[string]int32 {
	t.Helper()
	ty := map[string]int32{}
	for n, et := range g.inputs {
		ty[n] = et
	}
	for n, r := range g.inits {
		ty[n] = r.elem
	}
	sameType := map[string]bool{"Conv": true, "Add": true, "Mul": true, "Max": true, "Gemm": true}
	for _, n := range g.nodes {
		var out int32
		switch n.op {
		case "Constant":
			if n.tensor != nil {
				out = n.tensor.elem
			} else if n.floatAttr {
				out = onnxgraph.Float
			}
		case "Cast":
			out = int32(n.ints["to"])
		case "Shape":
			out = onnxgraph.Int64
		default:
			out = ty[n.inputs[0]]
		}
		if sameType[n.op] {
			for _, in := range n.inputs {
				if in != "" && ty[in] != ty[n.inputs[0]] {
					t.Errorf("%s %q: input %q is of type %d, input %q of type %d", n.op, n.name, in, ty[in], n.inputs[0], ty[n.inputs[0]])
				}
			}
		}
		for _, o := range n.outputs {
			ty[o] = out
		}
	}
	return ty
}

func (g rgraph) node(name string) *rnode {
	for i := range g.nodes {
		if g.nodes[i].name == name {
			return &g.nodes[i]
		}
	}
	return nil
}

func (g rgraph) producer(tensor string) *rnode {
	for i := range g.nodes {
		for _, o := range g.nodes[i].outputs {
			if o == tensor {
				return &g.nodes[i]
			}
		}
	}
	return nil
}

// The converted Mixed model: float16 where it computes, float32 where the
// ops are sensitive, at its inputs and outputs, and on shape arithmetic;
// Casts exactly at the boundaries; every float32 weight rounded as numpy
// rounds it; everything else as it was.
func TestToFloat16Structure(t *testing.T) {
	orig := testmodels.Mixed()
	res, err := onnxgraph.ConvertFloat16(orig, onnxgraph.Float16Options{})
	if err != nil {
		t.Fatal(err)
	}
	before, after := readModel(t, orig), readModel(t, res.Model)
	ty := after.types(t)

	// Inputs and outputs: float32, the same names in the same order.
	if after.inputs["x"] != onnxgraph.Float || len(after.inputs) != 1 {
		t.Errorf("inputs %v", after.inputs)
	}
	if strings.Join(after.outputs, ",") != "probs,logits,f" {
		t.Errorf("outputs %v", after.outputs)
	}
	for _, o := range after.outputs {
		if after.outType[o] != onnxgraph.Float || ty[o] != onnxgraph.Float {
			t.Errorf("output %s: declared %d, computed %d", o, after.outType[o], ty[o])
		}
	}

	// Which nodes compute in which precision (their first input's type).
	half := []string{"conv1", "relu1", "conv2", "shared_id", "add1", "mul1", "mul2", "add2", "gemm"}
	single := []string{"reshape", "shape_mul", "max", "gap", "flatten", "softmax"}
	for _, names := range [][]string{half, single} {
		want := onnxgraph.Float16
		if names[0] == single[0] {
			want = onnxgraph.Float
		}
		for _, name := range names {
			n := after.node(name)
			if n == nil {
				t.Fatalf("node %s is gone", name)
			}
			if got := ty[n.inputs[0]]; got != want {
				t.Errorf("%s %s computes in type %d, want %d", n.op, name, got, want)
			}
		}
	}

	// The Casts added: one per tensor and precision, where they are needed.
	var casts []string
	for _, n := range after.nodes {
		if n.op == "Cast" && before.node(n.name) == nil {
			src := n.inputs[0]
			if p := after.producer(src); p != nil && p.name == "gemm" {
				src = "gemm's output"
			}
			casts = append(casts, fmt.Sprintf("%s->%d=%s", src, n.ints["to"], n.outputs[0]))
		}
	}
	sort.Strings(casts)
	want := []string{"a2->1=a2_fp32", "f->10=f_fp16", "gemm's output->1=logits", "m2->1=m2_fp32", "mx->10=mx_fp16", "xr->10=xr_fp16"}
	if strings.Join(casts, " ") != strings.Join(want, " ") {
		t.Errorf("casts\n got %v\nwant %v", casts, want)
	}
	if res.Casts != len(want) {
		t.Errorf("Casts = %d, want %d", res.Casts, len(want))
	}
	if p := after.producer("logits"); p == nil || p.op != "Cast" {
		t.Errorf("logits made by %+v, want the Cast", p)
	}
	if n := after.node("softmax"); n.inputs[0] != "logits" {
		t.Errorf("softmax reads %v, want the float32 logits", n.inputs)
	}

	// Initializers: the float32 weights are float16 now, each value as numpy
	// rounds it (float_data, packed or not, included); mixb, read by Max in
	// float32 and by Add in float16, is kept and copied.
	for _, name := range []string{"w1", "b1", "w2", "shared", "gw", "gb"} {
		checkHalf(t, name, before.inits[name], after.inits[name])
	}
	if m := after.inits["mixb"]; m.elem != onnxgraph.Float || !bytes.Equal(m.raw, before.inits["mixb"].raw) {
		t.Errorf("mixb changed: %+v", m)
	}
	checkHalf(t, "mixb_fp16", before.inits["mixb"], after.inits["mixb_fp16"])
	if n := after.node("add2"); n.inputs[1] != "mixb_fp16" {
		t.Errorf("add2 reads %v", n.inputs)
	}
	if n := after.node("max"); n.inputs[1] != "mixb" {
		t.Errorf("max reads %v", n.inputs)
	}
	for _, name := range []string{"unused_i64", "unused_f64"} {
		if a, b := before.inits[name], after.inits[name]; a.elem != b.elem || !bytes.Equal(a.raw, b.raw) {
			t.Errorf("%s changed: %+v -> %+v", name, a, b)
		}
	}
	if len(after.inits) != len(before.inits)+1 {
		t.Errorf("%d initializers, want %d", len(after.inits), len(before.inits)+1)
	}
	if res.Initializers != 9 {
		t.Errorf("Initializers = %d, want 9 (6 weights, mixb's copy, Constants k and kf)", res.Initializers)
	}

	// Constants: k (a tensor) and kf (value_float) feed float16 Muls and are
	// float16 values now; k1 feeds the shape arithmetic and stays float32.
	if k := after.node("k"); k.tensor == nil || k.tensor.elem != onnxgraph.Float16 || binary.LittleEndian.Uint16(k.tensor.raw) != onnxgraph.Float16Bits(0.5) {
		t.Errorf("Constant k: %+v", k.tensor)
	}
	if kf := after.node("kf"); kf.tensor == nil || kf.tensor.elem != onnxgraph.Float16 || binary.LittleEndian.Uint16(kf.tensor.raw) != onnxgraph.Float16Bits(2) || kf.floatAttr {
		t.Errorf("Constant kf: %+v", kf)
	}
	if k1 := after.node("one"); k1.tensor == nil || k1.tensor.elem != onnxgraph.Float {
		t.Errorf("Constant one: %+v", k1.tensor)
	}

	// The rest of the model is as it was.
	m0, _ := onnxgraph.Parse(orig)
	m1, err := onnxgraph.Parse(res.Model)
	if err != nil {
		t.Fatal(err)
	}
	if m1.IRVersion != m0.IRVersion || m1.Opset() != m0.Opset() || len(m1.Graph.Nodes) != len(m0.Graph.Nodes)+len(want) {
		t.Errorf("model: ir %d opset %d, %d nodes", m1.IRVersion, m1.Opset(), len(m1.Graph.Nodes))
	}
	if res.Converted != 8 || res.Kept["Max"] != 1 || res.Kept["GlobalAveragePool"] != 1 || res.Kept["Softmax"] != 1 {
		t.Errorf("Converted %d, Kept %v", res.Converted, res.Kept)
	}
}

func checkHalf(t *testing.T, name string, before, after rtensor) {
	t.Helper()
	if after.elem != onnxgraph.Float16 || after.f32 != nil {
		t.Errorf("%s: element type %d (float_data %d values), want float16 raw_data", name, after.elem, len(after.f32))
		return
	}
	f := before.float32s()
	if len(after.raw) != 2*len(f) || len(f) == 0 || fmt.Sprint(after.dims) != fmt.Sprint(before.dims) {
		t.Errorf("%s: %d bytes for %d values, dims %v -> %v", name, len(after.raw), len(f), before.dims, after.dims)
		return
	}
	for i, b := range f {
		if got, want := binary.LittleEndian.Uint16(after.raw[2*i:]), onnxgraph.Float16Bits(math.Float32frombits(b)); got != want {
			t.Errorf("%s[%d]: %#04x, want %#04x", name, i, got, want)
			return
		}
	}
}

// Weights beyond float16's range clamp to ±65504, tiny ones round to the
// nearest subnormal or zero, and NaN and infinities stay what they are.
func TestToFloat16WeightEdges(t *testing.T) {
	vals := []float32{1e6, -1e6, 65519, 65520, 1e-9, -3e-8, 6e-8, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 0, float32(math.Copysign(0, -1))}
	n := int64(len(vals))
	b, err := onnxgraph.Build(onnxgraph.ModelSpec{Opset: 13,
		Inputs:       []onnxgraph.ValueInfo{{Name: "x", ElemType: onnxgraph.Float}},
		Initializers: []onnxgraph.Tensor{onnxgraph.FloatTensor("w", []int64{n}, vals)},
		Nodes:        []onnxgraph.Node{{Name: "mul", OpType: "Mul", Inputs: []string{"x", "w"}, Outputs: []string{"y"}}},
		Outputs:      []onnxgraph.ValueInfo{{Name: "y", ElemType: onnxgraph.Float}}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := onnxgraph.ToFloat16(b, onnxgraph.Float16Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := readModel(t, out).inits["w"]
	want := []uint16{0x7bff, 0xfbff, 0x7bff, 0x7bff, 0x0000, 0x8001, 0x0001, 0x7c00, 0xfc00, 0, 0x0000, 0x8000}
	for i, h := range want {
		got := binary.LittleEndian.Uint16(w.raw[2*i:])
		if i == 9 {
			if got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
				t.Errorf("NaN became %#04x", got)
			}
			continue
		}
		if got != h {
			t.Errorf("%g -> %#04x, want %#04x", vals[i], got, h)
		}
	}
}

// A quantized model is refused, naming the op: the MobileNetV2 int8 of the
// catalog when it is at hand, and a QDQ graph built here.
func TestToFloat16RefusesQuantized(t *testing.T) {
	b, err := onnxgraph.Build(onnxgraph.ModelSpec{Opset: 13,
		Inputs: []onnxgraph.ValueInfo{{Name: "x", ElemType: onnxgraph.Float}},
		Initializers: []onnxgraph.Tensor{onnxgraph.FloatTensor("s", nil, []float32{0.1}),
			{Name: "z", ElemType: onnxgraph.Uint8, Raw: []byte{128}}},
		Nodes: []onnxgraph.Node{{Name: "q", OpType: "QuantizeLinear", Inputs: []string{"x", "s", "z"}, Outputs: []string{"xq"}},
			{Name: "dq", OpType: "DequantizeLinear", Inputs: []string{"xq", "s", "z"}, Outputs: []string{"y"}}},
		Outputs: []onnxgraph.ValueInfo{{Name: "y", ElemType: onnxgraph.Float}}})
	if err != nil {
		t.Fatal(err)
	}
	models := map[string][]byte{"qdq": b}
	if mb, err := os.ReadFile("../../../shared/models/mobilenetv2-12-int8.onnx"); err == nil {
		models["mobilenetv2-12-int8"] = mb
	}
	for name, m := range models {
		_, err := onnxgraph.ToFloat16(m, onnxgraph.Float16Options{})
		if !errors.Is(err, onnxgraph.ErrQuantized) || !strings.Contains(err.Error(), "Linear node") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Shape arithmetic stays float32 (a float16 Mul would make 2049 into
// 2048); the data path around it is converted.
func TestToFloat16KeepsShapeArithmetic(t *testing.T) {
	out, err := onnxgraph.ToFloat16(testmodels.ShapeArithmetic(), onnxgraph.Float16Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := readModel(t, out)
	ty := g.types(t)
	if n := g.node("scale"); ty[n.inputs[0]] != onnxgraph.Float || ty[n.inputs[1]] != onnxgraph.Float {
		t.Errorf("the shape Mul runs in %d", ty[n.inputs[0]])
	}
	if n := g.node("relu"); ty[n.inputs[0]] != onnxgraph.Float16 {
		t.Errorf("relu runs in %d", ty[n.inputs[0]])
	}
	if n := g.node("resize"); ty[n.inputs[0]] != onnxgraph.Float {
		t.Errorf("resize (kept float32) runs in %d", ty[n.inputs[0]])
	}
	if r := g.inits["one"]; r.elem != onnxgraph.Float {
		t.Errorf("the shape constant became type %d", r.elem)
	}
}

// A control-flow node stays float32, subgraphs included; the outer tensor
// its branches read is given to them in float32 (a Cast, and the branches'
// references renamed).
func TestToFloat16Subgraph(t *testing.T) {
	out, err := onnxgraph.ToFloat16(testmodels.IfModel(), onnxgraph.Float16Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := readModel(t, out)
	ty := g.types(t)
	if ty["h"] != onnxgraph.Float16 {
		t.Errorf("conv output h is type %d, want float16", ty["h"])
	}
	if c := g.producer("h_fp32"); c == nil || c.op != "Cast" || c.ints["to"] != int64(onnxgraph.Float) {
		t.Fatalf("no float32 Cast of h: %+v", c)
	}
	// The branches read h_fp32, not h.
	if !bytes.Contains(out, []byte("h_fp32")) {
		t.Fatal("h_fp32 not in the model")
	}
	ifNode := g.node("if")
	if ifNode == nil {
		t.Fatal("If node gone")
	}
	var refs []string
	walkFields(t, out, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
		if num != 7 {
			return
		}
		walkFields(t, v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
			if num != 1 {
				return
			}
			walkFields(t, v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
				if num != 5 {
					return
				}
				walkFields(t, v, func(num protowire.Number, _ protowire.Type, g []byte, _ uint64) {
					if num != 6 {
						return
					}
					walkFields(t, g, func(num protowire.Number, _ protowire.Type, n []byte, _ uint64) {
						if num != 1 {
							return
						}
						walkFields(t, n, func(num protowire.Number, _ protowire.Type, s []byte, _ uint64) {
							if num == 1 {
								refs = append(refs, string(s))
							}
						})
					})
				})
			})
		})
	})
	sort.Strings(refs)
	if strings.Join(refs, ",") != "h_fp32,h_fp32,h_fp32,tr" {
		t.Errorf("branch node inputs %v", refs)
	}
}

// Converting twice does no harm: the second pass finds float16 already and
// float32 only at the boundaries, and adds no Cast pairs around them.
func TestToFloat16Twice(t *testing.T) {
	once, err := onnxgraph.ToFloat16(testmodels.Mixed(), onnxgraph.Float16Options{})
	if err != nil {
		t.Fatal(err)
	}
	twice, err := onnxgraph.ConvertFloat16(once, onnxgraph.Float16Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := readModel(t, twice.Model)
	g.types(t)
	for name, r := range g.inits {
		if r.elem == onnxgraph.Float && name != "mixb" {
			t.Errorf("initializer %s is float32 after two passes", name)
		}
	}
}

// External data must be inlined first.
func TestToFloat16RefusesExternalData(t *testing.T) {
	ext, _, err := onnxgraph.Externalize(testmodels.Mixed(), onnxgraph.ExternalizeOptions{Location: "w.data"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onnxgraph.ToFloat16(ext, onnxgraph.Float16Options{}); err == nil || !strings.Contains(err.Error(), "external file") {
		t.Errorf("external data: %v", err)
	}
}

// KeepFloat32 adds ops to keep in float32.
func TestToFloat16KeepFloat32Option(t *testing.T) {
	res, err := onnxgraph.ConvertFloat16(testmodels.Mixed(), onnxgraph.Float16Options{KeepFloat32: []string{"Relu"}})
	if err != nil {
		t.Fatal(err)
	}
	g := readModel(t, res.Model)
	ty := g.types(t)
	if n := g.node("relu1"); ty[n.inputs[0]] != onnxgraph.Float {
		t.Errorf("relu1 runs in %d", ty[n.inputs[0]])
	}
	if res.Kept["Relu"] != 1 {
		t.Errorf("Kept %v", res.Kept)
	}
}

// FuzzToFloat16: any model that parses converts or fails cleanly, and what
// it makes parses.
func FuzzToFloat16(f *testing.F) {
	f.Add(testmodels.Mixed())
	f.Add(testmodels.IfModel())
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := onnxgraph.Parse(data); err != nil {
			return
		}
		out, err := onnxgraph.ToFloat16(data, onnxgraph.Float16Options{})
		if err != nil {
			return
		}
		if _, err := onnxgraph.Parse(out); err != nil {
			t.Fatalf("converted model does not parse: %v", err)
		}
	})
}

// onnx's own checker (full_check: strict type and shape inference) accepts
// every converted test model. Debian has no python3-onnx, so this runs
// where FEATURIZER_ONNX_PYTHON names a Python with onnx (e.g. a virtual
// environment with onnx from PyPI), and skips elsewhere; ONNX Runtime's
// session creation in the backbones tests checks the types in CI.
func TestToFloat16OnnxChecker(t *testing.T) {
	py := os.Getenv("FEATURIZER_ONNX_PYTHON")
	if py == "" {
		t.Skip("set FEATURIZER_ONNX_PYTHON to a python with onnx")
	}
	dir := t.TempDir()
	var paths []string
	for name, m := range map[string][]byte{"mixed": testmodels.Mixed(), "if": testmodels.IfModel(), "shape": testmodels.ShapeArithmetic()} {
		out, err := onnxgraph.ToFloat16(m, onnxgraph.Float16Options{})
		if err != nil {
			t.Fatal(err)
		}
		for suffix, b := range map[string][]byte{"": m, "-fp16": out} {
			p := filepath.Join(dir, name+suffix+".onnx")
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		}
	}
	if extra := os.Getenv("FEATURIZER_FP16_CHECK_MODEL"); extra != "" { // a real backbone, converted here
		b, err := os.ReadFile(extra)
		if err != nil {
			t.Fatal(err)
		}
		out, err := onnxgraph.ToFloat16(b, onnxgraph.Float16Options{})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "extra.onnx")
		if err := os.WriteFile(p, out, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	script := `
import sys, onnx
bad = 0
for p in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(p), full_check=True)
        print("ok", p)
    except Exception as e:
        print("FAIL", p, e)
        bad += 1
sys.exit(bad)
`
	out, err := exec.Command(py, append([]string{"-c", script}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// An initializer also listed as a graph input (as IR version 3 required,
// and older exporters still write): converted like the others, its input
// entry declares float16 too, so the declared and stored types agree.
func TestToFloat16InitializerListedAsInput(t *testing.T) {
	b, err := onnxgraph.Build(onnxgraph.ModelSpec{Opset: 13,
		Inputs: []onnxgraph.ValueInfo{{Name: "x", ElemType: onnxgraph.Float, Shape: []onnxgraph.Dim{{Param: "N"}, {Value: 2}}, HasShape: true},
			{Name: "w", ElemType: onnxgraph.Float, Shape: []onnxgraph.Dim{{Value: 2}, {Value: 3}}, HasShape: true}},
		Initializers: []onnxgraph.Tensor{onnxgraph.FloatTensor("w", []int64{2, 3}, []float32{1, 2, 3, 4, 5, 6.1})},
		Nodes:        []onnxgraph.Node{{Name: "mm", OpType: "MatMul", Inputs: []string{"x", "w"}, Outputs: []string{"y"}}},
		Outputs:      []onnxgraph.ValueInfo{{Name: "y", ElemType: onnxgraph.Float, Shape: []onnxgraph.Dim{{Param: "N"}, {Value: 3}}, HasShape: true}}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := onnxgraph.ToFloat16(b, onnxgraph.Float16Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := readModel(t, out)
	if g.inputs["w"] != onnxgraph.Float16 || g.inits["w"].elem != onnxgraph.Float16 || g.inputs["x"] != onnxgraph.Float {
		t.Errorf("inputs %v, w stored as %d", g.inputs, g.inits["w"].elem)
	}
	if ty := g.types(t); ty[g.node("mm").inputs[0]] != onnxgraph.Float16 || ty["y"] != onnxgraph.Float {
		t.Errorf("MatMul in %d, y %d", ty[g.node("mm").inputs[0]], ty["y"])
	}
}
