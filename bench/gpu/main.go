package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/bench/internal/host"
	"github.com/featurizer/featurizer/download"
	"github.com/featurizer/featurizer/featurize"
	"github.com/featurizer/featurizer/inputs"
	"github.com/featurizer/featurizer/jobs"
	"github.com/featurizer/featurizer/table"
)

type parity struct {
	Backbone  string  `json:"backbone"`
	Images    int     `json:"images"`
	MaxRelL2  float64 `json:"max_rel_l2"`
	MeanRelL2 float64 `json:"mean_rel_l2"`
	MaxAbs    float64 `json:"max_abs"`
	TF32      string  `json:"tf32"`
	FP16      bool    `json:"fp16,omitempty"`
}

type raw struct {
	Backbone  string  `json:"backbone"`
	Precision string  `json:"precision"`
	Batch     int     `json:"batch"`
	Images    int     `json:"images"`
	ImgS      float64 `json:"img_s"`
	SessionS  float64 `json:"session_s"` // creating the session (cuDNN set-up included)
}

type e2e struct {
	Backbone     string             `json:"backbone"`
	Precision    string             `json:"precision"`
	FastDecode   bool               `json:"fast_decode"`
	Images       int64              `json:"images"`
	ImgS         float64            `json:"img_s"`         // the job's own (pipeline) rate
	ProcessS     float64            `json:"process_s"`     // the process, start-up included
	GPUUtil      float64            `json:"gpu_util_mean"` // nvidia-smi, % over the job's samples
	Summary      map[string]any     `json:"summary_extra,omitempty"`
	StageSeconds map[string]float64 `json:"stage_seconds"`
}

type peer struct {
	Backbone string  `json:"backbone"`
	ImgS     float64 `json:"img_s"`
	Detail   string  `json:"detail"`
}

type report struct {
	Date       time.Time          `json:"date"`
	Device     string             `json:"device"`
	GPU        string             `json:"gpu,omitempty"`
	CPU        string             `json:"cpu"`
	Cores      int                `json:"cores"`
	Runtime    string             `json:"onnxruntime"`
	Images     int                `json:"images"`
	Parity     []parity           `json:"parity"`
	DecodeImgS map[string]float64 `json:"decode_capacity_img_s"`
	Raw        []raw              `json:"raw_ort"`
	E2E        []e2e              `json:"end_to_end"`
	Torch      []peer             `json:"pytorch"`
	Errors     []string           `json:"errors,omitempty"`
	Command    string             `json:"command"`
}

var (
	bin       = flag.String("bin", "bin/featurizer", "featurizer binary")
	models    = flag.String("models", "bench/models", "directory with the exported backbones (resnet50-torchvision.onnx, ...)")
	images    = flag.String("images", "", "images for the speed runs")
	photos    = flag.String("photos", "", "photos for the parity check (default: -images)")
	device    = flag.String("device", "cuda", "cuda, or cpu to check the script")
	which     = flag.String("backbones", "resnet50-torchvision,inceptionv3-torchvision", "backbones")
	batches   = flag.String("batches", "128,256", "batch sizes of the raw runs")
	rawImages = flag.Int("raw-images", 2048, "images (pre-decoded, cycled) per raw run")
	parityN   = flag.Int("parity-images", 200, "photos in the parity check")
	python    = flag.String("python", "python3", "Python with torch and torchvision (the peer); empty to skip")
	out       = flag.String("out", ".", "directory for gpu-bench.json")
	fp16      = flag.Bool("fp16", true, "also measure float16")
	extra     = flag.String("featurize-flags", "", "more flags for every end-to-end run (space-separated)")
)

