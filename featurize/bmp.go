package featurize

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// BMP, read exactly as Pillow 9.4's BmpImagePlugin reads it: the same
// header checks in the same order, the same raw modes and palette
// handling (a grey ramp palette makes "1" or "L", whatever the bit depth),
// its Python RLE decoder with its quirks, and the raw decoder's row
// padding, orientation and truncation rules (including the memory-mapped
// path, whose rows may overlap). Errors say what Pillow says.

const (
	bmpRAW       = 0
	bmpRLE8      = 1
	bmpRLE4      = 2
	bmpBITFIELDS = 3
)

// bmpFile is what BmpImageFile._bitmap leaves behind: the image mode, the
// raw mode of its tile and where the pixels are.
type bmpFile struct {
	w, h      int64
	bits      int
	mode      string // "1", "L", "P", "RGB" or "RGBA"
	rawmode   string
	rle, rle4 bool
	direction int // -1: bottom-up rows, 1: top-down
	palette   []byte
	palPad    int   // 4 (BGRX entries) or 3 (OS/2 v1, BGR)
	offset    int64 // of the pixel data
}

// bmpReader is the file object _bitmap reads from: reads past the end
// return what is there, as Python's do.
type bmpReader struct {
	b   []byte
	pos int64
}

func (r *bmpReader) read(n int64) []byte {
	if r.pos >= int64(len(r.b)) || n <= 0 {
		return nil
	}
	end := r.pos + n
	if end > int64(len(r.b)) || end < r.pos {
		end = int64(len(r.b))
	}
	s := r.b[r.pos:end]
	r.pos = end
	return s
}

// errBMPUnidentified is Pillow's answer when the BMP plugin gives up with
// a SyntaxError (short header, zero size) and no other plugin takes the
// file.
var errBMPUnidentified = errors.New("BMP: cannot identify image file")

var bmpMaskModes = map[[4]uint32]string{
	{0xFF0000, 0xFF00, 0xFF, 0x0}:        "BGRX",
	{0xFF000000, 0xFF0000, 0xFF00, 0x0}:  "XBGR",
	{0xFF000000, 0xFF0000, 0xFF00, 0xFF}: "ABGR",
	{0xFF, 0xFF00, 0xFF0000, 0xFF000000}: "RGBA",
	{0xFF0000, 0xFF00, 0xFF, 0xFF000000}: "BGRA",
	{0x0, 0x0, 0x0, 0x0}:                 "BGRA",
}

