package featurize

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"unicode/utf8"
)

// PNGs are judged as Pillow's PngImagePlugin opens and loads them: the
// chunks before the image data are read one by one with their checksums
// checked, the image data is inflated row by row until the image is
// complete, and what follows is read leniently (no checksums, a missing
// IEND is fine) though a chunk cut short or malformed there still fails.
// Go's PNG decoder is stricter in places (every checksum, zlib's trailer,
// an IEND), so it gets a normalized file: the header chunks it needs and
// exactly the image rows Pillow used.

var errPNG = errors.New("PNG")

// pngModes are the bit depth / colour type pairs Pillow reads (_MODES).
var pngModes = map[[2]byte]string{
	{1, 0}: "1", {2, 0}: "L", {4, 0}: "L", {8, 0}: "L", {16, 0}: "I",
	{8, 2}: "RGB", {16, 2}: "RGB",
	{1, 3}: "P", {2, 3}: "P", {4, 3}: "P", {8, 3}: "P",
	{8, 4}: "LA", {16, 4}: "RGBA",
	{8, 6}: "RGBA", {16, 6}: "RGBA",
}

// pngChannels is the samples per pixel of a colour type.
var pngChannels = map[byte]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}

const (
	pngMaxTextChunk  = 1 << 20          // ImageFile.SAFEBLOCK
	pngMaxTextMemory = 64 * (1 << 20)   // PngImagePlugin.MAX_TEXT_MEMORY
	pngReadBlock     = 65536            // ImageFile.MAXBLOCK
	pngMaxRawBytes   = int64(1<<31 - 1) // one Go slice of filtered rows
)

// pngState is PngStream's: what the chunks said so far.
type pngState struct {
	b   []byte
	pos int

	w, h        uint32
	mode        string
	bits, color byte // of the last IHDR whose pair Pillow knows
	interlace   bool
	palette     []byte
	trns        []byte
	trnsMode    string
	exif        []byte // info["exif"], when exifSet
	exifSet     bool
	exifBad     bool   // info["exif"] is text getexif cannot read
	xmp         []byte // info["XML:com.adobe.xmp"]
	rawEXIF     []byte // info["Raw profile type exif"], when rawSet
	rawSet      bool
	textMemory  int
	nFrames     int64 // -1: none
	seqNum      int64 // -1: none
	bbox        *[4]uint32
}

func pngFail(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errPNG, fmt.Sprintf(format, args...))
}

// header is ChunkStream.read: 8 bytes, then a chunk type of four word
// characters.
func (s *pngState) header() (cid string, length uint32, err error) {
	if s.pos+8 > len(s.b) {
		return "", 0, errShortHeader
	}
	length = binary.BigEndian.Uint32(s.b[s.pos:])
	cid = string(s.b[s.pos+4 : s.pos+8])
	s.pos += 8
	for i := 0; i < 4; i++ {
		c := cid[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return cid, length, errBadChunkType
		}
	}
	return cid, length, nil
}

var (
	errShortHeader  = pngFail("the file ends inside a chunk header")
	errBadChunkType = pngFail("broken PNG file (bad chunk type)")
)

// read is ImageFile._safe_read.
func (s *pngState) read(n uint32, cid string) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if uint64(s.pos)+uint64(n) > uint64(len(s.b)) {
		return nil, pngFail("truncated %s chunk", cid)
	}
	d := s.b[s.pos : s.pos+int(n)]
	s.pos += int(n)
	return d, nil
}

// skip is a file read that may come up short (fp.read(n)).
func (s *pngState) skip(n int) {
	s.pos = min(len(s.b), s.pos+n)
}

