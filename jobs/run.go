package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/download"
	"github.com/featurizer/featurizer/featurize"
	"github.com/featurizer/featurizer/head"
	"github.com/featurizer/featurizer/inputs"
	"github.com/featurizer/featurizer/internal/strictyaml"
	"github.com/featurizer/featurizer/storage"
	"github.com/featurizer/featurizer/table"
	"gopkg.in/yaml.v3"
)

// JobConfig is a whole job in one YAML file: featurize the train,
// validation and test images, train a head, evaluate it, write the model
// and its report. Paths are relative to the file. Secrets never go here:
// credentials come from the environment only.
type JobConfig struct {
	Name      string            `yaml:"name"`
	Backbone  string            `yaml:"backbone"`
	Spec      string            `yaml:"spec,omitempty"`
	ModelsDir string            `yaml:"models_dir,omitempty"`
	Output    string            `yaml:"output"`
	Data      DataConfig        `yaml:"data"`
	Featurize FeaturizeSettings `yaml:"featurize,omitempty"`
	Train     TrainSettings     `yaml:"train,omitempty"`
}

// DataConfig names the image sources: directories (class/*.jpg) or
// manifests, optionally inside a downloaded archive.
type DataConfig struct {
	Archive            *Archive `yaml:"archive,omitempty"`
	Train              string   `yaml:"train"`
	Validation         string   `yaml:"validation,omitempty"`
	Test               string   `yaml:"test,omitempty"`
	ValidationFraction float64  `yaml:"validation_fraction,omitempty"`
	TestFraction       float64  `yaml:"test_fraction,omitempty"`
}

// FeaturizeSettings tune the featurize stage.
type FeaturizeSettings struct {
	Device     string `yaml:"device,omitempty"`
	DeviceID   int    `yaml:"device_id,omitempty"`
	FP16       bool   `yaml:"fp16,omitempty"`
	BatchSize  int    `yaml:"batch_size,omitempty"`
	InFlight   int    `yaml:"inflight,omitempty"`
	Workers    int    `yaml:"workers,omitempty"`
	Threads    int    `yaml:"threads,omitempty"`
	FastDecode bool   `yaml:"fast_decode,omitempty"`
	MaxPixels  int64  `yaml:"max_pixels,omitempty"`
}

// TrainSettings are the head's; they mirror 'featurizer train'.
type TrainSettings struct {
	Solver          string    `yaml:"solver,omitempty" json:"solver"`
	RegParam        *float64  `yaml:"reg_param,omitempty" json:"reg_param"`
	ElasticNetParam float64   `yaml:"elastic_net_param,omitempty" json:"elastic_net_param"`
	MaxIter         int       `yaml:"max_iter,omitempty" json:"max_iter"`
	Standardize     *bool     `yaml:"standardize,omitempty" json:"standardize"`
	ClassWeight     string    `yaml:"class_weight,omitempty" json:"class_weight"`
	Hidden          int       `yaml:"hidden,omitempty" json:"hidden"`
	Seed            int64     `yaml:"seed,omitempty" json:"seed"`
	BatchSize       int       `yaml:"batch_size,omitempty" json:"batch_size"`
	LearningRate    float64   `yaml:"learning_rate,omitempty" json:"learning_rate"`
	Grid            []float64 `yaml:"grid,omitempty" json:"grid"`
	Tol             float64   `yaml:"tol,omitempty" json:"tol"`
	// Refit false keeps the fit on train alone instead of refitting the
	// chosen penalty on train + validation.
	Refit *bool `yaml:"refit,omitempty" json:"refit"`
}

// LoadJob reads and validates a job file. overrides are "dotted.key=value"
// settings applied over the file (flags beat the file).
func LoadJob(path string, overrides []string) (*JobConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{fmt.Errorf("read job: %w", err)}
	}
	if len(overrides) > 0 {
		if data, err = applyOverrides(data, overrides); err != nil {
			return nil, &ConfigError{fmt.Errorf("%s: %w", path, err)}
		}
	}
	var c JobConfig
	if err := strictyaml.Decode(path, data, &c); err != nil {
		return nil, &ConfigError{err}
	}
	written, err := strictyaml.Fields(data)
	if err != nil {
		return nil, &ConfigError{err}
	}
	if err := c.validate(filepath.Dir(path), func(key string) bool { return written[key] }); err != nil {
		return nil, &ConfigError{fmt.Errorf("%s: %w", path, err)}
	}
	return &c, nil
}

