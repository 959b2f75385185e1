package onnxgraph

// Wire-level helpers of the float16 conversion: reading nodes and
// subgraphs, converting tensors, rewriting value infos, attributes and
// subgraph references.

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
)

// constantCopy makes a Constant that gives n's value in float16 as out.
func constantCopy(n *f16node, out string) ([]byte, error) {
	for _, a := range n.attrs {
		b, err := constantAttrToFloat16(a)
		if err != nil {
			return nil, fmt.Errorf("float16: Constant %q: %w", n.name, err)
		}
		if b != nil {
			var node []byte
			node = appendString(node, 2, out)
			if n.name != "" {
				node = appendString(node, 3, n.name+"_fp16")
			}
			node = appendString(node, 4, "Constant")
			node = appendMessage(node, 5, b)
			return node, nil
		}
	}
	return nil, fmt.Errorf("float16: Constant %q has no float value", n.name)
}

// constantAttrToFloat16 converts a Constant's float value attribute (value,
// value_float, value_floats) to a float16 value tensor; other attributes
// give nil.
func constantAttrToFloat16(a f16attr) ([]byte, error) {
	var t []byte
	switch a.name {
	case "value":
		if a.t == nil {
			return nil, nil
		}
		var err error
		if t, err = tensorToFloat16(a.t, ""); err != nil {
			return nil, err
		}
	case "value_float":
		t = encodeTensor(Tensor{ElemType: Float16, Raw: halfBytes([]float32{a.f})})
	case "value_floats":
		t = encodeTensor(Tensor{ElemType: Float16, Dims: []int64{int64(len(a.floats))}, Raw: halfBytes(a.floats)})
	default:
		return nil, nil
	}
	var b []byte
	b = appendString(b, 1, "value")
	b = appendMessage(b, 5, t)
	b = appendVarint(b, 20, uint64(AttrTensor))
	return b, nil
}

func halfBytes(v []float32) []byte {
	b := make([]byte, 2*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint16(b[2*i:], Float16Bits(f))
	}
	return b
}

