// Command heads benchmarks featurizer's classifier head against
// scikit-learn's LogisticRegression (lbfgs, penalty chosen on validation
// over the same grid) in one run, on the clothing features (MobileNetV2)
// and on a synthetic 100,000 x 2048 x 100-class table: test accuracy,
// training time and peak memory, as differences and ratios.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/featurizer/featurizer/head"
	"github.com/featurizer/featurizer/table"
)

type result struct {
	Dataset       string  `json:"dataset"`
	Rows          int     `json:"train_rows"`
	Dim           int     `json:"dim"`
	Classes       int     `json:"classes"`
	OursAccuracy  float64 `json:"ours_test_accuracy"`
	OursSeconds   float64 `json:"ours_train_seconds"`
	OursWall      float64 `json:"ours_process_seconds"`
	OursRSS       float64 `json:"ours_peak_rss_mib"`
	OursLambda    float64 `json:"ours_lambda"`
	SkAccuracy    float64 `json:"sklearn_test_accuracy"`
	SkSeconds     float64 `json:"sklearn_train_seconds"`
	SkRSS         float64 `json:"sklearn_peak_rss_mib"`
	SkLambda      float64 `json:"sklearn_lambda"`
	AccuracyDelta float64 `json:"accuracy_delta_points"`
	TimeRatio     float64 `json:"time_ratio"`
	MemoryRatio   float64 `json:"memory_ratio"`
}

func main() {
	bin := flag.String("bin", "bin/featurizer", "featurizer binary")
	shared := flag.String("shared", "../shared", "shared material")
	work := flag.String("work", "bench/data", "where the benchmark tables and arrays go")
	rows := flag.Int("rows", 100000, "synthetic training rows")
	dim := flag.Int("dim", 2048, "synthetic feature dimension")
	classes := flag.Int("classes", 100, "synthetic classes")
	grid := flag.String("grid", "", "lambda grid for both, strongest first (default: featurizer's default grid for clothing, 1e-2..1e-5 for the synthetic table, to bound scikit-learn's time)")
	which := flag.String("datasets", "clothing,synthetic", "datasets to run")
	out := flag.String("out", "bench/results", "report directory")
	flag.Parse()
	var results []result
	for _, ds := range strings.Split(*which, ",") {
		var dir string
		var err error
		switch ds {
		case "clothing":
			dir, err = clothing(*bin, *shared, *work)
		case "synthetic":
			dir, err = synthetic(*work, *rows, *dim, *classes)
		default:
			err = fmt.Errorf("unknown dataset %q", ds)
		}
		if err != nil {
			fail(err)
		}
		g := *grid
		if g == "" {
			g = "1,3.16e-1,1e-1,3.16e-2,1e-2,3.16e-3,1e-3,3.16e-4,1e-4,3.16e-5,1e-5,3.16e-6,1e-6"
			if ds == "synthetic" {
				g = "1e-2,3.16e-3,1e-3,3.16e-4,1e-4,3.16e-5,1e-5"
			}
		}
		r, err := compare(ds, dir, *bin, g)
		if err != nil {
			fail(err)
		}
		results = append(results, *r)
	}
	fmt.Printf("# Classifier head vs scikit-learn, %s\n\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Println("| dataset | train rows x dim x classes | ours test acc | sklearn test acc | delta (points) | ours train s | sklearn train s | time ratio | ours peak MiB | sklearn peak MiB | memory ratio |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		fmt.Printf("| %s | %d x %d x %d | %.4f | %.4f | %+.2f | %.1f | %.1f | %.2fx | %.0f | %.0f | %.2fx |\n", r.Dataset, r.Rows, r.Dim, r.Classes,
			r.OursAccuracy, r.SkAccuracy, r.AccuracyDelta, r.OursSeconds, r.SkSeconds, r.TimeRatio, r.OursRSS, r.SkRSS, r.MemoryRatio)
	}
	os.MkdirAll(*out, 0o755)
	b, _ := json.MarshalIndent(results, "", "  ")
	p := filepath.Join(*out, "heads-"+time.Now().UTC().Format("20060102-150405")+".json")
	os.WriteFile(p, b, 0o644)
	fmt.Printf("\nreport: %s\n", p)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench heads:", err)
	os.Exit(1)
}

func run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// clothing featurizes the three splits with MobileNetV2 (once) and exports
// the arrays.
func clothing(bin, shared, work string) (string, error) {
	dir := filepath.Join(work, "clothing-mobilenetv2")
	for _, s := range []string{"train", "validation", "test"} {
		t := filepath.Join(dir, s)
		if _, err := os.Stat(filepath.Join(t, table.SuccessFile)); err == nil {
			continue
		}
		fmt.Fprintf(os.Stderr, "featurizing clothing %s\n", s)
		if _, err := run(bin, "featurize", "--backbone", "mobilenetv2", "--models-dir", filepath.Join(shared, "models"), "--offline",
			"--input", filepath.Join(shared, "data", "clothing-small", s), "--output", t, "--overwrite", "--quiet"); err != nil {
			return "", err
		}
	}
	return dir, export(dir)
}

