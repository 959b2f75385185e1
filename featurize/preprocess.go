package featurize

import (
	"fmt"
	"math"

	"github.com/featurizer/featurizer/modelspec"
)

// Preprocessor turns a decoded image into the model's input tensor for one
// image, exactly as the reference pipelines do: torchvision's Resize(S) +
// CenterCrop for the crop policy, a plain PIL resize for squash, then
// ToTensor/Normalize (or Keras' preprocess_input) in float32.
type Preprocessor struct {
	p      modelspec.Preprocessing
	lut    [3][256]float32 // model channel c, 8-bit value -> input value
	src    [3]int          // model channel c reads image channel src[c]
	outW   int
	outH   int
	nchw   bool
	resize Resizer
}

// NewPreprocessor builds a preprocessor; not safe for concurrent use.
func NewPreprocessor(p modelspec.Preprocessing) *Preprocessor {
	pp := &Preprocessor{p: p, outW: p.Input.Size[1], outH: p.Input.Size[0], nchw: p.Input.Layout == "NCHW"}
	pp.src = [3]int{0, 1, 2}
	if p.Input.Color == "BGR" {
		pp.src = [3]int{2, 1, 0}
	}
	for c := 0; c < 3; c++ {
		scale, mean, std := p.Normalize.Scale, p.Normalize.Mean[c], p.Normalize.Std[c]
		for v := 0; v < 256; v++ {
			// One float32 rounding per step, as torch and numpy do.
			x := float32(v)
			x = x / scale
			x = x - mean
			x = x / std
			pp.lut[c][v] = x
		}
	}
	return pp
}

// MinDecodeSize is the smallest decoded size of a w x h image that keeps
// the resize a downscale; the fast JPEG path decodes no smaller than this.
func (pp *Preprocessor) MinDecodeSize(w, h int) (int, int) {
	if pp.p.Resize.Policy == "squash" {
		// Either side may end up as the width after EXIF rotation.
		m := max(pp.outW, pp.outH)
		return m, m
	}
	s := pp.p.Resize.Size
	if w <= h {
		return s, int(float64(s) * float64(h) / float64(w))
	}
	return int(float64(s) * float64(w) / float64(h)), s
}

// Geometry returns the resized size and the crop window for a w x h image.
func (pp *Preprocessor) Geometry(w, h int) (rw, rh, x0, y0 int, err error) {
	if pp.p.Resize.Policy == "squash" {
		return pp.outW, pp.outH, 0, 0, nil
	}
	// torchvision _compute_resized_output_size: the shorter side becomes S,
	// the longer one int(S * long / short), truncated.
	s := pp.p.Resize.Size
	short, long := w, h
	if w > h {
		short, long = h, w
	}
	nl := math.Floor(float64(s) * float64(long) / float64(short))
	if nl > 1<<30 {
		return 0, 0, 0, 0, fmt.Errorf("aspect ratio %dx%d too extreme to resize", w, h)
	}
	newLong := int(nl)
	if w <= h {
		rw, rh = s, newLong
	} else {
		rw, rh = newLong, s
	}
	// torchvision center_crop: int(round((size - crop) / 2.0)), where
	// Python rounds half to even.
	x0 = int(math.RoundToEven(float64(rw-pp.outW) / 2))
	y0 = int(math.RoundToEven(float64(rh-pp.outH) / 2))
	return rw, rh, x0, y0, nil
}

// Apply writes the input tensor of one image into dst (3*H*W float32
// values in the model's layout and channel order).
func (pp *Preprocessor) Apply(img *RGB, dst []float32) error {
	rw, rh, x0, y0, err := pp.Geometry(img.W, img.H)
	if err != nil {
		return err
	}
	w, h := pp.outW, pp.outH
	if len(dst) < 3*w*h {
		return fmt.Errorf("preprocess: destination holds %d values, need %d", len(dst), 3*w*h)
	}
	px := pp.resize.ResizeWindow(img, rw, rh, x0, y0, w, h)
	if pp.nchw {
		plane := w * h
		for c := 0; c < 3; c++ {
			lut := &pp.lut[c]
			out := dst[c*plane : (c+1)*plane]
			s := pp.src[c]
			for i := range out {
				out[i] = lut[px[i*3+s]]
			}
		}
		return nil
	}
	l0, l1, l2 := &pp.lut[0], &pp.lut[1], &pp.lut[2]
	s0, s1, s2 := pp.src[0], pp.src[1], pp.src[2]
	for i := 0; i < w*h; i++ {
		p := px[i*3 : i*3+3]
		dst[i*3] = l0[p[s0]]
		dst[i*3+1] = l1[p[s1]]
		dst[i*3+2] = l2[p[s2]]
	}
	return nil
}

// Resized returns the 8-bit RGB pixels the model sees (after resize and
// crop, before normalization); for tests and debugging.
func (pp *Preprocessor) Resized(img *RGB) (*RGB, error) {
	rw, rh, x0, y0, err := pp.Geometry(img.W, img.H)
	if err != nil {
		return nil, err
	}
	px := pp.resize.ResizeWindow(img, rw, rh, x0, y0, pp.outW, pp.outH)
	return &RGB{W: pp.outW, H: pp.outH, Pix: append([]uint8(nil), px...)}, nil
}

// Resize resizes a whole image with Pillow's bilinear filter.
func Resize(img *RGB, w, h int) *RGB {
	var r Resizer
	px := r.ResizeWindow(img, w, h, 0, 0, w, h)
	return &RGB{W: w, H: h, Pix: append([]uint8(nil), px...)}
}
