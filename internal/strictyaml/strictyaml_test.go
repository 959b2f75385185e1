package strictyaml

import (
	"strings"
	"testing"
)

type inner struct {
	Size  [2]int  `yaml:"size"`
	Ratio float32 `yaml:"ratio"`
}

type cfg struct {
	Name  string            `yaml:"name"`
	On    bool              `yaml:"on"`
	Inner inner             `yaml:"inner"`
	List  []inner           `yaml:"list"`
	Tags  map[string]string `yaml:"tags"`
}

func TestDecode(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"name: x\non: true\ninner: {size: [1, 2], ratio: 0.5}\nlist: [{ratio: 1}]\ntags: {a: b}\n", ""},
		{"nmae: x\n", `job.yaml:1: nmae: unknown field (expected one of: inner, list, name, on, tags)`},
		{"on: maybe\n", `job.yaml:1: on: expected true or false, got "maybe"`},
		{"inner: {ratio: fast}\n", `job.yaml:1: inner.ratio: expected a number, got "fast"`},
		{"list: [{size: [1, 2, 3]}]\n", `job.yaml:1: list[0].size: expected a list of 2 values, got 3`},
		{"inner: 3\n", `job.yaml:1: inner: expected a mapping of ratio, size, got 3`},
		{"list:\n  - {}\n  - {sise: [1, 2]}\n", `job.yaml:3: list[1].sise: unknown field`},
	}
	for _, c := range cases {
		var v cfg
		err := Decode("job.yaml", []byte(c.yaml), &v)
		if c.want == "" {
			if err != nil {
				t.Errorf("%q: %v", c.yaml, err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.yaml, err, c.want)
		}
	}
}

func TestFields(t *testing.T) {
	got, err := Fields([]byte("name: x\ninner: {size: [1, 2], ratio: 0}\ntags: ~\nlist: [{ratio: 1}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"name": true, "inner": true, "inner.size": true, "inner.ratio": true, "list": true}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k := range want {
		if !got[k] {
			t.Errorf("%s missing from %v", k, got)
		}
	}
}
