package onnxgraph

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Attr is a node attribute. Exactly one of the value fields is used, chosen
// by Kind.
type Attr struct {
	Name   string
	Kind   AttrKind
	Int    int64
	Float  float32
	Ints   []int64
	Floats []float32
	String string
	Tensor *Tensor
}

// AttrKind is AttributeProto.AttributeType.
type AttrKind int32

// Attribute kinds used here.
const (
	AttrFloat  AttrKind = 1
	AttrInt    AttrKind = 2
	AttrString AttrKind = 3
	AttrTensor AttrKind = 4
	AttrFloats AttrKind = 6
	AttrInts   AttrKind = 7
)

// IntAttr, IntsAttr, FloatAttr and StringAttr build attributes.
func IntAttr(name string, v int64) Attr     { return Attr{Name: name, Kind: AttrInt, Int: v} }
func IntsAttr(name string, v ...int64) Attr { return Attr{Name: name, Kind: AttrInts, Ints: v} }
func FloatAttr(name string, v float32) Attr { return Attr{Name: name, Kind: AttrFloat, Float: v} }
func StringAttr(name, v string) Attr        { return Attr{Name: name, Kind: AttrString, String: v} }

// TensorAttr builds a tensor attribute (Constant's value).
func TensorAttr(name string, t Tensor) Attr { return Attr{Name: name, Kind: AttrTensor, Tensor: &t} }

// Tensor is an initializer with its data.
type Tensor struct {
	Name     string
	Dims     []int64
	ElemType int32
	Raw      []byte // little-endian element data
}

// FloatTensor builds a float32 initializer.
func FloatTensor(name string, dims []int64, data []float32) Tensor {
	raw := make([]byte, 4*len(data))
	for i, f := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	return Tensor{Name: name, Dims: dims, ElemType: Float, Raw: raw}
}

// Floats decodes a float32 tensor's data.
func (t Tensor) Floats() ([]float32, error) {
	if t.ElemType != Float {
		return nil, fmt.Errorf("tensor %s has element type %d, not float32", t.Name, t.ElemType)
	}
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	if int64(len(t.Raw)) != 4*n {
		return nil, fmt.Errorf("tensor %s: %d bytes of data for %d values", t.Name, len(t.Raw), n)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Raw[4*i:]))
	}
	return out, nil
}

// Int64Tensor builds an int64 initializer.
func Int64Tensor(name string, dims []int64, data []int64) Tensor {
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return Tensor{Name: name, Dims: dims, ElemType: Int64, Raw: raw}
}

// Edit describes changes to a model's main graph.
type Edit struct {
	// AddNodes are appended after the existing nodes (their inputs already
	// exist, so topological order is kept).
	AddNodes []Node
	// AddInitializers are appended to the graph's initializers.
	AddInitializers []Tensor
	// Outputs, when not nil, replaces the graph's outputs. Naming only what
	// the caller needs lets ONNX Runtime prune the rest of the graph.
	Outputs []ValueInfo
}

