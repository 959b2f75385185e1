// Package tests runs the built featurizer binary end to end, as users do.
package tests

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/download"
	"github.com/featurizer/featurizer/featurize"
	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/jobs"
	"github.com/featurizer/featurizer/modelspec"
	"github.com/featurizer/featurizer/table"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "featurizer-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "featurizer")
	build := exec.Command("go", "build", "-o", binary, "../cmd/featurizer")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build featurizer:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	return runCmd(t, exec.Command(binary, args...))
}

// runEnv is run with env added to the environment of the command (through
// cmd.Env: the test process's own environment is left alone, so tests
// running in parallel never see each other's settings). An empty value
// sets the variable empty.
func runEnv(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v) // the last value of a name wins
	}
	return runCmd(t, cmd)
}

// runCmd runs a prepared command of the CLI and returns its outputs and
// exit code.
func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := exitOK
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func needRuntime(t testing.TB) {
	t.Helper()
	if err := backbones.InitRuntime(""); err != nil {
		if os.Getenv("FEATURIZER_REQUIRE_ORT") != "" {
			t.Fatal(err)
		}
		t.Skipf("ONNX Runtime not available (run make setup): %v", err)
	}
}

const tinySpecYAML = `
description: a tiny test network
input: {name: image, layout: %s, size: [32, 32], color: RGB}
resize: {policy: crop, size: 36}
normalize: {scale: 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}
features: {pooling: auto, dim: 16}
classifier: {activation: logits, classes: classes.txt}
`

// tinyBackbone writes a small network, its spec and its class names.
func tinyBackbone(t *testing.T, dir string, o testmodels.Options) (model, spec string) {
	t.Helper()
	model = filepath.Join(dir, "tiny.onnx")
	spec = filepath.Join(dir, "tiny.yaml")
	if err := testmodels.Write(model, o); err != nil {
		t.Fatal(err)
	}
	layout := o.Layout
	if layout == "" {
		layout = "NCHW"
	}
	writeFile(t, spec, []byte(fmt.Sprintf(tinySpecYAML, layout)))
	writeFile(t, filepath.Join(dir, "classes.txt"), []byte("apple\nbanana\ncherry\ndate\nelderberry\n"))
	return model, spec
}

func picture(w, h int, seed int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetNRGBA(x, y, color.NRGBA{uint8((x*7 + seed*31) % 256), uint8((y*5 + seed*17) % 256), uint8((x*y + seed) % 256), 255})
		}
	}
	return m
}

func writePNG(t *testing.T, path string, m image.Image) {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b.Bytes())
}

// dataset writes cats/ and dogs/ with 4 images each, an unlabelled image at
// the root and a file that is not an image.
func dataset(t *testing.T, dir string) {
	t.Helper()
	for i := 0; i < 4; i++ {
		writePNG(t, filepath.Join(dir, "cats", fmt.Sprintf("c%d.png", i)), picture(40+i*13, 50+i*7, i))
		writePNG(t, filepath.Join(dir, "dogs", fmt.Sprintf("d%d.png", i)), picture(70-i*5, 45+i*11, 10+i))
	}
	writePNG(t, filepath.Join(dir, "loose.png"), picture(33, 90, 99))
	writeFile(t, filepath.Join(dir, "README.txt"), []byte("not an image"))
}

// expectedFeatures computes a row's features without the CLI: the library's
// decoder and preprocessor and the network run in plain Go.
func expectedFeatures(t *testing.T, path string, o testmodels.Options, spec string) []float32 {
	t.Helper()
	s, err := modelspec.LoadSpecFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d featurize.Decoder
	defer d.Close()
	img, err := d.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]float32, 3*32*32)
	if err := featurize.NewPreprocessor(s.Preprocessing()).Apply(img, in); err != nil {
		t.Fatal(err)
	}
	f, _ := testmodels.Forward(o, in)
	return f
}

