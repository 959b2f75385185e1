package featurize

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/png" // registers PNG
	"strings"
)

// RGB is an 8-bit image with packed R, G, B samples, rows top to bottom.
type RGB struct {
	W, H int
	Pix  []uint8
}

// DefaultMaxPixels is Pillow's decompression-bomb error threshold
// (2 x Image.MAX_IMAGE_PIXELS).
const DefaultMaxPixels = 178956970

// Decoder turns encoded images into RGB. Not safe for concurrent use: make
// one per goroutine. Its buffers are reused, so an image it returns is
// valid until the next call.
type Decoder struct {
	// MaxPixels rejects images whose header announces more pixels, before
	// any pixel memory is allocated. 0 means DefaultMaxPixels.
	MaxPixels int64
	// FastDecode lets large JPEGs decode at a reduced size (libjpeg-turbo
	// DCT scaling), no smaller than MinSize says for the full size.
	FastDecode bool
	MinSize    func(w, h int) (minW, minH int)

	pix  []uint8
	cmyk []uint8
	obuf []uint8
}

// Close releases the decoder's buffers.
func (d *Decoder) Close() {
	d.pix, d.cmyk, d.obuf = nil, nil, nil
}

// Sniff names an image format from its first bytes, or "".
func Sniff(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return "jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a")):
		return "gif"
	case bytes.HasPrefix(b, []byte("BM")):
		return "bmp"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	case isTIFFMagic(b):
		return "tiff"
	}
	return ""
}

// Decode decodes data to 8-bit RGB with the EXIF orientation applied.
// Grayscale, CMYK/YCCK, palette, 16-bit and alpha images all become RGB;
// alpha is composited on white.
func (d *Decoder) Decode(data []byte) (img *RGB, err error) {
	// One bad file must not take the job down, even if a pure-Go decoder
	// panics on it.
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("decoder panic: %v", r)
		}
	}()
	format := Sniff(data)
	switch format {
	case "":
		if len(data) == 0 {
			return nil, errors.New("empty file")
		}
		return nil, errors.New("unknown image format (not JPEG, PNG, GIF, BMP, WebP or TIFF)")
	case "jpeg":
		img, err = d.decodeJPEG(data)
	case "gif":
		img, err = d.decodeGIF(data)
	case "png":
		// Judged as Pillow reads PNGs; Go's decoder then reads the rows
		// Pillow used, from a normalized file.
		var p *pngImage
		if p, err = pngOpen(data, d.checkSize); err == nil {
			if img, err = d.decodeStd(p.norm, format); err == nil {
				img, d.obuf = orient(img, p.orientation, d.obuf)
			}
		}
		return img, err
	case "tiff":
		// Oriented by the TIFF decoder itself (its own IFD0 tag).
		return d.decodeTIFF(data)
	case "bmp":
		return d.decodeBMP(data)
	case "webp":
		img, err = d.decodeWebP(data)
	}
	if err != nil {
		return nil, err
	}
	img, d.obuf = orient(img, orientationOf(data, format), d.obuf)
	return img, nil
}

func (d *Decoder) checkSize(w, h int) error {
	limit := d.MaxPixels
	if limit == 0 {
		limit = DefaultMaxPixels
	}
	if w <= 0 || h <= 0 {
		return fmt.Errorf("image has no pixels (%dx%d)", w, h)
	}
	if int64(w)*int64(h) > limit {
		return fmt.Errorf("image is %dx%d = %d pixels, over the limit of %d (--max-pixels)", w, h, int64(w)*int64(h), limit)
	}
	return nil
}

// decodeJPEG accepts and decodes a JPEG exactly as Pillow does: its
// marker walk first (jpegOpen), then libjpeg-turbo driven as Pillow drives
// it (jpegDecode).
func (d *Decoder) decodeJPEG(data []byte) (*RGB, error) {
	f, err := jpegOpen(data)
	if err != nil {
		return nil, err
	}
	if err := d.checkSize(f.w, f.h); err != nil {
		return nil, err
	}
	w, h, num := f.w, f.h, 8
	if d.FastDecode && d.MinSize != nil {
		minW, minH := d.MinSize(f.w, f.h)
		w, h, num = scaledSize(f.w, f.h, minW, minH)
	}
	if f.mode == jpegCMYK {
		d.cmyk = grow(d.cmyk, w*h*4)
		if err := jpegDecode(data, f.mode, w, h, num, d.cmyk); err != nil {
			return nil, err
		}
		d.pix = grow(d.pix, w*h*3)
		// Pillow reads every CMYK JPEG as Adobe-inverted ("CMYK;I").
		for i := 0; i < w*h; i++ {
			c := d.cmyk[i*4 : i*4+4]
			cmykToRGB(d.pix[i*3:i*3+3], 255-c[0], 255-c[1], 255-c[2], 255-c[3])
		}
		return &RGB{W: w, H: h, Pix: d.pix}, nil
	}
	d.pix = grow(d.pix, w*h*3)
	if err := jpegDecode(data, f.mode, w, h, num, d.pix); err != nil {
		return nil, err
	}
	return &RGB{W: w, H: h, Pix: d.pix}, nil
}

