package modelspec

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"

	"github.com/featurizer/featurizer/internal/strictyaml"
)

//go:embed catalog.yaml
var catalogYAML []byte

// ClassList is a named list of class names kept in the models directory.
type ClassList struct {
	File   string `yaml:"file"`
	URL    string `yaml:"url"`
	SHA256 string `yaml:"sha256"`
}

type catalogFile struct {
	ClassLists map[string]ClassList `yaml:"classlists"`
	Backbones  []Spec               `yaml:"backbones"`
}

var catalog = mustLoadCatalog()

func mustLoadCatalog() catalogFile {
	var c catalogFile
	if err := strictyaml.Decode("catalog.yaml", catalogYAML, &c); err != nil {
		panic(err)
	}
	for i := range c.Backbones {
		if err := c.Backbones[i].Validate(); err != nil {
			panic(fmt.Sprintf("catalog.yaml: %s: %v", c.Backbones[i].Name, err))
		}
	}
	return c
}

// Catalog returns the built-in backbones, in catalog order.
func Catalog() []Spec {
	out := make([]Spec, len(catalog.Backbones))
	copy(out, catalog.Backbones)
	return out
}

// Lookup finds a catalog backbone by name or alias, ignoring case.
func Lookup(name string) (*Spec, error) {
	for i := range catalog.Backbones {
		s := catalog.Backbones[i]
		if strings.EqualFold(s.Name, name) {
			return &s, nil
		}
		for _, a := range s.Aliases {
			if strings.EqualFold(a, name) {
				return &s, nil
			}
		}
	}
	var names []string
	for _, s := range catalog.Backbones {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return nil, fmt.Errorf("unknown backbone %q (expected one of: %s, or a path to an .onnx file with --spec)", name, strings.Join(names, ", "))
}

// LookupClassList returns a catalog class list by name.
func LookupClassList(name string) (ClassList, bool) {
	c, ok := catalog.ClassLists[name]
	return c, ok
}
