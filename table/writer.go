package table

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/featurizer/featurizer/storage"
)

// DefaultRowsPerPart is how many inputs a part file holds unless told.
const DefaultRowsPerPart = 10000

// WriterOptions says what a Writer writes. The zero value writes an
// unsharded features table of DefaultRowsPerPart inputs per part.
type WriterOptions struct {
	// Kind is what the rows are: "features" (default) or "predictions".
	Kind string
	// Input is where the rows come from, as the user named it.
	Input string
	// Provenance is stored in every footer and in the manifest.
	Provenance Provenance
	// RowsPerPart: inputs per part; default DefaultRowsPerPart.
	RowsPerPart int
	// Shard makes this process one of several writing the same table.
	Shard Shard
	// Overwrite replaces what is in the output (another job's interrupted
	// run included) rather than refusing it.
	Overwrite bool
	// Identity is whatever else decides the rows (a trained head's hash).
	Identity string
	// StageKey is recorded in the manifest (see Manifest.StageKey).
	StageKey string
	// Rewrite: parts an interrupted run committed are written again, not
	// resumed (a job that cannot pass over inputs it already did).
	Rewrite bool
	// Note receives one-line messages for the log; nil drops them.
	Note func(string)
	// Lease tunes the lease (heartbeat, staleness; tests set the clock
	// and the process); its Job, TakeOver and Shard are the Writer's.
	Lease LeaseOptions
}

func (o *WriterOptions) defaults() {
	if o.Kind == "" {
		o.Kind = "features"
	}
	if o.RowsPerPart <= 0 {
		o.RowsPerPart = DefaultRowsPerPart
	}
}

// Writer writes one table (or one shard of it) into a directory: it holds
// the output's lease from NewWriter to Close, readies the output (Prepare:
// the overwrite cleanup, the parts of an interrupted run kept for a
// resume), commits part files with their footers (PartWriter), and on
// Finish writes the summary, the manifest and _SUCCESS. The caller opens
// and closes the directory.
type Writer struct {
	dir   storage.Store
	o     WriterOptions
	shard Shard // o.Shard, with the generation of an incremental run
	job   Job
	run   RunInfo
	lease *Held
	base  *Manifest

	committed map[int]Committed // parts of an interrupted run, resumed
	prepared  bool              // the output is ready; a sharded run leaves the lease to its other shards
	recorded  bool              // this shard's record is written

	mu     sync.Mutex
	onLost func(error)
	parts  []PartInfo // committed by this run
	rejs   []PartInfo
}

// NewWriter takes the output's lease for the job o describes (see
// AcquireLease): another job's lease is refused with a *BusyError. The
// lease is renewed until Close; a lease lost to another job makes every
// later commit fail and calls the OnLost function.
func NewWriter(ctx context.Context, dir storage.Store, o WriterOptions) (*Writer, error) {
	o.defaults()
	w := &Writer{dir: dir, o: o, shard: o.Shard}
	w.job = Job{Kind: o.Kind, Input: o.Input, Provenance: o.Provenance, RowsPerPart: o.RowsPerPart, Shards: max(o.Shard.Count, 1), Identity: o.Identity}
	lo := o.Lease
	lo.Job, lo.TakeOver, lo.Shard = w.job, o.Overwrite, ""
	if o.Shard.Sharded() {
		lo.Shard = o.Shard.String()
	}
	held, err := AcquireLease(ctx, dir, lo)
	if err != nil {
		return nil, err
	}
	w.lease = held
	w.run = NewRunInfo(w.job, held.Run())
	held.Keep(w.leaseLost)
	return w, nil
}

// Store is the output.
func (w *Writer) Store() storage.Store { return w.dir }

// Job is the job writing the table.
func (w *Writer) Job() Job { return w.job }

// Run is this run (its job and the lease's run id), as the footers carry it.
func (w *Writer) Run() RunInfo { return w.run }

// Shard is the shard being written, with the generation of an
// incremental run once prepared.
func (w *Writer) Shard() Shard { return w.shard }

// OnLost sets the function called (once) when another job takes the
// output over: it should stop the run.
func (w *Writer) OnLost(f func(error)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.onLost = f
}

func (w *Writer) leaseLost(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.onLost != nil {
		w.onLost(err)
	}
}

// Lost is the error of a lost lease, or nil.
func (w *Writer) Lost() error { return w.lease.Lost() }

