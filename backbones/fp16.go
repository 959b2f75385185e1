package backbones

import (
	"fmt"

	"github.com/featurizer/featurizer/backbones/onnxgraph"
)

// deviceGraph returns the model as the session for o runs it. The CUDA
// provider computes in the graph's own types, so --fp16 there means a
// float16 graph: converted at load, its float32 inputs and outputs (the
// image batch, the features, the logits) kept. TensorRT builds float16
// engines by itself (trt_fp16_enable) and the CPU refuses --fp16.
func deviceGraph(model []byte, o EngineOptions) ([]byte, error) {
	if !o.FP16 || o.Device != DeviceCUDA {
		return model, nil
	}
	b, err := onnxgraph.ToFloat16(model, onnxgraph.Float16Options{})
	if err != nil {
		return nil, fmt.Errorf("--fp16: %w", err)
	}
	return b, nil
}