// Apply returns a new serialized model with the edit applied. Every field it
// does not change is copied unchanged from the original bytes.
func (m *Model) Apply(e Edit) ([]byte, error) {
	out := make([]byte, 0, len(m.raw)+4096)
	err := eachFieldRaw(m.raw, func(num protowire.Number, typ protowire.Type, field, payload []byte) error {
		if num != 7 || typ != protowire.BytesType {
			out = append(out, field...)
			return nil
		}
		g, err := editGraph(payload, e)
		if err != nil {
			return err
		}
		out = protowire.AppendTag(out, 7, protowire.BytesType)
		out = protowire.AppendBytes(out, g)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func editGraph(b []byte, e Edit) ([]byte, error) {
	out := make([]byte, 0, len(b)+4096)
	err := eachFieldRaw(b, func(num protowire.Number, typ protowire.Type, field, payload []byte) error {
		if num == 12 && e.Outputs != nil {
			return nil // replaced below
		}
		out = append(out, field...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, n := range e.AddNodes {
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, encodeNode(n))
	}
	for _, t := range e.AddInitializers {
		out = protowire.AppendTag(out, 5, protowire.BytesType)
		out = protowire.AppendBytes(out, encodeTensor(t))
	}
	for _, o := range e.Outputs {
		out = protowire.AppendTag(out, 12, protowire.BytesType)
		out = protowire.AppendBytes(out, encodeValueInfo(o))
	}
	return out, nil
}

// eachFieldRaw walks the fields of a message, giving each field's full
// encoding (tag included) and, for length-delimited fields, its payload.
func eachFieldRaw(b []byte, fn func(num protowire.Number, typ protowire.Type, field, payload []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		var payload []byte
		if typ == protowire.BytesType {
			payload, _ = protowire.ConsumeBytes(b[n:])
		}
		if err := fn(num, typ, b[:n+m], payload); err != nil {
			return err
		}
		b = b[n+m:]
	}
	return nil
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func encodeNode(n Node) []byte {
	var b []byte
	for _, in := range n.Inputs {
		b = appendString(b, 1, in)
	}
	for _, o := range n.Outputs {
		b = appendString(b, 2, o)
	}
	if n.Name != "" {
		b = appendString(b, 3, n.Name)
	}
	b = appendString(b, 4, n.OpType)
	for _, a := range n.Attrs {
		b = appendMessage(b, 5, encodeAttr(a))
	}
	if n.Domain != "" {
		b = appendString(b, 7, n.Domain)
	}
	return b
}

func encodeAttr(a Attr) []byte {
	var b []byte
	b = appendString(b, 1, a.Name)
	switch a.Kind {
	case AttrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.Float))
	case AttrInt:
		b = appendVarint(b, 3, uint64(a.Int))
	case AttrString:
		b = appendString(b, 4, a.String)
	case AttrTensor:
		b = appendMessage(b, 5, encodeTensor(*a.Tensor))
	case AttrFloats:
		for _, f := range a.Floats {
			b = protowire.AppendTag(b, 7, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, math.Float32bits(f))
		}
	case AttrInts:
		for _, v := range a.Ints {
			b = appendVarint(b, 8, uint64(v))
		}
	}
	b = appendVarint(b, 20, uint64(a.Kind))
	return b
}

func encodeTensor(t Tensor) []byte {
	var b []byte
	for _, d := range t.Dims {
		b = appendVarint(b, 1, uint64(d))
	}
	b = appendVarint(b, 2, uint64(t.ElemType))
	b = appendString(b, 8, t.Name)
	b = protowire.AppendTag(b, 9, protowire.BytesType)
	b = protowire.AppendBytes(b, t.Raw)
	return b
}

func encodeValueInfo(v ValueInfo) []byte {
	var tensor []byte
	tensor = appendVarint(tensor, 1, uint64(v.ElemType))
	if v.Shape != nil {
		var shape []byte
		for _, d := range v.Shape {
			var dim []byte
			if d.Param != "" {
				dim = appendString(dim, 2, d.Param)
			} else if d.Value > 0 {
				dim = appendVarint(dim, 1, uint64(d.Value))
			}
			shape = appendMessage(shape, 1, dim)
		}
		tensor = appendMessage(tensor, 2, shape)
	}
	typ := appendMessage(nil, 1, tensor)
	var b []byte
	b = appendString(b, 1, v.Name)
	b = appendMessage(b, 2, typ)
	return b
}

// ModelSpec describes a whole model to build from scratch; the tests use it
// to make small real networks without shipping binary files.
type ModelSpec struct {
	Opset        int64
	Producer     string
	GraphName    string
	Nodes        []Node
	Initializers []Tensor
	Inputs       []ValueInfo
	Outputs      []ValueInfo
}

// Build serializes spec as an ONNX ModelProto (IR version 8).
func Build(spec ModelSpec) ([]byte, error) {
	if spec.Opset == 0 {
		return nil, fmt.Errorf("onnxgraph: Build needs an opset")
	}
	var g []byte
	for _, n := range spec.Nodes {
		g = appendMessage(g, 1, encodeNode(n))
	}
	name := spec.GraphName
	if name == "" {
		name = "graph"
	}
	g = appendString(g, 2, name)
	for _, t := range spec.Initializers {
		g = appendMessage(g, 5, encodeTensor(t))
	}
	for _, in := range spec.Inputs {
		g = appendMessage(g, 11, encodeValueInfo(in))
	}
	for _, o := range spec.Outputs {
		g = appendMessage(g, 12, encodeValueInfo(o))
	}
	var m []byte
	m = appendVarint(m, 1, 8)
	producer := spec.Producer
	if producer == "" {
		producer = "featurizer"
	}
	m = appendString(m, 2, producer)
	m = appendMessage(m, 7, g)
	m = appendMessage(m, 8, appendVarint(appendString(nil, 1, ""), 2, uint64(spec.Opset)))
	return m, nil
}
