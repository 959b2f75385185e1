package head

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/table"
)

// streamTable writes ds as a feature table of two parts and opens it.
func streamTable(t *testing.T, ds *Dataset) *Table {
	t.Helper()
	dir := t.TempDir()
	labels := []string{"a", "b", "c"}
	half := ds.N / 2
	for part, rows := range [][2]int{{0, half}, {half, ds.N}} {
		var out []table.FeatureRow
		for i := rows[0]; i < rows[1]; i++ {
			l := labels[ds.Y[i]]
			out = append(out, table.FeatureRow{Path: fmt.Sprint(i), Label: &l, Features: ds.X[i*ds.D : (i+1)*ds.D]})
		}
		p, err := table.NewLocalPart[table.FeatureRow](filepath.Join(dir, table.PartName(part)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Write(out); err != nil {
			t.Fatal(err)
		}
		if err := p.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	tb, err := OpenTable(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func trainStream(t *testing.T, tb *Table) *Stream {
	t.Helper()
	a, err := Assign(context.Background(), tb, []string{"a", "b", "c"}, SplitTrain, SplitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &Stream{T: tb, A: a, Split: SplitTrain, Window: 64}
}

// A table that fails mid-read (its second part is gone once the first was
// read) fails training with that error, before any fit: statistics of
// half the table must not train a model.
func TestTrainStreamReadFailure(t *testing.T) {
	tb := streamTable(t, noisy(200, 6, 3, 1))
	s := trainStream(t, tb)
	if err := os.Remove(tb.Parts[1]); err != nil {
		t.Fatal(err)
	}
	lam := 0.01
	var logged []string
	_, err := TrainStream(context.Background(), s, noisy(60, 6, 3, 2), 3, Options{RegParam: &lam, MaxIter: 2, Log: func(l string) { logged = append(logged, l) }})
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want the read error", err)
	}
	if !strings.Contains(err.Error(), "standardization pass") || len(logged) > 0 {
		t.Errorf("the error came from a later pass (%v), after fits: %q", err, logged)
	}
}

// The streaming trainer refits on the table plus the validation rows,
// standardized by their joint statistics.
func TestTrainStreamRefit(t *testing.T) {
	rawTrain, rawVal := noisy(200, 6, 3, 1), noisy(60, 6, 3, 2)
	s := trainStream(t, streamTable(t, rawTrain))
	lam := 0.01
	res, err := TrainStream(context.Background(), s, cloneDS(rawVal), 3, Options{RegParam: &lam, MaxIter: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Refit || res.RefitRows != 260 || res.RefitPoint == nil || res.RefitPoint.Iterations != res.Curve[0].Kept {
		t.Fatalf("refit %v on %d rows, point %+v, curve %+v", res.Refit, res.RefitRows, res.RefitPoint, res.Curve)
	}
	sameStd(t, "refit", res.Std, FitStandardizer(concat(rawTrain, rawVal)))
}
