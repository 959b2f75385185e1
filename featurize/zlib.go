package featurize

/*
#cgo LDFLAGS: -lz
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

// Pillow inflates a PNG's image data one row at a time (an output buffer
// of one row and its filter byte), from the blocks ImageFile.load reads.
// zlib looks ahead past the last row within the same call (an end of
// block, the checksum when its bytes are already there), so which damaged
// streams Pillow accepts depends on exactly that calling pattern. This is
// the same pattern, with the same zlib; it copies the filtered rows out for
// Go's PNG decoder to unfilter.

enum { FZ_Z_DONE = 0, FZ_Z_MORE = 1, FZ_Z_BROKEN = 2, FZ_Z_FILTER = 3, FZ_Z_CONFIG = 4 };

static const int fz_off[] = {7, 3, 3, 1, 1, 0, 0};
static const int fz_col[] = {8, 8, 4, 4, 2, 2, 1};
static const int fz_row0[] = {0, 0, 4, 0, 2, 0, 1};
static const int fz_rowinc[] = {8, 8, 8, 4, 4, 2, 2};

static long fz_rowlen(long xsize, int bits, int pass) {
	long n = (xsize + fz_off[pass]) / fz_col[pass];
	return (n * bits + 7) / 8;
}

// fz_png_inflate feeds the segments (offsets into data) one after another.
// Rows (filter byte + row) are appended to out (room for every row of the
// image); *rows counts them, *seg is the segment the image was finished
// in. It returns FZ_Z_DONE (the last row, or the end of the zlib stream
// at a row's end), FZ_Z_MORE (the segments ran out first), FZ_Z_BROKEN (a
// zlib error; msg set), FZ_Z_FILTER (an unknown filter type).
static int fz_png_inflate(const unsigned char *data, const long *segs, int nsegs,
		long xsize, long ysize, int bits, int interlaced,
		unsigned char *out, long *rows, int *seg, char *msg, int msglen) {
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit(&z) != Z_OK) { snprintf(msg, msglen, "zlib: cannot start"); return FZ_Z_CONFIG; }
	long full = (xsize * bits + 7) / 8;
	int pass = 0;
	long y = 0, rowlen = interlaced ? fz_rowlen(xsize, bits, 0) : full;
	long last = 0;
	unsigned char *row = out;
	*rows = 0;
	for (int s = 0; s < nsegs; s++) {
		*seg = s;
		z.next_in = (unsigned char *)data + segs[2*s];
		z.avail_in = (uInt)segs[2*s+1];
		while (z.avail_in > 0) {
			z.next_out = row + last;
			z.avail_out = (uInt)(rowlen + 1 - last);
			int err = inflate(&z, Z_NO_FLUSH);
			if (err < 0) {
				snprintf(msg, msglen, "zlib: %s", z.msg ? z.msg : "error");
				inflateEnd(&z);
				return err == Z_DATA_ERROR ? FZ_Z_BROKEN : FZ_Z_CONFIG;
			}
			long n = rowlen + 1 - (long)z.avail_out;
			if (n < rowlen + 1) { last = n; break; } // needs more input
			if (row[0] > 4) {
				snprintf(msg, msglen, "unknown PNG filter type %d", row[0]);
				inflateEnd(&z);
				return FZ_Z_FILTER;
			}
			row += rowlen + 1;
			(*rows)++;
			if (interlaced) {
				y += fz_rowinc[pass];
				while (y >= ysize || rowlen <= 0) {
					pass++;
					if (pass == 7) { y = ysize; break; }
					y = fz_row0[pass];
					rowlen = fz_rowlen(xsize, bits, pass);
				}
			} else {
				y++;
			}
			last = 0;
			if (y >= ysize || err == Z_STREAM_END) {
				inflateEnd(&z);
				return FZ_Z_DONE;
			}
		}
	}
	inflateEnd(&z);
	return FZ_Z_MORE;
}

// fz_zlib_text is Python's zlib.decompressobj().decompress(s, limit): it
// returns 0 (*outlen bytes would come out, *tail set when input is left
// over at the limit) or -1 for a zlib error.
// With out non-NULL (room for limit bytes) the text is written there.
static int fz_zlib_text(const unsigned char *s, long n, long limit, long *outlen, int *tail, unsigned char *out) {
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit(&z) != Z_OK) return -1;
	unsigned char buf[16384];
	z.next_in = (unsigned char *)s;
	z.avail_in = (uInt)n;
	long got = 0;
	int err = Z_OK;
	*tail = 0;
	while (z.avail_in > 0 && got < limit) {
		long room = limit - got < (long)sizeof buf ? limit - got : (long)sizeof buf;
		z.next_out = out ? out + got : buf;
		z.avail_out = (uInt)room;
		err = inflate(&z, Z_SYNC_FLUSH);
		got += room - (long)z.avail_out;
		if (err == Z_STREAM_END) break;
		if (err != Z_OK && err != Z_BUF_ERROR) { inflateEnd(&z); return -1; }
		if (err == Z_BUF_ERROR && z.avail_out > 0) break; // no progress possible
	}
	*outlen = got;
	*tail = err != Z_STREAM_END && got >= limit && z.avail_in > 0;
	inflateEnd(&z);
	return 0;
}
*/
import "C"

