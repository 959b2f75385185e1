// Package featurize turns images into feature rows: decoding (libjpeg-turbo
// for JPEG, the standard library for the rest), preprocessing that matches
// PIL and torchvision bit for bit, and the concurrent pipeline that feeds
// ONNX Runtime.
package featurize

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/inputs"
	"github.com/featurizer/featurizer/storage"
	"golang.org/x/sync/errgroup"
)

// Stages an input can fail at; the rejects table records them.
const (
	StageRead       = "read"
	StageDecode     = "decode"
	StagePreprocess = "preprocess"
	StageInfer      = "infer"
)

// Runner runs a model on a batch; *backbones.Engine is one. With
// Options.InFlight above 1, Run is called from several goroutines at once,
// each call with its own input and output buffers.
type Runner interface {
	SampleSize() int
	FeatureDim() int
	NumClasses() int
	Run(input []float32, n int, feats, logits []float32) error
}

// Walker streams the input items in order; *inputs.Source is one.
type Walker interface {
	Walk(ctx context.Context, fn func(inputs.Item) error) error
}

// Reject says why an input produced no row.
type Reject struct {
	Stage string
	Err   string
}

// Result is the outcome for one input.
type Result struct {
	Item inputs.Item
	// Features and Logits are views into the batch, valid during Sink.Write.
	Features []float32
	Logits   []float32
	Reject   *Reject
}

// Sink receives results in input order, a batch at a time.
type Sink interface {
	Write(results []Result) error
}

// Progress hears about the run; the pipeline never prints.
type Progress interface {
	// Start is called when the first image is about to be read.
	Start()
	// Total is called once the listing is complete.
	Total(n int64)
	// Update is called after each batch with cumulative counts.
	Update(done, rejected int64)
}

// Options tune the pipeline. The zero value picks sensible defaults.
type Options struct {
	BatchSize  int   // images per inference call; default 32
	Workers    int   // decode workers; default one per core
	MaxPixels  int64 // see Decoder.MaxPixels
	MaxBytes   int64 // files larger than this are rejected unread; default 256 MiB
	FastDecode bool  // see Decoder.FastDecode
	Store      storage.Store
	// Readers fetch files ahead of the decode workers, for stores where a
	// read waits on the network; default 0 (decode workers read) on local
	// disk, 4 per decode worker (at least 16) for object storage: by
	// Little's law, 500 img/s at 30 ms per GET needs 15 in flight.
	Readers int
	// InFlight is how many batches may be in inference at once (calls to
	// Runner.Run from as many goroutines); default 1. On a GPU, 2 lets the
	// copy of one batch and the host's share of its call overlap another
	// batch's compute. Results still reach the Sink in input order; each
	// batch in flight holds its own buffers (InFlight+2 batches in all).
	InFlight int
	Progress Progress
	// Skip, when set, passes over items an interrupted run already wrote
	// (an error stops the run: the input no longer matches).
	Skip func(inputs.Item) (bool, error)
}

// DefaultMaxBytes is the default per-file size limit.
const DefaultMaxBytes = 256 << 20

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

type job struct {
	order int64 // position among the items this run processes (Item.Seq may skip)
	item  inputs.Item
	slot  []float32
	// Fetched ahead by a reader (object storage): the file, or why not.
	fetched bool
	data    []byte
	readErr error
}

type decoded struct {
	order  int64
	item   inputs.Item
	slot   []float32 // nil for a reject
	reject *Reject
}

type batch struct {
	seq     int64 // position in the input order, for the writer
	input   []float32
	results []Result
	slotOf  []int // index in results -> row in the input tensor, -1 for rejects
	n       int   // images in the tensor
	feats   []float32
	logits  []float32
}

