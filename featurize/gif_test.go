package featurize

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testGIF writes a one-frame GIF by hand: palettes as given (nil for
// none), a minimum code size of 2 and literal codes only, with a clear
// code every two literals so the code width stays 3 bits. An end code is
// put after endAt literals when endAt >= 0.
func testGIF(w, h int, global, local []byte, pix []byte, endAt int) []byte {
	var b bytes.Buffer
	le := func(v int) { binary.Write(&b, binary.LittleEndian, uint16(v)) }
	bits := func(p []byte) byte {
		n, k := len(p)/3, byte(0)
		for 2<<k < n {
			k++
		}
		return k
	}
	b.WriteString("GIF89a")
	le(w)
	le(h)
	flags := byte(0)
	if global != nil {
		flags = 0x80 | bits(global)
	}
	b.Write([]byte{flags, 0, 0})
	b.Write(global)
	b.WriteByte(',')
	le(0)
	le(0)
	le(w)
	le(h)
	flags = 0
	if local != nil {
		flags = 0x80 | bits(local)
	}
	b.WriteByte(flags)
	b.Write(local)
	b.WriteByte(2)
	var codes []int
	for i, v := range pix {
		if i == endAt {
			codes = append(codes, 5)
		}
		if i%2 == 0 {
			codes = append(codes, 4)
		}
		codes = append(codes, int(v))
	}
	codes = append(codes, 5)
	var data []byte
	acc, n := 0, 0
	for _, c := range codes {
		acc |= c << n
		for n += 3; n >= 8; n -= 8 {
			data = append(data, byte(acc))
			acc >>= 8
		}
	}
	if n > 0 {
		data = append(data, byte(acc))
	}
	for len(data) > 0 {
		k := min(255, len(data))
		b.WriteByte(byte(k))
		b.Write(data[:k])
		data = data[k:]
	}
	b.Write([]byte{0, ';'})
	return b.Bytes()
}

func greyRamp(n int) []byte {
	p := make([]byte, 3*n)
	for i := range p {
		p[i] = byte(i / 3)
	}
	return p
}

// Without a colour table (or with an identity grey ramp) a GIF frame is
// Pillow's "L": an index is its grey level. A local identity ramp keeps
// the global colours: Pillow gives that "L" frame the global palette.
func TestGIFPalettes(t *testing.T) {
	pix := []byte{0, 1, 2, 3, 3, 2}
	colours := []byte{10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120}
	for _, c := range []struct {
		name          string
		global, local []byte
		want          func(v byte) [3]byte
	}{
		{"none", nil, nil, func(v byte) [3]byte { return [3]byte{v, v, v} }},
		{"global-ramp", greyRamp(4), nil, func(v byte) [3]byte { return [3]byte{v, v, v} }},
		{"local-ramp", nil, greyRamp(4), func(v byte) [3]byte { return [3]byte{v, v, v} }},
		{"global-colour", colours, nil, func(v byte) [3]byte { return [3]byte(colours[3*v : 3*v+3]) }},
		{"global-colour-local-ramp", colours, greyRamp(4), func(v byte) [3]byte { return [3]byte(colours[3*v : 3*v+3]) }},
		{"global-ramp-local-colour", greyRamp(4), colours, func(v byte) [3]byte { return [3]byte(colours[3*v : 3*v+3]) }},
	} {
		var d Decoder
		img, err := d.Decode(testGIF(3, 2, c.global, c.local, pix, -1))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for i, v := range pix {
			if got, want := [3]byte(img.Pix[3*i:3*i+3]), c.want(v); got != want {
				t.Errorf("%s: pixel %d (index %d) is %v, want %v", c.name, i, v, got, want)
			}
		}
	}
}

// Pillow feeds the LZW decoder 64 KiB at a time and the decoder returns at
// an end code: one before the frame is full is fatal when the file ends
// within the data read so far, and skipped when more follows.
func TestGIFEndCodeBeforeFrameIsFull(t *testing.T) {
	pix := make([]byte, 100)
	for i := range pix {
		pix[i] = byte(i % 4)
	}
	var d Decoder
	if _, err := d.Decode(testGIF(10, 10, greyRamp(4), nil, pix, 50)); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("end code mid-frame in a small file: got %v, want a truncated file", err)
	}
	big := make([]byte, 400*400)
	for i := range big {
		big[i] = byte(i % 4)
	}
	img, err := d.Decode(testGIF(400, 400, greyRamp(4), nil, big, 1000))
	if err != nil {
		t.Fatalf("end code in the first 64 KiB with more file after it: %v", err)
	}
	for i, v := range big {
		if img.Pix[3*i] != v {
			t.Fatalf("pixel %d is %d, want %d", i, img.Pix[3*i], v)
		}
	}
}

// FuzzGIF feeds mutated corpus GIFs to the GIF reader: errors are fine,
// panics and inconsistent images are not.
func FuzzGIF(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "corpus", "gif", "*.gif"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 16<<10 {
			f.Add(b)
		}
	}
	f.Add(testGIF(3, 2, nil, nil, []byte{0, 1, 2, 3, 3, 2}, -1))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 6 {
			return
		}
		// Always a GIF, whatever the mutation did to the signature.
		data = append([]byte("GIF89a"), data[6:]...)
		d := Decoder{MaxPixels: 1 << 16} // small, so each run is quick
		img, err := d.decodeGIF(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "GIF") && !strings.Contains(err.Error(), "pixels") {
				t.Fatalf("error does not say GIF: %v", err)
			}
			return
		}
		if img.W <= 0 || img.H <= 0 || len(img.Pix) != img.W*img.H*3 {
			t.Fatalf("bad image %dx%d with %d bytes", img.W, img.H, len(img.Pix))
		}
	})
}
