package head

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/featurizer/featurizer/backbones/onnxgraph"
	"github.com/featurizer/featurizer/internal/version"
	"github.com/featurizer/featurizer/modelspec"
	"github.com/featurizer/featurizer/table"
)

var testPreprocessing = modelspec.Preprocessing{
	Input:     modelspec.InputSpec{Name: "image", Layout: "NHWC", Size: [2]int{8, 8}, Color: "BGR"},
	Resize:    modelspec.ResizeSpec{Policy: "squash", Filter: "bilinear"},
	Normalize: modelspec.NormalizeSpec{Scale: 1, Mean: [3]float32{103.939, 116.779, 123.68}, Std: [3]float32{1, 1, 1}},
}

func readMLmodel(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, MLmodelFile))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func signatureNames(t *testing.T, m map[string]any, which string) []string {
	t.Helper()
	var specs []struct {
		Name string `json:"name"`
	}
	s, _ := m["signature"].(map[string]any)[which].(string)
	if err := json.Unmarshal([]byte(s), &specs); err != nil {
		t.Fatalf("signature %s %q: %v", which, s, err)
	}
	var names []string
	for _, x := range specs {
		names = append(names, x.Name)
	}
	return names
}

// The MLflow files of a head-only directory: the signature lists both
// outputs of head.onnx, the environment files pin the tested stack (as
// strings: YAML would read python: 3.10 as the number 3.1), MLmodel's
// metadata says what the file is and what reads it, and preprocessing.json
// is the features' preprocessing.
func TestMLflowFilesHeadOnly(t *testing.T) {
	dir := t.TempDir()
	p := NewParams(4, 0, 3, 1)
	art := &Artefact{Classes: []string{"a", "b", "c"}, Head: HeadInfo{Type: "logistic_regression", Dim: 4, K: 3},
		Features: table.FeatureSpec{Backbone: "tiny", Preprocessing: testPreprocessing, FeatureDim: 4}}
	if err := art.Save(dir, p); err != nil {
		t.Fatal(err)
	}
	m := readMLmodel(t, dir)
	if got := signatureNames(t, m, "outputs"); !reflect.DeepEqual(got, []string{ProbsOutput, LogitsOutput}) {
		t.Errorf("signature outputs %q, head.onnx has probabilities and logits", got)
	}
	if got := signatureNames(t, m, "inputs"); !reflect.DeepEqual(got, []string{FeaturesInput}) {
		t.Errorf("signature inputs %q", got)
	}
	if !strings.Contains(m["signature"].(map[string]any)["inputs"].(string), `"shape":[-1,4]`) {
		t.Errorf("signature inputs %v", m["signature"])
	}
	pf := m["flavors"].(map[string]any)["python_function"].(map[string]any)
	onnxFl := m["flavors"].(map[string]any)["onnx"].(map[string]any)
	if pf["data"] != HeadONNX || onnxFl["data"] != HeadONNX || pf["loader_module"] != "mlflow.onnx" ||
		pf["python_version"] != PythonVersion || onnxFl["onnx_version"] != ONNXVersion || m["mlflow_version"] != MLflowVersion {
		t.Errorf("MLmodel flavours %v, %v, mlflow %v", pf, onnxFl, m["mlflow_version"])
	}
	md := m["metadata"].(map[string]any)
	want := map[string]any{"onnx_ir_version": 8, "onnx_opset": 13, "min_onnxruntime_version": "1.15.0", "min_onnx_version": "1.13.0",
		"preprocessing": PreprocessingFile, "featurizer_model": ModelFile}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("metadata %s = %v (%T), want %v", k, md[k], md[k], v)
		}
	}
	if in, _ := md["input"].(string); !strings.Contains(in, "features column") || !strings.Contains(in, "tiny") {
		t.Errorf("metadata input %q", in)
	}

	b, _ := os.ReadFile(filepath.Join(dir, RequirementsFile))
	wantReqs := []string{"mlflow-skinny==" + MLflowVersion, "onnx==" + ONNXVersion, "onnxruntime==" + version.ONNXRuntime, "pandas==" + PandasVersion}
	if got := strings.Fields(string(b)); !reflect.DeepEqual(got, wantReqs) {
		t.Errorf("requirements.txt %q", got)
	}
	var env map[string]any
	b, _ = os.ReadFile(filepath.Join(dir, PythonEnvFile))
	if err := yaml.Unmarshal(b, &env); err != nil || env["python"] != PythonVersion {
		t.Errorf("python_env.yaml python = %#v (%v)", env["python"], err)
	}
	var conda struct {
		Dependencies []any `yaml:"dependencies"`
	}
	b, _ = os.ReadFile(filepath.Join(dir, CondaFile))
	if err := yaml.Unmarshal(b, &conda); err != nil || len(conda.Dependencies) != 3 || conda.Dependencies[0] != "python="+PythonVersion {
		t.Fatalf("conda.yaml %s (%v)", b, err)
	}
	pip := conda.Dependencies[2].(map[string]any)["pip"].([]any)
	if len(pip) != len(wantReqs) || pip[0] != wantReqs[0] || pip[3] != wantReqs[3] {
		t.Errorf("conda.yaml pip %v", pip)
	}

	var prep modelspec.Preprocessing
	b, err := os.ReadFile(filepath.Join(dir, PreprocessingFile))
	if err == nil {
		err = json.Unmarshal(b, &prep)
	}
	if err != nil || prep != testPreprocessing {
		t.Errorf("preprocessing.json %s (%v)", b, err)
	}
}

