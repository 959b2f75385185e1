package featurize

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// jpegFrame is what Pillow's JpegImageFile._open learns from a JPEG's
// markers before the first scan: the size and the mode (by component
// count) of the last frame header.
type jpegFrame struct {
	mode, w, h int
	exif       []byte // the first APP1 segment that starts "Exif\0"
	mpf        []byte // the last APP2 "MPF\0" segment's data after that
}

// errJPEGHeader is Pillow refusing to open a file ("cannot identify image
// file"): its Python marker walk failed before the first scan.
var errJPEGHeader = errors.New("JPEG header")

// jpegOpen walks the markers up to the first start-of-scan exactly as
// Pillow's JpegImageFile._open does (JpegImagePlugin.py), so that a file
// Pillow cannot open is refused before libjpeg sees it: libjpeg alone is
// more lenient about some headers (a TEM marker, short quantization
// tables). Every exception of the Python walk (a short read, an unknown
// marker, an unsupported frame) is an error here.
func jpegOpen(b []byte) (jpegFrame, error) {
	if len(b) < 3 || b[0] != 0xFF || b[1] != 0xD8 || b[2] != 0xFF {
		return jpegFrame{}, fmt.Errorf("%w: not a JPEG file", errJPEGHeader)
	}
	var f jpegFrame
	sawSOF := false
	dpi := false // info["dpi"] is set: the APP handler stops reading EXIF
	pos := 3     // the third byte, 0xFF, is the current one
	cur := 0xFF
	short := func(what string) error {
		return fmt.Errorf("%w: the file ends inside %s", errJPEGHeader, what)
	}
	// segment reads a marker segment's length and body (Pillow's
	// i16(fp.read(2)) and ImageFile._safe_read).
	segment := func(name string) ([]byte, error) {
		if pos+2 > len(b) {
			return nil, short(name)
		}
		n := int(binary.BigEndian.Uint16(b[pos:])) - 2
		pos += 2
		if n <= 0 {
			return nil, nil
		}
		if pos+n > len(b) {
			return nil, short(name)
		}
		s := b[pos : pos+n]
		pos += n
		return s, nil
	}
	for {
		if cur != 0xFF {
			// Skip non-0xFF junk.
			if pos >= len(b) {
				return f, short("the header")
			}
			cur = int(b[pos])
			pos++
			continue
		}
		if pos >= len(b) {
			return f, short("a marker")
		}
		marker := 0xFF00 | int(b[pos])
		pos++
		switch {
		case marker >= 0xFFC0 && marker <= 0xFFFE:
			name := fmt.Sprintf("marker 0x%04X", marker)
			switch {
			case isSOF(marker):
				s, err := segment(name)
				if err != nil {
					return f, err
				}
				if len(s) < 5 {
					return f, fmt.Errorf("%w: frame header of %d bytes", errJPEGHeader, len(s))
				}
				f.w, f.h = int(binary.BigEndian.Uint16(s[3:])), int(binary.BigEndian.Uint16(s[1:]))
				if s[0] != 8 {
					return f, fmt.Errorf("%w: cannot handle %d-bit layers", errJPEGHeader, s[0])
				}
				if len(s) < 6 {
					return f, fmt.Errorf("%w: frame header of %d bytes", errJPEGHeader, len(s))
				}
				switch s[5] {
				case 1:
					f.mode = jpegL
				case 3:
					f.mode = jpegRGB
				case 4:
					f.mode = jpegCMYK
				default:
					return f, fmt.Errorf("%w: cannot handle %d-layer images", errJPEGHeader, s[5])
				}
				sawSOF = true
			case marker == 0xFFDB: // DQT
				s, err := segment(name)
				if err != nil {
					return f, err
				}
				for len(s) > 0 {
					n := 1 + 64
					if s[0]>>4 != 0 {
						n = 1 + 128
					}
					if len(s) < n {
						return f, fmt.Errorf("%w: bad quantization table marker", errJPEGHeader)
					}
					s = s[n:]
				}
			case marker == 0xFFC8 || (marker >= 0xFFD0 && marker <= 0xFFD9) || (marker >= 0xFFF0 && marker <= 0xFFFD):
				// No segment (JPG, RSTn, SOI, EOI, JPGn).
			case marker >= 0xFFE0 && marker <= 0xFFEF:
				s, err := segment(name)
				if err != nil {
					return f, err
				}
				if err := pillowAPP(marker, s); err != nil {
					return f, err
				}
				switch {
				case marker == 0xFFE0 && len(s) >= 12 && string(s[:4]) == "JFIF" && s[7] == 1:
					dpi = true
				case marker == 0xFFE1 && f.exif == nil && bytes.HasPrefix(s, []byte("Exif\x00")):
					f.exif = s
				case marker == 0xFFE2 && len(s) >= 4 && string(s[:4]) == "MPF\x00":
					f.mpf = s[4:]
				}
				if !dpi && f.exif != nil {
					// Pillow reads the EXIF for the DPI, once.
					dpi = true
					if err := exifDPI(f.exif); err != nil {
						return f, err
					}
				}
			default: // DHT, DAC, SOS, DNL, DRI, EXP, COM: skipped
				if _, err := segment(name); err != nil {
					return f, err
				}
			}
			if marker == 0xFFDA {
				if !sawSOF || f.w <= 0 || f.h <= 0 {
					return f, fmt.Errorf("%w: no usable frame header before the first scan", errJPEGHeader)
				}
				if f.mpf != nil {
					if err := mpIndex(f.mpf); err != nil {
						return f, err
					}
				}
				return f, nil
			}
			if pos >= len(b) {
				return f, short("the header")
			}
			cur = int(b[pos])
			pos++
		case marker == 0xFFFF: // fill byte: the second 0xFF starts the next marker
			cur = 0xFF
		case marker == 0xFF00: // an escaped 0xFF in junk
			if pos >= len(b) {
				return f, short("the header")
			}
			cur = int(b[pos])
			pos++
		default:
			return f, fmt.Errorf("%w: no marker found (0x%04X)", errJPEGHeader, marker)
		}
	}
}

