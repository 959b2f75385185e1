package featurize

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/featurizer/featurizer/inputs"
	"github.com/featurizer/featurizer/modelspec"
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

// Lister is a Walker that can list its items again, on the side, without
// the bookkeeping of Walk (*inputs.Source is one): the pipeline counts the
// input with it while Walk feeds the work, which the work holds back.
type Lister interface {
	List(ctx context.Context, fn func(inputs.Item) error) error
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

// Progress hears about the run; the pipeline never prints. Its calls come
// one at a time, though not always from the same goroutine, and never
// after Run has returned.
type Progress interface {
	// Start is called when the first image is about to be read.
	Start()
	// Total is called when the number of inputs to process is known: by
	// a count ahead of the work (a Lister's), and again when the listing
	// that feeds the work ends with another number.
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
	// (an error stops the run: the input no longer matches). The count
	// ahead of the work asks it too, from its own goroutine: it must keep
	// no books.
	Skip func(inputs.Item) (bool, error)
}

// DefaultMaxBytes is the default per-file size limit.
const DefaultMaxBytes = 256 << 20

func (o *Options) defaults() {
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
		o.Store = storage.NewLocal("")
	}
	if o.Readers == 0 && storage.IsRemote(o.Store.Location()) {
		o.Readers = max(16, 4*o.Workers)
	}
	if o.InFlight <= 0 {
		o.InFlight = 1
	}
}

// Run featurizes every item of src with eng and hands the results to sink
// in input order. It stops between batches when ctx is cancelled: an
// inference call in flight always completes.
func Run(ctx context.Context, src Walker, eng Runner, pre modelspec.Preprocessing, sink Sink, o Options) (*Stats, error) {
	o.defaults()
	p := newPipeline(src, eng, pre, sink, o)
	p.progress.start()
	start := time.Now()
	err := p.run(ctx)
	p.progress.close()
	return p.stats(time.Since(start)), err
}

// pipeline is one run. Each stage is a method, run by one goroutine or a
// fan of them; the channels between the stages are bounded, and every send
// and receive gives up at a stop, so no stage waits on one that stopped.
//
//	list -> [read] -> decode -> batch -> infer -> write
type pipeline struct {
	o        Options
	src      Walker
	eng      Runner
	pre      modelspec.Preprocessing
	sink     Sink
	sample   int // floats per preprocessed image
	fd, nc   int // features and classes per image
	c        counters
	calls    spans // inference calls running
	waits    spans // inference slots waiting for a batch
	progress reporter
	slots    chan []float32 // preprocessed images; the lister takes one per job
	free     chan *batch    // batches not in use
	listed   chan job       // lister -> readers, or decode workers on local disk
	fetched  chan job       // readers -> decode workers
	decoded  chan decoded   // decode workers -> batcher
	toInfer  chan *batch
	toWrite  chan *batch
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

func newPipeline(src Walker, eng Runner, pre modelspec.Preprocessing, sink Sink, o Options) *pipeline {
	p := &pipeline{o: o, src: src, eng: eng, pre: pre, sink: sink,
		sample: eng.SampleSize(), fd: eng.FeatureDim(), nc: eng.NumClasses(),
		c: counters{byStage: map[string]int64{}}, progress: reporter{p: o.Progress, known: -1}}
	// Slots hold one preprocessed image. The lister takes a slot before it
	// hands out a job, in input order, so the image the batcher waits for
	// always has one: the reorder buffer can never starve it.
	nslots := 2*o.BatchSize + 2*o.Workers + o.Readers
	p.slots = make(chan []float32, nslots)
	for range nslots {
		p.slots <- make([]float32, p.sample)
	}
	// One batch filling, one written, InFlight in inference (or queued):
	// the memory stays bounded whatever the pace of each stage.
	nbatches := o.InFlight + 2
	p.free = make(chan *batch, nbatches)
	// A GPU engine hands out page-locked input memory (direct copies).
	alloc := func(n int) []float32 { return make([]float32, n) }
	if a, ok := eng.(interface{ InputBuffer(int) []float32 }); ok {
		alloc = a.InputBuffer
	}
	for range nbatches {
		p.free <- &batch{
			input:  alloc(o.BatchSize * p.sample),
			feats:  make([]float32, o.BatchSize*p.fd),
			logits: make([]float32, o.BatchSize*p.nc),
		}
	}
	p.listed = make(chan job, o.Workers)
	p.fetched = make(chan job, o.Workers)
	p.decoded = make(chan decoded, o.Workers)
	p.toInfer = make(chan *batch, 1)
	p.toWrite = make(chan *batch, o.InFlight)
	return p
}

// run starts the stages and waits for them. The count is not one of them:
// like the walk inside list, it is abandoned at a stop rather than waited
// for (a listing may hang on a file system).
func (p *pipeline) run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	counting, stopCount := context.WithCancel(ctx)
	go p.count(counting)
	g.Go(func() error {
		defer stopCount() // the listing has ended: its number stands
		return p.list(ctx)
	})
	decodeIn := p.listed
	if p.o.Readers > 0 {
		decodeIn = p.fetched
		fan(g, p.o.Readers, func() error { return p.read(ctx) }, func() { close(p.fetched) })
	}
	fan(g, p.o.Workers, func() error { return p.decode(ctx, decodeIn) }, func() { close(p.decoded) })
	g.Go(func() error { return p.batch(ctx) })
	fan(g, p.o.InFlight, func() error { return p.infer(ctx) }, func() { close(p.toWrite) })
	g.Go(func() error { return p.write(ctx) })
	return g.Wait()
}

// fan runs n copies of a stage and calls done (which closes the stage's
// output) once all of them have returned.
func fan(g *errgroup.Group, n int, stage func() error, done func()) {
	var wg sync.WaitGroup
	wg.Add(n)
	for range n {
		g.Go(func() error {
			defer wg.Done()
			return stage()
		})
	}
	go func() { wg.Wait(); done() }()
}

// send and recv give up at a stop. recv's ok is false at the end of the
// input (err nil) or at a stop (err the context's), whichever comes first.
func send[T any](ctx context.Context, ch chan<- T, v T) error {
	select {
	case ch <- v:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func recv[T any](ctx context.Context, ch <-chan T) (v T, ok bool, err error) {
	select {
	case v, ok = <-ch:
		return v, ok, nil
	case <-ctx.Done():
		return v, false, ctx.Err()
	}
}
