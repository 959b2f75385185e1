package featurize

import "fmt"

// reorder hands values on in index order (0, 1, 2, ...) whatever order
// they arrive in, holding those that come early.
type reorder[T any] struct {
	pending map[int64]T
	next    int64 // the index due
}

// put takes the value of index i and calls fn for each value now due, in
// order; it stops at fn's first error.
func (r *reorder[T]) put(i int64, v T, fn func(T) error) error {
	if r.pending == nil {
		r.pending = map[int64]T{}
	}
	r.pending[i] = v
	for {
		v, ok := r.pending[r.next]
		if !ok {
			return nil
		}
		delete(r.pending, r.next)
		r.next++
		if err := fn(v); err != nil {
			return err
		}
	}
}

// waiting is how many values wait for an earlier one.
func (r *reorder[T]) waiting() int { return len(r.pending) }

// batcher restores the input order of decoded images (the decode workers
// finish in any order) and packs them into batches of size images: an
// image's tensor is copied into the batch and its slot released, a reject
// takes a result without a row. Batches are numbered in order for the
// writer.
type batcher struct {
	size    int                    // images per batch
	sample  int                    // floats per image
	take    func() (*batch, error) // a free batch (waits for one)
	emit    func(*batch) error     // a full batch, or the last one
	release func(slot []float32)   // a slot copied into a batch
	order   reorder[decoded]
	seq     int64 // the next batch's number
	cur     *batch
}

// add takes one decoded image, in any order.
func (b *batcher) add(d decoded) error { return b.order.put(d.order, d, b.place) }

// close emits the last, partial batch at the end of the input; an image
// still waiting for an earlier one means one was lost.
func (b *batcher) close() error {
	if n := b.order.waiting(); n > 0 {
		return fmt.Errorf("pipeline: %d results out of order after the input ended", n)
	}
	return b.flush()
}

// place puts the image due next into the current batch.
func (b *batcher) place(d decoded) error {
	if b.cur == nil {
		cur, err := b.take()
		if err != nil {
			return err
		}
		cur.results, cur.slotOf, cur.n = cur.results[:0], cur.slotOf[:0], 0
		b.cur = cur
	}
	c, row := b.cur, -1
	if d.reject == nil {
		row = c.n
		copy(c.input[row*b.sample:(row+1)*b.sample], d.slot)
		b.release(d.slot)
		c.n++
	}
	c.results = append(c.results, Result{Item: d.item, Reject: d.reject})
	c.slotOf = append(c.slotOf, row)
	if c.n == b.size {
		return b.flush()
	}
	return nil
}

func (b *batcher) flush() error {
	if b.cur == nil {
		return nil
	}
	b.cur.seq = b.seq
	if err := b.emit(b.cur); err != nil {
		return err
	}
	b.cur = nil
	b.seq++
	return nil
}