func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.Contains(filepath.Base(p), ".tmp-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func TestFeaturizeTable(t *testing.T) {
	o := testmodels.Options{Seed: 11}
	fx := newFixture(t, o)
	dir, model, spec, in := fx.dir, fx.model, fx.spec, fx.in
	out := filepath.Join(dir, "features")
	r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out,
		"--rows-per-part", "4", "--batch-size", "3", "--progress", "log")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "9 images -> 9 rows, 0 rejected, 1 non-image files skipped") {
		t.Errorf("summary line: %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "feature tap found automatically: gap") {
		t.Errorf("the automatic tap is not reported: %s", r.stderr)
	}
	// 9 inputs, 4 per part: three parts, in order.
	for i := 0; i < 3; i++ {
		if _, err := os.Stat(filepath.Join(out, table.PartName(i))); err != nil {
			t.Error(err)
		}
	}
	rows, err := table.ReadAll[table.FeatureRow](out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 9 {
		t.Fatalf("%d rows", len(rows))
	}
	var paths []string
	golden := map[string][]float32{}
	for _, row := range rows {
		rel, _ := filepath.Rel(in, row.Path)
		paths = append(paths, rel)
		want := expectedFeatures(t, row.Path, o, spec)
		for i := range want {
			if math.Abs(float64(row.Features[i]-want[i])) > 1e-5*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("%s feature %d = %v, reference %v", rel, i, row.Features[i], want[i])
			}
		}
		golden[filepath.ToSlash(rel)] = row.Features
		switch {
		case strings.HasPrefix(rel, "cats/"):
			if *row.Label != "cats" || *row.LabelIndex != 0 {
				t.Errorf("%s: label %v %v", rel, *row.Label, *row.LabelIndex)
			}
		case strings.HasPrefix(rel, "dogs/"):
			if *row.Label != "dogs" || *row.LabelIndex != 1 {
				t.Errorf("%s: label %v %v", rel, *row.Label, *row.LabelIndex)
			}
		default:
			if row.Label != nil || row.LabelIndex != nil {
				t.Errorf("%s: unlabelled image has a label", rel)
			}
		}
	}
	if !sort.StringsAreSorted(paths) {
		t.Errorf("rows are not in input order: %v", paths)
	}
	checkGolden(t, "tiny-features.json", golden)

	// Provenance: footer and manifest.
	meta, err := table.FooterMetadata(filepath.Join(out, table.PartName(0)))
	if err != nil {
		t.Fatal(err)
	}
	var prov table.Provenance
	if err := json.Unmarshal([]byte(meta[table.MetadataKey]), &prov); err != nil {
		t.Fatal(err)
	}
	sha, _ := download.HashFile(model)
	if prov.WeightsSHA256 != sha || prov.FeatureDim != 16 || prov.Preprocessing.Resize.Size != 36 || prov.FeatureTensor != "gap" ||
		strings.Join(prov.Labels, ",") != "cats,dogs" || prov.ToolVersion == "" {
		t.Errorf("footer provenance %+v", prov)
	}
	if meta["featurizer.weights_sha256"] != sha || meta["featurizer.feature_dim"] != "16" {
		t.Errorf("footer keys %v", meta)
	}
	man, err := table.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if man.Rows != 9 || len(man.Parts) != 3 || man.Provenance.WeightsSHA256 != sha || man.Kind != "features" {
		t.Errorf("manifest %+v", man)
	}
	for _, f := range []string{table.SuccessFile, table.SummaryFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	noTempFiles(t, out)

	// The same job again refuses to clobber the table; --overwrite replaces it.
	if r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out); r.code != exitUsage || !strings.Contains(r.stderr, "--overwrite") {
		t.Errorf("rerun into a full directory: exit %d %s", r.code, r.stderr)
	}
	if r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out, "--overwrite", "--quiet"); r.code != exitOK {
		t.Errorf("--overwrite: exit %d %s", r.code, r.stderr)
	}
}

