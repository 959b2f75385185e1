package head

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/featurizer/featurizer/table"
	"github.com/parquet-go/parquet-go"
)

// Split names.
const (
	SplitTrain      = "train"
	SplitValidation = "validation"
	SplitTest       = "test"
)

// Table is a complete feature table, readable from local disk.
type Table struct {
	Dir      string          // the table's location, as given
	Manifest *table.Manifest // nil for tables written by other tools
	// Provenance is the manifest's, or a lone part file's footer's; nil for
	// tables written by other tools.
	Provenance *table.Provenance
	Parts      []string // local paths of the part files
	Rows       int64
	Dim        int
	HasSplit   bool // the table has a split column
	c          *table.Opened
}

// What training reads (the row types live in table).
type (
	trainRow = table.TrainRow
	labelRow = table.LabelRow
)

// OpenTable opens the local feature table dir (see Open).
func OpenTable(dir string) (*Table, error) { return Open(context.Background(), dir) }

// Open opens the feature table at a location for reading: a table featurizer
// wrote must be complete (table.OpenComplete: _SUCCESS, the manifest, the
// parts it lists and no others, footers that agree); one in a bucket is
// downloaded, and Close removes the copy.
func Open(ctx context.Context, location string) (*Table, error) {
	c, err := table.OpenComplete(ctx, location)
	if err != nil {
		return nil, err
	}
	t, err := fromComplete(ctx, c)
	if err != nil {
		c.Close()
		return nil, err
	}
	return t, nil
}

// Close removes the downloaded copy of a bucket's table.
func (t *Table) Close() { t.c.Close() }

func fromComplete(ctx context.Context, c *table.Opened) (*Table, error) {
	t := &Table{Dir: c.Location, Manifest: c.Manifest, Provenance: c.Provenance, Parts: c.Paths, c: c}
	if m := c.Manifest; m != nil && m.Kind != "features" {
		return nil, fmt.Errorf("%s is a %s table, not a feature table", c.Location, m.Kind)
	}
	if c.Provenance != nil {
		t.Dim = c.Provenance.FeatureDim
	}
	for i, p := range t.Parts {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		st, _ := f.Stat()
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		if i == 0 {
			cols := map[string]bool{}
			for _, fl := range pf.Schema().Fields() {
				cols[fl.Name()] = true
			}
			if !cols["features"] {
				f.Close()
				return nil, fmt.Errorf("%s has no features column", p)
			}
			if !cols["label"] {
				f.Close()
				return nil, fmt.Errorf("%s has no label column: training needs labels", p)
			}
			t.HasSplit = cols["split"]
		}
		t.Rows += pf.NumRows()
		f.Close()
	}
	if t.Dim == 0 {
		// A table without featurizer's provenance: the first row tells.
		stop := errors.New("stop")
		err := Scan(ctx, t, func(rows []trainRow) error {
			t.Dim = len(rows[0].Features)
			return stop
		})
		if err != nil && err != stop {
			return nil, err
		}
	}
	return t, nil
}

// FeatureSpec is the provenance of the features, or the zero value for a
// table from another tool.
func (t *Table) FeatureSpec() table.FeatureSpec {
	if t.Provenance == nil {
		return table.FeatureSpec{FeatureDim: t.Dim}
	}
	return t.Provenance.FeatureSpec()
}

// BadValueError is a row whose features are not all finite numbers.
type BadValueError struct {
	Table  string
	Row    int64 // in table order, from 0
	Path   string
	Column int // index in the features array
	Value  float32
}

func (e *BadValueError) Error() string {
	return fmt.Sprintf("table %s: row %d (%s) has %v in features[%d]: features must be finite numbers (featurize never writes such a row, so the table is damaged or was made by another tool); remake the table, or remove the row",
		e.Table, e.Row, e.Path, e.Value, e.Column)
}

// checkFinite returns a *BadValueError for the first NaN or infinite
// feature of a row.
func checkFinite(t *Table, row int64, r *trainRow) error {
	for j, v := range r.Features {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return &BadValueError{Table: t.Dir, Row: row, Path: r.Path, Column: j, Value: v}
		}
	}
	return nil
}

