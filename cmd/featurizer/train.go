package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/featurizer/featurizer/download"
	"github.com/featurizer/featurizer/head"
	"github.com/featurizer/featurizer/jobs"
)

func cmdTrain(ctx context.Context, args []string, stdout, stderr *os.File) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c jobs.TrainConfig
	var reg, grid string
	var quiet, noStd bool
	refit := true
	c.Head = head.DefaultOptions()
	d := c.Head
	fs.StringVar(&c.Features, "features", "", "training feature table (from 'featurizer featurize'); split by --validation-fraction/--test-fraction unless tables are given")
	fs.StringVar(&c.Validation, "validation", "", "validation feature table (chooses the penalty; stops Adam and the MLP early)")
	fs.StringVar(&c.Test, "test", "", "test feature table (reported, never used to choose)")
	fs.StringVar(&c.Output, "output", "", "model directory to write")
	fs.BoolVar(&c.Overwrite, "overwrite", false, "replace an existing model directory")
	fs.Float64Var(&c.ValFraction, "validation-fraction", 0, "share of --features held out for validation when no --validation table (default 0.1)")
	fs.Float64Var(&c.TestFraction, "test-fraction", 0, "share of --features held out for test when no --test table (default 0.1)")
	fs.StringVar(&c.Head.Solver, "solver", d.Solver, "auto, lbfgs (full batch, in memory) or adam (mini-batch, streams the table)")
	fs.StringVar(&reg, "reg-param", "", "penalty strength (Spark's regParam); omit to choose it on validation over a log grid")
	fs.StringVar(&grid, "grid", "", "comma-separated reg_param values searched on validation, strongest first (default 1 down to 1e-6, two per decade)")
	fs.Float64Var(&c.Head.ElasticNet, "elastic-net-param", 0, "Spark's elasticNetParam: 0 = L2, 1 = L1")
	fs.BoolVar(&noStd, "no-standardize", false, "train on raw features instead of standardized ones")
	fs.StringVar(&c.Head.ClassWeight, "class-weight", d.ClassWeight, "none or balanced")
	fs.IntVar(&c.Head.Hidden, "hidden", 0, "hidden ReLU units: an MLP head instead of logistic regression")
	fs.IntVar(&c.Head.MaxIter, "max-iter", 0, "most L-BFGS iterations (default 200) or Adam epochs (default 30) per penalty")
	fs.Float64Var(&c.Head.Tol, "tol", d.Tol, "L-BFGS convergence tolerance (Spark's tol): the largest gradient component, or the loss's relative fall over 10 iterations")
	fs.BoolVar(&refit, "refit", refit, "refit the chosen penalty on train + validation (Spark's TrainValidationSplit); --refit=false keeps the fit on train alone")
	fs.IntVar(&c.Head.Patience, "patience", 0, "early stopping of Adam and the MLP: epochs (Adam, default 4) or iterations (MLP with L-BFGS, default 10) without a better validation loss")
	fs.IntVar(&c.Head.BatchSize, "batch-size", d.BatchSize, "Adam mini-batch size")
	fs.Float64Var(&c.Head.LearnRate, "learning-rate", d.LearnRate, "Adam learning rate")
	fs.Int64Var(&c.Head.Seed, "seed", d.Seed, "seed of the split, the shuffling and the MLP initialization: the same seed gives the same model")
	fs.StringVar(&c.ModelsDir, "models-dir", download.DefaultModelsDir(), "where the backbone's weights are, for the combined image-to-class ONNX model")
	fs.StringVar(&c.BackboneWeights, "backbone-weights", "", "the backbone's .onnx file, when it is not a catalog model in --models-dir")
	fs.StringVar(&c.ORTLib, "ort-lib", "", "path of libonnxruntime.so")
	fs.BoolVar(&quiet, "quiet", false, "print only errors and the final summary line")
	progress := fs.String("progress", "auto", "auto (a line redrawn on a terminal, timestamped lines otherwise), bar, log or none: the penalty path's fits and iterations")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "Usage: featurizer train --features TABLE --output MODEL_DIR [flags]\n\nFlags:")
			printFlags(stderr, fs)
			return flag.ErrHelp
		}
		return &usageError{fmt.Sprintf("train: %v (see 'featurizer train --help')", err)}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("train: unexpected argument %q", fs.Arg(0))}
	}
	if c.Features == "" || c.Output == "" {
		return &usageError{"train: --features and --output are required (see 'featurizer train --help')"}
	}
	if reg != "" {
		v, err := strconv.ParseFloat(reg, 64)
		if err != nil {
			return &usageError{fmt.Sprintf("--reg-param: expected a number >= 0, got %q", reg)}
		}
		c.Head.RegParam = &v
	}
	if grid != "" {
		for _, f := range strings.Split(grid, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				return &usageError{fmt.Sprintf("--grid: expected comma-separated numbers >= 0, got %q", f)}
			}
			c.Head.Grid = append(c.Head.Grid, v)
		}
	}
	c.Head.NoStandardize = noStd
	c.Head.NoRefit = !refit
	// The same checks as a job file's train settings get, naming the flags.
	if err := c.Validate(jobs.FlagKey, func(s string) bool { return flagSet(fs, strings.TrimPrefix(jobs.FlagKey(s), "--")) }); err != nil {
		return err
	}
	c.Note = noteTo(stderr, quiet)
	mode, err := progressMode(*progress, quiet)
	if err != nil {
		return err
	}
	tp := newTrainProgress(stderr, mode)
	if tp != nil {
		c.Head.Progress, c.Note = tp, tp.wrap(c.Note)
	}
	sum, err := jobs.Train(ctx, c)
	tp.Finish()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, trainLine(sum))
	return nil
}

func trainLine(s *jobs.TrainSummary) string {
	line := fmt.Sprintf("train done: %d classes, %d train rows, reg_param %.3g (%s)", s.Classes, s.Rows["train"], s.RegParam, s.Solver)
	if s.Validation != nil {
		line += fmt.Sprintf(", validation accuracy %.4f", s.Validation.Accuracy)
	}
	if s.Refit {
		line += fmt.Sprintf(", refit on train + validation (%d rows)", s.RefitRows)
	}
	if s.Test != nil {
		line += fmt.Sprintf(", test accuracy %.4f (macro F1 %.4f)", s.Test.Accuracy, s.Test.MacroF1)
	}
	return line + fmt.Sprintf(" in %.1fs (peak RSS %.0f MiB) -> %s", s.Seconds, s.PeakRSSMiB, s.Model)
}
