package onnxgraph

import (
	"errors"
	"fmt"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
)

// Element types of ONNX TensorProto.DataType that this package names.
const (
	Float   int32 = 1
	Uint8   int32 = 2
	Int8    int32 = 3
	Int32   int32 = 6
	Int64   int32 = 7
	Float16 int32 = 10
	Double  int32 = 11
)

// Dim is one dimension of a tensor shape: a fixed size, a symbolic name, or
// neither (unknown).
type Dim struct {
	Value int64
	Param string
}

// ValueInfo describes a graph input or output.
type ValueInfo struct {
	Name     string
	ElemType int32 // 0 when the type is not a tensor or not given
	Shape    []Dim // nil when no shape is given
	HasShape bool
}

// Node is the part of a NodeProto needed to reason about the graph.
type Node struct {
	Name    string
	OpType  string
	Domain  string
	Inputs  []string
	Outputs []string
	Attrs   []Attr // only filled for nodes built here
}

// Model is a parsed ONNX model. It keeps the original bytes, so that Edit can
// produce a new model that differs only where asked.
type Model struct {
	raw       []byte
	IRVersion int64
	// Opsets maps an operator-set domain ("" is the default ONNX domain) to
	// its version.
	Opsets map[string]int64
	Graph  Graph
}

// Graph is the analysed content of the model's main graph.
type Graph struct {
	Name         string
	Nodes        []Node
	Inputs       []ValueInfo // graph inputs that are not initializers
	Outputs      []ValueInfo
	ValueInfo    []ValueInfo
	Initializers map[string]bool
	External     bool // some initializer keeps its data in an external file (see ExternalRefs for all tensors)
	tensors      map[string]Tensor

	producer  map[string]int
	consumers map[string][]int
}

// ErrNotONNX is returned for bytes that do not parse as an ONNX model.
var ErrNotONNX = errors.New("not an ONNX model")

// Parse reads an ONNX ModelProto.
func Parse(b []byte) (*Model, error) {
	m := &Model{raw: b, Opsets: map[string]int64{}}
	sawGraph := false
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch num {
		case 1:
			if typ == protowire.VarintType {
				m.IRVersion = int64(x)
			}
		case 8:
			if typ == protowire.BytesType {
				dom, ver, err := parseOpset(v)
				if err != nil {
					return err
				}
				m.Opsets[dom] = ver
			}
		case 7:
			if typ != protowire.BytesType {
				return fmt.Errorf("graph field has wire type %d", typ)
			}
			g, err := parseGraph(v)
			if err != nil {
				return fmt.Errorf("graph: %w", err)
			}
			m.Graph = *g
			sawGraph = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotONNX, err)
	}
	if !sawGraph || m.IRVersion == 0 {
		return nil, fmt.Errorf("%w: no graph or IR version", ErrNotONNX)
	}
	return m, nil
}

// Opset returns the version of the default ONNX operator set.
func (m *Model) Opset() int64 {
	if v, ok := m.Opsets[""]; ok {
		return v
	}
	return m.Opsets["ai.onnx"]
}

// Producer returns the node that outputs tensor, or nil for graph inputs,
// initializers and unknown names.
func (g *Graph) Producer(tensor string) *Node {
	if i, ok := g.producer[tensor]; ok {
		return &g.Nodes[i]
	}
	return nil
}

// Consumers returns the nodes that take tensor as an input.
func (g *Graph) Consumers(tensor string) []*Node {
	var out []*Node
	for _, i := range g.consumers[tensor] {
		out = append(out, &g.Nodes[i])
	}
	return out
}

// HasTensor reports whether name is produced by a node, is a graph input or is
// an initializer.
func (g *Graph) HasTensor(name string) bool {
	if _, ok := g.producer[name]; ok {
		return true
	}
	if g.Initializers[name] {
		return true
	}
	for _, in := range g.Inputs {
		if in.Name == name {
			return true
		}
	}
	return false
}

// TensorNames lists every node output, sorted; used to suggest names in errors.
func (g *Graph) TensorNames() []string {
	names := make([]string, 0, len(g.producer))
	for n := range g.producer {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func parseOpset(b []byte) (string, int64, error) {
	var dom string
	var ver int64
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			dom = string(v)
		case num == 2 && typ == protowire.VarintType:
			ver = int64(x)
		}
		return nil
	})
	return dom, ver, err
}

