package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/download"
	"github.com/featurizer/featurizer/internal/version"
	"github.com/featurizer/featurizer/jobs"
	"github.com/featurizer/featurizer/modelspec"
	"github.com/featurizer/featurizer/storage"
	"github.com/featurizer/featurizer/table"
)

// Exit codes, decided here and nowhere else.
const (
	exitOK          = 0
	exitFailure     = 1   // the job failed while running
	exitUsage       = 2   // bad flags or configuration
	exitInterrupted = 130 // stopped by Ctrl-C or SIGTERM
)

const usage = `featurizer turns images into feature vectors with pretrained backbones
(InceptionV3, ResNet-50, MobileNetV2, ... or your own ONNX model) on ONNX Runtime.

Usage:
  featurizer featurize --backbone NAME --input DIR|MANIFEST --output DIR [flags]
  featurizer predict   --backbone NAME --input DIR|MANIFEST --output DIR [--top-k 5]
  featurizer train     --features TABLE --output MODEL_DIR [--validation TABLE] [--test TABLE]
  featurizer predict   --model MODEL_DIR --input DIR|MANIFEST | --features TABLE --output DIR
  featurizer run       JOB.yaml [--set key=value ...]
  featurizer backbones [--models-dir DIR]
  featurizer show      [--rows N] TABLE_DIR
  featurizer version

Commands:
  featurize   write a Parquet feature table (path, label, label_index, features)
  predict     classify images with the backbone's own classifier (ImageNet),
              or with a head trained by 'featurizer train' (--model)
  train       train a classifier head on a feature table; write the model,
              its ONNX export and a report
  run         a whole job from a YAML file: featurize, train, evaluate;
              stages already up to date are skipped
  backbones   list the built-in backbones and whether their weights are present
  show        print a table's provenance, counts and first rows
  version     print the featurizer, ONNX Runtime and Go versions

Input is a directory (labels are the first-level folders: class/*.jpg) or a
CSV/Parquet manifest with a path column and an optional label column.

Run 'featurizer COMMAND --help' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr *os.File) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	ctx, stop := signalContext(stderr)
	defer stop()
	var err error
	switch args[0] {
	case "featurize":
		err = cmdJob(ctx, "featurize", args[1:], stdout, stderr)
	case "predict":
		err = cmdJob(ctx, "predict", args[1:], stdout, stderr)
	case "train":
		err = cmdTrain(ctx, args[1:], stdout, stderr)
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr)
	case "backbones":
		err = cmdBackbones(args[1:], stdout)
	case "version":
		err = cmdVersion(args[1:], stdout)
	case "show":
		err = cmdShow(args[1:], stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "featurizer: unknown command %q (expected featurize, predict, train, run, backbones, show or version)\n", args[0])
		return exitUsage
	}
	return exitCode(err, stderr)
}

// usageError is a bad command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// exitCode prints err as one line and maps it to the process exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "featurizer: stopped; committed part files were kept, no partial file was left")
		return exitInterrupted
	}
	fmt.Fprintf(stderr, "featurizer: %v\n", err)
	return exitCodeOf(err)
}

// exitCodeOf maps an error to its exit code by its cause, whichever
// command and stage reported it: a stage may call a failure configuration
// (an input it could not list, weights it could not get) when the cause
// was the network, a server or a wrong file on disk, and those are the
// job's failures.
func exitCodeOf(err error) int {
	var (
		usage    *usageError
		missing  *download.MissingError
		fetch    *download.Error
		checksum *download.ChecksumError
		config   *jobs.ConfigError
	)
	switch {
	case errors.As(err, &usage), errors.As(err, &missing):
		return exitUsage // the command line, or a file the user has to provide
	case errors.As(err, &fetch), errors.As(err, &checksum), errors.Is(err, storage.ErrUnavailable):
		return exitFailure // a server, the network or the file on disk failed the job
	case errors.As(err, &config):
		return exitUsage
	}
	return exitFailure
}

// signalContext is cancelled by the first SIGINT/SIGTERM: the job stops
// after the running batch. A second signal exits at once.
func signalContext(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		n := 0
		for range ch {
			n++
			if n == 1 {
				fmt.Fprintln(stderr, "\nfeaturizer: stopping after the current batch (signal again to quit now)")
				cancel()
				continue
			}
			os.Exit(exitInterrupted)
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

type jobFlags struct {
	fs       *flag.FlagSet
	shard    string
	common   jobs.Common
	topK     int
	model    string
	features string
	progress string
	quiet    bool
}

func newJobFlags(name string) *jobFlags {
	f := &jobFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs, c := f.fs, &f.common
	def := jobs.Defaults() // the same defaults as a job file's
	fs.StringVar(&c.Backbone, "backbone", "", "catalog name (see 'featurizer backbones') or path of an .onnx file (with --spec)")
	fs.StringVar(&c.Spec, "spec", "", "YAML spec of a model outside the catalog: input, preprocessing, feature tap")
	fs.StringVar(&c.Input, "input", "", "directory of images (class/*.jpg) or a .csv/.parquet manifest with a path column")
	fs.StringVar(&c.Output, "output", "", "output directory for the Parquet part files (a local path, dbfs:/, /Volumes/..., s3://, gs://, azblob:// or abfss://)")
	fs.BoolVar(&c.Overwrite, "overwrite", false, "replace a table already in --output")
	fs.StringVar(&c.ModelsDir, "models-dir", def.ModelsDir, "directory of model weights (env FEATURIZER_MODELS)")
	fs.BoolVar(&c.Offline, "offline", false, "never download missing weights")
	fs.StringVar(&c.ORTLib, "ort-lib", "", "path of libonnxruntime.so (default: env FEATURIZER_ORT_LIB, then the make setup cache)")
	fs.IntVar(&c.BatchSize, "batch-size", 0, "images per inference call (default 32 on cpu, 128 on a GPU)")
	fs.IntVar(&c.InFlight, "inflight", 0, "batches in inference at once, each with its own buffers (default 1 on cpu, 2 on a GPU: one batch's copy overlaps another's compute)")
	fs.StringVar(&c.Device, "device", def.Device, "cpu, cuda or tensorrt (ONNX Runtime's execution providers; cuda and tensorrt load the GPU runtime of make setup-gpu)")
	fs.IntVar(&c.DeviceID, "device-id", 0, "which GPU")
	fs.BoolVar(&c.FP16, "fp16", false, "half precision (with --device cuda or tensorrt)")
	fs.IntVar(&c.Workers, "workers", def.Workers, "image decoding goroutines")
	fs.IntVar(&c.Readers, "readers", 0, "reads in flight from object storage (default: 4 per worker, at least 16; local disk: the workers read)")
	fs.IntVar(&c.Threads, "threads", def.Threads, "ONNX Runtime intra-op threads")
	fs.Int64Var(&c.MaxPixels, "max-pixels", def.MaxPixels, "reject images with more pixels than this, before decoding")
	fs.Int64Var(&c.MaxBytes, "max-bytes", def.MaxBytes, "reject files larger than this many bytes, unread")
	fs.BoolVar(&c.FastDecode, "fast-decode", false, "decode large JPEGs at a reduced size (faster, no longer bit-exact with PIL)")
	fs.IntVar(&c.RowsPerPart, "rows-per-part", def.RowsPerPart, "inputs per Parquet part file")
	fs.StringVar(&f.shard, "shard", "", "i/n: be shard i of n processes writing the same table (default: JOB_COMPLETION_INDEX/JOB_COMPLETION_COUNT of a Kubernetes Indexed Job, else unsharded)")
	fs.StringVar(&f.progress, "progress", "auto", "auto (a bar on a terminal, timestamped lines otherwise), bar, log or none")
	fs.BoolVar(&f.quiet, "quiet", false, "print only errors and the final summary line")
	if name == "featurize" {
		fs.BoolVar(&c.Incremental, "incremental", false, "add to the complete table in --output: featurize only new and changed images (by path, size and ETag/modification time), drop the rows of changed and removed ones")
	}
	if name == "predict" {
		fs.IntVar(&f.topK, "top-k", jobs.DefaultTopK, "classes kept per image, best first")
		fs.StringVar(&f.model, "model", "", "a model directory from 'featurizer train': predict with its head instead of the backbone's classifier")
		fs.StringVar(&f.features, "features", "", "with --model: score this feature table instead of images")
	}
	return f
}

func (f *jobFlags) parse(args []string, stderr io.Writer) error {
	f.fs.SetOutput(io.Discard)
	f.fs.Usage = func() {}
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "Usage: featurizer %s --backbone NAME --input DIR|MANIFEST --output DIR [flags]\n\nFlags:\n", f.fs.Name())
			printFlags(stderr, f.fs)
			return flag.ErrHelp
		}
		return &usageError{fmt.Sprintf("%s: %v (see 'featurizer %s --help')", f.fs.Name(), err, f.fs.Name())}
	}
	if f.fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("%s: unexpected argument %q; inputs and outputs are given with --input and --output", f.fs.Name(), f.fs.Arg(0))}
	}
	c := &f.common
	if sh, err := shardFromFlagOrEnv(f.shard); err != nil {
		return err
	} else {
		c.Shard = sh
	}
	// The same checks as a job file's settings get, naming the flags.
	given := func(s string) bool { return flagSet(f.fs, strings.TrimPrefix(jobs.FlagKey(s), "--")) }
	if f.fs.Name() == "predict" {
		if err := (&jobs.PredictConfig{Common: *c, TopK: f.topK}).Validate(jobs.FlagKey, given); err != nil {
			return err
		}
	} else if err := c.Validate(jobs.FlagKey, given); err != nil {
		return err
	}
	switch f.progress {
	case "auto", "bar", "log", "none":
	default:
		return &usageError{fmt.Sprintf("--progress: expected auto, bar, log or none, got %q", f.progress)}
	}
	if f.features != "" {
		if f.model == "" {
			return &usageError{"--features needs --model: a feature table is scored by a trained head"}
		}
		if c.Input != "" {
			return &usageError{"give --input (images) or --features (a feature table), not both"}
		}
	} else if c.Input == "" {
		return &usageError{fmt.Sprintf("--input is required (see 'featurizer %s --help')", f.fs.Name())}
	}
	if c.Output == "" {
		return &usageError{fmt.Sprintf("--output is required (see 'featurizer %s --help')", f.fs.Name())}
	}
	if c.Backbone == "" && c.Spec == "" && f.model == "" {
		return &usageError{"--backbone is required: a catalog name such as mobilenetv2 (see 'featurizer backbones') or an .onnx file with --spec"}
	}
	return nil
}

func cmdJob(ctx context.Context, name string, args []string, stdout, stderr *os.File) error {
	f := newJobFlags(name)
	if err := f.parse(args, stderr); err != nil {
		return err
	}
	c := f.common
	logf := noteTo(stderr, f.quiet)
	c.Note = logf
	mode := f.progress
	if f.quiet {
		mode = "none"
	}
	prog := newProgress(stderr, mode, name)
	c.Progress = prog
	logf(fmt.Sprintf("%s: backbone %s, input %s, output %s", name, nonEmpty(nonEmpty(c.Backbone, c.Spec), "of model "+f.model), nonEmpty(c.Input, f.features), c.Output))
	var sum *jobs.Summary
	var err error
	if f.model != "" {
		sum, err = jobs.PredictModel(ctx, jobs.PredictModelConfig{Common: c, Model: f.model, Features: f.features, TopK: f.topK})
	} else if name == "predict" {
		sum, err = jobs.Predict(ctx, jobs.PredictConfig{Common: c, TopK: f.topK})
	} else {
		sum, err = jobs.Featurize(ctx, jobs.FeaturizeConfig{Common: c})
	}
	prog.Finish()
	if sum != nil {
		fmt.Fprintln(stdout, summaryLine(sum, err))
		if note := bottleneckNote(sum); note != "" && !f.quiet {
			fmt.Fprintln(stdout, note)
		}
	}
	return err
}

// bottleneckNote is one line when a GPU waited for decoded images for much
// of the run: where the time went and what to try.
func bottleneckNote(s *jobs.Summary) string {
	if !s.DecodeBound() {
		return ""
	}
	st := s.StageSeconds
	return fmt.Sprintf("note: decoding is the bottleneck: the GPU had a batch to run %.0f%% of the time and waited %.0f%% for decoded images "+
		"(read %.1fs, decode %.1fs, preprocess %.1fs summed over %d workers, in %.1fs); "+
		"try more --workers (up to the cores), --fast-decode for large JPEGs, or more CPU cores",
		100*s.InferBusyShare, 100*s.InferWaitDataShare, st["read"], st["decode"], st["preprocess"], s.Workers, s.WallSeconds)
}

func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func summaryLine(s *jobs.Summary, err error) string {
	state := "done"
	if err != nil {
		state = "stopped"
	}
	var stages []string
	for _, st := range []string{"read", "decode", "preprocess", "infer", "features"} {
		if n := s.RejectedByStage[st]; n > 0 {
			stages = append(stages, fmt.Sprintf("%s %d", st, n))
		}
	}
	rej := fmt.Sprintf("%d rejected", s.Rejected)
	if len(stages) > 0 {
		rej += " (" + strings.Join(stages, ", ") + ")"
	}
	line := fmt.Sprintf("%s %s: %d images -> %d rows, %s, %d non-image files skipped, in %.1fs (%.1f img/s) -> %s",
		s.Command, state, s.Inputs, s.Rows, rej, s.Skipped, s.WallSeconds, s.ImagesPerSecond, s.Output)
	if i := s.Incremental; i != nil {
		line += fmt.Sprintf(" (incremental generation %d: %d new, %d changed, %d removed, %d unchanged",
			i.Generation, i.New, i.Changed, i.Removed, i.Unchanged)
		if i.TableRows > 0 {
			line += fmt.Sprintf("; the table has %d rows", i.TableRows)
		}
		line += ")"
	}
	return line
}

func cmdBackbones(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("backbones", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("models-dir", download.DefaultModelsDir(), "directory of model weights (env FEATURIZER_MODELS)")
	asJSON := fs.Bool("json", false, "print the full catalog as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage: featurizer backbones [--models-dir DIR] [--json]")
			return flag.ErrHelp
		}
		return &usageError{fmt.Sprintf("backbones: %v", err)}
	}
	cat := modelspec.Catalog()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(cat)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tALIASES\tDIM\tINPUT\tRESIZE\tNORMALIZE\tWEIGHTS")
	for _, s := range cat {
		resize := "squash"
		if s.Resize.Policy == "crop" {
			resize = fmt.Sprintf("crop %d", s.Resize.Size)
		}
		n := s.Normalize
		norm := fmt.Sprintf("/%g -%v /%v", n.Scale, n.Mean, n.Std)
		weights := "missing: "
		if _, err := os.Stat(filepath.Join(*dir, s.File)); err == nil {
			weights = "present"
		} else if s.URL != "" {
			weights += "downloads on first use"
		} else {
			weights += "export it (see --json: export)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s %dx%d %s\t%s\t%s\t%s\n", s.Name, strings.Join(s.Aliases, ","), s.Features.Dim,
			s.Input.Layout, s.Input.Size[0], s.Input.Size[1], s.Input.Color, resize, norm, weights)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nmodels directory: %s\n", *dir)
	return nil
}

func cmdVersion(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	lib := fs.String("ort-lib", "", "path of libonnxruntime.so")
	device := fs.String("device", "cpu", "load the runtime this device uses (cpu, cuda or tensorrt)")
	if err := fs.Parse(args); err != nil {
		return &usageError{fmt.Sprintf("version: %v", err)}
	}
	pinned := version.ONNXRuntime
	switch *device {
	case backbones.DeviceCPU:
	case backbones.DeviceCUDA, backbones.DeviceTensorRT:
		pinned = backbones.ORTGPUVersion
	default:
		return &usageError{fmt.Sprintf("version: --device: expected cpu, cuda or tensorrt, got %q", *device)}
	}
	fmt.Fprintf(stdout, "featurizer %s\n", version.Tool())
	if err := backbones.InitRuntimeFor(*lib, *device); err != nil {
		fmt.Fprintf(stdout, "onnxruntime not loaded: %v\n", err)
	} else {
		v, p, _ := backbones.RuntimeInfo()
		fmt.Fprintf(stdout, "onnxruntime %s (%s; pinned %s)\n", v, p, pinned)
	}
	// Both runtimes, loaded or not: where each is and whether it is the
	// pinned build.
	for _, r := range backbones.Runtimes() {
		if !r.Installed {
			fmt.Fprintf(stdout, "runtime for --device %s: %s\n", r.Devices, r.Note)
			continue
		}
		fmt.Fprintf(stdout, "runtime for --device %s: %s: %s (pinned: ONNX Runtime %s)\n", r.Devices, r.Path, r.Note, r.Pinned)
	}
	fmt.Fprintf(stdout, "go %s %s/%s\n", version.Go(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// printFlags lists flags GNU style (--name), with their defaults.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n      %s%s\n", line, usage, def)
	})
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// shardFromFlagOrEnv reads --shard, else a Kubernetes Indexed Job's
// JOB_COMPLETION_INDEX with JOB_COMPLETION_COUNT (set in the manifest).
func shardFromFlagOrEnv(v string) (table.Shard, error) {
	if v != "" {
		s, err := table.ParseShard(v)
		if err != nil {
			return s, &usageError{err.Error()}
		}
		return s, nil
	}
	idx, cnt := os.Getenv("JOB_COMPLETION_INDEX"), os.Getenv("JOB_COMPLETION_COUNT")
	if idx == "" {
		return table.Shard{}, nil
	}
	if cnt == "" {
		return table.Shard{}, &usageError{"JOB_COMPLETION_INDEX is set but JOB_COMPLETION_COUNT is not: set it to the job's completions (or pass --shard i/n)"}
	}
	s, err := table.ParseShard(idx + "/" + cnt)
	if err != nil {
		return s, &usageError{fmt.Sprintf("JOB_COMPLETION_INDEX/JOB_COMPLETION_COUNT: %v", err)}
	}
	return s, nil
}

// parseInterleaved parses flags that may come before or after the
// positional arguments, which it returns.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// noteTo prints timestamped log lines on w, unless quiet.
func noteTo(w io.Writer, quiet bool) func(string) {
	return func(msg string) {
		if !quiet {
			fmt.Fprintf(w, "%s %s\n", time.Now().UTC().Format(time.RFC3339), msg)
		}
	}
}
