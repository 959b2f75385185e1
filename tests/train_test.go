package tests

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/download"
	"github.com/featurizer/featurizer/featurize"
	"github.com/featurizer/featurizer/head"
	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/modelspec"
	"github.com/featurizer/featurizer/table"
)

// colours writes per-class images that a random convolutional net still
// tells apart: each class has its own hue, with noise and varied sizes.
func colours(t *testing.T, dir string, perClass int, seed int) {
	t.Helper()
	hues := map[string][3]int{"red": {220, 40, 40}, "green": {40, 200, 60}, "blue": {40, 60, 220}}
	for name, c := range hues {
		for i := 0; i < perClass; i++ {
			w, h := 30+(i*7)%25, 30+(i*11)%21
			m := image.NewNRGBA(image.Rect(0, 0, w, h))
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					n := (x*31 + y*17 + i*13 + seed*7) % 60
					m.SetNRGBA(x, y, color.NRGBA{clamp(c[0] + n - 30), clamp(c[1] + (n*3)%60 - 30), clamp(c[2] + (n*7)%60 - 30), 255})
				}
			}
			writePNG(t, filepath.Join(dir, name, fmt.Sprintf("%s-%d.png", name, i)), m)
		}
	}
}

func clamp(v int) uint8 { return uint8(max(0, min(255, v))) }

// trainSetup featurizes train/validation/test colour images with a tiny
// backbone and returns the paths.
func trainSetup(t *testing.T, seed int64) (dir, model, spec string) {
	t.Helper()
	needRuntime(t)
	dir = t.TempDir()
	model, spec = tinyBackbone(t, dir, testmodels.Options{Seed: seed})
	for i, split := range []string{"train", "validation", "test"} {
		colours(t, filepath.Join(dir, "img", split), map[string]int{"train": 24, "validation": 8, "test": 8}[split], i)
		r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", filepath.Join(dir, "img", split),
			"--output", filepath.Join(dir, "features", split), "--quiet")
		if r.code != exitOK {
			t.Fatalf("featurize %s: %d %s", split, r.code, r.stderr)
		}
	}
	return dir, model, spec
}