// isSOF reports the markers whose segment Pillow reads as a frame header
// (SOF0-3, 5-7, 9-11, 13-15 and DHP).
func isSOF(m int) bool {
	return (m >= 0xFFC0 && m <= 0xFFCF && m != 0xFFC4 && m != 0xFFC8 && m != 0xFFCC) || m == 0xFFDE
}

// pillowAPP fails where Pillow's APP handler raises on a short segment it
// recognizes: a JFIF or Adobe segment too short for its version field, a
// Photoshop resource block cut right after a resource code.
func pillowAPP(marker int, s []byte) error {
	switch {
	case marker == 0xFFE0 && len(s) >= 4 && string(s[:4]) == "JFIF" && len(s) < 7,
		marker == 0xFFEE && len(s) >= 5 && string(s[:5]) == "Adobe" && len(s) < 7:
		return fmt.Errorf("%w: APP%d segment of %d bytes", errJPEGHeader, marker&15, len(s))
	case marker == 0xFFED && len(s) >= 14 && string(s[:14]) == "Photoshop 3.0\x00":
		off := 14
		for off+4 <= len(s) && string(s[off:off+4]) == "8BIM" {
			off += 4
			if off+2 > len(s) { // i16: struct.error, caught
				return nil
			}
			code := binary.BigEndian.Uint16(s[off:])
			off += 2
			if off >= len(s) { // s[offset]: IndexError, not caught
				return fmt.Errorf("%w: Photoshop resource block cut short", errJPEGHeader)
			}
			off += 1 + int(s[off])
			off += off & 1
			if off+4 > len(s) { // i32: struct.error, caught
				return nil
			}
			size := int(binary.BigEndian.Uint32(s[off:]))
			off += 4
			if code == 0x03ED && (len(s)-off < 14 || size < 14) { // ResolutionInfo: struct.error, caught
				return nil
			}
			off += size
			off += off & 1
		}
	}
	return nil
}

// exifDPI fails where the APP handler's DPI lookup in the EXIF raises an
// exception it does not catch (so Image.open fails): getexif's struct.error
// on a TIFF header cut short or a little-endian BigTIFF one, and an
// IndexError from XResolution[1] when XResolution is one byte, or text of
// one digit or none (ResolutionUnit present).
func exifDPI(exif []byte) error {
	tags, err := pillowEXIF(exif)
	var he errEXIFHeader
	if errors.As(err, &he) && he.structShort {
		return fmt.Errorf("%w: EXIF block whose TIFF header is cut short", errJPEGHeader)
	}
	if err != nil {
		return nil // SyntaxError: caught
	}
	if _, ok := tags[0x0128]; !ok {
		return nil
	}
	x, ok := tags[0x011A]
	if !ok {
		return nil
	}
	short := false
	switch x.typ {
	case 1, 7: // bytes
		short = len(x.data) == 1
	case 2: // text: one NUL stripped, x[0] must parse as a float
		t := bytes.TrimSuffix(x.data, []byte{0})
		short = len(t) == 0 || len(t) == 1 && t[0] >= '0' && t[0] <= '9'
	}
	if short {
		return fmt.Errorf("%w: EXIF XResolution Pillow cannot read (IndexError)", errJPEGHeader)
	}
	return nil
}

// mpIndex fails where jpeg_factory's _getmp raises struct.error (which
// Image.open turns into "cannot identify image file"): a Multi-Picture
// index with fewer MP entries than its NumberOfImages. Everything else it
// finds wrong, it warns about and reads the file as a plain JPEG.
func mpIndex(mp []byte) error {
	head := mp[:min(8, len(mp))]
	bo, ok := tiffPrefix(head)
	if !ok || len(head) < 8 || head[2] == 0x2B {
		return nil
	}
	tags := readIFD(mp, bo, uint64(bo.Uint32(head[4:])), false)
	q, ok1 := tags[0xB001]
	e, ok2 := tags[0xB002]
	if !ok1 || !ok2 {
		return nil
	}
	var quant int64
	switch q.typ {
	case 3:
		quant = int64(q.bo.Uint16(q.data))
	case 8:
		quant = int64(int16(q.bo.Uint16(q.data)))
	case 4, 13:
		quant = int64(q.bo.Uint32(q.data))
	case 9:
		quant = int64(int32(q.bo.Uint32(q.data)))
	case 6:
		quant = int64(int8(q.data[0]))
	case 16:
		quant = int64(min(q.bo.Uint64(q.data), 1<<62))
	default:
		return nil // range() of a non-integer: TypeError, caught
	}
	if e.typ != 1 && e.typ != 7 {
		return nil // struct.unpack_from of a non-buffer: TypeError, caught
	}
	var ebo binary.ByteOrder = binary.LittleEndian
	if string(head[:4]) == "MM\x00\x2A" {
		ebo = binary.BigEndian
	}
	for i := int64(0); i < quant; i++ {
		if int64(len(e.data)) < (i+1)*16 {
			return fmt.Errorf("%w: MP index with fewer entries than images (Pillow: cannot identify image file)", errJPEGHeader)
		}
		if ebo.Uint32(e.data[i*16:])>>24&7 != 0 {
			return nil // "unsupported picture format in MPO": caught
		}
	}
	return nil
}
