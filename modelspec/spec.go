package modelspec

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/featurizer/featurizer/internal/strictyaml"
)

// Spec describes one backbone: where its weights come from, what input it
// takes and how images are prepared for it, and which tensors hold the
// features and the class scores.
type Spec struct {
	Name        string   `yaml:"name" json:"name"`
	Aliases     []string `yaml:"aliases,omitempty" json:"aliases,omitempty"`
	Description string   `yaml:"description,omitempty" json:"description,omitempty"`
	// File is the weights file name inside the models directory.
	File string `yaml:"file,omitempty" json:"file,omitempty"`
	// URL and SHA256 are the canonical download of File. An entry without a
	// URL has no published ONNX file: Export says how to make one. SHA256 is
	// HashModel's: the file's SHA-256, or, for a model that keeps its weights
	// in external data files, that of the model file followed by them.
	URL    string `yaml:"url,omitempty" json:"url,omitempty"`
	SHA256 string `yaml:"sha256,omitempty" json:"sha256,omitempty"`
	Export string `yaml:"export,omitempty" json:"export,omitempty"`
	// Source names the upstream weights the ONNX file is made from.
	Source string `yaml:"source,omitempty" json:"source,omitempty"`

	Input      InputSpec       `yaml:"input" json:"input"`
	Resize     ResizeSpec      `yaml:"resize" json:"resize"`
	Normalize  NormalizeSpec   `yaml:"normalize" json:"normalize"`
	Features   FeatureSpec     `yaml:"features" json:"features"`
	Classifier *ClassifierSpec `yaml:"classifier,omitempty" json:"classifier,omitempty"`

	dir string // directory of the spec file, for relative class files
}

// InputSpec is the model's image input.
type InputSpec struct {
	// Name of the graph input; empty means the model's only input.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Layout is NCHW or NHWC.
	Layout string `yaml:"layout" json:"layout"`
	// Size is [height, width].
	Size [2]int `yaml:"size" json:"size"`
	// Color is the channel order the model expects: RGB or BGR.
	Color string `yaml:"color" json:"color"`
}

// ResizeSpec says how an image of any size becomes Input.Size.
type ResizeSpec struct {
	// Policy "crop": shorter side to Size (torchvision rounding), then a
	// center crop to the input size. "squash": straight to the input size,
	// ignoring the aspect ratio (as Spark Deep Learning Pipelines did).
	Policy string `yaml:"policy" json:"policy"`
	Size   int    `yaml:"size,omitempty" json:"size,omitempty"`
	// Filter is the resampling filter; only PIL's "bilinear" is implemented.
	Filter string `yaml:"filter,omitempty" json:"filter"`
}

// NormalizeSpec maps 8-bit pixels to model values:
// ((pixel / Scale) - Mean[c]) / Std[c], each step in float32, with Mean and
// Std in the model's channel order.
type NormalizeSpec struct {
	Scale float32    `yaml:"scale" json:"scale"`
	Mean  [3]float32 `yaml:"mean" json:"mean"`
	Std   [3]float32 `yaml:"std" json:"std"`
}

// FeatureSpec is the feature tap: a tensor inside the graph and how it is
// pooled to one vector per image.
type FeatureSpec struct {
	// Tensor names the tap; empty or "auto" finds the pooled penultimate
	// layer.
	Tensor string `yaml:"tensor,omitempty" json:"tensor,omitempty"`
	// Pooling: mean or max over the spatial axes, none (already a vector),
	// or auto (mean when the tensor has spatial axes).
	Pooling string `yaml:"pooling,omitempty" json:"pooling,omitempty"`
	// Dim is the expected feature dimension; 0 accepts any.
	Dim int `yaml:"dim,omitempty" json:"dim,omitempty"`
}

// ClassifierSpec is the model's own classification output.
type ClassifierSpec struct {
	// Output names the graph output; empty means the model's first output.
	Output string `yaml:"output,omitempty" json:"output,omitempty"`
	// Activation: "logits" (softmax is applied) or "softmax" (the output
	// already holds probabilities).
	Activation string `yaml:"activation" json:"activation"`
	// Classes is a class list of the catalog (e.g. "imagenet") or a text
	// file with one class name per line, relative to the spec file.
	Classes string `yaml:"classes,omitempty" json:"classes,omitempty"`
}