func main() {
	flag.Parse()
	if *images == "" {
		fail(errors.New("-images is required"))
	}
	if *photos == "" {
		*photos = *images
	}
	rep := &report{Date: time.Now().UTC(), Device: *device, CPU: host.CPUName(), Cores: runtime.NumCPU(), Command: strings.Join(os.Args, " ")}
	rep.GPU = gpuName()
	if err := backbones.InitRuntimeFor("", *device); err != nil {
		fail(err)
	}
	v, lib, _ := backbones.RuntimeInfo()
	rep.Runtime = v + " (" + lib + ")"
	files, err := listImages(*images)
	if err != nil {
		fail(err)
	}
	rep.Images = len(files)
	rep.DecodeImgS = map[string]float64{}
	note := func(err error) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "gpubench:", err)
			rep.Errors = append(rep.Errors, err.Error())
		}
	}
	for _, name := range strings.Split(*which, ",") {
		fmt.Fprintf(os.Stderr, "== %s\n", name)
		b, err := backbones.Resolve(context.Background(), backbones.ResolveOptions{Name: name, Store: &download.Store{Dir: *models, Offline: true}})
		if err != nil {
			note(err)
			continue
		}
		p, err := checkParity(name, false)
		note(err)
		if err == nil {
			rep.Parity = append(rep.Parity, *p)
		}
		if *fp16 && *device != "cpu" {
			p, err := checkParity(name, true)
			note(err)
			if err == nil {
				rep.Parity = append(rep.Parity, *p)
			}
		}
		rep.DecodeImgS[name] = decodeCapacity(b, files)
		fmt.Fprintf(os.Stderr, "decode capacity: %.0f img/s\n", rep.DecodeImgS[name])
		for _, prec := range precisions() {
			for _, bs := range ints(*batches) {
				r, err := rawORT(b, prec, bs, files)
				note(err)
				if err == nil {
					rep.Raw = append(rep.Raw, *r)
					fmt.Fprintf(os.Stderr, "raw %s batch %d: %.0f img/s\n", prec, bs, r.ImgS)
				}
			}
		}
		for _, prec := range precisions() {
			for _, fast := range []bool{false, true} {
				r, err := endToEnd(name, prec, fast)
				note(err)
				if err == nil {
					rep.E2E = append(rep.E2E, *r)
					fmt.Fprintf(os.Stderr, "end to end %s fast-decode=%v: %.0f img/s (GPU %.0f%%)\n", prec, fast, r.ImgS, r.GPUUtil)
				}
			}
		}
		if *python != "" {
			r, err := torchPeer(name)
			note(err)
			if err == nil {
				rep.Torch = append(rep.Torch, *r)
				fmt.Fprintf(os.Stderr, "PyTorch: %.0f img/s\n", r.ImgS)
			}
		}
	}
	os.MkdirAll(*out, 0o755)
	js, _ := json.MarshalIndent(rep, "", "  ")
	path := filepath.Join(*out, "gpu-bench.json")
	if err := os.WriteFile(path, js, 0o644); err != nil {
		fail(err)
	}
	printTable(rep)
	fmt.Println("report:", path)
}

func precisions() []string {
	if *fp16 && *device != "cpu" {
		return []string{"fp32", "fp16"}
	}
	return []string{"fp32"}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gpubench:", err)
	os.Exit(1)
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

func listImages(dir string) ([]string, error) {
	src, err := inputs.Open(context.Background(), nil, dir)
	if err != nil {
		return nil, err
	}
	var out []string
	err = src.Walk(context.Background(), func(it inputs.Item) error {
		out = append(out, it.Open)
		return nil
	})
	return out, err
}

// featurizeArgs are the CLI flags of a run on the device.
func featurizeArgs(name, dev string, fp16, fast bool, input, output string) []string {
	a := []string{"featurize", "--backbone", name, "--models-dir", *models, "--offline", "--input", input,
		"--output", output, "--progress", "none", "--device", dev}
	if fp16 {
		a = append(a, "--fp16")
	}
	if fast {
		a = append(a, "--fast-decode")
	}
	if *extra != "" {
		a = append(a, strings.Fields(*extra)...)
	}
	return a
}

// parityInput copies (links) the first n photos into a folder of its own.
func parityInput(n int) (string, error) {
	files, err := listImages(*photos)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "gpubench-photos-")
	if err != nil {
		return "", err
	}
	for i, f := range files {
		if i == n {
			break
		}
		if err := os.Symlink(f, filepath.Join(dir, fmt.Sprintf("%04d%s", i, filepath.Ext(f)))); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// checkParity featurizes the same photos on the CPU and on the device and
// compares the rows.
func checkParity(name string, fp16 bool) (*parity, error) {
	in, err := parityInput(*parityN)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(in)
	tmp, err := os.MkdirTemp("", "gpubench-parity-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	read := func(dev string, fp bool, dir string) (map[string][]float32, error) {
		o := filepath.Join(tmp, dir)
		cmd := exec.Command(*bin, featurizeArgs(name, dev, fp, false, in, o)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("featurize --device %s: %v: %s", dev, err, b)
		}
		rows, err := table.ReadAll[table.FeatureRow](o)
		if err != nil {
			return nil, err
		}
		m := map[string][]float32{}
		for _, r := range rows {
			m[filepath.Base(r.Path)] = r.Features
		}
		return m, nil
	}
	ref, err := read("cpu", false, "reference")
	if err != nil {
		return nil, err
	}
	got, err := read(*device, fp16, "device")
	if err != nil {
		return nil, err
	}
	p := &parity{Backbone: name, Images: len(ref), FP16: fp16, TF32: tf32Setting()}
	var sum float64
	for k, a := range ref {
		b, ok := got[k]
		if !ok || len(b) != len(a) {
			return nil, fmt.Errorf("parity: %s missing or of another length on %s", k, *device)
		}
		var d2, a2 float64
		for i := range a {
			d := float64(a[i]) - float64(b[i])
			d2 += d * d
			a2 += float64(a[i]) * float64(a[i])
			p.MaxAbs = math.Max(p.MaxAbs, math.Abs(d))
		}
		rel := math.Sqrt(d2) / math.Max(math.Sqrt(a2), 1e-30)
		p.MaxRelL2 = math.Max(p.MaxRelL2, rel)
		sum += rel
	}
	if len(ref) > 0 {
		p.MeanRelL2 = sum / float64(len(ref))
	}
	fmt.Fprintf(os.Stderr, "parity %s fp16=%v: max rel L2 %.2e over %d photos\n", *device, fp16, p.MaxRelL2, p.Images)
	return p, nil
}

func tf32Setting() string {
	if v := os.Getenv("FEATURIZER_CUDA_TF32"); v != "" {
		return v
	}
	return "ONNX Runtime's default"
}

// decodeCapacity runs only reading, decoding and preprocessing, one
// goroutine per core: what this machine's CPUs can feed a device.
func decodeCapacity(b *backbones.Backbone, files []string) float64 {
	var next int64 = -1
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pre := b.Spec.Preprocessing()
			pp := featurize.NewPreprocessor(pre)
			d := featurize.Decoder{MinSize: pp.MinDecodeSize}
			dst := make([]float32, 3*pre.Input.Size[0]*pre.Input.Size[1])
			for {
				i := atomic.AddInt64(&next, 1)
				if int(i) >= len(files) {
					return
				}
				data, err := os.ReadFile(files[i])
				if err != nil {
					continue
				}
				if img, err := d.Decode(data); err == nil {
					pp.Apply(img, dst)
				}
			}
		}()
	}
	wg.Wait()
	return float64(len(files)) / time.Since(t0).Seconds()
}

