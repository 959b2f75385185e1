// Package testmodels builds small, real ONNX networks for tests: two
// convolutions, global pooling and a dense classifier, with fixed
// pseudo-random weights. No binary model files live in the repository.
package testmodels

import (
	"math/rand"
	"os"

	"github.com/featurizer/featurizer/backbones/onnxgraph"
)

// Options choose the network's shape. The zero value is an NCHW 32x32 net
// with a 5-class logits head, opset 13.
type Options struct {
	Layout  string // "NCHW" (default) or "NHWC"
	Size    int    // input height and width; default 32
	Classes int    // default 5
	// Head: "logits" (default), "softmax" (probabilities, as Keras), or
	// "none" (the pooled features are the output, fc = Identity).
	Head string
	// Pool: "gap" (GlobalAveragePool, default) or "reducemean".
	Pool  string
	Opset int64 // default 13
	Seed  int64
	// InputName defaults to "image".
	InputName string
}

// Channels of the feature map; the feature dimension of these nets.
const FeatureDim = 16

// Build returns the serialized model.
func Build(o Options) []byte {
	if o.Layout == "" {
		o.Layout = "NCHW"
	}
	if o.Size == 0 {
		o.Size = 32
	}
	if o.Classes == 0 {
		o.Classes = 5
	}
	if o.Head == "" {
		o.Head = "logits"
	}
	if o.Pool == "" {
		o.Pool = "gap"
	}
	if o.Opset == 0 {
		o.Opset = 13
	}
	if o.InputName == "" {
		o.InputName = "image"
	}
	rng := rand.New(rand.NewSource(o.Seed + 1))
	weights := func(n int, scale float32) []float32 {
		w := make([]float32, n)
		for i := range w {
			w[i] = (rng.Float32()*2 - 1) * scale
		}
		return w
	}
	s := int64(o.Size)
	var inShape []onnxgraph.Dim
	if o.Layout == "NHWC" {
		inShape = []onnxgraph.Dim{{Param: "N"}, {Value: s}, {Value: s}, {Value: 3}}
	} else {
		inShape = []onnxgraph.Dim{{Param: "N"}, {Value: 3}, {Value: s}, {Value: s}}
	}
	spec := onnxgraph.ModelSpec{
		Opset:  o.Opset,
		Inputs: []onnxgraph.ValueInfo{{Name: o.InputName, ElemType: onnxgraph.Float, Shape: inShape, HasShape: true}},
		Initializers: []onnxgraph.Tensor{
			onnxgraph.FloatTensor("conv1.w", []int64{8, 3, 3, 3}, weights(8*3*3*3, 0.5)),
			onnxgraph.FloatTensor("conv1.b", []int64{8}, weights(8, 0.1)),
			onnxgraph.FloatTensor("conv2.w", []int64{FeatureDim, 8, 3, 3}, weights(FeatureDim*8*3*3, 0.3)),
			onnxgraph.FloatTensor("conv2.b", []int64{FeatureDim}, weights(FeatureDim, 0.1)),
		},
	}
	x := o.InputName
	if o.Layout == "NHWC" {
		spec.Nodes = append(spec.Nodes, onnxgraph.Node{Name: "to_nchw", OpType: "Transpose", Inputs: []string{x}, Outputs: []string{"nchw"},
			Attrs: []onnxgraph.Attr{onnxgraph.IntsAttr("perm", 0, 3, 1, 2)}})
		x = "nchw"
	}
	conv := func(name, in, out string) onnxgraph.Node {
		return onnxgraph.Node{Name: name, OpType: "Conv", Inputs: []string{in, name + ".w", name + ".b"}, Outputs: []string{out},
			Attrs: []onnxgraph.Attr{onnxgraph.IntsAttr("kernel_shape", 3, 3), onnxgraph.IntsAttr("strides", 2, 2), onnxgraph.IntsAttr("pads", 1, 1, 1, 1)}}
	}
	spec.Nodes = append(spec.Nodes,
		conv("conv1", x, "c1"),
		onnxgraph.Node{Name: "relu1", OpType: "Relu", Inputs: []string{"c1"}, Outputs: []string{"r1"}},
		conv("conv2", "r1", "c2"),
		onnxgraph.Node{Name: "relu2", OpType: "Relu", Inputs: []string{"c2"}, Outputs: []string{"feature_map"}},
	)
	if o.Pool == "reducemean" {
		n := onnxgraph.Node{Name: "pool", OpType: "ReduceMean", Inputs: []string{"feature_map"}, Outputs: []string{"pooled"},
			Attrs: []onnxgraph.Attr{onnxgraph.IntAttr("keepdims", 0)}}
		if o.Opset >= 18 {
			spec.Initializers = append(spec.Initializers, onnxgraph.Int64Tensor("pool.axes", []int64{2}, []int64{2, 3}))
			n.Inputs = append(n.Inputs, "pool.axes")
		} else {
			n.Attrs = append(n.Attrs, onnxgraph.IntsAttr("axes", 2, 3))
		}
		spec.Nodes = append(spec.Nodes, n)
	} else {
		spec.Nodes = append(spec.Nodes,
			onnxgraph.Node{Name: "pool", OpType: "GlobalAveragePool", Inputs: []string{"feature_map"}, Outputs: []string{"gap"}},
			onnxgraph.Node{Name: "flatten", OpType: "Flatten", Inputs: []string{"gap"}, Outputs: []string{"pooled"}, Attrs: []onnxgraph.Attr{onnxgraph.IntAttr("axis", 1)}},
		)
	}
	k := int64(o.Classes)
	switch o.Head {
	case "none":
		spec.Nodes = append(spec.Nodes, onnxgraph.Node{Name: "fc", OpType: "Identity", Inputs: []string{"pooled"}, Outputs: []string{"features"}})
		spec.Outputs = []onnxgraph.ValueInfo{{Name: "features", ElemType: onnxgraph.Float}}
	default:
		spec.Initializers = append(spec.Initializers,
			onnxgraph.FloatTensor("fc.w", []int64{k, FeatureDim}, weights(int(k)*FeatureDim, 1)),
			onnxgraph.FloatTensor("fc.b", []int64{k}, weights(int(k), 0.1)))
		spec.Nodes = append(spec.Nodes, onnxgraph.Node{Name: "fc", OpType: "Gemm", Inputs: []string{"pooled", "fc.w", "fc.b"}, Outputs: []string{"logits"},
			Attrs: []onnxgraph.Attr{onnxgraph.IntAttr("transB", 1)}})
		out := "logits"
		if o.Head == "softmax" {
			spec.Nodes = append(spec.Nodes, onnxgraph.Node{Name: "softmax", OpType: "Softmax", Inputs: []string{"logits"}, Outputs: []string{"probs"},
				Attrs: []onnxgraph.Attr{onnxgraph.IntAttr("axis", 1)}})
			out = "probs"
		}
		spec.Outputs = []onnxgraph.ValueInfo{{Name: out, ElemType: onnxgraph.Float,
			Shape: []onnxgraph.Dim{{Param: "N"}, {Value: k}}, HasShape: true}}
	}
	b, err := onnxgraph.Build(spec)
	if err != nil {
		panic(err)
	}
	return b
}

// Write builds the model into path.
func Write(path string, o Options) error {
	return os.WriteFile(path, Build(o), 0o644)
}