func checkGolden(t *testing.T, name string, got map[string][]float32) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		b, _ := json.MarshalIndent(got, "", " ")
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file missing (run go test ./tests -update): %v", err)
	}
	var want map[string][]float32
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("golden has %d entries, got %d", len(want), len(got))
	}
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Fatalf("%s: %d values, golden %d", k, len(g), len(w))
		}
		for i := range w {
			if math.Abs(float64(g[i]-w[i])) > 1e-5*(1+math.Abs(float64(w[i]))) {
				t.Fatalf("%s[%d] = %v, golden %v (run go test ./tests -update if the change is intended)", k, i, g[i], w[i])
			}
		}
	}
}

func TestCorruptInputs(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{})
	in := filepath.Join(dir, "corrupt")
	if err := writeCorpus(in); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out, "--progress", "none")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rows, err := table.ReadAll[table.FeatureRow](out)
	if err != nil {
		t.Fatal(err)
	}
	rejects, err := table.ReadAll[table.RejectRow](filepath.Join(out, table.RejectsDir))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, row := range rows {
		got[filepath.Base(row.Path)] = ""
		if len(row.Features) != 16 {
			t.Errorf("%s: %d features", row.Path, len(row.Features))
		}
	}
	for _, rj := range rejects {
		if _, dup := got[filepath.Base(rj.Path)]; dup {
			t.Errorf("%s is both a row and a reject", rj.Path)
		}
		got[filepath.Base(rj.Path)] = rj.Stage
		if rj.Error == "" {
			t.Errorf("%s: reject without a reason", rj.Path)
		}
	}
	for _, f := range corpusFiles() {
		stage, ok := got[f.Name]
		if !ok {
			t.Errorf("%s was dropped silently", f.Name)
		} else if stage != f.Stage {
			t.Errorf("%s: stage %q, want %q", f.Name, stage, f.Stage)
		}
	}
	var sum jobs.Summary
	b, _ := os.ReadFile(filepath.Join(out, table.SummaryFile))
	json.Unmarshal(b, &sum)
	if sum.Rejected != int64(len(rejects)) || sum.Rows != int64(len(rows)) || sum.RejectedByStage["decode"] != int64(len(rejects)) {
		t.Errorf("summary %+v", sum)
	}
	if !strings.Contains(r.stdout, fmt.Sprintf("%d rejected (decode %d)", len(rejects), len(rejects))) {
		t.Errorf("summary line %q", r.stdout)
	}
}

func TestManifestInputs(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	o := testmodels.Options{Seed: 5}
	model, spec := tinyBackbone(t, dir, o)
	dataset(t, filepath.Join(dir, "images"))
	csv := "path,label,extra\nimages/dogs/d1.png,dog,x\nimages/cats/c0.png,cat,y\nimages/loose.png,,z\nimages/missing.png,cat,w\n"
	os.WriteFile(filepath.Join(dir, "list.csv"), []byte(csv), 0o644)
	out := filepath.Join(dir, "out")
	r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", filepath.Join(dir, "list.csv"), "--output", out, "--quiet")
	if r.code != exitOK {
		t.Fatalf("exit %d %s", r.code, r.stderr)
	}
	rows, _ := table.ReadAll[table.FeatureRow](out)
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	// Paths stay as written; labels are indexed in sorted order.
	if rows[0].Path != "images/dogs/d1.png" || *rows[0].Label != "dog" || *rows[0].LabelIndex != 1 ||
		*rows[1].LabelIndex != 0 || rows[2].Label != nil {
		t.Errorf("rows %+v %+v %+v", rows[0], rows[1], rows[2])
	}
	want := expectedFeatures(t, filepath.Join(dir, "images/dogs/d1.png"), o, spec)
	for i := range want {
		if math.Abs(float64(rows[0].Features[i]-want[i])) > 1e-5 {
			t.Fatalf("feature %d", i)
		}
	}
	rejects, _ := table.ReadAll[table.RejectRow](filepath.Join(out, table.RejectsDir))
	if len(rejects) != 1 || rejects[0].Stage != "read" || !strings.Contains(rejects[0].Error, "no such file") {
		t.Errorf("rejects %+v", rejects)
	}

	// The same list as a Parquet manifest.
	type entry struct {
		Path  string `parquet:"path"`
		Label string `parquet:"label"`
	}
	pq := filepath.Join(dir, "list.parquet")
	p, err := table.NewLocalPart[entry](pq, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]entry{{"images/dogs/d1.png", "dog"}, {"images/cats/c0.png", "cat"}})
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(dir, "out2")
	if r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", pq, "--output", out2, "--quiet"); r.code != exitOK {
		t.Fatalf("parquet manifest: exit %d %s", r.code, r.stderr)
	}
	rows2, _ := table.ReadAll[table.FeatureRow](out2)
	if len(rows2) != 2 || rows2[0].Path != "images/dogs/d1.png" || *rows2[0].LabelIndex != 1 {
		t.Errorf("rows %+v", rows2)
	}
	for i := range rows2[0].Features {
		if rows2[0].Features[i] != rows[0].Features[i] {
			t.Fatal("CSV and Parquet manifests give different features")
		}
	}
}

