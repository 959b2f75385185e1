package head

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/featurizer/featurizer/table"
)

type splitRow struct {
	Path     string    `parquet:"path"`
	Label    *string   `parquet:"label,optional"`
	Split    string    `parquet:"split"`
	Features []float32 `parquet:"features,list"`
}

func writeRows[T any](t *testing.T, dir string, rows []T) {
	t.Helper()
	p, err := table.NewLocalPart[T](filepath.Join(dir, table.PartName(0)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestSplitColumn(t *testing.T) {
	dir := t.TempDir()
	var rows []splitRow
	splits := []string{"train", "train", "val", "test", "TRAIN"}
	for i := 0; i < 10; i++ {
		l := []string{"a", "b"}[i%2]
		if i == 8 {
			l = "c" // only in a test row: not a class
		}
		rows = append(rows, splitRow{Path: fmt.Sprint(i), Label: &l, Split: splits[i%5], Features: []float32{float32(i), 1}})
	}
	rows = append(rows, splitRow{Path: "unlabelled", Split: "train", Features: []float32{0, 0}})
	writeRows(t, dir, rows)
	tb, err := OpenTable(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !tb.HasSplit || tb.Dim != 2 || tb.Rows != 11 {
		t.Fatalf("%+v", tb)
	}
	classes, _ := Classes(context.Background(), tb)
	if fmt.Sprint(classes) != "[a b]" {
		t.Fatalf("classes %v", classes)
	}
	a, err := Assign(context.Background(), tb, classes, "", SplitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Count(SplitTrain) != 6 || a.Count(SplitValidation) != 2 || a.Count(SplitTest) != 1 || a.Unlabeled != 1 || a.Unknown != 1 {
		t.Errorf("train %d val %d test %d unlabelled %d unknown %d", a.Count(SplitTrain), a.Count(SplitValidation), a.Count(SplitTest), a.Unlabeled, a.Unknown)
	}
	ds, _ := Load(context.Background(), tb, a, SplitValidation)
	if ds.N != 2 || ds.X[0] != 2 || ds.Y[0] != 0 {
		t.Errorf("validation %+v", ds)
	}
}

func TestStratifiedSplit(t *testing.T) {
	dir := t.TempDir()
	var rows []table.FeatureRow
	for i := 0; i < 1000; i++ {
		l := "common"
		if i%10 == 0 {
			l = "rare"
		}
		rows = append(rows, table.FeatureRow{Path: fmt.Sprintf("img-%04d.jpg", i), Label: &l, Features: []float32{float32(i)}})
	}
	writeRows(t, dir, rows)
	tb, _ := OpenTable(dir)
	classes, _ := Classes(context.Background(), tb)
	count := func(seed int64) map[string][2]int {
		a, err := Assign(context.Background(), tb, classes, "", SplitOptions{ValFraction: 0.1, TestFraction: 0.2, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][2]int{}
		for i, s := range a.Split {
			c := classes[a.Class[i]]
			v := out[c]
			switch s {
			case splitVal:
				v[0]++
			case splitTest:
				v[1]++
			}
			out[c] = v
		}
		return out
	}
	got := count(1)
	// Exact shares within each class: stratified.
	if got["rare"] != [2]int{10, 20} || got["common"] != [2]int{90, 180} {
		t.Errorf("split %v", got)
	}
	a1, _ := Assign(context.Background(), tb, classes, "", SplitOptions{ValFraction: 0.1, TestFraction: 0.2, Seed: 1})
	a2, _ := Assign(context.Background(), tb, classes, "", SplitOptions{ValFraction: 0.1, TestFraction: 0.2, Seed: 2})
	same := 0
	for i := range a1.Split {
		if a1.Split[i] == a2.Split[i] {
			same++
		}
	}
	if same == len(a1.Split) {
		t.Error("the seed does not change the split")
	}
}
