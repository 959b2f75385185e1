package featurize

/*
#cgo LDFLAGS: -ljpeg
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>

// The decode below is Pillow's (libImaging/JpegDecode.c driven by
// ImageFile.load), step for step, so that a file is accepted, refused and
// decoded exactly as Pillow does it:
//  - a suspending source: when the data runs out, libjpeg stops and waits
//    for more instead of inventing an EOI marker (as jpeg_mem_src and
//    TurboJPEG do, with a mere warning);
//  - the data is handed over in Pillow's 64 KiB reads, the unconsumed rest
//    carried over, because libjpeg-turbo's Huffman decoder takes a fast
//    path or a slow one by the bytes in its buffer, and the two read
//    corrupt data differently;
//  - warnings are ignored; a fatal error is "broken"; data that ends before
//    the decoder is done is "truncated".
// Everything, the verdict and its message included, happens inside one C
// call with state on this call's stack: libjpeg's message buffers are never
// read back from thread-local storage after the goroutine may have moved to
// another thread.

enum { FZ_OK = 0, FZ_TRUNCATED = 1, FZ_BROKEN = 2, FZ_SIZE = 3 };
enum { FZ_L = 1, FZ_RGB = 3, FZ_CMYK = 4 };

#define FZ_MAXBLOCK 65536 // ImageFile.MAXBLOCK, JPEG's decodermaxblock

typedef struct {
	struct jpeg_source_mgr pub;
	long skip;
} fz_source;

typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	char *msg;
} fz_error;

static void fz_stub(j_decompress_ptr c) {}
static boolean fz_fill(j_decompress_ptr c) { return FALSE; } // suspend
static void fz_skip(j_decompress_ptr c, long n) {
	fz_source *s = (fz_source *)c->src;
	if (n > (long)s->pub.bytes_in_buffer) {
		s->skip = n - (long)s->pub.bytes_in_buffer;
		s->pub.next_input_byte += s->pub.bytes_in_buffer;
		s->pub.bytes_in_buffer = 0;
	} else {
		s->pub.bytes_in_buffer -= n;
		s->pub.next_input_byte += n;
		s->skip = 0;
	}
}
static void fz_error_exit(j_common_ptr c) {
	fz_error *e = (fz_error *)c->err;
	(*c->err->format_message)(c, e->msg);
	longjmp(e->jb, 1);
}
static void fz_output(j_common_ptr c) {} // warnings: ignored, as Pillow does

typedef struct {
	struct jpeg_decompress_struct cinfo;
	fz_source src;
	int state, y;
	int mode, w, h, scale_num, scale_denom;
	unsigned char *dst;
} fz_ctx;

// fz_step is ImagingJpegDecode: it consumes what it can of buf and returns
// the bytes consumed, or -1 when the image is complete. Fatal errors
// longjmp out of it.
static long fz_step(fz_ctx *x, const unsigned char *buf, long bytes) {
	j_decompress_ptr c = &x->cinfo;
	x->src.pub.next_input_byte = buf;
	x->src.pub.bytes_in_buffer = bytes;
	if (x->src.skip > 0) {
		fz_skip(c, x->src.skip);
		if (x->src.skip > 0) return (long)(x->src.pub.next_input_byte - buf);
	}
	int ok;
	switch (x->state) {
	case 1:
		do {
			ok = jpeg_read_header(c, FALSE);
		} while (ok == JPEG_HEADER_TABLES_ONLY);
		if (ok == JPEG_SUSPENDED) break;
		switch (x->mode) {
		case FZ_L: c->out_color_space = JCS_GRAYSCALE; break;
		// Pillow asks for RGBX; RGB is the same conversion, packed.
		case FZ_RGB: c->out_color_space = JCS_EXT_RGB; break;
		default: c->out_color_space = JCS_CMYK;
		}
		if (x->scale_denom > 0) {
			c->scale_num = x->scale_num;
			c->scale_denom = x->scale_denom;
		}
		x->state++;
		// fall through
	case 2:
		if (!jpeg_start_decompress(c)) break;
		if ((int)c->output_width != x->w || (int)c->output_height != x->h) return -2;
		x->state++;
		// fall through
	case 3:
		ok = 1;
		while (x->y < x->h) {
			// Straight into the output row; a grey row is spread to RGB in
			// place, from its end.
			JSAMPROW row = x->dst + (size_t)x->y * x->w * (x->mode == FZ_CMYK ? 4 : 3);
			ok = jpeg_read_scanlines(c, &row, 1);
			if (ok != 1) break;
			if (x->mode == FZ_L) {
				for (int i = x->w - 1; i >= 0; i--) row[3*i] = row[3*i+1] = row[3*i+2] = row[i];
			}
			x->y++;
		}
		if (ok != 1) break;
		x->state++;
		// fall through
	case 4:
		if (!jpeg_finish_decompress(c)) {
			if (x->y < x->h) break;
		}
		return -1;
	}
	return (long)(x->src.pub.next_input_byte - buf);
}

// fz_decode decodes data into dst (w*h*3 bytes of RGB, or w*h*4 of CMYK
// for mode FZ_CMYK), w x h being the output size. msg (JMSG_LENGTH_MAX
// bytes) receives the reason of a failure.
static int fz_decode(const unsigned char *data, size_t len, int mode, int w, int h,
		int scale_num, int scale_denom, unsigned char *dst, char *msg) {
	fz_ctx x;
	fz_error err;
	memset(&x, 0, sizeof x);
	memset(&err, 0, sizeof err);
	msg[0] = 0;
	x.mode = mode; x.w = w; x.h = h; x.scale_num = scale_num; x.scale_denom = scale_denom;
	x.dst = dst;
	x.cinfo.err = jpeg_std_error(&err.pub);
	err.pub.error_exit = fz_error_exit;
	err.pub.output_message = fz_output;
	err.msg = msg;
	// Locals written after setjmp and read after the longjmp are volatile.
	volatile int status = FZ_OK;
	if (setjmp(err.jb)) {
		jpeg_destroy_decompress(&x.cinfo);
		return FZ_BROKEN;
	}
	jpeg_create_decompress(&x.cinfo);
	x.cinfo.src = &x.src.pub;
	x.src.pub.init_source = fz_stub;
	x.src.pub.fill_input_buffer = fz_fill;
	x.src.pub.skip_input_data = fz_skip;
	x.src.pub.resync_to_restart = jpeg_resync_to_restart;
	x.src.pub.term_source = fz_stub;
	x.state = 1;
	// ImageFile.load: read a block, append it to what the decoder left,
	// decode; data that ends before the decoder is done is a truncated file.
	size_t pos = 0, end = 0;
	for (;;) {
		if (end >= len) { status = FZ_TRUNCATED; break; }
		end = len - end > FZ_MAXBLOCK ? end + FZ_MAXBLOCK : len;
		long n = fz_step(&x, data + pos, (long)(end - pos));
		if (n == -2) {
			snprintf(msg, JMSG_LENGTH_MAX, "decoder output is %ux%u, header says %dx%d",
				x.cinfo.output_width, x.cinfo.output_height, w, h);
			status = FZ_SIZE;
			break;
		}
		if (n < 0) break;
		pos += (size_t)n;
	}
	jpeg_destroy_decompress(&x.cinfo);
	return status;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Modes of a JPEG as Pillow names them from the frame's component count.
const (
	jpegL    = C.FZ_L
	jpegRGB  = C.FZ_RGB
	jpegCMYK = C.FZ_CMYK
)

// jpegDecode decodes data into dst at w x h (the frame size, or a size
// from scaledSize with scaleNum/8). mode is the Pillow mode the frame
// declares (jpegL, jpegRGB, jpegCMYK): dst receives packed RGB for the
// first two, CMYK for the last.
func jpegDecode(data []byte, mode, w, h, scaleNum int, dst []byte) error {
	var msg [C.JMSG_LENGTH_MAX]C.char
	num, den := C.int(0), C.int(0)
	if scaleNum > 0 && scaleNum != 8 {
		num, den = C.int(scaleNum), 8
	}
	r := C.fz_decode((*C.uchar)(unsafe.Pointer(&data[0])), C.size_t(len(data)), C.int(mode), C.int(w), C.int(h),
		num, den, (*C.uchar)(unsafe.Pointer(&dst[0])), &msg[0])
	switch r {
	case C.FZ_OK:
		return nil
	case C.FZ_TRUNCATED:
		return errors.New("truncated JPEG: the data ends before the image does (Pillow: image file is truncated)")
	case C.FZ_SIZE:
		return fmt.Errorf("corrupt JPEG: %s", C.GoString(&msg[0]))
	}
	return fmt.Errorf("corrupt JPEG: %s (Pillow: broken data stream)", C.GoString(&msg[0]))
}

// scaledSize returns the smallest DCT-scaled size (n/8 of the full size,
// 1 <= n <= 8, rounded up as libjpeg does) whose sides are at least minW
// and minH, and its n.
func scaledSize(w, h, minW, minH int) (sw, sh, num int) {
	sw, sh, num = w, h, 8
	for n := 1; n < 8; n++ {
		cw, ch := (w*n+7)/8, (h*n+7)/8
		if cw >= minW && ch >= minH && cw*ch < sw*sh {
			sw, sh, num = cw, ch, n
		}
	}
	return sw, sh, num
}
