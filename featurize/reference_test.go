package featurize

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/internal/jpegtest"
	"github.com/featurizer/featurizer/modelspec"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// The reference is Pillow + torchvision from Debian's Python. CI installs
// them and sets FEATURIZER_REQUIRE_REFERENCE=1 so these tests cannot skip
// there.
func referencePython(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	out, err := exec.Command(py, "-c", "import PIL, numpy, torchvision").CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("reference pipeline unavailable (%s with PIL, numpy, torchvision: %v %s); apt-get install python3-pil python3-numpy python3-torchvision", py, err, strings.TrimSpace(string(out)))
		if os.Getenv("FEATURIZER_REQUIRE_REFERENCE") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

type refJob struct {
	Make      string     `json:"make,omitempty"` // write Src as this format at Path
	Src       string     `json:"src,omitempty"`
	Lossless  bool       `json:"lossless,omitempty"`
	Path      string     `json:"path"`
	Policy    string     `json:"policy"` // crop, squash, decode
	Size      int        `json:"size,omitempty"`
	Width     int        `json:"width"`
	Height    int        `json:"height"`
	Out       string     `json:"out"`
	TensorOut string     `json:"tensor_out,omitempty"`
	Mean      [3]float32 `json:"mean"`
	Std       [3]float32 `json:"std"`
	KerasMode string     `json:"keras_mode,omitempty"` // caffe or tf
	KerasOut  string     `json:"keras_out,omitempty"`
}

func runReference(t *testing.T, jobs []refJob) {
	t.Helper()
	py := referencePython(t)
	in, _ := json.Marshal(jobs)
	cmd := exec.Command(py, "testdata/reference.py")
	cmd.Stdin = bytes.NewReader(in)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reference.py: %v\n%s", err, out)
	}
}

// synthImage draws gradients, stripes, hard edges and noise: content that
// exercises every rounding path of the filters.
func synthImage(w, h int, seed int64) *image.NRGBA {
	rng := rand.New(rand.NewSource(seed))
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r := uint8((x * 255) / max(1, w-1))
			g := uint8((y * 255) / max(1, h-1))
			b := uint8(128 + 127*math.Sin(float64(x+y)/3))
			if (x/7+y/5)%2 == 0 {
				r = 255 - r
			}
			if rng.Intn(10) == 0 {
				g = uint8(rng.Intn(256))
			}
			m.SetNRGBA(x, y, color.NRGBA{r, g, b, 255})
		}
	}
	return m
}

func writeImage(t *testing.T, path string, m image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if strings.HasSuffix(path, ".png") {
		err = png.Encode(f, m)
	} else {
		err = jpeg.Encode(f, m, &jpeg.Options{Quality: 90})
	}
	if err != nil {
		t.Fatal(err)
	}
}

type pixelDiff struct {
	max     int
	mean    float64
	differ  int
	n       int
	firstAt int
}

func diffPixels(a, b []uint8) pixelDiff {
	d := pixelDiff{n: len(a), firstAt: -1}
	sum := 0
	for i := range a {
		v := int(a[i]) - int(b[i])
		if v < 0 {
			v = -v
		}
		if v != 0 {
			d.differ++
			if d.firstAt < 0 {
				d.firstAt = i
			}
		}
		sum += v
		d.max = max(d.max, v)
	}
	d.mean = float64(sum) / float64(max(1, len(a)))
	return d
}

