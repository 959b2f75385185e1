// Package jobs runs whole jobs from a configuration: featurize a set of
// images into a feature table, or predict classes with a backbone's own
// classifier. The cmd layer only parses flags into these configs.
package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/featurizer/featurizer/backbones"
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
	ModelsDir string // default: backbones.DefaultModelsDir()
	Offline   bool   // never download weights
	ORTLib    string // ONNX Runtime library; default: found by backbones.FindORTLibrary

	Input     string
	Output    string
	Overwrite bool

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
	RowsPerPart int // inputs per part file; default 10000

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
	TopK int // default 5
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

func (c *Common) defaults() {
	if c.BatchSize <= 0 {
		c.BatchSize = backbones.DefaultBatchSize(c.Device)
	}
	if c.InFlight <= 0 {
		c.InFlight = DefaultInFlight(c.Device)
	}
	if c.Workers <= 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.Threads <= 0 {
		c.Threads = runtime.NumCPU()
	}
	if c.RowsPerPart <= 0 {
		c.RowsPerPart = 10000
	}
	if c.ModelsDir == "" {
		c.ModelsDir = backbones.DefaultModelsDir()
	}
	// The limits in effect are recorded in the provenance: a run with the
	// defaults and one that names them are the same job.
	if c.MaxPixels == 0 {
		c.MaxPixels = featurize.DefaultMaxPixels
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = featurize.DefaultMaxBytes
	}
}

