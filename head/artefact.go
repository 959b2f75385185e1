package head

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/featurizer/featurizer/backbones/onnxgraph"
	"github.com/featurizer/featurizer/internal/version"
	"github.com/featurizer/featurizer/table"
)

// Files of a model directory.
const (
	ModelFile    = "model.json"
	HeadONNX     = "head.onnx"
	CombinedONNX = "model.onnx"
	ModelFormat  = "featurizer.head/v1"
)

// Tensor names of the exported heads.
const (
	FeaturesInput = "features"
	ProbsOutput   = "probabilities"
	LogitsOutput  = "logits"
)

// Artefact is model.json: everything needed to use the head and to know
// what it was trained on. The weights live in head.onnx (standardization
// folded in), the one copy every consumer reads.
type Artefact struct {
	Format      string            `json:"format"`
	ToolVersion string            `json:"tool_version"`
	Created     time.Time         `json:"created"`
	Classes     []string          `json:"classes"`
	Features    table.FeatureSpec `json:"features"`
	Head        HeadInfo          `json:"head"`
	Training    TrainingInfo      `json:"training"`
	Validation  *Metrics          `json:"validation_metrics,omitempty"`
	Test        *Metrics          `json:"test_metrics,omitempty"`
	// Combined names model.onnx when it was written (image tensor in,
	// probabilities out), with the backbone weights it embeds.
	Combined *CombinedInfo `json:"combined,omitempty"`
}

// HeadInfo describes head.onnx.
type HeadInfo struct {
	Type   string `json:"type"` // logistic_regression or mlp
	Dim    int    `json:"input_dim"`
	Hidden int    `json:"hidden,omitempty"`
	K      int    `json:"classes"`
	File   string `json:"file"`
	Input  string `json:"input"`
	Output string `json:"output"`
}

// CombinedInfo describes model.onnx.
type CombinedInfo struct {
	File          string  `json:"file"`
	Input         string  `json:"input"`
	InputShape    []int64 `json:"input_shape"`
	Output        string  `json:"output"`
	WeightsSHA256 string  `json:"backbone_weights_sha256"`
}

// TrainingInfo records how the head was trained.
type TrainingInfo struct {
	Solver          string            `json:"solver"`
	BLAS            string            `json:"blas"`
	RegParam        float64           `json:"reg_param"`
	RegParamChosen  bool              `json:"reg_param_chosen_on_validation"`
	ElasticNetParam float64           `json:"elastic_net_param"`
	Standardize     bool              `json:"standardize"`
	ClassWeight     string            `json:"class_weight,omitempty"`
	Seed            int64             `json:"seed"`
	MaxIter         int               `json:"max_iter"`
	Iterations      int               `json:"iterations"`
	Seconds         float64           `json:"seconds"`
	PeakRSSMiB      float64           `json:"peak_rss_mib"`
	Rows            map[string]int    `json:"rows"`
	Tables          map[string]string `json:"tables"`
	StageKey        string            `json:"stage_key,omitempty"` // fingerprint of the run job's settings and tables, for stage skipping
	Tol             float64           `json:"tol,omitempty"`
	// Refit: the model was refit on train + validation with the chosen
	// penalty; ValidationMetrics says which model validation_metrics
	// describe (then the fit on train alone that chose the penalty).
	Refit             bool   `json:"refit_on_train_and_validation"`
	RefitRows         int    `json:"refit_rows,omitempty"`
	ValidationMetrics string `json:"validation_metrics_of,omitempty"`
}

// Fold returns parameters that take raw features: the standardization is
// folded into the first layer (computed in float64).
func Fold(p *Params, std *Standardizer) *Params {
	q := p.Clone()
	if std == nil {
		return q
	}
	w, b, cols := q.W, q.B, q.K
	if q.H > 0 {
		w, b, cols = q.W1, q.B1, q.H
	}
	for c := 0; c < cols; c++ {
		shift := float64(b[c])
		for j := 0; j < q.D; j++ {
			v := float64(w[j*cols+c]) / float64(std.Std[j])
			shift -= float64(std.Mean[j]) * v
			w[j*cols+c] = float32(v)
		}
		b[c] = float32(shift)
	}
	return q
}

// Nodes are the head's nodes and weights, reading input, with every name
// prefixed so that they can join a backbone's graph.
func Nodes(p *Params, input, prefix string) ([]onnxgraph.Node, []onnxgraph.Tensor) {
	n := func(s string) string { return prefix + s }
	var nodes []onnxgraph.Node
	var inits []onnxgraph.Tensor
	x := input
	in := p.D
	if p.H > 0 {
		inits = append(inits,
			onnxgraph.FloatTensor(n("W1"), []int64{int64(p.D), int64(p.H)}, p.W1),
			onnxgraph.FloatTensor(n("B1"), []int64{int64(p.H)}, p.B1))
		nodes = append(nodes,
			onnxgraph.Node{Name: n("matmul1"), OpType: "MatMul", Inputs: []string{x, n("W1")}, Outputs: []string{n("h_pre")}},
			onnxgraph.Node{Name: n("add1"), OpType: "Add", Inputs: []string{n("h_pre"), n("B1")}, Outputs: []string{n("h_lin")}},
			onnxgraph.Node{Name: n("relu"), OpType: "Relu", Inputs: []string{n("h_lin")}, Outputs: []string{n("hidden")}})
		x, in = n("hidden"), p.H
	}
	inits = append(inits,
		onnxgraph.FloatTensor(n("W"), []int64{int64(in), int64(p.K)}, p.W),
		onnxgraph.FloatTensor(n("B"), []int64{int64(p.K)}, p.B))
	nodes = append(nodes,
		onnxgraph.Node{Name: n("matmul"), OpType: "MatMul", Inputs: []string{x, n("W")}, Outputs: []string{n("z")}},
		onnxgraph.Node{Name: n("add"), OpType: "Add", Inputs: []string{n("z"), n("B")}, Outputs: []string{prefix + LogitsOutput}},
		onnxgraph.Node{Name: n("softmax"), OpType: "Softmax", Inputs: []string{prefix + LogitsOutput}, Outputs: []string{prefix + ProbsOutput},
			Attrs: []onnxgraph.Attr{onnxgraph.IntAttr("axis", 1)}})
	return nodes, inits
}

