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
	"runtime"
	"strings"
	"time"

	"github.com/featurizer/featurizer/head"
	"github.com/featurizer/featurizer/table"
)

// side is one trainer's numbers on one dataset and protocol.
type side struct {
	Accuracy       float64 `json:"test_accuracy"`
	TrainSeconds   float64 `json:"train_seconds"`
	ProcessSeconds float64 `json:"process_seconds"`
	PeakRSS        float64 `json:"peak_rss_mib"`
	Lambda         float64 `json:"reg_param"`
	Grid           string  `json:"grid,omitempty"`
	Version        string  `json:"version,omitempty"`
	Detail         any     `json:"detail,omitempty"`
}

type result struct {
	Dataset  string           `json:"dataset"`
	Protocol string           `json:"protocol"`
	Rows     int              `json:"train_rows"`
	Dim      int              `json:"dim"`
	Classes  int              `json:"classes"`
	Ours     side             `json:"featurizer"`
	Peers    map[string]*side `json:"peers"`
}

// protocol is how the penalty is chosen, the same for every trainer.
type protocol struct {
	name       string
	grid       string  // grid: searched on validation
	regParam   float64 // dlp: fixed
	elasticNet float64
	maxIter    int
}

func main() {
	bin := flag.String("bin", "bin/featurizer", "featurizer binary")
	shared := flag.String("shared", "../shared", "shared material")
	work := flag.String("work", "bench/data", "where the benchmark tables and arrays go")
	rows := flag.Int("rows", 100000, "synthetic training rows")
	dim := flag.Int("dim", 2048, "synthetic feature dimension")
	classes := flag.Int("classes", 100, "synthetic classes")
	grid := flag.String("grid", "", "reg_param grid for every trainer, strongest first (default: featurizer's default grid for clothing, 1e-2..1e-5 for the synthetic table, to bound the peers' time)")
	which := flag.String("datasets", "clothing,synthetic", "datasets to run")
	protocols := flag.String("protocols", "grid,dlp", "penalty protocols: grid (chosen on validation), dlp (Deep Learning Pipelines' fixed regParam 0.05, elasticNetParam 0.3, maxIter 20)")
	peers := flag.String("peers", "sklearn,spark", "trainers to compare with: sklearn, spark")
	sparkGrid := flag.String("spark-grid", "", "a shorter reg_param grid for Spark alone (e.g. three values around the others' choice, when the full grid is too slow); the report says so")
	sklearnPython := flag.String("sklearn-python", "/usr/bin/python3", "Python with numpy and scikit-learn")
	sparkPython := flag.String("spark-python", ".venv/bin/python", "Python with pyspark (make setup's .venv)")
	sparkMemory := flag.String("spark-driver-memory", "8g", "spark.driver.memory (local mode: the whole Spark)")
	cores := flag.Int("cores", runtime.NumCPU(), "cores for every trainer: Spark's local[N]; featurizer and scikit-learn use all the machine's")
	out := flag.String("out", "bench/results", "report directory")
	flag.Parse()
	want := map[string]bool{}
	for _, p := range strings.Split(*peers, ",") {
		want[strings.TrimSpace(p)] = true
	}
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
		for _, pn := range strings.Split(*protocols, ",") {
			var p protocol
			switch pn {
			case "grid":
				p = protocol{name: pn, grid: *grid, maxIter: 200}
				if p.grid == "" {
					p.grid = "1,3.16e-1,1e-1,3.16e-2,1e-2,3.16e-3,1e-3,3.16e-4,1e-4,3.16e-5,1e-5,3.16e-6,1e-6"
					if ds == "synthetic" {
						p.grid = "1e-2,3.16e-3,1e-3,3.16e-4,1e-4,3.16e-5,1e-5"
					}
				}
			case "dlp":
				p = protocol{name: pn, regParam: 0.05, elasticNet: 0.3, maxIter: 20}
			default:
				fail(fmt.Errorf("unknown protocol %q", pn))
			}
			r, err := ours(ds, dir, *bin, p)
			if err != nil {
				fail(err)
			}
			if want["sklearn"] && p.name == "grid" {
				if r.Peers["sklearn"], err = sklearn(dir, *sklearnPython, p); err != nil {
					fail(err)
				}
			}
			if want["spark"] {
				sp := p
				if *sparkGrid != "" && p.grid != "" {
					sp.grid = *sparkGrid
				}
				if r.Peers["spark"], err = spark(dir, *sparkPython, *sparkMemory, *cores, sp); err != nil {
					fail(err)
				}
			}
			for name, s := range r.Peers {
				fmt.Fprintf(os.Stderr, "%s %s: featurizer %.4f in %.1fs (process %.1fs, %.0f MiB), %s %.4f in %.1fs (process %.1fs, %.0f MiB)\n",
					ds, p.name, r.Ours.Accuracy, r.Ours.TrainSeconds, r.Ours.ProcessSeconds, r.Ours.PeakRSS,
					name, s.Accuracy, s.TrainSeconds, s.ProcessSeconds, s.PeakRSS)
			}
			results = append(results, *r)
		}
	}
	printReport(results, *cores)
	os.MkdirAll(*out, 0o755)
	b, _ := json.MarshalIndent(results, "", "  ")
	p := filepath.Join(*out, "heads-"+time.Now().UTC().Format("20060102-150405")+".json")
	os.WriteFile(p, b, 0o644)
	fmt.Printf("\nreport: %s\n", p)
}

