package featurize

import "fmt"

// decodeWebP decodes a WebP's first frame as Pillow 9.4 does, through
// libwebp's animation decoder (libwebp.go); Decode applies its EXIF
// orientation. An RGBA file is composited on white; an RGB one (no alpha
// by WebPGetFeatures) drops the canvas's alpha bytes, as Pillow's RGBX
// unpacker does.
func (d *Decoder) decodeWebP(data []byte) (*RGB, error) {
	// WebPImagePlugin._accept: the first chunk must be one of these, or
	// Pillow does not take the file for a WebP.
	if len(data) < 16 {
		return nil, fmt.Errorf("WebP: cannot identify image file (%d bytes, too short)", len(data))
	}
	switch string(data[12:16]) {
	case "VP8 ", "VP8L", "VP8X":
	default:
		return nil, fmt.Errorf("WebP: cannot identify image file (first chunk %q is not VP8, VP8L or VP8X)", data[12:16])
	}
	w, h, alpha, err := webpProbe(data)
	if err != nil {
		return nil, err
	}
	if err := d.checkSize(w, h); err != nil {
		return nil, err
	}
	d.cmyk = grow(d.cmyk, w*h*4)
	rgba := d.cmyk[:w*h*4]
	if err := webpDecodeRGBA(data, rgba, w, h); err != nil {
		return nil, err
	}
	d.pix = grow(d.pix, w*h*3)
	pix := d.pix[:w*h*3]
	if alpha {
		for i := 0; i < w*h; i++ {
			p, a := rgba[i*4:i*4+4], rgba[i*4+3]
			pix[i*3], pix[i*3+1], pix[i*3+2] = overWhite(p[0], a), overWhite(p[1], a), overWhite(p[2], a)
		}
	} else {
		for i := 0; i < w*h; i++ {
			copy(pix[i*3:i*3+3], rgba[i*4:i*4+3])
		}
	}
	return &RGB{W: w, H: h, Pix: pix}, nil
}
