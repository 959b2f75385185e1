package jobs

import (
	"fmt"
	"math"
	"strings"

	"github.com/featurizer/featurizer/head"
)

// The settings of a job are checked once, here, whether they came from
// flags or from a job file (and --set): each option struct has one
// Validate, and the error names the setting the way the user wrote it.

// Key names a setting the way the user wrote it: the setting batch_size is
// "--batch-size" on the command line and "featurize.batch_size" in a job
// file.
type Key func(setting string) string

// FlagKey names settings as the command line's flags.
func FlagKey(setting string) string { return "--" + strings.ReplaceAll(setting, "_", "-") }

// FileKey names settings as job-file keys under section.
func FileKey(section string) Key {
	return func(setting string) string { return section + "." + setting }
}

// Given reports whether the user set a setting. A setting left out takes
// its default (0 stands for it); one that is set must be valid, zero
// included. nil means none was given.
type Given func(setting string) bool

type checker struct {
	key   Key
	given Given
	err   error
}

func (c *checker) fail(setting, format string, args ...any) {
	if c.err == nil {
		c.err = &ConfigError{fmt.Errorf("%s: %s", c.key(setting), fmt.Sprintf(format, args...))}
	}
}

func (c *checker) isGiven(setting string) bool { return c.given != nil && c.given(setting) }

// positive: at least 1 when given; 0 (the default) when not.
func (c *checker) positive(setting string, v int64) {
	if v < 0 || (v == 0 && c.isGiven(setting)) {
		c.fail(setting, "expected a positive integer, got %d", v)
	}
}

// fraction: in [0, 1).
func (c *checker) fraction(setting string, v float64) {
	if !(v >= 0 && v < 1) {
		c.fail(setting, "expected a fraction in [0, 1), got %v", v)
	}
}

func (c *checker) oneOf(setting, v string, allowed ...string) {
	if v == "" {
		return // the default
	}
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	c.fail(setting, "expected %s, got %q", orList(allowed), v)
}

func orList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// MaxInFlight bounds --inflight.
const MaxInFlight = 16

// Validate checks the settings of a featurize or predict job. key names
// them (FlagKey, or FileKey("featurize") for a job file).
func (o *Common) Validate(key Key, given Given) error {
	c := &checker{key: key, given: given}
	c.positive("batch_size", int64(o.BatchSize))
	// Each batch in flight holds its own (page-locked) buffers and device
	// memory; beyond a few, nothing is gained.
	if v := o.InFlight; v < 0 || v > MaxInFlight || (v == 0 && c.isGiven("inflight")) {
		c.fail("inflight", "expected 1 to %d batches in inference at once, got %d", MaxInFlight, v)
	}
	c.positive("workers", int64(o.Workers))
	c.positive("threads", int64(o.Threads))
	if o.Readers < 0 {
		c.fail("readers", "expected a positive integer (or 0 for the default), got %d", o.Readers)
	}
	c.positive("rows_per_part", int64(o.RowsPerPart))
	c.positive("max_pixels", o.MaxPixels)
	c.positive("max_bytes", o.MaxBytes)
	c.oneOf("device", o.Device, "cpu", "cuda", "tensorrt")
	if o.DeviceID < 0 {
		c.fail("device_id", "expected a GPU index (0 or more), got %d", o.DeviceID)
	}
	return c.err
}

// Validate checks a predict job's settings: Common's and top_k.
func (o *PredictConfig) Validate(key Key, given Given) error {
	if err := o.Common.Validate(key, given); err != nil {
		return err
	}
	return validateTopK(o.TopK, key, given)
}

func validateTopK(k int, key Key, given Given) error {
	c := &checker{key: key, given: given}
	c.positive("top_k", int64(k))
	return c.err
}

// Validate checks a training job's settings: the split fractions and the
// head's options. key names both (FlagKey; in a job file the fractions
// are data.* and the rest train.*).
func (o *TrainConfig) Validate(key Key, given Given) error {
	c := &checker{key: key, given: given}
	c.fraction("validation_fraction", o.ValFraction)
	c.fraction("test_fraction", o.TestFraction)
	if c.err == nil && o.ValFraction+o.TestFraction >= 1 {
		c.fail("test_fraction", "%s and %s leave no training rows (%v + %v >= 1)",
			key("validation_fraction"), key("test_fraction"), o.ValFraction, o.TestFraction)
	}
	if c.err != nil {
		return c.err
	}
	return validateHead(&o.Head, key, given)
}

// validateHead checks the classifier head's options.
func validateHead(h *head.Options, key Key, given Given) error {
	c := &checker{key: key, given: given}
	c.oneOf("solver", h.Solver, "auto", "lbfgs", "adam")
	c.oneOf("class_weight", h.ClassWeight, "none", "balanced")
	if r := h.RegParam; r != nil && !(*r >= 0 && !math.IsInf(*r, 1)) {
		c.fail("reg_param", "expected a number >= 0, got %v", *r)
	}
	for _, g := range h.Grid {
		if !(g >= 0 && !math.IsInf(g, 1)) {
			c.fail("grid", "expected numbers >= 0, got %v", g)
		}
	}
	if !(h.ElasticNet >= 0 && h.ElasticNet <= 1) {
		c.fail("elastic_net_param", "expected a value in [0, 1], got %v", h.ElasticNet)
	}
	if h.Hidden < 0 {
		c.fail("hidden", "expected a number of hidden units (0 for none), got %d", h.Hidden)
	}
	c.positive("max_iter", int64(h.MaxIter))
	c.positive("patience", int64(h.Patience))
	c.positive("batch_size", int64(h.BatchSize))
	if lr := h.LearnRate; !(lr >= 0 && !math.IsInf(lr, 1)) || (lr == 0 && c.isGiven("learning_rate")) {
		c.fail("learning_rate", "expected a number > 0, got %v", lr)
	}
	return c.err
}