// Prepare readies the output for this run's parts (see the package
// function Prepare: a complete table is refused with ErrOutputExists
// unless Overwrite; with it, nothing of the old table stays), then lets
// the run's other processes commit and looks for the parts an interrupted
// run of this job committed: they are kept, and a part of other settings
// is refused with a *SettingsError. base is the complete table an
// incremental run adds to (nil for none): its parts stay, and this run's
// parts are its next generation.
func (w *Writer) Prepare(ctx context.Context, base *Manifest) error {
	if base != nil {
		w.base = base
		w.shard.Gen = base.Generation + 1
	}
	po := PrepareOptions{Shard: w.shard, Overwrite: w.o.Overwrite, Run: w.run, Creator: w.lease.Created(), Base: base}
	if err := Prepare(ctx, w.dir, po); err != nil {
		return err
	}
	if base != nil {
		// From here until the new manifest the table is being changed.
		if err := w.dir.Remove(ctx, SuccessFile); err != nil {
			return err
		}
	}
	if w.lease.Created() {
		// The run's other processes may commit now.
		if err := w.lease.MarkPrepared(ctx); err != nil {
			return err
		}
	}
	w.prepared = true
	if w.o.Rewrite {
		return nil
	}
	committed, err := ScanCommitted(ctx, w.dir, w.shard)
	if err != nil {
		return err
	}
	w.committed = committed
	if len(committed) == 0 {
		return nil
	}
	want := w.Footer()[MetadataKey]
	rows := 0
	for _, cp := range committed {
		var diff []string
		if cp.Job != nil {
			diff = cp.Job.Diff(w.job)
		} else if cp.Provenance != want || cp.Inputs.RowsPerPart != w.o.RowsPerPart {
			diff = []string{"written by another version"}
		}
		if len(diff) > 0 {
			return &SettingsError{Location: w.dir.Location(), Part: cp.Part.File, Diff: diff}
		}
		rows += cp.Part.Rows
	}
	w.note("resuming: %d parts (%d rows) of an interrupted run are kept", len(committed), rows)
	return nil
}

// SettingsError refuses to resume: the output holds parts an interrupted
// run of other settings committed.
type SettingsError struct {
	Location, Part string
	Diff           []string // the settings that differ, with both values
}

func (e *SettingsError) Error() string {
	return fmt.Sprintf("%s holds parts of an interrupted run with other settings (%s: %s); pass --overwrite to start over", e.Location, e.Part, strings.Join(e.Diff, "; "))
}

// InputChangedError refuses to resume: the input listing no longer
// matches a part the interrupted run committed.
type InputChangedError struct {
	Input, Part, First, Last string
}

func (e *InputChangedError) Error() string {
	return fmt.Sprintf("%s changed since the interrupted run (part %s began with %s, ended with %s); pass --overwrite to start over", e.Input, e.Part, e.First, e.Last)
}

// Committed are the parts an interrupted run of this job committed, kept
// (found by Prepare), by part index.
func (w *Writer) Committed() map[int]Committed { return w.committed }

// Resumed sums the rows and rejects of the committed parts kept.
func (w *Writer) Resumed() (rows, rejected int64) {
	for _, cp := range w.committed {
		rows += int64(cp.Part.Rows)
		if cp.Rejects != nil {
			rejected += int64(cp.Rejects.Rows)
		}
	}
	return rows, rejected
}

// Skip returns, when parts were resumed, the test that passes over the
// inputs of those parts (seq is the input's index in this shard's input
// order), checking that the listing still starts and ends each of them
// where the interrupted run did (else an *InputChangedError); nil when
// nothing was resumed.
func (w *Writer) Skip() func(seq int64, path string) (bool, error) {
	if len(w.committed) == 0 {
		return nil
	}
	per := int64(w.o.RowsPerPart)
	return func(seq int64, path string) (bool, error) {
		k := int(seq / per)
		cp, ok := w.committed[k]
		if !ok {
			return false, nil
		}
		off := seq - int64(k)*per
		if (off == 0 && path != cp.Inputs.First) || (off == cp.Inputs.Inputs-1 && path != cp.Inputs.Last) || off >= cp.Inputs.Inputs {
			return false, &InputChangedError{Input: w.o.Input, Part: cp.Part.File, First: cp.Inputs.First, Last: cp.Inputs.Last}
		}
		return true, nil
	}
}

// Footer is the key/value metadata of every part: the provenance (as JSON
// and as flat keys) and the run.
func (w *Writer) Footer() map[string]string {
	p := w.o.Provenance
	b, _ := json.Marshal(p)
	m := map[string]string{
		MetadataKey:                 string(b),
		"featurizer.backbone":       p.Backbone,
		"featurizer.weights_sha256": p.WeightsSHA256,
		"featurizer.preprocessing":  p.Preprocessing.JSON(),
		"featurizer.tool_version":   p.ToolVersion,
	}
	if p.FeatureDim > 0 {
		m["featurizer.feature_dim"] = fmt.Sprint(p.FeatureDim)
	}
	if w.run.Run != "" {
		m[RunKey] = w.run.JSON()
	}
	return m
}

