package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/featurizer/featurizer/featurize"
	"github.com/featurizer/featurizer/head"
	"github.com/featurizer/featurizer/jobs"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func cmdRun(ctx context.Context, args []string, stdout, stderr *os.File) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sets multiFlag
	var o jobs.RunOptions
	var quiet bool
	var progress string
	fs.Var(&sets, "set", "override a setting of the file, e.g. --set train.reg_param=0.01 (repeatable)")
	fs.BoolVar(&o.Offline, "offline", false, "never download weights or data")
	fs.BoolVar(&o.Overwrite, "force", false, "redo every stage, even those that are up to date")
	fs.StringVar(&o.ORTLib, "ort-lib", "", "path of libonnxruntime.so")
	fs.StringVar(&progress, "progress", "auto", "auto, bar, log or none")
	fs.BoolVar(&quiet, "quiet", false, "print only errors and the final summary")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "Usage: featurizer run JOB.yaml [--set key=value ...] [flags]\n\nFlags:")
			printFlags(stderr, fs)
			return flag.ErrHelp
		}
		return &usageError{fmt.Sprintf("run: %v (see 'featurizer run --help')", err)}
	}
	if len(pos) != 1 {
		return &usageError{"run: expected one job file (featurizer run JOB.yaml); see configs/ for examples"}
	}
	mode, err := progressMode(progress, quiet)
	if err != nil {
		return err
	}
	job, err := jobs.LoadJob(pos[0], sets)
	if err != nil {
		return err
	}
	// One display per stage, each finished before the next starts; the
	// train stage's notes clear its line first.
	var last progressFinisher
	var tp *trainProgress
	next := func(p progressFinisher) {
		if last != nil {
			last.Finish()
		}
		last = p
	}
	note := noteTo(stderr, quiet)
	o.Note = func(s string) {
		if tp != nil {
			tp.wrap(note)(s)
			return
		}
		note(s)
	}
	o.Progress = func(stage string) featurize.Progress {
		p := newProgress(stderr, mode, stage)
		next(p)
		return p
	}
	o.TrainProgress = func() head.Progress {
		tp = newTrainProgress(stderr, mode)
		next(tp)
		if tp == nil {
			return nil
		}
		return tp
	}
	sum, err := jobs.Run(ctx, job, o)
	if last != nil {
		last.Finish()
	}
	if err != nil {
		return err
	}
	for _, s := range sum.Stages {
		state := "done"
		if s.Skipped {
			state = "up to date"
		}
		fmt.Fprintf(stdout, "%-22s %-10s %s\n", s.Name, state, s.Detail)
	}
	if sum.Train != nil {
		fmt.Fprintln(stdout, trainLine(sum.Train))
	}
	fmt.Fprintf(stdout, "model: %s (report: %s/report.md)\n", sum.Model, sum.Model)
	return nil
}

type progressFinisher interface{ Finish() }
