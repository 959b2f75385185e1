package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/featurizer/featurizer/storage"
	"golang.org/x/sync/errgroup"
)

// RunKey is the footer key naming the job and the run that wrote a part
// (and its rejects part): --overwrite tells the parts of the run in
// progress, written by sibling shards, from those of older tables by it.
const RunKey = "featurizer.run"

// RunInfo is the value of RunKey.
type RunInfo struct {
	Job         string `json:"job"` // Job.ID
	Run         string `json:"run"` // Lease.Run
	Kind        string `json:"kind,omitempty"`
	Input       string `json:"input,omitempty"`
	RowsPerPart int    `json:"rows_per_part,omitempty"`
	Shards      int    `json:"shards,omitempty"`
	Identity    string `json:"identity,omitempty"`
}

// NewRunInfo describes the run r of job j.
func NewRunInfo(j Job, run string) RunInfo {
	return RunInfo{Job: j.ID(), Run: run, Kind: j.Kind, Input: j.Input, RowsPerPart: j.RowsPerPart, Shards: max(j.Shards, 1), Identity: j.Identity}
}

// JSON is the footer value.
func (r RunInfo) JSON() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// JobOf rebuilds the Job that wrote a part from its footer (nil when the
// part predates RunKey).
func JobOf(meta map[string]string) *Job {
	var r RunInfo
	var p Provenance
	if json.Unmarshal([]byte(meta[RunKey]), &r) != nil || json.Unmarshal([]byte(meta[MetadataKey]), &p) != nil {
		return nil
	}
	return &Job{Kind: r.Kind, Input: r.Input, Provenance: p, RowsPerPart: r.RowsPerPart, Shards: r.Shards, Identity: r.Identity}
}

// partName is a part file name taken apart: part-[gGGGG-][sSSS-]KKKKK.parquet.
type partName struct {
	gen, shard, k int // shard -1: unsharded
}

func parsePartName(n string) (partName, bool) {
	p := partName{shard: -1}
	rest, ok := strings.CutPrefix(n, "part-")
	if !ok || !strings.HasSuffix(rest, ".parquet") {
		return p, false
	}
	rest = strings.TrimSuffix(rest, ".parquet")
	fields := strings.Split(rest, "-")
	var err error
	for _, f := range fields[:len(fields)-1] {
		switch {
		case len(f) == 5 && f[0] == 'g' && p.gen == 0:
			_, err = fmt.Sscanf(f, "g%04d", &p.gen)
		case len(f) == 4 && f[0] == 's' && p.shard < 0:
			_, err = fmt.Sscanf(f, "s%03d", &p.shard)
		default:
			return p, false
		}
		if err != nil {
			return p, false
		}
	}
	if _, err := fmt.Sscanf(fields[len(fields)-1], "%05d", &p.k); err != nil {
		return p, false
	}
	return p, p.String() == n // only names that round-trip
}

func (p partName) String() string {
	s := "part-"
	if p.gen > 0 {
		s += fmt.Sprintf("g%04d-", p.gen)
	}
	if p.shard >= 0 {
		s += fmt.Sprintf("s%03d-", p.shard)
	}
	return s + fmt.Sprintf("%05d.parquet", p.k)
}

// inLayout reports whether a part name is one this run's layout writes:
// its generation and, for n shards, a shard index below n (none when
// unsharded).
func (s Shard) inLayout(p partName) bool {
	if p.gen != s.Gen {
		return false
	}
	if s.Sharded() {
		return p.shard >= 0 && p.shard < s.Count
	}
	return p.shard < 0
}

func (s Shard) isOwn(p partName) bool {
	return s.inLayout(p) && (!s.Sharded() || p.shard == s.Index)
}

// PrepareOptions says what a run is about to write.
type PrepareOptions struct {
	Shard     Shard // with Gen set for an incremental run
	Overwrite bool
	// Run is this run (its job and the lease's run id): with Overwrite,
	// parts another shard of the same run has committed stay.
	Run RunInfo
	// Base is the table an incremental run adds to: its parts stay.
	Base *Manifest
	// Creator: this process created the run's lease, and the run's other
	// processes commit nothing until it has prepared the output
	// (Held.MarkPrepared): with Overwrite it removes the other shards'
	// names too, none of which can be this run's yet.
	Creator bool
}

