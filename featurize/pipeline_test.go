package featurize

import (
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/inputs"
	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/modelspec"
)

// fakeEngine returns, per image, the mean of its tensor: enough to check
// that every row is the right image, in order.
type fakeEngine struct {
	size  int
	calls atomic.Int32
	delay time.Duration
	fail  func(batch []float32, n int) error
}

func (f *fakeEngine) SampleSize() int { return f.size }
func (f *fakeEngine) FeatureDim() int { return 1 }
func (f *fakeEngine) NumClasses() int { return 0 }
func (f *fakeEngine) Run(in []float32, n int, feats, _ []float32) error {
	f.calls.Add(1)
	time.Sleep(f.delay)
	if f.fail != nil {
		if err := f.fail(in, n); err != nil {
			return err
		}
	}
	for i := 0; i < n; i++ {
		var s float64
		for _, v := range in[i*f.size : (i+1)*f.size] {
			s += float64(v)
		}
		feats[i] = float32(s / float64(f.size))
	}
	return nil
}

type collectSink struct{ rows []Result }

func (c *collectSink) Write(rs []Result) error {
	for _, r := range rs {
		if r.Features != nil {
			r.Features = append([]float32(nil), r.Features...)
		}
		c.rows = append(c.rows, r)
	}
	return nil
}

// Images of a single grey level v, so the feature tells which file it was.
func greyFiles(t *testing.T, n int) string {
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		m := synthImage(8+i%5, 8+i%3, 0)
		for j := 0; j < len(m.Pix); j += 4 {
			m.Pix[j], m.Pix[j+1], m.Pix[j+2] = uint8(i), uint8(i), uint8(i)
		}
		f, _ := os.Create(filepath.Join(dir, fmt.Sprintf("%03d.png", i)))
		png.Encode(f, m)
		f.Close()
	}
	os.WriteFile(filepath.Join(dir, "050.png"), []byte("broken"), 0o644)
	return dir
}