// cmykToRGB is Pillow's cmyk2rgb (Convert.c).
func cmykToRGB(dst []uint8, c, m, y, k uint8) {
	nk := 255 - int(k)
	dst[0] = clipInt(nk - mulDiv255(int(c), nk))
	dst[1] = clipInt(nk - mulDiv255(int(m), nk))
	dst[2] = clipInt(nk - mulDiv255(int(y), nk))
}

func mulDiv255(a, b int) int {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}

func clipInt(v int) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

func (d *Decoder) decodeStd(data []byte, format string) (*RGB, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s header: %w", strings.ToUpper(format), err)
	}
	if err := d.checkSize(cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	m, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.ToUpper(format), err)
	}
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	if err := d.checkSize(w, h); err != nil {
		return nil, err
	}
	d.pix = grow(d.pix, w*h*3)
	toRGB(m, d.pix, w, h)
	return &RGB{W: w, H: h, Pix: d.pix}, nil
}

// toRGB writes m, from Go's PNG decoder, into dst (w x h, packed RGB),
// compositing alpha on white. 16-bit samples keep their high byte, as
// Pillow's unpackers do.
func toRGB(m image.Image, dst []uint8, w, h int) {
	b := m.Bounds()
	put := func(x, y int, r, g, bl uint8) {
		px, py := x-b.Min.X, y-b.Min.Y
		if px < 0 || py < 0 || px >= w || py >= h {
			return
		}
		i := (py*w + px) * 3
		dst[i], dst[i+1], dst[i+2] = r, g, bl
	}
	switch im := m.(type) {
	case *image.Gray:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := im.Pix[(y-b.Min.Y)*im.Stride:]
			for x := b.Min.X; x < b.Max.X; x++ {
				v := row[x-b.Min.X]
				put(x, y, v, v, v)
			}
		}
	case *image.RGBA:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := im.Pix[(y-b.Min.Y)*im.Stride:]
			for x := b.Min.X; x < b.Max.X; x++ {
				p := row[(x-b.Min.X)*4:]
				// Premultiplied: over white is c + (255 - a).
				na := 255 - p[3]
				put(x, y, p[0]+na, p[1]+na, p[2]+na)
			}
		}
	case *image.NRGBA:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := im.Pix[(y-b.Min.Y)*im.Stride:]
			for x := b.Min.X; x < b.Max.X; x++ {
				p := row[(x-b.Min.X)*4:]
				put(x, y, overWhite(p[0], p[3]), overWhite(p[1], p[3]), overWhite(p[2], p[3]))
			}
		}
	case *image.Paletted:
		pal := make([][3]uint8, len(im.Palette))
		for i, c := range im.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [3]uint8{overWhite(n.R, n.A), overWhite(n.G, n.A), overWhite(n.B, n.A)}
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := im.Pix[(y-b.Min.Y)*im.Stride:]
			for x := b.Min.X; x < b.Max.X; x++ {
				idx := int(row[x-b.Min.X])
				if idx < len(pal) {
					p := pal[idx]
					put(x, y, p[0], p[1], p[2])
				} else {
					put(x, y, 0, 0, 0)
				}
			}
		}
	case *image.Gray16:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				v := uint8(im.Gray16At(x, y).Y >> 8)
				put(x, y, v, v, v)
			}
		}
	case *image.NRGBA64:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := im.NRGBA64At(x, y)
				a := uint8(c.A >> 8)
				put(x, y, overWhite(uint8(c.R>>8), a), overWhite(uint8(c.G>>8), a), overWhite(uint8(c.B>>8), a))
			}
		}
	default:
		// RGBA64 and anything else: through NRGBA.
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, a := m.At(x, y).RGBA()
				if a == 0xffff {
					put(x, y, uint8(r>>8), uint8(g>>8), uint8(bl>>8))
					continue
				}
				n := color.NRGBAModel.Convert(color.RGBA64{R: uint16(r), G: uint16(g), B: uint16(bl), A: uint16(a)}).(color.NRGBA)
				put(x, y, overWhite(n.R, n.A), overWhite(n.G, n.A), overWhite(n.B, n.A))
			}
		}
	}
}

// overWhite blends c with alpha a over white with Pillow's rounding
// (DIV255 in Paste.c).
func overWhite(c, a uint8) uint8 {
	if a == 255 {
		return c
	}
	t := int(c)*int(a) + 255*(255-int(a)) + 128
	return uint8(((t >> 8) + t) >> 8)
}
