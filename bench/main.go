package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/bench/internal/host"
	"github.com/featurizer/featurizer/download"
	"github.com/featurizer/featurizer/featurize"
	"github.com/featurizer/featurizer/inputs"
	"github.com/featurizer/featurizer/jobs"
)

type modelRun struct {
	Backbone     string             `json:"backbone"`
	Images       int64              `json:"images"`
	RawImgS      float64            `json:"raw_ort_img_s,omitempty"`
	E2EImgS      float64            `json:"end_to_end_img_s"`
	E2EWallS     float64            `json:"end_to_end_process_s"`
	Torch        []torchRun         `json:"pytorch,omitempty"`
	PeakRSSMiB   float64            `json:"peak_rss_mib"`
	StageSeconds map[string]float64 `json:"stage_seconds"`
}

type report struct {
	Date    time.Time  `json:"date"`
	CPU     string     `json:"cpu"`
	Cores   int        `json:"cores"`
	Images  string     `json:"images"`
	Runs    []modelRun `json:"runs"`
	RSS     []rssRun   `json:"rss,omitempty"`
	Command string     `json:"command"`
}

// torchRun is one PyTorch peer: an interpreter and its settings.
type torchRun struct {
	Peer     string  `json:"peer"`
	Torch    string  `json:"torch"`
	Settings string  `json:"settings"`
	ImgS     float64 `json:"img_s"`
	WarmupS  float64 `json:"warmup_s"`
}

// torchPeer is what to run: a label, a Python and the script's flags.
type torchPeer struct {
	label, python string
	flags         []string
}

// torchVariants are the settings measured on a current torch, by name.
var torchVariants = map[string][]string{
	"eager":               nil,
	"channels-last":       {"--channels-last"},
	"compile":             {"--channels-last", "--compile"},
	"compile-freezing":    {"--channels-last", "--compile", "--freezing"},
	"compile-contiguous":  {"--compile"},
	"freezing-contiguous": {"--compile", "--freezing"},
}