func TestPipelineOrderAndRejects(t *testing.T) {
	dir := greyFiles(t, 120)
	src, err := inputs.Open(context.Background(), nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	pre := cropSpec(8, 8)
	pre.Normalize.Mean, pre.Normalize.Std = [3]float32{}, [3]float32{1, 1, 1}
	pre.Normalize.Scale = 1
	eng := &fakeEngine{size: 3 * 8 * 8}
	var sink collectSink
	st, err := Run(context.Background(), src, eng, pre, &sink, Options{BatchSize: 7, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.rows) != 120 || st.Rows != 119 || st.Rejected != 1 || st.ByStage[StageDecode] != 1 {
		t.Fatalf("%d results, stats %+v", len(sink.rows), st)
	}
	for i, r := range sink.rows {
		if r.Item.Seq != int64(i) {
			t.Fatalf("result %d has seq %d", i, r.Item.Seq)
		}
		if i == 50 {
			if r.Reject == nil || r.Reject.Stage != StageDecode {
				t.Errorf("050.png: %+v", r.Reject)
			}
			continue
		}
		if r.Features[0] != float32(i) {
			t.Fatalf("row %d holds the image of grey %v", i, r.Features[0])
		}
	}
}

// A batch that fails is retried image by image: only the culprit is a
// reject.
func TestPipelineIsolatesInferenceFailures(t *testing.T) {
	dir := greyFiles(t, 20)
	src, _ := inputs.Open(context.Background(), nil, dir)
	pre := cropSpec(8, 8)
	pre.Normalize = modelspec.NormalizeSpec{Scale: 1, Std: [3]float32{1, 1, 1}}
	eng := &fakeEngine{size: 3 * 8 * 8, fail: func(in []float32, n int) error {
		for i := 0; i < n; i++ {
			if in[i*192] == 13 {
				return errors.New("kernel exploded")
			}
		}
		return nil
	}}
	var sink collectSink
	st, err := Run(context.Background(), src, eng, pre, &sink, Options{BatchSize: 4, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if st.ByStage[StageInfer] != 1 || sink.rows[13].Reject == nil || sink.rows[13].Reject.Err != "kernel exploded" || sink.rows[12].Reject != nil {
		t.Fatalf("stats %+v, row 13 %+v", st, sink.rows[13].Reject)
	}
}

// Cancelling stops between batches and returns context.Canceled.
func TestPipelineCancel(t *testing.T) {
	dir := greyFiles(t, 200)
	src, _ := inputs.Open(context.Background(), nil, dir)
	pre := cropSpec(8, 8)
	eng := &fakeEngine{size: 3 * 8 * 8, delay: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	var sink collectSink
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err := Run(ctx, src, eng, pre, &sink, Options{BatchSize: 2, Workers: 2})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if n := len(sink.rows); n == 0 || n >= 200 {
		t.Errorf("%d results written", n)
	}
}

// gateEngine records how many calls run at once and proves the writer puts
// batches back in order: the first call does not return until a later call
// has returned (or 2 s pass, as they must with one call at a time), so with
// several in flight the batches finish out of order.
type gateEngine struct {
	fakeEngine
	hold       time.Duration // how long every call lasts
	running    atomic.Int32
	maxRunning atomic.Int32
	started    atomic.Int32
	finished   atomic.Int32
	overtaken  chan struct{} // closed when a call other than the first returns
	once       sync.Once
	first      atomic.Bool
	mu         sync.Mutex
	spans      [][2]time.Time // each call's start and end, as the runner saw them
}

func newGateEngine(hold time.Duration) *gateEngine {
	return &gateEngine{fakeEngine: fakeEngine{size: 3 * 8 * 8}, hold: hold, overtaken: make(chan struct{})}
}

func (g *gateEngine) Run(in []float32, n int, feats, logits []float32) error {
	t0 := time.Now()
	g.started.Add(1)
	r := g.running.Add(1)
	for m := g.maxRunning.Load(); r > m && !g.maxRunning.CompareAndSwap(m, r); m = g.maxRunning.Load() {
	}
	time.Sleep(g.hold)
	if g.first.CompareAndSwap(false, true) {
		select {
		case <-g.overtaken:
		case <-time.After(2 * time.Second):
		}
	} else {
		g.once.Do(func() { close(g.overtaken) })
	}
	err := g.fakeEngine.Run(in, n, feats, logits)
	g.running.Add(-1)
	g.finished.Add(1)
	g.mu.Lock()
	g.spans = append(g.spans, [2]time.Time{t0, time.Now()})
	g.mu.Unlock()
	return err
}

// orderSink fails the run at once if results arrive out of input order.
type orderSink struct {
	collectSink
	next int64
}

func (s *orderSink) Write(rs []Result) error {
	for _, r := range rs {
		if r.Item.Seq != s.next {
			return fmt.Errorf("result of input %d written when input %d was due", r.Item.Seq, s.next)
		}
		s.next++
	}
	return s.collectSink.Write(rs)
}

// rejectFiles adds inputs that become rejects: an empty file, text named
// .png, and the broken 050.png of greyFiles.
func rejectFiles(t *testing.T, dir string) {
	os.WriteFile(filepath.Join(dir, "020.png"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "077.png"), []byte("<html>not an image</html>"), 0o644)
}

func greyPre() modelspec.Preprocessing {
	pre := cropSpec(8, 8)
	pre.Normalize = modelspec.NormalizeSpec{Scale: 1, Std: [3]float32{1, 1, 1}}
	return pre
}

// With N batches in flight, N calls run at once (never more), the writer
// still gets every result in input order, and rows, rejects and counts are
// those of one call at a time.
func TestPipelineInFlightOverlapsAndKeepsOrder(t *testing.T) {
	dir := greyFiles(t, 120)
	rejectFiles(t, dir)
	var want []Result
	var wantStats *Stats
	for _, n := range []int{1, 2, 4} {
		src, err := inputs.Open(context.Background(), nil, dir)
		if err != nil {
			t.Fatal(err)
		}
		eng := newGateEngine(30 * time.Millisecond)
		var sink orderSink
		st, err := Run(context.Background(), src, eng, greyPre(), &sink, Options{BatchSize: 5, Workers: 4, InFlight: n})
		if err != nil {
			t.Fatalf("inflight %d: %v", n, err)
		}
		if got := int(eng.maxRunning.Load()); got != n || st.MaxInFlight != n || st.InFlight != n {
			t.Errorf("inflight %d: at most %d calls ran at once (stats say %d of %d)", n, got, st.MaxInFlight, st.InFlight)
		}
		if n > 1 {
			select {
			case <-eng.overtaken:
			default:
				t.Errorf("inflight %d: no call finished before an earlier one", n)
			}
		}
		if len(sink.rows) != 120 || st.Rows != 117 || st.Rejected != 3 || st.ByStage[StageDecode] != 3 || st.Batches != int64(eng.finished.Load()) {
			t.Fatalf("inflight %d: %d results, stats %+v", n, len(sink.rows), st)
		}
		if want == nil {
			want, wantStats = sink.rows, st
			continue
		}
		for i := range want {
			a, b := want[i], sink.rows[i]
			if a.Item.Path != b.Item.Path || (a.Reject == nil) != (b.Reject == nil) || (a.Reject != nil && *a.Reject != *b.Reject) ||
				fmt.Sprint(a.Features) != fmt.Sprint(b.Features) {
				t.Fatalf("inflight %d: row %d is %+v, with one call at a time %+v", n, i, b, a)
			}
		}
		if st.Batches != wantStats.Batches || fmt.Sprint(st.ByStage) != fmt.Sprint(wantStats.ByStage) {
			t.Errorf("inflight %d: %d batches %v, with one call at a time %d %v", n, st.Batches, st.ByStage, wantStats.Batches, wantStats.ByStage)
		}
	}
}

// The real runtime, one session, four calls at once: the same table, bit
// for bit, as one call at a time.
func TestPipelineInFlightRealEngine(t *testing.T) {
	if err := backbones.InitRuntime(""); err != nil {
		if os.Getenv("FEATURIZER_REQUIRE_ORT") != "" {
			t.Fatal(err)
		}
		t.Skipf("ONNX Runtime not available (run make setup): %v", err)
	}
	spec := &modelspec.Spec{Input: modelspec.InputSpec{Layout: "NCHW", Size: [2]int{32, 32}, Color: "RGB"},
		Resize:    modelspec.ResizeSpec{Policy: "crop", Size: 36},
		Normalize: modelspec.NormalizeSpec{Scale: 255, Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}}}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	eng, err := backbones.NewEngineFromBytes(testmodels.Build(testmodels.Options{}), spec, backbones.EngineOptions{Threads: 2, Logits: true})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	dir := t.TempDir()
	for i := 0; i < 90; i++ {
		f, _ := os.Create(filepath.Join(dir, fmt.Sprintf("%03d.png", i)))
		png.Encode(f, synthImage(40+i%9, 33+i%7, int64(i)))
		f.Close()
	}
	os.WriteFile(filepath.Join(dir, "031.png"), []byte("broken"), 0o644)
	rejectFiles(t, dir)
	var tables [][]Result
	for _, n := range []int{1, 4} {
		src, err := inputs.Open(context.Background(), nil, dir)
		if err != nil {
			t.Fatal(err)
		}
		var sink orderSink
		st, err := Run(context.Background(), src, eng, spec.Preprocessing(), &sink, Options{BatchSize: 4, Workers: 2, InFlight: n})
		if err != nil {
			t.Fatalf("inflight %d: %v", n, err)
		}
		if len(sink.rows) != 90 || st.Rows != 87 || st.Rejected != 3 {
			t.Fatalf("inflight %d: %d results, stats %+v", n, len(sink.rows), st)
		}
		for i := range sink.rows {
			sink.rows[i].Logits = nil // views into a reused batch
		}
		tables = append(tables, sink.rows)
	}
	for i, a := range tables[0] {
		b := tables[1][i]
		if a.Item.Path != b.Item.Path || (a.Reject == nil) != (b.Reject == nil) || fmt.Sprint(a.Features) != fmt.Sprint(b.Features) {
			t.Fatalf("row %d: %v %v with 4 calls in flight, %v %v with one", i, b.Item.Path, b.Features, a.Item.Path, a.Features)
		}
	}
}

// A stop while N calls are in flight lets each of them finish (a cgo call
// is never cut short), writes a prefix of the input in order, nothing
// after a gap, and returns context.Canceled.
func TestPipelineInFlightStop(t *testing.T) {
	dir := greyFiles(t, 200)
	src, _ := inputs.Open(context.Background(), nil, dir)
	eng := newGateEngine(40 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for eng.running.Load() < 4 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	var sink orderSink
	st, err := runWithin(t, 10*time.Second, func() (*Stats, error) {
		return Run(ctx, src, eng, greyPre(), &sink, Options{BatchSize: 2, Workers: 2, InFlight: 4})
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if s, f := eng.started.Load(), eng.finished.Load(); s != f || s < 4 {
		t.Errorf("%d calls started, %d finished by the time Run returned", s, f)
	}
	if n := len(sink.rows); n >= 200 || int64(n) != st.Rows+st.Rejected {
		t.Errorf("%d results written, stats %+v", n, st)
	}
}

// The busy share is the union of the calls' intervals over the wall time,
// as the runner itself saw them; a starved device shows a low share and a
// high wait for data, a saturated one the reverse.
func TestPipelineBusyShare(t *testing.T) {
	dir := greyFiles(t, 40)
	for _, c := range []struct {
		name     string
		inflight int
		hold     time.Duration
		pace     time.Duration // between listed items: a slow source starves the device
		busy     [2]float64    // expected range of the busy share
	}{
		{"saturated", 1, 25 * time.Millisecond, 0, [2]float64{0.8, 1}},
		{"saturated-2", 2, 25 * time.Millisecond, 0, [2]float64{0.8, 1}},
		{"starved", 1, 2 * time.Millisecond, 8 * time.Millisecond, [2]float64{0, 0.35}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src, _ := inputs.Open(context.Background(), nil, dir)
			eng := newGateEngine(c.hold)
			close(eng.overtaken) // no gate: every call lasts hold
			eng.once.Do(func() {})
			var w Walker = src
			if c.pace > 0 {
				w = pacedWalker{src, c.pace}
			}
			st, err := Run(context.Background(), w, eng, greyPre(), &collectSink{}, Options{BatchSize: 4, Workers: 2, InFlight: c.inflight})
			if err != nil {
				t.Fatal(err)
			}
			union := unionNs(eng.spans)
			t.Logf("busy share %.3f, waited for data %.3f, %d calls", st.InferBusyShare, st.InferWaitShare, len(eng.spans))
			// The pipeline's clock runs just outside the runner's: a little more.
			if d := st.InferBusyNs - union; d < 0 || d > int64(len(eng.spans))*int64(2*time.Millisecond) {
				t.Errorf("busy %v, the calls' union %v (%d calls)", time.Duration(st.InferBusyNs), time.Duration(union), len(eng.spans))
			}
			if c.inflight == 1 && st.InferBusyNs > st.InferNs {
				t.Errorf("one call at a time: busy %v above the calls' sum %v", time.Duration(st.InferBusyNs), time.Duration(st.InferNs))
			}
			share := float64(st.InferBusyNs) / float64(st.Wall)
			if st.InferBusyShare != share || share < c.busy[0] || share > c.busy[1] {
				t.Errorf("busy share %.3f (%.3f computed), expected %v", st.InferBusyShare, share, c.busy)
			}
			if st.StageSec["infer_busy"] != time.Duration(st.InferBusyNs).Seconds() {
				t.Errorf("stage seconds %v", st.StageSec)
			}
			starved := st.InferWaitShare > 0.5
			if starved != (c.pace > 0) {
				t.Errorf("waited for data %.3f of the time (%v)", st.InferWaitShare, time.Duration(st.WaitDataNs))
			}
		})
	}
}

type pacedWalker struct {
	w    Walker
	pace time.Duration
}

func (p pacedWalker) Walk(ctx context.Context, fn func(inputs.Item) error) error {
	return p.w.Walk(ctx, func(it inputs.Item) error {
		time.Sleep(p.pace)
		return fn(it)
	})
}

func unionNs(spans [][2]time.Time) int64 {
	s := append([][2]time.Time(nil), spans...)
	sort.Slice(s, func(i, j int) bool { return s[i][0].Before(s[j][0]) })
	var total int64
	var cur [2]time.Time
	for i, sp := range s {
		switch {
		case i == 0:
			cur = sp
		case sp[0].After(cur[1]):
			total += int64(cur[1].Sub(cur[0]))
			cur = sp
		case sp[1].After(cur[1]):
			cur[1] = sp[1]
		}
	}
	if len(s) > 0 {
		total += int64(cur[1].Sub(cur[0]))
	}
	return total
}

// spans counts overlapping intervals once, and the most open at once.
func TestSpansUnion(t *testing.T) {
	t0 := time.Unix(0, 0)
	var now time.Time
	s := &spans{now: func() time.Time { return now }}
	at := func(ms int) { now = t0.Add(time.Duration(ms) * time.Millisecond) }
	at(0)
	s.begin() // [0, 10]
	at(5)
	s.begin() // [5, 15]
	at(10)
	s.end()
	at(15)
	s.end()
	at(20)
	s.begin() // [20, 30]
	at(22)
	s.begin() // [22, 24]
	at(23)
	s.begin() // [23, 25]
	at(24)
	s.end()
	at(25)
	s.end()
	at(30)
	s.end()
	if ns, m := s.total(); ns != int64(25*time.Millisecond) || m != 3 {
		t.Fatalf("union %v, max %d; want 25ms, 3", time.Duration(ns), m)
	}
}
