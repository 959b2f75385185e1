package featurize

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/featurizer/featurizer/inputs"
	"github.com/featurizer/featurizer/storage"
)

// count lists the input a second time, on the side, so that the total is
// known early: the lister itself only reaches the end of the input near
// the end of the work, held back by the slots. Best effort: a source that
// cannot list, or a listing that fails, leaves the total to the lister.
func (p *pipeline) count(ctx context.Context) {
	l, ok := p.src.(Lister)
	if !ok || p.o.Progress == nil {
		return
	}
	var n int64
	err := l.List(ctx, func(it inputs.Item) error {
		if skip, err := p.skip(it); err != nil || skip {
			return err
		}
		n++
		return nil
	})
	if err == nil {
		p.progress.total(n, false)
	}
}

func (p *pipeline) skip(it inputs.Item) (bool, error) {
	if p.o.Skip == nil {
		return false, nil
	}
	return p.o.Skip(it)
}

// list hands out the items in order, each with a slot. The walk runs on a
// goroutine of its own, which closes listed, so that a stop is not held up
// by a listing stuck on a hung file system: it is abandoned (and sends
// nothing once stopped).
func (p *pipeline) list(ctx context.Context) error {
	var n int64 // the walk's; read once it has ended
	walked := make(chan error, 1)
	go func() {
		defer close(p.listed)
		walked <- p.src.Walk(ctx, func(it inputs.Item) error {
			skip, err := p.skip(it)
			if err != nil {
				return err
			}
			if skip {
				p.c.skipped.Add(1)
				return nil
			}
			s, _, err := recv(ctx, p.slots)
			if err != nil {
				return err
			}
			if err := send(ctx, p.listed, job{order: n, item: it, slot: s}); err != nil {
				return err
			}
			n++
			return nil
		})
	}()
	select {
	case err := <-walked:
		if err != nil {
			return fmt.Errorf("list inputs: %w", err)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	p.c.inputs.Store(n)
	p.progress.total(n, true)
	return nil
}

// read fetches files ahead of the decode workers: with network storage a
// read is mostly waiting, and many in flight keep the workers busy. The
// slots bound them.
func (p *pipeline) read(ctx context.Context) error {
	for {
		j, ok, err := recv(ctx, p.listed)
		if !ok {
			return err
		}
		t0 := time.Now()
		if j.item.Unreadable == "" {
			j.data, j.readErr = readFile(ctx, p.o.Store, j.item.Open, p.o.MaxBytes)
		}
		j.fetched = true
		p.c.readNs.Add(int64(time.Since(t0)))
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := send(ctx, p.fetched, j); err != nil {
			return err
		}
	}
}

// decode reads (unless a reader did), decodes and preprocesses each job
// into its slot; an image that fails gives its slot back and goes on as a
// reject.
func (p *pipeline) decode(ctx context.Context, in <-chan job) error {
	pp := NewPreprocessor(p.pre)
	d := &Decoder{MaxPixels: p.o.MaxPixels, FastDecode: p.o.FastDecode, MinSize: pp.MinDecodeSize}
	defer d.Close()
	for {
		j, ok, err := recv(ctx, in)
		if !ok {
			return err
		}
		rej, err := p.prepare(ctx, d, pp, j)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err // stopped: not a reject
		}
		out := decoded{order: j.order, item: j.item, slot: j.slot}
		if rej != nil {
			p.slots <- j.slot // never blocks: the slot came from this pool
			out.slot, out.reject = nil, rej
		}
		if err := send(ctx, p.decoded, out); err != nil {
			return err
		}
	}
}

// batch restores the input order and fills batches (see batcher).
func (p *pipeline) batch(ctx context.Context) error {
	defer close(p.toInfer)
	b := &batcher{size: p.o.BatchSize, sample: p.sample,
		take: func() (*batch, error) {
			v, _, err := recv(ctx, p.free)
			return v, err
		},
		emit:    func(v *batch) error { return send(ctx, p.toInfer, v) },
		release: func(slot []float32) { p.slots <- slot },
	}
	for d := range p.decoded {
		if err := b.add(d); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.close()
}

// infer runs batches: InFlight goroutines share the runner (one session:
// ONNX Runtime runs concurrent calls, each on its own CUDA stream on a
// GPU), each with a batch of its own. A call in flight always completes;
// a stop is honoured between batches.
func (p *pipeline) infer(ctx context.Context) error {
	for {
		p.waits.begin()
		b, ok, _ := recv(ctx, p.toInfer)
		p.waits.end()
		if !ok {
			return ctx.Err() // nil at the end of the input
		}
		// Between batches is the only place a stop is honoured.
		if err := ctx.Err(); err != nil {
			return err
		}
		t0 := p.calls.begin()
		err := runBatch(p.eng, b, p.sample, p.fd, p.nc)
		p.c.inferNs.Add(int64(p.calls.end().Sub(t0)))
		if err != nil {
			return err
		}
		p.c.batches.Add(1)
		if err := send(ctx, p.toWrite, b); err != nil {
			return err
		}
	}
}

// write puts the batches back in input order (calls in flight finish in
// any order) and hands them to the sink. A batch waiting here for an
// earlier one holds no slot the earlier one needs, so this never stalls
// the pipeline.
func (p *pipeline) write(ctx context.Context) error {
	var order reorder[*batch]
	for b := range p.toWrite {
		if err := order.put(b.seq, b, p.writeBatch); err != nil {
			return err
		}
	}
	if n := order.waiting(); n > 0 && ctx.Err() == nil {
		return fmt.Errorf("pipeline: %d batches out of order after the input ended", n)
	}
	return nil
}

func (p *pipeline) writeBatch(b *batch) error {
	t0 := time.Now()
	if err := p.sink.Write(b.results); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	p.c.writeNs.Add(int64(time.Since(t0)))
	for i, r := range b.results {
		p.c.result(r)
		b.results[i] = Result{} // drop references to the batch
	}
	rows, rejected := p.c.rows.Load(), p.c.rejected.Load()
	p.progress.update(rows+rejected, rejected)
	p.free <- b // never blocks: the batch came from this pool
	return nil
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
		data, err := store.ReadFileLimit(ctx, path, maxBytes)
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
func (p *pipeline) prepare(ctx context.Context, d *Decoder, pp *Preprocessor, j job) (*Reject, error) {
	if j.item.Unreadable != "" {
		// Listed as a named pipe, socket or device: never opened.
		return &Reject{Stage: StageRead, Err: j.item.Unreadable}, nil
	}
	data, err := j.data, j.readErr
	if !j.fetched {
		t0 := time.Now()
		data, err = readFile(ctx, p.o.Store, j.item.Open, p.o.MaxBytes)
		p.c.readNs.Add(int64(time.Since(t0)))
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
	p.c.bytesRead.Add(int64(len(data)))
	img, err := d.Decode(data)
	t2 := time.Now()
	p.c.decodeNs.Add(int64(t2.Sub(t1)))
	if err != nil {
		return &Reject{Stage: StageDecode, Err: err.Error()}, nil
	}
	err = pp.Apply(img, j.slot)
	p.c.prepNs.Add(int64(time.Since(t2)))
	if err != nil {
		return &Reject{Stage: StagePreprocess, Err: err.Error()}, nil
	}
	return nil, nil
}

// runBatch runs a batch. When the batch fails as a whole, each image is
// run alone so that only the culprits become rejects. Non-finite outputs
// are rejects too: a NaN feature row would poison training silently.
func runBatch(eng Runner, b *batch, sample, fd, nc int) error {
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
