package featurize

/*
#cgo LDFLAGS: -lwebpdemux -lwebp
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>
#include <webp/demux.h>

// WebP is decoded as Pillow 9.4 (_webp.c, built with WebPAnimDecoder
// support) decodes every WebP, still or animated: WebPGetFeatures sniffs the
// mode (RGBA, or RGBX when it reports no alpha, or fails), then a
// WebPAnimDecoder with default options renders the first frame onto its
// RGBA canvas. Each call below keeps nothing: the caller's bytes are only
// read during the call, and every libwebp object is freed before it returns.

enum { FZW_OK = 0, FZW_NODEMUX = 1, FZW_NODECODER = 2, FZW_NOFRAME = 3, FZW_SIZE = 4 };

// fzw_probe reports the canvas the WebPAnimDecoder would allocate (it
// demuxes with WebPDemux, as here) and Pillow's mode sniff, before any
// pixel memory is allocated.
static int fzw_probe(const uint8_t *data, size_t size, int *w, int *h, int *alpha, int *status) {
	WebPBitstreamFeatures f;
	WebPData d;
	WebPDemuxer *dm;
	*status = WebPGetFeatures(data, size, &f);
	*alpha = !(*status == VP8_STATUS_OK && !f.has_alpha);
	d.bytes = data;
	d.size = size;
	dm = WebPDemux(&d);
	if (dm == NULL) {
		return FZW_NODEMUX;
	}
	*w = (int)WebPDemuxGetI(dm, WEBP_FF_CANVAS_WIDTH);
	*h = (int)WebPDemuxGetI(dm, WEBP_FF_CANVAS_HEIGHT);
	WebPDemuxDelete(dm);
	return FZW_OK;
}

// fzw_frame_status decodes the first frame alone to learn why the
// animation decoder failed on it (that decoder keeps the reason to itself).
static int fzw_frame_status(const uint8_t *data, size_t size) {
	WebPData d;
	WebPDemuxer *dm;
	WebPIterator it;
	WebPDecoderConfig config;
	int status = VP8_STATUS_BITSTREAM_ERROR;
	d.bytes = data;
	d.size = size;
	dm = WebPDemux(&d);
	if (dm == NULL) {
		return status;
	}
	if (WebPDemuxGetFrame(dm, 1, &it) && WebPInitDecoderConfig(&config)) {
		config.output.colorspace = MODE_RGBA;
		status = WebPDecode(it.fragment.bytes, it.fragment.size, &config);
		WebPFreeDecBuffer(&config.output);
		WebPDemuxReleaseIterator(&it);
	}
	WebPDemuxDelete(dm);
	return status;
}

// fzw_decode renders the first frame and copies the RGBA canvas (w x h) to
// dst.
static int fzw_decode(const uint8_t *data, size_t size, uint8_t *dst, int w, int h) {
	WebPData d;
	WebPAnimDecoder *dec;
	WebPAnimInfo info;
	uint8_t *buf;
	int ts;
	d.bytes = data;
	d.size = size;
	dec = WebPAnimDecoderNew(&d, NULL);
	if (dec == NULL) {
		return FZW_NODECODER;
	}
	if (!WebPAnimDecoderGetInfo(dec, &info)) {
		WebPAnimDecoderDelete(dec);
		return FZW_NODECODER;
	}
	if ((int)info.canvas_width != w || (int)info.canvas_height != h) {
		WebPAnimDecoderDelete(dec);
		return FZW_SIZE;
	}
	if (!WebPAnimDecoderGetNext(dec, &buf, &ts)) {
		WebPAnimDecoderDelete(dec);
		return FZW_NOFRAME;
	}
	memcpy(dst, buf, (size_t)w * 4 * (size_t)h);
	WebPAnimDecoderDelete(dec);
	return FZW_OK;
}
// fzw_exif finds the EXIF chunk as Pillow's get_chunk("EXIF") does, through
// the demuxer: only in a VP8X file whose EXIF flag is set, only inside the
// RIFF size, the first one. It copies up to cap bytes to dst and returns
// the chunk's size, or -1 when there is none.
static long fzw_exif(const uint8_t *data, size_t size, uint8_t *dst, size_t cap) {
	WebPData d;
	WebPDemuxer *dm;
	WebPChunkIterator it;
	long n = -1;
	d.bytes = data;
	d.size = size;
	dm = WebPDemux(&d);
	if (dm == NULL) {
		return -1;
	}
	if (WebPDemuxGetChunk(dm, "EXIF", 1, &it)) {
		n = (long)it.chunk.size;
		if (dst != NULL) {
			memcpy(dst, it.chunk.bytes, it.chunk.size < cap ? it.chunk.size : cap);
		}
		WebPDemuxReleaseChunkIterator(&it);
	}
	WebPDemuxDelete(dm);
	return n;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// vp8Status names libwebp's VP8StatusCode.
func vp8Status(s C.int) string {
	switch s {
	case C.VP8_STATUS_OK:
		return "ok"
	case C.VP8_STATUS_OUT_OF_MEMORY:
		return "out of memory"
	case C.VP8_STATUS_INVALID_PARAM:
		return "invalid parameter"
	case C.VP8_STATUS_BITSTREAM_ERROR:
		return "bitstream error"
	case C.VP8_STATUS_UNSUPPORTED_FEATURE:
		return "unsupported feature"
	case C.VP8_STATUS_SUSPENDED:
		return "suspended"
	case C.VP8_STATUS_USER_ABORT:
		return "user abort"
	case C.VP8_STATUS_NOT_ENOUGH_DATA:
		return "not enough data"
	}
	return fmt.Sprintf("status %d", int(s))
}

// webpProbe returns the canvas size and whether Pillow reads the file as
// RGBA (else RGB: RGBX with the alpha bytes dropped).
func webpProbe(data []byte) (w, h int, alpha bool, err error) {
	var cw, ch, ca, st C.int
	r := C.fzw_probe((*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data)), &cw, &ch, &ca, &st)
	if r != C.FZW_OK {
		if st != C.VP8_STATUS_OK {
			return 0, 0, false, fmt.Errorf("WebP: could not create decoder object (libwebp: %s)", vp8Status(st))
		}
		return 0, 0, false, fmt.Errorf("WebP: could not create decoder object (libwebp cannot parse the RIFF chunks)")
	}
	return int(cw), int(ch), ca != 0, nil
}

// webpDecodeRGBA renders the first frame into dst (w*h*4 bytes, RGBA).
func webpDecodeRGBA(data []byte, dst []byte, w, h int) error {
	p := (*C.uint8_t)(unsafe.Pointer(&data[0]))
	switch C.fzw_decode(p, C.size_t(len(data)), (*C.uint8_t)(unsafe.Pointer(&dst[0])), C.int(w), C.int(h)) {
	case C.FZW_OK:
		return nil
	case C.FZW_NODECODER:
		return fmt.Errorf("WebP: could not create decoder object")
	case C.FZW_SIZE:
		return fmt.Errorf("WebP: canvas size changed between reads")
	default:
		return fmt.Errorf("WebP: could not decode the first frame (failed to read next frame; libwebp: %s)",
			vp8Status(C.fzw_frame_status(p, C.size_t(len(data)))))
	}
}

// webpEXIF returns the EXIF chunk Pillow reads (info["exif"]), or nil.
func webpEXIF(data []byte) []byte {
	if len(data) == 0 {
		return nil
	}
	p, size := (*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data))
	n := int(C.fzw_exif(p, size, nil, 0))
	if n <= 0 {
		return nil
	}
	out := make([]byte, n)
	C.fzw_exif(p, size, (*C.uint8_t)(unsafe.Pointer(&out[0])), C.size_t(n))
	return out
}