type rssRun struct {
	Backbone   string  `json:"backbone"`
	Images     int64   `json:"images"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

func main() {
	bin := flag.String("bin", "bin/featurizer", "featurizer binary")
	models := flag.String("models", "bench/models", "models directory (exported ResNet-50 and InceptionV3)")
	shared := flag.String("shared", "../shared", "shared material (MobileNetV2, clothing images)")
	images := flag.String("images", "", "image directory (default: clothing-small/test)")
	large := flag.String("large", "", "larger image directory for the RSS check (default: clothing-small/train; none to skip)")
	which := flag.String("models-list", "resnet50-torchvision,inceptionv3-torchvision,mobilenetv2", "backbones to measure")
	torch := flag.Bool("torch", true, "run the PyTorch baseline")
	out := flag.String("out", "bench/results", "directory for the JSON report")
	python := flag.String("python", "/usr/bin/python3", "Python with torch and torchvision, for the PyTorch baseline (Debian's torch 1.13)")
	current := flag.String("python-current", ".venv-bench/bin/python", "Python with a current torch 2.x (make bench-env); skipped when absent")
	variants := flag.String("current-variants", "eager,channels-last,compile,compile-freezing", "settings measured on the current torch: "+variantNames())
	flag.Parse()
	peers := []torchPeer{{label: "debian", python: *python}}
	if _, err := os.Stat(*current); err == nil {
		for _, v := range strings.Split(*variants, ",") {
			f, ok := torchVariants[v]
			if !ok {
				fail(fmt.Errorf("-current-variants: unknown %q (expected %s)", v, variantNames()))
			}
			peers = append(peers, torchPeer{label: "current " + v, python: *current, flags: f})
		}
	} else if *torch {
		fmt.Fprintf(os.Stderr, "no %s: only Debian's torch is measured (make bench-env adds a current torch 2.x)\n", *current)
	}
	if *images == "" {
		*images = filepath.Join(*shared, "data", "clothing-small", "test")
	}
	if *large == "" {
		*large = filepath.Join(*shared, "data", "clothing-small", "train")
	}
	if err := backbones.InitRuntime(""); err != nil {
		fail(err)
	}
	rep := report{Date: time.Now().UTC(), CPU: host.CPUName(), Cores: runtime.NumCPU(), Images: *images, Command: strings.Join(os.Args, " ")}
	for _, name := range strings.Split(*which, ",") {
		dir := *models
		if name == "mobilenetv2" {
			dir = filepath.Join(*shared, "models")
		}
		r := modelRun{Backbone: name}
		fmt.Fprintf(os.Stderr, "== %s\n", name)
		var err error
		if r.RawImgS, r.Images, err = rawORT(name, dir, *images); err != nil {
			fail(err)
		}
		fmt.Fprintf(os.Stderr, "raw ONNX Runtime: %.2f img/s\n", r.RawImgS)
		sum, wall, rss, err := endToEnd(*bin, name, dir, *images)
		if err != nil {
			fail(err)
		}
		r.E2EImgS, r.E2EWallS, r.PeakRSSMiB, r.StageSeconds = sum.ImagesPerSecond, wall, rss, sum.StageSeconds
		fmt.Fprintf(os.Stderr, "end to end: %.2f img/s (%.0f MiB peak RSS)\n", r.E2EImgS, rss)
		if *torch && name != "mobilenetv2" {
			arch := map[string]string{"resnet50-torchvision": "resnet50", "inceptionv3-torchvision": "inception_v3"}[name]
			for _, p := range peers {
				t, err := pytorch(p, arch, *images)
				if err != nil {
					fail(err)
				}
				r.Torch = append(r.Torch, *t)
				fmt.Fprintf(os.Stderr, "PyTorch %s (%s, %s): %.2f img/s (warm-up %.1fs)\n", t.Peer, t.Torch, t.Settings, t.ImgS, t.WarmupS)
			}
		}
		rep.Runs = append(rep.Runs, r)
		if name == "resnet50-torchvision" && *large != "none" {
			rep.RSS = append(rep.RSS, rssRun{Backbone: name, Images: r.Images, PeakRSSMiB: rss})
			s2, _, rss2, err := endToEnd(*bin, name, dir, *large)
			if err != nil {
				fail(err)
			}
			rep.RSS = append(rep.RSS, rssRun{Backbone: name, Images: s2.Rows, PeakRSSMiB: rss2})
			fmt.Fprintf(os.Stderr, "end to end on %d images: %.0f MiB peak RSS\n", s2.Rows, rss2)
		}
	}
	printReport(rep)
	os.MkdirAll(*out, 0o755)
	b, _ := json.MarshalIndent(rep, "", "  ")
	p := filepath.Join(*out, "bench-"+rep.Date.Format("20060102-150405")+".json")
	os.WriteFile(p, b, 0o644)
	fmt.Printf("\nreport: %s\n", p)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// rawORT preprocesses every image into memory first, then times only the
// inference calls, batch 32, with the same engine the CLI uses.
func rawORT(name, dir, images string) (float64, int64, error) {
	b, err := backbones.Resolve(nilCtx, backbones.ResolveOptions{Name: name, Store: &download.Store{Dir: dir, Offline: true}})
	if err != nil {
		return 0, 0, err
	}
	eng, err := backbones.NewEngine(b, backbones.EngineOptions{})
	if err != nil {
		return 0, 0, err
	}
	defer eng.Close()
	src, err := inputs.Open(nilCtx, nil, images)
	if err != nil {
		return 0, 0, err
	}
	var tensors []float32
	var n int
	pp := featurize.NewPreprocessor(b.Spec.Preprocessing())
	var d featurize.Decoder
	defer d.Close()
	size := eng.SampleSize()
	err = src.Walk(nilCtx, func(it inputs.Item) error {
		data, err := os.ReadFile(it.Open)
		if err != nil {
			return err
		}
		img, err := d.Decode(data)
		if err != nil {
			return nil
		}
		tensors = append(tensors, make([]float32, size)...)
		n++
		return pp.Apply(img, tensors[(n-1)*size:])
	})
	if err != nil {
		return 0, 0, err
	}
	const batch = 32
	feats := make([]float32, batch*eng.FeatureDim())
	if err := eng.Run(tensors, min(batch, n), feats, nil); err != nil { // warm-up
		return 0, 0, err
	}
	t0 := time.Now()
	for i := 0; i < n; i += batch {
		k := min(batch, n-i)
		if err := eng.Run(tensors[i*size:], k, feats, nil); err != nil {
			return 0, 0, err
		}
	}
	return float64(n) / time.Since(t0).Seconds(), int64(n), nil
}

func endToEnd(bin, name, dir, images string) (*jobs.Summary, float64, float64, error) {
	out, err := os.MkdirTemp("", "bench-out-")
	if err != nil {
		return nil, 0, 0, err
	}
	defer os.RemoveAll(out)
	cmd := exec.Command(bin, "featurize", "--backbone", name, "--models-dir", dir, "--offline",
		"--input", images, "--output", filepath.Join(out, "t"), "--progress", "none")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, 0, 0, fmt.Errorf("%v: %s", err, stderr.String())
	}
	wall := time.Since(t0).Seconds()
	b, err := os.ReadFile(filepath.Join(out, "t", "_summary.json"))
	if err != nil {
		return nil, 0, 0, err
	}
	var s jobs.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, 0, 0, err
	}
	// The job reports its own VmHWM: a child's rusage would include this
	// process's memory at fork time.
	return &s, wall, s.PeakRSSMiB, nil
}

func variantNames() string {
	var n []string
	for k := range torchVariants {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

func pytorch(p torchPeer, arch, images string) (*torchRun, error) {
	args := append([]string{"bench/torch_baseline.py", "--arch", arch, "--images", images}, p.flags...)
	cmd := exec.Command(p.python, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("torch baseline (%s): %v: %s", p.label, err, stderr.String())
	}
	var r struct {
		ImagesPerSecond float64 `json:"images_per_second"`
		Torch           string  `json:"torch"`
		Warmup          float64 `json:"warmup_seconds"`
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return nil, fmt.Errorf("torch baseline output %q: %v", out, err)
	}
	settings := "inference_mode"
	if len(p.flags) > 0 {
		settings += " " + strings.Join(p.flags, " ")
	}
	return &torchRun{Peer: p.label, Torch: r.Torch, Settings: settings, ImgS: r.ImagesPerSecond, WarmupS: r.Warmup}, nil
}

func printReport(r report) {
	fmt.Printf("# featurizer benchmark, %s\n\n%s, %d cores; images: %s\n\n", r.Date.Format(time.RFC3339), r.CPU, r.Cores, r.Images)
	fmt.Println("| backbone | images | raw ORT img/s | end-to-end img/s | e2e / raw | PyTorch (Debian) img/s | e2e / PyTorch | best current PyTorch img/s | e2e / best current | peak RSS MiB |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, m := range r.Runs {
		deb, debRatio, cur, curRatio := "-", "-", "-", "-"
		var best *torchRun
		for i, t := range m.Torch {
			if t.Peer == "debian" {
				deb, debRatio = fmt.Sprintf("%.2f (torch %s)", t.ImgS, t.Torch), fmt.Sprintf("%.2fx", m.E2EImgS/t.ImgS)
			} else if best == nil || t.ImgS > best.ImgS {
				best = &m.Torch[i]
			}
		}
		if best != nil {
			cur, curRatio = fmt.Sprintf("%.2f (torch %s, %s)", best.ImgS, best.Torch, strings.TrimPrefix(best.Peer, "current ")), fmt.Sprintf("%.2fx", m.E2EImgS/best.ImgS)
		}
		fmt.Printf("| %s | %d | %.2f | %.2f | %.2fx | %s | %s | %s | %s | %.0f |\n", m.Backbone, m.Images, m.RawImgS, m.E2EImgS, m.E2EImgS/m.RawImgS, deb, debRatio, cur, curRatio, m.PeakRSSMiB)
	}
	var peerRows []string
	for _, m := range r.Runs {
		for _, t := range m.Torch {
			peerRows = append(peerRows, fmt.Sprintf("| %s | %s | %s | %s | %.2f | %.0f | %.2fx |", m.Backbone, t.Peer, t.Torch, t.Settings, t.ImgS, t.WarmupS, m.E2EImgS/t.ImgS))
		}
	}
	if len(peerRows) > 0 {
		fmt.Println("\nEvery PyTorch peer (warm-up, compilation included, is not timed):")
		fmt.Println("\n| backbone | peer | torch | settings | img/s | warm-up s | featurizer e2e / peer |")
		fmt.Println("|---|---|---|---|---|---|---|")
		fmt.Println(strings.Join(peerRows, "\n"))
	}
	if len(r.RSS) > 0 {
		fmt.Println("\nPeak RSS against the number of images:")
		for _, x := range r.RSS {
			fmt.Printf("- %s, %d images: %.0f MiB\n", x.Backbone, x.Images, x.PeakRSSMiB)
		}
	}
	fmt.Println("\nWhere the time goes (seconds summed over the goroutines of each stage; wall is the pipeline's):")
	for _, m := range r.Runs {
		var keys []string
		for k := range m.StageSeconds {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, m.StageSeconds[k]))
		}
		fmt.Printf("- %s: %s\n", m.Backbone, strings.Join(parts, ", "))
	}
}

var nilCtx = context.Background()