// bmpOpen is BmpImageFile._open and _bitmap.
func bmpOpen(data []byte) (*bmpFile, error) {
	r := &bmpReader{b: data}
	head := r.read(14)
	if len(head) < 14 {
		return nil, errBMPUnidentified
	}
	offset := int64(binary.LittleEndian.Uint32(head[10:]))
	hs := r.read(4)
	if len(hs) < 4 {
		return nil, errBMPUnidentified
	}
	headerSize := int64(binary.LittleEndian.Uint32(hs))
	var hd []byte
	if headerSize-4 > 0 {
		if hd = r.read(headerSize - 4); int64(len(hd)) < headerSize-4 {
			return nil, errors.New("BMP: Truncated File Read")
		}
	}
	f := &bmpFile{direction: -1}
	var compression, colors uint32
	var masks [4]uint32
	switch headerSize {
	case 12: // OS/2 v1: 16-bit sizes, BGR palette entries
		f.w = int64(binary.LittleEndian.Uint16(hd[0:]))
		f.h = int64(binary.LittleEndian.Uint16(hd[2:]))
		f.bits = int(binary.LittleEndian.Uint16(hd[6:]))
		f.palPad = 3
	case 40, 64, 108, 124:
		f.w = int64(binary.LittleEndian.Uint32(hd[0:]))
		f.h = int64(binary.LittleEndian.Uint32(hd[4:]))
		// Top-down only when the height's top byte is 0xFF.
		if hd[7] == 0xFF {
			f.direction = 1
			f.h = 1<<32 - f.h
		}
		f.bits = int(binary.LittleEndian.Uint16(hd[10:]))
		compression = binary.LittleEndian.Uint32(hd[12:])
		colors = binary.LittleEndian.Uint32(hd[28:])
		f.palPad = 4
		if compression == bmpBITFIELDS {
			if len(hd) >= 52 {
				for i := range masks {
					masks[i] = binary.LittleEndian.Uint32(hd[36+4*i:])
				}
			} else {
				// A 40-byte header has three masks after it, no alpha.
				for i := 0; i < 3; i++ {
					m := r.read(4)
					if len(m) < 4 {
						return nil, errBMPUnidentified
					}
					masks[i] = binary.LittleEndian.Uint32(m)
				}
			}
		}
	default:
		return nil, fmt.Errorf("BMP: Unsupported BMP header type (%d)", headerSize)
	}

	nColors := int64(colors)
	if nColors == 0 {
		if f.bits >= 63 {
			nColors = math.MaxInt64 // 1 << bits; only the depth check sees it
		} else {
			nColors = 1 << f.bits
		}
	}
	if offset == 14+headerSize && f.bits <= 8 {
		offset += 4 * nColors
	}

	switch f.bits {
	case 1:
		f.mode, f.rawmode = "P", "P;1"
	case 4:
		f.mode, f.rawmode = "P", "P;4"
	case 8:
		f.mode, f.rawmode = "P", "P"
	case 16:
		f.mode, f.rawmode = "RGB", "BGR;15"
	case 24:
		f.mode, f.rawmode = "RGB", "BGR"
	case 32:
		f.mode, f.rawmode = "RGB", "BGRX"
	default:
		return nil, fmt.Errorf("BMP: Unsupported BMP pixel depth (%d)", f.bits)
	}

	switch compression {
	case bmpBITFIELDS:
		rgb := [3]uint32{masks[0], masks[1], masks[2]}
		switch {
		case f.bits == 32 && bmpMaskModes[masks] != "":
			f.rawmode = bmpMaskModes[masks]
			if f.rawmode != "BGRX" && f.rawmode != "XBGR" {
				f.mode = "RGBA"
			}
		case f.bits == 24 && rgb == [3]uint32{0xFF0000, 0xFF00, 0xFF}:
			f.rawmode = "BGR"
		case f.bits == 16 && rgb == [3]uint32{0xF800, 0x7E0, 0x1F}:
			f.rawmode = "BGR;16"
		case f.bits == 16 && rgb == [3]uint32{0x7C00, 0x3E0, 0x1F}:
			f.rawmode = "BGR;15"
		default:
			return nil, errors.New("BMP: Unsupported BMP bitfields layout")
		}
	case bmpRAW:
	case bmpRLE8, bmpRLE4:
		f.rle, f.rle4 = true, compression == bmpRLE4
	default:
		return nil, fmt.Errorf("BMP: Unsupported BMP compression (%d)", compression)
	}

	if f.mode == "P" {
		if nColors <= 0 || nColors > 65536 {
			return nil, fmt.Errorf("BMP: Unsupported BMP Palette size (%d)", nColors)
		}
		pad := int64(f.palPad)
		pal := r.read(pad * nColors)
		grey := true
		for i := int64(0); i < nColors && grey; i++ {
			v := byte(i)
			if nColors == 2 && i == 1 {
				v = 255
			}
			if i*pad+3 > int64(len(pal)) {
				grey = false
				break
			}
			e := pal[i*pad:]
			grey = e[0] == v && e[1] == v && e[2] == v
		}
		switch {
		case grey && nColors == 2:
			f.mode, f.rawmode = "1", "1"
		case grey:
			f.mode, f.rawmode = "L", "L"
		default:
			f.palette = pal
		}
	}
	if offset == 0 {
		offset = r.pos
	}
	f.offset = offset
	if f.w <= 0 || f.h <= 0 {
		return nil, fmt.Errorf("%w (size %dx%d)", errBMPUnidentified, f.w, f.h)
	}
	return f, nil
}

// bmpUnpackBits is the bits per pixel of Pillow's unpacker for a raw mode.
func bmpUnpackBits(rawmode string) int64 {
	switch rawmode {
	case "1", "P;1":
		return 1
	case "P;4":
		return 4
	case "L", "P":
		return 8
	case "BGR;15", "BGR;16":
		return 16
	case "BGR":
		return 24
	}
	return 32
}