// Run featurizes every item of src with eng and hands the results to sink
// in input order. It stops between batches when ctx is cancelled: an
// inference call in flight always completes.
func Run(ctx context.Context, src Walker, eng Runner, pre backbones.Preprocessing, sink Sink, o Options) (*Stats, error) {
	if o.BatchSize <= 0 {
		o.BatchSize = 32
	}
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Store == nil {
		o.Store = storage.Local{}
	}
	if _, local := o.Store.(storage.Local); o.Readers == 0 && !local {
		o.Readers = max(16, 4*o.Workers)
	}
	if o.InFlight <= 0 {
		o.InFlight = 1
	}
	sample := eng.SampleSize()
	st := &Stats{ByStage: map[string]int64{}, InFlight: o.InFlight}
	var calls, waits spans
	if o.Progress != nil {
		o.Progress.Start()
	}
	start := time.Now()

	g, ctx := errgroup.WithContext(ctx)
	// Slots hold one preprocessed image. The lister takes a slot before it
	// hands out a job, in input order, so the image the batcher waits for
	// always has one: the reorder buffer can never starve it.
	nslots := 2*o.BatchSize + 2*o.Workers + o.Readers
	slots := make(chan []float32, nslots)
	for i := 0; i < nslots; i++ {
		slots <- make([]float32, sample)
	}
	jobs := make(chan job, o.Workers)
	decodedCh := make(chan decoded, o.Workers)
	toInfer := make(chan *batch, 1)
	toWrite := make(chan *batch, o.InFlight)
	// One batch filling, one written, InFlight in inference (or queued):
	// the memory stays bounded whatever the pace of each stage.
	nbatches := o.InFlight + 2
	free := make(chan *batch, nbatches)
	// A GPU engine hands out page-locked input memory (direct copies).
	alloc := func(n int) []float32 { return make([]float32, n) }
	if a, ok := eng.(interface{ InputBuffer(int) []float32 }); ok {
		alloc = a.InputBuffer
	}
	for i := 0; i < nbatches; i++ {
		free <- &batch{
			input:  alloc(o.BatchSize * sample),
			feats:  make([]float32, o.BatchSize*eng.FeatureDim()),
			logits: make([]float32, o.BatchSize*eng.NumClasses()),
		}
	}

	// Lister. The walk runs on a goroutine of its own, which closes jobs,
	// so that a stop is not held up by a listing stuck on a hung file
	// system: it is abandoned (and sends nothing once stopped).
	var n int64
	walked := make(chan error, 1)
	go func() {
		defer close(jobs)
		walked <- src.Walk(ctx, func(it inputs.Item) error {
			if o.Skip != nil {
				skip, err := o.Skip(it)
				if err != nil {
					return err
				}
				if skip {
					atomic.AddInt64(&st.Skipped, 1)
					return nil
				}
			}
			var s []float32
			select {
			case s = <-slots:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case jobs <- job{order: n, item: it, slot: s}:
				n++
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	g.Go(func() error {
		select {
		case err := <-walked:
			if err != nil {
				return fmt.Errorf("list inputs: %w", err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
		atomic.StoreInt64(&st.Inputs, n)
		if o.Progress != nil {
			o.Progress.Total(n)
		}
		return nil
	})

	// Readers: with network storage, a read is mostly waiting; many in
	// flight keep the decode workers busy. The slots bound them.
	decodeIn := jobs
	if o.Readers > 0 {
		listed := jobs
		fetched := make(chan job, o.Workers)
		decodeIn = fetched
		var rg sync.WaitGroup
		for r := 0; r < o.Readers; r++ {
			rg.Add(1)
			g.Go(func() error {
				defer rg.Done()
				for {
					j, ok, err := next(ctx, listed)
					if !ok {
						return err
					}
					t0 := time.Now()
					if j.item.Unreadable == "" {
						j.data, j.readErr = readFile(ctx, o.Store, j.item.Open, o.MaxBytes)
					}
					j.fetched = true
					atomic.AddInt64(&st.ReadNs, int64(time.Since(t0)))
					if err := ctx.Err(); err != nil {
						return err
					}
					select {
					case fetched <- j:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
			})
		}
		go func() { rg.Wait(); close(fetched) }()
	}

	// Decode workers.
	var wg sync.WaitGroup
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		g.Go(func() error {
			defer wg.Done()
			pp := NewPreprocessor(pre)
			d := &Decoder{MaxPixels: o.MaxPixels, FastDecode: o.FastDecode, MinSize: pp.MinDecodeSize}
			defer d.Close()
			for {
				j, ok, err := next(ctx, decodeIn)
				if !ok {
					return err
				}
				out := decoded{order: j.order, item: j.item, slot: j.slot}
				rej, err := prepare(ctx, o.Store, d, pp, j, o.MaxBytes, st)
				if err != nil {
					return err
				}
				if err := ctx.Err(); err != nil {
					return err // stopped: not a reject
				}
				if rej != nil {
					slots <- j.slot // never blocks: the slot came from this pool
					out.slot, out.reject = nil, rej
				}
				select {
				case decodedCh <- out:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		})
	}
	go func() { wg.Wait(); close(decodedCh) }()

	// Batcher: restores input order and fills batches.
	g.Go(func() error {
		defer close(toInfer)
		pending := map[int64]decoded{}
		var next, seq int64
		var cur *batch
		emit := func() error {
			if cur == nil {
				return nil
			}
			cur.seq = seq
			select {
			case toInfer <- cur:
				cur = nil
				seq++
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		for d := range decodedCh {
			pending[d.order] = d
			for {
				d, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				if cur == nil {
					select {
					case cur = <-free:
					case <-ctx.Done():
						return ctx.Err()
					}
					cur.results, cur.slotOf, cur.n = cur.results[:0], cur.slotOf[:0], 0
				}
				r := Result{Item: d.item, Reject: d.reject}
				row := -1
				if d.reject == nil {
					row = cur.n
					copy(cur.input[row*sample:(row+1)*sample], d.slot)
					slots <- d.slot
					cur.n++
				}
				cur.results = append(cur.results, r)
				cur.slotOf = append(cur.slotOf, row)
				if cur.n == o.BatchSize {
					if err := emit(); err != nil {
						return err
					}
				}
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if len(pending) > 0 {
			return fmt.Errorf("pipeline: %d results out of order after the input ended", len(pending))
		}
		return emit()
	})

	// Inference: InFlight goroutines share the runner (one session: ONNX
	// Runtime runs concurrent calls, each on its own CUDA stream on a GPU),
	// each with a batch of its own. A call in flight always completes; a
	// stop is honoured between batches.
	fd, nc := eng.FeatureDim(), eng.NumClasses()
	var infering sync.WaitGroup
	for k := 0; k < o.InFlight; k++ {
		infering.Add(1)
		g.Go(func() error {
			defer infering.Done()
			for {
				var b *batch
				var ok bool
				waits.begin()
				select {
				case b, ok = <-toInfer:
				case <-ctx.Done():
				}
				waits.end()
				if !ok {
					return ctx.Err() // nil at the end of the input
				}
				// Between batches is the only place a stop is honoured.
				if err := ctx.Err(); err != nil {
					return err
				}
				t1 := calls.begin()
				err := infer(eng, b, sample, fd, nc)
				atomic.AddInt64(&st.InferNs, int64(calls.end().Sub(t1)))
				if err != nil {
					return err
				}
				atomic.AddInt64(&st.Batches, 1)
				select {
				case toWrite <- b:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		})
	}
	go func() { infering.Wait(); close(toWrite) }()

	// Writer: puts the batches back in input order (calls in flight finish
	// in any order). A batch waiting here for an earlier one holds no slot
	// the earlier one needs, so this never stalls the pipeline.
	g.Go(func() error {
		pending := map[int64]*batch{}
		var next int64
		for b := range toWrite {
			pending[b.seq] = b
			for {
				b, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				t0 := time.Now()
				if err := sink.Write(b.results); err != nil {
					return fmt.Errorf("write: %w", err)
				}
				st.WriteNs += int64(time.Since(t0))
				for _, r := range b.results {
					if r.Reject != nil {
						st.Rejected++
						st.ByStage[r.Reject.Stage]++
					} else {
						st.Rows++
					}
				}
				if o.Progress != nil {
					o.Progress.Update(st.Rows+st.Rejected, st.Rejected)
				}
				for i := range b.results {
					b.results[i] = Result{} // drop references to the batch
				}
				free <- b
			}
		}
		if len(pending) > 0 && ctx.Err() == nil {
			return fmt.Errorf("pipeline: %d batches out of order after the input ended", len(pending))
		}
		return nil
	})

	err := g.Wait()
	st.Wall = time.Since(start)
	st.WaitDataNs, _ = waits.total()
	st.InferBusyNs, st.MaxInFlight = calls.total()
	st.finish()
	return st, err
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

// next receives the next job: ok is false at the end of the input (err
// nil) or at a stop (err the context's), whichever comes first, so that a
// stop does not wait for a producer that is stuck.
func next(ctx context.Context, in <-chan job) (j job, ok bool, err error) {
	select {
	case j, ok = <-in:
		return j, ok, nil
	case <-ctx.Done():
		return j, false, ctx.Err()
	}
}

// readFile reads a file, or gives up at a stop even when the read does not
// return: a read stuck on a hung file system (NFS, FUSE) or a leased file
// must not keep a stop from stopping. The abandoned read goes on by itself
// on its goroutine until it returns or the process exits; its result is
// dropped. (A read is plain Go, never a cgo call.)
func readFile(ctx context.Context, store storage.Store, path string, maxBytes int64) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := store.ReadFile(ctx, path, maxBytes)
		done <- result{data, err}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// prepare reads, decodes and preprocesses one image into j.slot.
func prepare(ctx context.Context, store storage.Store, d *Decoder, pp *Preprocessor, j job, maxBytes int64, st *Stats) (*Reject, error) {
	if j.item.Unreadable != "" {
		// Listed as a named pipe, socket or device: never opened.
		return &Reject{Stage: StageRead, Err: j.item.Unreadable}, nil
	}
	data, err := j.data, j.readErr
	if !j.fetched {
		t0 := time.Now()
		data, err = readFile(ctx, store, j.item.Open, maxBytes)
		atomic.AddInt64(&st.ReadNs, int64(time.Since(t0)))
	}
	t1 := time.Now()
	if err != nil {
		if errors.Is(err, storage.ErrUnavailable) {
			// The store, not the image: a reject would record a good image
			// as bad in a table that looks complete. The job fails; a rerun
			// resumes.
			return nil, fmt.Errorf("read %s: %w", j.item.Path, err)
		}
		return &Reject{Stage: StageRead, Err: err.Error()}, nil
	}
	atomic.AddInt64(&st.BytesRead, int64(len(data)))
	img, err := d.Decode(data)
	t2 := time.Now()
	atomic.AddInt64(&st.DecodeNs, int64(t2.Sub(t1)))
	if err != nil {
		return &Reject{Stage: StageDecode, Err: err.Error()}, nil
	}
	err = pp.Apply(img, j.slot)
	atomic.AddInt64(&st.PrepNs, int64(time.Since(t2)))
	if err != nil {
		return &Reject{Stage: StagePreprocess, Err: err.Error()}, nil
	}
	return nil, nil
}

// infer runs a batch. When the batch fails as a whole, each image is run
// alone so that only the culprits become rejects. Non-finite outputs are
// rejects too: a NaN feature row would poison training silently.
func infer(eng Runner, b *batch, sample, fd, nc int) error {
	if b.n == 0 {
		return nil
	}
	bad := make([]string, b.n)
	if err := eng.Run(b.input, b.n, b.feats, b.logits); err != nil {
		ok := 0
		for i := 0; i < b.n; i++ {
			in := b.input[i*sample : (i+1)*sample]
			if e := eng.Run(in, 1, b.feats[i*fd:(i+1)*fd], b.logits[i*nc:(i+1)*nc]); e != nil {
				bad[i] = e.Error()
			} else {
				ok++
			}
		}
		if ok == 0 && b.n > 1 {
			return fmt.Errorf("inference fails on every image: %w", err)
		}
	}
	for i, row := range b.slotOf {
		if row < 0 {
			continue
		}
		r := &b.results[i]
		if bad[row] != "" {
			r.Reject = &Reject{Stage: StageInfer, Err: bad[row]}
			continue
		}
		r.Features = b.feats[row*fd : (row+1)*fd]
		r.Logits = b.logits[row*nc : (row+1)*nc]
		if !finite(r.Features) || !finite(r.Logits) {
			r.Features, r.Logits = nil, nil
			r.Reject = &Reject{Stage: StageInfer, Err: "model output has NaN or infinite values"}
		}
	}
	return nil
}

func finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}
