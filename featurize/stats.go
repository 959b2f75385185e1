package featurize

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// Stats describe a finished (or stopped) run. Stage times are summed over
// the goroutines doing that stage, so they can exceed the wall time.
type Stats struct {
	Inputs     int64              `json:"inputs"`
	Skipped    int64              `json:"resumed_inputs"` // already written by an interrupted run
	Rows       int64              `json:"rows"`
	Rejected   int64              `json:"rejected"`
	ByStage    map[string]int64   `json:"rejected_by_stage"`
	Batches    int64              `json:"batches"`
	BytesRead  int64              `json:"bytes_read"`
	Wall       time.Duration      `json:"-"`
	WallSec    float64            `json:"wall_seconds"`
	ImgPerSec  float64            `json:"images_per_second"`
	StageSec   map[string]float64 `json:"stage_seconds"`
	ReadNs     int64              `json:"-"`
	DecodeNs   int64              `json:"-"`
	PrepNs     int64              `json:"-"`
	InferNs    int64              `json:"-"`
	WriteNs    int64              `json:"-"`
	WaitDataNs int64              `json:"-"` // some inference slot waiting for a full batch (union over slots)
	// InferBusyNs is the time at least one inference call was running
	// (the union of the calls' intervals; InferNs sums them). Wall minus
	// it is time the device had nothing to do.
	InferBusyNs int64 `json:"-"`
	// InferBusyShare is InferBusyNs over the wall time: the share of the
	// run during which the device had a call to work on.
	InferBusyShare float64 `json:"infer_busy_share"`
	// InferWaitShare is WaitDataNs over the wall time: the share during
	// which inference could have taken another batch but none was ready.
	InferWaitShare float64 `json:"infer_wait_data_share"`
	InFlight       int     `json:"inflight"`             // batches allowed in inference at once
	MaxInFlight    int     `json:"infer_max_concurrent"` // most calls seen running at once
}

// counters are the run's tallies as the stages keep them: atomics, since
// several goroutines add to most of them (and an abandoned listing may
// still count after Run has returned). Stats is made from them at the end.
type counters struct {
	inputs, skipped, rows, rejected, batches, bytesRead atomic.Int64
	readNs, decodeNs, prepNs, inferNs, writeNs          atomic.Int64
	// byStage is the writer's alone, read once every stage has returned.
	byStage map[string]int64
}

// result counts one written result (the writer's).
func (c *counters) result(r Result) {
	if r.Reject != nil {
		c.byStage[r.Reject.Stage]++
		c.rejected.Add(1)
	} else {
		c.rows.Add(1)
	}
}

// stats are the run's, once every stage has returned.
func (p *pipeline) stats(wall time.Duration) *Stats {
	c := &p.c
	st := &Stats{Inputs: c.inputs.Load(), Skipped: c.skipped.Load(), Rows: c.rows.Load(), Rejected: c.rejected.Load(),
		ByStage: maps.Clone(c.byStage), Batches: c.batches.Load(), BytesRead: c.bytesRead.Load(), Wall: wall,
		ReadNs: c.readNs.Load(), DecodeNs: c.decodeNs.Load(), PrepNs: c.prepNs.Load(), InferNs: c.inferNs.Load(),
		WriteNs: c.writeNs.Load(), InFlight: p.o.InFlight}
	st.WaitDataNs, _ = p.waits.total()
	st.InferBusyNs, st.MaxInFlight = p.calls.total()
	st.finish()
	return st
}

func (st *Stats) finish() {
	st.WallSec = st.Wall.Seconds()
	if st.WallSec > 0 {
		st.ImgPerSec = float64(st.Rows) / st.WallSec
		st.InferBusyShare = float64(st.InferBusyNs) / float64(st.Wall)
		st.InferWaitShare = float64(st.WaitDataNs) / float64(st.Wall)
	}
	st.StageSec = map[string]float64{
		"read":            time.Duration(st.ReadNs).Seconds(),
		"decode":          time.Duration(st.DecodeNs).Seconds(),
		"preprocess":      time.Duration(st.PrepNs).Seconds(),
		"infer":           time.Duration(st.InferNs).Seconds(),
		"write":           time.Duration(st.WriteNs).Seconds(),
		"infer_wait_data": time.Duration(st.WaitDataNs).Seconds(),
		"infer_busy":      time.Duration(st.InferBusyNs).Seconds(),
	}
}

// spans measures the union of intervals that may overlap (calls running,
// slots waiting): the time at least one was open, and how many were open
// at once at most.
type spans struct {
	mu      sync.Mutex
	now     func() time.Time // time.Now; tests set a clock
	open    int
	maxOpen int
	since   time.Time // when open last went from 0 to 1
	ns      int64
}

// begin opens an interval and returns its start.
func (s *spans) begin() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.clock()
	if s.open == 0 {
		s.since = t
	}
	s.open++
	s.maxOpen = max(s.maxOpen, s.open)
	return t
}

// end closes an interval and returns its end.
func (s *spans) end() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.clock()
	s.open--
	if s.open == 0 {
		s.ns += int64(t.Sub(s.since))
	}
	return t
}

// total is the time covered by closed intervals, and the most open at once.
func (s *spans) total() (ns int64, maxOpen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ns, s.maxOpen
}

func (s *spans) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// reporter passes the run's progress on to Options.Progress one call at a
// time (the count and the writer report from goroutines of their own), and
// nothing once Run has returned.
type reporter struct {
	mu     sync.Mutex
	p      Progress // nil: nobody listens
	known  int64    // the total last reported, -1 before
	exact  bool     // the listing has ended: its number stands
	closed bool
}

func (r *reporter) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p != nil {
		r.p.Start()
	}
}

// total reports the number of inputs: counted ahead (exact false) or
// listed by the walk that feeds the work, which has the last word.
func (r *reporter) total(n int64, exact bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p == nil || r.closed || r.exact {
		return
	}
	r.exact = exact
	if n != r.known {
		r.known = n
		r.p.Total(n)
	}
}

func (r *reporter) update(done, rejected int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p != nil && !r.closed {
		r.p.Update(done, rejected)
	}
}

func (r *reporter) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
}