// tensorToFloat16 converts a float32 TensorProto (raw_data or float_data)
// to float16 raw_data, renamed when name is not empty.
func tensorToFloat16(b []byte, name string) ([]byte, error) {
	var dims []int64
	var raw []byte
	var floats []float32
	hasRaw := false
	tname := ""
	elem := int32(0)
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			dims = append(dims, int64(x))
		case num == 1 && typ == protowire.BytesType:
			for len(v) > 0 {
				d, n := protowire.ConsumeVarint(v)
				if n < 0 {
					return protowire.ParseError(n)
				}
				dims = append(dims, int64(d))
				v = v[n:]
			}
		case num == 2 && typ == protowire.VarintType:
			elem = int32(x)
		case num == 8 && typ == protowire.BytesType:
			tname = string(v)
		case num == 9 && typ == protowire.BytesType:
			raw, hasRaw = v, true
		case num == 4 && typ == protowire.BytesType:
			if len(v)%4 != 0 {
				return fmt.Errorf("float_data of %d bytes", len(v))
			}
			for ; len(v) > 0; v = v[4:] {
				floats = append(floats, math.Float32frombits(binary.LittleEndian.Uint32(v)))
			}
		case num == 14 && typ == protowire.VarintType && x == 1:
			return fmt.Errorf("tensor %q keeps its data in an external file", tname)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Unpacked float_data (one fixed32 field per value).
	err = eachFieldRaw(b, func(num protowire.Number, typ protowire.Type, field, _ []byte) error {
		if num == 4 && typ == protowire.Fixed32Type {
			floats = append(floats, math.Float32frombits(binary.LittleEndian.Uint32(field[len(field)-4:])))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if elem != Float {
		return nil, fmt.Errorf("tensor %q has element type %d, not float32", tname, elem)
	}
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	switch {
	case hasRaw:
		if int64(len(raw)) != 4*n {
			return nil, fmt.Errorf("tensor %q: %d bytes of data for %d values", tname, len(raw), n)
		}
	case int64(len(floats)) != n:
		return nil, fmt.Errorf("tensor %q: %d values for shape %v", tname, len(floats), dims)
	}
	out := make([]byte, 0, 64+len(name)+len(tname)+2*int(n))
	err = eachFieldRaw(b, func(num protowire.Number, _ protowire.Type, field, _ []byte) error {
		switch num {
		case 2, 4, 9:
		case 8:
			if name == "" {
				out = append(out, field...)
			}
		default:
			out = append(out, field...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if name != "" {
		out = appendString(out, 8, name)
	}
	out = appendVarint(out, 2, uint64(Float16))
	out = protowire.AppendTag(out, 9, protowire.BytesType)
	out = protowire.AppendVarint(out, uint64(2*n))
	start := len(out)
	out = out[:start+2*int(n)]
	half := out[start:]
	if hasRaw {
		for i := int64(0); i < n; i++ {
			binary.LittleEndian.PutUint16(half[2*i:], Float16Bits(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))))
		}
	} else {
		for i, f := range floats {
			binary.LittleEndian.PutUint16(half[2*i:], Float16Bits(f))
		}
	}
	return out, nil
}

// setElemType rewrites a tensor ValueInfoProto's element type.
func setElemType(vi []byte, t int32) ([]byte, error) {
	return rewriteField(vi, 2, func(typ []byte) ([]byte, error) {
		return rewriteField(typ, 1, func(tensor []byte) ([]byte, error) {
			var out []byte
			err := eachFieldRaw(tensor, func(num protowire.Number, _ protowire.Type, field, _ []byte) error {
				if num != 1 {
					out = append(out, field...)
				}
				return nil
			})
			return appendVarint(out, 1, uint64(t)), err
		})
	})
}

// rewriteField replaces each length-delimited field num of msg by fn's
// result.
func rewriteField(msg []byte, num protowire.Number, fn func([]byte) ([]byte, error)) ([]byte, error) {
	var out []byte
	err := eachFieldRaw(msg, func(n protowire.Number, typ protowire.Type, field, payload []byte) error {
		if n != num || typ != protowire.BytesType {
			out = append(out, field...)
			return nil
		}
		b, err := fn(payload)
		if err != nil {
			return err
		}
		out = appendMessage(out, n, b)
		return nil
	})
	return out, err
}

// setAttrInt rewrites an AttributeProto's int value.
func setAttrInt(a []byte, v int64) []byte {
	var out []byte
	eachFieldRaw(a, func(num protowire.Number, typ protowire.Type, field, _ []byte) error {
		if num != 3 {
			out = append(out, field...)
		}
		return nil
	})
	return appendVarint(out, 3, uint64(v))
}

// renameInAttr renames references to outer tensors in an attribute's
// subgraphs (node inputs and graph outputs; ONNX names are unique across
// scopes, so no inner name shadows them).
func renameInAttr(a []byte, ren map[string]string) ([]byte, error) {
	var out []byte
	err := eachFieldRaw(a, func(num protowire.Number, typ protowire.Type, field, payload []byte) error {
		if (num == 6 || num == 11) && typ == protowire.BytesType {
			g, err := renameInGraph(payload, ren)
			if err != nil {
				return err
			}
			out = appendMessage(out, num, g)
			return nil
		}
		out = append(out, field...)
		return nil
	})
	return out, err
}

func renameInGraph(g []byte, ren map[string]string) ([]byte, error) {
	return rewriteFields(g, func(num protowire.Number, payload []byte) ([]byte, bool, error) {
		switch num {
		case 1:
			b, err := rewriteFields(payload, func(num protowire.Number, v []byte) ([]byte, bool, error) {
				switch num {
				case 1:
					if r, ok := ren[string(v)]; ok {
						return []byte(r), true, nil
					}
				case 5:
					b, err := renameInAttr(v, ren)
					return b, true, err
				}
				return nil, false, nil
			})
			return b, true, err
		case 12:
			b, err := rewriteFields(payload, func(num protowire.Number, v []byte) ([]byte, bool, error) {
				if r, ok := ren[string(v)]; ok && num == 1 {
					return []byte(r), true, nil
				}
				return nil, false, nil
			})
			return b, true, err
		}
		return nil, false, nil
	})
}

// rewriteFields re-encodes msg, replacing the payload of length-delimited
// fields for which fn says so.
func rewriteFields(msg []byte, fn func(num protowire.Number, payload []byte) ([]byte, bool, error)) ([]byte, error) {
	var out []byte
	err := eachFieldRaw(msg, func(num protowire.Number, typ protowire.Type, field, payload []byte) error {
		if typ == protowire.BytesType {
			b, ok, err := fn(num, payload)
			if err != nil {
				return err
			}
			if ok {
				out = appendMessage(out, num, b)
				return nil
			}
		}
		out = append(out, field...)
		return nil
	})
	return out, err
}

func parseF16Node(b []byte) (*f16node, error) {
	base, err := parseNode(b)
	if err != nil {
		return nil, err
	}
	n := &f16node{raw: b, inputs: base.Inputs, outputs: base.Outputs, name: base.Name, op: base.OpType, dom: base.Domain}
	err = eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num == 5 && typ == protowire.BytesType {
			a, err := parseF16Attr(v)
			if err != nil {
				return err
			}
			n.attrs = append(n.attrs, a)
		}
		return nil
	})
	return n, err
}

func parseF16Attr(b []byte) (f16attr, error) {
	a := f16attr{raw: b}
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			a.name = string(v)
		case num == 3 && typ == protowire.VarintType:
			a.i, a.hasI = int64(x), true
		case num == 5 && typ == protowire.BytesType:
			a.t = v
		case (num == 6 || num == 11) && typ == protowire.BytesType:
			a.graphs = append(a.graphs, v)
		case num == 7 && typ == protowire.BytesType: // packed floats
			for ; len(v) >= 4; v = v[4:] {
				a.floats = append(a.floats, math.Float32frombits(binary.LittleEndian.Uint32(v)))
			}
		}
		return nil
	})
	if err != nil {
		return a, err
	}
	// Fixed32 fields: f (2) and unpacked floats (7).
	err = eachFieldRaw(b, func(num protowire.Number, typ protowire.Type, field, _ []byte) error {
		if typ == protowire.Fixed32Type {
			f := math.Float32frombits(binary.LittleEndian.Uint32(field[len(field)-4:]))
			switch num {
			case 2:
				a.f = f
			case 7:
				a.floats = append(a.floats, f)
			}
		}
		return nil
	})
	return a, err
}

