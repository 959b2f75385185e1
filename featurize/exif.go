package featurize

import (
	"bytes"
	"encoding/binary"
)

// EXIF orientation, read from the places where files keep it: a JPEG APP1
// segment, a PNG eXIf chunk, a WebP EXIF chunk, or a TIFF file's own IFD0.
// Anything unreadable means orientation 1 (as is): a broken EXIF block must
// not reject an otherwise good image.

func orientationOf(data []byte, format string) int {
	switch format {
	case "jpeg":
		return jpegOrientation(data)
	case "png":
		return pngOrientation(data)
	case "webp":
		return webpOrientation(data)
	case "tiff":
		return tiffOrientation(data)
	}
	return 1
}

// jpegOrientation reads the EXIF block Pillow keeps: the first APP1
// segment starting "Exif\0" met by its marker walk (jpegOpen).
func jpegOrientation(b []byte) int {
	f, err := jpegOpen(b)
	if err != nil || f.exif == nil {
		return 1
	}
	return tiffOrientation(bytes.TrimPrefix(f.exif, []byte("Exif\x00\x00")))
}

func pngOrientation(b []byte) int {
	i := 8
	for i+12 <= len(b) {
		n := int(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		if n < 0 || i+12+n > len(b) {
			return 1
		}
		if typ == "eXIf" {
			return tiffOrientation(b[i+8 : i+8+n])
		}
		if typ == "IDAT" || typ == "IEND" {
			return 1 // eXIf must come before the image data to count
		}
		i += 12 + n
	}
	return 1
}

func webpOrientation(b []byte) int {
	if len(b) < 12 {
		return 1
	}
	i := 12
	for i+8 <= len(b) {
		typ := string(b[i : i+4])
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		if n < 0 || i+8+n > len(b) {
			return 1
		}
		if typ == "EXIF" {
			p := b[i+8 : i+8+n]
			p = bytes.TrimPrefix(p, []byte("Exif\x00\x00"))
			return tiffOrientation(p)
		}
		i += 8 + n + n&1
	}
	return 1
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF structure.
func tiffOrientation(b []byte) int {
	if len(b) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	off := int(bo.Uint32(b[4:]))
	if off < 8 || off+2 > len(b) {
		return 1
	}
	n := int(bo.Uint16(b[off:]))
	for j := 0; j < n; j++ {
		e := off + 2 + 12*j
		if e+12 > len(b) {
			return 1
		}
		if bo.Uint16(b[e:]) != 0x0112 {
			continue
		}
		typ := bo.Uint16(b[e+2:])
		var v int
		switch typ {
		case 3: // SHORT
			v = int(bo.Uint16(b[e+8:]))
		case 4: // LONG
			v = int(bo.Uint32(b[e+8:]))
		default:
			return 1
		}
		if v >= 1 && v <= 8 {
			return v
		}
		return 1
	}
	return 1
}

// orient applies an EXIF orientation as ImageOps.exif_transpose does,
// returning a new image (or src for orientation 1). buf is reused.
func orient(src *RGB, o int, buf []uint8) (*RGB, []uint8) {
	if o <= 1 || o > 8 {
		return src, buf
	}
	w, h := src.W, src.H
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	buf = grow(buf, dw*dh*3)
	// For each destination pixel, the source pixel it comes from.
	for y := 0; y < dh; y++ {
		for x := 0; x < dw; x++ {
			var sx, sy int
			switch o {
			case 2: // mirror horizontal
				sx, sy = w-1-x, y
			case 3: // rotate 180
				sx, sy = w-1-x, h-1-y
			case 4: // mirror vertical
				sx, sy = x, h-1-y
			case 5: // transpose
				sx, sy = y, x
			case 6: // rotate 90 clockwise
				sx, sy = y, h-1-x
			case 7: // transverse
				sx, sy = w-1-y, h-1-x
			case 8: // rotate 90 counter-clockwise
				sx, sy = w-1-y, x
			}
			s := (sy*w + sx) * 3
			d := (y*dw + x) * 3
			buf[d], buf[d+1], buf[d+2] = src.Pix[s], src.Pix[s+1], src.Pix[s+2]
		}
	}
	return &RGB{W: dw, H: dh, Pix: buf}, buf
}
