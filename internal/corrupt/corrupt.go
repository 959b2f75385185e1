package corrupt

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"

	"github.com/featurizer/featurizer/internal/jpegtest"
)

// File is one corpus entry.
type File struct {
	Name string
	// Stage is the reject stage expected, or "" when the file must decode.
	Stage string
}

// Files lists the corpus in the order Write creates it.
var Files = []File{
	{"zero-bytes.jpg", "decode"},
	{"truncated.jpg", "decode"},
	{"text-named.jpg", "decode"},
	{"huge-header.jpg", "decode"},
	{"huge-header.png", "decode"},
	{"garbage-after-header.png", "decode"},
	{"cmyk.jpg", ""},
	{"gray16.png", ""},
	{"exif-rotated.jpg", ""},
	{"grayscale.jpg", ""},
	{"alpha.png", ""},
	{"ok.jpg", ""},
}

// Image is the picture every good corpus file holds (in some encoding).
func Image(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) % 256), 255})
		}
	}
	return m
}

// Write creates the corpus in dir.
func Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	m := Image(96, 64)
	var j bytes.Buffer
	if err := jpeg.Encode(&j, m, &jpeg.Options{Quality: 90}); err != nil {
		return err
	}
	good := j.Bytes()
	rgb := make([]byte, 96*64*3)
	cmyk := make([]byte, 96*64*4)
	gray := make([]byte, 96*64)
	g16 := image.NewGray16(m.Rect)
	for i := 0; i < 96*64; i++ {
		p := m.Pix[i*4:]
		copy(rgb[i*3:], p[:3])
		cmyk[i*4], cmyk[i*4+1], cmyk[i*4+2], cmyk[i*4+3] = 255-p[0], 255-p[1], 255-p[2], 10
		gray[i] = p[1]
		g16.Pix[i*2], g16.Pix[i*2+1] = p[0], p[1]
	}
	cm, err := jpegtest.Encode(cmyk, 96, 64, jpegtest.CMYK, 90)
	if err != nil {
		return err
	}
	gr, err := jpegtest.Encode(gray, 96, 64, jpegtest.Gray, 90)
	if err != nil {
		return err
	}
	var p16, alpha bytes.Buffer
	png.Encode(&p16, g16)
	am := Image(64, 96)
	for i := 3; i < len(am.Pix); i += 4 {
		am.Pix[i] = uint8(i % 251)
	}
	png.Encode(&alpha, am)

	hugeJPEG := append([]byte{}, good...)
	patchSOF(hugeJPEG, 60000, 60000)

	files := map[string][]byte{
		"zero-bytes.jpg":           {},
		"truncated.jpg":            good[:len(good)*2/3],
		"text-named.jpg":           []byte("this is a text file with a .jpg name\n"),
		"huge-header.jpg":          hugeJPEG,
		"huge-header.png":          append(pngHeader(60000, 60000), pngChunk("IDAT", []byte{0x78, 0x01})...),
		"garbage-after-header.png": append(pngHeader(64, 64), bytes.Repeat([]byte{0x5a}, 300)...),
		"cmyk.jpg":                 cm,
		"gray16.png":               p16.Bytes(),
		"exif-rotated.jpg":         jpegtest.WithOrientation(good, 6),
		"grayscale.jpg":            gr,
		"alpha.png":                alpha.Bytes(),
		"ok.jpg":                   good,
	}
	for _, f := range Files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), files[f.Name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// patchSOF rewrites the frame size of a baseline JPEG in place.
func patchSOF(b []byte, w, h int) {
	for i := 2; i+9 < len(b); {
		if b[i] != 0xFF {
			return
		}
		m := b[i+1]
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if m == 0xC0 || m == 0xC1 || m == 0xC2 {
			binary.BigEndian.PutUint16(b[i+5:], uint16(h))
			binary.BigEndian.PutUint16(b[i+7:], uint16(w))
			return
		}
		i += 2 + n
	}
}

// pngHeader is a PNG signature and a valid IHDR chunk for an 8-bit RGB
// image, with no image data.
func pngHeader(w, h int) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 8, 2
	b.Write(pngChunk("IHDR", ihdr))
	return b.Bytes()
}

// pngChunk frames one PNG chunk.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	chunk := append([]byte(typ), data...)
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}
