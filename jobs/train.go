package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/combined"
	"github.com/featurizer/featurizer/download"
	"github.com/featurizer/featurizer/head"
	"github.com/featurizer/featurizer/internal/memstat"
	"github.com/featurizer/featurizer/modelspec"
	"github.com/featurizer/featurizer/storage"
	"github.com/featurizer/featurizer/table"
)

// TrainConfig configures a training job.
type TrainConfig struct {
	// Features is the training table. Without Validation/Test tables (and
	// without a split column) it is split, stratified, by a seeded hash.
	Features   string
	Validation string
	Test       string
	Output     string // the model directory
	Overwrite  bool
	// ValFraction and TestFraction of the split (defaults 0.1 each; a
	// fraction is 0 when its table is given).
	ValFraction  float64
	TestFraction float64
	Head         head.Options
	// ModelsDir and BackboneWeights locate the backbone's ONNX file for the
	// combined model; without it only head.onnx is written.
	ModelsDir       string
	BackboneWeights string
	ORTLib          string
	Note            func(string)
	// StageKey is recorded in model.json; the run job compares it to skip
	// an up-to-date training stage.
	StageKey string
}

// TrainSummary is what a training job reports.
type TrainSummary struct {
	Model      string         `json:"model"`
	Classes    int            `json:"classes"`
	Rows       map[string]int `json:"rows"`
	RegParam   float64        `json:"reg_param"`
	Solver     string         `json:"solver"`
	Validation *head.Metrics  `json:"validation,omitempty"`
	Test       *head.Metrics  `json:"test,omitempty"`
	Seconds    float64        `json:"seconds"`
	PeakRSSMiB float64        `json:"peak_rss_mib"`
	Combined   bool           `json:"combined_onnx"`
	// Refit says the model was refit on train + validation (RefitRows)
	// with the chosen penalty; Validation then describes the fit on train
	// alone that chose it.
	Refit     bool `json:"refit"`
	RefitRows int  `json:"refit_rows,omitempty"`
}

func (c *TrainConfig) note(format string, args ...any) {
	if c.Note != nil {
		c.Note(fmt.Sprintf(format, args...))
	}
}

// openTable opens a feature table through table.OpenComplete (an
// incomplete table is refused; one in a bucket is downloaded first), and
// cleanups collects its removal.
func openTable(ctx context.Context, location string, cleanups *[]func()) (*head.Table, error) {
	t, err := head.Open(ctx, location)
	if err != nil {
		return nil, err
	}
	*cleanups = append(*cleanups, t.Close)
	return t, nil
}

func openTables(ctx context.Context, c *TrainConfig, cleanups *[]func()) (train, val, test *head.Table, err error) {
	if train, err = openTable(ctx, c.Features, cleanups); err != nil {
		return nil, nil, nil, &ConfigError{fmt.Errorf("features: %w", err)}
	}
	spec := train.FeatureSpec()
	for _, x := range []struct {
		path string
		dst  **head.Table
		name string
	}{{c.Validation, &val, "validation"}, {c.Test, &test, "test"}} {
		if x.path == "" {
			continue
		}
		t, err := openTable(ctx, x.path, cleanups)
		if err != nil {
			return nil, nil, nil, &ConfigError{fmt.Errorf("%s: %w", x.name, err)}
		}
		if t.Provenance != nil && train.Provenance != nil {
			if err := spec.Mismatch(t.FeatureSpec(), "the training table "+c.Features, "the "+x.name+" table "+x.path); err != nil {
				return nil, nil, nil, &ConfigError{err}
			}
		}
		if t.Dim != train.Dim {
			return nil, nil, nil, &ConfigError{fmt.Errorf("%s table %s has %d features, the training table %d", x.name, x.path, t.Dim, train.Dim)}
		}
		*x.dst = t
	}
	if train.HasSplit && (val != nil || test != nil) {
		return nil, nil, nil, &ConfigError{errors.New("the training table has a split column: give no separate validation or test table")}
	}
	return train, val, test, nil
}

