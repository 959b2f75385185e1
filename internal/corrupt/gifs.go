package corrupt

import (
	"bytes"
	"compress/lzw"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
)

// A damaged-GIF corpus, as the JPEG and PNG ones: GIFs of every layout a
// decoder meets (global and local palettes, identity grey palettes and no
// palette, transparency, interlacing, a frame smaller or larger than the
// screen, palettes shorter than the indices used, LZW data over 64 KiB,
// application and comment extensions), then cut short, with flipped data,
// too much or too little image data, and broken blocks. Pillow is the
// judge (PillowVerdicts).

// gifSpec is one GIF's first frame and what surrounds it.
type gifSpec struct {
	w, h           int
	global, local  []byte // RGB triples, a power of two of them; nil for none
	fx, fy, fw, fh int
	interlace      bool
	trans          int // transparent index, -1 for none
	minCode        int
	pix            []byte // the frame's indices, rows top to bottom
	extra          int    // pixels of data beyond the frame
	netscape       bool
	comment        bool
}

func paletteBits(p []byte) byte {
	n := len(p) / 3
	b := byte(0)
	for 2<<b < n {
		b++
	}
	return b
}

func encodeGIF(s gifSpec) []byte {
	var b bytes.Buffer
	le := func(v int) { binary.Write(&b, binary.LittleEndian, uint16(v)) }
	b.WriteString("GIF89a")
	le(s.w)
	le(s.h)
	flags := byte(0x70)
	if s.global != nil {
		flags |= 0x80 | paletteBits(s.global)
	}
	b.Write([]byte{flags, 0, 0})
	b.Write(s.global)
	if s.netscape {
		b.Write([]byte{0x21, 0xFF, 11})
		b.WriteString("NETSCAPE2.0")
		b.Write([]byte{3, 1, 0, 0, 0})
	}
	if s.comment {
		b.Write([]byte{0x21, 0xFE, 5})
		b.WriteString("hello")
		b.WriteByte(0)
	}
	if s.trans >= 0 {
		b.Write([]byte{0x21, 0xF9, 4, 1, 10, 0, byte(s.trans), 0})
	}
	b.WriteByte(0x2C)
	le(s.fx)
	le(s.fy)
	le(s.fw)
	le(s.fh)
	flags = 0
	if s.local != nil {
		flags |= 0x80 | paletteBits(s.local)
	}
	if s.interlace {
		flags |= 0x40
	}
	b.WriteByte(flags)
	b.Write(s.local)
	b.WriteByte(byte(s.minCode))
	// Rows in stream order, then extra pixels.
	var rows []int
	if s.interlace {
		for _, p := range [][2]int{{0, 8}, {4, 8}, {2, 4}, {1, 2}} {
			for y := p[0]; y < s.fh; y += p[1] {
				rows = append(rows, y)
			}
		}
	} else {
		for y := 0; y < s.fh; y++ {
			rows = append(rows, y)
		}
	}
	var stream []byte
	for _, y := range rows {
		stream = append(stream, s.pix[y*s.fw:(y+1)*s.fw]...)
	}
	for i := 0; i < s.extra; i++ {
		stream = append(stream, byte(i%(1<<s.minCode)))
	}
	var z bytes.Buffer
	w := lzw.NewWriter(&z, lzw.LSB, max(2, s.minCode))
	w.Write(stream)
	w.Close()
	data := z.Bytes()
	for len(data) > 0 {
		n := min(255, len(data))
		b.WriteByte(byte(n))
		b.Write(data[:n])
		data = data[n:]
	}
	b.Write([]byte{0, 0x3B})
	return b.Bytes()
}

func randomPalette(rng *rand.Rand, n int) []byte {
	p := make([]byte, 3*n)
	rng.Read(p)
	return p
}