func parseGraph(b []byte) (*Graph, error) {
	g := &Graph{Initializers: map[string]bool{}, producer: map[string]int{}, consumers: map[string][]int{}, tensors: map[string]Tensor{}}
	var inputs []ValueInfo
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			n, err := parseNode(v)
			if err != nil {
				return fmt.Errorf("node %d: %w", len(g.Nodes), err)
			}
			g.Nodes = append(g.Nodes, n)
		case 2:
			g.Name = string(v)
		case 5:
			t, ext, err := parseTensor(v)
			if err != nil {
				return fmt.Errorf("initializer: %w", err)
			}
			g.Initializers[t.Name] = true
			g.tensors[t.Name] = t
			g.External = g.External || ext
		case 15: // sparse_initializer: values (1) is a TensorProto with the name
			err := eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if num == 1 && typ == protowire.BytesType {
					t, _, err := parseTensor(v)
					g.Initializers[t.Name] = true
					return err
				}
				return nil
			})
			if err != nil {
				return err
			}
		case 11, 12, 13:
			vi, err := parseValueInfo(v)
			if err != nil {
				return fmt.Errorf("value info: %w", err)
			}
			switch num {
			case 11:
				inputs = append(inputs, vi)
			case 12:
				g.Outputs = append(g.Outputs, vi)
			default:
				g.ValueInfo = append(g.ValueInfo, vi)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, in := range inputs {
		if !g.Initializers[in.Name] {
			g.Inputs = append(g.Inputs, in)
		}
	}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				g.producer[o] = i
			}
		}
		for _, in := range n.Inputs {
			if in != "" {
				g.consumers[in] = append(g.consumers[in], i)
			}
		}
	}
	return g, nil
}

func parseNode(b []byte) (Node, error) {
	var n Node
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			n.Inputs = append(n.Inputs, string(v))
		case 2:
			n.Outputs = append(n.Outputs, string(v))
		case 3:
			n.Name = string(v)
		case 4:
			n.OpType = string(v)
		case 7:
			n.Domain = string(v)
		}
		return nil
	})
	return n, err
}

// parseTensor reads a TensorProto. Raw keeps the little-endian element
// data; float_data (field 4) is converted to it.
func parseTensor(b []byte) (t Tensor, external bool, err error) {
	var floats []byte
	err = eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			t.Dims = append(t.Dims, int64(x))
		case num == 1 && typ == protowire.BytesType: // packed dims
			for len(v) > 0 {
				d, n := protowire.ConsumeVarint(v)
				if n < 0 {
					return protowire.ParseError(n)
				}
				t.Dims = append(t.Dims, int64(d))
				v = v[n:]
			}
		case num == 2 && typ == protowire.VarintType:
			t.ElemType = int32(x)
		case num == 8 && typ == protowire.BytesType:
			t.Name = string(v)
		case num == 9 && typ == protowire.BytesType:
			t.Raw = v
		case num == 4 && typ == protowire.BytesType: // packed float_data
			floats = append(floats, v...)
		case num == 4 && typ == protowire.Fixed32Type:
			// unpacked floats are rare; eachField skips their value
		case num == 14 && typ == protowire.VarintType:
			external = x == 1
		}
		return nil
	})
	if t.Raw == nil && floats != nil {
		t.Raw = floats
	}
	return t, external, err
}

// Initializer returns an initializer's tensor.
func (g *Graph) Initializer(name string) (Tensor, bool) {
	t, ok := g.tensors[name]
	return t, ok
}

func parseValueInfo(b []byte) (ValueInfo, error) {
	var vi ValueInfo
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			vi.Name = string(v)
		case 2: // TypeProto
			return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
				if num != 1 || typ != protowire.BytesType { // tensor_type
					return nil
				}
				return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
					switch {
					case num == 1 && typ == protowire.VarintType:
						vi.ElemType = int32(x)
					case num == 2 && typ == protowire.BytesType:
						vi.HasShape = true
						vi.Shape = []Dim{}
						return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
							if num != 1 || typ != protowire.BytesType {
								return nil
							}
							var d Dim
							err := eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
								switch {
								case num == 1 && typ == protowire.VarintType:
									d.Value = int64(x)
								case num == 2 && typ == protowire.BytesType:
									d.Param = string(v)
								}
								return nil
							})
							vi.Shape = append(vi.Shape, d)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	return vi, err
}

// eachField calls fn for every top-level field of a message. For length
// delimited fields v is the payload (a sub-slice of b, not a copy); for
// varints x holds the value.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}
