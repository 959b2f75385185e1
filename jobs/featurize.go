package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/download"
	"github.com/featurizer/featurizer/featurize"
	"github.com/featurizer/featurizer/inputs"
	"github.com/featurizer/featurizer/internal/memstat"
	"github.com/featurizer/featurizer/internal/version"
	"github.com/featurizer/featurizer/storage"
	"github.com/featurizer/featurizer/table"
)

// Common is what featurize and predict share.
type Common struct {
	Backbone  string // catalog name or .onnx path
	Spec      string // spec file for a model outside the catalog
	ModelsDir string // default: download.DefaultModelsDir()
	Offline   bool   // never download weights
	ORTLib    string // ONNX Runtime library; default: found by backbones.FindORTLibrary

	Input     string
	Output    string
	Overwrite bool

	// The defaults of these settings are Defaults' (see defaults, and
	// Validate for their ranges).
	BatchSize   int // default 32 on CPU, 128 on a GPU
	InFlight    int // batches in inference at once; default 1 on CPU, 2 on a GPU
	Device      string
	DeviceID    int
	FP16        bool
	Workers     int // decode workers; default one per core
	Readers     int // reads in flight from object storage; default 4 per worker, at least 16
	Threads     int // ONNX Runtime intra-op threads; default one per core
	MaxPixels   int64
	MaxBytes    int64
	FastDecode  bool
	RowsPerPart int // inputs per part file; default table.DefaultRowsPerPart

	Progress featurize.Progress
	// Note receives one-line messages for the log; nil drops them.
	Note func(string)
	// StageKey is recorded in the manifest (see table.Manifest.StageKey).
	StageKey string
	// Shard makes this run one of several writing the same table: it
	// takes the inputs whose path hashes to its index and writes its own
	// parts; the last shard to finish writes the manifest.
	Shard table.Shard
	// Incremental adds to a complete table in Output: only inputs that are
	// new or changed (path, size, ETag/modification time) are featurized,
	// rows of changed or removed inputs are dropped. A table made with
	// other settings is started over when Overwrite is set, else refused.
	Incremental bool
	// Identity is what else decides the rows, beyond the backbone and the
	// settings (a trained head's hash): it is part of the job's identity,
	// which decides who may write into the same output (table.Job).
	Identity string
}

// FeaturizeConfig configures a featurize job.
type FeaturizeConfig struct {
	Common
}

// PredictConfig configures a prediction with the backbone's classifier.
type PredictConfig struct {
	Common
	TopK int // default DefaultTopK
}

// Summary is the outcome of a job, written as _summary.json.
type Summary struct {
	Command         string             `json:"command"`
	Backbone        string             `json:"backbone"`
	Input           string             `json:"input"`
	Output          string             `json:"output"`
	Inputs          int64              `json:"inputs"`
	Rows            int64              `json:"rows"`
	Rejected        int64              `json:"rejected"`
	RejectedByStage map[string]int64   `json:"rejected_by_stage"`
	Skipped         int64              `json:"skipped_non_images"`
	SkippedExamples []string           `json:"skipped_examples,omitempty"`
	FeatureDim      int                `json:"feature_dim,omitempty"`
	BatchSize       int                `json:"batch_size"`
	Workers         int                `json:"workers"`
	Threads         int                `json:"threads"`
	Device          string             `json:"device"`
	InFlight        int                `json:"inflight"`
	WallSeconds     float64            `json:"wall_seconds"`
	ImagesPerSecond float64            `json:"images_per_second"`
	StageSeconds    map[string]float64 `json:"stage_seconds"`
	Batches         int64              `json:"batches"`
	BytesRead       int64              `json:"bytes_read"`
	PeakRSSMiB      float64            `json:"peak_rss_mib"`
	Incremental     *IncrementalStats  `json:"incremental,omitempty"`
	Started         time.Time          `json:"started"`
	Finished        time.Time          `json:"finished"`

	// InferBusyShare is the share of the wall time during which an
	// inference call was running (on a GPU: the device had work);
	// InferWaitDataShare the share during which inference could take
	// another batch but decoding had none ready.
	InferBusyShare     float64 `json:"infer_busy_share"`
	InferWaitDataShare float64 `json:"infer_wait_data_share"`
	InferMaxConcurrent int     `json:"infer_max_concurrent"` // calls seen running at once, at most
}

