package corrupt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image/jpeg"
	"math/rand"
	"os"
	"path/filepath"
	"sort"

	"github.com/featurizer/featurizer/internal/jpegtest"
)

// A damaged-JPEG corpus: valid JPEGs of every structure a decoder meets
// (baseline, progressive, restart markers, arithmetic coding, grey, CMYK,
// YCCK, optimized tables, EXIF, files over Pillow's 64 KiB read size),
// then cut short at many points, with bytes flipped in the entropy-coded
// data, both, and with damaged markers. No file says what a decoder should
// make of it: Pillow is the judge (PillowVerdicts).

type jpegBase struct {
	name string
	data []byte
}

// noisy draws a picture whose high frequencies make a large file.
func noisy(w, h int, seed int64) []byte {
	rng := rand.New(rand.NewSource(seed))
	pix := make([]byte, w*h*3)
	m := Image(w, h)
	for i := 0; i < w*h; i++ {
		for c := 0; c < 3; c++ {
			v := int(m.Pix[i*4+c]) + rng.Intn(96) - 48
			pix[i*3+c] = uint8(max(0, min(255, v)))
		}
	}
	return pix
}

func rgbOf(w, h int) []byte {
	m := Image(w, h)
	pix := make([]byte, w*h*3)
	for i := 0; i < w*h; i++ {
		copy(pix[i*3:], m.Pix[i*4:i*4+3])
	}
	return pix
}

