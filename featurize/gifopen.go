package featurize

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// GIFs are read as Pillow reads their first frame: GifImagePlugin's walk
// over the blocks up to the first image descriptor (and the exceptions it
// raises on short blocks), a frame larger than the screen growing the
// image, a palette that is an identity grey ramp making a greyscale image,
// and GifDecode.c's LZW decoder, which stops once the frame is full (the
// rest of the data is never read) and fails on a code past the table. Go's
// image/gif is stricter (too much data, a pixel past a short palette) and
// puts a smaller frame on a transparent canvas where Pillow's is index 0.

var errGIF = errors.New("GIF")

func gifFail(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errGIF, fmt.Sprintf(format, args...))
}

// gifFrame is what Pillow knows of the first frame before decoding it.
type gifFrame struct {
	w, h           int    // the image (the screen, grown to hold the frame)
	x0, y0, x1, y1 int    // the frame
	bits           int    // LZW minimum code size
	interlace      bool   // rows in the four interlaced passes
	palette        []byte // the palette in use (RGB triples), nil for greyscale
	transparency   int    // index, or -1
	data           int    // offset of the LZW data (its first sub-block)
}

type gifReader struct {
	b   []byte
	pos int
}

// read is fp.read(n): up to n bytes.
func (r *gifReader) read(n int) []byte {
	end := min(len(r.b), r.pos+n)
	s := r.b[r.pos:end]
	r.pos = end
	return s
}

// subBlock is GifImageFile.data(): the next sub-block, or nil at a zero
// length or the end of the file.
func (r *gifReader) subBlock() []byte {
	s := r.read(1)
	if len(s) == 1 && s[0] != 0 {
		return r.read(int(s[0]))
	}
	return nil
}

// paletteNeeded is GifImageFile._is_palette_needed: false for an identity
// grey ramp; a short last entry of an otherwise identity ramp raises.
func paletteNeeded(p []byte) (bool, error) {
	for i := 0; i < len(p); i += 3 {
		if int(p[i]) != i/3 {
			return true, nil
		}
		if i+1 >= len(p) {
			return false, gifFail("palette cut short")
		}
		if p[i+1] != p[i] {
			return true, nil
		}
		if i+2 >= len(p) {
			return false, gifFail("palette cut short")
		}
		if p[i+2] != p[i] {
			return true, nil
		}
	}
	return false, nil
}

// gifOpen is GifImageFile._open and _seek(0).
func gifOpen(b []byte) (*gifFrame, error) {
	if len(b) < 6 || (string(b[:6]) != "GIF87a" && string(b[:6]) != "GIF89a") {
		return nil, gifFail("not a GIF file")
	}
	r := &gifReader{b: b}
	s := r.read(13)
	if len(s) < 11 {
		return nil, gifFail("screen descriptor cut short")
	}
	f := &gifFrame{w: int(binary.LittleEndian.Uint16(s[6:])), h: int(binary.LittleEndian.Uint16(s[8:])), transparency: -1}
	flags := s[10]
	var global []byte
	if flags&128 != 0 {
		if len(s) < 12 {
			return nil, gifFail("screen descriptor cut short")
		}
		p := r.read(3 << (flags&7 + 1))
		need, err := paletteNeeded(p)
		if err != nil {
			return nil, err
		}
		if need {
			global = p
		}
	}
	c := r.read(1)
	if len(c) == 0 || c[0] == ';' {
		return nil, gifFail("no image in the file")
	}
	var local []byte
	found := false
	for !found {
		if len(c) == 0 {
			c = r.read(1)
		}
		if len(c) == 0 || c[0] == ';' {
			break
		}
		switch c[0] {
		case '!':
			label := r.read(1)
			block := r.subBlock()
			if len(label) == 0 {
				return nil, gifFail("extension cut short")
			}
			switch {
			case label[0] == 249: // graphic control
				if block == nil {
					return nil, gifFail("empty graphic control extension")
				}
				if block[0]&1 != 0 {
					if len(block) < 4 {
						return nil, gifFail("graphic control extension cut short")
					}
					f.transparency = int(block[3])
				}
				if len(block) < 3 {
					return nil, gifFail("graphic control extension cut short")
				}
			case label[0] == 254: // comment: read to its end
				for block != nil {
					block = r.subBlock()
				}
				c = nil
				continue
			case label[0] == 255: // application
				if block != nil && len(block) >= 11 && string(block[:11]) == "NETSCAPE2.0" {
					if r.subBlock() == nil {
						return nil, gifFail("NETSCAPE2.0 extension cut short")
					}
				} else if block == nil {
					// block[:11] on None
					return nil, gifFail("empty application extension")
				}
			}
			for r.subBlock() != nil {
			}
		case ',':
			d := r.read(9)
			if len(d) < 8 {
				return nil, gifFail("image descriptor cut short")
			}
			f.x0, f.y0 = int(binary.LittleEndian.Uint16(d[0:])), int(binary.LittleEndian.Uint16(d[2:]))
			f.x1, f.y1 = f.x0+int(binary.LittleEndian.Uint16(d[4:])), f.y0+int(binary.LittleEndian.Uint16(d[6:]))
			if f.x1 > f.w || f.y1 > f.h {
				f.w, f.h = max(f.x1, f.w), max(f.y1, f.h)
			}
			if len(d) < 9 {
				return nil, gifFail("image descriptor cut short")
			}
			f.interlace = d[8]&64 != 0
			if d[8]&128 != 0 {
				p := r.read(3 << (d[8]&7 + 1))
				need, err := paletteNeeded(p)
				if err != nil {
					return nil, err
				}
				if need {
					local = p
				}
			}
			m := r.read(1)
			if len(m) == 0 {
				return nil, gifFail("image data missing")
			}
			f.bits, f.data = int(m[0]), r.pos
			found = true
		}
		c = nil
	}
	if !found {
		return nil, gifFail("no image in the file")
	}
	// A local identity ramp makes an "L" frame, but Pillow then hands the
	// global palette (if any) to that image, which turns it into "P" with
	// the global colours.
	f.palette = global
	if local != nil {
		f.palette = local
	}
	return f, nil
}