func sharedImages(t *testing.T, perDir int) []string {
	root := filepath.Join("..", "..", "shared", "data")
	if _, err := os.Stat(root); err != nil {
		return nil
	}
	var out []string
	for _, dir := range []string{"coral-test-images", "imagenet-samples", "clothing-small/test/dress", "clothing-small/train/shoes"} {
		ents, _ := os.ReadDir(filepath.Join(root, dir))
		var names []string
		for _, e := range ents {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".png" {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		if len(names) > perDir {
			names = names[:perDir]
		}
		for _, n := range names {
			out = append(out, filepath.Join(root, dir, n))
		}
	}
	return out
}

func decodeFile(t *testing.T, d *Decoder, path string) *RGB {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := d.Decode(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &RGB{W: img.W, H: img.H, Pix: append([]uint8(nil), img.Pix...)}
}

// TestMatchesPillow compares decode, crop and squash resizes with Pillow
// and torchvision on synthetic images of awkward sizes and on real photos.
// The goal is bit-exact; the bar is 1 grey level on average.
func TestMatchesPillow(t *testing.T) {
	referencePython(t)
	dir := t.TempDir()
	var paths []string
	sizes := [][2]int{{7, 5}, {33, 17}, {224, 224}, {255, 256}, {256, 255}, {400, 533}, {533, 400}, {640, 480},
		{1000, 37}, {37, 1000}, {1503, 997}, {300, 300}, {299, 299}, {150, 200}, {2, 900}}
	for i, s := range sizes {
		m := synthImage(s[0], s[1], int64(i))
		for _, ext := range []string{".png", ".jpg"} {
			p := filepath.Join(dir, fmt.Sprintf("synth-%dx%d%s", s[0], s[1], ext))
			writeImage(t, p, m)
			paths = append(paths, p)
		}
	}
	paths = append(paths, formatCorpus(t, dir)...)
	paths = append(paths, sharedImages(t, 12)...)

	type policy struct {
		name string
		pre  modelspec.Preprocessing
	}
	mk := func(policyName string, size, h, w int) modelspec.Preprocessing {
		return modelspec.Preprocessing{
			Input:     modelspec.InputSpec{Layout: "NCHW", Size: [2]int{h, w}, Color: "RGB"},
			Resize:    modelspec.ResizeSpec{Policy: policyName, Size: size, Filter: "bilinear"},
			Normalize: modelspec.NormalizeSpec{Scale: 255, Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}},
		}
	}
	policies := []policy{
		{"crop256-224", mk("crop", 256, 224, 224)},
		{"crop342-299", mk("crop", 342, 299, 299)},
		{"squash299", mk("squash", 0, 299, 299)},
		{"squash224x160", mk("squash", 0, 160, 224)},
	}
	var jobs []refJob
	for i, p := range paths {
		jobs = append(jobs, refJob{Path: p, Policy: "decode", Out: filepath.Join(dir, fmt.Sprintf("%d-decode.raw", i))})
		for _, pol := range policies {
			j := refJob{Path: p, Policy: pol.pre.Resize.Policy, Size: pol.pre.Resize.Size, Width: pol.pre.Input.Size[1], Height: pol.pre.Input.Size[0],
				Out: filepath.Join(dir, fmt.Sprintf("%d-%s.raw", i, pol.name)), Mean: pol.pre.Normalize.Mean, Std: pol.pre.Normalize.Std}
			if pol.pre.Resize.Policy == "crop" {
				j.TensorOut = j.Out + ".f32"
			}
			jobs = append(jobs, j)
		}
	}
	// The decode jobs need the image size: Pillow's resize to its own size
	// is a copy.
	var d Decoder
	defer d.Close()
	imgs := map[string]*RGB{}
	for i := range jobs {
		if jobs[i].Policy == "decode" {
			img := decodeFile(t, &d, jobs[i].Path)
			imgs[jobs[i].Path] = img
			jobs[i].Width, jobs[i].Height = img.W, img.H
		}
	}
	runReference(t, jobs)

	worst := 0.0
	for _, j := range jobs {
		want, err := os.ReadFile(j.Out)
		if err != nil {
			t.Fatal(err)
		}
		img := imgs[j.Path]
		var got *RGB
		name := j.Policy
		if j.Policy == "decode" {
			got = img
		} else {
			var pre modelspec.Preprocessing
			for _, pol := range policies {
				if strings.HasSuffix(j.Out, "-"+pol.name+".raw") {
					pre, name = pol.pre, pol.name
				}
			}
			pp := NewPreprocessor(pre)
			got, err = pp.Resized(img)
			if err != nil {
				t.Fatal(err)
			}
			if j.TensorOut != "" {
				checkTensor(t, pp, img, j)
			}
		}
		if len(got.Pix) != len(want) {
			t.Errorf("%s %s: got %dx%d (%d bytes), Pillow %d bytes", filepath.Base(j.Path), name, got.W, got.H, len(got.Pix), len(want))
			continue
		}
		dd := diffPixels(got.Pix, want)
		worst = math.Max(worst, dd.mean)
		if dd.differ != 0 {
			t.Errorf("%s %s (%dx%d): %d of %d samples differ from Pillow (max %d, mean %.4f, first at %d)",
				filepath.Base(j.Path), name, img.W, img.H, dd.differ, dd.n, dd.max, dd.mean, dd.firstAt)
		}
	}
	t.Logf("%d reference comparisons, worst mean difference %.4f grey levels", len(jobs), worst)
}

func checkTensor(t *testing.T, pp *Preprocessor, img *RGB, j refJob) {
	t.Helper()
	raw, err := os.ReadFile(j.TensorOut)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, len(raw)/4)
	for i := range want {
		want[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	got := make([]float32, len(want))
	if err := pp.Apply(img, got); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: tensor value %d is %v, torchvision %v", filepath.Base(j.Path), i, got[i], want[i])
			return
		}
	}
}

// formatCorpus writes one file per pixel format the decoder must handle:
// grey, CMYK and EXIF-rotated JPEGs, 16-bit, palette and alpha PNGs, a GIF
// with transparency, BMP, TIFF and WebP (lossless, via Pillow).
func formatCorpus(t *testing.T, dir string) []string {
	t.Helper()
	const w, h = 123, 77
	base := synthImage(w, h, 42)
	var out []string
	add := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	enc := func(f func(*bytes.Buffer) error) []byte {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	rgb := make([]byte, w*h*3)
	gray := make([]byte, w*h)
	cmyk := make([]byte, w*h*4)
	for i := 0; i < w*h; i++ {
		c := base.Pix[i*4 : i*4+3]
		copy(rgb[i*3:], c)
		gray[i] = c[1]
		cmyk[i*4], cmyk[i*4+1], cmyk[i*4+2], cmyk[i*4+3] = 255-c[0], 255-c[1], 255-c[2], uint8(i%97)
	}
	must := func(b []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	add("gray.jpg", must(jpegtest.Encode(gray, w, h, jpegtest.Gray, 90)))
	add("cmyk.jpg", must(jpegtest.Encode(cmyk, w, h, jpegtest.CMYK, 90)))
	rgbJPEG := must(jpegtest.Encode(rgb, w, h, jpegtest.RGB, 90))
	add("rgb420.jpg", rgbJPEG)
	for _, o := range []int{2, 3, 4, 5, 6, 7, 8} {
		add(fmt.Sprintf("exif-%d.jpg", o), jpegtest.WithOrientation(rgbJPEG, o))
	}

	g16 := image.NewGray16(image.Rect(0, 0, w, h))
	c64 := image.NewNRGBA64(image.Rect(0, 0, w, h))
	alpha := image.NewNRGBA(image.Rect(0, 0, w, h))
	pal := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{
		color.NRGBA{0, 0, 0, 0}, color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 128, 255, 255}, color.NRGBA{20, 200, 20, 255}})
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 4
			c := base.Pix[i : i+3]
			g16.SetGray16(x, y, color.Gray16{uint16(c[0])<<8 | uint16(c[2])})
			c64.SetNRGBA64(x, y, color.NRGBA64{uint16(c[0])<<8 | 0x7f, uint16(c[1]) << 8, uint16(c[2])<<8 | 0xff, 0xffff})
			alpha.SetNRGBA(x, y, color.NRGBA{c[0], c[1], c[2], uint8(x * 255 / (w - 1))})
			pal.SetColorIndex(x, y, uint8((x/9+y/7)%4))
		}
	}
	add("gray16.png", enc(func(b *bytes.Buffer) error { return png.Encode(b, g16) }))
	add("rgb48.png", enc(func(b *bytes.Buffer) error { return png.Encode(b, c64) }))
	add("alpha.png", enc(func(b *bytes.Buffer) error { return png.Encode(b, alpha) }))
	add("palette.png", enc(func(b *bytes.Buffer) error { return png.Encode(b, pal) }))
	add("palette.gif", enc(func(b *bytes.Buffer) error {
		return gif.EncodeAll(b, &gif.GIF{Image: []*image.Paletted{pal, pal}, Delay: []int{10, 10}})
	}))
	add("rgb.bmp", enc(func(b *bytes.Buffer) error { return bmp.Encode(b, base) }))
	add("rgb.tiff", enc(func(b *bytes.Buffer) error { return tiff.Encode(b, base, nil) }))

	// WebP has no Go encoder: Pillow writes it.
	src := filepath.Join(dir, "webp-source.png")
	writeImage(t, src, base)
	// Lossy WebP exercises libwebp's YUV conversion, odd sizes its edges.
	odd := filepath.Join(dir, "webp-odd.png")
	writeImage(t, odd, synthImage(31, 17, 7))
	var jobs []refJob
	for _, j := range []refJob{
		{Make: "WEBP", Src: src, Path: filepath.Join(dir, "lossless.webp"), Lossless: true},
		{Make: "WEBP", Src: src, Path: filepath.Join(dir, "lossy.webp")},
		{Make: "WEBP", Src: odd, Path: filepath.Join(dir, "lossy-odd.webp")},
	} {
		jobs = append(jobs, j)
		out = append(out, j.Path)
	}
	runReference(t, jobs)
	return out
}

