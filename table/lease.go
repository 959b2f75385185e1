package table

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/featurizer/featurizer/storage"
)

// LeaseFile is the lease of a table being written: the one job allowed to
// write into the directory, created if absent (so of two jobs starting at
// once exactly one gets it), renewed by a heartbeat while the job runs and
// removed when its table is complete. The shards of one job share it.
const LeaseFile = "_lease.json"

// leaseTakeover prefixes the token that one of several jobs taking over
// the same stale lease creates first (named by the stale lease's run);
// leasePrepared the mark the process that created a run's lease leaves
// once it has prepared the output (named by the run).
const (
	leaseTakeover = "_lease.takeover-"
	leasePrepared = "_lease.prepared-"
)

// isLeaseFile reports whether n is the lease or one of its marks.
func isLeaseFile(n string) bool { return n == LeaseFile || strings.HasPrefix(n, "_lease.") }

// isLeaseTemp reports whether n is the temporary of a lease being written
// on disk (another process's, in flight, unless it is old).
func isLeaseTemp(n string) bool {
	inner, _, ok := strings.Cut(strings.TrimPrefix(n, "."), ".tmp-")
	return ok && strings.HasPrefix(n, ".") && isLeaseFile(inner)
}

// leftoverLeaseTemp reports whether the lease temporary name is a killed
// writer's leftover rather than a write in flight: in a bucket lease writes
// use no temporary, so any there is a leftover; on local disk it is one when
// it was last written more than a minute ago, or when it holds a lease none
// of whose processes is alive (a writer killed between writing the
// temporary and linking it into place holds itself in it: on this host
// its death shows at once, and a rerun right after the kill cleans up).
func leftoverLeaseTemp(dir storage.Store, name string) bool {
	p, local := storage.LocalPath(dir.Location())
	if !local {
		return true
	}
	file := filepath.Join(p, filepath.FromSlash(name))
	st, err := os.Stat(file)
	if err != nil {
		return false
	}
	if time.Since(st.ModTime()) > time.Minute {
		return true
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	var l Lease
	if json.Unmarshal(b, &l) != nil || len(l.Holders) == 0 {
		return false // a mark, or not written yet: only the age tells
	}
	var o LeaseOptions
	o.defaults()
	for _, h := range l.Holders {
		if o.alive(h) {
			return false
		}
	}
	return true
}

// Job is what identifies a job writing a table: the settings that decide
// its rows and its layout. The shards of one job (the same command with
// another --shard index) and a rerun of a killed job have the same Job;
// anything else is another job.
type Job struct {
	Kind        string     `json:"kind"` // features, predictions, ...
	Input       string     `json:"input"`
	Provenance  Provenance `json:"provenance"`
	RowsPerPart int        `json:"rows_per_part"`
	Shards      int        `json:"shards"` // 1 when unsharded
	// Identity is whatever else decides the rows (a trained head's hash).
	Identity string `json:"identity,omitempty"`
}

// ID is a short hash of the job's settings.
func (j Job) ID() string {
	if j.Shards < 1 {
		j.Shards = 1
	}
	b, _ := json.Marshal(j)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// Layout says how the job writes its parts, for messages.
func (j Job) Layout() string { return layoutWords(j.Shards) }

func layoutWords(n int) string {
	if n > 1 {
		return fmt.Sprintf("%d shards", n)
	}
	return "one process (unsharded)"
}

// Diff names the settings that differ between j (what is in the output)
// and now (this run), with both values: "max_pixels: 1000 in the table,
// 178956970 now".
func (j Job) Diff(now Job) []string {
	var out []string
	add := func(name string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			out = append(out, fmt.Sprintf("%s: %s in the table, %s now", name, short(a), short(b)))
		}
	}
	add("kind", j.Kind, now.Kind)
	add("input", j.Input, now.Input)
	out = append(out, j.Provenance.Diff(now.Provenance)...)
	add("rows_per_part", j.RowsPerPart, now.RowsPerPart)
	add("shards", max(j.Shards, 1), max(now.Shards, 1))
	if j.Identity != now.Identity {
		out = append(out, "the model differs")
	}
	return out
}

// Diff names the provenance fields that differ between p (the table's)
// and now (this run's), with both values, in the order of the JSON.
func (p Provenance) Diff(now Provenance) []string {
	var out []string
	for _, d := range p.Compare(now) {
		out = append(out, fmt.Sprintf("%s: %s in the table, %s now", d.Field, short(rawOrNone(d.A, d.B)), short(rawOrNone(d.B, d.A))))
	}
	return out
}

// rawOrNone shows a JSON value; a missing one is false when the other is
// a boolean (omitted when false), else not recorded.
func rawOrNone(r, other string) any {
	switch {
	case r != "":
		return r
	case string(other) == "true" || string(other) == "false":
		return "false"
	}
	return "(not recorded)"
}

// short keeps a value readable in a one-line message.
func short(v any) string {
	s := fmt.Sprint(v)
	if s == "" {
		s = `""`
	}
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}

// Lease is the content of LeaseFile.
type Lease struct {
	Job    string    `json:"job"` // Job.ID
	Run    string    `json:"run"` // random; the parts the run writes carry it
	Shards int       `json:"shards"`
	Kind   string    `json:"kind"`
	Input  string    `json:"input"`
	Since  time.Time `json:"since"`
	// Holders are the processes working on the run (one per shard
	// running), each renewing its own heartbeat. Two processes renewing at
	// the same moment may drop each other's entry: the next beat puts it
	// back.
	Holders []Holder `json:"holders"`
	// Creator is the process that created the lease: it prepares the
	// output for the run; the others commit nothing until it has.
	Creator *Holder `json:"creator,omitempty"`
	// Done: the run completed its table; the lease is only waiting to be
	// removed, and anyone may replace it.
	Done bool `json:"done,omitempty"`
}

// Holder is one process holding a lease.
type Holder struct {
	Host      string    `json:"host"`
	PIDNS     string    `json:"pid_ns,omitempty"` // the pid namespace pid lives in
	PID       int       `json:"pid"`
	Shard     string    `json:"shard,omitempty"` // i/n
	Heartbeat time.Time `json:"heartbeat"`
}

func (h Holder) same(o Holder) bool { return h.Host == o.Host && h.PIDNS == o.PIDNS && h.PID == o.PID }

// who describes the lease's job and processes for a message.
func (l Lease) who(now time.Time) string {
	var hs []string
	last := time.Time{}
	for _, h := range l.Holders {
		s := fmt.Sprintf("host %s, pid %d", h.Host, h.PID)
		if h.Shard != "" {
			s += " (shard " + h.Shard + ")"
		}
		hs = append(hs, s)
		if h.Heartbeat.After(last) {
			last = h.Heartbeat
		}
	}
	if len(hs) > 3 {
		hs = append(hs[:3], fmt.Sprintf("%d more", len(hs)-3))
	}
	procs := "no process left"
	if len(hs) > 0 {
		procs = strings.Join(hs, "; ") + fmt.Sprintf("; last heartbeat %s ago", now.Sub(last).Round(time.Second))
	}
	return fmt.Sprintf("%s of %s as %s, since %s: %s", l.Kind, l.Input, layoutWords(l.Shards), l.Since.UTC().Format(time.RFC3339), procs)
}

// BusyError refuses a job because another job holds the output's lease.
type BusyError struct {
	Location string
	Holder   Lease
	// Stale: no process renews it any more (an interrupted run), and this
	// job was not allowed to take it over.
	Stale bool
	Now   time.Time
}

func (e *BusyError) Error() string {
	if e.Stale {
		return fmt.Sprintf("%s holds an interrupted run of another job (%s); pass --overwrite to replace it", e.Location, e.Holder.who(e.Now))
	}
	return fmt.Sprintf("%s is being written by another job (%s); wait for it to finish or choose another output", e.Location, e.Holder.who(e.Now))
}

// ErrLeaseLost is the error of a job whose lease another job took over
// (it was judged stale): the job stops rather than mix its parts in.
var ErrLeaseLost = errors.New("lost the output's lease")

// LeaseOptions configures AcquireLease; the zero value of every field but
// Job works.
type LeaseOptions struct {
	Job Job
	// TakeOver lets this job replace another job's stale lease (with
	// --overwrite); without it an interrupted run of another job is
	// refused.
	TakeOver bool
	// StaleAfter: a lease not renewed for this long belongs to a dead (or
	// cut off) job; default 2 minutes. Every: the heartbeat; default 15 s.
	StaleAfter, Every time.Duration
	// Shard names this process's shard in messages ("2/4").
	Shard string
	// For tests: the clock and who this process is.
	Now   func() time.Time
	Host  string
	PID   int
	PIDNS string
}

func (o *LeaseOptions) defaults() {
	if o.StaleAfter <= 0 {
		o.StaleAfter = 2 * time.Minute
	}
	if o.Every <= 0 {
		o.Every = 15 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	if o.PID == 0 {
		o.PID = os.Getpid()
		if ns, err := os.Readlink("/proc/self/ns/pid"); err == nil {
			o.PIDNS = ns
		}
	}
}

// alive reports whether a holder still works on its run: its heartbeat
// is recent, and (on this host, in this pid namespace) its process exists.
func (o *LeaseOptions) alive(h Holder) bool {
	if o.Now().Sub(h.Heartbeat) > o.StaleAfter {
		return false
	}
	if h.Host == o.Host && h.PIDNS != "" && h.PIDNS == o.PIDNS && h.PID != o.PID {
		return processAlive(h.PID)
	}
	return true
}

// stale reports whether a lease may be taken over: its run completed, or
// none of its processes is alive (each left, or stopped renewing, or is
// gone from this host).
func (o *LeaseOptions) stale(l Lease) bool {
	if l.Done {
		return true
	}
	for _, h := range l.Holders {
		if o.alive(h) {
			return false
		}
	}
	return true
}

// processAlive reports whether pid is a live (not zombie) process here.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc: trust kill
	}
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z' && stat[i+2] != 'X'
	}
	return true
}