const (
	gifTable  = 4096
	gifBuffer = 4096
	gifBits   = 12
)

// gifMaxBlock is ImageFile.MAXBLOCK: Pillow feeds the decoder the file in
// reads of this size.
const gifMaxBlock = 65536

// gifDecode is GifDecode.c's LZW decoder writing the frame's indices into
// canvas (w wide) at the frame's place, driven as ImageFile.load drives it:
// the data from the frame's first sub-block arrives 64 KiB at a time, the
// decoder returns for more at a sub-block not wholly read yet and at an end
// code, and running out of file then is a truncated file. Done when the
// frame is full; a code past the table is an error.
func gifDecode(b []byte, f *gifFrame, canvas []byte, w int) error {
	if f.bits < 0 || f.bits > gifBits {
		return gifFail("LZW code size %d is over 12 (codec configuration error)", f.bits)
	}
	if f.x0 == 0 && f.x1 == 0 {
		// Pillow's setimage reads a tile from x 0 to x 0 as the whole
		// image.
		f.y0, f.x1, f.y1 = 0, w, len(canvas)/w
	}
	xsize, ysize := f.x1-f.x0, f.y1-f.y0
	if xsize <= 0 || ysize <= 0 {
		return gifFail("frame of %dx%d pixels (tile cannot extend outside image)", xsize, ysize)
	}
	clear, end := 1<<f.bits, 1<<f.bits+1
	var (
		data      [gifTable]byte
		link      [gifTable]int
		buffer    [gifBuffer]byte
		bufIndex  = gifBuffer
		next      int
		codesize  int
		codemask  int
		lastdata  byte
		lastcode  int
		bitbuffer uint32
		bitcount  int
		blocksize int
		state     = 1
		one       [1]byte
		x, y      int
		step      = 1
		pass      = 0
	)
	if f.interlace {
		step, pass = 8, 1
	}
	ptr := f.data
	// The file read so far; more is read only when the decoder returns.
	readEnd := min(len(b), f.data+gifMaxBlock)
	readMore := func() bool {
		if readEnd >= len(b) {
			return false
		}
		readEnd = min(len(b), readEnd+gifMaxBlock)
		return true
	}
	row := func() int { return (f.y0+y)*w + f.x0 }
	// newline moves to the next row (GifDecode.c's NEWLINE): done reports
	// the frame is full.
	newline := func() (done bool) {
		x = 0
		y += step
		for y >= ysize {
			switch pass {
			case 1:
				y, pass = 4, 2
			case 2:
				step, y, pass = 4, 2, 3
			case 3:
				step, y, pass = 2, 1, 0
			default:
				return true
			}
		}
		return false
	}
	for {
		if state == 1 {
			next = clear + 2
			codesize = f.bits + 1
			codemask = 1<<codesize - 1
			bufIndex = gifBuffer
			state = 2
		}
		var p []byte
		if bufIndex < gifBuffer {
			// The rest of the last code's string, in one go.
			p = buffer[bufIndex:]
			bufIndex = gifBuffer
		} else {
			for bitcount < codesize {
				if blocksize > 0 {
					bitbuffer |= uint32(b[ptr]) << bitcount
					ptr++
					blocksize--
					bitcount += 8
					continue
				}
				// A sub-block is decoded only once all of it is there.
				for ptr >= readEnd || readEnd-ptr < int(b[ptr])+1 {
					if !readMore() {
						return gifFail("image file is truncated")
					}
				}
				blocksize = int(b[ptr])
				ptr++
			}
			c := int(bitbuffer) & codemask
			bitbuffer >>= codesize
			bitcount -= codesize
			if c == clear {
				if state != 2 {
					state = 1
				}
				continue
			}
			if c == end {
				// The decoder returns here; Pillow reads the next 64 KiB and
				// calls it again, which reads on as more of the stream, or
				// finds the file at its end and calls it truncated.
				if !readMore() {
					return gifFail("image file is truncated")
				}
				continue
			}
			if state == 2 {
				// The first code after a clear is a literal.
				if c > clear {
					return gifFail("broken data stream (first code %d)", c)
				}
				lastdata, lastcode = byte(c), c
				state = 3
			} else {
				thiscode := c
				if c > next {
					return gifFail("broken data stream (code %d past the table)", c)
				}
				if c == next {
					if bufIndex <= 0 {
						return gifFail("broken data stream")
					}
					bufIndex--
					buffer[bufIndex] = lastdata
					c = lastcode
				}
				for c >= clear {
					if bufIndex <= 0 || c >= gifTable {
						return gifFail("broken data stream")
					}
					bufIndex--
					buffer[bufIndex] = data[c]
					c = link[c]
				}
				lastdata = byte(c)
				if next < gifTable {
					data[next] = byte(c)
					link[next] = lastcode
					if next == codemask && codesize < gifBits {
						codesize++
						codemask = 1<<codesize - 1
					}
					next++
				}
				lastcode = thiscode
			}
			// The string's first byte; the buffer holds the rest.
			one[0] = lastdata
			p = one[:]
		}
		for _, v := range p {
			canvas[row()+x] = v
			x++
			if x >= xsize && newline() {
				return nil
			}
		}
	}
}

