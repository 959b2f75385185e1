package tests

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/featurizer/featurizer/table"
)

// shared returns ../shared (real models and images) or skips; CI, where it
// is present, sets FEATURIZER_REQUIRE_SHARED=1 so these tests cannot skip.
func shared(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared")
	if _, err := os.Stat(filepath.Join(dir, "models", "mobilenetv2-12-int8.onnx")); err != nil {
		if os.Getenv("FEATURIZER_REQUIRE_SHARED") != "" {
			t.Fatalf("../shared is required here but missing: %v", err)
		}
		t.Skipf("../shared is absent (%v): skipping the tests on real models and images", err)
	}
	needRuntime(t)
	return dir
}

func predictShared(t *testing.T, input string) []table.PredictionRow {
	t.Helper()
	sh := shared(t)
	out := filepath.Join(t.TempDir(), "pred")
	r := run(t, "predict", "--backbone", "mobilenetv2", "--models-dir", filepath.Join(sh, "models"), "--offline",
		"--input", filepath.Join(sh, "data", input), "--output", out, "--top-k", "5", "--progress", "none")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rows, err := table.ReadAll[table.PredictionRow](out)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// The classes stated in shared/README.md for the coral test photos.
func TestMobileNetV2Coral(t *testing.T) {
	rows := predictShared(t, "coral-test-images")
	byName := map[string]table.PredictionRow{}
	golden := map[string][]float32{}
	for _, r := range rows {
		byName[filepath.Base(r.Path)] = r
		var v []float32
		for _, k := range r.TopK {
			v = append(v, float32(k.Index), k.Probability)
		}
		golden[filepath.Base(r.Path)] = v
	}
	cat := byName["cat.bmp"]
	if cat.PredictionIndex != 285 || cat.Prediction != "Egyptian cat" {
		t.Errorf("cat.bmp: top-1 %d %q, want 285 Egyptian cat", cat.PredictionIndex, cat.Prediction)
	}
	gh := byName["grace_hopper.bmp"]
	found := false
	for _, k := range gh.TopK {
		found = found || (k.Index == 652 && k.Label == "military uniform")
	}
	if !found {
		t.Errorf("grace_hopper.bmp: military uniform (652) not in the top 5: %+v", gh.TopK)
	}
	checkGolden(t, "mobilenetv2-coral-top5.json", golden)
}

// Top-1 on the 1,000 ImageNet samples; the Model Zoo reports 68.3% on the
// full validation set.
func TestMobileNetV2ImageNetAccuracy(t *testing.T) {
	rows := predictShared(t, "imagenet-samples")
	f, err := os.Open(filepath.Join(shared(t), "data", "imagenet-samples", "labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	truth := map[string]int32{}
	for _, r := range recs[1:] {
		i, _ := strconv.Atoi(r[2])
		truth[r[0]] = int32(i)
	}
	correct, top5 := 0, 0
	for _, r := range rows {
		want, ok := truth[filepath.Base(r.Path)]
		if !ok {
			t.Fatalf("%s has no label", r.Path)
		}
		if r.PredictionIndex == want {
			correct++
		}
		for _, k := range r.TopK {
			if k.Index == want {
				top5++
			}
		}
	}
	if len(rows) != 1000 {
		t.Fatalf("%d predictions for 1000 images", len(rows))
	}
	acc := float64(correct) / float64(len(rows))
	t.Logf("ImageNet samples: top-1 %.1f%%, top-5 %.1f%%", 100*acc, 100*float64(top5)/float64(len(rows)))
	if acc < 0.68 {
		t.Errorf("top-1 accuracy %.1f%% is under 68%%", 100*acc)
	}
}

// Clothing features: every image of every split, 1280 values, all finite,
// labels from the class folders.
func TestMobileNetV2Clothing(t *testing.T) {
	sh := shared(t)
	for _, split := range []string{"train", "validation", "test"} {
		out := filepath.Join(t.TempDir(), split)
		r := run(t, "featurize", "--backbone", "mobilenetv2", "--models-dir", filepath.Join(sh, "models"), "--offline",
			"--input", filepath.Join(sh, "data", "clothing-small", split), "--output", out, "--progress", "none")
		if r.code != exitOK {
			t.Fatalf("%s: exit %d\n%s", split, r.code, r.stderr)
		}
		rows, err := table.ReadAll[table.FeatureRow](out)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"train": 3068, "validation": 341, "test": 372}[split]
		if len(rows) != want {
			t.Errorf("%s: %d rows, want %d", split, len(rows), want)
		}
		labels := map[string]bool{}
		for _, row := range rows {
			if len(row.Features) != 1280 {
				t.Fatalf("%s: %d features", row.Path, len(row.Features))
			}
			for _, v := range row.Features {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%s: non-finite feature", row.Path)
				}
			}
			if row.Label == nil {
				t.Fatalf("%s: no label", row.Path)
			}
			labels[*row.Label] = true
		}
		if len(labels) != 10 {
			t.Errorf("%s: %d labels, want 10", split, len(labels))
		}
		t.Logf("%s: %s", split, r.stdout)
	}
}