// Scan reads the table's rows in order, in batches, into any row type
// whose parquet tags name a subset of its columns.
func Scan[T any](ctx context.Context, t *Table, fn func(rows []T) error) error {
	buf := make([]T, 512)
	for _, p := range t.Parts {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		r := parquet.NewGenericReader[T](f)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if e := fn(buf[:n]); e != nil {
					r.Close()
					f.Close()
					return e
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.Close()
				f.Close()
				return fmt.Errorf("read %s: %w", p, err)
			}
			if err := ctx.Err(); err != nil {
				r.Close()
				f.Close()
				return err
			}
		}
		r.Close()
		f.Close()
	}
	return nil
}

// Assignment gives each row of a table its split and class.
type Assignment struct {
	Split     []uint8 // per row: 0 train, 1 validation, 2 test, 255 unused (no label or unknown class)
	Class     []int32 // per row, -1 when unlabelled or unknown
	Unlabeled int64
	Unknown   int64 // labels of validation/test rows that train does not have
}

const (
	splitTrain uint8 = 0
	splitVal   uint8 = 1
	splitTest  uint8 = 2
	splitNone  uint8 = 255
)

// SplitOptions say how a single table is divided.
type SplitOptions struct {
	ValFraction  float64 // default 0.1 when no validation table is given
	TestFraction float64 // default 0.1 when no test table is given
	Seed         int64
}