// decodeGIF decodes a GIF's first frame as Pillow's convert("RGB") sees it,
// with the transparent index composited on white (featurizer's alpha
// policy): Pillow's canvas is the transparent index where there is one,
// else index 0; palette entries past the palette are Pillow's grey ramp.
func (d *Decoder) decodeGIF(data []byte) (*RGB, error) {
	f, err := gifOpen(data)
	if err != nil {
		return nil, err
	}
	if err := d.checkSize(f.w, f.h); err != nil {
		return nil, err
	}
	w, h := f.w, f.h
	d.cmyk = grow(d.cmyk, w*h) // index canvas
	canvas := d.cmyk[:w*h]
	fill := byte(0)
	if f.transparency >= 0 {
		fill = byte(f.transparency)
	}
	for i := range canvas {
		canvas[i] = fill
	}
	if err := gifDecode(data, f, canvas, w); err != nil {
		return nil, err
	}
	var pal [256][3]byte
	for i := range pal {
		pal[i] = [3]byte{byte(i), byte(i), byte(i)}
	}
	for i := 0; i < min(256, len(f.palette)/3); i++ {
		copy(pal[i][:], f.palette[i*3:])
	}
	if f.transparency >= 0 {
		pal[f.transparency] = [3]byte{255, 255, 255}
	}
	d.pix = grow(d.pix, w*h*3)
	for i, v := range canvas {
		copy(d.pix[i*3:i*3+3], pal[v][:])
	}
	return &RGB{W: w, H: h, Pix: d.pix}, nil
}