func TestTrainPredictEndToEnd(t *testing.T) {
	dir, model, spec := trainSetup(t, 3)
	f := func(s string) string { return filepath.Join(dir, "features", s) }
	out := filepath.Join(dir, "model")
	r := run(t, "train", "--features", f("train"), "--validation", f("validation"), "--test", f("test"), "--output", out,
		"--backbone-weights", model, "--seed", "7")
	if r.code != exitOK {
		t.Fatalf("train: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "train done: 3 classes, 72 train rows") || !strings.Contains(r.stdout, "test accuracy 1.0000") {
		t.Errorf("summary: %s", r.stdout)
	}
	for _, name := range []string{head.ModelFile, head.HeadONNX, head.CombinedONNX, head.MLmodelFile, head.MetricsFile, head.ReportFile,
		head.ConfusionPNG, head.RegularizePNG, "conda.yaml", "python_env.yaml", "requirements.txt"} {
		if st, err := os.Stat(filepath.Join(out, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty", name)
		}
	}
	art, folded, err := head.LoadArtefact(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(art.Classes, ",") != "blue,green,red" || art.Combined == nil || art.Test.Accuracy != 1 || len(art.Training.Rows) != 3 {
		t.Errorf("artefact %+v", art)
	}
	mlmodel, _ := os.ReadFile(filepath.Join(out, head.MLmodelFile))
	for _, want := range []string{"loader_module: mlflow.onnx", "data: model.onnx", `"shape":[-1,3,32,32]`, `"shape":[-1,3]`} {
		if !strings.Contains(string(mlmodel), want) {
			t.Errorf("MLmodel lacks %q:\n%s", want, mlmodel)
		}
	}

	// Predict from images and from the stored features: the same answers.
	pi, pf := filepath.Join(dir, "pred-img"), filepath.Join(dir, "pred-feat")
	if r := run(t, "predict", "--model", out, "--backbone", model, "--spec", spec, "--input", filepath.Join(dir, "img", "test"), "--output", pi, "--quiet"); r.code != exitOK {
		t.Fatalf("predict images: %d %s", r.code, r.stderr)
	}
	if r := run(t, "predict", "--model", out, "--features", f("test"), "--output", pf, "--quiet"); r.code != exitOK {
		t.Fatalf("predict features: %d %s", r.code, r.stderr)
	}
	a, _ := table.ReadAll[table.PredictionRow](pi)
	b, _ := table.ReadAll[table.PredictionRow](pf)
	if len(a) != 24 || len(b) != 24 {
		t.Fatalf("%d and %d predictions", len(a), len(b))
	}
	for i := range a {
		if a[i].Path != b[i].Path || a[i].Prediction != b[i].Prediction || math.Abs(float64(a[i].Probability-b[i].Probability)) > 1e-5 {
			t.Errorf("row %d: %+v vs %+v", i, a[i], b[i])
		}
		if a[i].Prediction != *a[i].Label {
			t.Errorf("%s predicted %s", a[i].Path, a[i].Prediction)
		}
	}

	// The combined model equals backbone then head.
	checkCombined(t, filepath.Join(out, head.CombinedONNX), model, spec, folded, filepath.Join(dir, "img", "test"))
}

func checkCombined(t *testing.T, combined, model, spec string, folded *head.Params, images string) {
	t.Helper()
	s, err := modelspec.LoadSpecFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := backbones.NewEngine(&backbones.Backbone{Spec: *s, WeightsPath: model}, backbones.EngineOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	data, _ := os.ReadFile(combined)
	sess, err := backbones.NewSession(data, "image", []string{head.CombinedOutput}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var paths []string
	filepath.Walk(images, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".png") {
			paths = append(paths, p)
		}
		return nil
	})
	sort.Strings(paths)
	n := len(paths)
	in := make([]float32, n*eng.SampleSize())
	pp := featurize.NewPreprocessor(s.Preprocessing())
	var d featurize.Decoder
	defer d.Close()
	for i, p := range paths {
		b, _ := os.ReadFile(p)
		img, err := d.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		pp.Apply(img, in[i*eng.SampleSize():])
	}
	feats := make([]float32, n*eng.FeatureDim())
	if err := eng.Run(in, n, feats, nil); err != nil {
		t.Fatal(err)
	}
	want, err := folded.Probabilities(feats, n)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, n*folded.K)
	if err := sess.Run(in, []int64{int64(n), 3, 32, 32}, [][]float32{got}, [][]int64{{int64(n), int64(folded.K)}}); err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i := range got {
		worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
	}
	if worst > 1e-5 {
		t.Errorf("combined ONNX differs from backbone + head by %g", worst)
	}
	t.Logf("combined model vs backbone then head: max difference %.2g over %d images", worst, n)
}

// Features from another backbone (other weights) are refused, naming both.
func TestSpecMismatchRefused(t *testing.T) {
	dir, _, _ := trainSetup(t, 3)
	out := filepath.Join(dir, "model")
	f := func(s string) string { return filepath.Join(dir, "features", s) }
	if r := run(t, "train", "--features", f("train"), "--validation", f("validation"), "--output", out, "--quiet", "--reg-param", "0.01"); r.code != exitOK {
		t.Fatalf("train: %s", r.stderr)
	}
	other, otherSpec := tinyBackbone(t, t.TempDir(), testmodels.Options{Seed: 99})
	otherFeat := filepath.Join(dir, "other")
	if r := run(t, "featurize", "--backbone", other, "--spec", otherSpec, "--input", filepath.Join(dir, "img", "test"), "--output", otherFeat, "--quiet"); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	sum, _ := download.HashFile(other)
	r := run(t, "predict", "--model", out, "--features", otherFeat, "--output", filepath.Join(dir, "p"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "feature mismatch") || !strings.Contains(r.stderr, sum[:12]) {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	r = run(t, "predict", "--model", out, "--backbone", other, "--spec", otherSpec, "--input", filepath.Join(dir, "img", "test"), "--output", filepath.Join(dir, "p2"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "feature mismatch") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	// And a validation table from another backbone cannot join training.
	r = run(t, "train", "--features", f("train"), "--validation", otherFeat, "--output", filepath.Join(dir, "m2"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "feature mismatch") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}

// The same seed gives the same model, byte for byte, and another seed
// another model (so the comparison can fail).
func TestTrainSeedReproducible(t *testing.T) {
	dir, _, _ := trainSetup(t, 4)
	var heads [][]byte
	for i, seed := range []string{"11", "11", "12"} {
		out := filepath.Join(dir, fmt.Sprint("m", i))
		// One table, split by the seed; the MLP head, initialized by it.
		if r := run(t, "train", "--features", filepath.Join(dir, "features", "train"), "--output", out, "--seed", seed, "--hidden", "6", "--quiet"); r.code != exitOK {
			t.Fatal(r.stderr)
		}
		b, err := os.ReadFile(filepath.Join(out, head.HeadONNX))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			t.Fatalf("seed %s: empty %s", seed, head.HeadONNX)
		}
		heads = append(heads, b)
	}
	if !bytes.Equal(heads[0], heads[1]) {
		t.Error("two runs with the same seed gave different heads")
	}
	if bytes.Equal(heads[0], heads[2]) {
		t.Error("seeds 11 and 12 gave the same head")
	}
}

const jobYAML = `
name: colours
backbone: tiny.onnx
spec: tiny.yaml
output: job-out
data:
  train: img/train
  validation: img/validation
  test: img/test
train:
  reg_param: 0.01
  seed: 3
`

func TestRunJob(t *testing.T) {
	dir, _, _ := trainSetup(t, 5)
	job := filepath.Join(dir, "job.yaml")
	os.WriteFile(job, []byte(jobYAML), 0o644)
	r := run(t, "run", job, "--quiet")
	if r.code != exitOK {
		t.Fatalf("run: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Count(r.stdout, " done ") != 4 || !strings.Contains(r.stdout, "test accuracy") {
		t.Errorf("first run: %s", r.stdout)
	}
	stamp := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "job-out", "model", head.ModelFile))
		return string(b)
	}
	before := stamp()
	r = run(t, "run", job, "--quiet")
	if r.code != exitOK || strings.Count(r.stdout, "up to date") != 4 || stamp() != before {
		t.Errorf("second run was not a no-op: %d\n%s", r.code, r.stdout)
	}
	// A changed head setting retrains without featurizing again.
	r = run(t, "run", job, "--quiet", "--set", "train.reg_param=0.1")
	if r.code != exitOK || strings.Count(r.stdout, "up to date") != 3 || !strings.Contains(r.stdout, "train                  done") {
		t.Errorf("changed setting: %d\n%s", r.code, r.stdout)
	}
	// A new image redoes that split only.
	writePNG(t, filepath.Join(dir, "img", "test", "red", "new.png"), picture(40, 40, 1))
	r = run(t, "run", job, "--quiet", "--set", "train.reg_param=0.1")
	if r.code != exitOK || !strings.Contains(r.stdout, "featurize test         done") || !strings.Contains(r.stdout, "featurize train        up to date") {
		t.Errorf("new image: %d\n%s", r.code, r.stdout)
	}
}

func TestRunJobConfigErrors(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "img", "train"), 0o755)
	cases := []struct{ yaml, want string }{
		{jobYAML + "colour: red\n", "colour: unknown field (expected one of: backbone, data, featurize, models_dir, name, output, spec, train)"},
		{strings.Replace(jobYAML, "reg_param: 0.01", "reg_param: strong", 1), `train.reg_param: expected a number, got "strong"`},
		{strings.Replace(jobYAML, "seed: 3", "seeds: 3", 1), "train.seeds: unknown field"},
		{strings.Replace(jobYAML, "img/validation", "img/nowhere", 1), "data.validation: " + filepath.Join(dir, "img/nowhere") + " does not exist"},
		{strings.Replace(jobYAML, "reg_param: 0.01", "solver: newton", 1), `train.solver: expected auto, lbfgs or adam, got "newton"`},
		{strings.Replace(jobYAML, "output: job-out\n", "", 1), "output: expected the job's output directory"},
	}
	for _, c := range cases {
		job := filepath.Join(dir, "job.yaml")
		os.MkdirAll(filepath.Join(dir, "img", "validation"), 0o755)
		os.MkdirAll(filepath.Join(dir, "img", "test"), 0o755)
		os.WriteFile(job, []byte(c.yaml), 0o644)
		r := run(t, "run", job)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("got exit %d %q, want one line with %q", r.code, r.stderr, c.want)
		}
	}
	if r := run(t, "run", filepath.Join(dir, "job.yaml"), "--set", "train"); r.code != exitUsage || !strings.Contains(r.stderr, "expected key=value") {
		t.Errorf("--set without value: %d %s", r.code, r.stderr)
	}
}

