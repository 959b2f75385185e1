package featurize

import "image"

// Lossy WebP is VP8: limited-range BT.601 YUV with 4:2:0 chroma. Go's
// decoder hands back the planes (image.YCbCr), whose own RGB conversion is
// full-range JFIF and nearest-neighbour chroma, some 12 grey levels away from
// what libwebp (and so Pillow) produces. This file is libwebp's conversion:
// the fancy upsampler of src/dsp/upsampling.c and the fixed-point
// VP8YUVToR/G/B of src/dsp/yuv.h.

const yuvMask2 = (256 << 6) - 1

func multHi(v, coeff int) int { return (v * coeff) >> 8 }

func vp8Clip8(v int) uint8 {
	if v&^yuvMask2 == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}

func vp8YUVToRGB(y, u, v int, dst []uint8) {
	yy := multHi(y, 19077)
	dst[0] = vp8Clip8(yy + multHi(v, 26149) - 14234)
	dst[1] = vp8Clip8(yy - multHi(u, 6419) - multHi(v, 13320) + 8708)
	dst[2] = vp8Clip8(yy + multHi(u, 33050) - 17685)
}

// upsampleLinePair is libwebp's UpsampleRgbLinePair: two luma rows share
// two chroma rows (top and current), interpolated 9-3-3-1.
func upsampleLinePair(topY, botY, topU, topV, curU, curV []uint8, topDst, botDst []uint8, n int) {
	load := func(u, v uint8) uint32 { return uint32(u) | uint32(v)<<16 }
	emit := func(y uint8, uv uint32, dst []uint8) { vp8YUVToRGB(int(y), int(uv&0xff), int(uv>>16), dst) }
	last := (n - 1) >> 1
	tl := load(topU[0], topV[0])
	l := load(curU[0], curV[0])
	emit(topY[0], (3*tl+l+0x00020002)>>2, topDst[0:])
	if botY != nil {
		emit(botY[0], (3*l+tl+0x00020002)>>2, botDst[0:])
	}
	for x := 1; x <= last; x++ {
		t := load(topU[x], topV[x])
		uv := load(curU[x], curV[x])
		avg := tl + t + l + uv + 0x00080008
		diag12 := (avg + 2*(t+l)) >> 3
		diag03 := (avg + 2*(tl+uv)) >> 3
		emit(topY[2*x-1], (diag12+tl)>>1, topDst[(2*x-1)*3:])
		emit(topY[2*x], (diag03+t)>>1, topDst[2*x*3:])
		if botY != nil {
			emit(botY[2*x-1], (diag03+l)>>1, botDst[(2*x-1)*3:])
			emit(botY[2*x], (diag12+uv)>>1, botDst[2*x*3:])
		}
		tl, l = t, uv
	}
	if n&1 == 0 {
		emit(topY[n-1], (3*tl+l+0x00020002)>>2, topDst[(n-1)*3:])
		if botY != nil {
			emit(botY[n-1], (3*l+tl+0x00020002)>>2, botDst[(n-1)*3:])
		}
	}
}

// webpYCbCrToRGB converts a 4:2:0 VP8 picture as libwebp's EmitFancyRGB
// does over a whole frame.
func webpYCbCrToRGB(m *image.YCbCr, dst []uint8) bool {
	if m.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return false
	}
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	if w == 0 || h == 0 {
		return true
	}
	yRow := func(y int) []uint8 { return m.Y[y*m.YStride : y*m.YStride+w] }
	cw := (w + 1) / 2
	uRow := func(y int) []uint8 { return m.Cb[y*m.CStride : y*m.CStride+cw] }
	vRow := func(y int) []uint8 { return m.Cr[y*m.CStride : y*m.CStride+cw] }
	out := func(y int) []uint8 { return dst[y*w*3 : (y+1)*w*3] }
	// First row: chroma mirrored at the top edge.
	upsampleLinePair(yRow(0), nil, uRow(0), vRow(0), uRow(0), vRow(0), out(0), nil, w)
	y := 0
	for ; y+2 < h; y += 2 {
		c := y/2 + 1
		upsampleLinePair(yRow(y+1), yRow(y+2), uRow(c-1), vRow(c-1), uRow(c), vRow(c), out(y+1), out(y+2), w)
	}
	// The last row of an even-height picture.
	if h&1 == 0 {
		c := (h - 1) / 2
		upsampleLinePair(yRow(h-1), nil, uRow(c), vRow(c), uRow(c), vRow(c), out(h-1), nil, w)
	}
	return true
}
