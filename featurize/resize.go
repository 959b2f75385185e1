package featurize

import "math"

// This file reproduces Pillow's Image.resize(size, Image.BILINEAR) for 8-bit
// images bit for bit (libImaging/Resample.c): a separable triangle filter
// whose support grows with the downscale factor (so it antialiases), 22-bit
// fixed-point coefficients, a horizontal pass rounded and clipped to 8 bits,
// then a vertical pass.
//
// Each output pixel depends only on its own coefficients, so computing a
// window of the output (the center crop) gives the same bytes as resizing
// the whole image and cropping it afterwards, for a fraction of the work.

const precisionBits = 32 - 8 - 2

// axisCoeffs are the filter taps for a run of output positions on one axis.
type axisCoeffs struct {
	inSize, outSize int
	first, n        int     // output positions [first, first+n)
	ksize           int     // taps per output position
	bounds          []int   // per output: xmin, count
	k               []int32 // per output: ksize fixed-point weights
}

func bilinearFilter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// computeCoeffs mirrors precompute_coeffs and normalize_coeffs_8bpc for
// the box [0, inSize), restricted to output positions [first, first+n).
func (c *axisCoeffs) compute(inSize, outSize, first, n int) {
	if c.inSize == inSize && c.outSize == outSize && c.first == first && c.n == n {
		return // the same sizes as the previous image: reuse
	}
	c.inSize, c.outSize, c.first, c.n = inSize, outSize, first, n
	in0, in1 := float32(0), float32(inSize)
	scale := float64(in1-in0) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := 1.0 * filterscale
	c.ksize = int(math.Ceil(support))*2 + 1
	c.bounds = grow(c.bounds, 2*n)
	c.k = grow(c.k, n*c.ksize)
	w := make([]float64, c.ksize)
	for i := 0; i < n; i++ {
		xx := first + i
		center := float64(in0) + (float64(xx)+0.5)*scale
		ss := 1.0 / filterscale
		xmin := int(center - support + 0.5) // C truncation toward zero
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w[x] = bilinearFilter((float64(x+xmin) - center + 0.5) * ss)
			ww += w[x]
		}
		k := c.k[i*c.ksize : (i+1)*c.ksize]
		for x := range k {
			var v float64
			if x < xmax {
				v = w[x]
				if ww != 0 {
					v /= ww
				}
			}
			if v < 0 {
				k[x] = int32(-0.5 + v*(1<<precisionBits))
			} else {
				k[x] = int32(0.5 + v*(1<<precisionBits))
			}
		}
		c.bounds[2*i] = xmin
		c.bounds[2*i+1] = xmax
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// Resizer holds reusable buffers; one per goroutine.
type Resizer struct {
	h, v axisCoeffs
	tmp  []uint8
	out  []uint8
}

// ResizeWindow returns the window [x0, x0+w) x [y0, y0+h) of src resized to
// outW x outH with Pillow's bilinear filter, as packed RGB. The result is
// valid until the next call.
func (r *Resizer) ResizeWindow(src *RGB, outW, outH, x0, y0, w, h int) []uint8 {
	needH := outW != src.W
	needV := outH != src.H
	r.out = grow(r.out, w*h*3)
	if !needH && !needV {
		for y := 0; y < h; y++ {
			copy(r.out[y*w*3:(y+1)*w*3], src.Pix[((y0+y)*src.W+x0)*3:((y0+y)*src.W+x0+w)*3])
		}
		return r.out
	}

	// Vertical coefficients first: they tell which source rows the
	// horizontal pass must produce.
	rowFirst, rowLast := y0, y0+h // source rows when there is no vertical pass
	if needV {
		r.v.compute(src.H, outH, y0, h)
		rowFirst = r.v.bounds[0]
		rowLast = 0
		for i := 0; i < h; i++ {
			if e := r.v.bounds[2*i] + r.v.bounds[2*i+1]; e > rowLast {
				rowLast = e
			}
			if b := r.v.bounds[2*i]; b < rowFirst {
				rowFirst = b
			}
		}
	}
	rows := rowLast - rowFirst

	// Horizontal pass into tmp: rows [rowFirst, rowLast), columns [x0, x0+w).
	tmp := r.tmp
	if needH {
		r.h.compute(src.W, outW, x0, w)
		r.tmp = grow(r.tmp, rows*w*3)
		tmp = r.tmp
		ks := r.h.ksize
		for y := 0; y < rows; y++ {
			line := src.Pix[(rowFirst+y)*src.W*3 : (rowFirst+y+1)*src.W*3]
			dst := tmp[y*w*3 : (y+1)*w*3]
			for i := 0; i < w; i++ {
				xmin, n := r.h.bounds[2*i], r.h.bounds[2*i+1]
				k := r.h.k[i*ks : i*ks+n]
				s0, s1, s2 := int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1))
				p := line[xmin*3 : (xmin+n)*3]
				for x, kv := range k {
					s0 += int32(p[x*3]) * kv
					s1 += int32(p[x*3+1]) * kv
					s2 += int32(p[x*3+2]) * kv
				}
				dst[i*3] = clip8(s0)
				dst[i*3+1] = clip8(s1)
				dst[i*3+2] = clip8(s2)
			}
		}
	} else {
		// No horizontal pass: the vertical pass reads the source window.
		r.tmp = grow(r.tmp, rows*w*3)
		tmp = r.tmp
		for y := 0; y < rows; y++ {
			copy(tmp[y*w*3:(y+1)*w*3], src.Pix[((rowFirst+y)*src.W+x0)*3:((rowFirst+y)*src.W+x0+w)*3])
		}
	}
	if !needV {
		copy(r.out, tmp[:w*h*3])
		return r.out
	}

	// Vertical pass.
	ks := r.v.ksize
	for j := 0; j < h; j++ {
		ymin, n := r.v.bounds[2*j]-rowFirst, r.v.bounds[2*j+1]
		k := r.v.k[j*ks : j*ks+n]
		dst := r.out[j*w*3 : (j+1)*w*3]
		for i := 0; i < w*3; i += 3 {
			s0, s1, s2 := int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1))
			for y, kv := range k {
				p := tmp[(ymin+y)*w*3+i:]
				s0 += int32(p[0]) * kv
				s1 += int32(p[1]) * kv
				s2 += int32(p[2]) * kv
			}
			dst[i] = clip8(s0)
			dst[i+1] = clip8(s1)
			dst[i+2] = clip8(s2)
		}
	}
	return r.out
}