// IncrementalStats says what an incremental run found.
type IncrementalStats struct {
	Generation int   `json:"generation"`
	Unchanged  int64 `json:"unchanged"`
	New        int64 `json:"new"`
	Changed    int64 `json:"changed"`
	Removed    int64 `json:"removed"`
	TableRows  int64 `json:"table_rows,omitempty"` // unsharded runs
}

func (c *Common) note(format string, args ...any) {
	if c.Note != nil {
		c.Note(fmt.Sprintf(format, args...))
	}
}

// DecodeBound reports whether the device waited for decoded images for
// most of its idle time on a GPU: decoding, not the GPU, set the pace.
// On the CPU decoding and inference share the cores, so it says nothing.
func (s *Summary) DecodeBound() bool {
	gpu := s.Device == backbones.DeviceCUDA || s.Device == backbones.DeviceTensorRT
	idle := 1 - s.InferBusyShare
	return gpu && s.Batches >= 4 && s.InferBusyShare < 0.8 && s.InferWaitDataShare >= idle/2
}

// ConfigError is a problem with the job's configuration (exit code 2).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// setup is the shared front half of a job: backbone, engine, input, and
// the output's table.Writer (its lease, its parts, its manifest).
type setup struct {
	inc    *incremental
	bb     *backbones.Backbone
	eng    *backbones.Engine
	runner featurize.Runner // what the pipeline runs: eng, or eng followed by a head
	src    *inputs.Source
	prov   table.Provenance
	start  time.Time
	out    storage.Store
	w      *table.Writer
}

