package featurize

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"regexp"
)

// EXIF orientation as ImageOps.exif_transpose finds it in Pillow 9.4:
// Image.getexif reads the EXIF block of info["exif"] (a JPEG's first APP1
// "Exif\0" segment, a PNG eXIf chunk or text chunk "exif", a WebP EXIF
// chunk) with TiffImagePlugin's IFD reader, or a PNG's "Raw profile type
// exif" text; only when IFD0 has no Orientation tag at all does it look for
// tiff:Orientation in info["XML:com.adobe.xmp"], which only PNG sets. A
// block getexif cannot read (a header it cannot unpack) makes exif_transpose
// raise, and the judge then keeps the image as it is.

// errEXIFHeader is getexif failing on the TIFF header of an EXIF block:
// structShort says it was struct.error (a header cut short, a little-endian
// BigTIFF header), which Pillow's JPEG open does not catch.
type errEXIFHeader struct{ structShort bool }

func (e errEXIFHeader) Error() string {
	if e.structShort {
		return "EXIF header cut short"
	}
	return "not a TIFF header"
}

// ifdEntry is one tag of an IFD as ImageFileDirectory_v2.load keeps it.
type ifdEntry struct {
	typ   uint16
	count uint64
	data  []byte
	bo    binary.ByteOrder
}

// tiffPrefix reports a TIFF header Pillow accepts (PREFIXES) and its byte
// order.
func tiffPrefix(b []byte) (binary.ByteOrder, bool) {
	if len(b) < 4 {
		return nil, false
	}
	switch string(b[:4]) {
	case "MM\x00\x2A", "MM\x2A\x00", "MM\x00\x2B":
		return binary.BigEndian, true
	case "II\x2A\x00", "II\x00\x2A", "II\x2B\x00":
		return binary.LittleEndian, true
	}
	return nil, false
}

// readIFD is ImageFileDirectory_v2.load on b (the whole TIFF structure)
// at off (loadIFD, shared with the TIFF decoder), keyed for getexif.
func readIFD(b []byte, bo binary.ByteOrder, off uint64, big bool) map[uint16]ifdEntry {
	f := loadIFD(b, off, bo, big, 0)
	tags := make(map[uint16]ifdEntry, len(f.tags))
	for t, e := range f.tags {
		tags[t] = ifdEntry{typ: e.typ, count: uint64(len(e.data) / tiffTypeSize[e.typ]), data: e.data, bo: bo}
	}
	return tags
}

// pillowEXIF is Exif.load: the IFD0 tags of an EXIF block (with or without
// its "Exif\0\0" prefix), nil for an empty one, or the header error.
func pillowEXIF(data []byte) (map[uint16]ifdEntry, error) {
	data = bytes.TrimPrefix(data, []byte("Exif\x00\x00"))
	if len(data) == 0 {
		return nil, nil
	}
	head := data[:min(8, len(data))]
	bo, ok := tiffPrefix(head)
	if !ok {
		return nil, errEXIFHeader{}
	}
	if head[2] == 0x2B || len(head) < 8 {
		// BigTIFF wants 8 more header bytes than the 8 Pillow read.
		return nil, errEXIFHeader{structShort: true}
	}
	return readIFD(data, bo, uint64(bo.Uint32(head[4:])), false), nil
}

// number is the value Pillow gives a one-value tag (the first of several)
// when it is a number; ok false for bytes and strings. A rational is
// exact only when its denominator divides the numerator.
func (e ifdEntry) number() (v float64, ok bool) {
	d, bo := e.data, e.bo
	switch e.typ {
	case 3:
		return float64(bo.Uint16(d)), true
	case 8:
		return float64(int16(bo.Uint16(d))), true
	case 4, 13:
		return float64(bo.Uint32(d)), true
	case 9:
		return float64(int32(bo.Uint32(d))), true
	case 6:
		return float64(int8(d[0])), true
	case 16:
		return float64(bo.Uint64(d)), true
	case 5, 10:
		num, den := int64(bo.Uint32(d)), int64(bo.Uint32(d[4:]))
		if e.typ == 10 {
			num, den = int64(int32(uint32(num))), int64(int32(uint32(den)))
		}
		if den == 0 {
			return math.NaN(), true
		}
		if num%den != 0 {
			return 0.5, true // not a whole number: matches no orientation
		}
		return float64(num / den), true
	case 11:
		return float64(math.Float32frombits(bo.Uint32(d))), true
	case 12:
		return math.Float64frombits(bo.Uint64(d)), true
	}
	return 0, false
}

