package featurize

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// TIFF as Pillow 9.4 reads it (TiffImagePlugin): its IFD parser, its
// (photometric, sample format, fill order, bits, extra samples) -> (mode,
// rawmode) table, its own raw decoder for uncompressed data and libtiff,
// driven as TiffDecode.c drives it, for everything compressed; then the
// mode becomes RGB as the pixel policy says (pillow_verdict.py).

// isTIFFMagic reports the byte orders and versions Pillow's TIFF plugin
// accepts (TiffImagePlugin.PREFIXES), BigTIFF included.
func isTIFFMagic(b []byte) bool {
	_, ok := tiffPrefix(b)
	return ok
}

// decodeTIFF decodes frame 0 of a TIFF with its Orientation tag applied
// once, upright.
func (d *Decoder) decodeTIFF(data []byte) (*RGB, error) {
	t, err := tiffOpen(data)
	if err != nil {
		return nil, err
	}
	if t.w > 1<<31 || t.h > 1<<31 {
		// Python's sizes do not overflow; ours would, past the limit anyway.
		return nil, fmt.Errorf("image is %dx%d pixels, over the limit (--max-pixels)", t.w, t.h)
	}
	if err := d.checkSize(t.w, t.h); err != nil {
		return nil, err
	}
	im, err := t.load(data)
	if err != nil {
		return nil, err
	}
	if err := t.ifd.checkExifIFDs(data); err != nil {
		return nil, err
	}
	d.pix = grow(d.pix, im.w*im.h*3)
	if err := im.toRGB(d.pix, t.palette); err != nil {
		return nil, err
	}
	img := &RGB{W: im.w, H: im.h, Pix: d.pix}
	// Turned once by its Orientation tag, as Pillow turns it on load.
	// Pillow before 10.1 then let ImageOps.exif_transpose turn it a second
	// time (python-pillow/Pillow#7381, fixed by #7383): that bug is not
	// reproduced, and the judge scripts load such a TIFF without it.
	img, d.obuf = orient(img, t.orientation, d.obuf)
	return img, nil
}

// --- IFD --------------------------------------------------------------

// tiffTypeSize is the unit size of each tag type Pillow loads (others are
// skipped), for the TIFF decoder and getexif alike.
var tiffTypeSize = map[uint16]int{1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8}

type tiffEntry struct {
	typ  uint16
	data []byte
}

type tiffIFD struct {
	bo     binary.ByteOrder
	big    bool
	offset uint64
	tags   map[uint16]tiffEntry
	next   uint64
	// overflow: a BigTIFF value offset at or past 2^63, which Python
	// cannot seek to: Image.open fails.
	overflow bool
}

// loadIFD is ImageFileDirectory_v2.load: a read past the end stops it
// there (keeping the tags read so far), never fails.
func loadIFD(data []byte, off uint64, bo binary.ByteOrder, big bool, next uint64) *tiffIFD {
	f := &tiffIFD{bo: bo, big: big, offset: off, tags: map[uint16]tiffEntry{}, next: next}
	read := func(pos uint64, n int) ([]byte, bool) {
		if pos > uint64(len(data)) || uint64(len(data))-pos < uint64(n) {
			return nil, false
		}
		return data[pos : pos+uint64(n)], true
	}
	pos := off
	var count uint64
	if big {
		b, ok := read(pos, 8)
		if !ok {
			return f
		}
		count, pos = bo.Uint64(b), pos+8
	} else {
		b, ok := read(pos, 2)
		if !ok {
			return f
		}
		count, pos = uint64(bo.Uint16(b)), pos+2
	}
	esize, inline := 12, 4
	if big {
		esize, inline = 20, 8
	}
	for i := uint64(0); i < count; i++ {
		e, ok := read(pos, esize)
		if !ok {
			return f
		}
		pos += uint64(esize)
		tag, typ := bo.Uint16(e), bo.Uint16(e[2:])
		var n uint64
		var val []byte
		if big {
			n, val = bo.Uint64(e[4:]), e[12:20]
		} else {
			n, val = uint64(bo.Uint32(e[4:])), e[8:12]
		}
		unit, known := tiffTypeSize[typ]
		if !known {
			continue
		}
		var b []byte
		if n > uint64(inline/unit) { // the value lies elsewhere
			var at uint64
			if big {
				at = bo.Uint64(val)
			} else {
				at = uint64(bo.Uint32(val))
			}
			if at >= 1<<63 {
				f.overflow = true // fp.seek: OverflowError, not swallowed
				return f
			}
			if n > math.MaxInt64/8 {
				return f // _safe_read comes up short: the load stops
			}
			size := n * uint64(unit)
			if size > uint64(len(data)) {
				return f
			}
			if b, ok = read(at, int(size)); !ok {
				return f // "Truncated File Read" ends the whole IFD
			}
		} else {
			b = val[:n*uint64(unit)]
		}
		if len(b) == 0 {
			continue
		}
		f.tags[tag] = tiffEntry{typ: typ, data: b}
	}
	if big {
		if b, ok := read(pos, 8); ok {
			f.next = bo.Uint64(b)
		}
	} else if b, ok := read(pos, 4); ok {
		f.next = uint64(bo.Uint32(b))
	}
	return f
}