// rawORT times the engine alone on pre-decoded batches (the images are
// decoded once, then cycled): the device's ceiling for this model.
func rawORT(b *backbones.Backbone, prec string, batch int, files []string) (*raw, error) {
	t0 := time.Now()
	eng, err := backbones.NewEngine(b, backbones.EngineOptions{Device: *device, FP16: prec == "fp16"})
	if err != nil {
		return nil, fmt.Errorf("raw %s: %w", prec, err)
	}
	defer eng.Close()
	sess := time.Since(t0).Seconds()
	size := eng.SampleSize()
	in := eng.InputBuffer(batch * size)
	pp := featurize.NewPreprocessor(b.Spec.Preprocessing())
	var d featurize.Decoder
	for i := 0; i < batch; i++ {
		data, err := os.ReadFile(files[i%len(files)])
		if err != nil {
			return nil, err
		}
		img, err := d.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", files[i%len(files)], err)
		}
		if err := pp.Apply(img, in[i*size:(i+1)*size]); err != nil {
			return nil, err
		}
	}
	feats := make([]float32, batch*eng.FeatureDim())
	for i := 0; i < 3; i++ { // warm-up: kernels chosen, memory pools grown
		if err := eng.Run(in, batch, feats, nil); err != nil {
			return nil, fmt.Errorf("raw %s batch %d: %w", prec, batch, err)
		}
	}
	calls := max(1, *rawImages/batch)
	t1 := time.Now()
	for i := 0; i < calls; i++ {
		if err := eng.Run(in, batch, feats, nil); err != nil {
			return nil, err
		}
	}
	return &raw{Backbone: b.Spec.Name, Precision: prec, Batch: batch, Images: calls * batch,
		ImgS: float64(calls*batch) / time.Since(t1).Seconds(), SessionS: sess}, nil
}