// exifOrientation is what exif_transpose does with a tag set: the
// transposition (2-8, else 1), and whether IFD0 has the tag at all (then
// XMP is not looked at).
func exifOrientation(tags map[uint16]ifdEntry) (o int, present bool) {
	e, ok := tags[0x0112]
	if !ok {
		return 1, false
	}
	if v, ok := e.number(); ok && v >= 2 && v <= 8 && v == math.Trunc(v) {
		return int(v), true
	}
	return 1, true
}

var xmpOrientation = regexp.MustCompile(`tiff:Orientation(="|>)([0-9])`)

// orientationSource is what getexif reads: an EXIF block (exif, when
// hasEXIF), or failing that XMP.
type orientationSource struct {
	hasEXIF bool
	exif    []byte
	bad     bool // info["exif"] is text getexif cannot read (raises)
	xmp     []byte
}

// orientation is exif_transpose's transposition for the source.
func (s orientationSource) orientation() int {
	if s.bad {
		return 1
	}
	if s.hasEXIF {
		tags, err := pillowEXIF(s.exif)
		if err != nil {
			return 1
		}
		if o, present := exifOrientation(tags); present {
			if o != 1 && exifRewriteFails(bytes.TrimPrefix(s.exif, []byte("Exif\x00\x00")), tags) {
				return 1 // exif_transpose raised after all
			}
			return o
		}
	}
	if m := xmpOrientation.FindSubmatch(s.xmp); m != nil {
		if v := int(m[2][0] - '0'); v >= 2 && v <= 8 {
			return v
		}
	}
	return 1
}

// orientationOf is the orientation of a decoded JPEG, GIF or WebP file.
func orientationOf(data []byte, format string) int {
	switch format {
	case "jpeg":
		return jpegOrientation(data)
	case "webp":
		return webpOrientation(data)
	case "tiff":
		return tiffOrientation(data)
	}
	return 1 // GIF: Pillow 9.4 keeps no EXIF for it
}

// jpegOrientation reads the EXIF block Pillow keeps: the first APP1
// segment starting "Exif\0" met by its marker walk (jpegOpen). Pillow 9.4
// keeps a JPEG's XMP nowhere getexif looks.
func jpegOrientation(b []byte) int {
	f, err := jpegOpen(b)
	if err != nil || f.exif == nil {
		return 1
	}
	return orientationSource{hasEXIF: true, exif: f.exif}.orientation()
}