var pathKeys = map[string]bool{"output": true, "models_dir": true, "spec": true, "data.train": true, "data.validation": true, "data.test": true}

// applyOverrides sets key=value pairs in the YAML tree; values are parsed
// as YAML scalars, so numbers stay numbers.
func applyOverrides(data []byte, overrides []string) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("not valid YAML: %v", err)
	}
	if len(root.Content) == 0 {
		root.Content = []*yaml.Node{{Kind: yaml.MappingNode}}
	}
	for _, o := range overrides {
		key, val, ok := strings.Cut(o, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("--set %q: expected key=value, e.g. train.reg_param=0.01", o)
		}
		// Paths given on the command line are relative to where it runs,
		// not to the job file.
		if pathKeys[key] && val != "" && !filepath.IsAbs(val) && !strings.Contains(val, "://") {
			if abs, err := filepath.Abs(val); err == nil {
				val = abs
			}
		}
		var v yaml.Node
		if err := yaml.Unmarshal([]byte(val), &v); err != nil || len(v.Content) == 0 {
			v = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: val}}}
		}
		node := root.Content[0]
		parts := strings.Split(key, ".")
		for i, p := range parts {
			if node.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("--set %s: %s is not a mapping", key, strings.Join(parts[:i], "."))
			}
			var next *yaml.Node
			for j := 0; j+1 < len(node.Content); j += 2 {
				if node.Content[j].Value == p {
					next = node.Content[j+1]
					if i == len(parts)-1 {
						node.Content[j+1] = v.Content[0]
					}
				}
			}
			if next == nil {
				next = &yaml.Node{Kind: yaml.MappingNode}
				if i == len(parts)-1 {
					next = v.Content[0]
				}
				node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: p}, next)
			}
			node = next
		}
	}
	return yaml.Marshal(&root)
}

// settings are the featurize settings of the job, as a featurize job's.
func (c *JobConfig) settings() Common {
	f := c.Featurize
	return Common{BatchSize: f.BatchSize, InFlight: f.InFlight, Workers: f.Workers, Threads: f.Threads, FastDecode: f.FastDecode,
		MaxPixels: f.MaxPixels, Device: f.Device, DeviceID: f.DeviceID, FP16: f.FP16}
}

// headOptions are the training settings of the job, as the head's options.
func (c *JobConfig) headOptions() head.Options {
	ts := c.Train
	o := head.Options{Solver: ts.Solver, RegParam: ts.RegParam, ElasticNet: ts.ElasticNetParam, MaxIter: ts.MaxIter,
		ClassWeight: ts.ClassWeight, Hidden: ts.Hidden, Seed: ts.Seed, BatchSize: ts.BatchSize, LearnRate: ts.LearningRate, Grid: ts.Grid, Tol: ts.Tol}
	if ts.Standardize != nil && !*ts.Standardize {
		o.NoStandardize = true
	}
	if ts.Refit != nil && !*ts.Refit {
		o.NoRefit = true
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	return o
}

// validate checks the job and makes its paths absolute. written says
// which dotted keys the file (with --set) gives.
func (c *JobConfig) validate(dir string, written func(key string) bool) error {
	if c.Backbone == "" && c.Spec == "" {
		return errors.New("backbone: expected a catalog name (see `featurizer backbones`) or a spec")
	}
	if c.Output == "" {
		return errors.New("output: expected the job's output directory")
	}
	if c.Data.Train == "" {
		return errors.New("data.train: expected a directory of class/*.jpg images or a manifest")
	}
	if c.Data.Archive != nil {
		if err := c.Data.Archive.Validate(); err != nil {
			return err
		}
	}
	// The same checks as the flags', naming the keys as written here.
	common := c.settings()
	if err := common.Validate(FileKey("featurize"), func(s string) bool { return written("featurize." + s) }); err != nil {
		return err
	}
	key := func(s string) string {
		if s == "validation_fraction" || s == "test_fraction" {
			return "data." + s
		}
		return "train." + s
	}
	tc := TrainConfig{ValFraction: c.Data.ValidationFraction, TestFraction: c.Data.TestFraction, Head: c.headOptions()}
	if err := tc.Validate(key, func(s string) bool { return written(key(s)) }); err != nil {
		return err
	}
	rel := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) && !strings.Contains(*p, "://") {
			*p = filepath.Join(dir, *p)
		}
	}
	rel(&c.Output)
	rel(&c.ModelsDir)
	rel(&c.Spec)
	if strings.HasSuffix(strings.ToLower(c.Backbone), ".onnx") {
		rel(&c.Backbone)
	}
	if c.Data.Archive == nil {
		rel(&c.Data.Train)
		rel(&c.Data.Validation)
		rel(&c.Data.Test)
		for _, p := range []struct{ name, path string }{{"data.train", c.Data.Train}, {"data.validation", c.Data.Validation}, {"data.test", c.Data.Test}} {
			if p.path == "" || storage.IsRemote(p.path) {
				continue
			}
			if _, err := os.Stat(p.path); err != nil {
				return fmt.Errorf("%s: %s does not exist", p.name, p.path)
			}
		}
	}
	return nil
}

