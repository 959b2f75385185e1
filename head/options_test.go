package head

import (
	"context"
	"errors"
	"math"
	"testing"
)

// Validate is the one home of the options' checks: each bad value is an
// OptionError naming the setting; the defaults pass.
func TestOptionsValidate(t *testing.T) {
	neg, inf := -1.0, math.Inf(1)
	for _, c := range []struct {
		o       Options
		setting string
	}{
		{Options{}, ""},
		{DefaultOptions(), ""},
		{Options{Solver: "newton"}, "solver"},
		{Options{ClassWeight: "equal"}, "class_weight"},
		{Options{RegParam: &neg}, "reg_param"},
		{Options{RegParam: &inf}, "reg_param"},
		{Options{Grid: []float64{1, math.NaN()}}, "grid"},
		{Options{ElasticNet: 2}, "elastic_net_param"},
		{Options{Hidden: -1}, "hidden"},
		{Options{MaxIter: -1}, "max_iter"},
		{Options{Patience: -1}, "patience"},
		{Options{BatchSize: -1}, "batch_size"},
		{Options{LearnRate: -1}, "learning_rate"},
		{Options{Tol: -1e-6}, "tol"},
	} {
		err := c.o.Validate()
		var oe *OptionError
		if c.setting == "" {
			if err != nil {
				t.Errorf("%+v: %v", c.o, err)
			}
		} else if !errors.As(err, &oe) || oe.Setting != c.setting {
			t.Errorf("%+v: got %v, want an error about %s", c.o, err, c.setting)
		}
		// Train refuses what Validate refuses, with the same error.
		if c.setting != "" {
			lam := 0.1
			o := c.o
			if o.RegParam == nil {
				o.RegParam = &lam
			}
			_, terr := Train(context.Background(), blobs(20, 2, 2, 1, 1), nil, 2, o)
			if terr == nil || terr.Error() != o.Validate().Error() {
				t.Errorf("%+v: Train said %v, Validate %v", c.o, terr, o.Validate())
			}
		}
	}
	d := DefaultOptions()
	if d.ResolveSolver(1000, 1000) != "lbfgs" || d.ResolveSolver(1<<20, 2048) != "adam" {
		t.Errorf("auto: %s for 1000 x 1000, %s for 2^20 x 2048", d.ResolveSolver(1000, 1000), d.ResolveSolver(1<<20, 2048))
	}
}