// webpOrientation reads the EXIF chunk libwebp's demuxer hands Pillow: the
// first one, in an extended (VP8X) file whose header flags EXIF. The XMP
// chunk becomes info["xmp"], which getexif does not read.
func webpOrientation(b []byte) int {
	exif := webpEXIF(b)
	return orientationSource{hasEXIF: len(exif) > 0, exif: exif}.orientation()
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF file as Pillow's
// TIFF getexif does (BigTIFF included).
func tiffOrientation(b []byte) int {
	bo, ok := tiffPrefix(b)
	if !ok || len(b) < 8 {
		return 1
	}
	var tags map[uint16]ifdEntry
	if b[2] == 0x2B {
		if len(b) < 16 {
			return 1
		}
		tags = readIFD(b, bo, bo.Uint64(b[8:]), true)
	} else {
		tags = readIFD(b, bo, uint64(bo.Uint32(b[4:])), false)
	}
	o, _ := exifOrientation(tags)
	return o
}

// rawProfileEXIF is bytes.fromhex("".join(text.split("\n")[3:])) on a PNG's
// "Raw profile type exif" text (ImageMagick's): the EXIF block, or an
// error where Python raises ValueError.
func rawProfileEXIF(text []byte) ([]byte, error) {
	lines := bytes.SplitN(text, []byte("\n"), 4)
	if len(lines) < 4 {
		return nil, nil
	}
	hex := bytes.ReplaceAll(lines[3], []byte("\n"), nil)
	out := make([]byte, 0, len(hex)/2)
	for i := 0; i < len(hex); {
		c := hex[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' {
			i++
			continue
		}
		if i+1 >= len(hex) {
			return nil, errBadHex
		}
		hi, ok1 := unhex(c)
		lo, ok2 := unhex(hex[i+1])
		if !ok1 || !ok2 {
			return nil, errBadHex
		}
		out = append(out, hi<<4|lo)
		i += 2
	}
	return out, nil
}

var errBadHex = errors.New("non-hexadecimal number in raw EXIF profile")

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// orient applies an EXIF orientation as ImageOps.exif_transpose does,
// returning a new image (or src for orientation 1). buf is reused.
func orient(src *RGB, o int, buf []uint8) (*RGB, []uint8) {
	if o <= 1 || o > 8 {
		return src, buf
	}
	w, h := src.W, src.H
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	buf = grow(buf, dw*dh*3)
	// For each destination pixel, the source pixel it comes from.
	for y := 0; y < dh; y++ {
		for x := 0; x < dw; x++ {
			var sx, sy int
			switch o {
			case 2: // mirror horizontal
				sx, sy = w-1-x, y
			case 3: // rotate 180
				sx, sy = w-1-x, h-1-y
			case 4: // mirror vertical
				sx, sy = x, h-1-y
			case 5: // transpose
				sx, sy = y, x
			case 6: // rotate 90 clockwise
				sx, sy = y, h-1-x
			case 7: // transverse
				sx, sy = w-1-y, h-1-x
			case 8: // rotate 90 counter-clockwise
				sx, sy = w-1-y, x
			}
			s := (sy*w + sx) * 3
			d := (y*dw + x) * 3
			buf[d], buf[d+1], buf[d+2] = src.Pix[s], src.Pix[s+1], src.Pix[s+2]
		}
	}
	return &RGB{W: dw, H: dh, Pix: buf}, buf
}

// exif_transpose rewrites the EXIF of the image it transposed
// (Exif.tobytes, IFD0 without the orientation): a tag whose value cannot
// be written as the type TiffTags knows for it, an EXIF or GPS sub-IFD
// pointer that is not an offset, too many StripOffsets make it raise, and
// the judge keeps the image as it was. exifRewriteFails reports those
// cases (measured on Pillow 9.4); what a sub-IFD itself holds is not
// checked.

// pilTag is a TiffTags.TAGS_V2 entry of the default group: type, length
// (0: any number of values).
type pilTag struct{ typ, length int8 }

var pilTags = map[uint16]pilTag{
	0x00FE: {4, 1}, 0x00FF: {3, 1}, 0x0100: {4, 1}, 0x0101: {4, 1}, 0x0102: {3, 0}, 0x0103: {3, 1}, 0x0106: {3, 1},
	0x0107: {3, 1}, 0x0108: {3, 1}, 0x0109: {3, 1}, 0x010A: {3, 1}, 0x010D: {2, 1}, 0x010E: {2, 1}, 0x010F: {2, 1},
	0x0110: {2, 1}, 0x0111: {4, 0}, 0x0112: {3, 1}, 0x0115: {3, 1}, 0x0116: {4, 1}, 0x0117: {4, 0}, 0x0118: {3, 0},
	0x0119: {3, 0}, 0x011A: {5, 1}, 0x011B: {5, 1}, 0x011C: {3, 1}, 0x011D: {2, 1}, 0x011E: {5, 1}, 0x011F: {5, 1},
	0x0120: {4, 1}, 0x0121: {4, 1}, 0x0122: {3, 1}, 0x0123: {3, 0}, 0x0124: {4, 1}, 0x0125: {4, 1}, 0x0128: {3, 1},
	0x0129: {3, 2}, 0x012D: {3, 0}, 0x0131: {2, 1}, 0x0132: {2, 1}, 0x013B: {2, 1}, 0x013C: {2, 1}, 0x013D: {3, 1},
	0x013E: {5, 2}, 0x013F: {5, 6}, 0x0140: {3, 0}, 0x0141: {3, 2}, 0x0142: {4, 1}, 0x0143: {4, 1}, 0x0144: {4, 0},
	0x0145: {4, 0}, 0x014A: {4, 0}, 0x014C: {3, 1}, 0x014D: {2, 1}, 0x014E: {3, 1}, 0x0150: {3, 0}, 0x0151: {2, 1},
	0x0152: {3, 0}, 0x0153: {3, 0}, 0x0154: {12, 0}, 0x0155: {12, 0}, 0x0156: {3, 6}, 0x015B: {7, 1}, 0x0200: {3, 1},
	0x0201: {4, 1}, 0x0202: {4, 1}, 0x0203: {3, 1}, 0x0205: {3, 0}, 0x0206: {3, 0}, 0x0207: {4, 0}, 0x0208: {4, 0},
	0x0209: {4, 0}, 0x0211: {5, 3}, 0x0212: {3, 2}, 0x0213: {3, 1}, 0x0214: {5, 6}, 0x02BC: {1, 0}, 0x8298: {2, 1},
	0x83BB: {7, 1}, 0x8649: {1, 0}, 0x8769: {4, 1}, 0x8773: {7, 1}, 0x8825: {4, 1}, 0x9000: {7, 1}, 0xA000: {7, 1},
	0xA005: {4, 1}, 0xA302: {7, 1}, 0xB000: {7, 1}, 0xB001: {4, 1}, 0xB002: {7, 1}, 0xB003: {7, 0}, 0xB004: {4, 1},
	0xB101: {4, 1}, 0xB201: {4, 1}, 0xB202: {5, 1}, 0xB203: {5, 1}, 0xB204: {4, 1}, 0xB205: {10, 1}, 0xB206: {5, 1},
	0xB207: {10, 1}, 0xB208: {10, 1}, 0xB209: {10, 1}, 0xB20A: {10, 1}, 0xB20B: {10, 1}, 0xB20C: {10, 1},
	0xB20D: {10, 1}, 0xC635: {3, 1}, 0xC65C: {5, 1}, 0xC696: {4, 0}, 0xC697: {7, 1},
}

// pilEnums are the value names TiffTags accepts for a tag (cvt_enum): a
// text value that is one of them is written as its number.
var pilEnums = map[uint16][]string{
	0x0103: {"Uncompressed", "CCITT 1d", "Group 3 Fax", "Group 4 Fax", "LZW", "JPEG", "PackBits"},
	0x0106: {"WhiteIsZero", "BlackIsZero", "RGB", "RGB Palette", "Transparency Mask", "CMYK", "YCbCr", "CieLAB", "CFA", "LinearRaw"},
	0x011C: {"Contiguous", "Separate"},
	0x0128: {"none", "inch", "cm"},
	0x013D: {"none", "Horizontal Differencing"},
	0xC635: {"Unsafe", "Safe"},
}

// pyValues is a tag's value as Python holds it: kind 'b' (bytes), 's'
// (text), 'i', 'f' or 'r' (numbers: how many, their range, any negative).
type pyValues struct {
	kind     byte
	n        int
	min, max float64
	text     string
}

// values decodes an entry as TiffImagePlugin's loaders do, keeping the
// first value only when first says so.
func (e ifdEntry) values(first bool) pyValues {
	switch e.typ {
	case 1, 7:
		return pyValues{kind: 'b', n: 1}
	case 2:
		return pyValues{kind: 's', n: 1, text: string(bytes.TrimSuffix(e.data, []byte{0}))}
	}
	v := pyValues{kind: 'i', min: math.Inf(1), max: math.Inf(-1)}
	switch e.typ {
	case 5, 10:
		v.kind = 'r'
	case 11, 12:
		v.kind = 'f'
	}
	unit := tiffTypeSize[e.typ]
	for i := 0; i+unit <= len(e.data); i += unit {
		d, bo := e.data[i:], e.bo
		var x float64
		switch e.typ {
		case 3:
			x = float64(bo.Uint16(d))
		case 8:
			x = float64(int16(bo.Uint16(d)))
		case 4, 13:
			x = float64(bo.Uint32(d))
		case 9:
			x = float64(int32(bo.Uint32(d)))
		case 6:
			x = float64(int8(d[0]))
		case 16:
			x = float64(bo.Uint64(d))
		case 5:
			x = 0 // never negative
		case 10:
			num, den := int32(bo.Uint32(d)), int32(bo.Uint32(d[4:]))
			if den != 0 && (num < 0) != (den < 0) && num != 0 {
				x = -1
			}
		case 11:
			x = float64(math.Float32frombits(bo.Uint32(d)))
		case 12:
			x = math.Float64frombits(bo.Uint64(d))
		}
		v.n++
		v.min, v.max = min(v.min, x), max(v.max, x)
		if first {
			break
		}
	}
	return v
}

// writable reports whether Python writes v as TIFF type typ.
func (v pyValues) writable(typ int8, tag uint16) bool {
	switch typ {
	case 1: // write_byte: bytes, or one int that fits a byte
		return v.kind == 'b' || v.kind == 'i' && v.n == 1 && v.min >= 0 && v.max <= 255
	case 2: // write_string: text, bytes or an int
		return v.n == 1 && (v.kind == 's' || v.kind == 'b' || v.kind == 'i')
	case 3, 4: // struct "H" / "L"
		if v.kind == 's' {
			for _, name := range pilEnums[tag] {
				if v.text == name {
					return true
				}
			}
		}
		limit := float64(math.MaxUint16)
		if typ == 4 {
			limit = math.MaxUint32
		}
		return v.kind == 'i' && v.min >= 0 && v.max <= limit
	case 5: // _limit_rational: no text, nothing negative
		return (v.kind == 'i' || v.kind == 'f' || v.kind == 'r') && !(v.min < 0)
	case 7: // write_undefined: bytes or text
		return v.n == 1 && (v.kind == 'b' || v.kind == 's')
	case 10, 12:
		return v.kind == 'i' || v.kind == 'f' || v.kind == 'r'
	}
	return true
}

func exifRewriteFails(data []byte, tags map[uint16]ifdEntry) bool {
	for tag, e := range tags {
		if tag == 0x0112 {
			continue
		}
		known, ok := pilTags[tag]
		if tag == 0x8769 || tag == 0x8825 {
			// get_ifd seeks to it: an offset, or a raise.
			v := e.values(true)
			if v.kind != 'i' || v.min < 0 {
				return true
			}
			if tag == 0x8769 && exifInteropFails(data, e) {
				return true
			}
			continue
		}
		if !ok {
			// Type inferred from the value: only a number over 32 bits fails.
			v := e.values(false)
			if v.kind == 'i' && v.max > math.MaxUint32 {
				return true
			}
			continue
		}
		v := e.values(known.length == 1 || known.typ == 1)
		if !v.writable(known.typ, tag) {
			return true
		}
		if tag == 0x0111 && v.n > 1 {
			return true // "multistrip support not yet implemented"
		}
	}
	return false
}

// exifInteropFails: an Interop pointer in the EXIF sub-IFD that get_ifd
// cannot seek to.
func exifInteropFails(data []byte, ptr ifdEntry) bool {
	var off uint64
	switch ptr.typ {
	case 3, 8:
		off = uint64(ptr.bo.Uint16(ptr.data))
	case 6:
		off = uint64(ptr.data[0])
	case 16:
		off = ptr.bo.Uint64(ptr.data)
	default:
		off = uint64(ptr.bo.Uint32(ptr.data))
	}
	sub := readIFD(data, ptr.bo, off, false)
	e, ok := sub[0xA005]
	if !ok {
		return false
	}
	v := e.values(true)
	return v.kind != 'i' || v.min < 0
}