// call runs a chunk's handler (PngStream.chunk_*): eof reports the
// handlers that raise EOFError (image data, IEND) without reading.
func (s *pngState) call(cid string, length uint32) (data []byte, eof bool, err error) {
	switch cid {
	case "IDAT", "IEND":
		return nil, true, nil
	case "fdAT":
		if length < 4 {
			return nil, false, pngFail("APNG contains truncated fDAT chunk")
		}
		d, err := s.read(4, cid)
		if err != nil {
			return nil, false, err
		}
		seq := int64(binary.BigEndian.Uint32(d))
		if s.seqNum != seq-1 || s.seqNum < 0 {
			return nil, false, pngFail("APNG contains frame sequence errors")
		}
		s.seqNum = seq
		return nil, true, nil
	}
	d, err := s.read(length, cid)
	if err != nil {
		return nil, false, err
	}
	switch cid {
	case "IHDR":
		if length < 13 {
			return nil, false, pngFail("truncated IHDR chunk")
		}
		s.w, s.h = binary.BigEndian.Uint32(d), binary.BigEndian.Uint32(d[4:])
		if m, ok := pngModes[[2]byte{d[8], d[9]}]; ok {
			s.mode, s.bits, s.color = m, d[8], d[9]
		}
		if d[12] != 0 {
			s.interlace = true
		}
		if d[11] != 0 {
			return nil, false, pngFail("unknown filter category")
		}
	case "PLTE":
		if s.mode == "P" {
			s.palette = d
		}
	case "tRNS":
		switch s.mode {
		case "1", "L", "I":
			if len(d) < 2 {
				return nil, false, pngFail("short tRNS chunk")
			}
		case "RGB":
			if len(d) < 6 {
				return nil, false, pngFail("short tRNS chunk")
			}
		}
		if s.mode == "P" || s.mode == "1" || s.mode == "L" || s.mode == "I" || s.mode == "RGB" {
			s.trns, s.trnsMode = d, s.mode
		}
	case "gAMA":
		if len(d) < 4 {
			return nil, false, pngFail("short gAMA chunk")
		}
	case "sRGB":
		if length < 1 {
			return nil, false, pngFail("truncated sRGB chunk")
		}
	case "pHYs":
		if length < 9 {
			return nil, false, pngFail("truncated pHYs chunk")
		}
	case "tEXt":
		k, v, _ := bytes.Cut(d, []byte{0})
		if len(k) > 0 {
			s.setText(string(k), v, true)
			if err := s.addText(len(v)); err != nil {
				return nil, false, err
			}
		}
	case "zTXt":
		k, v, _ := bytes.Cut(d, []byte{0})
		if len(v) > 0 && v[0] != 0 {
			return nil, false, pngFail("unknown compression method %d in zTXt chunk", v[0])
		}
		var text []byte
		if len(v) > 1 {
			t, tail, ok := zlibTextData(v[1:], pngMaxTextChunk)
			if ok && tail {
				return nil, false, pngFail("decompressed zTXt data too large (Pillow: Decompressed Data Too Large)")
			}
			if ok {
				text = t
			}
		}
		if len(k) > 0 {
			s.setText(string(k), text, false)
			if err := s.addText(len(text)); err != nil {
				return nil, false, err
			}
		}
	case "iTXt":
		k, r, found := bytes.Cut(d, []byte{0})
		if !found || len(r) < 2 {
			break
		}
		cf, cm, r := r[0], r[1], r[2:]
		parts := bytes.SplitN(r, []byte{0}, 3)
		if len(parts) < 3 {
			break
		}
		v := parts[2]
		if cf != 0 {
			if cm != 0 {
				break
			}
			t, tail, ok := zlibTextData(v, pngMaxTextChunk)
			if ok && tail {
				return nil, false, pngFail("decompressed iTXt data too large (Pillow: Decompressed Data Too Large)")
			}
			if !ok {
				break
			}
			v = t
		}
		if !utf8.Valid(parts[0]) || !utf8.Valid(parts[1]) || !utf8.Valid(v) {
			break
		}
		s.setText(string(k), v, false)
		if err := s.addText(utf8.RuneCount(v)); err != nil {
			return nil, false, err
		}
	case "eXIf":
		s.exif, s.exifSet, s.exifBad = append([]byte("Exif\x00\x00"), d...), true, false
	case "iCCP":
		i := bytes.IndexByte(d, 0)
		if len(d) == 0 {
			return nil, false, pngFail("empty iCCP chunk")
		}
		method := d[len(d)-1] // s[i] with i = -1
		if i >= 0 {
			method = d[i]
		}
		if method != 0 {
			return nil, false, pngFail("unknown compression method %d in iCCP chunk", method)
		}
		start := i + 2
		if start < 0 {
			start = 0
		}
		if start < len(d) {
			if _, tail, ok := zlibText(d[start:], pngMaxTextChunk); ok && tail {
				return nil, false, pngFail("decompressed iCCP data too large")
			}
		}
	case "acTL":
		if length < 8 {
			return nil, false, pngFail("APNG contains truncated acTL chunk")
		}
		if s.nFrames >= 0 {
			s.nFrames = -1
			break
		}
		n := int64(binary.BigEndian.Uint32(d))
		if n == 0 || n > 0x80000000 {
			break
		}
		s.nFrames = n
	case "fcTL":
		if length < 26 {
			return nil, false, pngFail("APNG contains truncated fcTL chunk")
		}
		seq := int64(binary.BigEndian.Uint32(d))
		if (s.seqNum < 0 && seq != 0) || (s.seqNum >= 0 && s.seqNum != seq-1) {
			return nil, false, pngFail("APNG contains frame sequence errors")
		}
		s.seqNum = seq
		w, h := binary.BigEndian.Uint32(d[4:]), binary.BigEndian.Uint32(d[8:])
		px, py := binary.BigEndian.Uint32(d[12:]), binary.BigEndian.Uint32(d[16:])
		if uint64(px)+uint64(w) > uint64(s.w) || uint64(py)+uint64(h) > uint64(s.h) {
			return nil, false, pngFail("APNG contains invalid frames")
		}
		s.bbox = &[4]uint32{px, py, px + w, py + h}
	}
	return d, false, nil
}