func gifBases() []jpegBase {
	rng := rand.New(rand.NewSource(11))
	idx := func(w, h, n int) []byte {
		p := make([]byte, w*h)
		for i := range p {
			p[i] = byte((i*7 + i/w*3) % n)
		}
		return p
	}
	ramp := make([]byte, 768)
	for i := 0; i < 256; i++ {
		ramp[i*3], ramp[i*3+1], ramp[i*3+2] = byte(i), byte(i), byte(i)
	}
	var out []jpegBase
	add := func(name string, s gifSpec) { out = append(out, jpegBase{name, encodeGIF(s)}) }
	add("basic", gifSpec{w: 80, h: 60, global: randomPalette(rng, 256), fw: 80, fh: 60, trans: -1, minCode: 8, pix: idx(80, 60, 256)})
	add("trans", gifSpec{w: 64, h: 48, global: randomPalette(rng, 16), fw: 64, fh: 48, trans: 3, minCode: 4, pix: idx(64, 48, 16)})
	add("interlaced", gifSpec{w: 70, h: 50, global: randomPalette(rng, 64), fw: 70, fh: 50, interlace: true, trans: -1, minCode: 6, pix: idx(70, 50, 64)})
	add("local", gifSpec{w: 50, h: 40, local: randomPalette(rng, 32), fw: 50, fh: 40, trans: -1, minCode: 5, pix: idx(50, 40, 32)})
	add("grey", gifSpec{w: 60, h: 30, global: ramp, fw: 60, fh: 30, trans: 7, minCode: 8, pix: idx(60, 30, 256)})
	add("nopalette", gifSpec{w: 40, h: 40, fw: 40, fh: 40, trans: -1, minCode: 8, pix: idx(40, 40, 256)})
	add("offset", gifSpec{w: 100, h: 80, global: randomPalette(rng, 64), fx: 10, fy: 20, fw: 40, fh: 30, trans: -1, minCode: 6, pix: idx(40, 30, 64)})
	add("offsettrans", gifSpec{w: 100, h: 80, global: randomPalette(rng, 64), fx: 30, fy: 5, fw: 50, fh: 60, trans: 9, minCode: 6, pix: idx(50, 60, 64)})
	add("overscreen", gifSpec{w: 30, h: 30, global: randomPalette(rng, 16), fx: 5, fy: 5, fw: 50, fh: 40, trans: -1, minCode: 4, pix: idx(50, 40, 16)})
	add("shortpalette", gifSpec{w: 48, h: 36, global: randomPalette(rng, 4), fw: 48, fh: 36, trans: -1, minCode: 8, pix: idx(48, 36, 200)})
	add("extensions", gifSpec{w: 40, h: 30, global: randomPalette(rng, 8), fw: 40, fh: 30, trans: 2, minCode: 3, pix: idx(40, 30, 8), netscape: true, comment: true})
	big := make([]byte, 420*320)
	rng.Read(big)
	add("large", gifSpec{w: 420, h: 320, global: randomPalette(rng, 256), fw: 420, fh: 320, trans: -1, minCode: 8, pix: big})
	add("toomuchdata", gifSpec{w: 40, h: 30, global: randomPalette(rng, 16), fw: 40, fh: 30, trans: -1, minCode: 4, pix: idx(40, 30, 16), extra: 500})
	return out
}

// gifDataStart is the offset of the first frame's minimum code size
// byte, or -1.
func gifDataStart(b []byte) int {
	p := 13
	if b[10]&0x80 != 0 {
		p += 3 << (b[10]&7 + 1)
	}
	for p < len(b) {
		switch b[p] {
		case 0x21:
			p += 2
			for p < len(b) && b[p] != 0 {
				p += int(b[p]) + 1
			}
			p++
		case 0x2C:
			f := b[p+9]
			p += 10
			if f&0x80 != 0 {
				p += 3 << (f&7 + 1)
			}
			return p
		default:
			return -1
		}
	}
	return -1
}

