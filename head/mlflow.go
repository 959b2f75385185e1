package head

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/featurizer/featurizer/backbones/onnxgraph"
	"github.com/featurizer/featurizer/internal/version"
	"github.com/featurizer/featurizer/table"
)

// Files that make a model directory an MLflow model (onnx flavour), next
// to its model file.
const (
	MLmodelFile       = "MLmodel"
	CondaFile         = "conda.yaml"
	PythonEnvFile     = "python_env.yaml"
	RequirementsFile  = "requirements.txt"
	PreprocessingFile = "preprocessing.json"
)

// The Python environment the MLflow files pin: the versions
// tests/mlflow_test.go loads every model with (requirements-clients.in).
// That test checks them against the environment that loaded the model, so
// they move together. ONNX Runtime is version.ONNXRuntime, the runtime
// featurizer itself runs the backbone on.
const (
	// MLflowVersion is pinned as mlflow-skinny, MLflow without its server:
	// all that loading and registering a model needs. Full mlflow depends
	// on the same mlflow-skinny, so an environment with mlflow satisfies it.
	MLflowVersion = "3.17.2"
	// ONNXVersion is the onnx package (mlflow.onnx.load_model reads the
	// file with it).
	ONNXVersion = "1.20.1"
	// PandasVersion: mlflow.onnx imports pandas and mlflow-skinny does not
	// bring it.
	PandasVersion = "2.3.3"
	// PythonVersion: onnxruntime 1.30 has wheels for Python 3.11 and later
	// only, which is why a model pinned to Python 3.10 could not install.
	PythonVersion = "3.11"
)

// Release is the newest ONNX IR version and default-domain opset that one
// release of onnx or onnxruntime reads.
type Release struct {
	Version   string
	IR, Opset int64
}

// ONNXReleases are the onnx package's releases that have wheels for
// PythonVersion, from onnx.helper.VERSION_TABLE (tests/mlflow_test.go
// compares them with the installed onnx's table).
var ONNXReleases = []Release{
	{"1.13.0", 8, 18}, {"1.14.0", 9, 19}, {"1.15.0", 9, 20}, {"1.16.0", 10, 21},
	{"1.17.0", 10, 22}, {"1.18.0", 11, 23}, {"1.19.0", 12, 24}, {"1.20.0", 13, 25},
	{"1.21.0", 13, 26}, {"1.22.0", 13, 27}, {"1.23.0", 14, 28},
}

// ORTReleases are onnxruntime's releases that have wheels for
// PythonVersion (1.15 is the first), with what each loads. Measured, not
// copied from release notes: every release's Python wheel was given a
// one-node model stamped with each IR version (opset 13) and each opset
// (IR 7), and these are the newest it loaded; patch releases agree.
// tests/mlflow_test.go measures the installed one again.
var ORTReleases = []Release{
	{"1.15.0", 9, 19}, {"1.16.0", 9, 19}, {"1.17.0", 9, 20}, {"1.18.0", 10, 21},
	{"1.19.0", 10, 21}, {"1.20.0", 10, 21}, {"1.21.0", 10, 22}, {"1.22.0", 10, 22},
	{"1.23.0", 11, 23}, {"1.24.0", 13, 25}, {"1.25.0", 13, 26}, {"1.26.0", 13, 26},
	{"1.27.0", 13, 26}, {"1.28.0", 13, 26}, {"1.29.0", 13, 26}, {"1.30.0", 13, 26},
}

// MinRelease returns the oldest release in rs (oldest first) that reads
// a model of IR version ir and opset opset.
func MinRelease(rs []Release, ir, opset int64) (Release, bool) {
	for _, r := range rs {
		if r.IR >= ir && r.Opset >= opset {
			return r, true
		}
	}
	return Release{}, false
}

// FindRelease returns the row of rs for version v (same major.minor).
func FindRelease(rs []Release, v string) (Release, bool) {
	for _, r := range rs {
		if minor(r.Version) == minor(v) {
			return r, true
		}
	}
	return Release{}, false
}

func minor(v string) string {
	p := strings.SplitN(v, ".", 3)
	if len(p) < 2 {
		return v
	}
	return p[0] + "." + p[1]
}

// Requirements are the pip requirements of every model directory.
func Requirements() []string {
	return []string{
		"mlflow-skinny==" + MLflowVersion,
		"onnx==" + ONNXVersion,
		"onnxruntime==" + version.ONNXRuntime,
		"pandas==" + PandasVersion,
	}
}

// TensorSpec is one entry of an MLflow tensor signature.
type TensorSpec struct {
	Name  string  `json:"name"`
	Dtype string  `json:"dtype"`
	Shape []int64 `json:"shape"`
}