// Held is a lease this process holds (alone, or with the other shards of
// its job).
type Held struct {
	dir     storage.Store
	o       LeaseOptions
	created bool
	run     string

	mu       sync.Mutex
	lost     error
	prepared bool // the run's output is prepared (see MarkPrepared)
	stop     chan struct{}
	done     chan struct{}
	onLost   func(error)
}

func (h *Held) me() Holder {
	return Holder{Host: h.o.Host, PIDNS: h.o.PIDNS, PID: h.o.PID, Shard: h.o.Shard, Heartbeat: h.o.Now().UTC()}
}

// AcquireLease takes the output's lease for o.Job: it creates it, or joins
// the lease of the same job (another shard, or a rerun after a kill: its
// run goes on), or takes over a stale lease of another job when
// o.TakeOver is set. Another job's live lease is refused with a
// *BusyError, and so is a stale one without TakeOver.
func AcquireLease(ctx context.Context, dir storage.Store, o LeaseOptions) (*Held, error) {
	o.defaults()
	now := o.Now().UTC()
	h := &Held{dir: dir, o: o, run: randomID()}
	creator := h.me()
	mine := Lease{Job: o.Job.ID(), Run: h.run, Shards: max(o.Job.Shards, 1), Kind: o.Job.Kind, Input: o.Job.Input, Since: now, Holders: []Holder{creator}, Creator: &creator}
	data, _ := json.Marshal(mine)
	if err := mkdir(dir); err != nil {
		return nil, err
	}
	var tokens []string
	defer func() {
		for _, t := range tokens {
			dir.Remove(context.WithoutCancel(ctx), t)
		}
	}()
	for attempt := 0; attempt < 20; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(50*attempt) * time.Millisecond):
			}
		}
		err := dir.CreateExclusive(ctx, LeaseFile, data)
		if err == nil {
			h.created = true
			return h, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lease %s: %w", dir.Path(LeaseFile), err)
		}
		cur, err := readLease(ctx, dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue // released meanwhile
		}
		if err != nil {
			if attempt < 5 {
				continue // being written (a file system without hard links)
			}
			return nil, err
		}
		if cur.Job == mine.Job && !cur.Done {
			// Another shard of this job, or a rerun of it: join its run.
			h.run = cur.Run
			if err := h.beat(ctx, cur); err != nil {
				return nil, err
			}
			return h, nil
		}
		if !o.stale(cur) {
			return nil, &BusyError{Location: dir.Location(), Holder: cur, Now: o.Now()}
		}
		if !o.TakeOver && !cur.Done {
			return nil, &BusyError{Location: dir.Location(), Holder: cur, Stale: true, Now: o.Now()}
		}
		// Take it over. Of several jobs doing so at once, the one that
		// creates the token named by the stale run removes the lease; then
		// all race to create theirs, and one wins.
		token := leaseTakeover + cur.Run + ".json"
		if err := dir.CreateExclusive(ctx, token, data); err != nil {
			if !errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("lease %s: %w", dir.Path(LeaseFile), err)
			}
			// Another job is taking it over; a token left by a taker that
			// died is itself stale after a while.
			if b, rerr := dir.ReadFile(ctx, token); rerr == nil {
				var tl Lease
				if json.Unmarshal(b, &tl) == nil && tl.Since.Before(o.Now().Add(-o.StaleAfter)) {
					dir.Remove(ctx, token)
				}
			}
			continue
		}
		tokens = append(tokens, token)
		if again, err := readLease(ctx, dir); err == nil && again.Run == cur.Run {
			if err := dir.Remove(ctx, LeaseFile); err != nil {
				return nil, err
			}
		}
	}
	return nil, fmt.Errorf("lease %s: could not be acquired (other jobs keep taking it)", dir.Path(LeaseFile))
}

