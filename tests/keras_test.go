package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/featurizer/featurizer/internal/clients"
	"github.com/featurizer/featurizer/table"
)

// kerasFlavours are the catalog's Keras backbones with their input size.
var kerasFlavours = []struct {
	name string
	size int
}{{"inceptionv3-keras", 299}, {"resnet50-keras", 224}}

// kerasTolerance bounds, per feature vector, both the largest absolute
// difference and that difference relative to the vector's largest value.
const kerasTolerance = 1e-4

// The Keras flavours, verified against Keras itself: InceptionV3 and
// ResNet50 from keras.applications with seeded random weights, exported by
// tools/export_backbone.py (tf2onnx), featurized by the CLI on 50 real
// photos, equal Keras' own Model(inputs, GlobalAveragePooling2D output) on
// preprocess_input of the same resized pixels; and the automatic tap search
// picks that pooled layer in both exported graphs.
func TestKerasFlavoursMatchKeras(t *testing.T) {
	sh := shared(t)
	py := clients.Python(t, "tensorflow", "tf2onnx")
	pillow := debianPillow(t)
	root, err := clients.Root()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	photos := kerasPhotos(t, filepath.Join(sh, "data"))
	manifest := filepath.Join(dir, "photos.csv")
	if err := os.WriteFile(manifest, []byte("path\n"+strings.Join(photos, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(clients.Env(py), "TF_CPP_MIN_LOG_LEVEL=2")

	// Both exports at once: tf2onnx's conversion is mostly one thread.
	models := filepath.Join(dir, "models")
	start := time.Now()
	var wg sync.WaitGroup
	exportErr := make([]error, len(kerasFlavours))
	for i, k := range kerasFlavours {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(py, filepath.Join(root, "tools", "export_backbone.py"), k.name, "--out", models,
				"--random", "--seed", fmt.Sprint(7+i), "--keras-weights", filepath.Join(dir, k.name+".weights.h5"))
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				exportErr[i] = fmt.Errorf("export %s: %v\n%s", k.name, err, lastChars(string(out), 4000))
			}
		}()
	}
	wg.Wait()
	for _, err := range exportErr {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("exported both models in %s", time.Since(start).Round(time.Second))

	// The pixels featurizer's squash resize gives (Pillow's, as the
	// featurize package's tests pin), written by the reference script.
	type pixelJob struct {
		Path   string `json:"path"`
		Policy string `json:"policy"`
		Width  int    `json:"width"`
		Height int    `json:"height"`
		Out    string `json:"out"`
	}
	type kerasJob struct {
		Name    string   `json:"name"`
		Weights string   `json:"weights"`
		Size    int      `json:"size"`
		Pixels  []string `json:"pixels"`
		Out     string   `json:"out"`
	}
	var pixelJobs []pixelJob
	var kerasJobs []kerasJob
	for _, k := range kerasFlavours {
		kj := kerasJob{Name: k.name, Weights: filepath.Join(dir, k.name+".weights.h5"), Size: k.size, Out: filepath.Join(dir, k.name+".keras.f32")}
		for i, p := range photos {
			out := filepath.Join(dir, fmt.Sprintf("%s-%02d.rgb", k.name, i))
			pixelJobs = append(pixelJobs, pixelJob{Path: p, Policy: "squash", Width: k.size, Height: k.size, Out: out})
			kj.Pixels = append(kj.Pixels, out)
		}
		kerasJobs = append(kerasJobs, kj)
	}
	runJSONScript(t, pillow, filepath.Join(root, "featurize", "testdata", "reference.py"), nil, pixelJobs)
	start = time.Now()
	out := runJSONScript(t, py, filepath.Join(root, "tests", "clients", "keras_reference.py"), env, kerasJobs)
	t.Logf("Keras' features in %s", time.Since(start).Round(time.Second))
	pools := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Name       string `json:"name"`
			PoolLayer  string `json:"pool_layer"`
			TensorFlow string `json:"tensorflow"`
			Keras      string `json:"keras"`
		}
		if json.Unmarshal([]byte(line), &r) == nil && r.Name != "" {
			pools[r.Name] = r.PoolLayer
			t.Logf("%s: %s, TensorFlow %s, pooling layer %q", r.Name, r.Keras, r.TensorFlow, r.PoolLayer)
		}
	}

	tapLine := regexp.MustCompile(`feature tap found automatically: (\S+) = (.*) \((\d+) values\)`)
	for _, k := range kerasFlavours {
		t.Run(k.name, func(t *testing.T) {
			tableDir := filepath.Join(dir, k.name)
			r := run(t, "featurize", "--backbone", k.name, "--models-dir", models, "--offline",
				"--input", manifest, "--output", tableDir, "--progress", "none")
			if r.code != exitOK {
				t.Fatalf("featurize: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			// The tap: the output of the GlobalAveragePool that tf2onnx made
			// of Keras' GlobalAveragePooling2D layer.
			m := tapLine.FindStringSubmatch(r.stderr)
			if m == nil {
				t.Fatalf("no automatic tap in the log:\n%s", r.stderr)
			}
			pool := pools[k.name]
			if pool == "" {
				t.Fatalf("Keras named no pooling layer for %s:\n%s", k.name, out)
			}
			layer := regexp.MustCompile(`(^|/)` + regexp.QuoteMeta(pool) + `(_\d+)?/`)
			if !layer.MatchString(m[1]) || !strings.HasPrefix(m[2], "output of GlobalAveragePool ") || m[3] != "2048" {
				t.Fatalf("the tap is %q (%s, %s values), not the output of Keras' %q layer", m[1], m[2], m[3], pool)
			}
			t.Logf("tap %s: %s", m[1], m[2])

			got := kerasTableFeatures(t, tableDir, photos)
			want := readFloat32s(t, filepath.Join(dir, k.name+".keras.f32"))
			const dim = 2048
			if len(want) != len(photos)*dim {
				t.Fatalf("Keras gave %d values, want %d x %d", len(want), len(photos), dim)
			}
			worstAbs, worstRel, spread := 0.0, 0.0, 0.0
			for i, p := range photos {
				g, w := got[p], want[i*dim:(i+1)*dim]
				if len(g) != dim {
					t.Fatalf("%s: %d features, want %d", p, len(g), dim)
				}
				abs, scale := 0.0, 0.0
				for j := range w {
					abs = math.Max(abs, math.Abs(float64(g[j])-float64(w[j])))
					scale = math.Max(scale, math.Abs(float64(w[j])))
					spread = math.Max(spread, math.Abs(float64(w[j])-float64(want[j])))
				}
				if scale == 0 {
					t.Fatalf("%s: Keras' features are all zero", p)
				}
				rel := abs / scale
				if abs > kerasTolerance || rel > kerasTolerance {
					t.Errorf("%s: max |featurizer - Keras| = %.3g (%.3g of the largest feature %.4g), over %g", p, abs, rel, scale, kerasTolerance)
				}
				worstAbs, worstRel = math.Max(worstAbs, abs), math.Max(worstRel, rel)
			}
			// Different photos give different features: the agreement is
			// not that of two constant vectors.
			if spread < 1000*worstAbs || spread == 0 {
				t.Errorf("features vary across photos by at most %.3g, against a difference of %.3g", spread, worstAbs)
			}
			t.Logf("%d photos: max |featurizer - Keras| %.3g, relative %.3g; features vary across photos by up to %.3g",
				len(photos), worstAbs, worstRel, spread)
		})
	}
}

// kerasPhotos picks 50 real photos of ../shared/data: the coral test
// images (JPEG and BMP), every 40th ImageNet sample and every 27th test
// photo of the clothing set, in a fixed order.
func kerasPhotos(t *testing.T, data string) []string {
	t.Helper()
	var photos []string
	glob := func(pattern string) []string {
		m, err := filepath.Glob(filepath.Join(data, pattern))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(m)
		return m
	}
	photos = append(photos, glob("coral-test-images/*.bmp")...)
	photos = append(photos, glob("coral-test-images/*.jpg")...)
	for i, p := range glob("imagenet-samples/*.JPEG") {
		if i%40 == 0 {
			photos = append(photos, p)
		}
	}
	for i, p := range glob("clothing-small/test/*/*.jpg") {
		if i%27 == 0 && len(photos) < 50 {
			photos = append(photos, p)
		}
	}
	if len(photos) != 50 {
		t.Fatalf("found %d photos in %s, want 50", len(photos), data)
	}
	for i, p := range photos {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		photos[i] = abs
	}
	return photos
}

// debianPillow is the Python that featurize/testdata/reference.py runs
// under (Debian's Pillow, which featurizer's decoders and resize match).
func debianPillow(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import PIL, numpy").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("reference pixels unavailable (%s with PIL and numpy: %v %s); apt-get install python3-pil python3-numpy", py, err, strings.TrimSpace(string(out)))
		if os.Getenv("FEATURIZER_REQUIRE_REFERENCE") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

// runJSONScript runs script with jobs as JSON on stdin and returns its stdout.
func runJSONScript(t *testing.T, py, script string, env []string, jobs any) string {
	t.Helper()
	in, err := json.Marshal(jobs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, script)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s%s", filepath.Base(script), err, out.String(), lastChars(errb.String(), 4000))
	}
	return out.String()
}

func kerasTableFeatures(t *testing.T, dir string, photos []string) map[string][]float32 {
	t.Helper()
	rows, err := table.ReadAll[table.FeatureRow](dir)
	if err != nil {
		t.Fatal(err)
	}
	rejects, err := table.ReadAll[table.RejectRow](filepath.Join(dir, table.RejectsDir))
	if err == nil && len(rejects) > 0 {
		t.Fatalf("%d photos rejected, e.g. %+v", len(rejects), rejects[0])
	}
	got := map[string][]float32{}
	for _, r := range rows {
		got[r.Path] = r.Features
	}
	if len(rows) != len(photos) || len(got) != len(photos) {
		t.Fatalf("%d rows (%d paths) for %d photos", len(rows), len(got), len(photos))
	}
	return got
}

func readFloat32s(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24)
	}
	return v
}

func lastChars(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
