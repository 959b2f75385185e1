package modelspec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCatalog(t *testing.T) {
	cat := Catalog()
	want := []string{"mobilenetv2", "inceptionv3-keras", "resnet50-keras", "inceptionv3-torchvision", "resnet50-torchvision", "resnet101", "resnet152"}
	if len(cat) != len(want) {
		t.Fatalf("catalog has %d entries", len(cat))
	}
	for i, s := range cat {
		if s.Name != want[i] {
			t.Errorf("entry %d is %s, want %s", i, s.Name, want[i])
		}
		if s.File == "" || s.Features.Dim == 0 || s.Classifier == nil {
			t.Errorf("%s: incomplete entry %+v", s.Name, s)
		}
		if s.URL == "" && s.Export == "" {
			t.Errorf("%s: neither a download nor an export recipe", s.Name)
		}
	}
	for name, want := range map[string]string{"InceptionV3": "inceptionv3-keras", "resnet50": "resnet50-keras", "MobileNetV2": "mobilenetv2"} {
		s, err := Lookup(name)
		if err != nil || s.Name != want {
			t.Errorf("Lookup(%s) = %v, %v; want %s", name, s, err, want)
		}
	}
	if _, err := Lookup("vgg16"); err == nil || !strings.Contains(err.Error(), "mobilenetv2") {
		t.Errorf("unknown backbone error should list the catalog: %v", err)
	}
	// The Keras flavours follow keras.applications' preprocess_input.
	k, _ := Lookup("resnet50-keras")
	if k.Input.Color != "BGR" || k.Input.Layout != "NHWC" || k.Resize.Policy != "squash" || k.Normalize.Mean[0] != 103.939 {
		t.Errorf("resnet50-keras: %+v", k)
	}
}

func TestSpecFileErrors(t *testing.T) {
	good := `
input: {layout: NCHW, size: [32, 32], color: RGB}
resize: {policy: crop, size: 36}
normalize: {scale: 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}
features: {pooling: auto}
`
	cases := []struct {
		name, yaml, want string
	}{
		{"good", good, ""},
		{"unknown field", strings.Replace(good, "color: RGB", "colour: RGB", 1), "input.colour: unknown field (expected one of: color, layout, name, size)"},
		{"wrong type", strings.Replace(good, "size: 36", "size: big", 1), `resize.size: expected an integer, got "big"`},
		{"bad layout", strings.Replace(good, "NCHW", "CHWN", 1), `input.layout: expected NCHW or NHWC, got "CHWN"`},
		{"short list", strings.Replace(good, "[32, 32]", "[32]", 1), "input.size: expected a list of 2 values, got 1"},
		{"crop too small", strings.Replace(good, "size: 36", "size: 16", 1), "resize.size: crop policy needs"},
		{"bad pooling", strings.Replace(good, "pooling: auto", "pooling: avg", 1), `features.pooling: expected mean, max, none or auto, got "avg"`},
		{"zero std", strings.Replace(good, "std: [0.5, 0.5, 0.5]", "std: [0.5, 0, 0.5]", 1), "normalize.std[1]: must not be 0"},
		{"url without hash", good + "url: http://example.com/m.onnx\n", "sha256: a download url needs"},
		{"not yaml", "input: [", "not valid YAML"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "spec.yaml")
			os.WriteFile(p, []byte(c.yaml), 0o644)
			_, err := LoadSpecFile(p)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want it to contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
			if !strings.Contains(err.Error(), "spec.yaml") {
				t.Errorf("error does not name the file: %q", err)
			}
		})
	}
}

func TestExampleSpecLoads(t *testing.T) {
	s, err := LoadSpecFile(filepath.Join("..", "configs", "custom-backbone.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Input.Layout != "NCHW" || s.Resize.Size != 256 || s.Features.Dim != 2048 || s.Classifier.Classes != "imagenet" {
		t.Errorf("%+v", s)
	}
}