func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ReadLease reads the output's lease; a missing one fails with an error
// matching fs.ErrNotExist.
func ReadLease(ctx context.Context, dir storage.Store) (Lease, error) { return readLease(ctx, dir) }

func readLease(ctx context.Context, dir storage.Store) (Lease, error) {
	var l Lease
	b, err := dir.ReadFile(ctx, LeaseFile)
	if err != nil {
		return l, err
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return l, fmt.Errorf("lease %s: %w", dir.Path(LeaseFile), err)
	}
	return l, nil
}

// Run is the id of the run the lease belongs to.
func (h *Held) Run() string { return h.run }

// Created reports whether this process created the lease (rather than
// joining another process's run).
func (h *Held) Created() bool { return h.created }

// beat rewrites cur with this process's heartbeat (and without holders
// long dead).
func (h *Held) beat(ctx context.Context, cur Lease) error {
	return h.rewrite(ctx, cur, func(l *Lease) {
		l.Holders = append(l.Holders, h.me())
	})
}

// rewrite writes cur changed by edit, after dropping this process's entry
// and those of holders that are not alive.
func (h *Held) rewrite(ctx context.Context, cur Lease, edit func(*Lease)) error {
	me := h.me()
	var keep []Holder
	for _, x := range cur.Holders {
		if !x.same(me) && h.o.alive(x) {
			keep = append(keep, x)
		}
	}
	cur.Holders = keep
	edit(&cur)
	data, _ := json.Marshal(cur)
	return h.dir.Put(ctx, LeaseFile, data)
}

