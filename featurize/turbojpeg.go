package featurize

/*
#cgo LDFLAGS: -lturbojpeg
#include <stdlib.h>
#include <turbojpeg.h>

static int fz_scaling_count(void) {
	int n = 0;
	tjGetScalingFactors(&n);
	return n;
}
static tjscalingfactor fz_scaling(int i) {
	int n = 0;
	tjscalingfactor *f = tjGetScalingFactors(&n);
	return f[i];
}
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"
)

// turbo is a libjpeg-turbo decompressor handle; not safe for concurrent use.
type turbo struct {
	h C.tjhandle
}

func newTurbo() (*turbo, error) {
	h := C.tjInitDecompress()
	if h == nil {
		return nil, errors.New("libjpeg-turbo: cannot create a decompressor")
	}
	return &turbo{h: h}, nil
}

func (t *turbo) close() {
	if t.h != nil {
		C.tjDestroy(t.h)
		t.h = nil
	}
}

type jpegHeader struct {
	w, h       int
	subsamp    int
	colorspace int // TJCS_*
}

const (
	tjcsCMYK = 3 // TJCS_CMYK
	tjcsYCCK = 4 // TJCS_YCCK
)

func (t *turbo) errorString() string {
	return strings.TrimSpace(C.GoString(C.tjGetErrorStr2(t.h)))
}

func (t *turbo) header(data []byte) (jpegHeader, error) {
	var w, h, ss, cs C.int
	if len(data) == 0 {
		return jpegHeader{}, errors.New("empty file")
	}
	if C.tjDecompressHeader3(t.h, (*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), &w, &h, &ss, &cs) != 0 {
		return jpegHeader{}, fmt.Errorf("JPEG header: %s", t.errorString())
	}
	return jpegHeader{w: int(w), h: int(h), subsamp: int(ss), colorspace: int(cs)}, nil
}

// scaledSize returns the smallest DCT-scaled size (num/denom of 8ths, at
// most 1) whose sides are both at least minW and minH.
func scaledSize(w, h, minW, minH int) (int, int) {
	bw, bh := w, h
	n := int(C.fz_scaling_count())
	for i := 0; i < n; i++ {
		f := C.fz_scaling(C.int(i))
		num, den := int(f.num), int(f.denom)
		if num > den {
			continue
		}
		sw, sh := (w*num+den-1)/den, (h*num+den-1)/den
		if sw >= minW && sh >= minH && sw*sh < bw*bh {
			bw, bh = sw, sh
		}
	}
	return bw, bh
}

// decode decompresses into dst (w*h*channels bytes) at the given size,
// which must be the header size or a size from scaledSize. cmyk selects
// 4-channel CMYK output, else packed RGB.
func (t *turbo) decode(data []byte, w, h int, cmyk bool, dst []byte) error {
	pf := C.int(C.TJPF_RGB)
	if cmyk {
		pf = C.TJPF_CMYK
	}
	// Accurate integer IDCT and fancy upsampling: what Pillow gets from
	// libjpeg's defaults.
	flags := C.int(C.TJFLAG_ACCURATEDCT)
	r := C.tjDecompress2(t.h, (*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)),
		(*C.uchar)(unsafe.Pointer(&dst[0])), C.int(w), 0, C.int(h), pf, flags)
	if r == 0 {
		return nil
	}
	msg := t.errorString()
	if C.tjGetErrorCode(t.h) == C.TJERR_WARNING {
		// libjpeg warns and fills the rest with grey when data ends early;
		// Pillow refuses such files ("image file is truncated"), so do we.
		// Other warnings (extraneous bytes before a marker) are harmless.
		if strings.Contains(msg, "Premature end") {
			return fmt.Errorf("truncated JPEG (%s)", msg)
		}
		return nil
	}
	return errors.New(msg)
}