import (
	"unsafe"
)

type pngInflate int

const (
	pngInflateDone   pngInflate = C.FZ_Z_DONE
	pngInflateMore   pngInflate = C.FZ_Z_MORE
	pngInflateBroken pngInflate = C.FZ_Z_BROKEN
	pngInflateFilter pngInflate = C.FZ_Z_FILTER
	pngInflateConfig pngInflate = C.FZ_Z_CONFIG
)

// pngRows inflates the image data, given as segments of data in the order
// Pillow reads them, into out (filtered rows). It returns the outcome, the
// rows produced, the segment the image was finished in, and a message.
func pngRows(data []byte, segs [][2]int, xsize, ysize int64, bits int, interlaced bool, out []byte) (pngInflate, int64, int, string) {
	flat := make([]C.long, 0, 2*len(segs))
	for _, s := range segs {
		flat = append(flat, C.long(s[0]), C.long(s[1]))
	}
	var rows C.long
	var seg C.int
	var msg [256]C.char
	il := C.int(0)
	if interlaced {
		il = 1
	}
	var dp *C.uchar
	if len(data) > 0 {
		dp = (*C.uchar)(unsafe.Pointer(&data[0]))
	}
	var sp *C.long
	if len(flat) > 0 {
		sp = &flat[0]
	}
	r := C.fz_png_inflate(dp, sp, C.int(len(segs)), C.long(xsize), C.long(ysize), C.int(bits), il,
		(*C.uchar)(unsafe.Pointer(&out[0])), &rows, &seg, &msg[0], C.int(len(msg)))
	return pngInflate(r), int64(rows), int(seg), C.GoString(&msg[0])
}

// zlibText is Python's zlib.decompressobj().decompress(s, limit): the size
// that comes out, whether input was left over at the limit, or ok false
// for a zlib error.
func zlibText(s []byte, limit int) (n int, tail bool, ok bool) {
	if len(s) == 0 {
		return 0, false, true
	}
	var outlen C.long
	var t C.int
	if C.fz_zlib_text((*C.uchar)(unsafe.Pointer(&s[0])), C.long(len(s)), C.long(limit), &outlen, &t, nil) != 0 {
		return 0, false, false
	}
	return int(outlen), t != 0, true
}

// zlibTextData is zlibText that also returns the text (up to limit bytes):
// a first pass sizes it, a second writes it.
func zlibTextData(s []byte, limit int) (text []byte, tail bool, ok bool) {
	n, tail, ok := zlibText(s, limit)
	if !ok || n == 0 {
		return nil, tail, ok
	}
	text = make([]byte, n)
	var outlen C.long
	var t C.int
	if C.fz_zlib_text((*C.uchar)(unsafe.Pointer(&s[0])), C.long(len(s)), C.long(n), &outlen, &t,
		(*C.uchar)(unsafe.Pointer(&text[0]))) != 0 {
		return nil, false, false
	}
	return text[:outlen], tail, ok
}