// MarshalJSON writes MLflow's form: {"name", "tensor-spec": {dtype, shape}, "type": "tensor"}.
func (s TensorSpec) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"type": "tensor", "name": s.Name,
		"tensor-spec": map[string]any{"dtype": s.Dtype, "shape": s.Shape}})
}

// numpyDtype names ONNX element types as MLflow's tensor specs do.
var numpyDtype = map[int32]string{
	onnxgraph.Float: "float32", onnxgraph.Double: "float64", onnxgraph.Float16: "float16",
	onnxgraph.Int64: "int64", onnxgraph.Int32: "int32", onnxgraph.Int8: "int8", onnxgraph.Uint8: "uint8",
}

// MLflowModel is what WriteMLflow derives from the model file.
type MLflowModel struct {
	File      string
	IR, Opset int64
	Inputs    []TensorSpec
	Outputs   []TensorSpec // every output of the graph, in its order
	MinONNX   string       // oldest onnx that reads it ("" when newer than ONNXReleases)
	MinORT    string       // oldest onnxruntime that loads it
}

// DescribeMLflow reads the model file the directory serves (model.onnx
// when the artefact has one, else head.onnx) and derives its signature
// and the oldest onnx and onnxruntime that read it. It fails when the
// pinned onnxruntime could not load the file.
func DescribeMLflow(dir string, a *Artefact) (*MLflowModel, error) {
	d := &MLflowModel{File: HeadONNX}
	input, shape := FeaturesInput, []int64{int64(a.Head.Dim)}
	if a.Combined != nil {
		d.File, input, shape = a.Combined.File, a.Combined.Input, a.Combined.InputShape
	}
	data, err := os.ReadFile(filepath.Join(dir, d.File))
	if err != nil {
		return nil, fmt.Errorf("MLflow files: %w", err)
	}
	m, err := onnxgraph.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("MLflow files: %s: %w", d.File, err)
	}
	d.IR, d.Opset = m.IRVersion, m.Opset()
	// The input: the per-image shape featurizer feeds (a backbone may leave
	// its spatial axes symbolic), any batch size.
	in := TensorSpec{Name: input, Dtype: "float32", Shape: append([]int64{-1}, shape...)}
	for _, v := range m.Graph.Inputs {
		if v.Name == input {
			if in.Dtype = numpyDtype[v.ElemType]; in.Dtype == "" {
				return nil, fmt.Errorf("MLflow files: %s: input %s has ONNX element type %d", d.File, input, v.ElemType)
			}
		}
	}
	d.Inputs = []TensorSpec{in}
	for _, v := range m.Graph.Outputs {
		o := TensorSpec{Name: v.Name, Dtype: numpyDtype[v.ElemType]}
		if o.Dtype == "" || !v.HasShape {
			return nil, fmt.Errorf("MLflow files: %s: output %s has no shape or an ONNX element type (%d) a tensor signature cannot name", d.File, v.Name, v.ElemType)
		}
		for _, dim := range v.Shape {
			n := dim.Value
			if n <= 0 {
				n = -1 // symbolic or unknown
			}
			o.Shape = append(o.Shape, n)
		}
		d.Outputs = append(d.Outputs, o)
	}
	if len(d.Outputs) == 0 {
		return nil, fmt.Errorf("MLflow files: %s has no outputs", d.File)
	}
	if r, ok := MinRelease(ONNXReleases, d.IR, d.Opset); ok {
		d.MinONNX = r.Version
	}
	pinned, ok := FindRelease(ORTReleases, version.ONNXRuntime)
	r, found := MinRelease(ORTReleases, d.IR, d.Opset)
	if !ok || !found || pinned.IR < d.IR || pinned.Opset < d.Opset {
		return nil, fmt.Errorf("MLflow files: %s is ONNX IR version %d, opset %d, which onnxruntime %s (the version requirements.txt would pin) cannot load",
			d.File, d.IR, d.Opset, version.ONNXRuntime)
	}
	d.MinORT = r.Version
	return d, nil
}

// MLmodel is MLflow's model file, fields in the order MLflow writes them.
type MLmodel struct {
	Flavors        mlFlavors      `yaml:"flavors"`
	Metadata       map[string]any `yaml:"metadata"`
	MLflowVersion  string         `yaml:"mlflow_version"`
	ModelUUID      string         `yaml:"model_uuid"`
	Signature      mlSignature    `yaml:"signature"`
	UTCTimeCreated string         `yaml:"utc_time_created"`
}