// RunOptions are the run's own settings (not part of the job).
type RunOptions struct {
	ORTLib   string
	Offline  bool
	Progress func(stage string) featurize.Progress // one per featurize stage ("featurize train")
	// TrainProgress hears the train stage's fits and iterations (nil: nobody).
	TrainProgress func() head.Progress
	Note          func(string)
	Overwrite     bool // redo every stage
}

// RunSummary reports what a run did.
type RunSummary struct {
	Stages []StageResult
	Train  *TrainSummary
	Model  string
}

// StageResult is one stage's outcome: done or skipped as up to date.
type StageResult struct {
	Name    string
	Skipped bool
	Detail  string
}

// Run runs a job: featurize each split (skipping a split whose table is
// complete for the same backbone, weights, preprocessing and inputs), then
// train (skipped when the model is up to date for the same tables and
// settings).
func Run(ctx context.Context, c *JobConfig, o RunOptions) (*RunSummary, error) {
	note := func(format string, args ...any) {
		if o.Note != nil {
			o.Note(fmt.Sprintf(format, args...))
		}
	}
	models := c.ModelsDir
	if models == "" {
		models = Defaults().ModelsDir
	}
	data := c.Data
	if data.Archive != nil {
		root, err := data.Archive.Fetch(ctx, download.CacheDir(), o.Offline, o.Note)
		if err != nil {
			return nil, err
		}
		for _, p := range []*string{&data.Train, &data.Validation, &data.Test} {
			if *p != "" {
				*p = filepath.Join(root, *p)
			}
		}
	}
	// The backbone as it is now: its weights' hash is part of every key.
	store := &download.Store{Dir: models, Offline: o.Offline, Note: o.Note}
	name := c.Backbone
	bb, err := backbones.Resolve(ctx, backbones.ResolveOptions{Name: name, SpecPath: c.Spec, Store: store})
	if err != nil {
		return nil, &ConfigError{err}
	}
	sum := &RunSummary{Model: storage.Join(c.Output, "model")}
	tables := map[string]string{}
	keys := map[string]string{}
	for _, split := range []struct{ name, src string }{{"train", data.Train}, {"validation", data.Validation}, {"test", data.Test}} {
		if split.src == "" {
			continue
		}
		out := storage.Join(c.Output, "features", split.name)
		tables[split.name] = out
		key, err := featurizeKey(ctx, bb, c, split.src)
		if err != nil {
			return nil, err
		}
		keys[split.name] = key
		if m, err := table.ReadManifest(out); err == nil && m.StageKey == key && !o.Overwrite && tableComplete(ctx, out) {
			note("featurize %s: up to date (%d rows in %s)", split.name, m.Rows, out)
			sum.Stages = append(sum.Stages, StageResult{Name: "featurize " + split.name, Skipped: true, Detail: out})
			continue
		}
		cfg := FeaturizeConfig{Common: c.settings()}
		cfg.Backbone, cfg.Spec, cfg.ModelsDir, cfg.Offline, cfg.ORTLib = c.Backbone, c.Spec, models, o.Offline, o.ORTLib
		// New and changed images only, when the table was made with the
		// same backbone and settings; else it is made again.
		cfg.Input, cfg.Output, cfg.Overwrite, cfg.Incremental = split.src, out, true, !o.Overwrite
		cfg.Note, cfg.StageKey = o.Note, key
		if o.Progress != nil {
			cfg.Progress = o.Progress("featurize " + split.name)
		}
		note("featurize %s: %s -> %s", split.name, split.src, out)
		fs, err := Featurize(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("featurize %s: %w", split.name, err)
		}
		sum.Stages = append(sum.Stages, StageResult{Name: "featurize " + split.name,
			Detail: fmt.Sprintf("%d rows, %d rejected, %.1f img/s", fs.Rows, fs.Rejected, fs.ImagesPerSecond)})
	}

	// Train: the key is the settings plus the keys of the tables.
	ts := c.Train
	keyJSON, _ := json.Marshal(map[string]any{"train": ts, "tables": keys,
		"validation_fraction": data.ValidationFraction, "test_fraction": data.TestFraction})
	kh := sha256.Sum256(keyJSON)
	trainKey := hex.EncodeToString(kh[:])
	modelDir := sum.Model
	if art, err := loadArtefactInfo(ctx, modelDir); err == nil && art.Training.StageKey == trainKey && !o.Overwrite {
		note("train: up to date (%s)", modelDir)
		sum.Stages = append(sum.Stages, StageResult{Name: "train", Skipped: true, Detail: modelDir})
		return sum, nil
	}
	hopts := c.headOptions()
	tc := TrainConfig{Features: tables["train"], Validation: tables["validation"], Test: tables["test"], Output: modelDir, Overwrite: true,
		ValFraction: data.ValidationFraction, TestFraction: data.TestFraction, Head: hopts, ModelsDir: models,
		BackboneWeights: bb.WeightsPath, ORTLib: o.ORTLib, Note: o.Note, StageKey: trainKey}
	note("train: %s", modelDir)
	if o.TrainProgress != nil {
		tc.Head.Progress = o.TrainProgress()
	}
	tsum, err := Train(ctx, tc)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	sum.Train = tsum
	sum.Stages = append(sum.Stages, StageResult{Name: "train", Detail: modelDir})
	return sum, nil
}