// pyVal is a decoded tag value: numbers (Pillow's ints, floats and
// IFDRationals all compare and hash by value) or a non-number: the str of
// an ASCII tag, or the bytes of a BYTE or UNDEFINED one.
type pyVal struct {
	nums  []float64
	isNum bool
	// float: the numbers are Python floats or IFDRationals, which Pillow
	// cannot use as a file offset or a tile coordinate.
	float bool
	str   bool   // an ASCII tag: a str
	raw   []byte // the str's text, or the bytes
	// undef: UNDEFINED, which a tag of many values holds as a 1-tuple
	// (bytes,), where BYTE gives the bytes themselves.
	undef bool
}

// tiffEnum is TiffTags' cvt_enum: an ASCII value that names a value of
// one of these tags is that number.
var tiffEnum = map[uint16]map[string]float64{
	259: {"Uncompressed": 1, "CCITT 1d": 2, "Group 3 Fax": 3, "Group 4 Fax": 4, "LZW": 5, "JPEG": 6, "PackBits": 32773},
	262: {"WhiteIsZero": 0, "BlackIsZero": 1, "RGB": 2, "RGB Palette": 3, "Transparency Mask": 4, "CMYK": 5, "YCbCr": 6, "CieLAB": 8, "CFA": 32803, "LinearRaw": 32892},
	284: {"Contiguous": 1, "Separate": 2},
	296: {"none": 1, "inch": 2, "cm": 3},
}

func (f *tiffIFD) values(tag uint16) (pyVal, bool) {
	e, ok := f.tags[tag]
	if !ok {
		return pyVal{}, false
	}
	bo, b := f.bo, e.data
	var v pyVal
	switch e.typ {
	case 3:
		for i := 0; i+2 <= len(b); i += 2 {
			v.nums = append(v.nums, float64(bo.Uint16(b[i:])))
		}
	case 8:
		for i := 0; i+2 <= len(b); i += 2 {
			v.nums = append(v.nums, float64(int16(bo.Uint16(b[i:]))))
		}
	case 4, 13:
		for i := 0; i+4 <= len(b); i += 4 {
			v.nums = append(v.nums, float64(bo.Uint32(b[i:])))
		}
	case 9:
		for i := 0; i+4 <= len(b); i += 4 {
			v.nums = append(v.nums, float64(int32(bo.Uint32(b[i:]))))
		}
	case 6:
		for _, c := range b {
			v.nums = append(v.nums, float64(int8(c)))
		}
	case 16:
		for i := 0; i+8 <= len(b); i += 8 {
			v.nums = append(v.nums, float64(bo.Uint64(b[i:])))
		}
	case 11:
		v.float = true
		for i := 0; i+4 <= len(b); i += 4 {
			v.nums = append(v.nums, float64(math.Float32frombits(bo.Uint32(b[i:]))))
		}
	case 12:
		v.float = true
		for i := 0; i+8 <= len(b); i += 8 {
			v.nums = append(v.nums, math.Float64frombits(bo.Uint64(b[i:])))
		}
	case 5, 10:
		v.float = true
		for i := 0; i+8 <= len(b); i += 8 {
			var n, d float64
			if e.typ == 5 {
				n, d = float64(bo.Uint32(b[i:])), float64(bo.Uint32(b[i+4:]))
			} else {
				n, d = float64(int32(bo.Uint32(b[i:]))), float64(int32(bo.Uint32(b[i+4:])))
			}
			if d == 0 {
				v.nums = append(v.nums, math.NaN())
			} else {
				v.nums = append(v.nums, n/d)
			}
		}
	case 2: // load_string: one trailing NUL goes, latin-1
		t := b
		if len(t) > 0 && t[len(t)-1] == 0 {
			t = t[:len(t)-1]
		}
		if n, ok := tiffEnum[tag][string(t)]; ok && isASCII(t) {
			return pyVal{nums: []float64{n}, isNum: true}, true
		}
		return pyVal{str: true, raw: t}, true
	default: // BYTE, UNDEFINED: bytes
		return pyVal{raw: b, undef: e.typ == 7}, true
	}
	v.isNum = len(v.nums) > 0
	return v, true
}

// single is tag_v2.get for a tag TiffTags says has one value: the first.
func (f *tiffIFD) single(tag uint16, def float64) (float64, bool, bool) {
	v, ok := f.values(tag)
	if !ok {
		return def, true, false
	}
	if !v.isNum {
		return 0, false, true
	}
	return v.nums[0], true, true
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// pyInt is int(v) for a tag of one value: numbers truncate, and a str or
// bytes is parsed as Python parses an int literal in base 10.
func (f *tiffIFD) pyInt(tag uint16) (float64, error) {
	v, ok := f.values(tag)
	if !ok {
		return 0, errTIFFIdentify // int(None)
	}
	if v.isNum {
		x := v.nums[0]
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, errTIFFIdentify
		}
		return math.Trunc(x), nil
	}
	if x, ok := parsePyInt(v.raw, v.str); ok {
		return x, nil
	}
	return 0, fmt.Errorf("TIFF: invalid literal for int() with base 10: %q", v.raw)
}

// parsePyInt parses a base-10 int literal as int() does: surrounding
// white space (for a str also NEL and NBSP), a sign, digits with single
// underscores between them.
func parsePyInt(b []byte, str bool) (float64, bool) {
	space := func(c byte) bool {
		return c == ' ' || (c >= 9 && c <= 13) || (str && (c == 0x85 || c == 0xA0))
	}
	for len(b) > 0 && space(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && space(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg, b = b[0] == '-', b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	x := 0.0
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			x = x*10 + float64(c-'0')
		case c == '_' && i > 0 && i+1 < len(b) && b[i-1] != '_' && b[i+1] >= '0' && b[i+1] <= '9':
		default:
			return 0, false
		}
	}
	if neg {
		x = -x
	}
	return x, true
}