// WriteDamagedGIFs writes the corpus into dir and returns the file names,
// sorted. The same seed gives the same files.
func WriteDamagedGIFs(dir string, seed int64) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for bi, base := range gifBases() {
		rng := rand.New(rand.NewSource(seed*1000 + int64(bi)))
		b := base.data
		n := len(b)
		put := func(suffix string, d []byte) { files[base.name+"-"+suffix+".gif"] = d }
		put("intact", b)
		ds := gifDataStart(b)
		if ds < 0 {
			return nil, fmt.Errorf("gif base %s: no image data found", base.name)
		}
		for _, c := range []int{7, 12, 13 + rng.Intn(max(1, ds-13)), ds - 1, ds, ds + 1, ds + 2, ds + (n-ds)/4, ds + (n-ds)/2, ds + 3*(n-ds)/4, n - 4, n - 3, n - 2, n - 1} {
			if c > 0 && c < n {
				put(fmt.Sprintf("cut%07d", c), b[:c])
			}
		}
		for k, nf := range []int{1, 1, 3, 10} {
			d := bytes.Clone(b)
			for f := 0; f < nf; f++ {
				d[ds+2+rng.Intn(max(1, n-ds-5))] ^= byte(1 + rng.Intn(255))
			}
			put(fmt.Sprintf("flip%d-%d", k, nf), d)
		}
		for k := 0; k < 2; k++ {
			d := bytes.Clone(b)
			d[ds+2+rng.Intn(max(1, n-ds-5))] ^= byte(1 + rng.Intn(255))
			c := ds + (n-ds)/2 + rng.Intn(max(1, (n-ds)/2))
			put(fmt.Sprintf("flipcut%d-%07d", k, c), d[:min(c, n)])
		}
		mod := func(suffix string, f func(d []byte) []byte) { put(suffix, f(bytes.Clone(b))) }
		mod("mincode-0", func(d []byte) []byte { d[ds] = 0; return d })
		mod("mincode-13", func(d []byte) []byte { d[ds] = 13; return d })
		mod("mincode-plus1", func(d []byte) []byte { d[ds]++; return d })
		mod("block-longer", func(d []byte) []byte { d[ds+1] = 255; return d })
		mod("block-shorter", func(d []byte) []byte {
			if d[ds+1] > 3 {
				d[ds+1] -= 3
			}
			return d
		})
		mod("no-trailer", func(d []byte) []byte { return d[:n-1] })
		mod("no-terminator", func(d []byte) []byte { return d[:n-2] })
		mod("junk-after", func(d []byte) []byte { return append(d, "trailing junk"...) })
		mod("zero-width", func(d []byte) []byte {
			i := bytes.IndexByte(d[13:], 0x2C) + 13
			if i > 13 && i+9 < len(d) && d[i+9]&0x80 == 0 {
				d[i+5], d[i+6] = 0, 0
			}
			return d
		})
		mod("only-extensions", func(d []byte) []byte {
			p := 13
			if d[10]&0x80 != 0 {
				p += 3 << (d[10]&7 + 1)
			}
			return append(d[:p:p], 0x21, 0xFE, 2, 'h', 'i', 0, 0x3B)
		})
		mod("gce-short", func(d []byte) []byte {
			p := 13
			if d[10]&0x80 != 0 {
				p += 3 << (d[10]&7 + 1)
			}
			return cat(d[:p], []byte{0x21, 0xF9, 2, 1, 0, 0}, d[p:])
		})
		mod("gce-empty", func(d []byte) []byte {
			p := 13
			if d[10]&0x80 != 0 {
				p += 3 << (d[10]&7 + 1)
			}
			return cat(d[:p], []byte{0x21, 0xF9, 0}, d[p:])
		})
		mod("app-empty", func(d []byte) []byte {
			p := 13
			if d[10]&0x80 != 0 {
				p += 3 << (d[10]&7 + 1)
			}
			return cat(d[:p], []byte{0x21, 0xFF, 0}, d[p:])
		})
		mod("stray-byte", func(d []byte) []byte {
			p := 13
			if d[10]&0x80 != 0 {
				p += 3 << (d[10]&7 + 1)
			}
			return cat(d[:p], []byte{0x42}, d[p:])
		})
		if b[10]&0x80 != 0 {
			pal := 3 << (b[10]&7 + 1)
			put("palette-cut", b[:13+pal-1])
		}
	}
	names := make([]string, 0, len(files))
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}