// Prepare readies dir for this run, before any part is written, so that
// the finished table holds nothing of another: a complete table is
// refused (unless Overwrite, or Base for an incremental run), saying how
// it was written. With Overwrite, what no shard of this run writes goes
// (parts and records of other shard layouts and generations, the
// manifest, _SUCCESS), and so do this shard's own earlier parts and
// record. The names another shard of this layout writes are removed only
// by the process that created the run's lease, before any other process
// of the run may commit (Held.Check waits for it); any other process
// leaves them to their shard, which removes its own when it starts: a
// shard never deletes what a sibling of the same run has just committed
// under a name an older table used too. Without Overwrite, parts of another layout or generation are
// refused, and this shard's own committed parts stay for a resume
// (ScanCommitted checks them). Finish checks the folder again before
// _SUCCESS. Files featurizer did not write are never touched. Every
// refusal comes before any removal.
func Prepare(ctx context.Context, dir storage.Store, o PrepareOptions) error {
	if err := mkdir(dir); err != nil {
		return err
	}
	s := o.Shard
	top, err := dir.List(ctx, "")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	rej, err := dir.List(ctx, RejectsDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var foreign []string
	has := map[string]bool{}
	for _, e := range top {
		n := e.Name
		has[n] = true
		if !isTableFile(n) && !isLeaseFile(n) && !strings.HasPrefix(n, ".") {
			foreign = append(foreign, n)
		}
	}
	if len(foreign) > 0 {
		return fmt.Errorf("%w: %s holds %s, which featurizer did not write; choose an empty or new directory", ErrOutputExists, dir.Location(), strings.Join(foreign, ", "))
	}
	if o.Base == nil && !o.Overwrite && has[SuccessFile] {
		return completeError(ctx, dir, s)
	}
	if !o.Overwrite && s.Sharded() && s.Done(ctx, dir) {
		what := "the finished parts of shard " + s.String()
		if o.Base != nil {
			what += " of this incremental run"
		}
		return fmt.Errorf("%w: %s already holds %s; pass --overwrite to redo them", ErrOutputExists, dir.Location(), what)
	}
	listed := map[string]bool{}
	if o.Base != nil {
		for _, p := range o.Base.Parts {
			listed[p.File] = true
		}
		for _, p := range o.Base.RejectParts {
			listed[p.File] = true
		}
	}
	// Sort every part into: own (this shard's earlier parts), sibling
	// (another shard of this layout: not ours to judge), stale (another
	// layout or generation).
	var own, sibling, stale []string
	sort1 := func(name, base string) {
		if listed[name] {
			return
		}
		p, ok := parsePartName(base)
		switch {
		case !ok:
			if strings.HasPrefix(base, "part-") && strings.HasSuffix(base, ".parquet") {
				stale = append(stale, name)
			}
		case s.isOwn(p):
			own = append(own, name)
		case s.inLayout(p):
			sibling = append(sibling, name)
		default:
			stale = append(stale, name)
		}
	}
	for _, e := range top {
		if !e.IsDir {
			sort1(e.Name, e.Name)
		}
	}
	for _, e := range rej {
		if !e.IsDir && !storage.IsTemp(e.Name) {
			sort1(path.Join(RejectsDir, e.Name), e.Name)
		}
	}
	var remove []string
	if o.Overwrite {
		remove = append(remove, stale...)
		if o.Base == nil {
			remove = append(remove, own...)
			if o.Creator {
				remove = append(remove, sibling...)
			}
		} else {
			// Own parts of this generation from a run of other settings.
			old, err := notOfJob(ctx, dir, own, o.Run.Job)
			if err != nil {
				return err
			}
			remove = append(remove, old...)
		}
	} else if len(stale) > 0 {
		return staleError(ctx, dir, s, stale)
	}
	records, err := staleRecords(ctx, dir, o)
	if err != nil {
		return err
	}
	remove = append(remove, records...)
	if o.Base == nil {
		// The table is being written again: it is not complete until this
		// run says so.
		remove = append(remove, ManifestFile, SuccessFile)
		if o.Overwrite {
			remove = append(remove, staleSummaries(top, s)...)
		}
	}
	// The manifest first, then _SUCCESS, then parts before their rejects:
	// a reader never sees a complete table with parts missing, and a shard
	// of this run starting meanwhile never sees a manifest without
	// _SUCCESS (an interrupted incremental run, to its eyes).
	sort.SliceStable(remove, func(i, j int) bool { return rank(remove[i]) < rank(remove[j]) })
	for _, n := range remove {
		if err := dir.Remove(ctx, n); err != nil {
			return err
		}
	}
	if s.Sharded() {
		return s.removeTemps(ctx, dir, o.Overwrite)
	}
	return removeTemps(ctx, dir)
}

func rank(n string) int {
	switch {
	case n == ManifestFile:
		return 0
	case n == SuccessFile:
		return 1
	case strings.HasPrefix(n, RejectsDir+"/"):
		return 3
	}
	return 2
}

// completeError refuses a complete table, saying how it was written.
func completeError(ctx context.Context, dir storage.Store, s Shard) error {
	written := ""
	if m, err := ReadManifestDir(ctx, dir); err == nil {
		if n := m.Shards; n > 0 {
			written = " written as " + layoutWords(n)
		} else if sharded := anyShardPart(m.Parts); sharded {
			written = " written in shards"
		}
		if s.Sharded() && m.Shards == s.Count && s.Done(ctx, dir) {
			return fmt.Errorf("%w: %s already holds the finished parts of shard %s; pass --overwrite to redo them", ErrOutputExists, dir.Location(), s)
		}
		if s.Sharded() && m.Shards > 0 && m.Shards != s.Count {
			return fmt.Errorf("%w: %s already holds a complete table%s, not %d (this is shard %s); pass --overwrite to replace it", ErrOutputExists, dir.Location(), written, s.Count, s)
		}
	}
	return fmt.Errorf("%w: %s already holds a complete table%s; pass --overwrite to replace it", ErrOutputExists, dir.Location(), written)
}

func anyShardPart(parts []PartInfo) bool {
	for _, p := range parts {
		if n, ok := parsePartName(p.File); ok && n.shard >= 0 {
			return true
		}
	}
	return false
}

// staleError refuses parts of another layout or generation, naming them
// and, from one footer, how they were written.
func staleError(ctx context.Context, dir storage.Store, s Shard, stale []string) error {
	sort.Strings(stale)
	how := ""
	if meta, _, err := footerOf(ctx, dir, stale[0]); err == nil {
		var r RunInfo
		if json.Unmarshal([]byte(meta[RunKey]), &r) == nil && r.Shards > 0 {
			how = ", written as " + layoutWords(r.Shards)
		}
	}
	this := "one process (unsharded)"
	if s.Sharded() {
		this = fmt.Sprintf("%d shards (this is shard %s)", s.Count, s)
	}
	if s.Gen > 0 {
		this += fmt.Sprintf(", generation %d", s.Gen)
	}
	return fmt.Errorf("%w: %s holds parts of another run (%s%s) that this run, as %s, would not replace; pass --overwrite to remove them",
		ErrOutputExists, dir.Location(), listNames(stale), how, this)
}

// notOfRun returns the names among parts whose footer does not carry the
// run id run (read with a few requests in flight).
func notOfRun(ctx context.Context, dir storage.Store, parts []string, run string) ([]string, error) {
	return filterFooters(ctx, dir, parts, func(r RunInfo) bool { return run == "" || r.Run != run })
}

// notOfJob returns the names among parts whose footer does not carry the
// job id job.
func notOfJob(ctx context.Context, dir storage.Store, parts []string, job string) ([]string, error) {
	return filterFooters(ctx, dir, parts, func(r RunInfo) bool { return job == "" || r.Job != job })
}

func filterFooters(ctx context.Context, dir storage.Store, parts []string, keep func(RunInfo) bool) ([]string, error) {
	out := make([]bool, len(parts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, n := range parts {
		g.Go(func() error {
			meta, _, err := footerOf(gctx, dir, n)
			if errors.Is(err, fs.ErrNotExist) {
				return nil // gone meanwhile
			}
			if err != nil {
				out[i] = true // not a readable part of this run
				return nil
			}
			var r RunInfo
			json.Unmarshal([]byte(meta[RunKey]), &r)
			out[i] = keep(r)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var names []string
	for i, n := range parts {
		if out[i] {
			names = append(names, n)
		}
	}
	return names, nil
}

// staleRecords lists the shard records in _shards/ that must go: this
// shard's own when it redoes its parts, and with Overwrite those of other
// layouts and generations (another shard's record of this layout is that
// shard's to replace).
func staleRecords(ctx context.Context, dir storage.Store, o PrepareOptions) ([]string, error) {
	s := o.Shard
	ents, err := dir.List(ctx, ShardsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir || storage.IsTemp(e.Name) {
			continue
		}
		name := path.Join(ShardsDir, e.Name)
		if name == s.doneFile() {
			if o.Overwrite && o.Base == nil {
				out = append(out, name)
			}
			continue
		}
		if !o.Overwrite {
			continue
		}
		var g, i, n int
		if _, err := fmt.Sscanf(e.Name, "shard-g%04d-%03d-of-%03d.json", &g, &i, &n); err != nil {
			g = 0
			if _, err := fmt.Sscanf(e.Name, "shard-%03d-of-%03d.json", &i, &n); err != nil {
				continue
			}
		}
		if (g != s.Gen || n != s.Count) && (o.Base == nil || g == s.Gen) || (o.Creator && o.Base == nil) {
			out = append(out, name)
		}
	}
	return out, nil
}

// staleSummaries are the summaries of other layouts.
func staleSummaries(top []storage.FileInfo, s Shard) []string {
	var out []string
	for _, e := range top {
		n := e.Name
		var i int
		switch {
		case n == SummaryFile && s.Sharded():
			out = append(out, n)
		case strings.HasPrefix(n, "_summary-s"):
			if _, err := fmt.Sscanf(n, "_summary-s%03d.json", &i); err == nil && (!s.Sharded() || i >= s.Count) {
				out = append(out, n)
			}
		}
	}
	return out
}

// FinishOptions says how the last step of a run checks the folder.
type FinishOptions struct {
	// Overwrite: parts in the folder that the manifest does not list (and
	// this run did not write) are removed; without it they are refused.
	Overwrite bool
	// Run is this run's id (Lease.Run).
	Run string
	// Lease, when set, is marked done before _SUCCESS and released after.
	Lease *Held
}

// Finish writes the table's manifest and _SUCCESS, once the folder holds
// exactly the parts the manifest lists: what Spark or DuckDB read (every
// part-*.parquet in the folder) is then what the manifest says.
func Finish(ctx context.Context, dir storage.Store, m Manifest, o FinishOptions) error {
	if err := Settle(ctx, dir, &m, o); err != nil {
		return err
	}
	if err := WriteJSON(ctx, dir, ManifestFile, m); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if o.Lease != nil {
		if err := o.Lease.MarkDone(ctx); err != nil {
			return err
		}
	}
	if err := dir.WriteFile(ctx, SuccessFile, nil); err != nil {
		return fmt.Errorf("write %s: %w", SuccessFile, err)
	}
	if o.Lease != nil {
		// A lease left behind (the store failed just now) is marked done:
		// the next job replaces it.
		o.Lease.Release(ctx)
	}
	return nil
}

// Settle is the check before a manifest is written: every part it lists
// is in the folder, and every part in the folder is listed. An unlisted
// part of this run is an error (a shard being rerun while the table
// completes); one of another run is removed with Overwrite, else refused.
func Settle(ctx context.Context, dir storage.Store, m *Manifest, o FinishOptions) error {
	want := map[string]bool{}
	for _, p := range m.Parts {
		want[p.File] = true
	}
	for _, p := range m.RejectParts {
		want[p.File] = true
	}
	var unlisted []string
	for _, sub := range []string{"", RejectsDir} {
		ents, err := dir.List(ctx, sub)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		for _, e := range ents {
			if e.IsDir || storage.IsTemp(e.Name) || strings.HasPrefix(e.Name, "_") || strings.HasPrefix(e.Name, ".") {
				continue
			}
			n := path.Join(sub, e.Name)
			if want[n] {
				delete(want, n)
				continue
			}
			if sub == "" && !(strings.HasPrefix(e.Name, "part-") && strings.HasSuffix(e.Name, ".parquet")) {
				continue // Prepare refused it; not ours to judge here
			}
			unlisted = append(unlisted, n)
		}
	}
	if len(want) > 0 {
		var missing []string
		for n := range want {
			missing = append(missing, n)
		}
		sort.Strings(missing)
		return fmt.Errorf("%s: %s listed in the manifest but not in the folder; the table is left without %s", dir.Location(), listNames(missing), SuccessFile)
	}
	if len(unlisted) == 0 {
		return nil
	}
	sort.Strings(unlisted)
	others, err := notOfRun(ctx, dir, unlisted, o.Run)
	if err != nil {
		return err
	}
	if len(others) < len(unlisted) {
		return fmt.Errorf("%s: a part of this run is in no shard's record (a shard is being rerun while the table completes?); the table is left without %s", dir.Location(), SuccessFile)
	}
	if !o.Overwrite {
		return fmt.Errorf("%s holds %s, which another run wrote and this table does not list (Spark would read them); the table is left without %s: rerun with --overwrite", dir.Location(), listNames(others), SuccessFile)
	}
	for _, n := range others {
		if err := dir.Remove(ctx, n); err != nil {
			return err
		}
	}
	return nil
}