// DefaultInFlight is how many batches are in inference at once by default:
// on a GPU two, so that one batch's copy and the host's part of its call
// overlap another's compute; on the CPU one, as a second call would only
// compete for the same cores (measured: no gain).
func DefaultInFlight(device string) int {
	if device == backbones.DeviceCUDA || device == backbones.DeviceTensorRT {
		return 2
	}
	return 1
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

// setup is the shared front half of a job: backbone, engine, input, output.
type setup struct {
	committed map[int]table.Committed // parts of an interrupted run, resumed
	inc       *incremental
	bb        *backbones.Backbone
	eng       *backbones.Engine
	runner    featurize.Runner // what the pipeline runs: eng, or eng followed by a head
	src       *inputs.Source
	prov      table.Provenance
	start     time.Time
	out       storage.Dir

	// The output's lease (see table.AcquireLease): this run's job and
	// run id, carried in every part's footer.
	job   table.Job
	lease *table.Held
	run   table.RunInfo
	// shareLease: a sharded run that has begun leaves the lease to its
	// other shards when it ends (the last to finish removes it).
	shareLease bool
	// recorded: this shard's record is written; its entry in the lease
	// stays until it is stale (a write now could bring back the lease the
	// last shard has just removed).
	recorded  bool
	mu        sync.Mutex
	cancelRun context.CancelCauseFunc // stops the pipeline if the lease is lost
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
	store := &backbones.Store{Dir: c.ModelsDir, Offline: c.Offline, Note: c.Note}
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
	if s.out, err = storage.OpenDir(ctx, c.Output); err != nil {
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
	if err := s.lock(ctx, c, table.Job{Kind: kind, Input: c.Input, Provenance: s.prov, RowsPerPart: c.RowsPerPart, Shards: max(c.Shard.Count, 1), Identity: c.Identity}); err != nil {
		s.close()
		return nil, err
	}
	if features && !logits {
		if s.inc, err = s.incremental(ctx, c); err != nil {
			s.close()
			return nil, err
		}
	}
	po := table.PrepareOptions{Shard: c.Shard, Overwrite: c.Overwrite, Run: s.run, Creator: s.lease.Created()}
	if s.inc != nil {
		po.Base = s.inc.base
	}
	if err := s.prepareOutput(ctx, c, po, features && !logits); err != nil {
		s.close()
		return nil, err
	}
	s.shareLease = c.Shard.Sharded()
	if s.committed, err = table.ScanCommitted(ctx, s.out, c.Shard); err != nil {
		s.close()
		return nil, err
	}
	if len(s.committed) > 0 {
		want := s.footer()[table.MetadataKey]
		n := 0
		for _, cp := range s.committed {
			var diff []string
			if cp.Job != nil {
				diff = cp.Job.Diff(s.job)
			} else if cp.Provenance != want || cp.Inputs.RowsPerPart != c.RowsPerPart {
				diff = []string{"written by another version"}
			}
			if len(diff) > 0 {
				s.close()
				return nil, &ConfigError{fmt.Errorf("output: %s holds parts of an interrupted run with other settings (%s: %s); pass --overwrite to start over",
					c.Output, cp.Part.File, strings.Join(diff, "; "))}
			}
			n += cp.Part.Rows
		}
		c.note("resuming: %d parts (%d rows) of an interrupted run are kept", len(s.committed), n)
	}
	return s, nil
}

// lock takes the output's lease for job (table.AcquireLease): another
// job's lease is refused (exit 2); a lost lease later stops the run.
func (s *setup) lock(ctx context.Context, c *Common, job table.Job) error {
	s.job = job
	lo := table.LeaseOptions{Job: job, TakeOver: c.Overwrite}
	if c.Shard.Sharded() {
		lo.Shard = c.Shard.String()
	}
	var err error
	if s.lease, err = table.AcquireLease(ctx, s.out, lo); err != nil {
		var be *table.BusyError
		if errors.As(err, &be) {
			return &ConfigError{fmt.Errorf("output: %w", err)}
		}
		return fmt.Errorf("output: %w", err)
	}
	s.run = table.NewRunInfo(job, s.lease.Run())
	s.lease.Keep(s.leaseLost)
	return nil
}

// prepareOutput readies the leased output for this run's parts
// (table.Prepare) and then lets the run's other processes commit.
// featureTable says whether --incremental may be suggested when a complete
// table is in the way.
func (s *setup) prepareOutput(ctx context.Context, c *Common, po table.PrepareOptions, featureTable bool) error {
	if err := table.Prepare(ctx, s.out, po); err != nil {
		if errors.Is(err, table.ErrOutputExists) {
			if !c.Incremental && featureTable {
				err = fmt.Errorf("%w (or --incremental to add new and changed images)", err)
			}
			return &ConfigError{fmt.Errorf("output: %w", err)}
		}
		return fmt.Errorf("output: %w", err)
	}
	if s.inc != nil {
		// From here until the new manifest the table is being changed.
		if err := s.out.Remove(ctx, table.SuccessFile); err != nil {
			return err
		}
	}
	if s.lease.Created() {
		// The run's other processes may commit now.
		if err := s.lease.MarkPrepared(ctx); err != nil {
			return fmt.Errorf("output: %w", err)
		}
	}
	return nil
}

// close releases the engine, the output's lease (a sharded run that has
// begun leaves it to its other shards) and the output's bucket.
func (s *setup) close() {
	if s.lease != nil {
		ctx := context.Background()
		switch {
		case s.job.Shards <= 1 || (s.lease.Created() && !s.shareLease):
			s.lease.Release(ctx) // (a no-op once the table is complete)
		case s.recorded:
			s.lease.Stop()
		default:
			s.lease.Leave(ctx) // the other shards, or this one's rerun, go on with the run
		}
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
func (s *setup) skip(c *Common) func(inputs.Item) (bool, error) {
	if len(s.committed) == 0 {
		return nil
	}
	per := int64(c.RowsPerPart)
	return func(it inputs.Item) (bool, error) {
		k := int(it.Seq / per)
		cp, ok := s.committed[k]
		if !ok {
			return false, nil
		}
		off := it.Seq - int64(k)*per
		if (off == 0 && it.Path != cp.Inputs.First) || (off == cp.Inputs.Inputs-1 && it.Path != cp.Inputs.Last) || off >= cp.Inputs.Inputs {
			return false, &ConfigError{fmt.Errorf("input: %s changed since the interrupted run (part %s began with %s, ended with %s); pass --overwrite to start over",
				c.Input, cp.Part.File, cp.Inputs.First, cp.Inputs.Last)}
		}
		return true, nil
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

// leaseLost stops the run: another job took the output over.
func (s *setup) leaseLost(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancelRun != nil {
		s.cancelRun(err)
	}
}

// lost is the error of a lost lease, or nil.
func (s *setup) lost() error {
	if s.lease == nil {
		return nil
	}
	return s.lease.Lost()
}

func (s *setup) footer() map[string]string {
	b, _ := json.Marshal(s.prov)
	m := map[string]string{
		table.MetadataKey:           string(b),
		"featurizer.backbone":       s.prov.Backbone,
		"featurizer.weights_sha256": s.prov.WeightsSHA256,
		"featurizer.preprocessing":  s.prov.Preprocessing.JSON(),
		"featurizer.tool_version":   s.prov.ToolVersion,
	}
	if s.prov.FeatureDim > 0 {
		m["featurizer.feature_dim"] = fmt.Sprint(s.prov.FeatureDim)
	}
	if s.run.Run != "" {
		m[table.RunKey] = s.run.JSON()
	}
	return m
}

// finish writes the summary, the manifest and _SUCCESS, in that order.
func (s *setup) finish(ctx context.Context, c *Common, command, kind string, st *featurize.Stats, parts, rejects []table.PartInfo) (*Summary, error) {
	sum := s.summary(c, command, st)
	var rows, rejected int64
	for _, p := range parts {
		rows += int64(p.Rows)
	}
	for _, p := range rejects {
		rejected += int64(p.Rows)
	}
	gen := 0
	var drop []string
	if s.inc != nil {
		gen = s.inc.gen
		if c.Shard.Sharded() {
			drop = s.inc.drop(c.Shard) // applied by the last shard to finish
		} else {
			s.inc.stats.TableRows = rows
		}
		sum.Incremental = &s.inc.stats
	}
	summaryFile := table.SummaryFile
	if c.Shard.Sharded() {
		summaryFile = fmt.Sprintf("_summary-s%03d.json", c.Shard.Index)
	}
	if err := s.lost(); err != nil {
		return sum, err
	}
	ctx = context.WithoutCancel(ctx) // the run's work is done: record it
	if err := table.WriteJSON(ctx, s.out, summaryFile, sum); err != nil {
		return sum, fmt.Errorf("write summary: %w", err)
	}
	m := table.Manifest{Format: table.ManifestFormat, Kind: kind, Provenance: s.prov, Input: c.Input, Parts: parts, RejectParts: rejects,
		Rows: rows, Rejected: rejected, Created: time.Now().UTC(), StageKey: c.StageKey, Generation: gen,
		Job: s.run.Job, Run: s.run.Run, Shards: max(c.Shard.Count, 1)}
	if m.RejectParts == nil {
		m.RejectParts = []table.PartInfo{}
	}
	fo := table.FinishOptions{Overwrite: c.Overwrite, Run: s.run.Run, Lease: s.lease}
	if c.Shard.Sharded() {
		var complete func([]table.Manifest, *table.Manifest) error
		if s.inc != nil {
			m.Drop = drop
			complete = s.inc.complete(ctx, s.out)
		}
		last, err := table.ShardDoneThen(ctx, s.out, c.Shard, m, complete, fo)
		s.recorded = true
		if !last && s.lease != nil {
			s.lease.Stop() // done here: the shards still running keep it
		}
		if err != nil {
			return sum, fmt.Errorf("record shard %s: %w", c.Shard, err)
		}
		return sum, nil
	}
	if err := table.Finish(ctx, s.out, m, fo); err != nil {
		return sum, err
	}
	return sum, nil
}

func (s *setup) summary(c *Common, command string, st *featurize.Stats) *Summary {
	sum := &Summary{
		Command: command, Backbone: s.prov.Backbone, Input: c.Input, Output: c.Output,
		Inputs: st.Rows + st.Rejected, Rows: st.Rows, Rejected: st.Rejected, RejectedByStage: st.ByStage,
		FeatureDim: s.prov.FeatureDim, BatchSize: c.BatchSize, Workers: c.Workers, Threads: c.Threads,
		Device: nonEmptyDevice(c.Device), InFlight: c.InFlight,
		WallSeconds: round3(st.WallSec), ImagesPerSecond: round3(st.ImgPerSec), StageSeconds: roundMap(st.StageSec),
		InferBusyShare: round3(st.InferBusyShare), InferWaitDataShare: round3(st.InferWaitShare), InferMaxConcurrent: st.MaxInFlight,
		Batches: st.Batches, BytesRead: st.BytesRead, PeakRSSMiB: round3(float64(memstat.PeakRSS()) / (1 << 20)),
		Started: s.start.UTC(), Finished: time.Now().UTC(),
	}
	if s.src != nil {
		sum.Skipped, sum.SkippedExamples = s.src.Skipped, s.src.SkippedExamples
	}
	return sum
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func nonEmptyDevice(d string) string {
	if d == "" {
		return backbones.DeviceCPU
	}
	return d
}

func roundMap(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		out[k] = round3(v)
	}
	return out
}

func (s *setup) options(c *Common) featurize.Options {
	return featurize.Options{BatchSize: c.BatchSize, InFlight: c.InFlight, Workers: c.Workers, MaxPixels: c.MaxPixels, MaxBytes: c.MaxBytes,
		FastDecode: c.FastDecode, Readers: c.Readers, Progress: c.Progress, Skip: s.skip(c), Store: s.src.Store()}
}

// Featurize runs a featurize job.
func Featurize(ctx context.Context, c FeaturizeConfig) (*Summary, error) {
	s, err := c.setup(ctx, false, true)
	if err != nil {
		return nil, err
	}
	defer s.close()
	return runJob(ctx, s, &c.Common, "featurize", "features", func(r featurize.Result) table.FeatureRow {
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
func runJob[T any](ctx context.Context, s *setup, c *Common, command, kind string, toRow func(featurize.Result) T) (*Summary, error) {
	// A lost lease stops the pipeline like a signal, but fails the job.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.mu.Lock()
	s.cancelRun = cancel
	s.mu.Unlock()
	if err := s.lost(); err != nil {
		return nil, err
	}
	sink := newPartSink(ctx, s.out, c.Shard, c.RowsPerPart, s.footer(), toRow)
	sink.committed = s.committed
	if s.lease != nil {
		// A run that lost the output to another job commits nothing more.
		sink.check = func() error { return s.lease.Check(ctx) }
	}
	sink.noEmpty = s.inc != nil
	runner := s.runner
	if runner == nil {
		runner = s.eng
	}
	st, err := featurize.Run(ctx, s.src, runner, s.bb.Spec.Preprocessing(), sink, s.options(c))
	if err == nil {
		err = sink.close()
	}
	if lost := s.lost(); lost != nil {
		err = lost
	}
	if err != nil {
		sink.abort()
		return s.summary(c, command, st), err
	}
	parts, rejects := sink.parts, sink.rejectParts
	for _, cp := range s.committed {
		parts = append(parts, cp.Part)
		st.Rows += int64(cp.Part.Rows)
		if cp.Rejects != nil {
			rejects = append(rejects, *cp.Rejects)
			st.Rejected += int64(cp.Rejects.Rows)
		}
	}
	if s.inc != nil && !c.Shard.Sharded() {
		base, baseRejects, err := s.inc.apply(ctx, s.out, s.inc.drop(c.Shard))
		if err != nil {
			return s.summary(c, command, st), err
		}
		parts, rejects = append(parts, base...), append(rejects, baseRejects...)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].File < parts[j].File })
	sort.Slice(rejects, func(i, j int) bool { return rejects[i].File < rejects[j].File })
	return s.finish(ctx, c, command, kind, st, parts, rejects)
}

// Predict classifies images with the backbone's own classifier.
func Predict(ctx context.Context, c PredictConfig) (*Summary, error) {
	if c.TopK <= 0 {
		c.TopK = 5
	}
	s, err := c.setup(ctx, true, false)
	if err != nil {
		return nil, err
	}
	defer s.close()
	softmax := s.bb.Spec.Classifier.Activation == "logits"
	classes := s.bb.Classes
	k := min(c.TopK, s.eng.NumClasses())
	return runJob(ctx, s, &c.Common, "predict", "predictions", func(r featurize.Result) table.PredictionRow {
		row := PredictRow(r.Logits, softmax, classes, k)
		row.Path = r.Item.Path
		if r.Item.HasLabel {
			l := r.Item.Label
			row.Label = &l
		}
		return row
	})
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
