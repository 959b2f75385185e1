package featurize

import (
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/inputs"
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
	pre.Normalize = backbones.NormalizeSpec{Scale: 1, Std: [3]float32{1, 1, 1}}
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
