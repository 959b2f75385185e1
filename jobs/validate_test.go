package jobs

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/head"
)

func all(string) bool { return true }

// One check per option struct: a value out of range is refused with the
// setting named as the caller writes it, left-out settings (zero) take
// their defaults, and given ones must be valid, zero included.
func TestValidateCommon(t *testing.T) {
	cases := []struct {
		c     Common
		given Given
		want  string // "" is valid
	}{
		{Common{}, nil, ""},
		{Common{BatchSize: 8, InFlight: 2, Workers: 2, Threads: 1, Readers: 0, RowsPerPart: 5, MaxPixels: 1, MaxBytes: 1, Device: "cuda", DeviceID: 1}, all, ""},
		{Common{BatchSize: 0}, all, "batch_size: expected a positive integer, got 0"},
		{Common{BatchSize: -5}, nil, "batch_size: expected a positive integer, got -5"},
		{Common{Workers: -2}, nil, "workers: expected a positive integer, got -2"},
		{Common{Threads: 0}, func(s string) bool { return s == "threads" }, "threads: expected a positive integer, got 0"},
		{Common{Readers: -1}, nil, "readers: expected a positive integer (or 0 for the default), got -1"},
		{Common{Readers: 0}, all, "batch_size"}, // readers 0 is fine; batch_size 0 is not
		{Common{RowsPerPart: -1}, nil, "rows_per_part: expected a positive integer, got -1"},
		{Common{MaxPixels: -1}, nil, "max_pixels: expected a positive integer, got -1"},
		{Common{MaxBytes: -1}, nil, "max_bytes: expected a positive integer, got -1"},
		{Common{Device: "tpu"}, nil, `device: expected cpu, cuda or tensorrt, got "tpu"`},
		{Common{DeviceID: -1}, nil, "device_id: expected a GPU index (0 or more), got -1"},
	}
	for _, c := range cases {
		err := c.c.Validate(FileKey("featurize"), c.given)
		check(t, err, c.want, "featurize.")
		err = c.c.Validate(FlagKey, c.given)
		check(t, err, strings.ReplaceAll(c.want, "_", "-"), "--")
	}
	if err := (&PredictConfig{TopK: 0}).Validate(FlagKey, func(s string) bool { return s == "top_k" }); err == nil || !strings.Contains(err.Error(), "--top-k: expected a positive integer, got 0") {
		t.Errorf("top_k 0: %v", err)
	}
}

func TestValidateTrain(t *testing.T) {
	neg, nan := -1.0, math.NaN()
	cases := []struct {
		c     TrainConfig
		given Given
		want  string
	}{
		{TrainConfig{}, nil, ""},
		{TrainConfig{ValFraction: 0.2, TestFraction: 0, Head: head.Options{Solver: "adam", ClassWeight: "balanced", Hidden: 0, ElasticNet: 1,
			MaxIter: 3, Patience: 1, BatchSize: 1, LearnRate: 0.1, Grid: []float64{1, 0}, Tol: 1e-6}}, all, ""},
		{TrainConfig{ValFraction: 1}, nil, "validation_fraction: expected a fraction in [0, 1), got 1"},
		{TrainConfig{TestFraction: -0.1}, nil, "test_fraction: expected a fraction in [0, 1), got -0.1"},
		{TrainConfig{ValFraction: 0.6, TestFraction: 0.5}, nil, "leave no training rows (0.6 + 0.5 >= 1)"},
		{TrainConfig{Head: head.Options{Solver: "newton"}}, nil, `solver: expected auto, lbfgs or adam, got "newton"`},
		{TrainConfig{Head: head.Options{ClassWeight: "equal"}}, nil, `class_weight: expected none or balanced, got "equal"`},
		{TrainConfig{Head: head.Options{RegParam: &neg}}, nil, "reg_param: expected a number >= 0, got -1"},
		{TrainConfig{Head: head.Options{RegParam: &nan}}, nil, "reg_param: expected a number >= 0, got NaN"},
		{TrainConfig{Head: head.Options{Grid: []float64{0.1, -1}}}, nil, "grid: expected numbers >= 0, got -1"},
		{TrainConfig{Head: head.Options{ElasticNet: 1.5}}, nil, "elastic_net_param: expected a value in [0, 1], got 1.5"},
		{TrainConfig{Head: head.Options{Hidden: -3}}, nil, "hidden: expected a number of hidden units (0 for none), got -3"},
		{TrainConfig{Head: head.Options{MaxIter: -1}}, nil, "max_iter: expected a positive integer, got -1"},
		{TrainConfig{Head: head.Options{MaxIter: 0}}, all, "max_iter: expected a positive integer, got 0"},
		{TrainConfig{Head: head.Options{MaxIter: 1}}, all, "patience: expected a positive integer, got 0"},
		{TrainConfig{Head: head.Options{BatchSize: -256}}, nil, "batch_size: expected a positive integer, got -256"},
		{TrainConfig{Head: head.Options{LearnRate: -0.1}}, nil, "learning_rate: expected a number > 0, got -0.1"},
		{TrainConfig{Head: head.Options{LearnRate: 0}}, func(s string) bool { return s == "learning_rate" }, "learning_rate: expected a number > 0, got 0"},
		{TrainConfig{Head: head.Options{Tol: -1}}, nil, "tol: expected a number > 0, got -1"},
		{TrainConfig{Head: head.Options{Tol: 0}}, func(s string) bool { return s == "tol" }, "tol: expected a number > 0, got 0"},
	}
	for _, c := range cases {
		check(t, c.c.Validate(FlagKey, c.given), strings.ReplaceAll(c.want, "_", "-"), "--")
	}
}

func check(t *testing.T, err error, want, prefix string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("valid settings refused: %v", err)
		}
		return
	}
	var ce *ConfigError
	if err == nil || !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want a configuration error with %q", err, prefix+want)
	}
}