// A dataset published as an archive: downloaded once (from a local server
// here), checked by SHA-256, extracted, featurized and trained on.
func TestRunJobArchive(t *testing.T) {
	dir, _, _ := trainSetup(t, 6)
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	filepath.Walk(filepath.Join(dir, "img", "train"), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(dir, "img", "train"), p)
		b, _ := os.ReadFile(p)
		tw.WriteHeader(&tar.Header{Name: "colours/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
		return nil
	})
	tw.Close()
	gz.Close()
	sum := sha256.Sum256(tgz.Bytes())
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++; w.Write(tgz.Bytes()) }))
	defer srv.Close()
	job := filepath.Join(dir, "archive.yaml")
	os.WriteFile(job, []byte(fmt.Sprintf(`
backbone: tiny.onnx
spec: tiny.yaml
output: archive-out
data:
  archive: {url: %s/colours.tgz, sha256: %s, root: colours}
  train: .
  validation_fraction: 0.2
  test_fraction: 0.2
train: {reg_param: 0.01}
`, srv.URL, hex.EncodeToString(sum[:]))), 0o644)
	cache := t.TempDir()
	_, lib, _ := backbones.RuntimeInfo()
	for i := 0; i < 2; i++ {
		cmd := runEnv(t, map[string]string{"FEATURIZER_CACHE": cache, "FEATURIZER_ORT_LIB": lib}, "run", job, "--quiet")
		if cmd.code != exitOK {
			t.Fatalf("run %d: %s%s", i, cmd.stdout, cmd.stderr)
		}
	}
	if hits != 1 {
		t.Errorf("%d downloads, want 1", hits)
	}
	art, _, err := head.LoadArtefact(filepath.Join(dir, "archive-out", "model"))
	if err != nil || art.Training.Rows["train"] == 0 || art.Training.Rows["test"] == 0 {
		t.Fatalf("%v %+v", err, art)
	}
}