// setText records a text chunk's effect on what EXIF orientation Pillow
// finds: a key "exif" replaces info["exif"] (usable only as raw bytes), an
// XMP packet can carry tiff:Orientation.
func (s *pngState) setText(k string, v []byte, raw bool) {
	switch k {
	case "exif":
		// Text (not tEXt's raw bytes) makes Exif.load raise, unless empty.
		s.exif, s.exifSet, s.exifBad = v, true, !raw && len(v) > 0
	case "XML:com.adobe.xmp":
		s.xmp = v
	case "Raw profile type exif":
		s.rawEXIF, s.rawSet = v, true
	}
}

func (s *pngState) addText(n int) error {
	s.textMemory += n
	if s.textMemory > pngMaxTextMemory {
		return pngFail("too much memory used in text chunks")
	}
	return nil
}

// crc is ChunkStream.crc.
func (s *pngState) crc(cid string, data []byte) error {
	if s.pos+4 > len(s.b) {
		return pngFail("broken PNG file (incomplete checksum in %s)", cid)
	}
	want := binary.BigEndian.Uint32(s.b[s.pos:])
	s.pos += 4
	h := crc32.NewIEEE()
	h.Write([]byte(cid))
	h.Write(data)
	if h.Sum32() != want {
		return pngFail("broken PNG file (bad header checksum in %s)", cid)
	}
	return nil
}

// pngImage is a PNG as Pillow reads it.
type pngImage struct {
	w, h        int
	norm        []byte // for Go's decoder
	orientation int
}

