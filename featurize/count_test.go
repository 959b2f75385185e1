package featurize

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/featurizer/featurizer/inputs"
)

// progressLog records the calls a Progress gets, in order.
type progressLog struct {
	mu     sync.Mutex
	totals []int64
	done   int64 // at the first Total
	first  chan struct{}
	once   sync.Once
	last   [2]int64
}

func newProgressLog() *progressLog { return &progressLog{first: make(chan struct{}), done: -1} }

func (p *progressLog) Start() {}
func (p *progressLog) Total(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.totals) == 0 {
		p.done = p.last[0]
	}
	p.totals = append(p.totals, n)
	p.once.Do(func() { close(p.first) })
}
func (p *progressLog) Update(done, rejected int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = [2]int64{done, rejected}
}

// heldEngine holds its first call until the total is known (or 5 s
// pass): the work cannot get far before the total is reported, so a total
// that waits for the lister, which the work holds back, comes too late.
type heldEngine struct {
	fakeEngine
	until <-chan struct{}
	once  sync.Once
}

func (h *heldEngine) Run(in []float32, n int, feats, logits []float32) error {
	h.once.Do(func() {
		select {
		case <-h.until:
		case <-time.After(5 * time.Second):
		}
	})
	return h.fakeEngine.Run(in, n, feats, logits)
}

// The total is known before the work is done, for a directory and a
// manifest (a count of its own, not held back by the pipeline's
// backpressure), leaves out what a resumed run skips, and agrees with the
// rows written.
func TestPipelineCountsAheadOfTheWork(t *testing.T) {
	dir := greyFiles(t, 300)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o644)
	var lines []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".png") {
			lines = append(lines, filepath.Join(dir, e.Name()))
		}
	}
	manifest := filepath.Join(t.TempDir(), "m.csv")
	os.WriteFile(manifest, []byte("path\n"+strings.Join(lines, "\n")+"\n"), 0o644)

	for _, c := range []struct {
		name, loc string
		skip      int64 // items a resumed run passes over
	}{
		{"directory", dir, 0},
		{"manifest", manifest, 0},
		{"directory-resumed", dir, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			src, err := inputs.Open(context.Background(), nil, c.loc)
			if err != nil {
				t.Fatal(err)
			}
			prog := newProgressLog()
			eng := &heldEngine{fakeEngine: fakeEngine{size: 3 * 8 * 8}, until: prog.first}
			o := Options{BatchSize: 4, Workers: 2, Progress: prog}
			if c.skip > 0 {
				o.Skip = func(it inputs.Item) (bool, error) { return it.Seq < c.skip, nil }
			}
			var sink collectSink
			st, err := Run(context.Background(), src, eng, greyPre(), &sink, o)
			if err != nil {
				t.Fatal(err)
			}
			want := 300 - c.skip
			if int64(len(sink.rows)) != want || st.Skipped != c.skip {
				t.Fatalf("%d results, stats %+v", len(sink.rows), st)
			}
			prog.mu.Lock()
			defer prog.mu.Unlock()
			if len(prog.totals) != 1 || prog.totals[0] != want {
				t.Fatalf("totals reported %v, want [%d]", prog.totals, want)
			}
			if prog.done != 0 {
				t.Errorf("the total came after %d of %d inputs were done", prog.done, want)
			}
			rejects := int64(1) // 050.png, unless a resumed run passed over it
			if c.skip > 50 {
				rejects = 0
			}
			if prog.last != [2]int64{want, rejects} {
				t.Errorf("last update %v, want [%d %d]", prog.last, want, rejects)
			}
			if src.Kind == "directory" && src.Skipped != 1 {
				t.Errorf("the count disturbed the walk's book of skipped files: %d", src.Skipped)
			}
		})
	}
}

// A count that finishes while the work runs (a bucket's listing) is
// reported when it is known; the lister's own number, at the end of its
// walk, corrects a count that was off (the input changed in between).
func TestPipelineTotalFromASlowCount(t *testing.T) {
	dir := greyFiles(t, 40) // and a broken 050.png: 41 inputs
	src, err := inputs.Open(context.Background(), nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	prog := newProgressLog()
	w := slowLister{src: src, pace: 2 * time.Millisecond, extra: 3}
	if _, err := Run(context.Background(), w, &fakeEngine{size: 3 * 8 * 8, delay: 20 * time.Millisecond}, greyPre(), &collectSink{},
		Options{BatchSize: 2, Workers: 2, Progress: prog}); err != nil {
		t.Fatal(err)
	}
	prog.mu.Lock()
	defer prog.mu.Unlock()
	if len(prog.totals) != 2 || prog.totals[0] != 44 || prog.totals[1] != 41 {
		t.Fatalf("totals %v, want the count's 44 and then the listing's 41", prog.totals)
	}
	if prog.done <= 0 || prog.done >= 41 {
		t.Errorf("the count came after %d of 41 were done: not while the work ran", prog.done)
	}
}

// slowLister lists its items slowly, and extra more than Walk passes on.
type slowLister struct {
	src   *inputs.Source
	pace  time.Duration
	extra int
}

func (s slowLister) Walk(ctx context.Context, fn func(inputs.Item) error) error {
	return s.src.Walk(ctx, fn)
}

func (s slowLister) List(ctx context.Context, fn func(inputs.Item) error) error {
	err := s.src.List(ctx, func(it inputs.Item) error {
		time.Sleep(s.pace)
		return fn(it)
	})
	for i := 0; i < s.extra && err == nil; i++ {
		err = fn(inputs.Item{})
	}
	return err
}
