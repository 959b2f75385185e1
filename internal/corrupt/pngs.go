package corrupt

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
)

// A damaged-PNG corpus, as the JPEG one: valid PNGs of every layout
// (bit depths, colour types, palettes with transparency, Adam7, image data
// split over many chunks, text and EXIF chunks, files over Pillow's 64 KiB
// read size), then cut short, with flipped bytes and checksums, damaged
// zlib streams and filter bytes, and broken chunks before and after the
// image data. Pillow is the judge (PillowVerdicts).

type pngChunkT struct {
	typ  string
	data []byte
}

func parsePNG(b []byte) []pngChunkT {
	var out []pngChunkT
	for i := 8; i+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[i:]))
		out = append(out, pngChunkT{string(b[i+4 : i+8]), b[i+8 : i+8+n]})
		i += 12 + n
	}
	return out
}

func buildPNG(chunks []pngChunkT) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	for _, c := range chunks {
		b.Write(pngChunk(c.typ, c.data))
	}
	return b.Bytes()
}

// idatOf joins the image data of a PNG's chunks.
func idatOf(chunks []pngChunkT) []byte {
	var d []byte
	for _, c := range chunks {
		if c.typ == "IDAT" {
			d = append(d, c.data...)
		}
	}
	return d
}

// withIDAT replaces the image data by data, in chunks of at most split
// bytes (0: one chunk), and inserts extra chunks before (pre) and after
// (post) it.
func withIDAT(chunks []pngChunkT, data []byte, split int, pre, post []pngChunkT) []pngChunkT {
	var out []pngChunkT
	done := false
	for _, c := range chunks {
		switch c.typ {
		case "IDAT":
			if done {
				continue
			}
			done = true
			out = append(out, pre...)
			if split <= 0 {
				split = len(data) + 1
			}
			for i := 0; i < len(data) || i == 0; i += split {
				out = append(out, pngChunkT{"IDAT", data[i:min(len(data), i+split)]})
			}
			out = append(out, post...)
		default:
			out = append(out, c)
		}
	}
	return out
}

// rawAdam7 encodes an 8-bit RGB image interlaced, every row filtered with
// filter type 1 (sub), since Go's encoder writes no interlaced PNGs.
func rawAdam7(m *image.NRGBA) []byte {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	var raw []byte
	passes := [][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
	for _, p := range passes {
		for y := p[1]; y < h; y += p[3] {
			var row []byte
			for x := p[0]; x < w; x += p[2] {
				c := m.NRGBAAt(x, y)
				row = append(row, c.R, c.G, c.B)
			}
			if len(row) == 0 {
				continue
			}
			f := []byte{1}
			for i := range row {
				prev := byte(0)
				if i >= 3 {
					prev = row[i-3]
				}
				f = append(f, row[i]-prev)
			}
			raw = append(raw, f...)
		}
	}
	return raw
}

func zlibBytes(raw []byte, level int) []byte {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, level)
	w.Write(raw)
	w.Close()
	return b.Bytes()
}

func ihdr(w, h int, depth, ctype, interlace byte) []byte {
	d := make([]byte, 13)
	binary.BigEndian.PutUint32(d, uint32(w))
	binary.BigEndian.PutUint32(d[4:], uint32(h))
	d[8], d[9], d[12] = depth, ctype, interlace
	return d
}

func encodeGo(m image.Image) []byte {
	var b bytes.Buffer
	(&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, m)
	return b.Bytes()
}

