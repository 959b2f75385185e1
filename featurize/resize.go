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
	padded          bool    // every position reads ksize pixels (padTaps)
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
	c.padded = inSize >= c.ksize
	if c.padded {
		c.padTaps()
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
	acc  []int32
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
	var tmp []uint8
	if needH {
		r.h.compute(src.W, outW, x0, w)
		r.tmp = grow(r.tmp, rows*w*3)
		tmp = r.tmp
		for y := 0; y < rows; y++ {
			line := src.Pix[(rowFirst+y)*src.W*3 : (rowFirst+y+1)*src.W*3]
			dst := tmp[y*w*3 : (y+1)*w*3]
			if r.h.padded {
				horizontalRow(dst, line, r.h.bounds, r.h.k, r.h.ksize)
			} else {
				horizontalRowVar(dst, line, r.h.bounds, r.h.k, r.h.ksize)
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

	// Vertical pass, a whole row at a time: each tap adds a contiguous
	// source row, which the compiler keeps free of bounds checks.
	ks := r.v.ksize
	r.acc = grow(r.acc, w*3)
	acc := r.acc
	for j := 0; j < h; j++ {
		ymin, n := r.v.bounds[2*j]-rowFirst, r.v.bounds[2*j+1]
		k := r.v.k[j*ks : j*ks+n]
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		for y, kv := range k {
			row := tmp[(ymin+y)*w*3 : (ymin+y+1)*w*3]
			row = row[:len(acc)]
			for i, p := range row {
				acc[i] += int32(p) * kv
			}
		}
		dst := r.out[j*w*3 : (j+1)*w*3]
		dst = dst[:len(acc)]
		for i, v := range acc {
			dst[i] = clip8(v)
		}
	}
	return r.out
}

// horizontalRow resamples one source row (packed RGB) into dst for every
// output column described by bounds and k. The coefficient rows are padded
// to ks taps (see padTaps), so the loop has a fixed trip count.
func horizontalRow(dst, line []uint8, bounds []int, k []int32, ks int) {
	w := len(dst) / 3
	const half = int32(1 << (precisionBits - 1))
	switch ks {
	case 5:
		for i := 0; i < w; i++ {
			kk := k[i*5 : i*5+5 : i*5+5]
			p := line[bounds[2*i]*3:]
			p = p[:15]
			s0 := half + int32(p[0])*kk[0] + int32(p[3])*kk[1] + int32(p[6])*kk[2] + int32(p[9])*kk[3] + int32(p[12])*kk[4]
			s1 := half + int32(p[1])*kk[0] + int32(p[4])*kk[1] + int32(p[7])*kk[2] + int32(p[10])*kk[3] + int32(p[13])*kk[4]
			s2 := half + int32(p[2])*kk[0] + int32(p[5])*kk[1] + int32(p[8])*kk[2] + int32(p[11])*kk[3] + int32(p[14])*kk[4]
			d := dst[i*3 : i*3+3 : i*3+3]
			d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
		}
	case 3:
		for i := 0; i < w; i++ {
			kk := k[i*3 : i*3+3 : i*3+3]
			p := line[bounds[2*i]*3:]
			p = p[:9]
			s0 := half + int32(p[0])*kk[0] + int32(p[3])*kk[1] + int32(p[6])*kk[2]
			s1 := half + int32(p[1])*kk[0] + int32(p[4])*kk[1] + int32(p[7])*kk[2]
			s2 := half + int32(p[2])*kk[0] + int32(p[5])*kk[1] + int32(p[8])*kk[2]
			d := dst[i*3 : i*3+3 : i*3+3]
			d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
		}
	default:
		for i := 0; i < w; i++ {
			kk := k[i*ks : i*ks+ks]
			p := line[bounds[2*i]*3:]
			p = p[:3*ks]
			s0, s1, s2 := half, half, half
			for t, kv := range kk {
				q := p[3*t : 3*t+3 : 3*t+3]
				s0 += int32(q[0]) * kv
				s1 += int32(q[1]) * kv
				s2 += int32(q[2]) * kv
			}
			d := dst[i*3 : i*3+3 : i*3+3]
			d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
		}
	}
}

// padTaps makes every output position read exactly ks source pixels: a
// window running past the end of the row is moved left and its weights
// shifted right, with zeros in front. Zero-weight taps add nothing, so the
// sums are exactly Pillow's. Needs inSize >= ks.
func (c *axisCoeffs) padTaps() {
	for i := 0; i < c.n; i++ {
		xmin := c.bounds[2*i]
		if over := xmin + c.ksize - c.inSize; over > 0 {
			k := c.k[i*c.ksize : (i+1)*c.ksize]
			copy(k[over:], k[:c.ksize-over])
			for t := 0; t < over; t++ {
				k[t] = 0
			}
			c.bounds[2*i] = xmin - over
		}
		c.bounds[2*i+1] = c.ksize
	}
}

// horizontalRowVar is horizontalRow for rows narrower than the filter.
func horizontalRowVar(dst, line []uint8, bounds []int, k []int32, ks int) {
	const half = int32(1 << (precisionBits - 1))
	for i := 0; i < len(dst)/3; i++ {
		xmin, n := bounds[2*i], bounds[2*i+1]
		kk := k[i*ks : i*ks+n]
		p := line[xmin*3 : (xmin+n)*3]
		s0, s1, s2 := half, half, half
		for t, kv := range kk {
			s0 += int32(p[3*t]) * kv
			s1 += int32(p[3*t+1]) * kv
			s2 += int32(p[3*t+2]) * kv
		}
		dst[i*3], dst[i*3+1], dst[i*3+2] = clip8(s0), clip8(s1), clip8(s2)
	}
}