// HeadModel serializes folded parameters as ONNX: features [N, D] in,
// logits and probabilities [N, K] out (MatMul + Add + Softmax, with a
// MatMul + Add + Relu layer first for an MLP).
func HeadModel(folded *Params) ([]byte, error) {
	nodes, inits := Nodes(folded, FeaturesInput, "")
	k := int64(folded.K)
	return onnxgraph.Build(onnxgraph.ModelSpec{
		Opset: 13, GraphName: "featurizer_head", Nodes: nodes, Initializers: inits,
		Inputs: []onnxgraph.ValueInfo{{Name: FeaturesInput, ElemType: onnxgraph.Float, HasShape: true,
			Shape: []onnxgraph.Dim{{Param: "N"}, {Value: int64(folded.D)}}}},
		Outputs: []onnxgraph.ValueInfo{
			{Name: ProbsOutput, ElemType: onnxgraph.Float, HasShape: true, Shape: []onnxgraph.Dim{{Param: "N"}, {Value: k}}},
			{Name: LogitsOutput, ElemType: onnxgraph.Float, HasShape: true, Shape: []onnxgraph.Dim{{Param: "N"}, {Value: k}}},
		},
	})
}

// CombinedPrefix starts the name of every node and tensor of the head inside
// model.onnx, where it joins the backbone's graph (package combined).
const CombinedPrefix = "featurizer_head/"

// CombinedOutput is the output tensor of model.onnx.
const CombinedOutput = CombinedPrefix + ProbsOutput

// Save writes head.onnx, the MLflow files (for model.onnx when a.Combined
// names one, already in dir, else for head.onnx) and model.json into dir.
func (a *Artefact) Save(dir string, folded *Params) error {
	b, err := HeadModel(folded)
	if err != nil {
		return err
	}
	if err := table.WriteFileAtomic(filepath.Join(dir, HeadONNX), b); err != nil {
		return err
	}
	a.Format, a.ToolVersion = ModelFormat, version.Tool()
	a.Head.File, a.Head.Input, a.Head.Output = HeadONNX, FeaturesInput, ProbsOutput
	if err := WriteMLflow(dir, a); err != nil {
		return err
	}
	return table.WriteJSONAtomic(filepath.Join(dir, ModelFile), a)
}

// LoadArtefact reads a model directory: model.json and the folded
// parameters from head.onnx.
func LoadArtefact(dir string) (*Artefact, *Params, error) {
	b, err := os.ReadFile(filepath.Join(dir, ModelFile))
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %w", dir, err)
	}
	var a Artefact
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, nil, fmt.Errorf("model %s: %s: %w", dir, ModelFile, err)
	}
	if a.Format != ModelFormat {
		return nil, nil, fmt.Errorf("model %s: format %q, expected %q", dir, a.Format, ModelFormat)
	}
	data, err := os.ReadFile(filepath.Join(dir, a.Head.File))
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %w", dir, err)
	}
	m, err := onnxgraph.Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %s: %w", dir, a.Head.File, err)
	}
	p := &Params{D: a.Head.Dim, H: a.Head.Hidden, K: a.Head.K}
	get := func(name string, want int) ([]float32, error) {
		t, ok := m.Graph.Initializer(name)
		if !ok {
			return nil, fmt.Errorf("model %s: %s has no %s", dir, a.Head.File, name)
		}
		v, err := t.Floats()
		if err == nil && len(v) != want {
			err = fmt.Errorf("model %s: %s is %v, expected %d values", dir, name, t.Dims, want)
		}
		return v, err
	}
	in := p.D
	if p.H > 0 {
		if p.W1, err = get("W1", p.D*p.H); err != nil {
			return nil, nil, err
		}
		if p.B1, err = get("B1", p.H); err != nil {
			return nil, nil, err
		}
		in = p.H
	}
	if p.W, err = get("W", in*p.K); err != nil {
		return nil, nil, err
	}
	if p.B, err = get("B", p.K); err != nil {
		return nil, nil, err
	}
	if len(a.Classes) != p.K {
		return nil, nil, fmt.Errorf("model %s: %d class names for %d outputs", dir, len(a.Classes), p.K)
	}
	return &a, p, nil
}

// String names the head for people.
func (h HeadInfo) String() string {
	if h.Hidden > 0 {
		return fmt.Sprintf("MLP %d-%d-%d", h.Dim, h.Hidden, h.K)
	}
	return fmt.Sprintf("logistic regression %d-%d", h.Dim, h.K)
}
