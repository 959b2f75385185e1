package jobs

import (
	"os"
	"path/filepath"
	"testing"
)

// A job file's featurize settings left out get Defaults, as the flags do,
// and both kinds of prediction keep DefaultTopK classes unless told.
func TestJobFileDefaults(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "train"), 0o755)
	job := filepath.Join(dir, "job.yaml")
	os.WriteFile(job, []byte("backbone: mobilenetv2\noutput: out\ndata: {train: train}\n"), 0o644)
	jc, err := LoadJob(job, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := jc.settings()
	c.defaults()
	def := Defaults()
	if c.Device != def.Device || c.Workers != def.Workers || c.Threads != def.Threads || c.MaxPixels != def.MaxPixels ||
		c.MaxBytes != def.MaxBytes || c.RowsPerPart != def.RowsPerPart || c.ModelsDir != def.ModelsDir || c.BatchSize != 32 || c.InFlight != 1 {
		t.Errorf("job file defaults %+v, want %+v", c, def)
	}
	p := PredictConfig{}
	p.defaults()
	pm := PredictModelConfig{}
	pm.defaults()
	if p.TopK != DefaultTopK || pm.TopK != DefaultTopK || pm.RowsPerPart != def.RowsPerPart {
		t.Errorf("top-k %d and %d, want %d", p.TopK, pm.TopK, DefaultTopK)
	}
	set := PredictModelConfig{TopK: 3}
	set.defaults()
	if set.TopK != 3 {
		t.Errorf("a given top-k replaced: %d", set.TopK)
	}
}
