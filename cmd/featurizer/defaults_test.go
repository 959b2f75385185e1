package main

import (
	"strconv"
	"testing"

	"github.com/featurizer/featurizer/jobs"
)

// The flags left out take the same defaults as a job file's settings
// left out (jobs.Defaults, one home), and --help shows those.
func TestFlagDefaultsAreTheJobDefaults(t *testing.T) {
	def := jobs.Defaults()
	for _, cmd := range []string{"featurize", "predict"} {
		f := newJobFlags(cmd)
		if err := f.parse([]string{"--backbone", "mobilenetv2", "--input", "in", "--output", "out"}, nil); err != nil {
			t.Fatal(err)
		}
		c := f.common
		if c.Device != def.Device || c.Workers != def.Workers || c.Threads != def.Threads || c.MaxPixels != def.MaxPixels ||
			c.MaxBytes != def.MaxBytes || c.RowsPerPart != def.RowsPerPart || c.ModelsDir != def.ModelsDir {
			t.Errorf("%s: flag defaults %+v, job defaults %+v", cmd, c, def)
		}
		for name, want := range map[string]string{"rows-per-part": strconv.Itoa(def.RowsPerPart), "max-pixels": strconv.FormatInt(def.MaxPixels, 10),
			"max-bytes": strconv.FormatInt(def.MaxBytes, 10), "device": def.Device, "workers": strconv.Itoa(def.Workers)} {
			if got := f.fs.Lookup(name).DefValue; got != want {
				t.Errorf("%s --%s: --help shows %s, the default is %s", cmd, name, got, want)
			}
		}
		if cmd == "predict" && f.topK != jobs.DefaultTopK {
			t.Errorf("--top-k default %d, want %d", f.topK, jobs.DefaultTopK)
		}
	}
	if def.RowsPerPart != 10000 || def.MaxPixels != 178956970 || def.MaxBytes != 256<<20 || def.Device != "cpu" || jobs.DefaultTopK != 5 {
		t.Errorf("the documented defaults changed: %+v, top-k %d", def, jobs.DefaultTopK)
	}
}