func (c *Common) setup(ctx context.Context, logits, features bool) (*setup, error) {
	c.defaults()
	s := &setup{start: time.Now()}
	if c.Input == "" {
		return nil, &ConfigError{errors.New("input: no input given (a directory of images or a .csv/.parquet manifest)")}
	}
	if c.Output == "" {
		return nil, &ConfigError{errors.New("output: no output directory given")}
	}
	src, err := inputs.Open(ctx, nil, c.Input)
	if err != nil {
		return nil, &ConfigError{err}
	}
	s.src = src
	store := &download.Store{Dir: c.ModelsDir, Offline: c.Offline, Note: c.Note}
	bb, err := backbones.Resolve(ctx, backbones.ResolveOptions{Name: c.Backbone, SpecPath: c.Spec, Store: store, Classes: logits})
	if err != nil {
		// Which failures are the user's (exit 2) and which the job's
		// (a download, a checksum: exit 1) is decided by the cause, in cmd.
		return nil, &ConfigError{err}
	}
	s.bb = bb
	if logits && bb.Spec.Classifier == nil {
		return nil, &ConfigError{fmt.Errorf("backbone %s has no classifier in its spec; predict needs one", bb.Spec.Name)}
	}
	if err := backbones.InitRuntimeFor(c.ORTLib, c.Device); err != nil {
		return nil, err
	}
	eng, err := backbones.NewEngine(bb, backbones.EngineOptions{Threads: c.Threads, Logits: logits, NoFeatures: !features,
		Device: c.Device, DeviceID: c.DeviceID, FP16: c.FP16})
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", bb.Spec.Name, err)
	}
	s.eng = eng
	if logits && len(bb.Classes) > 0 && len(bb.Classes) != eng.NumClasses() {
		eng.Close()
		return nil, &ConfigError{fmt.Errorf("classifier.classes: %d class names for %d model outputs", len(bb.Classes), eng.NumClasses())}
	}
	tap := eng.Tap()
	if features {
		if tap.Reason != "" {
			c.note("feature tap found automatically: %s = %s (%d values)", tap.Tensor, tap.Reason, eng.FeatureDim())
		} else {
			c.note("feature tap: %s, %s pooling (%d values)", tap.Tensor, tap.Pooling, eng.FeatureDim())
		}
	}
	if c.Shard.Sharded() {
		src.SetShard(c.Shard.Index, c.Shard.Count)
	}
	if s.out, err = storage.Open(ctx, c.Output); err != nil {
		eng.Close()
		return nil, &ConfigError{fmt.Errorf("output: %w", err)}
	}
	s.prov = table.Provenance{
		Tool: "featurizer", ToolVersion: version.Tool(),
		Backbone: bb.Spec.Name, WeightsFile: filepath.Base(bb.WeightsPath), WeightsSHA256: bb.WeightsSHA256,
		Preprocessing: bb.Spec.Preprocessing(),
		Labels:        src.Labels,
		FastDecode:    c.FastDecode,
		MaxPixels:     c.MaxPixels,
		MaxBytes:      c.MaxBytes,
	}
	if c.FP16 {
		s.prov.Precision = "fp16"
	}
	if features {
		s.prov.FeatureTensor, s.prov.FeaturePooling, s.prov.FeatureDim = tap.Tensor, tap.Pooling, eng.FeatureDim()
	}
	if s.prov.Labels == nil {
		s.prov.Labels = []string{}
	}
	// One job at a time writes into the output: the lease comes before
	// anything in it changes.
	kind := "features"
	if logits {
		kind = "predictions"
	}
	if s.w, err = c.openWriter(ctx, s.out, table.WriterOptions{Kind: kind, Input: c.Input, Provenance: s.prov, Shard: c.Shard}); err != nil {
		s.close()
		return nil, err
	}
	featureTable := features && !logits
	var base *table.Manifest
	if featureTable {
		if s.inc, err = s.incremental(ctx, c); err != nil {
			s.close()
			return nil, err
		}
		if s.inc != nil {
			base = s.inc.base
		}
	}
	if err := c.prepare(ctx, s.w, base, featureTable); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// openWriter takes the output's lease for the job (table.NewWriter):
// another job's lease is refused (exit 2); a lost lease later stops the
// run (runJob).
// o says what the table is; the job's settings fill in the rest.
func (c *Common) openWriter(ctx context.Context, out storage.Store, o table.WriterOptions) (*table.Writer, error) {
	o.RowsPerPart, o.Overwrite, o.Identity, o.StageKey, o.Note = c.RowsPerPart, c.Overwrite, c.Identity, c.StageKey, c.Note
	w, err := table.NewWriter(ctx, out, o)
	if err != nil {
		var be *table.BusyError
		if errors.As(err, &be) {
			return nil, &ConfigError{fmt.Errorf("output: %w", err)}
		}
		return nil, fmt.Errorf("output: %w", err)
	}
	return w, nil
}

// prepare readies the leased output for this run's parts and finds the
// parts of an interrupted run to resume (table.Writer.Prepare); what is in
// the way is the user's to decide (exit 2). featureTable says whether
// --incremental may be suggested when a complete table is in the way.
func (c *Common) prepare(ctx context.Context, w *table.Writer, base *table.Manifest, featureTable bool) error {
	err := w.Prepare(ctx, base)
	var se *table.SettingsError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, table.ErrOutputExists):
		if !c.Incremental && featureTable {
			err = fmt.Errorf("%w (or --incremental to add new and changed images)", err)
		}
		return &ConfigError{fmt.Errorf("output: %w", err)}
	case errors.As(err, &se):
		return &ConfigError{fmt.Errorf("output: %w", err)}
	}
	return fmt.Errorf("output: %w", err)
}

// close gives the output's lease up (table.Writer.Close), releases the
// engine and the output's bucket.
func (s *setup) close() {
	if s.w != nil {
		s.w.Close()
	}
	if s.eng != nil {
		s.eng.Close()
	}
	if s.out != nil {
		s.out.Close()
	}
}