// synthetic writes a table of Gaussian classes: class means drawn once,
// per-row noise, scaled so that the problem is neither trivial nor hopeless.
func synthetic(work string, n, d, k int) (string, error) {
	dir := filepath.Join(work, fmt.Sprintf("synthetic-%dx%dx%d", n, d, k))
	if _, err := os.Stat(filepath.Join(dir, "meta.json")); err == nil {
		return dir, nil
	}
	fmt.Fprintf(os.Stderr, "writing the synthetic %d x %d x %d table\n", n, d, k)
	rng := rand.New(rand.NewSource(42))
	means := make([]float32, k*d)
	for i := range means {
		means[i] = float32(rng.NormFloat64() * 0.06)
	}
	labels := make([]string, k)
	for c := range labels {
		labels[c] = fmt.Sprintf("class-%03d", c)
	}
	for _, s := range []struct {
		name string
		rows int
	}{{"train", n}, {"validation", n / 10}, {"test", n / 10}} {
		p, err := table.NewLocalPart[table.FeatureRow](filepath.Join(dir, s.name, table.PartName(0)), nil)
		if err != nil {
			return "", err
		}
		batch := make([]table.FeatureRow, 0, 1024)
		for i := 0; i < s.rows; i++ {
			c := rng.Intn(k)
			f := make([]float32, d)
			for j := range f {
				f[j] = means[c*d+j] + float32(rng.NormFloat64())
			}
			l := labels[c]
			batch = append(batch, table.FeatureRow{Path: fmt.Sprintf("%s/%07d", s.name, i), Label: &l, Features: f})
			if len(batch) == cap(batch) || i == s.rows-1 {
				if err := p.Write(batch); err != nil {
					return "", err
				}
				batch = batch[:0]
			}
		}
		if err := p.Commit(); err != nil {
			return "", err
		}
	}
	return dir, export(dir)
}

// export writes each split as raw float32/int32 arrays for the Python side.
func export(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "meta.json")); err == nil {
		return nil
	}
	ctx := context.Background()
	train, err := head.OpenTable(filepath.Join(dir, "train"))
	if err != nil {
		return err
	}
	classes, err := head.Classes(ctx, train)
	if err != nil {
		return err
	}
	for _, s := range []string{"train", "validation", "test"} {
		t, err := head.OpenTable(filepath.Join(dir, s))
		if err != nil {
			return err
		}
		a, err := head.Assign(ctx, t, classes, head.SplitTrain, head.SplitOptions{})
		if err != nil {
			return err
		}
		ds, err := head.Load(ctx, t, a, head.SplitTrain)
		if err != nil {
			return err
		}
		if err := writeRaw(filepath.Join(dir, s+".X.f32"), ds.X); err != nil {
			return err
		}
		if err := writeRaw(filepath.Join(dir, s+".y.i32"), ds.Y); err != nil {
			return err
		}
	}
	meta, _ := json.Marshal(map[string]int{"dim": train.Dim, "classes": len(classes)})
	return os.WriteFile(filepath.Join(dir, "meta.json"), meta, 0o644)
}

func writeRaw(path string, v any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return binary.Write(f, binary.LittleEndian, v)
}

func compare(name, dir, bin, grid string) (*result, error) {
	var meta struct{ Dim, Classes int }
	b, _ := os.ReadFile(filepath.Join(dir, "meta.json"))
	json.Unmarshal(b, &meta)
	r := &result{Dataset: name, Dim: meta.Dim, Classes: meta.Classes}

	fmt.Fprintf(os.Stderr, "%s: featurizer train\n", name)
	model, err := os.MkdirTemp("", "bench-head-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(model)
	t0 := time.Now()
	// Both search the same grid.
	if _, err := run(bin, "train", "--features", filepath.Join(dir, "train"), "--validation", filepath.Join(dir, "validation"),
		"--test", filepath.Join(dir, "test"), "--output", filepath.Join(model, "m"), "--grid", grid, "--quiet"); err != nil {
		return nil, err
	}
	r.OursWall = time.Since(t0).Seconds()
	art, _, err := head.LoadArtefact(filepath.Join(model, "m"))
	if err != nil {
		return nil, err
	}
	r.Rows = art.Training.Rows["train"]
	r.OursAccuracy, r.OursSeconds, r.OursRSS, r.OursLambda = art.Test.Accuracy, art.Training.Seconds, art.Training.PeakRSSMiB, art.Training.RegParam

	fmt.Fprintf(os.Stderr, "%s: scikit-learn\n", name)
	out, err := run("/usr/bin/python3", "bench/sklearn_head.py", "--data", dir, "--grid", grid)
	if err != nil {
		return nil, err
	}
	var sk struct {
		TestAccuracy float64 `json:"test_accuracy"`
		Seconds      float64 `json:"seconds"`
		PeakRSS      float64 `json:"peak_rss_mib"`
		Lambda       float64 `json:"lambda"`
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sk); err != nil {
		return nil, fmt.Errorf("sklearn output %q: %v", out, err)
	}
	r.SkAccuracy, r.SkSeconds, r.SkRSS, r.SkLambda = sk.TestAccuracy, sk.Seconds, sk.PeakRSS, sk.Lambda
	r.AccuracyDelta = 100 * (r.OursAccuracy - r.SkAccuracy)
	r.TimeRatio = r.OursSeconds / math.Max(r.SkSeconds, 1e-9)
	r.MemoryRatio = r.OursRSS / math.Max(r.SkRSS, 1e-9)
	fmt.Fprintf(os.Stderr, "%s: ours %.4f in %.1fs (%.0f MiB), sklearn %.4f in %.1fs (%.0f MiB)\n", name,
		r.OursAccuracy, r.OursSeconds, r.OursRSS, r.SkAccuracy, r.SkSeconds, r.SkRSS)
	return r, nil
}