// Parts are the parts of this run, the resumed ones included, sorted by
// name, and their rejects parts.
func (w *Writer) Parts() (parts, rejects []PartInfo) {
	w.mu.Lock()
	parts, rejects = append(parts, w.parts...), append(rejects, w.rejs...)
	w.mu.Unlock()
	for _, cp := range w.committed {
		parts = append(parts, cp.Part)
		if cp.Rejects != nil {
			rejects = append(rejects, *cp.Rejects)
		}
	}
	sortParts(parts)
	sortParts(rejects)
	return parts, rejects
}

func sortParts(p []PartInfo) { sort.Slice(p, func(i, j int) bool { return p[i].File < p[j].File }) }

func (w *Writer) committedPart(part, rejects *PartInfo) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if rejects != nil {
		w.rejs = append(w.rejs, *rejects)
	}
	if part != nil {
		w.parts = append(w.parts, *part)
	}
}

// Finishing is what Finish records.
type Finishing struct {
	// Parts and RejectParts are every part of this process's table (or
	// shard): Parts, and for an unsharded incremental run the earlier
	// parts kept.
	Parts, RejectParts []PartInfo
	// Summary, when set, is written first, as _summary.json (a shard's as
	// _summary-sNNN.json).
	Summary any
	// Drop (a shard of an incremental run) lists the inputs of the
	// table's earlier parts whose rows go; Complete is the last shard's
	// step before the table's manifest (see ShardDoneThen).
	Drop     []string
	Complete func(shards []Manifest, total *Manifest) error
}

// Finish completes the run: the summary, then the manifest and _SUCCESS
// once the folder holds exactly the parts the manifest lists (see the
// package function Finish); a shard records its finish, and the last one
// completes the table. A run that lost its lease writes nothing. The
// work being done, a stop no longer interrupts it.
func (w *Writer) Finish(ctx context.Context, f Finishing) error {
	if err := w.Lost(); err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	summaryFile := SummaryFile
	if w.shard.Sharded() {
		summaryFile = fmt.Sprintf("_summary-s%03d.json", w.shard.Index)
	}
	if f.Summary != nil {
		if err := WriteJSON(ctx, w.dir, summaryFile, f.Summary); err != nil {
			return fmt.Errorf("write summary: %w", err)
		}
	}
	var rows, rejected int64
	for _, p := range f.Parts {
		rows += int64(p.Rows)
	}
	for _, p := range f.RejectParts {
		rejected += int64(p.Rows)
	}
	m := Manifest{Format: ManifestFormat, Kind: w.o.Kind, Provenance: w.o.Provenance, Input: w.o.Input, Parts: f.Parts, RejectParts: f.RejectParts,
		Rows: rows, Rejected: rejected, Created: time.Now().UTC(), StageKey: w.o.StageKey, Generation: w.shard.Gen,
		Job: w.run.Job, Run: w.run.Run, Shards: max(w.shard.Count, 1)}
	if m.RejectParts == nil {
		m.RejectParts = []PartInfo{}
	}
	fo := FinishOptions{Overwrite: w.o.Overwrite, Run: w.run.Run, Lease: w.lease}
	if w.shard.Sharded() {
		m.Drop = f.Drop
		last, err := ShardDoneThen(ctx, w.dir, w.shard, m, f.Complete, fo)
		w.recorded = true
		if !last {
			w.lease.Stop() // done here: the shards still running keep it
		}
		if err != nil {
			return fmt.Errorf("record shard %s: %w", w.shard, err)
		}
		return nil
	}
	return Finish(ctx, w.dir, m, fo)
}

// Close gives the lease up: an unsharded run (or a shard whose output was
// never prepared) removes it (a no-op once the table is complete); a shard
// that has begun leaves it to its other shards, or to its own rerun; one
// that recorded its finish only stops renewing its entry (a write now
// could bring back the lease the last shard has just removed).
func (w *Writer) Close() {
	ctx := context.Background()
	switch {
	case w.job.Shards <= 1 || (w.lease.Created() && !w.prepared):
		w.lease.Release(ctx)
	case w.recorded:
		w.lease.Stop()
	default:
		w.lease.Leave(ctx)
	}
}

func (w *Writer) note(format string, args ...any) {
	if w.o.Note != nil {
		w.o.Note(fmt.Sprintf(format, args...))
	}
}
