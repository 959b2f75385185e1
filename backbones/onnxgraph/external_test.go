package onnxgraph

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// memSource serves external data from memory, with the bounds checks a file
// source makes.
type memSource map[string][]byte

func (m memSource) Size(ref ExternalData) (int64, error) {
	b, ok := m[ref.Location]
	if !ok {
		return 0, fmt.Errorf("no file %s", ref.Location)
	}
	size := int64(len(b))
	if ref.Offset > size {
		return 0, fmt.Errorf("tensor %q: offset beyond the end", ref.Tensor)
	}
	if ref.Length < 0 {
		return size - ref.Offset, nil
	}
	if ref.Offset+ref.Length > size {
		return 0, fmt.Errorf("tensor %q: beyond the end", ref.Tensor)
	}
	return ref.Length, nil
}

func (m memSource) ReadInto(ref ExternalData, dst []byte) error {
	copy(dst, m[ref.Location][ref.Offset:])
	return nil
}

// A model with initializers and a Constant node's tensor: the places where
// external data is found in practice.
func richModel(t *testing.T) []byte {
	t.Helper()
	b, err := Build(ModelSpec{
		Opset:        13,
		Inputs:       []ValueInfo{{Name: "x", ElemType: Float, Shape: []Dim{{Param: "N"}, {Value: 4}}, HasShape: true}},
		Initializers: []Tensor{FloatTensor("w", []int64{4, 2}, []float32{1, 2, 3, 4, 5, 6, 7, 8}), Int64Tensor("small", []int64{1}, []int64{1})},
		Nodes: []Node{
			{Name: "mm", OpType: "MatMul", Inputs: []string{"x", "w"}, Outputs: []string{"h"}},
			{Name: "c", OpType: "Constant", Outputs: []string{"bias"}, Attrs: []Attr{TensorAttr("value", FloatTensor("bias", []int64{2}, []float32{0.5, -0.5}))}},
			{Name: "add", OpType: "Add", Inputs: []string{"h", "bias"}, Outputs: []string{"y"}},
		},
		Outputs: []ValueInfo{{Name: "y", ElemType: Float}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExternalRoundTrip(t *testing.T) {
	for _, o := range []ExternalizeOptions{
		{Location: "m.onnx.data"},
		{Location: "sub/w.bin", Align: 64},
		{Location: "m.onnx.data", NoLength: true, MinBytes: 9},
	} {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			orig := richModel(t)
			ext, data, err := Externalize(orig, o)
			if err != nil {
				t.Fatal(err)
			}
			refs, err := ExternalRefs(ext)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range refs {
				names = append(names, r.Tensor)
				if r.Location != o.Location || (r.Length < 0) != o.NoLength || (o.Align > 0 && r.Offset%int64(o.Align) != 0) {
					t.Errorf("ref %+v", r)
				}
			}
			want := []string{"bias", "w", "small"} // file order: Build writes the nodes first
			if o.MinBytes > 8 {
				want = []string{"w"} // 8-byte tensors stay inside
			}
			if !reflect.DeepEqual(names, want) {
				t.Errorf("external tensors %v, want %v", names, want)
			}
			if bytes.Contains(ext, FloatTensor("w", []int64{4, 2}, []float32{1, 2, 3, 4, 5, 6, 7, 8}).Raw) {
				t.Error("the weights are still in the model")
			}
			m, err := Parse(ext)
			if err != nil || !m.Graph.External {
				t.Fatalf("parse external model: %v, external %v", err, m != nil && m.Graph.External)
			}
			// The streaming scan finds the same tensors in the same order.
			var scanned []ExternalData
			err = ScanExternal(bufio.NewReader(bytes.NewReader(ext)), int64(len(ext)), func(x ExternalData) error {
				scanned = append(scanned, x)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := range scanned {
				scanned[i].Dims, refs[i].Dims = nil, nil // the scan does not need shapes
				scanned[i].ElemType, refs[i].ElemType = 0, 0
			}
			if !reflect.DeepEqual(scanned, refs) {
				t.Errorf("scan %+v\nrefs %+v", scanned, refs)
			}
			// Inlining gives back the original model, byte for byte (each
			// tensor's raw_data returns to the end of it, where Build put it).
			in, err := InlineExternal(ext, memSource{o.Location: data})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in, orig) {
				t.Error("inlined model differs from the original")
			}
			if refs, _ := ExternalRefs(in); len(refs) != 0 {
				t.Errorf("external tensors left: %+v", refs)
			}
		})
	}
}

func TestInlineWithoutExternalIsIdentity(t *testing.T) {
	orig := richModel(t)
	out, err := InlineExternal(orig, memSource{})
	if err != nil || &out[0] != &orig[0] {
		t.Fatalf("err %v, copied %v", err, err == nil && &out[0] != &orig[0])
	}
}

func TestInlineErrors(t *testing.T) {
	orig := richModel(t)
	ext, data, err := Externalize(orig, ExternalizeOptions{Location: "d"})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("data shorter than the shape", func(t *testing.T) {
		// A length entry that disagrees with dims x element size.
		bad := bytes.Replace(ext, []byte("\x06length\x12\x0232"), []byte("\x06length\x12\x0231"), 1)
		if bytes.Equal(bad, ext) {
			t.Fatal("length entry not found")
		}
		_, err := InlineExternal(bad, memSource{"d": data})
		if err == nil || !strings.Contains(err.Error(), `tensor "w": external data in d is 31 bytes, its shape [4 2] of element type 1 needs 32`) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("source error", func(t *testing.T) {
		_, err := InlineExternal(ext, memSource{"d": data[:10]})
		if err == nil || !strings.Contains(err.Error(), "beyond the end") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("over 2 GiB", func(t *testing.T) {
		// Two tensors of 1.5 GiB each, by their shapes.
		big := func(name string) Tensor {
			return Tensor{Name: name, Dims: []int64{3 << 27}, ElemType: Float, Raw: []byte{1, 2, 3, 4}}
		}
		m, err := Build(ModelSpec{Opset: 13, Initializers: []Tensor{big("a"), big("b")},
			Nodes:   []Node{{OpType: "Add", Inputs: []string{"a", "b"}, Outputs: []string{"y"}}},
			Outputs: []ValueInfo{{Name: "y", ElemType: Float}}})
		if err != nil {
			t.Fatal(err)
		}
		ext, _, err := Externalize(m, ExternalizeOptions{Location: "d", NoLength: true})
		if err != nil {
			t.Fatal(err)
		}
		_, err = InlineExternal(ext, hugeSource{})
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "2 GiB") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no location", func(t *testing.T) {
		bad := bytes.Replace(ext, []byte("\x08location"), []byte("\x08locatiom"), 1)
		_, err := InlineExternal(bad, memSource{"d": data})
		if err == nil || !strings.Contains(err.Error(), "external_data names no location") {
			t.Fatalf("got %v", err)
		}
	})
}

// hugeSource gives each tensor the size of its shape and must never be read.
type hugeSource struct{}

func (hugeSource) Size(x ExternalData) (int64, error)  { return x.ByteSize(), nil }
func (hugeSource) ReadInto(ExternalData, []byte) error { panic("read") }

func TestScanRejectsJunk(t *testing.T) {
	for _, b := range [][]byte{[]byte("hello, this is not a model"), {0xff, 0xff, 0xff}, {0x3a, 0x7f}} {
		err := ScanExternal(bufio.NewReader(bytes.NewReader(b)), int64(len(b)), func(ExternalData) error { return nil })
		if !errors.Is(err, ErrNotONNX) {
			t.Errorf("ScanExternal(%q) = %v", b, err)
		}
	}
}

// FuzzExternal: the external-data walkers must never crash on a model file
// from anywhere, and the streaming scan must agree with ExternalRefs.
func FuzzExternal(f *testing.F) {
	b, _ := Build(ModelSpec{Opset: 13, Initializers: []Tensor{FloatTensor("w", []int64{2}, []float32{1, 2})},
		Nodes:   []Node{{OpType: "Relu", Inputs: []string{"w"}, Outputs: []string{"y"}}},
		Outputs: []ValueInfo{{Name: "y", ElemType: Float}}})
	ext, _, _ := Externalize(b, ExternalizeOptions{Location: "d"})
	f.Add(ext)
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		refs, err := ExternalRefs(data)
		var scanned []ExternalData
		serr := ScanExternal(bufio.NewReader(bytes.NewReader(data)), int64(len(data)), func(x ExternalData) error {
			scanned = append(scanned, x)
			return nil
		})
		if err == nil && serr == nil && len(refs) != len(scanned) {
			t.Fatalf("ExternalRefs found %d, ScanExternal %d", len(refs), len(scanned))
		}
		if err == nil {
			InlineExternal(data, memSource{"d": make([]byte, 64)})
		}
	})
}
