package tests

import (
	bin "encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/featurizer/featurizer/backbones/onnxgraph"
	"github.com/featurizer/featurizer/featurize"
	"github.com/featurizer/featurizer/head"
	"github.com/featurizer/featurizer/internal/clients"
	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/internal/version"
	"github.com/featurizer/featurizer/modelspec"
	"github.com/featurizer/featurizer/table"
)

type mlflowSpec struct {
	Name  string  `json:"name"`
	Dtype string  `json:"dtype"`
	Shape []int64 `json:"shape"`
}

type onnxValue struct {
	Name     string  `json:"name"`
	ElemType int32   `json:"elem_type"`
	Shape    []int64 `json:"shape"`
}

type mlflowModelReport struct {
	LoadSeconds  float64  `json:"load_seconds"`
	LoadWarnings []string `json:"load_warnings"`
	Signature    struct {
		Inputs  []mlflowSpec `json:"inputs"`
		Outputs []mlflowSpec `json:"outputs"`
	} `json:"signature"`
	Pyfunc map[string][]float32 `json:"pyfunc"`
	ONNX   struct {
		IRVersion int64            `json:"ir_version"`
		Opsets    map[string]int64 `json:"opsets"`
		Inputs    []onnxValue      `json:"inputs"`
		Outputs   []onnxValue      `json:"outputs"`
	} `json:"onnx"`
	Metadata map[string]any `json:"metadata"`
	MLmodel  struct {
		MLflowVersion string `json:"mlflow_version"`
		ONNXVersion   string `json:"onnx_version"`
		PythonVersion string `json:"python_version"`
	} `json:"mlmodel"`
	PreprocessingMaxDiff  *float64 `json:"preprocessing_max_diff"`
	MLflowOwnRequirements []string `json:"mlflow_own_requirements"`
	MLflowOwnPython       string   `json:"mlflow_own_python"`
	Registered            []struct {
		Version int                  `json:"version"`
		Status  string               `json:"status"`
		Source  string               `json:"source"`
		Pyfunc  map[string][]float32 `json:"pyfunc"`
	} `json:"registered"`
}

type mlflowReport struct {
	Python           string                       `json:"python"`
	Installed        map[string]*string           `json:"installed"`
	ONNXVersionTable [][]any                      `json:"onnx_version_table"`
	ORTLoadsRaw      map[string]int64             `json:"onnxruntime_loads"`
	Models           map[string]mlflowModelReport `json:"models"`
}

// mlflowModel is one model directory for mlflow_check.py, with the tensor
// it is fed.
type mlflowModel struct {
	Name        string  `json:"name"`
	Dir         string  `json:"dir"`
	Input       string  `json:"input"`
	Shape       []int64 `json:"shape"`
	Pixels      string  `json:"pixels,omitempty"`
	PixelsShape []int64 `json:"pixels_shape,omitempty"`
}