// Preprocessing is the part of a spec that decides the pixels the model
// sees; it is recorded with every feature table.
type Preprocessing struct {
	Input     InputSpec     `json:"input"`
	Resize    ResizeSpec    `json:"resize"`
	Normalize NormalizeSpec `json:"normalize"`
}

// Dir is the directory of the spec file, against which a relative class
// file is read; empty for a catalog entry.
func (s *Spec) Dir() string { return s.dir }

// Preprocessing returns the spec's preprocessing.
func (s *Spec) Preprocessing() Preprocessing {
	return Preprocessing{Input: s.Input, Resize: s.Resize, Normalize: s.Normalize}
}

// JSON returns p as compact JSON, the form stored in provenance.
func (p Preprocessing) JSON() string {
	b, _ := json.Marshal(p)
	return string(b)
}

// LoadSpecFile reads a backbone spec from a YAML file.
func LoadSpecFile(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	var s Spec
	if err := strictyaml.Decode(path, data, &s); err != nil {
		return nil, err
	}
	s.dir = filepath.Dir(path)
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// Validate checks the spec and fills defaults. Errors name the field and
// what was expected.
func (s *Spec) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...))
	}
	switch strings.ToUpper(s.Input.Layout) {
	case "NCHW", "NHWC":
		s.Input.Layout = strings.ToUpper(s.Input.Layout)
	default:
		return bad("input.layout", "expected NCHW or NHWC, got %q", s.Input.Layout)
	}
	if s.Input.Size[0] <= 0 || s.Input.Size[1] <= 0 || s.Input.Size[0] > 8192 || s.Input.Size[1] > 8192 {
		return bad("input.size", "expected [height, width] between 1 and 8192, got %v", s.Input.Size)
	}
	switch strings.ToUpper(s.Input.Color) {
	case "", "RGB":
		s.Input.Color = "RGB"
	case "BGR":
		s.Input.Color = "BGR"
	default:
		return bad("input.color", "expected RGB or BGR, got %q", s.Input.Color)
	}
	switch s.Resize.Policy {
	case "crop":
		if s.Resize.Size < max(s.Input.Size[0], s.Input.Size[1]) {
			return bad("resize.size", "crop policy needs the shorter side (got %d) to be at least the input size %v", s.Resize.Size, s.Input.Size)
		}
	case "squash":
		if s.Resize.Size != 0 {
			return bad("resize.size", "squash resizes straight to input.size; leave size out (got %d)", s.Resize.Size)
		}
	default:
		return bad("resize.policy", "expected crop or squash, got %q", s.Resize.Policy)
	}
	switch s.Resize.Filter {
	case "", "bilinear":
		s.Resize.Filter = "bilinear"
	default:
		return bad("resize.filter", "expected bilinear, got %q", s.Resize.Filter)
	}
	if s.Normalize.Scale <= 0 {
		return bad("normalize.scale", "expected a positive divisor such as 255 or 127.5, got %v", s.Normalize.Scale)
	}
	for c, v := range s.Normalize.Std {
		if v == 0 {
			return bad(fmt.Sprintf("normalize.std[%d]", c), "must not be 0 (use 1 for no scaling)")
		}
	}
	if s.Features.Tensor == "auto" {
		s.Features.Tensor = ""
	}
	switch s.Features.Pooling {
	case "":
		s.Features.Pooling = "auto"
	case "auto", "mean", "max", "none":
	default:
		return bad("features.pooling", "expected mean, max, none or auto, got %q", s.Features.Pooling)
	}
	if s.Features.Dim < 0 {
		return bad("features.dim", "expected a positive dimension, got %d", s.Features.Dim)
	}
	if c := s.Classifier; c != nil {
		switch c.Activation {
		case "", "logits":
			c.Activation = "logits"
		case "softmax":
		default:
			return bad("classifier.activation", "expected logits or softmax, got %q", c.Activation)
		}
	}
	if s.SHA256 != "" {
		s.SHA256 = strings.ToLower(s.SHA256)
		if len(s.SHA256) != 64 || strings.Trim(s.SHA256, "0123456789abcdef") != "" {
			return bad("sha256", "expected 64 hex digits, got %q", s.SHA256)
		}
	}
	if s.URL != "" && s.SHA256 == "" {
		return bad("sha256", "a download url needs the file's SHA-256")
	}
	return nil
}
