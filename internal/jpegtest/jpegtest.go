package jpegtest

/*
#cgo LDFLAGS: -ljpeg
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>

typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	char msg[JMSG_LENGTH_MAX];
} jt_error;

static void jt_error_exit(j_common_ptr c) {
	jt_error *e = (jt_error *)c->err;
	(*c->err->format_message)(c, e->msg);
	longjmp(e->jb, 1);
}

typedef struct {
	int quality, h0, v0, progressive, restart_mcus, restart_rows, arithmetic, optimize, ycck;
} jt_opts;

// jt_encode compresses pix (w*h*comps bytes; comps 1, 3 or 4) into a
// malloc'ed buffer (*out, *outlen); it returns 0, or 1 with msg set.
static int jt_encode(const unsigned char *pix, int w, int h, int comps, jt_opts o,
		unsigned char **out, unsigned long *outlen, char *msg) {
	struct jpeg_compress_struct c;
	jt_error err;
	memset(&c, 0, sizeof c);
	c.err = jpeg_std_error(&err.pub);
	err.pub.error_exit = jt_error_exit;
	if (setjmp(err.jb)) {
		strcpy(msg, err.msg);
		jpeg_destroy_compress(&c);
		return 1;
	}
	jpeg_create_compress(&c);
	*out = NULL;
	*outlen = 0;
	jpeg_mem_dest(&c, out, outlen);
	c.image_width = w;
	c.image_height = h;
	c.input_components = comps;
	c.in_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 3 ? JCS_RGB : JCS_CMYK;
	jpeg_set_defaults(&c);
	if (comps == 4 && o.ycck) jpeg_set_colorspace(&c, JCS_YCCK);
	jpeg_set_quality(&c, o.quality, TRUE);
	if (comps >= 3) {
		c.comp_info[0].h_samp_factor = o.h0;
		c.comp_info[0].v_samp_factor = o.v0;
		for (int i = 1; i < c.num_components; i++) {
			c.comp_info[i].h_samp_factor = 1;
			c.comp_info[i].v_samp_factor = 1;
		}
		if (comps == 4) {
			c.comp_info[3].h_samp_factor = o.h0;
			c.comp_info[3].v_samp_factor = o.v0;
		}
	}
	if (o.progressive) jpeg_simple_progression(&c);
	c.restart_interval = o.restart_mcus;
	c.restart_in_rows = o.restart_rows;
	c.arith_code = o.arithmetic;
	c.optimize_coding = o.optimize;
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		JSAMPROW row = (JSAMPROW)(pix + (size_t)c.next_scanline * w * comps);
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	return 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Pixel formats of Encode: the bytes per pixel.
const (
	Gray = 1
	RGB  = 3
	CMYK = 4
)

// Options shape the encoded file. The zero value is baseline, quality 90,
// 4:2:0 chroma subsampling for RGB.
type Options struct {
	Quality     int
	Subsampling string // "420" (default), "422", "440", "444"; RGB and CMYK
	Progressive bool
	// RestartMCUs or RestartRows set a restart interval (RSTn markers).
	RestartMCUs, RestartRows int
	Arithmetic               bool // arithmetic instead of Huffman coding
	Optimize                 bool // optimized Huffman tables
	YCCK                     bool // CMYK stored as YCCK (Adobe transform 2)
}

// EncodeWith compresses w x h pixels of the given format.
func EncodeWith(pix []byte, w, h, format int, o Options) ([]byte, error) {
	if len(pix) < w*h*format || w <= 0 || h <= 0 {
		return nil, errors.New("jpegtest: pixel buffer too small")
	}
	q := o.Quality
	if q == 0 {
		q = 90
	}
	h0, v0 := 2, 2
	switch o.Subsampling {
	case "", "420":
	case "422":
		v0 = 1
	case "440":
		h0 = 1
	case "444":
		h0, v0 = 1, 1
	default:
		return nil, fmt.Errorf("jpegtest: subsampling %q", o.Subsampling)
	}
	co := C.jt_opts{quality: C.int(q), h0: C.int(h0), v0: C.int(v0), progressive: cbool(o.Progressive),
		restart_mcus: C.int(o.RestartMCUs), restart_rows: C.int(o.RestartRows), arithmetic: cbool(o.Arithmetic),
		optimize: cbool(o.Optimize), ycck: cbool(o.YCCK)}
	var out *C.uchar
	var n C.ulong
	var msg [C.JMSG_LENGTH_MAX]C.char
	if C.jt_encode((*C.uchar)(unsafe.Pointer(&pix[0])), C.int(w), C.int(h), C.int(format), co, &out, &n, &msg[0]) != 0 {
		return nil, errors.New("jpegtest: " + C.GoString(&msg[0]))
	}
	defer C.free(unsafe.Pointer(out))
	return C.GoBytes(unsafe.Pointer(out), C.int(n)), nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Encode compresses w x h pixels at the given quality with 4:2:0 chroma
// subsampling for RGB, as one component for Gray, and as YCCK 4:4:4 for
// CMYK (what Photoshop writes).
func Encode(pix []byte, w, h int, format int, quality int) ([]byte, error) {
	o := Options{Quality: quality}
	if format == CMYK {
		o.Subsampling, o.YCCK = "444", true
	}
	return EncodeWith(pix, w, h, format, o)
}

// WithOrientation inserts an EXIF APP1 segment holding orientation o right
// after the SOI marker of a JPEG.
func WithOrientation(jpeg []byte, o int) []byte {
	tiff := []byte{'M', 'M', 0, 42, 0, 0, 0, 8, // big-endian header, IFD0 at 8
		0, 1, // one entry
		0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(o), 0, 0, // orientation, SHORT, count 1
		0, 0, 0, 0} // no next IFD
	seg := append([]byte("Exif\x00\x00"), tiff...)
	n := len(seg) + 2
	app1 := append([]byte{0xFF, 0xE1, byte(n >> 8), byte(n)}, seg...)
	out := append([]byte{}, jpeg[:2]...)
	out = append(out, app1...)
	return append(out, jpeg[2:]...)
}