func printReport(results []result, cores int) {
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("# Classifier head vs scikit-learn and Spark ML, %s\n\n%d cores; load average at the end: %s\n",
		time.Now().UTC().Format(time.RFC3339), cores, strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
	for _, peer := range []string{"sklearn", "spark"} {
		var rs []result
		for _, r := range results {
			if r.Peers[peer] != nil {
				rs = append(rs, r)
			}
		}
		if len(rs) == 0 {
			continue
		}
		fmt.Printf("\n## featurizer train vs %s (ratios: ours / theirs)\n\n", peer)
		fmt.Println("| dataset | protocol | train rows x dim x classes | reg_param (ours / theirs) | test acc (ours / theirs) | delta (points) | training s (ours / theirs) | ratio | process wall s (ours / theirs) | ratio | peak MiB (ours / theirs) | ratio |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
		for _, r := range rs {
			s := r.Peers[peer]
			proto := r.Protocol
			if s.Grid != r.Ours.Grid {
				proto += fmt.Sprintf(" (%s's grid: %s)", peer, s.Grid)
			}
			fmt.Printf("| %s | %s | %d x %d x %d | %.3g / %.3g | %.4f / %.4f | %+.2f | %.1f / %.1f | %.2fx | %.1f / %.1f | %.2fx | %.0f / %.0f | %.2fx |\n",
				r.Dataset, proto, r.Rows, r.Dim, r.Classes, r.Ours.Lambda, s.Lambda, r.Ours.Accuracy, s.Accuracy,
				100*(r.Ours.Accuracy-s.Accuracy), r.Ours.TrainSeconds, s.TrainSeconds, ratio(r.Ours.TrainSeconds, s.TrainSeconds),
				r.Ours.ProcessSeconds, s.ProcessSeconds, ratio(r.Ours.ProcessSeconds, s.ProcessSeconds),
				r.Ours.PeakRSS, s.PeakRSS, ratio(r.Ours.PeakRSS, s.PeakRSS))
		}
	}
}

func ratio(a, b float64) float64 { return a / math.Max(b, 1e-9) }

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

func meta(dir string) (dim, classes int) {
	var m struct{ Dim, Classes int }
	b, _ := os.ReadFile(filepath.Join(dir, "meta.json"))
	json.Unmarshal(b, &m)
	return m.Dim, m.Classes
}

// ours runs featurizer train on the tables, as a user would.
func ours(name, dir, bin string, p protocol) (*result, error) {
	r := &result{Dataset: name, Protocol: p.name, Peers: map[string]*side{}}
	r.Dim, r.Classes = meta(dir)
	fmt.Fprintf(os.Stderr, "%s %s: featurizer train\n", name, p.name)
	model, err := os.MkdirTemp("", "bench-head-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(model)
	args := []string{"train", "--features", filepath.Join(dir, "train"), "--validation", filepath.Join(dir, "validation"),
		"--test", filepath.Join(dir, "test"), "--output", filepath.Join(model, "m"), "--quiet", "--max-iter", fmt.Sprint(p.maxIter)}
	if p.grid != "" {
		args = append(args, "--grid", p.grid)
	} else {
		// A fixed penalty trained on train alone for at most maxIter
		// iterations, as the tutorial's Spark does: the validation table is
		// only reported.
		args = append(args, "--reg-param", fmt.Sprint(p.regParam), "--elastic-net-param", fmt.Sprint(p.elasticNet), "--refit=false")
	}
	t0 := time.Now()
	if _, err := run(bin, args...); err != nil {
		return nil, err
	}
	r.Ours.ProcessSeconds = time.Since(t0).Seconds()
	art, _, err := head.LoadArtefact(filepath.Join(model, "m"))
	if err != nil {
		return nil, err
	}
	r.Rows = art.Training.Rows["train"]
	r.Ours.Accuracy, r.Ours.TrainSeconds, r.Ours.PeakRSS, r.Ours.Lambda = art.Test.Accuracy, art.Training.Seconds, art.Training.PeakRSSMiB, art.Training.RegParam
	r.Ours.Version, r.Ours.Grid = art.ToolVersion, p.grid
	r.Ours.Detail = map[string]any{"iterations": art.Training.Iterations, "refit": art.Training.Refit, "refit_rows": art.Training.RefitRows, "tol": art.Training.Tol}
	return r, nil
}

// peer runs a Python trainer that prints one JSON line last.
func peer(python string, args ...string) (*side, error) {
	t0 := time.Now()
	out, err := run(python, args...)
	if err != nil {
		return nil, err
	}
	wall := time.Since(t0).Seconds()
	var v struct {
		TestAccuracy float64 `json:"test_accuracy"`
		Seconds      float64 `json:"seconds"`
		TrainSeconds float64 `json:"train_seconds"`
		PeakRSS      float64 `json:"peak_rss_mib"`
		Lambda       float64 `json:"lambda"`
		Sklearn      string  `json:"sklearn"`
		Spark        string  `json:"spark"`
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	if err := json.Unmarshal([]byte(last), &v); err != nil {
		return nil, fmt.Errorf("%s output %q: %v", args[0], out, err)
	}
	var detail map[string]any
	json.Unmarshal([]byte(last), &detail)
	s := &side{Accuracy: v.TestAccuracy, TrainSeconds: max(v.Seconds, v.TrainSeconds), ProcessSeconds: wall, PeakRSS: v.PeakRSS,
		Lambda: v.Lambda, Version: v.Sklearn + v.Spark, Detail: detail}
	for i, a := range args {
		if a == "--grid" && i+1 < len(args) {
			s.Grid = args[i+1]
		}
	}
	return s, nil
}

func sklearn(dir, python string, p protocol) (*side, error) {
	fmt.Fprintf(os.Stderr, "%s: scikit-learn\n", dir)
	return peer(python, "bench/sklearn_head.py", "--data", dir, "--grid", p.grid, "--max-iter", fmt.Sprint(p.maxIter))
}

func spark(dir, python, memory string, cores int, p protocol) (*side, error) {
	fmt.Fprintf(os.Stderr, "%s %s: Spark ML\n", dir, p.name)
	args := []string{"bench/spark_head.py", "--data", dir, "--max-iter", fmt.Sprint(p.maxIter),
		"--cores", fmt.Sprint(cores), "--driver-memory", memory, "--elastic-net-param", fmt.Sprint(p.elasticNet)}
	if p.grid != "" {
		args = append(args, "--grid", p.grid)
	} else {
		args = append(args, "--reg-param", fmt.Sprint(p.regParam))
	}
	return peer(python, args...)
}