func pngBases() []jpegBase {
	var out []jpegBase
	add := func(name string, b []byte) { out = append(out, jpegBase{name, b}) }
	pic := Image(96, 64)
	add("rgb8", encodeGo(opaque(pic)))
	rgba := Image(80, 60)
	for i := 3; i < len(rgba.Pix); i += 4 {
		rgba.Pix[i] = uint8(i * 7 % 256)
	}
	add("rgba8", encodeGo(rgba))
	g := image.NewGray(image.Rect(0, 0, 70, 50))
	for i := range g.Pix {
		g.Pix[i] = uint8(i * 13 % 256)
	}
	add("gray8", encodeGo(g))
	g16 := image.NewGray16(image.Rect(0, 0, 40, 30))
	for i := range g16.Pix {
		g16.Pix[i] = uint8(i * 29 % 256)
	}
	add("gray16", encodeGo(g16))
	rgb16 := image.NewNRGBA64(image.Rect(0, 0, 36, 28))
	for y := 0; y < 28; y++ {
		for x := 0; x < 36; x++ {
			rgb16.SetNRGBA64(x, y, color.NRGBA64{uint16(x * 1800), uint16(y * 2300), uint16(x * y * 60), 0xffff})
		}
	}
	add("rgb16", encodeGo(rgb16))
	pal := color.Palette{}
	for i := 0; i < 16; i++ {
		pal = append(pal, color.NRGBA{uint8(i * 16), uint8(255 - i*16), uint8(i * 40), uint8(255 - i*8)})
	}
	pm := image.NewPaletted(image.Rect(0, 0, 64, 48), pal)
	for i := range pm.Pix {
		pm.Pix[i] = uint8(i * 7 % 16)
	}
	add("palette4trns", encodeGo(pm))
	bw := image.NewPaletted(image.Rect(0, 0, 50, 40), color.Palette{color.Black, color.White})
	for i := range bw.Pix {
		bw.Pix[i] = uint8(i / 3 % 2)
	}
	add("palette1", encodeGo(bw))
	// Adam7, and a large file over several 64 KiB reads, its image data in
	// 4 KiB chunks as many encoders write it.
	ad := Image(45, 37)
	add("adam7", buildPNG([]pngChunkT{{"IHDR", ihdr(45, 37, 8, 2, 1)}, {"IDAT", zlibBytes(rawAdam7(ad), 6)}, {"IEND", nil}}))
	big := image.NewNRGBA(image.Rect(0, 0, 300, 220))
	rng := rand.New(rand.NewSource(4))
	for i := range big.Pix {
		big.Pix[i] = uint8(rng.Intn(256))
		if i%4 == 3 {
			big.Pix[i] = 255
		}
	}
	bc := parsePNG(encodeGo(big))
	add("large-split", buildPNG(withIDAT(bc, idatOf(bc), 4096, nil, nil)))
	// Text, EXIF (orientation 6) and physical size before the image data.
	tc := parsePNG(encodeGo(opaque(Image(60, 40))))
	exif := exifOrientation(6)
	add("chunks", buildPNG(withIDAT(tc, idatOf(tc), 0, []pngChunkT{
		{"tEXt", []byte("Comment\x00hello")},
		{"zTXt", append([]byte("Title\x00\x00"), zlibBytes([]byte("a compressed title"), 9)...)},
		{"iTXt", []byte("Author\x00\x00\x00en\x00Author\x00someone")},
		{"pHYs", []byte{0, 0, 0x0b, 0x13, 0, 0, 0x0b, 0x13, 1}},
		{"eXIf", exif},
	}, nil)))
	return out
}

func opaque(m *image.NRGBA) *image.RGBA {
	r := image.NewRGBA(m.Rect)
	for i := range r.Pix {
		r.Pix[i] = m.Pix[i]
		if i%4 == 3 {
			r.Pix[i] = 255
		}
	}
	return r
}

// exifOrientation is a big-endian TIFF structure holding orientation o.
func exifOrientation(o int) []byte {
	return []byte{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(o), 0, 0, 0, 0, 0, 0}
}