// With ../shared: the clothing job trains on train, selects on validation
// and reports test accuracy.
func TestClothingJob(t *testing.T) {
	sh := shared(t)
	out := t.TempDir()
	r := run(t, "run", filepath.Join("..", "configs", "clothing-mobilenetv2.yaml"), "--quiet", "--offline",
		"--set", "output="+out, "--set", "models_dir="+filepath.Join(sh, "models"))
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	art, _, err := head.LoadArtefact(filepath.Join(out, "model"))
	if err != nil {
		t.Fatal(err)
	}
	if art.Training.Rows["train"] != 3068 || art.Validation.N != 341 || art.Test.N != 372 || !art.Training.RegParamChosen {
		t.Errorf("artefact %+v", art.Training)
	}
	if art.Test.Accuracy < 0.8 {
		t.Errorf("test accuracy %.4f", art.Test.Accuracy)
	}
	t.Logf("clothing: %s", strings.TrimSpace(r.stdout))
}

// Adam streams the table instead of loading it; it learns the colours too.
func TestTrainAdamStreaming(t *testing.T) {
	dir, _, _ := trainSetup(t, 8)
	f := func(s string) string { return filepath.Join(dir, "features", s) }
	out := filepath.Join(dir, "adam")
	r := run(t, "train", "--features", f("train"), "--validation", f("validation"), "--test", f("test"), "--output", out,
		"--solver", "adam", "--reg-param", "0.001", "--max-iter", "60", "--batch-size", "16", "--learning-rate", "0.05")
	if r.code != exitOK {
		t.Fatalf("%d %s", r.code, r.stderr)
	}
	art, _, err := head.LoadArtefact(out)
	if err != nil {
		t.Fatal(err)
	}
	if art.Training.Solver != "adam" || art.Test.Accuracy < 0.95 {
		t.Errorf("solver %s, test accuracy %.3f\n%s", art.Training.Solver, art.Test.Accuracy, r.stderr)
	}
}