// pngOpen judges a PNG as Pillow does and returns what Go's decoder needs.
// checkSize runs on the header's size before any pixel memory exists.
func pngOpen(b []byte, checkSize func(w, h int) error) (*pngImage, error) {
	s := &pngState{b: b, pos: 8, nFrames: -1, seqNum: -1}
	// _open: chunks up to the image data.
	var idatLen uint32
	var idatPos int
	var cid string
	for {
		var length uint32
		var err error
		cid, length, err = s.header()
		if err != nil {
			return nil, err
		}
		pos := s.pos
		data, eof, err := s.call(cid, length)
		if err != nil {
			return nil, err
		}
		if eof {
			if cid == "IEND" {
				return nil, pngFail("no image data before IEND")
			}
			idatLen, idatPos = length, pos
			if cid == "fdAT" {
				idatLen, idatPos = length-4, pos+4
			}
			break
		}
		if err := s.crc(cid, data); err != nil {
			return nil, err
		}
	}
	if s.mode == "" || s.w == 0 || s.h == 0 {
		return nil, pngFail("no usable IHDR chunk")
	}
	if s.w > 1<<31-1 || s.h > 1<<31-1 {
		return nil, pngFail("image is %dx%d", s.w, s.h)
	}
	if err := checkSize(int(s.w), int(s.h)); err != nil {
		return nil, err
	}
	xs, ys := int64(s.w), int64(s.h)
	// An APNG's first frame may cover part of the image only: Pillow
	// decodes it there, on a canvas of zeros.
	framed := s.bbox != nil && (s.bbox[0] != 0 || s.bbox[1] != 0 || s.bbox[2] != s.w || s.bbox[3] != s.h)
	if framed {
		xs, ys = int64(s.bbox[2]-s.bbox[0]), int64(s.bbox[3]-s.bbox[1])
		if xs == 0 || ys == 0 {
			return nil, pngFail("APNG frame of %dx%d", xs, ys)
		}
	}
	bits := int(s.bits) * pngChannels[s.color]
	// load: the image data as ImageFile.load reads it, then load_end.
	// A default image (image data before any frame control) is one more
	// frame: is_animated decides where load_end stops.
	frames := max(s.nFrames, 1)
	if s.nFrames >= 0 && s.bbox == nil {
		frames++
	}
	segs, endPos, fdats, stop := s.imageData(idatPos, idatLen)
	raw, err := rawSize(xs, ys, bits, s.interlace)
	if err != nil {
		return nil, err
	}
	out := make([]byte, raw)
	res, _, seg, msg := pngRows(b, segs, xs, ys, bits, s.interlace, out)
	switch res {
	case pngInflateBroken, pngInflateConfig:
		return nil, pngFail("broken data stream (%s)", msg)
	case pngInflateFilter:
		return nil, pngFail("%s", msg)
	case pngInflateMore:
		if stop != nil {
			return nil, stop
		}
		return nil, pngFail("image file is truncated")
	}
	// exif_transpose reads the EXIF Pillow has before loading when there
	// is some; only without it does it load, and see later chunks too.
	pre := *s
	for _, f := range fdats {
		if int(f[0]) <= seg {
			s.seqNum = f[1]
		}
	}
	// load_end, from the end of the chunk the image was finished in.
	s.pos = endPos[seg]
	if err := s.loadEnd(frames > 1); err != nil {
		return nil, err
	}
	src := s
	if pre.exifSet {
		src = &pre
	}
	img := &pngImage{w: int(s.w), h: int(s.h), orientation: src.orientation()}
	if framed {
		// Pillow's Adam7 unpacking ignores the tile's offset: an
		// interlaced frame lands at the top left corner.
		x0, y0 := int64(s.bbox[0]), int64(s.bbox[1])
		if s.interlace {
			x0, y0 = 0, 0
		}
		out = pngCanvas(out, xs, ys, bits, s.interlace, x0, y0, int64(s.w), int64(s.h))
		s.interlace = false
	}
	img.norm = s.normalized(out)
	return img, nil
}

// orientation is what Image.getexif finds in the chunks read so far.
func (s *pngState) orientation() int {
	o := orientationSource{hasEXIF: s.exifSet, exif: s.exif, bad: s.exifBad, xmp: s.xmp}
	if !s.exifSet && s.rawSet {
		raw, err := rawProfileEXIF(s.rawEXIF)
		if err != nil {
			return 1 // ValueError from bytes.fromhex
		}
		o.hasEXIF, o.exif = true, raw
	}
	return o.orientation()
}

// imageData lists the reads PngImageFile.load_read makes, in 65536-byte
// blocks from the image data chunks that follow each other, with the file
// offset where each block's chunk ends (load_end starts there), and what
// stops the reads: nil when a chunk that is not image data comes next,
// else the error Pillow raises.
//
// fdats lists the frame data chunks met, as the index of the first read
// that needs them and their sequence number.
func (s *pngState) imageData(pos int, length uint32) (segs [][2]int, chunkEnd []int, fdats [][2]int64, stop error) {
	s.pos = pos
	left := int64(length)
	seq := s.seqNum
	for {
		for left == 0 {
			s.skip(4) // CRC
			cid, n, err := s.header()
			if err == errShortHeader {
				return segs, chunkEnd, fdats, pngFail("image file is truncated")
			}
			if err != nil {
				return segs, chunkEnd, fdats, err
			}
			if cid != "IDAT" && cid != "DDAT" && cid != "fdAT" {
				return segs, chunkEnd, fdats, nil
			}
			if cid == "fdAT" {
				// chunk_fdAT's checks, on a copy of the sequence number:
				// Pillow only gets here if the image needs this chunk.
				if n < 4 {
					return segs, chunkEnd, fdats, pngFail("APNG contains truncated fDAT chunk")
				}
				d, err := s.read(4, cid)
				if err != nil {
					return segs, chunkEnd, fdats, err
				}
				q := int64(binary.BigEndian.Uint32(d))
				if seq != q-1 || seq < 0 {
					return segs, chunkEnd, fdats, pngFail("APNG contains frame sequence errors")
				}
				seq = q
				fdats = append(fdats, [2]int64{int64(len(segs)), q})
				left = int64(n) - 4
			} else {
				left = int64(n)
			}
		}
		take := min(left, pngReadBlock)
		left -= take
		got := min(int64(len(s.b)-s.pos), take)
		if got <= 0 {
			return segs, chunkEnd, fdats, pngFail("image file is truncated")
		}
		segs = append(segs, [2]int{s.pos, int(got)})
		s.pos += int(got)
		// load_end skips what is left of this chunk.
		chunkEnd = append(chunkEnd, min(len(s.b), s.pos+int(left)))
	}
}