// skip passes over inputs of committed parts, checking that the listing
// still starts and ends each of them where the interrupted run did.
func (s *setup) skip() func(inputs.Item) (bool, error) {
	if s.w == nil {
		return nil
	}
	skip := s.w.Skip()
	if skip == nil {
		return nil
	}
	return func(it inputs.Item) (bool, error) {
		ok, err := skip(it.Seq, it.Path)
		if err != nil {
			return false, &ConfigError{fmt.Errorf("input: %w", err)}
		}
		return ok, nil
	}
}

// fileSHA256 is the hex SHA-256 of a file ("" if unreadable).
func fileSHA256(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// finish records the run: the summary, then the manifest and _SUCCESS
// (table.Writer.Finish). parts are every part of the table (this shard's).
func finish(ctx context.Context, w *table.Writer, inc *incremental, sum *Summary, parts, rejects []table.PartInfo) (*Summary, error) {
	f := table.Finishing{Parts: parts, RejectParts: rejects, Summary: sum}
	if inc != nil {
		if w.Shard().Sharded() {
			f.Drop = inc.drop(w.Shard()) // applied by the last shard to finish
			f.Complete = inc.complete(ctx, w.Store())
		} else {
			var rows int64
			for _, p := range parts {
				rows += int64(p.Rows)
			}
			inc.stats.TableRows = rows
		}
		sum.Incremental = &inc.stats
	}
	return sum, w.Finish(ctx, f)
}

func (s *setup) summary(c *Common, command string, st *featurize.Stats) *Summary {
	return newSummary(c, command, s.prov, s.start, s.src, st)
}

func newSummary(c *Common, command string, prov table.Provenance, start time.Time, src *inputs.Source, st *featurize.Stats) *Summary {
	sum := &Summary{
		Command: command, Backbone: prov.Backbone, Input: c.Input, Output: c.Output,
		Inputs: st.Rows + st.Rejected, Rows: st.Rows, Rejected: st.Rejected, RejectedByStage: st.ByStage,
		FeatureDim: prov.FeatureDim, BatchSize: c.BatchSize, Workers: c.Workers, Threads: c.Threads,
		Device: c.Device, InFlight: c.InFlight,
		WallSeconds: round3(st.WallSec), ImagesPerSecond: round3(st.ImgPerSec), StageSeconds: roundMap(st.StageSec),
		InferBusyShare: round3(st.InferBusyShare), InferWaitDataShare: round3(st.InferWaitShare), InferMaxConcurrent: st.MaxInFlight,
		Batches: st.Batches, BytesRead: st.BytesRead, PeakRSSMiB: round3(float64(memstat.PeakRSS()) / (1 << 20)),
		Started: start.UTC(), Finished: time.Now().UTC(),
	}
	if src != nil {
		sum.Skipped, sum.SkippedExamples = src.Skipped, src.SkippedExamples
	}
	return sum
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func roundMap(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		out[k] = round3(v)
	}
	return out
}

func (s *setup) options(c *Common) featurize.Options {
	return featurize.Options{BatchSize: c.BatchSize, InFlight: c.InFlight, Workers: c.Workers, MaxPixels: c.MaxPixels, MaxBytes: c.MaxBytes,
		FastDecode: c.FastDecode, Readers: c.Readers, Progress: c.Progress, Skip: s.skip(), Store: s.src.Store()}
}

// Featurize runs a featurize job.
func Featurize(ctx context.Context, c FeaturizeConfig) (*Summary, error) {
	s, err := c.setup(ctx, false, true)
	if err != nil {
		return nil, err
	}
	defer s.close()
	return runJob(ctx, s, &c.Common, "featurize", func(r featurize.Result) table.FeatureRow {
		row := table.FeatureRow{Path: r.Item.Path, Features: r.Features}
		if r.Item.HasLabel {
			l, i := r.Item.Label, s.src.LabelIndex(r.Item.Label)
			row.Label, row.LabelIndex = &l, &i
		}
		return row
	})
}

// runJob runs the pipeline into part files of rows made by toRow, then
// writes the summary, manifest and _SUCCESS; on failure or a stop, the part
// in progress is removed and committed parts stay.
func runJob[T any](ctx context.Context, s *setup, c *Common, command string, toRow func(featurize.Result) T) (*Summary, error) {
	// A lost lease stops the pipeline like a signal, but fails the job.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.w.OnLost(cancel)
	if err := s.w.Lost(); err != nil {
		return nil, err
	}
	sink := newPartSink(ctx, s.w, toRow)
	runner := s.runner
	if runner == nil {
		runner = s.eng
	}
	st, err := featurize.Run(ctx, s.src, runner, s.bb.Spec.Preprocessing(), sink, s.options(c))
	if err == nil {
		err = sink.close()
	}
	if lost := s.w.Lost(); lost != nil {
		err = lost
	}
	if err != nil {
		sink.abort()
		return s.summary(c, command, st), err
	}
	parts, rejects := s.w.Parts() // the resumed ones included
	rows, rejected := s.w.Resumed()
	st.Rows += rows
	st.Rejected += rejected
	if s.inc != nil && !c.Shard.Sharded() {
		base, baseRejects, err := s.inc.apply(ctx, s.out, s.inc.drop(c.Shard))
		if err != nil {
			return s.summary(c, command, st), err
		}
		parts, rejects = append(parts, base...), append(rejects, baseRejects...)
		sort.Slice(parts, func(i, j int) bool { return parts[i].File < parts[j].File })
		sort.Slice(rejects, func(i, j int) bool { return rejects[i].File < rejects[j].File })
	}
	return finish(ctx, s.w, s.inc, s.summary(c, command, st), parts, rejects)
}

// Predict classifies images with the backbone's own classifier.
func Predict(ctx context.Context, c PredictConfig) (*Summary, error) {
	c.defaults()
	s, err := c.setup(ctx, true, false)
	if err != nil {
		return nil, err
	}
	defer s.close()
	softmax := s.bb.Spec.Classifier.Activation == "logits"
	return runJob(ctx, s, &c.Common, "predict", predictionRow(softmax, s.bb.Classes, min(c.TopK, s.eng.NumClasses())))
}

// predictionRow makes the row of one image's result from its scores (see
// PredictRow): every prediction table's rows are made here.
func predictionRow(softmax bool, classes []string, k int) func(featurize.Result) table.PredictionRow {
	return func(r featurize.Result) table.PredictionRow {
		row := PredictRow(r.Logits, softmax, classes, k)
		row.Path = r.Item.Path
		if r.Item.HasLabel {
			l := r.Item.Label
			row.Label = &l
		}
		return row
	}
}

// PredictRow ranks one image's scores. Ties break to the lower class index.
// With softmax set the scores are logits and become probabilities.
func PredictRow(scores []float32, softmax bool, classes []string, k int) table.PredictionRow {
	probs := make([]float32, len(scores))
	if softmax {
		m := math.Inf(-1)
		for _, v := range scores {
			m = math.Max(m, float64(v))
		}
		var sum float64
		for _, v := range scores {
			sum += math.Exp(float64(v) - m)
		}
		for i, v := range scores {
			probs[i] = float32(math.Exp(float64(v)-m) / sum)
		}
	} else {
		copy(probs, scores)
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	// Rank by the raw scores (softmax is monotonic, and two different logits
	// may round to the same float32 probability).
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	name := func(i int) string {
		if i < len(classes) {
			return classes[i]
		}
		return fmt.Sprint(i)
	}
	row := table.PredictionRow{TopK: make([]table.TopK, 0, k)}
	for _, i := range idx[:k] {
		row.TopK = append(row.TopK, table.TopK{Index: int32(i), Label: name(i), Probability: probs[i]})
	}
	best := idx[0]
	row.Prediction, row.PredictionIndex, row.Probability = name(best), int32(best), probs[best]
	return row
}
