package jobs

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/download"
	"github.com/featurizer/featurizer/featurize"
	"github.com/featurizer/featurizer/head"
	"github.com/featurizer/featurizer/table"
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

// DefaultTopK is how many classes a prediction keeps unless told.
const DefaultTopK = 5

// Defaults are the settings of a featurize or predict job that are not
// given, the same for the command line's flags (which show them) and a
// job file: one place says what each is. Batch size and batches in flight
// follow the device (see defaults) and are 0 here.
func Defaults() Common {
	return Common{
		Device:      backbones.DeviceCPU,
		Workers:     runtime.NumCPU(),
		Threads:     runtime.NumCPU(),
		RowsPerPart: table.DefaultRowsPerPart,
		MaxPixels:   featurize.DefaultMaxPixels,
		MaxBytes:    featurize.DefaultMaxBytes,
		ModelsDir:   download.DefaultModelsDir(),
	}
}

// defaults fills in the settings left out (zero) from Defaults, and the
// device's batch size and batches in flight.
func (c *Common) defaults() {
	d := Defaults()
	if c.Device == "" {
		c.Device = d.Device
	}
	if c.BatchSize <= 0 {
		c.BatchSize = backbones.DefaultBatchSize(c.Device)
	}
	if c.InFlight <= 0 {
		c.InFlight = DefaultInFlight(c.Device)
	}
	if c.Workers <= 0 {
		c.Workers = d.Workers
	}
	if c.Threads <= 0 {
		c.Threads = d.Threads
	}
	if c.RowsPerPart <= 0 {
		c.RowsPerPart = d.RowsPerPart
	}
	if c.ModelsDir == "" {
		c.ModelsDir = d.ModelsDir
	}
	// The limits in effect are recorded in the provenance: a run with the
	// defaults and one that names them are the same job.
	if c.MaxPixels == 0 {
		c.MaxPixels = d.MaxPixels
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = d.MaxBytes
	}
}

func (c *PredictConfig) defaults() {
	c.Common.defaults()
	if c.TopK <= 0 {
		c.TopK = DefaultTopK
	}
}

func (c *PredictModelConfig) defaults() {
	c.Common.defaults()
	if c.TopK <= 0 {
		c.TopK = DefaultTopK
	}
}

// DefaultInFlight is how many batches are in inference at once by default:
// on a GPU two, so that one batch's copy and the host's part of its call
// overlap another's compute; on the CPU one, as a second call would only
// compete for the same cores (measured: no gain).
func DefaultInFlight(device string) int {
	if device == backbones.DeviceCUDA || device == backbones.DeviceTensorRT {
		return 2
	}
	return 1
}

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
	c.oneOf("device", o.Device, backbones.DeviceCPU, backbones.DeviceCUDA, backbones.DeviceTensorRT)
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

// Validate checks the settings of a prediction with a trained head, as a
// predict job's.
func (o *PredictModelConfig) Validate(key Key, given Given) error {
	return (&PredictConfig{Common: o.Common, TopK: o.TopK}).Validate(key, given)
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

// validateHead checks the classifier head's options: their values in
// head.Options.Validate (the one home of those checks), and here that a
// setting given as 0 is not taken for its default.
func validateHead(h *head.Options, key Key, given Given) error {
	c := &checker{key: key, given: given}
	if err := h.Validate(); err != nil {
		var oe *head.OptionError
		if !errors.As(err, &oe) {
			return &ConfigError{err}
		}
		c.fail(oe.Setting, "%s", oe.Msg)
		return c.err
	}
	c.positive("max_iter", int64(h.MaxIter))
	c.positive("patience", int64(h.Patience))
	c.positive("batch_size", int64(h.BatchSize))
	if h.LearnRate == 0 && c.isGiven("learning_rate") {
		c.fail("learning_rate", "expected a number > 0, got 0")
	}
	if h.Tol == 0 && c.isGiven("tol") {
		c.fail("tol", "expected a number > 0, got 0")
	}
	return c.err
}