// badValues makes a NaN or infinite feature in the table given as what
// (features, validation, test) a configuration error: the input is
// unusable as it is, and rerunning will not help.
func badValues(what string, err error) error {
	var be *head.BadValueError
	if errors.As(err, &be) {
		return &ConfigError{fmt.Errorf("%s: %w", what, err)}
	}
	return err
}

// Train trains a head on feature tables, evaluates it and writes the model
// directory (atomically: a temporary directory renamed into place).
func Train(ctx context.Context, c TrainConfig) (*TrainSummary, error) {
	start := time.Now()
	// The tables are read row by row into one matrix: collect the garbage
	// early so that peak memory stays near the matrix itself.
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	if c.Features == "" {
		return nil, &ConfigError{errors.New("features: no training table given")}
	}
	if c.Output == "" {
		return nil, &ConfigError{errors.New("output: no model directory given")}
	}
	out, err := storage.Open(ctx, c.Output)
	if err != nil {
		return nil, &ConfigError{fmt.Errorf("output: %w", err)}
	}
	defer out.Close()
	if ents, err := out.List(ctx, ""); err == nil && len(ents) > 0 && !c.Overwrite {
		return nil, &ConfigError{fmt.Errorf("output: %s exists; pass --overwrite to replace it", c.Output)}
	}
	var cleanups []func()
	defer func() {
		for _, f := range cleanups {
			f()
		}
	}()
	train, valT, testT, err := openTables(ctx, &c, &cleanups)
	if err != nil {
		return nil, err
	}
	classes, err := head.Classes(ctx, train)
	if err != nil {
		return nil, err
	}
	if len(classes) < 2 {
		return nil, &ConfigError{fmt.Errorf("features: the training rows have %d labels; a classifier needs at least 2", len(classes))}
	}
	so := head.SplitOptions{ValFraction: c.ValFraction, TestFraction: c.TestFraction, Seed: c.Head.Seed}
	if so.ValFraction == 0 && valT == nil && !train.HasSplit {
		so.ValFraction = 0.1
	}
	if so.TestFraction == 0 && testT == nil && !train.HasSplit {
		so.TestFraction = 0.1
	}
	if valT != nil {
		so.ValFraction = 0
	}
	if testT != nil {
		so.TestFraction = 0
	}
	a, err := head.Assign(ctx, train, classes, "", so)
	if err != nil {
		return nil, err
	}
	if a.Unlabeled > 0 {
		c.note("%d unlabelled rows of %s are not used", a.Unlabeled, c.Features)
	}
	load := func(t *head.Table, fixed, split string) (*head.Dataset, error) {
		if t == nil {
			ds, err := head.Load(ctx, train, a, split)
			return ds, badValues("features", err)
		}
		ta, err := head.Assign(ctx, t, classes, fixed, head.SplitOptions{})
		if err != nil {
			return nil, err
		}
		if ta.Unknown > 0 {
			c.note("%d rows of %s have labels the training rows lack; they are not evaluated", ta.Unknown, t.Dir)
		}
		ds, err := head.Load(ctx, t, ta, split)
		return ds, badValues(split, err)
	}
	val, err := load(valT, head.SplitValidation, head.SplitValidation)
	if err != nil {
		return nil, err
	}
	test, err := load(testT, head.SplitTest, head.SplitTest)
	if err != nil {
		return nil, err
	}
	nTrain := a.Count(head.SplitTrain)
	o := c.Head
	o.Log = func(s string) { c.note("%s", s) }
	o.Solver = o.ResolveSolver(nTrain, train.Dim)
	c.note("training %s on %d rows (%d classes, %d features), %d validation, %d test; solver %s, BLAS %s",
		modelKind(o.Hidden), nTrain, len(classes), train.Dim, val.N, test.N, o.Solver, head.UseBLAS())
	var res *head.Result
	if o.Solver == "adam" {
		res, err = head.TrainStream(ctx, &head.Stream{T: train, A: a, Split: head.SplitTrain}, val, len(classes), o)
		err = badValues("features", err)
	} else {
		var ds *head.Dataset
		if ds, err = head.Load(ctx, train, a, head.SplitTrain); err != nil {
			return nil, badValues("features", err)
		}
		res, err = head.Train(ctx, ds, val, len(classes), o)
	}
	if err != nil {
		var oe *head.OptionError
		if errors.As(err, &oe) {
			return nil, &ConfigError{err}
		}
		return nil, err
	}
	sum := &TrainSummary{Model: c.Output, Classes: len(classes), RegParam: res.Lambda, Solver: res.Solver, Refit: res.Refit, RefitRows: res.RefitRows,
		Rows: map[string]int{"train": nTrain, "validation": val.N, "test": test.N}}
	// Validation metrics are the selection fit's (the model trained on
	// train alone that chose the penalty); test metrics the final model's.
	if val.N > 0 {
		m := head.Evaluate(res.ValProbs, val.Y, classes)
		sum.Validation = &m
	}
	if test.N > 0 {
		res.Std.Apply(test.X, test.N)
		probs, err := res.Params.Probabilities(test.X, test.N)
		if err != nil {
			return nil, err
		}
		m := head.Evaluate(probs, test.Y, classes)
		sum.Test = &m
	}

	// The model directory is built aside and renamed (or, for a bucket,
	// uploaded) into place.
	parent := ""
	if _, local := storage.LocalPath(out.Location()); local {
		parent = filepath.Dir(filepath.Clean(c.Output))
	}
	tmp, err := os.MkdirTemp(parent, "."+path.Base(strings.TrimSuffix(c.Output, "/"))+".tmp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	folded := head.Fold(res.Params, res.Std)
	art := &head.Artefact{
		Created: time.Now().UTC(), Classes: classes, Features: train.FeatureSpec(),
		Head: head.HeadInfo{Type: "logistic_regression", Dim: folded.D, Hidden: folded.H, K: folded.K},
		Training: head.TrainingInfo{Solver: res.Solver, BLAS: res.BLAS, RegParam: res.Lambda, RegParamChosen: o.RegParam == nil,
			ElasticNetParam: o.ElasticNet, Standardize: !o.NoStandardize, ClassWeight: o.ClassWeight, Seed: o.Seed, MaxIter: o.MaxIter,
			Tol: o.Tol, Refit: res.Refit, RefitRows: res.RefitRows, ValidationMetrics: validationMetrics(res),
			Iterations: res.Iterations, Seconds: res.TrainSeconds, Rows: sum.Rows,
			Tables: map[string]string{"train": c.Features, "validation": c.Validation, "test": c.Test}, StageKey: c.StageKey},
		Validation: sum.Validation, Test: sum.Test,
	}
	if folded.H > 0 {
		art.Head.Type = "mlp"
	}
	var notes []string
	combined, why := combine(ctx, &c, art, folded, tmp)
	// Save writes the MLflow files for model.onnx when there is one, else
	// for head.onnx.
	if combined != nil {
		art.Combined = combined
		sum.Combined = true
	} else {
		notes = append(notes, "model.onnx (image in, probabilities out) was not written: "+why+". MLmodel describes head.onnx (features in).")
		c.note("combined model not written: %s", why)
	}
	art.Training.PeakRSSMiB = float64(memstat.PeakRSS()) / (1 << 20)
	art.Training.MaxIter = res.MaxIter
	if err := art.Save(tmp, folded); err != nil {
		return nil, err
	}
	rep := &head.Report{Title: "Classifier head on " + featuresTitle(art.Features, c.Features), Classes: classes, Features: art.Features,
		Solver: res.Solver, BLAS: res.BLAS, Lambda: res.Lambda, Alpha: o.ElasticNet, Hidden: o.Hidden, Curve: res.Curve,
		TrainRows: nTrain, Seconds: res.TrainSeconds, Validation: sum.Validation, Test: sum.Test, Notes: notes,
		Refit: res.RefitPoint, RefitRows: res.RefitRows}
	if err := head.WriteReport(tmp, rep); err != nil {
		return nil, err
	}
	if err := commitModel(context.WithoutCancel(ctx), tmp, out, c.Overwrite); err != nil {
		return nil, fmt.Errorf("commit model directory %s: %w", c.Output, err)
	}
	sum.Seconds = time.Since(start).Seconds()
	sum.PeakRSSMiB = float64(memstat.PeakRSS()) / (1 << 20)
	return sum, nil
}

// commitModel moves the finished model directory tmp into out. Locally it
// is one rename. A bucket has no rename: the files are uploaded one by one
// (each atomically), model.json last, since a model directory is complete
// when its model.json is there; an old model's model.json goes first.
func commitModel(ctx context.Context, tmp string, out storage.Store, overwrite bool) error {
	if p, local := storage.LocalPath(out.Location()); local {
		if overwrite {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
		return os.Rename(tmp, p)
	}
	if overwrite {
		if err := out.Remove(ctx, head.ModelFile); err != nil {
			return err
		}
		ents, err := out.List(ctx, "")
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := out.Remove(ctx, e.Name); err != nil {
				return err
			}
		}
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	for _, last := range []bool{false, true} {
		for _, e := range ents {
			if e.IsDir() || (e.Name() == head.ModelFile) != last {
				continue
			}
			data, err := os.ReadFile(filepath.Join(tmp, e.Name()))
			if err != nil {
				return err
			}
			if err := out.WriteFile(ctx, e.Name(), data); err != nil {
				return err
			}
		}
	}
	return nil
}

// validationMetrics says which model the validation metrics describe.
func validationMetrics(res *head.Result) string {
	if res.Refit {
		return "selection fit on train (the model was then refit on train + validation)"
	}
	return "model"
}

func modelKind(hidden int) string {
	if hidden > 0 {
		return fmt.Sprintf("an MLP head (%d hidden units)", hidden)
	}
	return "a logistic regression head"
}

func featuresTitle(f table.FeatureSpec, path string) string {
	if f.Backbone != "" {
		return f.Backbone + " features"
	}
	return path
}

// combine writes model.onnx when the backbone's weights are at hand and are
// the ones the features came from; otherwise it says why not.
func combine(ctx context.Context, c *TrainConfig, art *head.Artefact, folded *head.Params, dir string) (*head.CombinedInfo, string) {
	f := art.Features
	if f.WeightsSHA256 == "" {
		return nil, "the feature table has no provenance (not written by featurizer)"
	}
	var candidates []string
	if c.BackboneWeights != "" {
		candidates = append(candidates, c.BackboneWeights)
	}
	if s, err := modelspec.Lookup(f.Backbone); err == nil {
		dir := c.ModelsDir
		if dir == "" {
			dir = download.DefaultModelsDir()
		}
		candidates = append(candidates, filepath.Join(dir, s.File))
	}
	var path string
	for _, p := range candidates {
		if sha, err := backbones.HashModel(p); err == nil && sha == f.WeightsSHA256 {
			path = p
			break
		}
	}
	if path == "" {
		return nil, fmt.Sprintf("the %s weights with SHA-256 %s were not found (looked at %v)", f.Backbone, f.WeightsSHA256, candidates)
	}
	if err := backbones.InitRuntime(c.ORTLib); err != nil {
		return nil, err.Error()
	}
	data, err := backbones.ReadModel(path)
	if err != nil {
		return nil, err.Error()
	}
	spec := specFromFeatures(f)
	model, input, sample, err := combined.Build(data, spec, folded)
	if err != nil {
		return nil, "grafting the head onto the backbone failed: " + err.Error()
	}
	if err := table.WriteFileAtomic(filepath.Join(dir, head.CombinedONNX), model); err != nil {
		return nil, err.Error()
	}
	return &head.CombinedInfo{File: head.CombinedONNX, Input: input, InputShape: sample, Output: head.CombinedOutput, WeightsSHA256: f.WeightsSHA256}, ""
}

// specFromFeatures rebuilds the backbone spec a feature table was made with.
func specFromFeatures(f table.FeatureSpec) *modelspec.Spec {
	pooling := f.FeaturePooling
	if pooling == "" {
		pooling = "auto"
	}
	return &modelspec.Spec{Name: f.Backbone, Input: f.Preprocessing.Input, Resize: f.Preprocessing.Resize, Normalize: f.Preprocessing.Normalize,
		Features: modelspec.FeatureSpec{Tensor: f.FeatureTensor, Pooling: pooling, Dim: f.FeatureDim}}
}