func jpegBases() ([]jpegBase, error) {
	var out []jpegBase
	add := func(name string, pix []byte, w, h, format int, o jpegtest.Options) error {
		b, err := jpegtest.EncodeWith(pix, w, h, format, o)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, jpegBase{name, b})
		return nil
	}
	gray := func(w, h int) []byte {
		p := rgbOf(w, h)
		g := make([]byte, w*h)
		for i := range g {
			g[i] = p[i*3+1]
		}
		return g
	}
	cmyk := func(w, h int) []byte {
		p := rgbOf(w, h)
		c := make([]byte, w*h*4)
		for i := 0; i < w*h; i++ {
			c[i*4], c[i*4+1], c[i*4+2], c[i*4+3] = 255-p[i*3], 255-p[i*3+1], 255-p[i*3+2], uint8(i%97)
		}
		return c
	}
	steps := []func() error{
		func() error { return add("baseline420", rgbOf(160, 120), 160, 120, jpegtest.RGB, jpegtest.Options{}) },
		func() error {
			return add("baseline444odd", rgbOf(97, 61), 97, 61, jpegtest.RGB, jpegtest.Options{Subsampling: "444", Quality: 95})
		},
		func() error {
			return add("progressive420", rgbOf(150, 100), 150, 100, jpegtest.RGB, jpegtest.Options{Progressive: true, Quality: 85})
		},
		func() error {
			return add("progressivegray", gray(120, 90), 120, 90, jpegtest.Gray, jpegtest.Options{Progressive: true})
		},
		func() error {
			return add("restart420", rgbOf(130, 70), 130, 70, jpegtest.RGB, jpegtest.Options{RestartMCUs: 2})
		},
		func() error {
			return add("progressiverestart422", rgbOf(128, 96), 128, 96, jpegtest.RGB, jpegtest.Options{Progressive: true, Subsampling: "422", RestartRows: 1})
		},
		func() error {
			return add("ycck", cmyk(96, 64), 96, 64, jpegtest.CMYK, jpegtest.Options{Subsampling: "444", YCCK: true})
		},
		func() error {
			return add("cmyk", cmyk(72, 40), 72, 40, jpegtest.CMYK, jpegtest.Options{Subsampling: "444"})
		},
		func() error {
			return add("arithmetic", rgbOf(100, 80), 100, 80, jpegtest.RGB, jpegtest.Options{Arithmetic: true})
		},
		func() error {
			return add("optimized440", rgbOf(88, 120), 88, 120, jpegtest.RGB, jpegtest.Options{Optimize: true, Subsampling: "440"})
		},
		// Over 64 KiB: Pillow hands libjpeg the file in 64 KiB reads.
		func() error {
			return add("large-baseline", noisy(720, 540, 1), 720, 540, jpegtest.RGB, jpegtest.Options{Quality: 97})
		},
		func() error {
			return add("large-progressive", noisy(600, 420, 2), 600, 420, jpegtest.RGB, jpegtest.Options{Quality: 95, Progressive: true})
		},
		func() error {
			return add("large-restart", noisy(640, 400, 3), 640, 400, jpegtest.RGB, jpegtest.Options{Quality: 96, RestartRows: 2})
		},
		func() error {
			// Go's own encoder: another writer's choices of tables and layout.
			var b bytes.Buffer
			if err := jpeg.Encode(&b, Image(120, 80), &jpeg.Options{Quality: 80}); err != nil {
				return err
			}
			out = append(out, jpegBase{"goencoder", b.Bytes()})
			return nil
		},
		func() error {
			b, err := jpegtest.EncodeWith(rgbOf(90, 60), 90, 60, jpegtest.RGB, jpegtest.Options{})
			if err != nil {
				return err
			}
			out = append(out, jpegBase{"exif6", jpegtest.WithOrientation(b, 6)})
			return nil
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// jpegLayout locates a JPEG's marker segments before the first scan and
// where the entropy-coded data of that scan starts.
type jpegLayout struct {
	segs     []segment // SOI excluded
	scanData int       // first byte after the first SOS segment
}

type segment struct {
	marker     byte
	start, end int // start at the 0xFF, end after the segment
}

func layoutOf(b []byte) jpegLayout {
	var l jpegLayout
	i := 2
	for i+4 <= len(b) && b[i] == 0xFF {
		m := b[i+1]
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		l.segs = append(l.segs, segment{m, i, i + 2 + n})
		i += 2 + n
		if m == 0xDA {
			l.scanData = i
			break
		}
	}
	return l
}

func (l jpegLayout) find(m byte) (segment, bool) {
	for _, s := range l.segs {
		if s.marker == m {
			return s, true
		}
	}
	return segment{}, false
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// markersIn lists the offsets of markers (0xFF followed by neither 0x00
// nor 0xFF) at or after from.
func markersIn(b []byte, from int, want func(byte) bool) []int {
	var out []int
	for i := from; i+1 < len(b); i++ {
		if b[i] == 0xFF && b[i+1] != 0 && b[i+1] != 0xFF && want(b[i+1]) {
			out = append(out, i)
		}
	}
	return out
}

// WriteDamagedJPEGs writes the corpus into dir and returns the file names,
// sorted. The same seed gives the same files.
func WriteDamagedJPEGs(dir string, seed int64) ([]string, error) {
	bases, err := jpegBases()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	put := func(name string, b []byte) { files[name+".jpg"] = b }
	for bi, base := range bases {
		rng := rand.New(rand.NewSource(seed*1000 + int64(bi)))
		b, l := base.data, layoutOf(base.data)
		n, sd := len(b), l.scanData
		put(base.name+"-intact", b)
		// Cut short: in the header, right after the scan header, all along
		// the entropy-coded data, without its EOI, halfway into the EOI.
		cuts := []int{1 + rng.Intn(sd-1), 1 + rng.Intn(sd-1), sd - 1, sd}
		for k := 1; k <= 9; k++ {
			cuts = append(cuts, sd+(n-2-sd)*k/10)
		}
		cuts = append(cuts, sd+rng.Intn(n-2-sd), n-3, n-2, n-1)
		for _, c := range cuts {
			put(fmt.Sprintf("%s-cut%07d", base.name, c), b[:c])
		}
		// Bytes flipped in the entropy-coded data.
		for k, nf := range []int{1, 1, 3, 10, 40} {
			d := bytes.Clone(b)
			for f := 0; f < nf; f++ {
				d[sd+rng.Intn(n-2-sd)] ^= byte(1 + rng.Intn(255))
			}
			put(fmt.Sprintf("%s-flip%d-%d", base.name, k, nf), d)
		}
		put(base.name+"-flipff", func() []byte {
			d := bytes.Clone(b)
			for f := 0; f < 2; f++ {
				d[sd+rng.Intn(n-2-sd)] = 0xFF
			}
			return d
		}())
		put(base.name+"-flipmarker", func() []byte {
			d := bytes.Clone(b)
			p := sd + rng.Intn(n-4-sd)
			d[p], d[p+1] = 0xFF, byte(0xC0+rng.Intn(0x3E))
			return d
		}())
		// Both: damaged in the middle, then cut short.
		for k := 0; k < 5; k++ {
			mid := sd + (n-2-sd)/2
			d := bytes.Clone(b)
			for f := 0; f <= k; f++ {
				d[sd+rng.Intn(mid-sd)] ^= byte(1 + rng.Intn(255))
			}
			c := mid + rng.Intn(n-2-mid)
			put(fmt.Sprintf("%s-flipcut%d-%07d", base.name, k, c), d[:c])
		}
		// Restart markers removed, renumbered, moved.
		if rst := markersIn(b, sd, func(m byte) bool { return m >= 0xD0 && m <= 0xD7 }); len(rst) > 0 {
			p := rst[rng.Intn(len(rst))]
			put(base.name+"-rst-removed", cat(b[:p], b[p+2:]))
			d := bytes.Clone(b)
			d[p+1] = 0xD0 + (d[p+1]-0xD0+3)%8
			put(base.name+"-rst-renumbered", d)
			q := sd + rng.Intn(n-2-sd)
			put(base.name+"-rst-extra", cat(b[:q], []byte{0xFF, 0xD0 + byte(rng.Intn(8))}, b[q:]))
		} else {
			q := sd + rng.Intn(n-2-sd)
			put(base.name+"-rst-inserted", cat(b[:q], []byte{0xFF, 0xD3}, b[q:]))
		}
		// An EOI in the middle of the data; junk after the real EOI.
		q := sd + rng.Intn(n-2-sd)
		put(base.name+"-eoi-inside", cat(b[:q], []byte{0xFF, 0xD9}, b[q:]))
		put(base.name+"-junk-after-eoi", cat(b, []byte("trailing junk \xff\x00\xff")))
		// Later scans of a progressive file: one dropped, one header hit.
		if sos := markersIn(b, sd, func(m byte) bool { return m == 0xDA }); len(sos) > 0 {
			last := sos[len(sos)-1]
			put(base.name+"-lastscan-dropped", cat(b[:last], []byte{0xFF, 0xD9}))
			p := sos[rng.Intn(len(sos))]
			d := bytes.Clone(b)
			segLen := int(binary.BigEndian.Uint16(b[p+2:]))
			d[p+2+segLen-1-rng.Intn(3)] ^= byte(1 + rng.Intn(255)) // Ss, Se or Ah/Al
			put(base.name+"-scanheader-damaged", d)
		}
		markerDamage(put, base.name, b, l, rng)
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

// markerDamage writes variants of b with damaged or unusual markers before
// the first scan.
func markerDamage(put func(string, []byte), name string, b []byte, l jpegLayout, rng *rand.Rand) {
	first := l.segs[0].start
	sos, _ := l.find(0xDA)
	v := func(suffix string, d []byte) { put(name+"-hdr-"+suffix, d) }
	v("tem-after-soi", cat(b[:2], []byte{0xFF, 0x01}, b[2:]))
	v("unknown-marker", cat(b[:sos.start], []byte{0xFF, 0x02, 0, 4, 0, 0}, b[sos.start:]))
	v("junk-between", cat(b[:sos.start], []byte{0x12, 0x34, 0x56}, b[sos.start:]))
	v("ff00-between", cat(b[:sos.start], []byte{0xFF, 0x00}, b[sos.start:]))
	v("fill-bytes", cat(b[:sos.start], []byte{0xFF, 0xFF, 0xFF}, b[sos.start:]))
	v("jpg-marker", cat(b[:sos.start], []byte{0xFF, 0xF3}, b[sos.start:]))
	v("soi-repeated", cat(b[:first], []byte{0xFF, 0xD8}, b[first:]))
	v("eoi-before-sos", cat(b[:sos.start], []byte{0xFF, 0xD9}, b[sos.start:]))
	v("sos-cut", b[:sos.start+4+rng.Intn(sos.end-sos.start-4)])
	if dqt, ok := l.find(0xDB); ok {
		d := cat(b[:dqt.start], b[dqt.start:dqt.end-10], b[dqt.end:])
		binary.BigEndian.PutUint16(d[dqt.start+2:], uint16(dqt.end-dqt.start-2-10))
		v("dqt-short", d)
		d = bytes.Clone(b)
		binary.BigEndian.PutUint16(d[dqt.start+2:], uint16(dqt.end-dqt.start-2+1))
		v("dqt-length-plus1", d)
		d = bytes.Clone(b)
		d[dqt.start+4] |= 0x10 // 16-bit precision claimed
		v("dqt-precision", d)
		v("dqt-removed", cat(b[:dqt.start], b[dqt.end:]))
	}
	if dht, ok := l.find(0xC4); ok {
		d := bytes.Clone(b)
		for k := 0; k < 3; k++ {
			d[dht.start+5+rng.Intn(dht.end-dht.start-5)] ^= byte(1 + rng.Intn(255))
		}
		v("dht-garbage", d)
		v("dht-removed", cat(b[:dht.start], b[dht.end:]))
		d = bytes.Clone(b)
		binary.BigEndian.PutUint16(d[dht.start+2:], uint16(dht.end-dht.start-2-1))
		v("dht-length-minus1", d)
	}
	var sof segment
	for _, s := range l.segs {
		if s.marker >= 0xC0 && s.marker <= 0xCF && s.marker != 0xC4 && s.marker != 0xC8 && s.marker != 0xCC {
			sof = s
		}
	}
	if sof.end > 0 {
		edit := func(suffix string, f func(d []byte)) {
			d := bytes.Clone(b)
			f(d[sof.start+4 : sof.end])
			v(suffix, d)
		}
		edit("sof-12bit", func(s []byte) { s[0] = 12 })
		edit("sof-2layers", func(s []byte) { s[5] = 2 })
		edit("sof-zero-width", func(s []byte) { s[3], s[4] = 0, 0 })
		edit("sof-huge", func(s []byte) { binary.BigEndian.PutUint16(s[1:], 60000); binary.BigEndian.PutUint16(s[3:], 60000) })
		edit("sof-wider", func(s []byte) { binary.BigEndian.PutUint16(s[3:], binary.BigEndian.Uint16(s[3:])+24) })
		edit("sof-taller", func(s []byte) { binary.BigEndian.PutUint16(s[1:], binary.BigEndian.Uint16(s[1:])+40) })
		edit("sof-shorter", func(s []byte) { binary.BigEndian.PutUint16(s[1:], binary.BigEndian.Uint16(s[1:])/2) })
		edit("sof-component-id", func(s []byte) { s[6] ^= 0x40 })
		edit("sof-sampling", func(s []byte) { s[7] = 0x44 })
		v("sof-duplicated", cat(b[:sof.end], b[sof.start:sof.end], b[sof.end:]))
		v("sof-removed", cat(b[:sof.start], b[sof.end:]))
		d := bytes.Clone(b)
		d[sof.start+1] = 0xC3 // lossless
		v("sof-lossless", d)
	}
	v("app0-jfif-short", cat(b[:2], []byte{0xFF, 0xE0, 0, 7, 'J', 'F', 'I', 'F', 0}, b[2:]))
	v("app14-adobe-short", cat(b[:2], []byte{0xFF, 0xEE, 0, 7, 'A', 'd', 'o', 'b', 'e'}, b[2:]))
	v("app13-photoshop-cut", cat(b[:2], []byte{0xFF, 0xED, 0, 22}, []byte("Photoshop 3.0\x008BIM\x04\x04"), b[2:]))
	v("app-length-overrun", cat(b[:2], []byte{0xFF, 0xE5, 0xFF, 0xF0, 'x'}, b[2:]))
	v("app-length-one", cat(b[:2], []byte{0xFF, 0xE5, 0, 1}, b[2:]))
	v("com-segment", cat(b[:2], []byte{0xFF, 0xFE, 0, 7, 'h', 'e', 'l', 'l', 'o'}, b[2:]))
	v("dri-every-mcu", cat(b[:sos.start], []byte{0xFF, 0xDD, 0, 4, 0, 1}, b[sos.start:]))
	v("second-image", cat(b, b))
}
