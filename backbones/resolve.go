package backbones

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/featurizer/featurizer/download"
	"github.com/featurizer/featurizer/modelspec"
)

// Backbone is a spec with its weights located and verified.
type Backbone struct {
	Spec        modelspec.Spec
	WeightsPath string
	// WeightsSHA256 identifies the weights (HashModel): the file's SHA-256,
	// or for a model with external data files that of the model file
	// followed by its data files.
	WeightsSHA256 string
	// Classes are the classifier's class names, index i = class i; nil when
	// the spec names no class list.
	Classes []string
}

// ResolveOptions say which backbone to use.
type ResolveOptions struct {
	// Name is a catalog name or alias, or the path of an ONNX file (which
	// then needs SpecPath).
	Name string
	// SpecPath is a YAML spec for a model outside the catalog. Alone, it is
	// a complete entry whose file lives in the store.
	SpecPath string
	Store    *download.Store
	// Classes loads the classifier's class names (for prediction).
	Classes bool
}

// Resolve finds the spec and the weights, downloading them when allowed.
func Resolve(ctx context.Context, o ResolveOptions) (*Backbone, error) {
	store := o.Store
	if store == nil {
		store = &download.Store{Dir: download.DefaultModelsDir()}
	}
	var spec *modelspec.Spec
	var err error
	b := &Backbone{}
	isFile := o.Name != "" && (strings.HasSuffix(strings.ToLower(o.Name), ".onnx") || fileExists(o.Name))
	switch {
	case o.SpecPath != "":
		if spec, err = modelspec.LoadSpecFile(o.SpecPath); err != nil {
			return nil, err
		}
		if o.Name != "" && !isFile {
			return nil, fmt.Errorf("--spec describes a model file: give --backbone the path of the .onnx file (got %q) or leave it out to use the spec's file", o.Name)
		}
		if isFile {
			b.WeightsPath = o.Name
			if b.WeightsSHA256, err = HashModel(o.Name); err != nil {
				return nil, fmt.Errorf("read model: %w", err)
			}
			if spec.SHA256 != "" && spec.SHA256 != b.WeightsSHA256 {
				return nil, fmt.Errorf("verify weights: %w", &download.ChecksumError{Path: o.Name, Got: b.WeightsSHA256, Expected: spec.SHA256})
			}
		} else {
			if spec.File == "" {
				return nil, fmt.Errorf("%s: file: the spec names no weights file; give the model path with --backbone", o.SpecPath)
			}
			if b.WeightsPath, b.WeightsSHA256, err = ensureModel(ctx, store, spec.File, spec.URL, spec.SHA256, spec.Export); err != nil {
				return nil, err
			}
		}
	case o.Name == "":
		return nil, fmt.Errorf("no backbone given: use --backbone with a catalog name (see `featurizer backbones`) or a model file with --spec")
	case isFile:
		return nil, fmt.Errorf("%s is a model file: describe its input, preprocessing and feature tap with --spec spec.yaml (see configs/custom-backbone.yaml)", o.Name)
	default:
		if spec, err = modelspec.Lookup(o.Name); err != nil {
			return nil, err
		}
		hint := strings.ReplaceAll(spec.Export, "MODELS_DIR", store.Dir)
		if b.WeightsPath, b.WeightsSHA256, err = ensureModel(ctx, store, spec.File, spec.URL, spec.SHA256, hint); err != nil {
			return nil, withClassList(err, store, spec, o.Classes)
		}
	}
	b.Spec = *spec
	if c := spec.Classifier; o.Classes && c != nil && c.Classes != "" {
		if b.Classes, err = loadClasses(ctx, store, spec, c.Classes); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func loadClasses(ctx context.Context, store *download.Store, spec *modelspec.Spec, name string) ([]string, error) {
	var path string
	if list, ok := modelspec.LookupClassList(name); ok {
		p, _, err := store.Ensure(ctx, list.File, list.URL, list.SHA256, "")
		if err != nil {
			return nil, fmt.Errorf("class list %q: %w", name, err)
		}
		path = p
	} else {
		path = name
		if !filepath.IsAbs(path) && spec.Dir() != "" {
			path = filepath.Join(spec.Dir(), path)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("classifier.classes: %w", err)
	}
	return ParseClassList(data), nil
}

// ParseClassList reads one class name per line; a trailing empty line is
// ignored.
func ParseClassList(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		out = append(out, strings.TrimRight(sc.Text(), "\r"))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
