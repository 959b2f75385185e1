package onnxgraph

import (
	"bytes"
	"testing"
)

func tinyModel(t *testing.T) []byte {
	t.Helper()
	b, err := Build(ModelSpec{
		Opset:  13,
		Inputs: []ValueInfo{{Name: "x", ElemType: Float, Shape: []Dim{{Param: "N"}, {Value: 4}}, HasShape: true}},
		Initializers: []Tensor{
			FloatTensor("w", []int64{4, 2}, []float32{1, 2, 3, 4, 5, 6, 7, 8}),
		},
		Nodes: []Node{
			{Name: "mm", OpType: "MatMul", Inputs: []string{"x", "w"}, Outputs: []string{"h"}},
			{Name: "relu", OpType: "Relu", Inputs: []string{"h"}, Outputs: []string{"y"}},
		},
		Outputs: []ValueInfo{{Name: "y", ElemType: Float}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseBuilt(t *testing.T) {
	m, err := Parse(tinyModel(t))
	if err != nil {
		t.Fatal(err)
	}
	if m.IRVersion != 8 || m.Opset() != 13 {
		t.Errorf("ir %d opset %d", m.IRVersion, m.Opset())
	}
	g := &m.Graph
	if len(g.Inputs) != 1 || g.Inputs[0].Name != "x" || !g.Inputs[0].HasShape || g.Inputs[0].Shape[0].Param != "N" || g.Inputs[0].Shape[1].Value != 4 {
		t.Errorf("inputs %+v", g.Inputs)
	}
	if !g.Initializers["w"] || len(g.Nodes) != 2 || g.Outputs[0].Name != "y" {
		t.Errorf("graph %+v", g)
	}
	if p := g.Producer("h"); p == nil || p.OpType != "MatMul" {
		t.Errorf("producer of h: %+v", p)
	}
	if c := g.Consumers("h"); len(c) != 1 || c[0].OpType != "Relu" {
		t.Errorf("consumers of h: %+v", c)
	}
	if !g.HasTensor("x") || !g.HasTensor("w") || !g.HasTensor("y") || g.HasTensor("nope") {
		t.Error("HasTensor")
	}
}

func TestApplyKeepsTheRest(t *testing.T) {
	orig := tinyModel(t)
	m, _ := Parse(orig)
	out, err := m.Apply(Edit{
		AddNodes:        []Node{{Name: "mean", OpType: "ReduceMean", Inputs: []string{"h"}, Outputs: []string{"f"}, Attrs: []Attr{IntAttr("keepdims", 0), IntsAttr("axes", 1)}}},
		AddInitializers: []Tensor{Int64Tensor("axes", []int64{1}, []int64{1})},
		Outputs:         []ValueInfo{{Name: "f", ElemType: Float}, {Name: "y", ElemType: Float}},
	})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(m2.Graph.Nodes) != 3 || m2.Graph.Nodes[2].OpType != "ReduceMean" {
		t.Errorf("nodes %+v", m2.Graph.Nodes)
	}
	if len(m2.Graph.Outputs) != 2 || m2.Graph.Outputs[0].Name != "f" {
		t.Errorf("outputs %+v", m2.Graph.Outputs)
	}
	if !m2.Graph.Initializers["axes"] || !m2.Graph.Initializers["w"] {
		t.Error("initializers lost")
	}
	// The weights travel byte for byte.
	if !bytes.Contains(out, FloatTensor("w", []int64{4, 2}, []float32{1, 2, 3, 4, 5, 6, 7, 8}).Raw) {
		t.Error("weight bytes changed")
	}
	// An empty edit is the identity.
	same, _ := m.Apply(Edit{})
	if !bytes.Equal(same, orig) {
		t.Error("empty edit changed the model")
	}
}

func TestParseRejectsJunk(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("hello, this is not a model"), {0xff, 0xff, 0xff}} {
		if _, err := Parse(b); err == nil {
			t.Errorf("Parse(%q) succeeded", b)
		}
	}
}

// FuzzParse: a model file from anywhere must never crash the parser.
func FuzzParse(f *testing.F) {
	b, _ := Build(ModelSpec{Opset: 13, Nodes: []Node{{OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"y"}}},
		Inputs: []ValueInfo{{Name: "x", ElemType: Float}}, Outputs: []ValueInfo{{Name: "y", ElemType: Float}}})
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		if _, err := m.Apply(Edit{Outputs: []ValueInfo{{Name: "z", ElemType: Float}}}); err != nil {
			t.Fatalf("Apply on a parsed model: %v", err)
		}
	})
}