func TestPredictTopK(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	// The classifier ignores the image: logits are the bias, with a
	// three-way tie for first place.
	o := testmodels.Options{Bias: []float32{0.5, 2, 2, 1, 2}}
	model, spec := tinyBackbone(t, dir, o)
	in := filepath.Join(dir, "images")
	dataset(t, in)
	out := filepath.Join(dir, "pred")
	r := run(t, "predict", "--backbone", model, "--spec", spec, "--input", in, "--output", out, "--top-k", "4", "--quiet")
	if r.code != exitOK {
		t.Fatalf("exit %d %s", r.code, r.stderr)
	}
	rows, err := table.ReadAll[table.PredictionRow](out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 9 {
		t.Fatalf("%d rows", len(rows))
	}
	z := math.Exp(0.5) + 3*math.Exp(2) + math.Exp(1)
	for _, row := range rows {
		if row.Prediction != "banana" || row.PredictionIndex != 1 || math.Abs(float64(row.Probability)-math.Exp(2)/z) > 1e-6 {
			t.Fatalf("%+v", row)
		}
		var order []int32
		for _, k := range row.TopK {
			order = append(order, k.Index)
		}
		if fmt.Sprint(order) != "[1 2 4 3]" || row.TopK[3].Label != "date" {
			t.Fatalf("top-k %v", row.TopK)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{})
	badSpec := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badSpec, []byte(strings.Replace(fmt.Sprintf(tinySpecYAML, "NCHW"), "policy: crop", "policy: stretch", 1)), 0o644)
	wrongSHA := filepath.Join(dir, "pinned.yaml")
	os.WriteFile(wrongSHA, []byte(fmt.Sprintf(tinySpecYAML, "NCHW")+"sha256: "+strings.Repeat("ab", 32)+"\n"), 0o644)
	in := filepath.Join(dir, "images")
	dataset(t, in)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{}, exitUsage, "Usage:"},
		{[]string{"transmogrify"}, exitUsage, `unknown command "transmogrify"`},
		{[]string{"featurize", "--bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{[]string{"featurize", "--backbone", "mobilenetv2", "--output", "x"}, exitUsage, "--input is required"},
		{[]string{"featurize", "--backbone", "mobilenetv2", "--input", in, "--output", "x", "--batch-size", "0"}, exitUsage, "--batch-size: expected a positive integer, got 0"},
		{[]string{"featurize", "--backbone", "mobilenetv2", "--input", in, "--output", "x", "--batch-size", "many"}, exitUsage, `invalid value "many" for flag -batch-size`},
		{[]string{"featurize", "--backbone", "vgg99", "--input", in, "--output", filepath.Join(dir, "o1")}, exitUsage, `unknown backbone "vgg99"`},
		{[]string{"featurize", "--backbone", model, "--input", in, "--output", filepath.Join(dir, "o2")}, exitUsage, "describe its input, preprocessing and feature tap with --spec"},
		{[]string{"featurize", "--backbone", model, "--spec", badSpec, "--input", in, "--output", filepath.Join(dir, "o3")}, exitUsage, `resize.policy: expected crop or squash, got "stretch"`},
		{[]string{"featurize", "--backbone", model, "--spec", spec, "--input", filepath.Join(dir, "nope"), "--output", filepath.Join(dir, "o4")}, exitUsage, "no such file"},
		{[]string{"featurize", "--backbone", model, "--spec", wrongSHA, "--input", in, "--output", filepath.Join(dir, "o5")}, exitFailure, "expected " + strings.Repeat("ab", 32)},
		{[]string{"predict", "--backbone", model, "--spec", spec, "--input", in, "--output", filepath.Join(dir, "o6"), "--top-k", "-1"}, exitUsage, "--top-k: expected a positive integer"},
	}
	for _, c := range cases {
		r := run(t, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("featurizer %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), r.code, r.stderr, c.code, c.want)
			continue
		}
		if c.code == exitUsage && len(c.args) > 1 && strings.Count(strings.TrimSpace(r.stderr), "\n") > 1 {
			t.Errorf("featurizer %s: more than one line of error:\n%s", strings.Join(c.args, " "), r.stderr)
		}
	}
}

func TestVersionAndCatalog(t *testing.T) {
	needRuntime(t)
	r := run(t, "version")
	if r.code != exitOK || !strings.Contains(r.stdout, "onnxruntime 1.30.0") || !strings.Contains(r.stdout, "go go1.") || !strings.HasPrefix(r.stdout, "featurizer ") {
		t.Errorf("version: %d %q", r.code, r.stdout)
	}
	r = run(t, "backbones", "--models-dir", t.TempDir())
	for _, name := range []string{"mobilenetv2", "inceptionv3-keras", "resnet50-keras", "inceptionv3-torchvision", "resnet50-torchvision", "resnet101", "resnet152"} {
		if !strings.Contains(r.stdout, name) {
			t.Errorf("backbones does not list %s", name)
		}
	}
	if !strings.Contains(r.stdout, "downloads on first use") {
		t.Errorf("backbones does not say mobilenetv2 downloads: %s", r.stdout)
	}
	if r := run(t, "featurize", "--help"); r.code != exitOK || !strings.Contains(r.stderr, "--fast-decode") {
		t.Errorf("featurize --help: %d %s", r.code, r.stderr)
	}
}

// Memory does not grow with the number of images: peak RSS for 1,500
// images stays within a small margin of the peak for 150.
func TestMemoryFlat(t *testing.T) {
	needRuntime(t)
	if runtime.GOOS != "linux" {
		t.Skip("peak RSS from rusage is read on Linux")
	}
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{})
	small, large := filepath.Join(dir, "small"), filepath.Join(dir, "large")
	for i := 0; i < 1500; i++ {
		var b bytes.Buffer
		png.Encode(&b, picture(64, 64, i))
		os.MkdirAll(large, 0o755)
		os.WriteFile(filepath.Join(large, fmt.Sprintf("%05d.png", i)), b.Bytes(), 0o644)
		if i < 150 {
			os.MkdirAll(small, 0o755)
			os.WriteFile(filepath.Join(small, fmt.Sprintf("%05d.png", i)), b.Bytes(), 0o644)
		}
	}
	peak := func(in string) float64 {
		out := filepath.Join(dir, "out-"+filepath.Base(in))
		cmd := exec.Command(binary, "featurize", "--backbone", model, "--spec", spec, "--input", in,
			"--output", out, "--quiet", "--rows-per-part", "200")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, b)
		}
		var sum jobs.Summary
		b, _ := os.ReadFile(filepath.Join(out, table.SummaryFile))
		json.Unmarshal(b, &sum)
		if sum.PeakRSSMiB <= 0 {
			t.Fatalf("no peak RSS in the summary")
		}
		return sum.PeakRSSMiB
	}
	s, l := peak(small), peak(large)
	t.Logf("peak RSS: %.1f MiB for 150 images, %.1f MiB for 1500", s, l)
	if l > s+40 {
		t.Errorf("peak RSS grew from %.1f MiB to %.1f MiB with 10x the images", s, l)
	}
}