// WriteDamagedPNGs writes the corpus into dir and returns the file names,
// sorted. The same seed gives the same files.
func WriteDamagedPNGs(dir string, seed int64) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for bi, base := range pngBases() {
		rng := rand.New(rand.NewSource(seed*1000 + int64(bi)))
		b := base.data
		n := len(b)
		cs := parsePNG(b)
		idat := idatOf(cs)
		put := func(suffix string, d []byte) { files[base.name+"-"+suffix+".png"] = d }
		rebuild := func(data []byte, pre, post []pngChunkT) []byte { return buildPNG(withIDAT(cs, data, 0, pre, post)) }
		put("intact", b)
		for _, c := range []int{9, 20, 33 + rng.Intn(20), n / 4, n / 2, n * 3 / 4, n - 20, n - 16, n - 13, n - 12, n - 8, n - 4, n - 1} {
			if c > 0 && c < n {
				put(fmt.Sprintf("cut%07d", c), b[:c])
			}
		}
		// The positions of the first image data chunk and of the end.
		first := bytes.Index(b, []byte("IDAT")) - 4
		idatEnd := first + 12 + int(binary.BigEndian.Uint32(b[first:]))
		for k, nf := range []int{1, 1, 3, 10} {
			d := bytes.Clone(b)
			for f := 0; f < nf; f++ {
				d[first+8+rng.Intn(idatEnd-first-12)] ^= byte(1 + rng.Intn(255))
			}
			put(fmt.Sprintf("flip%d-%d", k, nf), d)
		}
		flipAt := func(suffix string, p int) {
			d := bytes.Clone(b)
			d[p] ^= 0x41
			put(suffix, d)
		}
		flipAt("idat-crc", idatEnd-1)
		flipAt("ihdr-crc", 8+8+13+3)
		flipAt("adler", idatEnd-5)
		flipAt("zlib-header", first+8)
		d := bytes.Clone(b)
		d[first+9] |= 0x20 // FDICT
		put("zlib-fdict", buildPNG(parsePNG(d)))
		put("no-adler", rebuild(idat[:len(idat)-4], nil, nil))
		put("idat-trailing", rebuild(append(bytes.Clone(idat), "JUNKJUNK"...), nil, nil))
		put("idat-split-badcrc", func() []byte {
			c := buildPNG(withIDAT(cs, idat, max(1, len(idat)/3), nil, nil))
			// Flip the checksum of the second image data chunk.
			i := bytes.Index(c[first+12:], []byte("IDAT")) + first + 12
			l := int(binary.BigEndian.Uint32(c[i-4:]))
			c[i+4+l] ^= 1
			return c
		}())
		put("idat-empty-first", buildPNG(withIDAT(cs, idat, 0, []pngChunkT{{"IDAT", nil}}, nil)))
		put("stream-ends-early", func() []byte {
			raw := inflateAll(idat)
			return rebuild(zlibBytes(raw[:len(raw)/2], 6), nil, nil)
		}())
		put("filter-byte-bad", func() []byte {
			raw := inflateAll(idat)
			if len(raw) > 0 {
				raw[len(raw)*2/3] = 7 // may land on a filter byte or a sample
				raw[0] = 9
			}
			return rebuild(zlibBytes(raw, 6), nil, nil)
		}())
		// After the image data.
		end := idatEnd
		put("no-iend", b[:end])
		put("after-garbage", cat(b[:end], []byte("garbage!garbage!")))
		bad := pngChunk("tEXt", []byte("k\x00v"))
		bad[len(bad)-1] ^= 1
		put("after-badcrc", cat(b[:end], bad, b[end:]))
		put("after-text-cut", cat(b[:end], pngChunk("tEXt", []byte("key\x00a long value"))[:14]))
		put("after-unknown-cut", cat(b[:end], pngChunk("prIv", bytes.Repeat([]byte{1}, 40))[:30]))
		put("after-ztxt-method", cat(b[:end], pngChunk("zTXt", []byte("k\x00\x05xyz")), b[end:]))
		put("after-itxt-garbage", cat(b[:end], pngChunk("iTXt", []byte("k\x00\x01\x00\x00\x00garbage")), b[end:]))
		put("after-phys-short", cat(b[:end], pngChunk("pHYs", []byte{1, 2, 3}), b[end:]))
		put("after-ihdr-short", cat(b[:end], pngChunk("IHDR", []byte{0, 0, 1}), b[end:]))
		put("after-fctl", cat(b[:end], pngChunk("fcTL", make([]byte, 26)), b[end:]))
		put("after-exif", cat(b[:end], pngChunk("eXIf", exifOrientation(3)), b[end:]))
		put("after-idat-cut", cat(b[:end], pngChunk("IDAT", []byte("more data"))[:12]))
		// Before it.
		pre := func(suffix string, c ...pngChunkT) { put("pre-"+suffix, rebuild(idat, c, nil)) }
		pre("bad-type", pngChunkT{"t$Xt", []byte("x")})
		pre("phys-short", pngChunkT{"pHYs", []byte{0, 0, 0, 1}})
		pre("srgb-empty", pngChunkT{"sRGB", nil})
		pre("gama-short", pngChunkT{"gAMA", []byte{0, 1}})
		pre("iccp-method", pngChunkT{"iCCP", []byte("profile")})
		pre("iccp-garbage", pngChunkT{"iCCP", []byte("profile\x00\x00garbage")})
		pre("ztxt-bomb", pngChunkT{"zTXt", append([]byte("big\x00\x00"), zlibBytes(make([]byte, 1<<20+10), 9)...)})
		pre("itxt-bad-utf8", pngChunkT{"iTXt", []byte("k\x00\x00\x00en\x00k\x00\xff\xfe")})
		pre("xmp-orientation", pngChunkT{"iTXt", []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00<x:xmpmeta tiff:Orientation=\"8\"/>")})
		pre("exif-orientation", pngChunkT{"eXIf", exifOrientation(5)})
		pre("actl-short", pngChunkT{"acTL", []byte{0, 0, 0, 2}})
		pre("fctl-bad-seq", pngChunkT{"fcTL", append([]byte{0, 0, 0, 3}, make([]byte, 22)...)})
		pre("fdat-first", pngChunkT{"fdAT", []byte{0, 0, 0, 0, 1, 2}})
		pre("iend-first", pngChunkT{"IEND", nil})
		pre("unknown", pngChunkT{"prVt", []byte("private")})
		pre("trns-long", pngChunkT{"tRNS", bytes.Repeat([]byte{0x80}, 300)})
		pre("trns-short", pngChunkT{"tRNS", []byte{1}})
		h := cs[0].data
		for _, e := range []struct {
			suffix string
			edit   func(d []byte) []byte
		}{
			{"ihdr-short", func(d []byte) []byte { return d[:12] }},
			{"ihdr-filter", func(d []byte) []byte { d[11] = 1; return d }},
			{"ihdr-compression", func(d []byte) []byte { d[10] = 1; return d }},
			{"ihdr-interlace2", func(d []byte) []byte { d[12] = 2; return d }},
			{"ihdr-badpair", func(d []byte) []byte { d[8] = 5; return d }},
			{"ihdr-zero-width", func(d []byte) []byte { binary.BigEndian.PutUint32(d, 0); return d }},
			{"ihdr-huge", func(d []byte) []byte {
				binary.BigEndian.PutUint32(d, 60000)
				binary.BigEndian.PutUint32(d[4:], 60000)
				return d
			}},
			{"ihdr-taller", func(d []byte) []byte { binary.BigEndian.PutUint32(d[4:], binary.BigEndian.Uint32(d[4:])+3); return d }},
		} {
			c := append([]pngChunkT{{"IHDR", e.edit(bytes.Clone(h))}}, cs[1:]...)
			put("hdr-"+e.suffix, buildPNG(c))
		}
		put("hdr-ihdr-twice", buildPNG(append([]pngChunkT{cs[0], {"IHDR", ihdr(10, 10, 8, 0, 0)}}, cs[1:]...)))
		// Palettes: too short for the indices used, too long for the bit
		// depth, missing.
		if h[9] == 3 {
			var rest []pngChunkT
			for _, c := range cs[1:] {
				if c.typ != "PLTE" && c.typ != "tRNS" {
					rest = append(rest, c)
				}
			}
			put("plte-short", buildPNG(append([]pngChunkT{cs[0], {"PLTE", []byte{10, 20, 30, 40, 50, 60}}}, rest...)))
			put("plte-long", buildPNG(append([]pngChunkT{cs[0], {"PLTE", bytes.Repeat([]byte{7, 77, 177}, 40)}}, rest...)))
			put("plte-ragged", buildPNG(append([]pngChunkT{cs[0], {"PLTE", bytes.Repeat([]byte{9}, 47)}}, rest...)))
			put("plte-missing", buildPNG(append([]pngChunkT{cs[0]}, rest...)))
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

func inflateAll(z []byte) []byte {
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil
	}
	var b bytes.Buffer
	b.ReadFrom(r)
	return b.Bytes()
}
