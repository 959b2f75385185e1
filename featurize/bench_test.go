package featurize

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/featurizer/featurizer/inputs"
)

// A typical photo of the clothing set (400x533 JPEG), or a synthetic one.
func benchJPEG(b *testing.B) []byte {
	p := filepath.Join("..", "..", "shared", "data", "clothing-small", "test", "dress", "06a00c0f-5f9a-410d-a7da-3881a9df3a71.jpg")
	if data, err := os.ReadFile(p); err == nil {
		return data
	}
	dir := b.TempDir()
	q := filepath.Join(dir, "synth.jpg")
	f, _ := os.Create(q)
	defer f.Close()
	writeJPEGForBench(f, synthImage(400, 533, 1))
	data, _ := os.ReadFile(q)
	return data
}

func BenchmarkDecodeJPEG(b *testing.B) {
	data := benchJPEG(b)
	var d Decoder
	defer d.Close()
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, err := d.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPreprocessCrop224(b *testing.B) {
	var d Decoder
	defer d.Close()
	img, err := d.Decode(benchJPEG(b))
	if err != nil {
		b.Fatal(err)
	}
	pp := NewPreprocessor(cropSpec(256, 224))
	dst := make([]float32, 3*224*224)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := pp.Apply(img, dst); err != nil {
			b.Fatal(err)
		}
	}
}

// A 400x533 photo as PNG (RGB, Go's default compression).
func BenchmarkDecodePNG(b *testing.B) {
	var d Decoder
	img, err := d.Decode(benchJPEG(b))
	if err != nil {
		b.Fatal(err)
	}
	m := image.NewRGBA(image.Rect(0, 0, img.W, img.H))
	for i := 0; i < img.W*img.H; i++ {
		copy(m.Pix[i*4:], img.Pix[i*3:i*3+3])
		m.Pix[i*4+3] = 255
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// deviceEngine stands for a GPU behind ONNX Runtime: each call copies its
// batch in (copyIn, overlappable), computes on the one device (compute,
// one call at a time) and copies the results out (copyOut, overlappable).
type deviceEngine struct {
	fakeEngine
	copyIn, compute, copyOut time.Duration
	device                   sync.Mutex
}

func (d *deviceEngine) Run(in []float32, n int, feats, logits []float32) error {
	time.Sleep(d.copyIn)
	d.device.Lock()
	time.Sleep(d.compute)
	d.device.Unlock()
	time.Sleep(d.copyOut)
	return d.fakeEngine.Run(in, n, feats, logits)
}

// BenchmarkPipelineInFlight: the pipeline with one and with two batches in
// inference, on a device of fixed timing and inputs that decode far faster.
// Per call 2 ms copy in (and the host's part of the call), 6 ms compute,
// 0.5 ms out: one call at a time takes 8.5 ms a batch, two in flight are
// bound by the compute, 6 ms, so the ratio of the img/s is at most 1.42
// (sleeping overshoots a little on a busy host, which favours two).
func BenchmarkPipelineInFlight(b *testing.B) {
	dir := b.TempDir()
	const images = 256
	for i := 0; i < images; i++ {
		f, _ := os.Create(filepath.Join(dir, fmt.Sprintf("%03d.png", i)))
		png.Encode(f, synthImage(8, 8, int64(i)))
		f.Close()
	}
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("inflight=%d", n), func(b *testing.B) {
			eng := &deviceEngine{fakeEngine: fakeEngine{size: 3 * 8 * 8},
				copyIn: 2 * time.Millisecond, compute: 6 * time.Millisecond, copyOut: 500 * time.Microsecond}
			var wall time.Duration
			var busy float64
			for i := 0; i < b.N; i++ {
				src, err := inputs.Open(context.Background(), nil, dir)
				if err != nil {
					b.Fatal(err)
				}
				st, err := Run(context.Background(), src, eng, cropSpec(8, 8), &collectSink{}, Options{BatchSize: 8, Workers: 2, InFlight: n})
				if err != nil {
					b.Fatal(err)
				}
				wall += st.Wall
				busy += st.InferBusyShare
			}
			b.ReportMetric(float64(images*b.N)/wall.Seconds(), "img/s")
			b.ReportMetric(busy/float64(b.N), "busy_share")
		})
	}
}