// stampIR rewrites the IR version of a model testmodels built (its first
// field, IR version 8), as a current exporter would stamp it.
func stampIR(t *testing.T, path string, ir byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 2 || b[0] != 0x08 || b[1] != 8 {
		t.Fatalf("%s does not start with IR version 8: %v", path, err)
	}
	b[1] = ir
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeFloats(t *testing.T, path string, v []float32) {
	t.Helper()
	b := make([]byte, 4*len(v))
	for i, f := range v {
		bin.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// MLflow loads the model directories train writes, with and without the
// backbone, in the Python environment their own files pin:
//   - mlflow.pyfunc.load_model and mlflow.onnx.load_model load them, and
//     MLflow finds nothing in requirements.txt or the Python version that
//     differs from the environment (it logs a warning for each mismatch);
//     the pins are the versions this environment has, the ones MLflow's
//     own save_model writes here, and onnxruntime is featurizer's;
//   - the combined model, from a backbone stamped IR version 10 and opset
//     18 as current exporters write (onnxruntime before 1.18 refuses it),
//     predicts on featurizer's preprocessed tensors what `featurizer
//     predict --model` does on the images; the head alone, on the feature
//     rows, what `predict --model --features` does;
//   - the signature lists every output of the graph, in its order, and the
//     input the graph takes; MLmodel's metadata gives the IR version and
//     opset of the file and the oldest onnx and onnxruntime that read it,
//     from tables whose rows for the installed versions the environment
//     confirms (onnx's VERSION_TABLE; onnxruntime measured);
//   - preprocessing.json is the feature table's provenance, and applied with
//     numpy to the resized pixels it gives featurizer's tensors bit for bit;
//   - mlflow.register_model registers both into a sqlite registry (the
//     directory as it is, and as a run's artifacts) and the registered
//     versions predict the same.
func TestMLflowLoadsModels(t *testing.T) {
	needRuntime(t)
	py := clients.Python(t, "mlflow", "mlflow.onnx", "mlflow.pyfunc", "onnx", "onnxruntime", "sqlalchemy", "alembic")
	start := time.Now()
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{Seed: 3, Opset: 18})
	stampIR(t, model, 10)
	for i, split := range []string{"train", "validation", "test"} {
		colours(t, filepath.Join(dir, "img", split), map[string]int{"train": 24, "validation": 8, "test": 8}[split], i)
		if r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", filepath.Join(dir, "img", split),
			"--output", filepath.Join(dir, "features", split), "--quiet"); r.code != exitOK {
			t.Fatalf("featurize %s: %d %s", split, r.code, r.stderr)
		}
	}
	f := func(s string) string { return filepath.Join(dir, "features", s) }
	combined, headOnly := filepath.Join(dir, "combined"), filepath.Join(dir, "head-only")
	if r := run(t, "train", "--features", f("train"), "--validation", f("validation"), "--test", f("test"), "--output", combined,
		"--backbone-weights", model, "--seed", "7", "--quiet"); r.code != exitOK {
		t.Fatalf("train: %d %s", r.code, r.stderr)
	}
	if r := run(t, "train", "--features", f("train"), "--validation", f("validation"), "--test", f("test"), "--output", headOnly,
		"--models-dir", filepath.Join(dir, "no-models"), "--seed", "7", "--quiet"); r.code != exitOK {
		t.Fatalf("train head only: %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(headOnly, head.CombinedONNX)); err == nil {
		t.Fatal("the head-only model has a model.onnx")
	}
	predImages, predFeatures := filepath.Join(dir, "pred-images"), filepath.Join(dir, "pred-features")
	if r := run(t, "predict", "--model", combined, "--backbone", model, "--spec", spec, "--input", filepath.Join(dir, "img", "test"),
		"--output", predImages, "--top-k", "3", "--quiet"); r.code != exitOK {
		t.Fatalf("predict images: %d %s", r.code, r.stderr)
	}
	if r := run(t, "predict", "--model", headOnly, "--features", f("test"), "--output", predFeatures, "--top-k", "3", "--quiet"); r.code != exitOK {
		t.Fatalf("predict features: %d %s", r.code, r.stderr)
	}
	byImages, err := table.ReadAll[table.PredictionRow](predImages)
	if err != nil {
		t.Fatal(err)
	}
	byFeatures, err := table.ReadAll[table.PredictionRow](predFeatures)
	if err != nil {
		t.Fatal(err)
	}
	features, err := table.ReadAll[table.FeatureRow](f("test"))
	if err != nil {
		t.Fatal(err)
	}
	if len(byImages) != 24 || len(byFeatures) != 24 || len(features) != 24 {
		t.Fatalf("%d, %d predictions, %d feature rows", len(byImages), len(byFeatures), len(features))
	}

	// The tensors featurizer feeds the backbone, image by image in the
	// prediction table's order, from its own decoder and preprocessor.
	s, err := modelspec.LoadSpecFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	pp := featurize.NewPreprocessor(s.Preprocessing())
	var dec featurize.Decoder
	defer dec.Close()
	sample := 3 * 32 * 32
	tensors := make([]float32, len(byImages)*sample)
	var pixels []byte
	for i, row := range byImages {
		b, err := os.ReadFile(row.Path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := dec.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := pp.Apply(img, tensors[i*sample:]); err != nil {
			t.Fatal(err)
		}
		px, err := pp.Resized(img)
		if err != nil {
			t.Fatal(err)
		}
		pixels = append(pixels, px.Pix...)
	}
	rows := make([]float32, 0, len(features)*testmodels.FeatureDim)
	for _, r := range features {
		rows = append(rows, r.Features...)
	}
	work := t.TempDir()
	in := func(name string) string { return filepath.Join(work, name) }
	writeFloats(t, in("tensors.f32"), tensors)
	writeFloats(t, in("features.f32"), rows)
	os.WriteFile(in("pixels.u8"), pixels, 0o644)

	n := int64(len(byImages))
	req := map[string]any{
		"packages":     []string{"mlflow-skinny", "onnx", "onnxruntime", "pandas", "numpy"},
		"registry_uri": "sqlite:///" + in("registry.db"),
		"models": []mlflowModel{
			{Name: "combined", Dir: combined, Input: in("tensors.f32"), Shape: []int64{n, 3, 32, 32},
				Pixels: in("pixels.u8"), PixelsShape: []int64{n, 32, 32, 3}},
			{Name: "head-only", Dir: headOnly, Input: in("features.f32"), Shape: []int64{n, testmodels.FeatureDim}},
		},
	}
	rep := runMLflowCheck(t, py, work, req)

	// The environment: what requirements.txt pins is what loaded the models.
	for _, m := range []string{combined, headOnly} {
		b, _ := os.ReadFile(filepath.Join(m, head.RequirementsFile))
		if got, want := strings.Fields(string(b)), head.Requirements(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: requirements.txt %q, want %q", m, got, want)
		}
		b, _ = os.ReadFile(filepath.Join(m, head.PythonEnvFile))
		if !strings.Contains(string(b), "python: '"+head.PythonVersion+"'\n") {
			t.Errorf("%s: python_env.yaml does not pin Python %s:\n%s", m, head.PythonVersion, b)
		}
	}
	for _, r := range head.Requirements() {
		pkg, want, _ := strings.Cut(r, "==")
		if got := rep.Installed[pkg]; got == nil || *got != want {
			t.Errorf("requirements.txt pins %s, the environment that loaded the models has %v (update head/mlflow.go or requirements-clients.in)", r, deref(got))
		}
	}
	if maj := strings.Join(strings.SplitN(rep.Python, ".", 3)[:2], "."); maj != head.PythonVersion {
		t.Errorf("the models pin Python %s, they were loaded by Python %s", head.PythonVersion, rep.Python)
	}
	if head.Requirements()[2] != "onnxruntime=="+version.ONNXRuntime {
		t.Errorf("requirements pin %s, featurizer runs onnxruntime %s", head.Requirements()[2], version.ONNXRuntime)
	}

	// The tables the minimum versions come from, against the environment.
	ortRow, ok := head.FindRelease(head.ORTReleases, *rep.Installed["onnxruntime"])
	if !ok || ortRow.IR != rep.ORTLoadsRaw["max_ir"] || ortRow.Opset != rep.ORTLoadsRaw["max_opset"] {
		t.Errorf("head.ORTReleases has %+v for onnxruntime %s; it loads up to IR version %d, opset %d",
			ortRow, *rep.Installed["onnxruntime"], rep.ORTLoadsRaw["max_ir"], rep.ORTLoadsRaw["max_opset"])
	}
	checkONNXReleases(t, rep.ONNXVersionTable, *rep.Installed["onnx"])

	// What each model file is, and what MLflow made of it.
	checkMLflowModel(t, rep.Models["combined"], combined, head.CombinedONNX, 10, 18)
	checkMLflowModel(t, rep.Models["head-only"], headOnly, head.HeadONNX, 8, 13)

	// Predictions: pyfunc on featurizer's tensors against predict --model on
	// the images; on the feature rows against predict --model --features.
	comb := rep.Models["combined"]
	checkMLflowPredictions(t, "combined", comb.Pyfunc[head.CombinedOutput], byImages)
	ho := rep.Models["head-only"]
	checkMLflowPredictions(t, "head-only", ho.Pyfunc[head.ProbsOutput], byFeatures)
	if logits := ho.Pyfunc[head.LogitsOutput]; len(logits) != len(byFeatures)*3 {
		t.Errorf("head-only: %d logits", len(logits))
	} else {
		worst := 0.0
		for i := 0; i < len(byFeatures); i++ {
			z := logits[i*3 : i*3+3]
			m := math.Max(float64(z[0]), math.Max(float64(z[1]), float64(z[2])))
			sum := 0.0
			for _, v := range z {
				sum += math.Exp(float64(v) - m)
			}
			for c, v := range z {
				worst = math.Max(worst, math.Abs(math.Exp(float64(v)-m)/sum-float64(ho.Pyfunc[head.ProbsOutput][i*3+c])))
			}
		}
		if worst > 1e-6 {
			t.Errorf("head-only: softmax(logits) differs from probabilities by %g", worst)
		}
	}
	if d := comb.PreprocessingMaxDiff; d == nil || *d != 0 {
		t.Errorf("preprocessing.json applied with numpy differs from featurizer's tensors by %v", deref(d))
	}
	// Those numpy lines are the README's.
	readme, _ := os.ReadFile(filepath.Join("..", "README.md"))
	script, _ := os.ReadFile(filepath.Join("clients", "mlflow_check.py"))
	for _, line := range []string{
		`x = (x / np.float32(n["scale"]) - np.float32(n["mean"])) / np.float32(n["std"])`,
		`if prep["input"]["color"] == "BGR":`,
		`if prep["input"]["layout"] == "NCHW":`,
		`x = x.transpose(0, 3, 1, 2)`,
	} {
		if !strings.Contains(string(readme), line) || !strings.Contains(string(script), line) {
			t.Errorf("README.md and tests/clients/mlflow_check.py do not both hold %s", line)
		}
	}
	t.Logf("MLflow %s, onnx %s, onnxruntime %s, Python %s: both models loaded (%.2fs, %.2fs), predicted and registered; %.1fs in all",
		deref(rep.Installed["mlflow-skinny"]), deref(rep.Installed["onnx"]), deref(rep.Installed["onnxruntime"]), rep.Python,
		comb.LoadSeconds, ho.LoadSeconds, time.Since(start).Seconds())
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func runMLflowCheck(t *testing.T, py, work string, req map[string]any) mlflowReport {
	t.Helper()
	var rep mlflowReport
	took := runClientScript(t, py, "mlflow_check.py", work, work, req, &rep)
	t.Logf("mlflow_check.py: %.1fs", took.Seconds())
	return rep
}

// checkONNXReleases holds head.ONNXReleases to onnx's own VERSION_TABLE:
// every row up to the installed onnx agrees, and no X.Y.0 release of it
// since the first the table lists is missing.
func checkONNXReleases(t *testing.T, table [][]any, installed string) {
	t.Helper()
	theirs := map[string][2]int64{}
	for _, r := range table {
		if len(r) >= 3 {
			v, _ := r[0].(string)
			ir, _ := r[1].(float64)
			op, _ := r[2].(float64)
			theirs[v] = [2]int64{int64(ir), int64(op)}
		}
	}
	ours := map[string]bool{}
	for _, r := range head.ONNXReleases {
		ours[r.Version] = true
		if versionLess(installed, r.Version) {
			continue // newer than the installed onnx knows
		}
		if got, ok := theirs[r.Version]; !ok || got != [2]int64{r.IR, r.Opset} {
			t.Errorf("head.ONNXReleases: onnx %s reads IR version %d, opset %d; onnx.helper.VERSION_TABLE says %v", r.Version, r.IR, r.Opset, got)
		}
	}
	for v := range theirs {
		if strings.HasSuffix(v, ".0") && strings.Count(v, ".") == 2 && !versionLess(v, head.ONNXReleases[0].Version) && !ours[v] {
			t.Errorf("head.ONNXReleases lacks onnx %s (%v)", v, theirs[v])
		}
	}
}

func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		var x, y int
		fmt.Sscan(pa[i], &x)
		fmt.Sscan(pb[i], &y)
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}

// checkMLflowModel compares what MLflow saw of one directory with its ONNX
// file, its MLmodel and the feature table's provenance.
func checkMLflowModel(t *testing.T, r mlflowModelReport, dir, file string, ir, opset int64) {
	t.Helper()
	name := filepath.Base(dir)
	if len(r.LoadWarnings) > 0 {
		t.Errorf("%s: MLflow warned while loading:\n%s", name, strings.Join(r.LoadWarnings, "\n"))
	}
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	g, err := onnxgraph.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if g.IRVersion != ir || g.Opset() != opset || r.ONNX.IRVersion != ir || r.ONNX.Opsets["ai.onnx"] != opset {
		t.Errorf("%s: %s is IR version %d, opset %d (mlflow.onnx: %d, %v), want %d, %d", name, file, g.IRVersion, g.Opset(), r.ONNX.IRVersion, r.ONNX.Opsets, ir, opset)
	}
	// Every graph output, in the graph's order, is in the signature and in
	// what pyfunc returns; the input is the graph's.
	var graphOut, sigOut []string
	for _, o := range r.ONNX.Outputs {
		graphOut = append(graphOut, o.Name)
	}
	for _, o := range r.Signature.Outputs {
		sigOut = append(sigOut, o.Name)
		if o.Dtype != "float32" || len(o.Shape) != 2 || o.Shape[0] != -1 || o.Shape[1] != 3 {
			t.Errorf("%s: signature output %+v", name, o)
		}
	}
	if len(graphOut) == 0 || !reflect.DeepEqual(graphOut, sigOut) {
		t.Errorf("%s: the graph's outputs are %q, the signature lists %q", name, graphOut, sigOut)
	}
	for _, o := range graphOut {
		if _, ok := r.Pyfunc[o]; !ok || len(r.Pyfunc) != len(graphOut) {
			t.Errorf("%s: pyfunc returned %d outputs, not the graph's %q", name, len(r.Pyfunc), graphOut)
		}
	}
	if len(r.Signature.Inputs) != 1 || len(r.ONNX.Inputs) != 1 || r.Signature.Inputs[0].Name != r.ONNX.Inputs[0].Name ||
		len(r.Signature.Inputs[0].Shape) != len(r.ONNX.Inputs[0].Shape) {
		t.Errorf("%s: signature inputs %+v, graph inputs %+v", name, r.Signature.Inputs, r.ONNX.Inputs)
	} else {
		for i, d := range r.ONNX.Inputs[0].Shape {
			if d > 0 && r.Signature.Inputs[0].Shape[i] != d {
				t.Errorf("%s: signature input shape %v, graph %v", name, r.Signature.Inputs[0].Shape, r.ONNX.Inputs[0].Shape)
			}
		}
	}
	// MLmodel's own fields, and the versions derived from the file.
	if r.MLmodel.MLflowVersion != head.MLflowVersion || r.MLmodel.ONNXVersion != head.ONNXVersion || r.MLmodel.PythonVersion != head.PythonVersion {
		t.Errorf("%s: MLmodel %+v", name, r.MLmodel)
	}
	minORT, _ := head.MinRelease(head.ORTReleases, ir, opset)
	minONNX, _ := head.MinRelease(head.ONNXReleases, ir, opset)
	want := map[string]any{"onnx_ir_version": float64(ir), "onnx_opset": float64(opset),
		"min_onnxruntime_version": minORT.Version, "min_onnx_version": minONNX.Version}
	for k, v := range want {
		if r.Metadata[k] != v {
			t.Errorf("%s: MLmodel metadata %s = %v, want %v", name, k, r.Metadata[k], v)
		}
	}
	if ir == 10 && minORT.Version != "1.18.0" {
		t.Errorf("an IR version 10 model needs onnxruntime 1.18 (measured), the table says %s", minORT.Version)
	}
	if in, _ := r.Metadata["input"].(string); !strings.Contains(in, map[bool]string{true: "decoded, resized and normalized", false: "features column"}[file == head.CombinedONNX]) {
		t.Errorf("%s: MLmodel metadata does not say what the input is: %q", name, in)
	}
	// MLflow's own save_model of the same graph, here, asks for nothing we
	// do not pin (it names mlflow, which mlflow-skinny is).
	ours := map[string]bool{}
	for _, q := range head.Requirements() {
		ours[strings.Replace(q, "mlflow-skinny==", "mlflow==", 1)] = true
	}
	for _, q := range r.MLflowOwnRequirements {
		if !ours[q] {
			t.Errorf("%s: mlflow.onnx.save_model here requires %s; requirements.txt pins %q", name, q, head.Requirements())
		}
	}
	if !strings.HasPrefix(r.MLflowOwnPython, head.PythonVersion+".") {
		t.Errorf("%s: mlflow.onnx.save_model here records Python %s, we pin %s", name, r.MLflowOwnPython, head.PythonVersion)
	}
	// preprocessing.json is the preprocessing block of the table's provenance.
	b, err := os.ReadFile(filepath.Join(dir, head.PreprocessingFile))
	if err != nil {
		t.Error(err)
	}
	art, _, err := head.LoadArtefact(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got, fromTable any
	json.Unmarshal(b, &got)
	if meta, err := table.FooterMetadata(filepath.Join(art.Training.Tables["train"], table.PartName(0))); err != nil {
		t.Fatal(err)
	} else {
		json.Unmarshal([]byte(meta["featurizer.preprocessing"]), &fromTable)
	}
	if got == nil || !reflect.DeepEqual(got, fromTable) {
		t.Errorf("%s: preprocessing.json %s, the table's provenance %v", name, b, fromTable)
	}
	if r.Metadata["preprocessing"] != head.PreprocessingFile {
		t.Errorf("%s: MLmodel metadata does not name %s", name, head.PreprocessingFile)
	}
	// The registry: both versions, READY, predicting what the directory does.
	if len(r.Registered) != 2 {
		t.Fatalf("%s: %d registered versions", name, len(r.Registered))
	}
	for i, v := range r.Registered {
		if v.Version != i+1 || v.Status != "READY" || !reflect.DeepEqual(v.Pyfunc, r.Pyfunc) {
			t.Errorf("%s: registered version %d (%s, from %s) predicts differently or is not ready", name, v.Version, v.Status, v.Source)
		}
	}
}

// checkMLflowPredictions compares pyfunc's probabilities with a prediction
// table's (top_k holds every class), row by row.
func checkMLflowPredictions(t *testing.T, name string, probs []float32, rows []table.PredictionRow) {
	t.Helper()
	if len(probs) != len(rows)*3 {
		t.Fatalf("%s: %d probabilities for %d rows", name, len(probs), len(rows))
	}
	worst := 0.0
	for i, r := range rows {
		if len(r.TopK) != 3 {
			t.Fatalf("%s: row %d has %d top_k entries", name, i, len(r.TopK))
		}
		best := 0
		for c := 1; c < 3; c++ {
			if probs[i*3+c] > probs[i*3+best] {
				best = c
			}
		}
		if int32(best) != r.PredictionIndex {
			t.Errorf("%s: %s: pyfunc's class %d, featurizer's %d", name, r.Path, best, r.PredictionIndex)
		}
		for _, k := range r.TopK {
			worst = math.Max(worst, math.Abs(float64(probs[i*3+int(k.Index)]-k.Probability)))
		}
	}
	if worst > 1e-5 {
		t.Errorf("%s: pyfunc's probabilities differ from featurizer predict's by %g", name, worst)
	}
	t.Logf("%s: pyfunc vs featurizer predict: max difference %.2g over %d rows", name, worst, len(rows))
}