// Classes reads the sorted label set of the train rows of a table (all
// rows, or those whose split column says train).
func Classes(ctx context.Context, t *Table) ([]string, error) {
	set := map[string]bool{}
	err := Scan(ctx, t, func(rows []labelRow) error {
		for _, r := range rows {
			if r.Label == nil || *r.Label == "" {
				continue
			}
			if t.HasSplit && r.Split != nil && normalizeSplit(*r.Split) != SplitTrain {
				continue
			}
			set[*r.Label] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

func normalizeSplit(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "train", "training":
		return SplitTrain
	case "validation", "val", "valid", "dev":
		return SplitValidation
	case "test", "testing":
		return SplitTest
	}
	return s
}

// Assign decides the split of every row of t. fixed forces every row into
// one split (a separate validation or test table); otherwise the table's
// split column is used, or a stratified split by a seeded hash of the path.
func Assign(ctx context.Context, t *Table, classes []string, fixed string, o SplitOptions) (*Assignment, error) {
	index := map[string]int32{}
	for i, c := range classes {
		index[c] = int32(i)
	}
	a := &Assignment{}
	type key struct {
		h   uint64
		row int
	}
	perClass := map[int32][]key{}
	row := 0
	err := Scan(ctx, t, func(rows []labelRow) error {
		for _, r := range rows {
			cls := int32(-1)
			sp := splitNone
			if r.Label == nil || *r.Label == "" {
				a.Unlabeled++
			} else if c, ok := index[*r.Label]; ok {
				cls = c
			} else {
				a.Unknown++
			}
			if cls >= 0 {
				switch {
				case fixed != "":
					sp = splitCode(fixed)
				case t.HasSplit && r.Split != nil:
					sp = splitCode(normalizeSplit(*r.Split))
					if sp == splitNone {
						return fmt.Errorf("%s: row %d has split %q (expected train, validation or test)", t.Dir, row, *r.Split)
					}
				default:
					h := fnv.New64a()
					fmt.Fprintf(h, "%d\x00%s", o.Seed, r.Path)
					perClass[cls] = append(perClass[cls], key{h.Sum64(), row})
				}
			}
			a.Split = append(a.Split, sp)
			a.Class = append(a.Class, cls)
			row++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Stratified: within each class, rows ordered by their hash; the first
	// fractions go to validation and test.
	for _, ks := range perClass {
		sort.Slice(ks, func(i, j int) bool {
			if ks[i].h != ks[j].h {
				return ks[i].h < ks[j].h
			}
			return ks[i].row < ks[j].row
		})
		n := len(ks)
		nv := int(float64(n)*o.ValFraction + 0.5)
		nt := int(float64(n)*o.TestFraction + 0.5)
		if n-nv-nt < 1 {
			nv, nt = 0, 0 // a class this small stays in train
		}
		for i, k := range ks {
			switch {
			case i < nv:
				a.Split[k.row] = splitVal
			case i < nv+nt:
				a.Split[k.row] = splitTest
			default:
				a.Split[k.row] = splitTrain
			}
		}
	}
	return a, nil
}

func splitCode(s string) uint8 {
	switch s {
	case SplitTrain:
		return splitTrain
	case SplitValidation:
		return splitVal
	case SplitTest:
		return splitTest
	}
	return splitNone
}

// Count returns the number of rows in a split.
func (a *Assignment) Count(split string) int {
	c := splitCode(split)
	n := 0
	for _, s := range a.Split {
		if s == c {
			n++
		}
	}
	return n
}

// Dataset is a split held in memory: X is N x D, row-major.
type Dataset struct {
	N, D  int
	X     []float32
	Y     []int32
	Paths []string
}

// Load reads the rows of one split into memory.
func Load(ctx context.Context, t *Table, a *Assignment, split string) (*Dataset, error) {
	code := splitCode(split)
	n := 0
	for _, s := range a.Split {
		if s == code {
			n++
		}
	}
	ds := &Dataset{N: n, D: t.Dim}
	row, k := 0, 0
	err := Scan(ctx, t, func(rows []trainRow) error {
		for i := range rows {
			r := &rows[i]
			// Every row, used by this split or not: the first bad row of
			// the table is the one reported, whichever split is loaded first.
			if err := checkFinite(t, int64(row), r); err != nil {
				return err
			}
			if a.Split[row] == code {
				if ds.D == 0 {
					ds.D = len(r.Features)
				}
				if ds.X == nil {
					ds.X = make([]float32, n*ds.D)
					ds.Y = make([]int32, n)
					ds.Paths = make([]string, n)
				}
				if len(r.Features) != ds.D {
					return fmt.Errorf("%s: %s has %d features, expected %d", t.Dir, r.Path, len(r.Features), ds.D)
				}
				copy(ds.X[k*ds.D:(k+1)*ds.D], r.Features)
				ds.Y[k] = a.Class[row]
				ds.Paths[k] = r.Path
				k++
			}
			row++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// Stream passes over one split of a table without holding it: the
// training source of the Adam solver when the features do not fit in
// memory. Rows come in table order, shuffled within a window.
type Stream struct {
	T      *Table
	A      *Assignment
	Split  string
	Window int // rows shuffled together; default 16384
}

// Each calls fn with batches of up to batch rows (x is n*D values).
func (s *Stream) Each(ctx context.Context, batch int, rng func(n int) []int, fn func(x []float32, y []int32, n int) error) error {
	code := splitCode(s.Split)
	d := s.T.Dim
	window := s.Window
	if window <= 0 {
		window = 16384
	}
	var wx []float32
	var wy []int32
	flush := func() error {
		n := len(wy)
		if n == 0 {
			return nil
		}
		order := rng(n)
		bx := make([]float32, batch*d)
		by := make([]int32, batch)
		for i := 0; i < n; i += batch {
			m := min(batch, n-i)
			for j := 0; j < m; j++ {
				src := order[i+j]
				copy(bx[j*d:(j+1)*d], wx[src*d:(src+1)*d])
				by[j] = wy[src]
			}
			if err := fn(bx[:m*d], by[:m], m); err != nil {
				return err
			}
		}
		wx, wy = wx[:0], wy[:0]
		return nil
	}
	row := 0
	err := Scan(ctx, s.T, func(rows []trainRow) error {
		for i := range rows {
			r := &rows[i]
			if err := checkFinite(s.T, int64(row), r); err != nil {
				return err
			}
			if s.A.Split[row] == code {
				if d == 0 {
					d = len(r.Features)
					s.T.Dim = d
				}
				wx = append(wx, r.Features...)
				wy = append(wy, s.A.Class[row])
				if len(wy) >= window {
					if err := flush(); err != nil {
						return err
					}
				}
			}
			row++
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}
