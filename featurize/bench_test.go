package featurize

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
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