func (h *Held) lostTo(cur Lease) error {
	if cur.Run == h.run {
		return fmt.Errorf("%w: another process of this job completed the table in %s", ErrLeaseLost, h.dir.Location())
	}
	return fmt.Errorf("%w: %s is now written by another job (%s)", ErrLeaseLost, h.dir.Location(), cur.who(h.o.Now()))
}

// Renew is one heartbeat: this process's entry in the lease gets the
// time, or the lease is put back if a finished sibling removed it. A
// lease now held by another run makes it return an error matching
// ErrLeaseLost.
func (h *Held) Renew(ctx context.Context) error {
	if err := h.Lost(); err != nil {
		return err
	}
	cur, err := readLease(ctx, h.dir)
	if errors.Is(err, fs.ErrNotExist) {
		l := Lease{Job: h.o.Job.ID(), Run: h.run, Shards: max(h.o.Job.Shards, 1), Kind: h.o.Job.Kind, Input: h.o.Job.Input,
			Since: h.o.Now().UTC(), Holders: []Holder{h.me()}}
		data, _ := json.Marshal(l)
		if err := h.dir.CreateExclusive(ctx, LeaseFile, data); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return nil // created, or someone did: the next beat looks
	}
	if err != nil {
		return err
	}
	if cur.Run != h.run || cur.Done {
		err := h.lostTo(cur)
		h.mu.Lock()
		h.lost = err
		h.mu.Unlock()
		return err
	}
	return h.beat(ctx, cur)
}