// endToEnd runs the CLI on -images while sampling the GPU's utilization.
func endToEnd(name, prec string, fast bool) (*e2e, error) {
	tmp, err := os.MkdirTemp("", "gpubench-e2e-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	o := filepath.Join(tmp, "t")
	stop, util := sampleGPU()
	t0 := time.Now()
	cmd := exec.Command(*bin, featurizeArgs(name, *device, prec == "fp16", fast, *images, o)...)
	b, err := cmd.CombinedOutput()
	wall := time.Since(t0).Seconds()
	stop()
	if err != nil {
		return nil, fmt.Errorf("end to end %s: %v: %s", prec, err, b)
	}
	js, err := os.ReadFile(filepath.Join(o, table.SummaryFile))
	if err != nil {
		return nil, err
	}
	var s jobs.Summary
	if err := json.Unmarshal(js, &s); err != nil {
		return nil, err
	}
	var all map[string]any
	json.Unmarshal(js, &all)
	keep := map[string]any{}
	for k, v := range all {
		if strings.Contains(k, "busy") || strings.Contains(k, "idle") || k == "batch_size" || k == "workers" || k == "threads" || k == "inflight" {
			keep[k] = v
		}
	}
	return &e2e{Backbone: name, Precision: prec, FastDecode: fast, Images: s.Rows, ImgS: s.ImagesPerSecond, ProcessS: wall,
		GPUUtil: util(), Summary: keep, StageSeconds: s.StageSeconds}, nil
}

// sampleGPU samples nvidia-smi's utilization every 200 ms until stop; the
// mean is 0 without nvidia-smi.
func sampleGPU() (stop func(), mean func() float64) {
	cmd := exec.Command("nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-lms", "200")
	outp, err := cmd.StdoutPipe()
	if err != nil || cmd.Start() != nil {
		return func() {}, func() float64 { return 0 }
	}
	var mu sync.Mutex
	var samples []float64
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(outp)
		for sc.Scan() {
			if v, err := strconv.ParseFloat(strings.TrimSpace(sc.Text()), 64); err == nil {
				mu.Lock()
				samples = append(samples, v)
				mu.Unlock()
			}
		}
	}()
	return func() {
			cmd.Process.Kill()
			cmd.Wait()
			<-done
		}, func() float64 {
			mu.Lock()
			defer mu.Unlock()
			if len(samples) == 0 {
				return 0
			}
			var s float64
			for _, v := range samples {
				s += v
			}
			return s / float64(len(samples))
		}
}

// torchPeer runs bench/torch_baseline.py on the same images.
func torchPeer(name string) (*peer, error) {
	arch := map[string]string{"resnet50-torchvision": "resnet50", "inceptionv3-torchvision": "inception_v3"}[name]
	if arch == "" {
		return nil, fmt.Errorf("no PyTorch peer for %s", name)
	}
	args := []string{"bench/torch_baseline.py", "--arch", arch, "--images", *images, "--threads", strconv.Itoa(runtime.NumCPU()),
		"--device", *device, "--batch", "128"}
	if *device != "cpu" {
		args = append(args, "--autocast", "--channels-last")
	}
	cmd := exec.Command(*python, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("PyTorch peer: %v: %s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var r struct {
		ImgS float64 `json:"images_per_second"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return nil, fmt.Errorf("PyTorch peer output %q: %v", b, err)
	}
	return &peer{Backbone: name, ImgS: r.ImgS, Detail: lines[len(lines)-1]}, nil
}

func printTable(r *report) {
	fmt.Printf("\n# gpubench %s: %s, %s, %d cores; ONNX Runtime %s; %d images\n\n", r.Date.Format(time.RFC3339), r.Device, r.GPU, r.Cores, r.Runtime, r.Images)
	for _, p := range r.Parity {
		fmt.Printf("parity %s fp16=%v: max rel L2 %.2e, mean %.2e, max abs %.2e (%d photos, TF32 %s)\n", p.Backbone, p.FP16, p.MaxRelL2, p.MeanRelL2, p.MaxAbs, p.Images, p.TF32)
	}
	fmt.Println("\n| backbone | run | img/s | vs PyTorch | vs decode capacity | device busy / GPU util |")
	fmt.Println("|---|---|---|---|---|---|")
	torch := map[string]float64{}
	for _, t := range r.Torch {
		torch[t.Backbone] = t.ImgS
	}
	ratio := func(a, b float64) string {
		if b <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", a/b)
	}
	for _, x := range r.Raw {
		fmt.Printf("| %s | raw ORT %s batch %d | %.0f | %s | - | - |\n", x.Backbone, x.Precision, x.Batch, x.ImgS, ratio(x.ImgS, torch[x.Backbone]))
	}
	for _, x := range r.E2E {
		busy := "-"
		for k, v := range x.Summary {
			if strings.Contains(k, "busy") {
				busy = fmt.Sprint(v)
			}
		}
		fmt.Printf("| %s | end to end %s%s | %.0f | %s | %s | %s / %.0f%% |\n", x.Backbone, x.Precision, map[bool]string{true: " fast-decode"}[x.FastDecode],
			x.ImgS, ratio(x.ImgS, torch[x.Backbone]), ratio(x.ImgS, r.DecodeImgS[x.Backbone]), busy, x.GPUUtil)
	}
	var names []string
	for k := range r.DecodeImgS {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Printf("| %s | decode capacity (%d cores) | %.0f | - | - | - |\n", k, r.Cores, r.DecodeImgS[k])
	}
	for _, t := range r.Torch {
		fmt.Printf("| %s | PyTorch DataLoader | %.0f | 1.00x | - | - |\n", t.Backbone, t.ImgS)
	}
	for _, e := range r.Errors {
		fmt.Println("error:", e)
	}
}

func gpuName() string {
	b, err := exec.Command("nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
