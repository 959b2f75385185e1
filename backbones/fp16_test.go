package backbones

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/featurizer/featurizer/backbones/onnxgraph"
	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/modelspec"
	ort "github.com/yalue/onnxruntime_go"
)

// The float16 graphs run here on ONNX Runtime's CPU provider, which has
// float16 kernels for few ops and puts float32 Casts around the others
// (its InsertCastTransformer): what it checks is that the converted graph
// is one ONNX Runtime accepts (its type checking is strict) and that the
// float16 weights and the precision changes at the boundaries keep the
// results within 1e-2 relative L2 of float32. The float16 arithmetic itself
// is checked on the GPU (bench/gpu, parity with --fp16).

const fp16Tolerance = 1e-2

func relL2(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

var cudaFP16 = EngineOptions{Device: DeviceCUDA, FP16: true}

// Only --fp16 on cuda converts; tensorrt and plain cuda run the model as
// it is.
func TestDeviceGraphOnlyConvertsForCUDAFP16(t *testing.T) {
	m := testmodels.Mixed()
	for _, o := range []EngineOptions{{}, {Device: DeviceCUDA}, {Device: DeviceTensorRT, FP16: true}, {Device: DeviceTensorRT}} {
		got, err := deviceGraph(m, o)
		if err != nil || !bytes.Equal(got, m) {
			t.Errorf("%+v: changed the model (%v)", o, err)
		}
	}
	got, err := deviceGraph(m, cudaFP16)
	if err != nil || bytes.Equal(got, m) {
		t.Errorf("cuda fp16: %d -> %d bytes, %v", len(m), len(got), err)
	}
	// A quantized model is refused with the flag's name (the catalog's
	// MobileNetV2 int8 where it is at hand; onnxgraph's tests build one).
	if q, err := os.ReadFile("../../shared/models/mobilenetv2-12-int8.onnx"); err == nil {
		if _, err := deviceGraph(q, cudaFP16); err == nil || !strings.HasPrefix(err.Error(), "--fp16: quantized model: QuantizeLinear node") {
			t.Errorf("int8 model: %v", err)
		}
	}
}

// The Mixed network, converted, runs on the CPU with each of its outputs
// within tolerance of float32, and not equal to it (the weights are
// float16 now).
func TestFP16MixedRunsOnCPU(t *testing.T) {
	needRuntime(t)
	m := testmodels.Mixed()
	half, err := deviceGraph(m, cudaFP16)
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	in := randomImages(n, 3*8*8, 5)
	outs := []string{"probs", "logits", "f"}
	dims := []int64{testmodels.MixedClasses, testmodels.MixedClasses, testmodels.MixedChannels}
	run := func(model []byte) [][]float32 {
		s, err := NewSession(model, "x", outs, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		res := make([][]float32, len(outs))
		shapes := make([][]int64, len(outs))
		for i := range outs {
			res[i] = make([]float32, n*dims[i])
			shapes[i] = []int64{n, dims[i]}
		}
		if err := s.Run(in, []int64{n, 3, 8, 8}, res, shapes); err != nil {
			t.Fatal(err)
		}
		return res
	}
	want, got := run(m), run(half)
	for i, name := range outs {
		d := relL2(got[i], want[i])
		t.Logf("%s: relative L2 %.2e", name, d)
		if d > fp16Tolerance || d == 0 {
			t.Errorf("%s: relative L2 %.3g to float32, want in (0, %g]", name, d, fp16Tolerance)
		}
	}
}

// Features through the engine's own graph (the feature tap added, then
// converted as for --fp16 on cuda) stay within tolerance of the float32
// engine's, image by image, whatever the layout, pooling op and head.
func TestFP16EngineFeaturesOnCPU(t *testing.T) {
	needRuntime(t)
	for _, o := range []testmodels.Options{
		{},
		{Layout: "NHWC", Head: "softmax"},
		{Pool: "reducemean", Opset: 18},
		{Head: "none"},
	} {
		t.Run(fmt.Sprintf("%s-%s-%s-%d", o.Layout, o.Head, o.Pool, o.Opset), func(t *testing.T) {
			model := testmodels.Build(o)
			spec := tinySpec(o)
			ref, err := NewEngineFromBytes(model, spec, EngineOptions{Threads: 1, Logits: o.Head != "none"})
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			const n = 3
			imgs := randomImages(n, ref.SampleSize(), 11)
			want := make([]float32, n*ref.FeatureDim())
			var logits []float32
			if o.Head != "none" {
				logits = make([]float32, n*ref.NumClasses())
			}
			if err := ref.Run(imgs, n, want, logits); err != nil {
				t.Fatal(err)
			}

			// The graph NewEngineFromBytes makes, as deviceGraph converts it.
			m, err := onnxgraph.Parse(model)
			if err != nil {
				t.Fatal(err)
			}
			fg, err := PlanFeatures(m, spec)
			if err != nil {
				t.Fatal(err)
			}
			edited, err := m.Apply(onnxgraph.Edit{AddNodes: fg.Nodes, AddInitializers: fg.Inits,
				Outputs: []onnxgraph.ValueInfo{{Name: fg.Output, ElemType: onnxgraph.Float}}})
			if err != nil {
				t.Fatal(err)
			}
			half, err := deviceGraph(edited, cudaFP16)
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewSession(half, fg.Input, []string{fg.Output}, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got := make([]float32, len(want))
			d := ref.FeatureDim()
			if err := s.Run(imgs, append([]int64{n}, fg.Sample...), [][]float32{got}, [][]int64{{n, int64(d)}}); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				r := relL2(got[i*d:(i+1)*d], want[i*d:(i+1)*d])
				if r > fp16Tolerance || r == 0 {
					t.Errorf("image %d: relative L2 %.3g, want in (0, %g]", i, r, fp16Tolerance)
				}
			}
		})
	}
}

// Shape arithmetic stays float32: an input 2049 wide gives an output 2049
// wide (a float16 Mul would give 2048, and this Run would fail on the
// output shape).
func TestFP16ShapeArithmeticOnCPU(t *testing.T) {
	needRuntime(t)
	half, err := deviceGraph(testmodels.ShapeArithmetic(), cudaFP16)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(half, "x", []string{"y"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const w = 2049
	in := randomImages(1, w, 3)
	out := make([]float32, w)
	if err := s.Run(in, []int64{1, 1, 1, w}, [][]float32{out}, [][]int64{{1, 1, 1, w}}); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		want := max(in[i], 0)
		if math.Abs(float64(out[i]-want)) > 1e-3*(1+math.Abs(float64(want))) {
			t.Fatalf("y[%d] = %g, want relu(x) = %g", i, out[i], want)
		}
	}
}

// The control-flow model, converted, runs both branches on the CPU within
// tolerance of float32.
func TestFP16SubgraphOnCPU(t *testing.T) {
	needRuntime(t)
	m := testmodels.IfModel()
	half, err := deviceGraph(m, cudaFP16)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2
	x := randomImages(n, 2*4*4, 9)
	run := func(model []byte, cond bool) []float32 {
		opts, err := ort.NewSessionOptions()
		if err != nil {
			t.Fatal(err)
		}
		defer opts.Destroy()
		s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, []string{"x", "cond"}, []string{"y"}, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Destroy()
		out := make([]float32, len(x))
		xt, err1 := ort.NewTensor(ort.NewShape(n, 2, 4, 4), x)
		ct, err2 := ort.NewTensor(ort.NewShape(1), []bool{cond})
		yt, err3 := ort.NewTensor(ort.NewShape(n, 2, 4, 4), out)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatal(err1, err2, err3)
		}
		defer xt.Destroy()
		defer ct.Destroy()
		defer yt.Destroy()
		if err := s.Run([]ort.Value{xt, ct}, []ort.Value{yt}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, cond := range []bool{true, false} {
		want, got := run(m, cond), run(half, cond)
		if d := relL2(got, want); d > fp16Tolerance || d == 0 {
			t.Errorf("cond %v: relative L2 %.3g, want in (0, %g]", cond, d, fp16Tolerance)
		}
	}
}

// A real torchvision backbone (ResNet-18 with random weights, exported by
// Debian's PyTorch as tools/export_backbone.py does): converted, its
// features and logits stay within tolerance of float32; converting its 45
// MB takes well under a second.
func TestFP16TorchvisionOnCPU(t *testing.T) {
	needRuntime(t)
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import torch, torchvision").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("needs %s with torch and torchvision: %v %s", py, err, strings.TrimSpace(string(out)))
		if os.Getenv("FEATURIZER_REQUIRE_REFERENCE") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "resnet18.onnx")
	script := `
import sys, torch, torchvision
torch.manual_seed(0)
m = torchvision.models.resnet18().eval()
kw = dict(input_names=["input"], output_names=["output"], opset_version=17,
          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
for extra in ({"external_data": False, "dynamo": False}, {"external_data": False}, {}):
    try:
        torch.onnx.export(m, torch.zeros(1, 3, 224, 224), sys.argv[1], **extra, **kw)
        break
    except TypeError:
        continue
`
	if out, err := exec.Command(py, "-c", script, path).CombinedOutput(); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	model, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := onnxgraph.ConvertFloat16(model, onnxgraph.Float16Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("converted %d MB in %v: %d nodes float16, kept %v, %d Casts, %d weights", len(model)>>20, time.Since(start), res.Converted, res.Kept, res.Casts, res.Initializers)
	// ResNet's float32 islands: the global pool and the Flatten after it;
	// Casts at the input, around them, and at the logits.
	if res.Casts != 4 || res.Kept["GlobalAveragePool"] != 1 || len(res.Kept) != 2 {
		t.Errorf("Casts %d, kept %v", res.Casts, res.Kept)
	}

	spec := &modelspec.Spec{Input: modelspec.InputSpec{Layout: "NCHW", Size: [2]int{224, 224}}, Resize: modelspec.ResizeSpec{Policy: "squash"},
		Normalize: modelspec.NormalizeSpec{Scale: 1, Std: [3]float32{1, 1, 1}}}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	ref, err := NewEngineFromBytes(model, spec, EngineOptions{Logits: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	const n = 2
	imgs := randomImages(n, ref.SampleSize(), 2)
	wantF := make([]float32, n*ref.FeatureDim())
	wantL := make([]float32, n*ref.NumClasses())
	if err := ref.Run(imgs, n, wantF, wantL); err != nil {
		t.Fatal(err)
	}
	m, _ := onnxgraph.Parse(model)
	fg, err := PlanFeatures(m, spec)
	if err != nil {
		t.Fatal(err)
	}
	edited, err := m.Apply(onnxgraph.Edit{AddNodes: fg.Nodes, AddInitializers: fg.Inits,
		Outputs: []onnxgraph.ValueInfo{{Name: fg.Output, ElemType: onnxgraph.Float}, {Name: "output", ElemType: onnxgraph.Float}}})
	if err != nil {
		t.Fatal(err)
	}
	half, err := deviceGraph(edited, cudaFP16)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(half, fg.Input, []string{fg.Output, "output"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gotF, gotL := make([]float32, len(wantF)), make([]float32, len(wantL))
	if err := s.Run(imgs, []int64{n, 3, 224, 224}, [][]float32{gotF, gotL}, [][]int64{{n, int64(ref.FeatureDim())}, {n, int64(ref.NumClasses())}}); err != nil {
		t.Fatal(err)
	}
	df, dl := relL2(gotF, wantF), relL2(gotL, wantL)
	t.Logf("features relative L2 %.2e, logits %.2e", df, dl)
	if df > fp16Tolerance || df == 0 || dl > fp16Tolerance || dl == 0 {
		t.Errorf("relative L2: features %.3g, logits %.3g; want in (0, %g]", df, dl, fp16Tolerance)
	}
}

// BenchmarkToFloat16 converts the model FEATURIZER_FP16_BENCH_MODEL names
// (e.g. ResNet-50 from tools/export_backbone.py --random).
func BenchmarkToFloat16(b *testing.B) {
	path := os.Getenv("FEATURIZER_FP16_BENCH_MODEL")
	if path == "" {
		b.Skip("set FEATURIZER_FP16_BENCH_MODEL to an ONNX model")
	}
	model, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(model)))
	for b.Loop() {
		if _, err := onnxgraph.ToFloat16(model, onnxgraph.Float16Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// --fp16 is a CUDA option now: the provider set-up goes on to the CUDA
// provider (which this CPU build of ONNX Runtime lacks) instead of refusing
// the flag; on the CPU the flag is still refused, in one line that names
// the devices that take it.
func TestFP16ProviderChoice(t *testing.T) {
	needRuntime(t)
	opts, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer opts.Destroy()
	err = appendProvider(opts, EngineOptions{Device: DeviceCUDA, FP16: true})
	if err != nil && strings.Contains(err.Error(), "fp16") {
		t.Errorf("cuda refused --fp16: %v", err)
	}
	err = appendProvider(opts, EngineOptions{FP16: true})
	if err == nil || !strings.Contains(err.Error(), "--fp16 needs a GPU device (--device cuda or tensorrt)") || strings.Contains(err.Error(), "\n") {
		t.Errorf("cpu: %v", err)
	}
}
