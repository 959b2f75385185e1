// Package jpegtest writes JPEG files that Go's encoder cannot (CMYK,
// 4:4:4), through libjpeg-turbo, for decoder tests.
package jpegtest

/*
#cgo LDFLAGS: -lturbojpeg
#include <stdlib.h>
#include <turbojpeg.h>
*/
import "C"

import (
	"errors"
	"unsafe"
)

// Pixel formats of Encode.
const (
	RGB  = C.TJPF_RGB
	Gray = C.TJPF_GRAY
	CMYK = C.TJPF_CMYK
)

// Encode compresses w x h pixels (3, 1 or 4 bytes each for RGB, Gray,
// CMYK) at the given quality with 4:2:0 chroma subsampling (4:4:4 for CMYK
// and gray).
func Encode(pix []byte, w, h int, format int, quality int) ([]byte, error) {
	tj := C.tjInitCompress()
	if tj == nil {
		return nil, errors.New("tjInitCompress failed")
	}
	defer C.tjDestroy(tj)
	sub := C.int(C.TJSAMP_420)
	if format == Gray {
		sub = C.TJSAMP_GRAY
	} else if format == CMYK {
		sub = C.TJSAMP_444
	}
	var buf *C.uchar
	var size C.ulong
	r := C.tjCompress2(tj, (*C.uchar)(unsafe.Pointer(&pix[0])), C.int(w), 0, C.int(h), C.int(format), &buf, &size, sub, C.int(quality), 0)
	if r != 0 {
		return nil, errors.New(C.GoString(C.tjGetErrorStr2(tj)))
	}
	defer C.tjFree(buf)
	return C.GoBytes(unsafe.Pointer(buf), C.int(size)), nil
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