// loadEnd is PngImageFile.load_end: the chunks after the image, no
// checksums, until IEND or anything unreadable as a chunk header.
func (s *pngState) loadEnd(animated bool) error {
	for {
		s.skip(4) // CRC
		cid, length, err := s.header()
		if err != nil {
			return nil // struct.error or SyntaxError: the end
		}
		if cid == "IEND" || (cid == "fcTL" && animated) {
			return nil
		}
		_, eof, err := s.call(cid, length)
		if err != nil {
			return err
		}
		if eof {
			n := length
			if cid == "fdAT" {
				n = length - 4
			}
			if _, err := s.read(n, cid); err != nil {
				return err
			}
		}
	}
}

// rawSize is the size of the filtered rows of an image.
func rawSize(w, h int64, bits int, interlaced bool) (int64, error) {
	var n int64
	if !interlaced {
		n = h * ((w*int64(bits)+7)/8 + 1)
	} else {
		off := []int64{7, 3, 3, 1, 1, 0, 0}
		col := []int64{8, 8, 4, 4, 2, 2, 1}
		row0 := []int64{0, 0, 4, 0, 2, 0, 1}
		rowInc := []int64{8, 8, 8, 4, 4, 2, 2}
		for p := 0; p < 7; p++ {
			rl := ((w+off[p])/col[p]*int64(bits) + 7) / 8
			if rl <= 0 || row0[p] >= h {
				continue
			}
			rows := (h - row0[p] + rowInc[p] - 1) / rowInc[p]
			n += rows * (rl + 1)
		}
	}
	if n > pngMaxRawBytes {
		return 0, pngFail("image data of %d bytes is too large", n)
	}
	return n, nil
}

// normalized writes a PNG that Go's decoder reads to the pixels Pillow
// has: the last IHDR's size with the last known bit depth and colour type,
// the palette and transparency as Pillow kept them (trimmed to what Go
// accepts), and the rows as one stored zlib stream.
func (s *pngState) normalized(raw []byte) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(cid string, data []byte) {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(data)))
		out.Write(l[:])
		out.WriteString(cid)
		out.Write(data)
		h := crc32.NewIEEE()
		h.Write([]byte(cid))
		h.Write(data)
		binary.BigEndian.PutUint32(l[:], h.Sum32())
		out.Write(l[:])
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, s.w)
	binary.BigEndian.PutUint32(ihdr[4:], s.h)
	ihdr[8], ihdr[9] = s.bits, s.color
	if s.interlace {
		ihdr[12] = 1
	}
	chunk("IHDR", ihdr)
	if s.color == 3 {
		// Pillow's palette: the PLTE's whole entries, then its initial
		// grey ramp (i, i, i) for every index past them.
		n := 1 << s.bits
		pal := make([]byte, 0, 3*n)
		pal = append(pal, s.palette[:min(len(s.palette)/3, n)*3]...)
		for i := len(pal) / 3; i < n; i++ {
			pal = append(pal, byte(i), byte(i), byte(i))
		}
		chunk("PLTE", pal)
		if s.trnsMode == "P" && len(s.trns) > 0 {
			chunk("tRNS", s.trns[:min(len(s.trns), n)])
		}
	} else if t := s.goTransparency(); t != nil {
		chunk("tRNS", t)
	}
	chunk("IDAT", storedZlib(raw))
	chunk("IEND", nil)
	return out.Bytes()
}

