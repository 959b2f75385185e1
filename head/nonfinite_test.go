package head

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/table"
)

// A NaN in the training matrix makes every validation loss NaN. The path
// used to keep no parameters at all and report success, and the caller's
// next step dereferenced them (the nil pointer in model.go): it is an
// error now.
func TestTrainNaNIsAnErrorNotNilParams(t *testing.T) {
	for _, solver := range []string{"lbfgs", "adam"} {
		train, val := blobs(60, 4, 3, 1, 1), blobs(30, 4, 3, 1, 2)
		train.X[7] = float32(math.NaN())
		res, err := Train(context.Background(), train, val, 3, Options{Solver: solver, MaxIter: 5, Grid: []float64{1, 0.1}, NoStandardize: solver == "adam"})
		if err == nil {
			if res == nil || res.Params == nil {
				t.Fatalf("%s: no error, and no parameters", solver)
			}
			t.Fatalf("%s: trained on NaN without an error", solver)
		}
		if !strings.Contains(err.Error(), "not a finite number") {
			t.Errorf("%s: %v", solver, err)
		}
	}
}

// Load and the streaming source stop at the table's first NaN or infinite
// feature (in table order, whichever split is read), naming row, path and
// column.
func TestLoadRefusesNonFinite(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
		dir := t.TempDir()
		var rows []table.FeatureRow
		for i := 0; i < 10; i++ {
			l := []string{"a", "b"}[i%2]
			rows = append(rows, table.FeatureRow{Path: fmt.Sprint("img-", i), Label: &l, Features: []float32{float32(i), 1, 2}})
		}
		rows[6].Features[2] = bad
		rows[8].Features[0] = bad
		writeRows(t, dir, rows)
		tb, err := OpenTable(dir)
		if err != nil {
			t.Fatal(err)
		}
		classes, _ := Classes(context.Background(), tb)
		a, err := Assign(context.Background(), tb, classes, "", SplitOptions{ValFraction: 0.2, TestFraction: 0.2})
		if err != nil {
			t.Fatal(err)
		}
		check := func(what string, err error) {
			t.Helper()
			var be *BadValueError
			if !errors.As(err, &be) || be.Row != 6 || be.Path != "img-6" || be.Column != 2 || be.Table != dir {
				t.Errorf("%v, %s: %v", bad, what, err)
			}
		}
		for _, split := range []string{SplitTrain, SplitValidation, SplitTest} {
			_, err := Load(context.Background(), tb, a, split)
			check(split, err)
		}
		s := &Stream{T: tb, A: a, Split: SplitTrain}
		check("stream", s.Each(context.Background(), 4, func(n int) []int {
			o := make([]int, n)
			for i := range o {
				o[i] = i
			}
			return o
		}, func([]float32, []int32, int) error { return nil }))
	}
}