// featurizeKey fingerprints a featurize stage: the backbone's weights and
// spec, the settings that change feature values, and the input listing
// (paths, sizes, modification times), so that new or changed images redo
// the stage.
func featurizeKey(ctx context.Context, bb *backbones.Backbone, c *JobConfig, src string) (string, error) {
	h := sha256.New()
	spec, _ := json.Marshal(bb.Spec)
	fmt.Fprintf(h, "weights %s\nspec %s\nfast_decode %v\nmax_pixels %d\ninput %s\n", bb.WeightsSHA256, spec, c.Featurize.FastDecode, c.Featurize.MaxPixels, src)
	var lines []string
	if st, err := os.Stat(src); err == nil && !st.IsDir() {
		lines = append(lines, fmt.Sprintf("%s %d %d", src, st.Size(), st.ModTime().UnixNano()))
	} else {
		s, err := inputs.Open(ctx, nil, src)
		if err != nil {
			return "", &ConfigError{err}
		}
		err = s.Walk(ctx, func(it inputs.Item) error {
			switch {
			case it.Version != "": // listed with size and ETag/modification time
				lines = append(lines, fmt.Sprintf("%s %d %s", it.Path, it.Size, it.Version))
			case !storage.IsRemote(it.Open):
				if st, err := os.Stat(it.Open); err == nil {
					lines = append(lines, fmt.Sprintf("%s %d %d", it.Path, st.Size(), st.ModTime().UnixNano()))
				}
			default:
				lines = append(lines, it.Path)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(h, l)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// tableComplete reports whether the table at a location is complete
// (table.Verify): only such a table is reused as it is.
func tableComplete(ctx context.Context, location string) bool {
	d, err := storage.Open(ctx, location)
	if err != nil {
		return false
	}
	defer d.Close()
	_, err = table.Verify(ctx, d, table.VerifyOptions{})
	return err == nil
}

// loadArtefactInfo reads a model directory's model.json, wherever it is.
func loadArtefactInfo(ctx context.Context, location string) (*head.Artefact, error) {
	dir, cleanup, err := storage.FetchDir(ctx, location, func(n string) bool { return n == head.ModelFile || n == head.HeadONNX })
	if err != nil {
		return nil, err
	}
	defer cleanup()
	art, _, err := head.LoadArtefact(dir)
	return art, err
}
