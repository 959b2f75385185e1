package onnxgraph

import "math"

// MaxFloat16 is the largest finite float16 value.
const MaxFloat16 = 65504

// Float16Bits rounds f to the nearest float16 (ties to even) and returns its
// bits. It agrees with numpy's float32 -> float16 cast bit for bit (NaN
// payloads and signs, subnormals, signed zeros), except that a finite value
// too large for float16 is clamped to ±65504 instead of becoming infinite:
// a weight that overflows must not turn a whole feature map into Inf/NaN.
func Float16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := b & 0x7f800000
	mant := b & 0x007fffff
	switch {
	case exp == 0x7f800000: // Inf or NaN
		if mant == 0 {
			return sign | 0x7c00
		}
		h := uint16(0x7c00 + mant>>13) // keep the top payload bits, as numpy does
		if h == 0x7c00 {
			h++ // still a NaN
		}
		return sign | h
	case exp >= 0x47800000: // 2^16 and above: beyond float16
		return sign | 0x7bff
	case exp <= 0x38000000: // below 2^-14: a float16 subnormal or zero
		if exp < 0x33000000 { // below 2^-25: rounds to zero
			return sign
		}
		e := exp >> 23
		sig := 0x00800000 + mant
		sig >>= 113 - e
		// Ties to even: round up unless the kept part is even and what is
		// dropped (here and in the bits shifted out above) is exactly half.
		if sig&0x3fff != 0x1000 || b&0x7ff != 0 {
			sig += 0x1000
		}
		return sign | uint16(sig>>13)
	}
	h := (exp - 0x38000000) >> 13
	sig := mant
	if sig&0x3fff != 0x1000 {
		sig += 0x1000
	}
	h += sig >> 13 // a carry out of the mantissa steps the exponent, as it should
	if h >= 0x7c00 {
		return sign | 0x7bff // rounded up past 65504: clamp
	}
	return sign | uint16(h)
}

// Float16Value returns the float32 value of float16 bits (exact).
func Float16Value(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: mant * 2^-24.
		v := float32(mant) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}
