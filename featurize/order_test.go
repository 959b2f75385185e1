package featurize

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/featurizer/featurizer/inputs"
)

// The batcher, alone: images arriving in any order come out in input
// order, packed size images to a batch (rejects ride along without a
// row), batches numbered in order, every slot released once, the partial
// last batch emitted at the end.
func TestBatcherRestoresOrder(t *testing.T) {
	const n, size, sample = 103, 4, 2
	var emitted []*batch
	released := map[*float32]int{}
	var pool []*batch
	b := &batcher{size: size, sample: sample,
		take: func() (*batch, error) {
			x := &batch{input: make([]float32, size*sample)}
			pool = append(pool, x)
			return x, nil
		},
		emit: func(x *batch) error {
			// Copy out: the pipeline reuses batches once written.
			c := *x
			c.input = append([]float32(nil), x.input...)
			c.results = append([]Result(nil), x.results...)
			c.slotOf = append([]int(nil), x.slotOf...)
			emitted = append(emitted, &c)
			return nil
		},
		release: func(s []float32) { released[&s[0]]++ },
	}
	rng := rand.New(rand.NewSource(1))
	var slots [][]float32
	for _, i := range rng.Perm(n) {
		d := decoded{order: int64(i), item: inputs.Item{Seq: int64(i), Path: fmt.Sprint(i)}}
		if i%10 == 3 {
			d.reject = &Reject{Stage: StageDecode, Err: "bad"}
		} else {
			d.slot = []float32{float32(i), -float32(i)}
			slots = append(slots, d.slot)
		}
		if err := b.add(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.close(); err != nil {
		t.Fatal(err)
	}
	next := 0
	for k, x := range emitted {
		if x.seq != int64(k) {
			t.Fatalf("batch %d numbered %d", k, x.seq)
		}
		if x.n > size || (x.n < size && k != len(emitted)-1) {
			t.Fatalf("batch %d holds %d images", k, x.n)
		}
		rows := 0
		for j, r := range x.results {
			if r.Item.Seq != int64(next) {
				t.Fatalf("batch %d result %d is input %d, want %d", k, j, r.Item.Seq, next)
			}
			if (next%10 == 3) != (r.Reject != nil) || (r.Reject != nil) != (x.slotOf[j] < 0) {
				t.Fatalf("input %d: reject %v, row %d", next, r.Reject, x.slotOf[j])
			}
			if row := x.slotOf[j]; row >= 0 {
				if row != rows || x.input[row*sample] != float32(next) || x.input[row*sample+1] != -float32(next) {
					t.Fatalf("input %d in row %d: %v", next, row, x.input[row*sample:(row+1)*sample])
				}
				rows++
			}
			next++
		}
		if rows != x.n {
			t.Fatalf("batch %d: %d rows, n %d", k, rows, x.n)
		}
	}
	if next != n || len(emitted) != len(pool) {
		t.Fatalf("%d of %d inputs came out, %d batches taken, %d emitted", next, n, len(pool), len(emitted))
	}
	for _, s := range slots {
		if released[&s[0]] != 1 {
			t.Fatalf("slot of input %v released %d times", s[0], released[&s[0]])
		}
	}
}

// An input lost on the way (a gap in the order) is an error at the end,
// not a short table; and a stop while waiting for a batch is passed on.
func TestBatcherGapAndStop(t *testing.T) {
	b := &batcher{size: 2, sample: 1,
		take:    func() (*batch, error) { return &batch{input: make([]float32, 2)}, nil },
		emit:    func(*batch) error { return nil },
		release: func([]float32) {},
	}
	for _, i := range []int64{0, 2, 3} {
		if err := b.add(decoded{order: i, slot: []float32{0}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.close(); err == nil {
		t.Fatal("input 1 never came, yet close says nothing")
	}
	stop := errors.New("stopped")
	b = &batcher{size: 2, sample: 1, take: func() (*batch, error) { return nil, stop }}
	if err := b.add(decoded{order: 0, slot: []float32{0}}); !errors.Is(err, stop) {
		t.Fatalf("got %v", err)
	}
}
