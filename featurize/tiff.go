package featurize

import (
	"bytes"
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
	for _, p := range []string{"MM\x00\x2A", "II\x2A\x00", "MM\x2A\x00", "II\x00\x2A", "MM\x00\x2B", "II\x2B\x00"} {
		if bytes.HasPrefix(b, []byte(p)) {
			return true
		}
	}
	return false
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

// tiffTypeSize is the unit size of each tag type Pillow knows.
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
		if n > math.MaxInt64/8 {
			return f // _safe_read comes up short: the load stops
		}
		size := n * uint64(unit)
		var b []byte
		if size > uint64(inline) {
			var at uint64
			if big {
				at = bo.Uint64(val)
			} else {
				at = uint64(bo.Uint32(val))
			}
			if size > uint64(len(data)) {
				return f
			}
			if b, ok = read(at, int(size)); !ok {
				return f // "Truncated File Read" ends the whole IFD
			}
		} else {
			b = val[:size]
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
// IFDRationals all compare and hash by value) or a non-number.
type pyVal struct {
	nums  []float64
	isNum bool
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
		for i := 0; i+4 <= len(b); i += 4 {
			v.nums = append(v.nums, float64(math.Float32frombits(bo.Uint32(b[i:]))))
		}
	case 12:
		for i := 0; i+8 <= len(b); i += 8 {
			v.nums = append(v.nums, math.Float64frombits(bo.Uint64(b[i:])))
		}
	case 5, 10:
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
	default: // BYTE, ASCII, UNDEFINED: bytes or a string
		return pyVal{}, true
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

var errTIFFIdentify = errors.New("TIFF: cannot identify image file")

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
	w, ok1, has1 := f.single(256, 0)
	h, ok2, has2 := f.single(257, 0)
	if !has1 || !has2 || !ok1 || !ok2 || math.IsNaN(w) || math.IsNaN(h) || math.IsInf(w, 0) || math.IsInf(h, 0) {
		return nil, errTIFFIdentify // int(None): Pillow cannot identify it
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
		if !v.isNum {
			sf = []float64{math.NaN()}
		} else {
			sf = v.nums
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
		var offsets pyVal
		var tw, th float64
		if v, ok := f.values(273); ok {
			offsets = v
			th, ok, _ = f.single(278, float64(ys))
			if !ok {
				return nil, errors.New("TIFF: bad RowsPerStrip")
			}
			tw = float64(xs)
		} else if v, ok := f.values(324); ok {
			offsets = v
			var has bool
			if tw, ok, has = f.single(322, 0); !ok || !has {
				return nil, errTIFFIdentify // x + None
			}
			if th, ok, has = f.single(323, 0); !ok || !has {
				return nil, errTIFFIdentify
			}
		} else {
			return nil, errors.New("TIFF: unknown data organization")
		}
		if !offsets.isNum || !isInt(tw) || !isInt(th) {
			return nil, errors.New("TIFF: unknown data organization")
		}
		sumBits := 0.0
		for _, b := range bps {
			sumBits += b
		}
		x, y, layer := 0, 0, 0
		iw, ih := int(tw), int(th)
		for _, off := range offsets.nums {
			stride := 0.0
			if x+iw > xs {
				stride = float64(iw) * sumBits / 8
			}
			rm := t.rawmode
			if planar == 2 {
				if layer >= len(t.rawmode) {
					return nil, errTIFFIdentify // IndexError
				}
				rm = t.rawmode[layer : layer+1]
				stride /= float64(bpsCount)
			}
			t.tiles = append(t.tiles, tiffTile{x0: x, y0: y, x1: min(x+iw, xs), y1: min(y+ih, ys), offset: off, rawmode: rm, stride: int(stride)})
			x += iw
			if x >= xs {
				x, y = 0, y+ih
				if y >= ys {
					x, y = 0, 0
					layer++
				}
			}
		}
	}

	if t.mode == "P" || t.mode == "PA" {
		v, ok := f.values(320)
		if !ok || !v.isNum {
			return nil, errors.New("TIFF: missing ColorMap")
		}
		t.palette = make([]byte, len(v.nums))
		for i, c := range v.nums {
			t.palette[i] = byte(int64(math.Floor(c/256)) & 255)
		}
	}
	if o, ok, has := f.single(0x0112, 1); ok && has && isInt(o) {
		t.orientation = int(o)
	}
	return t, nil
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