// mulSat is a*b for non-negative a, b, saturating instead of overflowing.
func mulSat(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

// decodeBMP decodes a BMP (no orientation: BMPs carry none).
func (d *Decoder) decodeBMP(data []byte) (*RGB, error) {
	f, err := bmpOpen(data)
	if err != nil {
		return nil, err
	}
	// Image.open's decompression-bomb check, before any pixel memory.
	if err := d.checkSize(int(f.w), int(f.h)); err != nil {
		return nil, fmt.Errorf("BMP: %w", err)
	}
	w, h := f.w, f.h
	// The palette Image.load realizes (putpalette): more than 256 entries
	// is an error, indexes past its end read the grey ramp it starts as.
	var pal [256][3]uint8
	for i := range pal {
		pal[i] = [3]uint8{uint8(i), uint8(i), uint8(i)}
	}
	if f.mode == "P" {
		n := int64(len(f.palette)) * 8 / int64(f.palPad*8)
		if n > 256 {
			return nil, errors.New("BMP: invalid palette size")
		}
		for i := int64(0); i < n; i++ {
			e := f.palette[i*int64(f.palPad):]
			pal[i] = [3]uint8{e[2], e[1], e[0]}
		}
	}
	if f.rle {
		return d.bmpRLE(data, f, &pal)
	}

	stride := ((w*int64(f.bits) + 31) >> 3) &^ 3
	lineBytes := (w*bmpUnpackBits(f.rawmode) + 7) / 8
	size := int64(len(data))
	// Pillow memory-maps the file when the raw mode is the image mode and
	// the whole raster fits: rows are then read in place, even when they
	// overlap ("L" from a 1- or 4-bit grey palette), and bytes past the
	// end read as the zeros of the mapping's last page.
	mapped := f.rawmode == f.mode && (f.mode == "L" || f.mode == "P" || f.mode == "RGBA") &&
		f.offset <= size && mulSat(h, stride) <= size-f.offset
	if !mapped {
		if f.offset >= size {
			return nil, errors.New("BMP: image file is truncated (0 bytes not processed)")
		}
		if stride < lineBytes {
			return nil, errors.New("BMP: codec configuration error when reading image file")
		}
		if mulSat(h-1, stride) > size-f.offset-lineBytes {
			return nil, fmt.Errorf("BMP: image file is truncated (%d of %d bytes of pixel data)",
				size-f.offset, (h-1)*stride+lineBytes)
		}
	}
	W, H := int(w), int(h)
	d.pix = grow(d.pix, W*H*3)
	var line []byte
	if mapped && stride < lineBytes {
		line = make([]byte, lineBytes)
	}
	for y := 0; y < H; y++ {
		r := int64(y)
		if f.direction < 0 {
			r = h - 1 - r
		}
		start := f.offset + r*stride
		src := data[start:min64(start+lineBytes, size)]
		if int64(len(src)) < lineBytes {
			n := copy(line, src)
			clear(line[n:])
			src = line
		}
		bmpUnpack(d.pix[y*W*3:(y+1)*W*3], src, f.rawmode, W, &pal)
	}
	return &RGB{W: W, H: H, Pix: d.pix}, nil
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

// bmpUnpack turns one row in a raw mode into RGB, as Pillow's unpacker
// and then convert("RGB") (alpha over white for RGBA) do.
func bmpUnpack(dst, src []byte, rawmode string, w int, pal *[256][3]uint8) {
	switch rawmode {
	case "1":
		for x := 0; x < w; x++ {
			v := uint8(0)
			if src[x>>3]&(0x80>>(x&7)) != 0 {
				v = 255
			}
			dst[3*x], dst[3*x+1], dst[3*x+2] = v, v, v
		}
	case "L":
		for x := 0; x < w; x++ {
			v := src[x]
			dst[3*x], dst[3*x+1], dst[3*x+2] = v, v, v
		}
	case "P;1":
		for x := 0; x < w; x++ {
			p := pal[src[x>>3]>>(7-x&7)&1]
			dst[3*x], dst[3*x+1], dst[3*x+2] = p[0], p[1], p[2]
		}
	case "P;4":
		for x := 0; x < w; x++ {
			p := pal[src[x>>1]>>(4-4*(x&1))&15]
			dst[3*x], dst[3*x+1], dst[3*x+2] = p[0], p[1], p[2]
		}
	case "P":
		for x := 0; x < w; x++ {
			p := pal[src[x]]
			dst[3*x], dst[3*x+1], dst[3*x+2] = p[0], p[1], p[2]
		}
	case "BGR;15", "BGR;16":
		for x := 0; x < w; x++ {
			v := int(src[2*x]) | int(src[2*x+1])<<8
			if rawmode == "BGR;15" {
				dst[3*x] = uint8((v >> 10 & 31) * 255 / 31)
				dst[3*x+1] = uint8((v >> 5 & 31) * 255 / 31)
			} else {
				dst[3*x] = uint8((v >> 11 & 31) * 255 / 31)
				dst[3*x+1] = uint8((v >> 5 & 63) * 255 / 63)
			}
			dst[3*x+2] = uint8((v & 31) * 255 / 31)
		}
	case "BGR":
		for x := 0; x < w; x++ {
			s := src[3*x:]
			dst[3*x], dst[3*x+1], dst[3*x+2] = s[2], s[1], s[0]
		}
	default: // 32-bit: byte positions of R, G, B and alpha (-1: none)
		var ri, gi, bi, ai int
		switch rawmode {
		case "BGRX":
			ri, gi, bi, ai = 2, 1, 0, -1
		case "XBGR":
			ri, gi, bi, ai = 3, 2, 1, -1
		case "ABGR":
			ri, gi, bi, ai = 3, 2, 1, 0
		case "RGBA":
			ri, gi, bi, ai = 0, 1, 2, 3
		default: // BGRA
			ri, gi, bi, ai = 2, 1, 0, 3
		}
		for x := 0; x < w; x++ {
			s := src[4*x : 4*x+4]
			r, g, b := s[ri], s[gi], s[bi]
			if ai >= 0 {
				a := s[ai]
				r, g, b = overWhite(r, a), overWhite(g, a), overWhite(b, a)
			}
			dst[3*x], dst[3*x+1], dst[3*x+2] = r, g, b
		}
	}
}

// bmpRLE is BmpRleDecoder.decode followed by its set_as_raw. A first pass
// only measures, so a header announcing a large image over a few bytes of
// RLE costs no memory.
func (d *Decoder) bmpRLE(data []byte, f *bmpFile, pal *[256][3]uint8) (*RGB, error) {
	n, err := bmpRLEDecode(data, f, nil)
	if err != nil {
		return nil, err
	}
	if f.mode != "P" && f.mode != "L" {
		// set_as_raw unpacks "P" into a "1" or RGB image: no such unpacker.
		return nil, errors.New("BMP: unknown raw mode for given image mode")
	}
	if n < f.w*f.h {
		return nil, errors.New("BMP: not enough image data")
	}
	W, H := int(f.w), int(f.h)
	// d.cmyk is the decoder's scratch buffer: here, the decoded indexes.
	d.cmyk = grow(d.cmyk, W*H)
	idx := d.cmyk[:W*H]
	clear(idx)
	if _, err := bmpRLEDecode(data, f, idx); err != nil {
		return nil, err
	}
	d.pix = grow(d.pix, W*H*3)
	for i := 0; i < H; i++ {
		y := H - 1 - i
		if f.direction > 0 {
			y = i
		}
		dst := d.pix[y*W*3 : (y+1)*W*3]
		src := idx[i*W : (i+1)*W]
		if f.mode == "L" {
			bmpUnpack(dst, src, "L", W, pal)
		} else {
			bmpUnpack(dst, src, "P", W, pal)
		}
	}
	return &RGB{W: W, H: H, Pix: d.pix}, nil
}

// bmpRLEDecode runs Pillow 9.4's Python RLE loop over the file from the
// pixel offset (word alignment is by absolute file position, as its
// fd.tell() is), writing the pixels that fall inside out, and returns how
// many it produced.
func bmpRLEDecode(data []byte, f *bmpFile, out []byte) (int64, error) {
	r := &bmpReader{b: data, pos: f.offset}
	w, total := f.w, f.w*f.h
	var n, x int64
	put := func(v byte, count int64) {
		if n < int64(len(out)) {
			end := min(n+count, int64(len(out)))
			for i := n; i < end; i++ {
				out[i] = v
			}
		}
		n += count
	}
	for n < total {
		p, b := r.read(1), r.read(1)
		if len(p) == 0 || len(b) == 0 {
			break
		}
		if num := int64(p[0]); num != 0 {
			// Encoded run, clipped to the row.
			if x+num > w {
				num = max(0, w-x)
			}
			if f.rle4 {
				for i := int64(0); i < num; i++ {
					if i%2 == 0 {
						put(b[0]>>4, 1)
					} else {
						put(b[0]&15, 1)
					}
				}
			} else {
				put(b[0], num)
			}
			x += num
			continue
		}
		switch b[0] {
		case 0: // end of line
			if rem := n % w; rem != 0 {
				n += w - rem
			}
			x = 0
		case 1: // end of bitmap
			return n, nil
		case 2: // delta: Pillow reads two bytes, then uses the next two
			if len(r.read(2)) < 2 {
				return n, nil
			}
			ru := r.read(2)
			if len(ru) < 2 {
				return 0, fmt.Errorf("BMP: not enough values to unpack (expected 2, got %d)", len(ru))
			}
			n += int64(ru[0]) + int64(ru[1])*w
			x = n % w
		default: // absolute run
			count := int64(b[0])
			if f.rle4 {
				count /= 2 // an odd count loses its last pixel
			}
			got := r.read(count)
			if f.rle4 {
				for _, v := range got {
					put(v>>4, 1)
					put(v&15, 1)
				}
			} else {
				for _, v := range got {
					put(v, 1)
				}
			}
			if int64(len(got)) < count {
				return n, nil
			}
			x += int64(b[0])
			if r.pos%2 != 0 {
				r.pos++
			}
		}
	}
	return n, nil
}