func cropSpec(resize, crop int) modelspec.Preprocessing {
	return modelspec.Preprocessing{
		Input:     modelspec.InputSpec{Layout: "NCHW", Size: [2]int{crop, crop}, Color: "RGB"},
		Resize:    modelspec.ResizeSpec{Policy: "crop", Size: resize, Filter: "bilinear"},
		Normalize: modelspec.NormalizeSpec{Scale: 255, Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}},
	}
}

func writeJPEGForBench(w *os.File, m image.Image) { jpeg.Encode(w, m, &jpeg.Options{Quality: 90}) }

// TestMatchesKerasPreprocessing: the Keras flavours (NHWC, squash, BGR with
// caffe means, or [-1, 1]) against keras.applications' preprocess_input as
// numpy computes it after a Pillow bilinear resize.
func TestMatchesKerasPreprocessing(t *testing.T) {
	referencePython(t)
	dir := t.TempDir()
	paths := []string{}
	for i, s := range [][2]int{{400, 533}, {37, 1000}, {640, 480}} {
		p := filepath.Join(dir, fmt.Sprintf("k%d.png", i))
		writeImage(t, p, synthImage(s[0], s[1], int64(i)))
		paths = append(paths, p)
	}
	paths = append(paths, sharedImages(t, 3)...)
	modes := map[string]modelspec.Preprocessing{
		"caffe": {Input: modelspec.InputSpec{Layout: "NHWC", Size: [2]int{224, 224}, Color: "BGR"}, Resize: modelspec.ResizeSpec{Policy: "squash", Filter: "bilinear"},
			Normalize: modelspec.NormalizeSpec{Scale: 1, Mean: [3]float32{103.939, 116.779, 123.68}, Std: [3]float32{1, 1, 1}}},
		"tf": {Input: modelspec.InputSpec{Layout: "NHWC", Size: [2]int{299, 299}, Color: "RGB"}, Resize: modelspec.ResizeSpec{Policy: "squash", Filter: "bilinear"},
			Normalize: modelspec.NormalizeSpec{Scale: 127.5, Mean: [3]float32{1, 1, 1}, Std: [3]float32{1, 1, 1}}},
	}
	var jobs []refJob
	for i, p := range paths {
		for mode, pre := range modes {
			jobs = append(jobs, refJob{Path: p, Policy: "squash", Width: pre.Input.Size[1], Height: pre.Input.Size[0],
				Out: filepath.Join(dir, fmt.Sprintf("%d-%s.raw", i, mode)), KerasMode: mode, KerasOut: filepath.Join(dir, fmt.Sprintf("%d-%s.f32", i, mode))})
		}
	}
	runReference(t, jobs)
	var d Decoder
	defer d.Close()
	for _, j := range jobs {
		img := decodeFile(t, &d, j.Path)
		pre := modes[j.KerasMode]
		got := make([]float32, 3*pre.Input.Size[0]*pre.Input.Size[1])
		if err := NewPreprocessor(pre).Apply(img, got); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(j.KerasOut)
		if len(raw) != 4*len(got) {
			t.Fatalf("%s: %d reference values, %d ours", j.Path, len(raw)/4, len(got))
		}
		for i := range got {
			if w := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); got[i] != w {
				t.Fatalf("%s %s: value %d is %v, Keras %v", filepath.Base(j.Path), j.KerasMode, i, got[i], w)
			}
		}
	}
}