func sparseNameType(b []byte) (string, int32, error) {
	var name string
	var et int32
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num == 1 && typ == protowire.BytesType {
			t, _, err := parseTensor(v)
			name, et = t.Name, t.ElemType
			return err
		}
		return nil
	})
	return name, et, err
}

// graphNames lists the outer names a subgraph reads (free) and the names it
// defines, its nested subgraphs included.
func graphNames(g []byte) (free, defined []string, err error) {
	def := map[string]bool{}
	var refs []string
	err = eachField(g, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			n, err := parseF16Node(v)
			if err != nil {
				return err
			}
			refs = append(refs, n.inputs...)
			for _, o := range n.outputs {
				def[o] = true
			}
			for _, a := range n.attrs {
				for _, sg := range a.graphs {
					f, d, err := graphNames(sg)
					if err != nil {
						return err
					}
					refs = append(refs, f...)
					for _, s := range d {
						def[s] = true
					}
				}
			}
		case 5:
			t, _, err := parseTensor(v)
			if err != nil {
				return err
			}
			def[t.Name] = true
		case 15:
			name, _, err := sparseNameType(v)
			if err != nil {
				return err
			}
			def[name] = true
		case 11, 12:
			vi, err := parseValueInfo(v)
			if err != nil {
				return err
			}
			if num == 11 {
				def[vi.Name] = true
			} else {
				refs = append(refs, vi.Name)
			}
		}
		return nil
	})
	for _, r := range refs {
		if r != "" && !def[r] {
			free = appendNew(free, r)
		}
	}
	for d := range def {
		defined = append(defined, d)
	}
	sort.Strings(defined)
	return free, defined, err
}

func appendNew(list []string, add ...string) []string {
	for _, s := range add {
		dup := false
		for _, t := range list {
			if t == s {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, s)
		}
	}
	return list
}

// topoOrder returns the nodes in an order where every node comes after the
// producers of its inputs (the file's order when it already is one, as ONNX
// requires). Nodes in a cycle, which no valid model has, come last.
func topoOrder(nodes []*f16node) []int {
	prod := map[string]int{}
	for i, n := range nodes {
		for _, o := range n.outputs {
			if o != "" {
				prod[o] = i
			}
		}
	}
	deps := make([][]int, len(nodes))
	for i, n := range nodes {
		for _, s := range append(append([]string{}, n.inputs...), n.free...) {
			if p, ok := prod[s]; ok && p != i {
				deps[i] = append(deps[i], p)
			}
		}
	}
	state := make([]int8, len(nodes)) // 0 new, 1 visiting, 2 done
	order := make([]int, 0, len(nodes))
	var stack [][2]int
	for start := range nodes {
		if state[start] != 0 {
			continue
		}
		stack = append(stack[:0], [2]int{start, 0})
		state[start] = 1
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			i := top[0]
			if top[1] < len(deps[i]) {
				d := deps[i][top[1]]
				top[1]++
				if state[d] == 0 {
					state[d] = 1
					stack = append(stack, [2]int{d, 0})
				}
				continue
			}
			state[i] = 2
			order = append(order, i)
			stack = stack[:len(stack)-1]
		}
	}
	return order
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
