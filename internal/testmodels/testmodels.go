package testmodels

import (
	"math"
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
	// Bias, when set, zeroes the classifier weights and uses these logits
	// for every image (to test tie-breaking).
	Bias []float32
}

// Channels of the feature map; the feature dimension of these nets.
const FeatureDim = 16

// Build returns the serialized model.
func Build(o Options) []byte {
	o = o.withDefaults()
	wt := weightsOf(o)
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
			onnxgraph.FloatTensor("conv1.w", []int64{8, 3, 3, 3}, wt.conv1w),
			onnxgraph.FloatTensor("conv1.b", []int64{8}, wt.conv1b),
			onnxgraph.FloatTensor("conv2.w", []int64{FeatureDim, 8, 3, 3}, wt.conv2w),
			onnxgraph.FloatTensor("conv2.b", []int64{FeatureDim}, wt.conv2b),
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
			onnxgraph.FloatTensor("fc.w", []int64{k, FeatureDim}, wt.fcw),
			onnxgraph.FloatTensor("fc.b", []int64{k}, wt.fcb))
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

func (o Options) withDefaults() Options {
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
	return o
}

type weightSet struct {
	conv1w, conv1b, conv2w, conv2b, fcw, fcb []float32
}

func weightsOf(o Options) weightSet {
	rng := rand.New(rand.NewSource(o.Seed + 1))
	weights := func(n int, scale float32) []float32 {
		w := make([]float32, n)
		for i := range w {
			w[i] = (rng.Float32()*2 - 1) * scale
		}
		return w
	}
	var w weightSet
	w.conv1w = weights(8*3*3*3, 0.5)
	w.conv1b = weights(8, 0.1)
	w.conv2w = weights(FeatureDim*8*3*3, 0.3)
	w.conv2b = weights(FeatureDim, 0.1)
	w.fcw = weights(o.Classes*FeatureDim, 1)
	w.fcb = weights(o.Classes, 0.1)
	if o.Bias != nil {
		for i := range w.fcw {
			w.fcw[i] = 0
		}
		copy(w.fcb, o.Bias)
	}
	return w
}

// Forward computes the network in plain Go (float64 accumulation) for one
// image given in the model's layout: the pooled features and the head's
// output. It is the independent reference the engine tests compare with.
func Forward(o Options, img []float32) (features, out []float32) {
	o = o.withDefaults()
	w := weightsOf(o)
	s := o.Size
	x := make([]float32, 3*s*s) // NCHW
	for c := 0; c < 3; c++ {
		for y := 0; y < s; y++ {
			for xx := 0; xx < s; xx++ {
				if o.Layout == "NHWC" {
					x[(c*s+y)*s+xx] = img[(y*s+xx)*3+c]
				} else {
					x[(c*s+y)*s+xx] = img[(c*s+y)*s+xx]
				}
			}
		}
	}
	a, s1 := conv(x, 3, s, w.conv1w, w.conv1b, 8)
	relu(a)
	b, s2 := conv(a, 8, s1, w.conv2w, w.conv2b, FeatureDim)
	relu(b)
	features = make([]float32, FeatureDim)
	for c := 0; c < FeatureDim; c++ {
		var sum float64
		for i := 0; i < s2*s2; i++ {
			sum += float64(b[c*s2*s2+i])
		}
		features[c] = float32(sum / float64(s2*s2))
	}
	if o.Head == "none" {
		return features, nil
	}
	out = make([]float32, o.Classes)
	for k := range out {
		sum := float64(w.fcb[k])
		for c := 0; c < FeatureDim; c++ {
			sum += float64(w.fcw[k*FeatureDim+c]) * float64(features[c])
		}
		out[k] = float32(sum)
	}
	if o.Head == "softmax" {
		m := out[0]
		for _, v := range out {
			m = max(m, v)
		}
		var z float64
		for _, v := range out {
			z += math.Exp(float64(v - m))
		}
		for i, v := range out {
			out[i] = float32(math.Exp(float64(v-m)) / z)
		}
	}
	return features, out
}

// conv is a 3x3, stride 2, pad 1 convolution on a CHW image of side s.
func conv(x []float32, cin, s int, wt, bias []float32, cout int) ([]float32, int) {
	so := (s+2-3)/2 + 1
	out := make([]float32, cout*so*so)
	for co := 0; co < cout; co++ {
		for oy := 0; oy < so; oy++ {
			for ox := 0; ox < so; ox++ {
				sum := float64(bias[co])
				for ci := 0; ci < cin; ci++ {
					for ky := 0; ky < 3; ky++ {
						iy := oy*2 - 1 + ky
						if iy < 0 || iy >= s {
							continue
						}
						for kx := 0; kx < 3; kx++ {
							ix := ox*2 - 1 + kx
							if ix < 0 || ix >= s {
								continue
							}
							sum += float64(wt[((co*cin+ci)*3+ky)*3+kx]) * float64(x[(ci*s+iy)*s+ix])
						}
					}
				}
				out[(co*so+oy)*so+ox] = float32(sum)
			}
		}
	}
	return out, so
}

func relu(v []float32) {
	for i := range v {
		if v[i] < 0 {
			v[i] = 0
		}
	}
}