// Keep renews the lease every o.Every until Stop, Leave or Release;
// onLost is called once if the lease is lost. A failed renewal (the store
// is unreachable) is retried at the next beat.
func (h *Held) Keep(onLost func(error)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stop != nil {
		return
	}
	stop, done := make(chan struct{}), make(chan struct{})
	h.stop, h.done, h.onLost = stop, done, onLost
	go func() {
		defer close(done)
		t := time.NewTicker(h.o.Every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), h.o.StaleAfter/2)
			err := h.Renew(ctx)
			cancel()
			if errors.Is(err, ErrLeaseLost) {
				if onLost != nil {
					onLost(err)
				}
				return
			}
		}
	}()
}

// Lost is the error of a lost lease, or nil.
func (h *Held) Lost() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lost
}

// Stop ends the heartbeat and leaves the lease as it is.
func (h *Held) Stop() {
	h.mu.Lock()
	stop, done := h.stop, h.done
	h.stop = nil
	h.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

// Leave ends the heartbeat and takes this process out of the lease,
// which stays for the job's other shards (and for its rerun); once no
// process is left in it, another job may take it over with --overwrite.
func (h *Held) Leave(ctx context.Context) error {
	h.Stop()
	cur, err := readLease(ctx, h.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil || cur.Run != h.run {
		return err
	}
	return h.rewrite(ctx, cur, func(*Lease) {})
}

// MarkPrepared records that the output is ready for the run (called by
// the process that created the lease, once Prepare is done): the run's
// other processes may commit from then on.
func (h *Held) MarkPrepared(ctx context.Context) error {
	data, _ := json.Marshal(h.me())
	if err := h.dir.CreateExclusive(ctx, leasePrepared+h.run+".json", data); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	h.mu.Lock()
	h.prepared = true
	h.mu.Unlock()
	return nil
}

// waitPrepared waits until the process that created the run's lease has
// prepared the output (its --overwrite removes the parts of older tables,
// under names this process may be about to write), or is gone.
func (h *Held) waitPrepared(ctx context.Context) error {
	for {
		h.mu.Lock()
		done := h.prepared
		h.mu.Unlock()
		if done {
			return nil
		}
		_, err := h.dir.ReadFile(ctx, leasePrepared+h.run+".json")
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		cur, err := readLease(ctx, h.dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err == nil && cur.Run != h.run {
			return h.lostTo(cur)
		}
		if err != nil || cur.Creator == nil || !h.o.alive(*cur.Creator) {
			break // its creator died before it was done: go on without
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	h.mu.Lock()
	h.prepared = true
	h.mu.Unlock()
	return nil
}

// Check fails, with an error matching ErrLeaseLost, when the lease is no
// longer this run's: a part is committed only after it (and after the
// output was prepared for the run).
func (h *Held) Check(ctx context.Context) error {
	if err := h.Lost(); err != nil {
		return err
	}
	if err := h.waitPrepared(ctx); err != nil {
		return err
	}
	cur, err := readLease(ctx, h.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a finished sibling removed it: the next beat puts it back
	}
	if err != nil {
		return err
	}
	if cur.Run != h.run || cur.Done {
		err := h.lostTo(cur)
		h.mu.Lock()
		h.lost = err
		h.mu.Unlock()
		return err
	}
	return nil
}

// MarkDone records in the lease that the run's table is complete: from
// then on anyone may replace it, even if removing it fails.
func (h *Held) MarkDone(ctx context.Context) error {
	h.Stop()
	if err := h.Lost(); err != nil {
		return err
	}
	cur, err := readLease(ctx, h.dir)
	if err == nil && cur.Run != h.run {
		return h.lostTo(cur)
	}
	// Done already: another shard finished the table at the same moment,
	// with the same content.
	if errors.Is(err, fs.ErrNotExist) {
		cur = Lease{Job: h.o.Job.ID(), Run: h.run, Shards: max(h.o.Job.Shards, 1), Kind: h.o.Job.Kind, Input: h.o.Job.Input, Since: h.o.Now().UTC()}
	} else if err != nil {
		return err
	}
	return h.rewrite(ctx, cur, func(l *Lease) { l.Done = true })
}

// Release ends the heartbeat and removes the lease if it is still this
// run's.
func (h *Held) Release(ctx context.Context) error {
	h.Stop()
	h.dir.Remove(ctx, leasePrepared+h.run+".json")
	cur, err := readLease(ctx, h.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.Run != h.run {
		return nil
	}
	return h.dir.Remove(ctx, LeaseFile)
}