func bytesNums(b []byte) []float64 {
	out := make([]float64, len(b))
	for i, c := range b {
		out[i] = float64(c)
	}
	return out
}

// pyIdx is a coordinate as an int; a float one is only ever used where
// Pillow refuses it (extFloat), or not at all (the mmap path).
func pyIdx(x float64) int {
	if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > 1<<62 {
		return 0
	}
	return int(x)
}

// checkResolution is _setup's dpi: with ResolutionUnit 3 (cm) it
// multiplies both resolutions by 2.54, a TypeError for a str or bytes.
func (f *tiffIFD) checkResolution() error {
	truthy := func(tag uint16) (bool, bool) {
		v, ok := f.values(tag)
		if !ok {
			return true, true // the default, 1
		}
		if v.isNum {
			return v.nums[0] != 0, true
		}
		return len(v.raw) > 0 || v.undef, false
	}
	xt, xn := truthy(282)
	yt, yn := truthy(283)
	if !xt || !yt || (xn && yn) {
		return nil
	}
	if u, ok, has := f.single(296, 0); has && ok && u == 3 {
		return errTIFFIdentify // Image.open swallows the TypeError
	}
	return nil
}

func isInt(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) && x == math.Trunc(x) }

func keyNums(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = keyNum(x)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func keyNum(x float64) string {
	if isInt(x) {
		return strconv.FormatInt(int64(x), 10)
	}
	return "x" + strconv.FormatFloat(x, 'g', -1, 64) // matches no key
}

// --- _setup -----------------------------------------------------------

type tiffTile struct {
	x0, y0, x1, y1 int
	offset         float64
	offFloat       bool // the offset is no int: seek refuses it
	extFloat       bool // a coordinate is a float: setimage refuses it
	rawmode        string
	stride         int
}

type tiffFile struct {
	ifd          *tiffIFD
	w, h         int
	mode         string
	rawmode      string // the libtiff tile's, after Pillow's fix-ups
	compression  string
	libtiff      bool
	tiles        []tiffTile
	palette      []byte // "RGB;L" as Pillow builds it, or nil
	orientation  int
	singleTileOK bool
}

var tiffCompression = map[int]string{
	1: "raw", 2: "tiff_ccitt", 3: "group3", 4: "group4", 5: "tiff_lzw", 6: "tiff_jpeg", 7: "jpeg",
	8: "tiff_adobe_deflate", 32771: "tiff_raw_16", 32773: "packbits", 32809: "tiff_thunderscan",
	32946: "tiff_deflate", 34676: "tiff_sgilog", 34677: "tiff_sgilog24", 34925: "lzma", 50000: "zstd", 50001: "webp",
}

var (
	errTIFFIdentify = errors.New("TIFF: cannot identify image file")
	errTIFFOverflow = errors.New("TIFF: cannot fit 'int' into an offset-sized integer")
)

// tiffOpen is Image.open for a TIFF: the header, IFD 0 and _setup.
func tiffOpen(data []byte) (*tiffFile, error) {
	if len(data) < 8 {
		return nil, errTIFFIdentify
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if data[0] == 'M' {
		bo = binary.BigEndian
	}
	big := data[2] == 43
	var first uint64
	if big {
		if len(data) < 16 {
			return nil, errTIFFIdentify
		}
		first = bo.Uint64(data[8:])
	} else {
		first = uint64(bo.Uint32(data[4:]))
	}
	f := loadIFD(data, first, bo, big, first)
	if f.overflow {
		return nil, errTIFFOverflow
	}
	return tiffSetup(f)
}

func tiffSetup(f *tiffIFD) (*tiffFile, error) {
	t := &tiffFile{ifd: f}
	if _, ok := f.tags[0xBC01]; ok {
		return nil, errors.New("TIFF: Windows Media Photo files not yet supported")
	}
	comp, ok, _ := f.single(259, 1)
	name, known := tiffCompression[int(comp)]
	if !ok || !isInt(comp) || !known {
		return nil, fmt.Errorf("TIFF: unknown compression %s", keyNum(comp))
	}
	t.compression = name
	planar, ok, _ := f.single(284, 1)
	if !ok {
		planar = math.NaN()
	}
	photo, ok, _ := f.single(262, 0)
	if !ok {
		photo = math.NaN()
	}
	if name == "tiff_jpeg" {
		photo = 6
	}
	fill, ok, _ := f.single(266, 1)
	if !ok {
		fill = math.NaN()
	}
	w, err := f.pyInt(256)
	if err != nil {
		return nil, err
	}
	h, err := f.pyInt(257)
	if err != nil {
		return nil, err
	}
	if w >= 1<<62 || h >= 1<<62 {
		return nil, fmt.Errorf("image size %.0fx%.0f is too large", w, h)
	}
	t.w, t.h = int(math.Trunc(w)), int(math.Trunc(h))
	if t.w < 0 || t.h < 0 {
		return nil, errors.New("TIFF: image size is negative")
	}

	sf := []float64{1}
	if v, ok := f.values(339); ok {
		switch {
		case v.isNum:
			sf = v.nums
		case !v.str && !v.undef && len(v.raw) > 1:
			// BYTE: bytes, whose max and min are ints.
			sf = bytesNums(v.raw)
		default:
			sf = []float64{math.NaN()}
		}
	}
	if len(sf) > 1 {
		all1 := true
		for _, x := range sf {
			all1 = all1 && x == 1
		}
		if all1 {
			sf = []float64{1}
		}
	}
	bps := []float64{1}
	if v, ok := f.values(258); ok {
		if !v.isNum {
			return nil, errors.New("TIFF: unknown pixel mode")
		}
		bps = v.nums
	}
	var extra []float64
	if v, ok := f.values(338); ok {
		if !v.isNum {
			return nil, errors.New("TIFF: unknown pixel mode")
		}
		extra = v.nums
	}
	bpsCount := 1
	switch photo {
	case 2, 6, 8:
		bpsCount = 3
	case 5:
		bpsCount = 4
	}
	bpsCount += len(extra)
	sppDef := 1.0
	if name == "tiff_jpeg" && (photo == 2 || photo == 6) {
		sppDef = 3
	}
	sppF, ok, _ := f.single(277, sppDef)
	if !ok || !isInt(sppF) {
		return nil, errors.New("TIFF: unknown data organization")
	}
	spp := int(sppF)
	if spp > 6 {
		return nil, errors.New("TIFF: Invalid value for samples per pixel")
	}
	if spp < len(bps) {
		n := spp
		if n < 0 {
			n += len(bps)
			if n < 0 {
				n = 0
			}
		}
		bps = bps[:n]
	} else if spp > len(bps) && len(bps) == 1 {
		rep := make([]float64, spp)
		for i := range rep {
			rep[i] = bps[0]
		}
		bps = rep
	}
	if len(bps) != spp {
		return nil, errors.New("TIFF: unknown data organization")
	}
	prefix := "II"
	if f.bo == binary.BigEndian {
		prefix = "MM"
	}
	key := func(fillorder float64) string {
		return fmt.Sprintf("%s|%s|%s|%s|%s|%s", prefix, keyNum(photo), keyNums(sf), keyNum(fillorder), keyNums(bps), keyNums(extra))
	}
	mr, ok := tiffOpenInfo[key(fill)]
	if !ok {
		return nil, errors.New("TIFF: unknown pixel mode")
	}
	t.mode, t.rawmode = mr[0], mr[1]
	if err := f.checkResolution(); err != nil {
		return nil, err
	}
	xs, ys := t.w, t.h

	t.libtiff = name != "raw"
	if t.libtiff {
		if fill == 2 {
			mr = tiffOpenInfo[key(1)]
			t.mode, t.rawmode = mr[0], mr[1]
		}
		if t.rawmode == "I;16" {
			t.rawmode = "I;16N"
		}
		t.rawmode = strings.ReplaceAll(t.rawmode, ";16B", ";16N")
		t.rawmode = strings.ReplaceAll(t.rawmode, ";16L", ";16N")
		if photo == 6 && name == "jpeg" && planar == 1 {
			t.rawmode = "RGB"
		}
	} else {
		var offsets, wv, hv pyVal
		if v, ok := f.values(273); ok {
			offsets = v
			if hv, ok = f.values(278); !ok {
				hv = pyVal{nums: []float64{float64(ys)}, isNum: true}
			}
			wv = pyVal{nums: []float64{float64(xs)}, isNum: true}
		} else if v, ok := f.values(324); ok {
			offsets = v
			if wv, ok = f.values(322); !ok {
				return nil, errTIFFIdentify // x + None
			}
			if hv, ok = f.values(323); !ok {
				return nil, errTIFFIdentify
			}
		} else {
			return nil, errors.New("TIFF: unknown data organization")
		}
		if !offsets.isNum && !offsets.str && !offsets.undef {
			// BYTE offsets are bytes, whose items are ints.
			offsets = pyVal{nums: bytesNums(offsets.raw), isNum: true}
		}
		if !wv.isNum || !hv.isNum {
			return nil, errTIFFIdentify // int + str: TypeError
		}
		sumBits := 0.0
		for _, b := range bps {
			sumBits += b
		}
		// Python's arithmetic: a float (or Fraction) width or height makes
		// the coordinates it touches floats, which the decoder refuses.
		tw, th := wv.nums[0], hv.nums[0]
		var x, y float64
		xf, yf := false, false
		layer := 0
		nOffsets := len(offsets.nums)
		if !offsets.isNum {
			nOffsets = 1 // a 1-tuple of a str or bytes
		}
		for i := 0; i < nOffsets; i++ {
			off, offFloat := math.NaN(), true
			if offsets.isNum {
				off, offFloat = offsets.nums[i], offsets.float
			}
			stride := 0.0
			if x+tw > float64(xs) {
				stride = tw * sumBits / 8
			}
			rm := t.rawmode
			if planar == 2 {
				if layer >= len(t.rawmode) {
					return nil, errTIFFIdentify // IndexError
				}
				rm = t.rawmode[layer : layer+1]
				stride /= float64(bpsCount)
			}
			if math.IsNaN(stride) || math.IsInf(stride, 0) {
				return nil, errors.New("TIFF: cannot convert float NaN or infinity to integer")
			}
			x1, x1f := x+tw, xf || wv.float
			if float64(xs) < x1 {
				x1, x1f = float64(xs), false
			}
			y1, y1f := y+th, yf || hv.float
			if float64(ys) < y1 {
				y1, y1f = float64(ys), false
			}
			t.tiles = append(t.tiles, tiffTile{
				x0: pyIdx(x), y0: pyIdx(y), x1: pyIdx(x1), y1: pyIdx(y1),
				offset: off, offFloat: offFloat, extFloat: xf || yf || x1f || y1f,
				rawmode: rm, stride: int(stride),
			})
			x, xf = x+tw, xf || wv.float
			if x >= float64(xs) {
				x, y, xf, yf = 0, y+th, false, yf || hv.float
				if y >= float64(ys) {
					x, y, xf, yf = 0, 0, false, false
					layer++
				}
			}
		}
	}

	if t.mode == "P" || t.mode == "PA" {
		v, ok := f.values(320)
		if !ok {
			return nil, errors.New("TIFF: missing ColorMap")
		}
		if !v.isNum && !v.str && !v.undef {
			v = pyVal{nums: bytesNums(v.raw), isNum: true} // BYTE: ints
		}
		if !v.isNum {
			return nil, errTIFFIdentify // str // 256: TypeError
		}
		t.palette = make([]byte, len(v.nums))
		for i, c := range v.nums {
			// A float // 256 stays a float, which o8 refuses; a Fraction
			// // 256 is an int (unless its denominator was 0: nan).
			if math.IsNaN(c) || math.IsInf(c, 0) || (v.float && f.tags[320].typ >= 11) {
				return nil, errTIFFIdentify
			}
			t.palette[i] = byte(int64(math.Floor(c/256)) & 255)
		}
	}
	if o, ok, has := f.single(0x0112, 1); ok && has && isInt(o) {
		t.orientation = int(o)
	}
	return t, nil
}

// checkExifIFDs is load_end's getexif on a file of one frame: Pillow
// reads the Exif and GPS IFDs that IFD0 points to, and the Interop IFD
// through the Exif one. A pointer it cannot seek to fails the load.
func (f *tiffIFD) checkExifIFDs(data []byte) error {
	if f.next != 0 && f.next != f.offset {
		return nil // is_animated: load_end leaves the Exif alone
	}
	var exif *tiffIFD
	for _, tag := range []uint16{34665, 34853, 40965} {
		if _, ok := f.tags[tag]; !ok {
			continue
		}
		src := f
		if tag == 40965 {
			// get_ifd(Interop) looks the pointer up in the Exif IFD.
			if exif == nil {
				return errors.New("TIFF: KeyError: the Interop IFD needs an Exif IFD")
			}
			if _, ok := exif.tags[40965]; !ok {
				return errors.New("TIFF: KeyError: the Exif IFD has no Interop IFD")
			}
			src = exif
		}
		sub, err := src.subIFD(data, tag)
		if err != nil {
			return err
		}
		if tag == 34665 {
			exif = sub
		}
	}
	return nil
}

// subIFD is Exif._get_ifd_dict: a pointer that is no int (a float, str
// or bytes) is skipped, a negative or huge one is an error.
func (f *tiffIFD) subIFD(data []byte, tag uint16) (*tiffIFD, error) {
	e := f.tags[tag]
	v, _ := f.values(tag)
	if !v.isNum || v.float {
		return nil, nil // seek: TypeError, which Pillow swallows
	}
	off := v.nums[0]
	if e.typ == 16 && f.bo.Uint64(e.data) >= 1<<63 {
		return nil, errTIFFOverflow
	}
	if off < 0 {
		return nil, fmt.Errorf("TIFF: Exif IFD offset %.0f: invalid argument", off)
	}
	sub := loadIFD(data, uint64(off), f.bo, f.big, 0)
	if sub.overflow {
		return nil, errTIFFOverflow
	}
	return sub, nil
}

// --- load -------------------------------------------------------------

// pilImage is a Pillow image in Pillow's own memory layout.
type pilImage struct {
	mode      string
	w, h, ps  int
	bands     int
	pix       []byte
	byteOrder binary.ByteOrder
}

func newPILImage(mode string, w, h int) *pilImage {
	ps, bands := 4, 4
	switch mode {
	case "1", "L", "P":
		ps, bands = 1, 1
	case "I;16", "I;16B":
		ps, bands = 2, 1
	case "I", "F":
		bands = 1
	case "LA", "PA":
		bands = 2
	case "RGB", "LAB", "YCbCr":
		bands = 3
	}
	return &pilImage{mode: mode, w: w, h: h, ps: ps, bands: bands, pix: make([]byte, w*h*ps)}
}

var mapModes = map[string]bool{"L": true, "P": true, "RGBX": true, "RGBA": true, "RGBa": true, "I;16": true, "I;16L": true, "I;16B": true}

func (t *tiffFile) load(data []byte) (*pilImage, error) {
	im := newPILImage(t.mode, t.w, t.h)
	if t.libtiff {
		u, ok := findUnpacker(t.mode, t.rawmode)
		if !ok {
			return nil, errors.New("TIFF: unknown raw mode for given image mode")
		}
		if err := libtiffDecode(data, t.ifd.offset, im, u); err != nil {
			return nil, err
		}
	} else if err := t.loadRaw(data, im); err != nil {
		return nil, err
	}
	if t.palette != nil && len(t.palette)/3 > 256 {
		return nil, errors.New("TIFF: invalid palette size")
	}
	return im, nil
}

// loadRaw is ImageFile.load with Pillow's raw decoder, tile by tile.
func (t *tiffFile) loadRaw(data []byte, im *pilImage) error {
	tiles := t.tiles
	for _, tl := range tiles {
		if tl.offFloat {
			return errors.New("TIFF: offset is not an integer") // seek: TypeError
		}
	}
	if len(tiles) == 1 {
		tl := tiles[0]
		if tl.rawmode == t.mode && mapModes[t.mode] {
			// Pillow memory-maps the file for the whole image.
			if tl.offset+float64(t.h)*float64(tl.stride) <= float64(len(data)) {
				stride := tl.stride
				if stride <= 0 {
					stride = t.w * im.ps
				}
				need := tl.offset + float64(t.h)*float64(stride)
				if need > float64(len(data)) {
					return errors.New("TIFF: buffer is not large enough")
				}
				off := int(tl.offset)
				for y := 0; y < t.h; y++ {
					copy(im.pix[y*t.w*im.ps:(y+1)*t.w*im.ps], data[off+y*stride:])
				}
				return nil
			}
		}
	}
	tiles = append([]tiffTile(nil), tiles...)
	sort.SliceStable(tiles, func(i, j int) bool { return tiles[i].offset < tiles[j].offset })
	var dedup []tiffTile
	for i, tl := range tiles {
		if i+1 < len(tiles) {
			n := tiles[i+1]
			if n.x0 == tl.x0 && n.y0 == tl.y0 && n.x1 == tl.x1 && n.y1 == tl.y1 && n.rawmode == tl.rawmode && n.stride == tl.stride {
				continue
			}
		}
		dedup = append(dedup, tl)
	}
	for _, tl := range dedup {
		if tl.extFloat {
			return errors.New("TIFF: tile coordinates are not integers") // setimage: TypeError
		}
	}
	errCode := -3
	for _, tl := range dedup {
		u, ok := findUnpacker(t.mode, tl.rawmode)
		if !ok {
			return errors.New("TIFF: unknown raw mode for given image mode")
		}
		xs, ys := tl.x1-tl.x0, tl.y1-tl.y0
		if xs <= 0 || ys <= 0 || tl.x1 > t.w || tl.y1 > t.h || tl.x0 < 0 || tl.y0 < 0 {
			return errors.New("TIFF: tile cannot extend outside image")
		}
		if !(tl.offset >= 0) || tl.offset >= float64(len(data)) {
			return errors.New("TIFF: image file is truncated (0 bytes not processed)")
		}
		off := int(tl.offset)
		rowBytes := (xs*u.bits + 7) / 8
		skip := 0
		if tl.stride != 0 {
			skip = tl.stride - rowBytes
			if skip < 0 {
				errCode = -8
				continue
			}
		}
		need := ys*rowBytes + (ys-1)*skip
		if len(data)-off < need {
			return fmt.Errorf("TIFF: image file is truncated (%d bytes not processed)", (len(data)-off)%65536)
		}
		u.unpackRows(im.pix[(tl.y0*t.w+tl.x0)*im.ps:], t.w*im.ps, data[off:], rowBytes+skip, ys, xs)
		errCode = 0
	}
	if errCode < 0 {
		return fmt.Errorf("TIFF: decoder error %d", errCode)
	}
	return nil
}

// --- to RGB -----------------------------------------------------------

// toRGB is pillow_verdict.pixels for the modes a TIFF can have.
func (im *pilImage) toRGB(dst []byte, palette []byte) error {
	n := im.w * im.h
	p := im.pix
	grey := func(i int, v byte) { dst[i*3], dst[i*3+1], dst[i*3+2] = v, v, v }
	var pal [256][3]byte
	if palette != nil {
		// putpalette("RGB;L"): planar, over a grey ramp.
		for i := range pal {
			pal[i] = [3]byte{byte(i), byte(i), byte(i)}
		}
		k := len(palette) / 3
		for i := 0; i < k && i < 256; i++ {
			pal[i] = [3]byte{palette[i], palette[i+k], palette[i+2*k]}
		}
	}
	switch im.mode {
	case "1", "L":
		for i := 0; i < n; i++ {
			grey(i, p[i])
		}
	case "P":
		for i := 0; i < n; i++ {
			c := pal[p[i]]
			dst[i*3], dst[i*3+1], dst[i*3+2] = c[0], c[1], c[2]
		}
	case "PA":
		for i := 0; i < n; i++ {
			c, a := pal[p[i*4]], p[i*4+3]
			dst[i*3], dst[i*3+1], dst[i*3+2] = overWhite(c[0], a), overWhite(c[1], a), overWhite(c[2], a)
		}
	case "LA":
		for i := 0; i < n; i++ {
			grey(i, overWhite(p[i*4], p[i*4+3]))
		}
	case "I;16":
		for i := 0; i < n; i++ {
			grey(i, p[i*2+1])
		}
	case "I;16B":
		for i := 0; i < n; i++ {
			grey(i, p[i*2])
		}
	case "I":
		for i := 0; i < n; i++ {
			grey(i, p[i*4+1])
		}
	case "F":
		for i := 0; i < n; i++ {
			v := math.Float32frombits(binary.LittleEndian.Uint32(p[i*4:]))
			var g byte
			switch {
			case v != v || v <= 0:
				g = 0
			case v >= 255:
				g = 255
			default:
				g = byte(v)
			}
			grey(i, g)
		}
	case "RGB", "RGBX":
		for i := 0; i < n; i++ {
			copy(dst[i*3:i*3+3], p[i*4:i*4+3])
		}
	case "RGBA":
		for i := 0; i < n; i++ {
			a := p[i*4+3]
			dst[i*3], dst[i*3+1], dst[i*3+2] = overWhite(p[i*4], a), overWhite(p[i*4+1], a), overWhite(p[i*4+2], a)
		}
	case "CMYK":
		for i := 0; i < n; i++ {
			cmykToRGB(dst[i*3:i*3+3], p[i*4], p[i*4+1], p[i*4+2], p[i*4+3])
		}
	case "LAB":
		return labToRGB(dst, p, n)
	default:
		return fmt.Errorf("TIFF: conversion from %s to RGB not supported", im.mode)
	}
	return nil
}

// tiffOpenInfo is TiffImagePlugin.OPEN_INFO: (byte order, photometric,
// sample format, fill order, bits per sample, extra samples) -> (mode,
// rawmode).
var tiffOpenInfo = map[string][2]string{
	"II|0|[1]|1|[1]|[]":                {"1", "1;I"},
	"MM|0|[1]|1|[1]|[]":                {"1", "1;I"},
	"II|0|[1]|2|[1]|[]":                {"1", "1;IR"},
	"MM|0|[1]|2|[1]|[]":                {"1", "1;IR"},
	"II|1|[1]|1|[1]|[]":                {"1", "1"},
	"MM|1|[1]|1|[1]|[]":                {"1", "1"},
	"II|1|[1]|2|[1]|[]":                {"1", "1;R"},
	"MM|1|[1]|2|[1]|[]":                {"1", "1;R"},
	"II|0|[1]|1|[2]|[]":                {"L", "L;2I"},
	"MM|0|[1]|1|[2]|[]":                {"L", "L;2I"},
	"II|0|[1]|2|[2]|[]":                {"L", "L;2IR"},
	"MM|0|[1]|2|[2]|[]":                {"L", "L;2IR"},
	"II|1|[1]|1|[2]|[]":                {"L", "L;2"},
	"MM|1|[1]|1|[2]|[]":                {"L", "L;2"},
	"II|1|[1]|2|[2]|[]":                {"L", "L;2R"},
	"MM|1|[1]|2|[2]|[]":                {"L", "L;2R"},
	"II|0|[1]|1|[4]|[]":                {"L", "L;4I"},
	"MM|0|[1]|1|[4]|[]":                {"L", "L;4I"},
	"II|0|[1]|2|[4]|[]":                {"L", "L;4IR"},
	"MM|0|[1]|2|[4]|[]":                {"L", "L;4IR"},
	"II|1|[1]|1|[4]|[]":                {"L", "L;4"},
	"MM|1|[1]|1|[4]|[]":                {"L", "L;4"},
	"II|1|[1]|2|[4]|[]":                {"L", "L;4R"},
	"MM|1|[1]|2|[4]|[]":                {"L", "L;4R"},
	"II|0|[1]|1|[8]|[]":                {"L", "L;I"},
	"MM|0|[1]|1|[8]|[]":                {"L", "L;I"},
	"II|0|[1]|2|[8]|[]":                {"L", "L;IR"},
	"MM|0|[1]|2|[8]|[]":                {"L", "L;IR"},
	"II|1|[1]|1|[8]|[]":                {"L", "L"},
	"MM|1|[1]|1|[8]|[]":                {"L", "L"},
	"II|1|[1]|2|[8]|[]":                {"L", "L;R"},
	"MM|1|[1]|2|[8]|[]":                {"L", "L;R"},
	"II|1|[1]|1|[12]|[]":               {"I;16", "I;12"},
	"II|0|[1]|1|[16]|[]":               {"I;16", "I;16"},
	"II|1|[1]|1|[16]|[]":               {"I;16", "I;16"},
	"MM|1|[1]|1|[16]|[]":               {"I;16B", "I;16B"},
	"II|1|[1]|2|[16]|[]":               {"I;16", "I;16R"},
	"II|1|[2]|1|[16]|[]":               {"I", "I;16S"},
	"MM|1|[2]|1|[16]|[]":               {"I", "I;16BS"},
	"II|0|[3]|1|[32]|[]":               {"F", "F;32F"},
	"MM|0|[3]|1|[32]|[]":               {"F", "F;32BF"},
	"II|1|[1]|1|[32]|[]":               {"I", "I;32N"},
	"II|1|[2]|1|[32]|[]":               {"I", "I;32S"},
	"MM|1|[2]|1|[32]|[]":               {"I", "I;32BS"},
	"II|1|[3]|1|[32]|[]":               {"F", "F;32F"},
	"MM|1|[3]|1|[32]|[]":               {"F", "F;32BF"},
	"II|1|[1]|1|[8,8]|[2]":             {"LA", "LA"},
	"MM|1|[1]|1|[8,8]|[2]":             {"LA", "LA"},
	"II|2|[1]|1|[8,8,8]|[]":            {"RGB", "RGB"},
	"MM|2|[1]|1|[8,8,8]|[]":            {"RGB", "RGB"},
	"II|2|[1]|2|[8,8,8]|[]":            {"RGB", "RGB;R"},
	"MM|2|[1]|2|[8,8,8]|[]":            {"RGB", "RGB;R"},
	"II|2|[1]|1|[8,8,8,8]|[]":          {"RGBA", "RGBA"},
	"MM|2|[1]|1|[8,8,8,8]|[]":          {"RGBA", "RGBA"},
	"II|2|[1]|1|[8,8,8,8]|[0]":         {"RGBX", "RGBX"},
	"MM|2|[1]|1|[8,8,8,8]|[0]":         {"RGBX", "RGBX"},
	"II|2|[1]|1|[8,8,8,8,8]|[0,0]":     {"RGBX", "RGBXX"},
	"MM|2|[1]|1|[8,8,8,8,8]|[0,0]":     {"RGBX", "RGBXX"},
	"II|2|[1]|1|[8,8,8,8,8,8]|[0,0,0]": {"RGBX", "RGBXXX"},
	"MM|2|[1]|1|[8,8,8,8,8,8]|[0,0,0]": {"RGBX", "RGBXXX"},
	"II|2|[1]|1|[8,8,8,8]|[1]":         {"RGBA", "RGBa"},
	"MM|2|[1]|1|[8,8,8,8]|[1]":         {"RGBA", "RGBa"},
	"II|2|[1]|1|[8,8,8,8,8]|[1,0]":     {"RGBA", "RGBaX"},
	"MM|2|[1]|1|[8,8,8,8,8]|[1,0]":     {"RGBA", "RGBaX"},
	"II|2|[1]|1|[8,8,8,8,8,8]|[1,0,0]": {"RGBA", "RGBaXX"},
	"MM|2|[1]|1|[8,8,8,8,8,8]|[1,0,0]": {"RGBA", "RGBaXX"},
	"II|2|[1]|1|[8,8,8,8]|[2]":         {"RGBA", "RGBA"},
	"MM|2|[1]|1|[8,8,8,8]|[2]":         {"RGBA", "RGBA"},
	"II|2|[1]|1|[8,8,8,8,8]|[2,0]":     {"RGBA", "RGBAX"},
	"MM|2|[1]|1|[8,8,8,8,8]|[2,0]":     {"RGBA", "RGBAX"},
	"II|2|[1]|1|[8,8,8,8,8,8]|[2,0,0]": {"RGBA", "RGBAXX"},
	"MM|2|[1]|1|[8,8,8,8,8,8]|[2,0,0]": {"RGBA", "RGBAXX"},
	"II|2|[1]|1|[8,8,8,8]|[999]":       {"RGBA", "RGBA"},
	"MM|2|[1]|1|[8,8,8,8]|[999]":       {"RGBA", "RGBA"},
	"II|2|[1]|1|[16,16,16]|[]":         {"RGB", "RGB;16L"},
	"MM|2|[1]|1|[16,16,16]|[]":         {"RGB", "RGB;16B"},
	"II|2|[1]|1|[16,16,16,16]|[]":      {"RGBA", "RGBA;16L"},
	"MM|2|[1]|1|[16,16,16,16]|[]":      {"RGBA", "RGBA;16B"},
	"II|2|[1]|1|[16,16,16,16]|[0]":     {"RGBX", "RGBX;16L"},
	"MM|2|[1]|1|[16,16,16,16]|[0]":     {"RGBX", "RGBX;16B"},
	"II|2|[1]|1|[16,16,16,16]|[1]":     {"RGBA", "RGBa;16L"},
	"MM|2|[1]|1|[16,16,16,16]|[1]":     {"RGBA", "RGBa;16B"},
	"II|2|[1]|1|[16,16,16,16]|[2]":     {"RGBA", "RGBA;16L"},
	"MM|2|[1]|1|[16,16,16,16]|[2]":     {"RGBA", "RGBA;16B"},
	"II|3|[1]|1|[1]|[]":                {"P", "P;1"},
	"MM|3|[1]|1|[1]|[]":                {"P", "P;1"},
	"II|3|[1]|2|[1]|[]":                {"P", "P;1R"},
	"MM|3|[1]|2|[1]|[]":                {"P", "P;1R"},
	"II|3|[1]|1|[2]|[]":                {"P", "P;2"},
	"MM|3|[1]|1|[2]|[]":                {"P", "P;2"},
	"II|3|[1]|2|[2]|[]":                {"P", "P;2R"},
	"MM|3|[1]|2|[2]|[]":                {"P", "P;2R"},
	"II|3|[1]|1|[4]|[]":                {"P", "P;4"},
	"MM|3|[1]|1|[4]|[]":                {"P", "P;4"},
	"II|3|[1]|2|[4]|[]":                {"P", "P;4R"},
	"MM|3|[1]|2|[4]|[]":                {"P", "P;4R"},
	"II|3|[1]|1|[8]|[]":                {"P", "P"},
	"MM|3|[1]|1|[8]|[]":                {"P", "P"},
	"II|3|[1]|1|[8,8]|[2]":             {"PA", "PA"},
	"MM|3|[1]|1|[8,8]|[2]":             {"PA", "PA"},
	"II|3|[1]|2|[8]|[]":                {"P", "P;R"},
	"MM|3|[1]|2|[8]|[]":                {"P", "P;R"},
	"II|5|[1]|1|[8,8,8,8]|[]":          {"CMYK", "CMYK"},
	"MM|5|[1]|1|[8,8,8,8]|[]":          {"CMYK", "CMYK"},
	"II|5|[1]|1|[8,8,8,8,8]|[0]":       {"CMYK", "CMYKX"},
	"MM|5|[1]|1|[8,8,8,8,8]|[0]":       {"CMYK", "CMYKX"},
	"II|5|[1]|1|[8,8,8,8,8,8]|[0,0]":   {"CMYK", "CMYKXX"},
	"MM|5|[1]|1|[8,8,8,8,8,8]|[0,0]":   {"CMYK", "CMYKXX"},
	"II|5|[1]|1|[16,16,16,16]|[]":      {"CMYK", "CMYK;16L"},
	"II|6|[1]|1|[8,8,8]|[]":            {"RGB", "RGBX"},
	"MM|6|[1]|1|[8,8,8]|[]":            {"RGB", "RGBX"},
	"II|8|[1]|1|[8,8,8]|[]":            {"LAB", "LAB"},
	"MM|8|[1]|1|[8,8,8]|[]":            {"LAB", "LAB"},
}
