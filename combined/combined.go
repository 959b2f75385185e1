package combined

import (
	"fmt"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/backbones/onnxgraph"
	"github.com/featurizer/featurizer/head"
	"github.com/featurizer/featurizer/modelspec"
)

// Build grafts the head onto the backbone: the image tensor in, class
// probabilities (head.CombinedOutput) out, one file any ONNX runtime can
// serve. It returns the model and its input's name and per-image shape.
// Finding the feature tap may run a probe session, so the runtime must be
// initialized.
func Build(backbone []byte, spec *modelspec.Spec, folded *head.Params) ([]byte, string, []int64, error) {
	m, err := onnxgraph.Parse(backbone)
	if err != nil {
		return nil, "", nil, fmt.Errorf("backbone: %w", err)
	}
	fg, err := backbones.PlanFeatures(m, spec)
	if err != nil {
		return nil, "", nil, err
	}
	nodes, inits := head.Nodes(folded, fg.Output, head.CombinedPrefix)
	k := int64(folded.K)
	out, err := m.Apply(onnxgraph.Edit{
		AddNodes:        append(fg.Nodes, nodes...),
		AddInitializers: append(fg.Inits, inits...),
		Outputs: []onnxgraph.ValueInfo{{Name: head.CombinedOutput, ElemType: onnxgraph.Float, HasShape: true,
			Shape: []onnxgraph.Dim{{Param: "N"}, {Value: k}}}},
	})
	return out, fg.Input, fg.Sample, err
}