// storedZlib wraps data in a zlib stream of stored (uncompressed) blocks.
func storedZlib(data []byte) []byte {
	sum := adler32.Checksum(data)
	out := make([]byte, 0, len(data)+len(data)/65535*5+11)
	out = append(out, 0x78, 0x01)
	for first := true; first || len(data) > 0; first = false {
		n := min(len(data), 65535)
		final := byte(0)
		if n == len(data) {
			final = 1
		}
		out = append(out, final, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
		out = append(out, data[:n]...)
		data = data[n:]
	}
	return binary.BigEndian.AppendUint32(out, sum)
}

// goTransparency is the tRNS chunk that makes Go's decoder mark the pixels
// Pillow's convert("RGBA") makes transparent, or nil. Pillow compares its
// own 8-bit pixel values with the low byte of the chunk's numbers (1, 2
// and 4-bit grey scaled to 0-255), 16-bit grey with the whole number; Go
// compares raw samples, the low byte for 8-bit images.
func (s *pngState) goTransparency() []byte {
	if s.trns == nil || s.trnsMode != pngModes[[2]byte{s.bits, s.color}] {
		return nil
	}
	switch s.color {
	case 0:
		if s.bits >= 8 {
			return s.trns[:2]
		}
		scale := 255 / (1<<s.bits - 1)
		for v := 0; v < 1<<s.bits; v++ {
			if v*scale == int(s.trns[1]) {
				return []byte{0, byte(v)}
			}
		}
	case 2:
		if s.bits == 8 {
			return s.trns[:6]
		}
		// 16-bit colour: Pillow matches the pixels' high bytes, which a
		// tRNS chunk cannot say; the rare file that has one stays opaque.
	}
	return nil
}

// pngCanvas unfilters the rows of a w x h frame (bits per pixel,
// interlaced or not) and places it at (x0, y0) on a zero W x H canvas,
// returned as filtered rows of filter type 0, not interlaced.
func pngCanvas(raw []byte, w, h int64, bits int, interlaced bool, x0, y0, W, H int64) []byte {
	stride := (W*int64(bits) + 7) / 8
	canvas := make([]byte, H*(stride+1))
	put := func(x, y int64, row []byte, i int64) {
		pngCopyPixel(canvas[(y0+y)*(stride+1)+1:], x0+x, row, i, bits)
	}
	type pass struct{ x0, y0, dx, dy int64 }
	passes := []pass{{0, 0, 1, 1}}
	if interlaced {
		passes = []pass{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
	}
	bpp := int64(max(1, bits/8))
	for _, p := range passes {
		pw, ph := (w-p.x0+p.dx-1)/p.dx, (h-p.y0+p.dy-1)/p.dy
		rl := (pw*int64(bits) + 7) / 8
		if pw <= 0 || ph <= 0 || rl <= 0 {
			continue
		}
		prev := make([]byte, rl)
		for j := int64(0); j < ph; j++ {
			ft, row := raw[0], raw[1:1+rl]
			raw = raw[1+rl:]
			pngUnfilter(ft, row, prev, bpp)
			for i := int64(0); i < pw; i++ {
				put(p.x0+i*p.dx, p.y0+j*p.dy, row, i)
			}
			prev = row
		}
	}
	return canvas
}

// pngUnfilter undoes one PNG row filter in place (prev: the row above,
// already unfiltered, zeros for the first).
func pngUnfilter(ft byte, row, prev []byte, bpp int64) {
	for i := range row {
		var a, c byte
		if int64(i) >= bpp {
			a, c = row[int64(i)-bpp], prev[int64(i)-bpp]
		}
		b := prev[i]
		switch ft {
		case 1:
			row[i] += a
		case 2:
			row[i] += b
		case 3:
			row[i] += byte((int(a) + int(b)) / 2)
		case 4:
			p := int(a) + int(b) - int(c)
			pa, pb, pc := pngAbs(p-int(a)), pngAbs(p-int(b)), pngAbs(p-int(c))
			switch {
			case pa <= pb && pa <= pc:
				row[i] += a
			case pb <= pc:
				row[i] += b
			default:
				row[i] += c
			}
		}
	}
}

func pngAbs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// pngCopyPixel copies pixel si of src to pixel di of dst, bits per pixel.
func pngCopyPixel(dst []byte, di int64, src []byte, si int64, bits int) {
	if bits >= 8 {
		n := int64(bits / 8)
		copy(dst[di*n:di*n+n], src[si*n:si*n+n])
		return
	}
	b := int64(bits)
	mask := byte(1<<bits - 1)
	v := src[si*b/8] >> (8 - b - si*b%8) & mask
	sh := 8 - b - di*b%8
	dst[di*b/8] = dst[di*b/8]&^(mask<<sh) | v<<sh
}
