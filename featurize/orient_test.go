package featurize

import (
	"bytes"
	"encoding/binary"
	"image/png"
	"math"
	"os"
	"testing"
)

// tiffWith builds a big-endian TIFF structure whose IFD0 holds one entry.
func tiffWith(tag, typ uint16, count uint32, val []byte) []byte {
	b := []byte("MM\x00\x2A\x00\x00\x00\x08\x00\x01")
	b = binary.BigEndian.AppendUint16(b, tag)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint32(b, count)
	if len(val) <= 4 {
		b = append(b, append(val, make([]byte, 4-len(val))...)...)
		return append(b, 0, 0, 0, 0)
	}
	b = binary.BigEndian.AppendUint32(b, 26)
	return append(append(b, 0, 0, 0, 0), val...)
}

func be32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// The orientation tag in every TIFF type, as Pillow 9.4's IFD reader and
// exif_transpose's dict lookup see it (measured: testdata/corpus/orient).
func TestEXIFOrientationTypes(t *testing.T) {
	f32 := be32(math.Float32bits(6))
	f64 := binary.BigEndian.AppendUint64(nil, math.Float64bits(8))
	cases := []struct {
		name    string
		typ     uint16
		count   uint32
		val     []byte
		want    int
		present bool
	}{
		{"short", 3, 1, []byte{0, 6}, 6, true},
		{"short 1", 3, 1, []byte{0, 1}, 1, true},
		{"short 0", 3, 1, []byte{0, 0}, 1, true},
		{"short 9", 3, 1, []byte{0, 9}, 1, true},
		{"short 65535", 3, 1, []byte{0xFF, 0xFF}, 1, true},
		{"short, two values", 3, 2, []byte{0, 6, 0, 1}, 6, true},
		{"long", 4, 1, be32(6), 6, true},
		{"sshort", 8, 1, []byte{0, 6}, 6, true},
		{"slong -6", 9, 1, be32(uint32(0xFFFFFFFA)), 1, true},
		{"rational 12/2", 5, 1, be32(12, 2), 6, true},
		{"rational 13/2", 5, 1, be32(13, 2), 1, true},
		{"rational 6/0", 5, 1, be32(6, 0), 1, true},
		{"float 6", 11, 1, f32, 6, true},
		{"double 8", 12, 1, f64, 8, true},
		{"byte", 1, 1, []byte{6}, 1, true},
		{"undefined", 7, 1, []byte{6}, 1, true},
		{"ascii", 2, 2, []byte("6\x00"), 1, true},
		{"unknown type", 99, 1, []byte{0, 6}, 1, false},
		{"count 0", 3, 0, []byte{0, 6}, 1, false},
	}
	for _, c := range cases {
		tags, err := pillowEXIF(tiffWith(0x0112, c.typ, c.count, c.val))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		o, present := exifOrientation(tags)
		if o != c.want || present != c.present {
			t.Errorf("%s: orientation %d (present %v), want %d (%v)", c.name, o, present, c.want, c.present)
		}
	}
}

// getexif's header errors: struct.error (Pillow's JPEG open does not catch
// it) against SyntaxError (it does).
func TestEXIFHeaderErrors(t *testing.T) {
	for _, c := range []struct {
		data  string
		short bool
		ok    bool
	}{
		{"Exif\x00\x00MM\x00\x2A", true, false},
		{"MM\x00\x2A\x00\x00", true, false},
		{"II\x2B\x00\x08\x00\x00\x00", true, false},
		{"MM\x00\x2B\x00\x00\x00\x08", false, true}, // big-endian "BigTIFF" reads as classic
		{"XX\x00\x2A\x00\x00\x00\x08", false, false},
		{"Exif\x00X", false, false},
		{"Exif\x00\x00", false, true},
		{"", false, true},
	} {
		_, err := pillowEXIF([]byte(c.data))
		he, isHE := err.(errEXIFHeader)
		if c.ok != (err == nil) || (!c.ok && (!isHE || he.structShort != c.short)) {
			t.Errorf("%q: %v", c.data, err)
		}
	}
}

func TestRawProfileEXIF(t *testing.T) {
	got, err := rawProfileEXIF([]byte("\nexif\n      6\n4578 69\n660000\n"))
	if err != nil || string(got) != "Exif\x00\x00" {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := rawProfileEXIF([]byte("\nexif\n 2\n4g00\n")); err == nil {
		t.Error("bad hex accepted")
	}
	if _, err := rawProfileEXIF([]byte("\nexif\n 2\n4 5\n")); err == nil {
		t.Error("a pair split by a space accepted")
	}
	if got, err := rawProfileEXIF([]byte("exif")); err != nil || len(got) != 0 {
		t.Errorf("short text: %q, %v", got, err)
	}
}

// A BigTIFF file's own orientation (tiffOrientation serves TIFF files).
func TestTIFFOrientationBigTIFF(t *testing.T) {
	b := []byte("II\x2B\x00\x08\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00")
	b = binary.LittleEndian.AppendUint64(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 0x0112)
	b = binary.LittleEndian.AppendUint16(b, 3)
	b = binary.LittleEndian.AppendUint64(b, 1)
	b = append(b, 7, 0, 0, 0, 0, 0, 0, 0)
	b = append(b, make([]byte, 8)...)
	if o := tiffOrientation(b); o != 7 {
		t.Errorf("BigTIFF orientation %d, want 7", o)
	}
	if o := tiffOrientation(tiffWith(0x0112, 3, 1, []byte{0, 5})); o != 5 {
		t.Errorf("TIFF orientation %d, want 5", o)
	}
}

// FuzzEXIF: the EXIF readers never panic and give orientations 1-8.
func FuzzEXIF(f *testing.F) {
	f.Add(tiffWith(0x0112, 3, 1, []byte{0, 6}))
	f.Add(tiffWith(0x0112, 5, 1, be32(12, 2)))
	f.Add([]byte("II\x2B\x00\x08\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("\nexif\n 6\n457869660000\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if tags, err := pillowEXIF(data); err == nil {
			if o, _ := exifOrientation(tags); o < 1 || o > 8 {
				t.Fatalf("orientation %d", o)
			}
		}
		if o := tiffOrientation(data); o < 1 || o > 8 {
			t.Fatalf("TIFF orientation %d", o)
		}
		if o := (orientationSource{hasEXIF: true, exif: data, xmp: data}).orientation(); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
		rawProfileEXIF(data)
		exifDPI(data)
		mpIndex(data)
	})
}

// FuzzPNGOpen feeds mutated corpus PNGs to Pillow's chunk walk: errors are
// fine; an accepted file's normalized form decodes to its size, and its
// orientation is 1-8.
func FuzzPNGOpen(f *testing.F) {
	for _, class := range []string{"png", "orient"} {
		for _, p := range corpusClassFiles(f, class) {
			if b, err := os.ReadFile(p); err == nil && Sniff(b) == "png" && len(b) < 16<<10 {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := pngOpen(data, func(w, h int) error {
			if w*h > 1<<20 {
				return errPNG
			}
			return nil
		})
		if err != nil {
			return
		}
		if p.orientation < 1 || p.orientation > 8 {
			t.Fatalf("orientation %d", p.orientation)
		}
		m, err := png.Decode(bytes.NewReader(p.norm))
		if err != nil {
			t.Fatalf("normalized PNG does not decode: %v", err)
		}
		if b := m.Bounds(); b.Dx() != p.w || b.Dy() != p.h {
			t.Fatalf("normalized PNG is %v, want %dx%d", b, p.w, p.h)
		}
	})
}