// model.onnx stamped as current exporters stamp it (IR version 10, opset
// 18): the MLflow files describe model.onnx and derive the oldest onnx
// and onnxruntime that read it; a file the pinned onnxruntime cannot load
// is an error, not an MLmodel that promises it.
func TestMLflowFilesCombined(t *testing.T) {
	p := NewParams(4, 0, 3, 1)
	build := func(ir byte, opset int64) []byte {
		// A stand-in backbone output: the head itself, renamed.
		nodes, inits := Nodes(p, "image", CombinedPrefix)
		b, err := onnxgraph.Build(onnxgraph.ModelSpec{Opset: opset, Nodes: nodes, Initializers: inits,
			Inputs: []onnxgraph.ValueInfo{{Name: "image", ElemType: onnxgraph.Float, HasShape: true, Shape: []onnxgraph.Dim{{Param: "N"}, {Value: 4}}}},
			Outputs: []onnxgraph.ValueInfo{{Name: CombinedOutput, ElemType: onnxgraph.Float, HasShape: true,
				Shape: []onnxgraph.Dim{{Param: "N"}, {Value: 3}}}}})
		if err != nil || b[0] != 0x08 || b[1] != 8 {
			t.Fatalf("build: %v", err)
		}
		b[1] = ir
		return b
	}
	art := func() *Artefact {
		return &Artefact{Classes: []string{"a", "b", "c"}, Head: HeadInfo{Dim: 4, K: 3},
			Features: table.FeatureSpec{Preprocessing: testPreprocessing},
			Combined: &CombinedInfo{File: CombinedONNX, Input: "image", InputShape: []int64{4}, Output: CombinedOutput}}
	}
	for _, c := range []struct {
		ir            byte
		opset         int64
		minORT, minON string
		err           bool
	}{
		{10, 18, "1.18.0", "1.16.0", false},
		{11, 23, "1.23.0", "1.18.0", false},
		{13, 26, "1.25.0", "1.21.0", false},
		{14, 18, "", "", true},
		{10, 27, "", "", true},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, CombinedONNX), build(c.ir, c.opset), 0o644)
		err := art().Save(dir, p)
		if c.err {
			if err == nil || !strings.Contains(err.Error(), "onnxruntime "+version.ONNXRuntime) {
				t.Errorf("IR %d opset %d: %v", c.ir, c.opset, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("IR %d opset %d: %v", c.ir, c.opset, err)
		}
		m := readMLmodel(t, dir)
		md := m["metadata"].(map[string]any)
		if md["onnx_ir_version"] != int(c.ir) || md["onnx_opset"] != int(c.opset) || md["min_onnxruntime_version"] != c.minORT || md["min_onnx_version"] != c.minON {
			t.Errorf("IR %d opset %d: metadata %v", c.ir, c.opset, md)
		}
		if got := signatureNames(t, m, "outputs"); !reflect.DeepEqual(got, []string{CombinedOutput}) {
			t.Errorf("signature outputs %q", got)
		}
		if in, _ := md["input"].(string); !strings.Contains(in, "NHWC BGR") || !strings.Contains(in, PreprocessingFile) {
			t.Errorf("metadata input %q", in)
		}
		pf := m["flavors"].(map[string]any)["python_function"].(map[string]any)
		if pf["data"] != CombinedONNX {
			t.Errorf("python_function data %v", pf["data"])
		}
	}
}

// The release tables are in order, never step back, and know the
// onnxruntime featurizer runs (the pin).
func TestReleaseTables(t *testing.T) {
	for name, rs := range map[string][]Release{"onnx": ONNXReleases, "onnxruntime": ORTReleases} {
		for i := 1; i < len(rs); i++ {
			if minor(rs[i].Version) == minor(rs[i-1].Version) || rs[i].IR < rs[i-1].IR || rs[i].Opset < rs[i-1].Opset {
				t.Errorf("%s: %+v after %+v", name, rs[i], rs[i-1])
			}
		}
	}
	if _, ok := FindRelease(ORTReleases, version.ONNXRuntime); !ok {
		t.Errorf("ORTReleases has no row for onnxruntime %s", version.ONNXRuntime)
	}
	if _, ok := FindRelease(ONNXReleases, ONNXVersion); !ok {
		t.Errorf("ONNXReleases has no row for onnx %s", ONNXVersion)
	}
}