type mlFlavors struct {
	ONNX struct {
		Code           *string  `yaml:"code"`
		Data           string   `yaml:"data"`
		SessionOptions *string  `yaml:"onnx_session_options"`
		ONNXVersion    string   `yaml:"onnx_version"`
		Providers      []string `yaml:"providers"`
	} `yaml:"onnx"`
	PythonFunction struct {
		Data          string            `yaml:"data"`
		Env           map[string]string `yaml:"env"`
		LoaderModule  string            `yaml:"loader_module"`
		PythonVersion string            `yaml:"python_version"`
	} `yaml:"python_function"`
}

type mlSignature struct {
	Inputs  string  `yaml:"inputs"`
	Outputs string  `yaml:"outputs"`
	Params  *string `yaml:"params"`
}

// WriteMLflow writes MLmodel (onnx flavour, a tensor signature listing
// every input and output of the model file), the environment files that
// pin a Python environment in which it loads, and preprocessing.json (how
// images become the tensors the backbone takes).
func WriteMLflow(dir string, a *Artefact) error {
	d, err := DescribeMLflow(dir, a)
	if err != nil {
		return err
	}
	prep := a.Features.Preprocessing
	hasPrep := prep.Input.Size[0] > 0 // features without provenance say nothing about it
	if hasPrep {
		b, _ := json.MarshalIndent(prep, "", "  ")
		if err := table.WriteFileAtomic(filepath.Join(dir, PreprocessingFile), append(b, '\n')); err != nil {
			return err
		}
	}
	in, _ := json.Marshal(d.Inputs)
	out, _ := json.Marshal(d.Outputs)
	var uuid [16]byte
	rand.Read(uuid[:])
	ml := MLmodel{
		MLflowVersion:  MLflowVersion,
		ModelUUID:      fmt.Sprintf("%x", uuid),
		Signature:      mlSignature{Inputs: string(in), Outputs: string(out)},
		UTCTimeCreated: time.Now().UTC().Format("2006-01-02 15:04:05.000000"),
		Metadata: map[string]any{
			"featurizer_model":        ModelFile,
			"onnx_ir_version":         d.IR,
			"onnx_opset":              d.Opset,
			"min_onnxruntime_version": d.MinORT,
		},
	}
	if d.MinONNX != "" {
		ml.Metadata["min_onnx_version"] = d.MinONNX
	}
	if hasPrep {
		ml.Metadata["preprocessing"] = PreprocessingFile
	}
	ml.Metadata["input"] = inputDescription(a, d, hasPrep)
	f := &ml.Flavors
	f.ONNX.Data, f.ONNX.ONNXVersion, f.ONNX.Providers = d.File, ONNXVersion, []string{"CPUExecutionProvider"}
	f.PythonFunction.Data, f.PythonFunction.LoaderModule, f.PythonFunction.PythonVersion = d.File, "mlflow.onnx", PythonVersion
	f.PythonFunction.Env = map[string]string{"conda": CondaFile, "virtualenv": PythonEnvFile}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(ml); err != nil {
		return err
	}
	reqs := Requirements()
	conda := "channels:\n- conda-forge\ndependencies:\n- python=" + PythonVersion + "\n- pip\n- pip:\n"
	for _, r := range reqs {
		conda += "  - " + r + "\n"
	}
	conda += "name: mlflow-env\n"
	files := []struct{ name, body string }{
		{RequirementsFile, strings.Join(reqs, "\n") + "\n"},
		{PythonEnvFile, "python: '" + PythonVersion + "'\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\ndependencies:\n- -r requirements.txt\n"},
		{CondaFile, conda},
		{MLmodelFile, buf.String()},
	}
	for _, f := range files {
		if err := table.WriteFileAtomic(filepath.Join(dir, f.name), []byte(f.body)); err != nil {
			return err
		}
	}
	return nil
}

// inputDescription says, in MLmodel's metadata, what the model takes: an
// image tensor already preprocessed, or stored features.
func inputDescription(a *Artefact, d *MLflowModel, hasPrep bool) string {
	in := d.Inputs[0]
	if a.Combined != nil {
		s := fmt.Sprintf("%s: %s %s, images already decoded, resized and normalized", in.Name, in.Dtype, shapeString(in.Shape))
		if hasPrep {
			p := a.Features.Preprocessing
			s += fmt.Sprintf(" (%s %s) exactly as %s says", p.Input.Layout, p.Input.Color, PreprocessingFile)
		}
		return s
	}
	s := fmt.Sprintf("%s: %s %s, the features column of a featurizer table", in.Name, in.Dtype, shapeString(in.Shape))
	if a.Features.Backbone != "" {
		s += " made by " + a.Features.Backbone
	}
	if hasPrep {
		s += " from images preprocessed as " + PreprocessingFile + " says"
	}
	return s
}

func shapeString(shape []int64) string {
	parts := make([]string, len(shape))
	for i, n := range shape {
		parts[i] = fmt.Sprint(n)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
