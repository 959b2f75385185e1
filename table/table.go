// Package table owns the on-disk feature-table format: a directory of
// Parquet part files that Spark reads as one table, a rejects table, a
// manifest with the provenance written last and a _SUCCESS marker. Every
// file appears atomically: written under a hidden temporary name, synced,
// then renamed.
package table

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/featurizer/featurizer/internal/version"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
)

// FeatureRow is one row of a feature table. Spark reads features as
// array<float>.
type FeatureRow struct {
	Path       string    `parquet:"path"`
	Label      *string   `parquet:"label,optional"`
	LabelIndex *int32    `parquet:"label_index,optional"`
	Features   []float32 `parquet:"features,list"`
}

// RejectRow records an input that produced no row, and why.
type RejectRow struct {
	Path  string `parquet:"path"`
	Stage string `parquet:"stage"` // read, decode, preprocess, infer
	Error string `parquet:"error"`
}

// TopK is one entry of a prediction's top-k list.
type TopK struct {
	Index       int32   `parquet:"index"`
	Label       string  `parquet:"label"`
	Probability float32 `parquet:"probability"`
}

// PredictionRow is one row of a prediction table.
type PredictionRow struct {
	Path            string  `parquet:"path"`
	Label           *string `parquet:"label,optional"`
	Prediction      string  `parquet:"prediction"`
	PredictionIndex int32   `parquet:"prediction_index"`
	Probability     float32 `parquet:"probability"`
	TopK            []TopK  `parquet:"top_k,list"`
}

// Names of the files of a table directory. Names starting with _ or . are
// ignored by Spark and Hadoop readers, so the rejects and the bookkeeping
// never mix into the table itself.
const (
	RejectsDir   = "_rejects"
	ManifestFile = "_manifest.json"
	SummaryFile  = "_summary.json"
	SuccessFile  = "_SUCCESS"
)

// PartName is the file name of part i.
func PartName(i int) string { return fmt.Sprintf("part-%05d.parquet", i) }

// MetadataKey is the Parquet footer key holding the provenance JSON.
const MetadataKey = "featurizer.provenance"

// Part is a Parquet file being written; it becomes visible on Commit.
type Part[T any] struct {
	final string
	tmp   *os.File
	w     *parquet.GenericWriter[T]
	rows  int
}

// rowGroupRows bounds memory: parquet-go holds a row group in memory until
// it is flushed.
const rowGroupRows = 1024

// NewPart starts writing the file path with the footer metadata meta.
func NewPart[T any](path string, meta map[string]string) (*Part[T], error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create part: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create part: %w", err)
	}
	opts := []parquet.WriterOption{
		parquet.Compression(&snappy.Codec{}),
		parquet.MaxRowsPerRowGroup(rowGroupRows),
		parquet.CreatedBy("featurizer", version.Tool(), ""),
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		opts = append(opts, parquet.KeyValueMetadata(k, meta[k]))
	}
	return &Part[T]{final: path, tmp: tmp, w: parquet.NewGenericWriter[T](tmp, opts...)}, nil
}

// Write appends rows.
func (p *Part[T]) Write(rows []T) error {
	if _, err := p.w.Write(rows); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(p.final), err)
	}
	p.rows += len(rows)
	return nil
}

// SetMetadata adds a footer key, up to Commit.
func (p *Part[T]) SetMetadata(key, value string) { p.w.SetKeyValueMetadata(key, value) }

// Rows is the number of rows written so far.
func (p *Part[T]) Rows() int { return p.rows }

// Commit finishes the file and renames it into place.
func (p *Part[T]) Commit() error {
	name := filepath.Base(p.final)
	if err := p.w.Close(); err != nil {
		p.Abort()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := p.tmp.Chmod(0o644); err != nil {
		p.Abort()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := p.tmp.Sync(); err != nil {
		p.Abort()
		return fmt.Errorf("sync %s: %w", name, err)
	}
	if err := p.tmp.Close(); err != nil {
		os.Remove(p.tmp.Name())
		return fmt.Errorf("close %s: %w", name, err)
	}
	if err := os.Rename(p.tmp.Name(), p.final); err != nil {
		os.Remove(p.tmp.Name())
		return fmt.Errorf("commit %s: %w", name, err)
	}
	return syncDir(filepath.Dir(p.final))
}

// Abort drops the file; nothing becomes visible.
func (p *Part[T]) Abort() {
	p.tmp.Close()
	os.Remove(p.tmp.Name())
}

// WriteFileAtomic writes data to path through a temporary file and a rename.
func WriteFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return syncDir(filepath.Dir(path))
}

// WriteJSONAtomic writes v as indented JSON.
func WriteJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, append(b, '\n'))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	d.Sync() // best effort: not every file system syncs directories
	return nil
}

// ErrOutputExists is returned when an output directory already holds a table.
var ErrOutputExists = errors.New("output directory is not empty")

// PrepareDir makes dir ready for a new table. A directory holding files
// other than leftover temporaries is refused unless overwrite is set, in
// which case the table files in it are removed (and nothing else).
func PrepareDir(dir string, overwrite bool) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	var foreign []string
	for _, e := range ents {
		n := e.Name()
		if isTableFile(n) || strings.HasPrefix(n, ".") {
			continue
		}
		foreign = append(foreign, n)
	}
	if len(foreign) > 0 {
		return fmt.Errorf("%w: %s holds %s, which featurizer did not write; choose an empty or new directory", ErrOutputExists, dir, strings.Join(foreign, ", "))
	}
	if !overwrite {
		if _, err := os.Stat(filepath.Join(dir, SuccessFile)); err == nil {
			return fmt.Errorf("%w: %s already holds a complete table; pass --overwrite to replace it", ErrOutputExists, dir)
		}
		// An interrupted run: its committed parts stay (the job resumes);
		// what it left half-written goes.
		return removeTemps(dir)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// removeTemps deletes the hidden temporary files a killed run left behind.
func removeTemps(dir string) error {
	for _, d := range []string{dir, filepath.Join(dir, RejectsDir), filepath.Join(dir, ShardsDir)} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), ".tmp-") {
				if err := os.Remove(filepath.Join(d, e.Name())); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func isTableFile(n string) bool {
	return n == RejectsDir || n == ManifestFile || n == SummaryFile || n == SuccessFile || n == ShardsDir ||
		(strings.HasPrefix(n, "_summary") && strings.HasSuffix(n, ".json")) ||
		(strings.HasPrefix(n, "part-") && strings.HasSuffix(n, ".parquet"))
}

// ReadAll reads every row of the table's part files (tests and tools; a
// large table should be streamed).
func ReadAll[T any](dir string) ([]T, error) {
	parts, err := filepath.Glob(filepath.Join(dir, "part-*.parquet"))
	if err != nil {
		return nil, err
	}
	sort.Strings(parts)
	var out []T
	for _, p := range parts {
		rows, err := parquet.ReadFile[T](p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		out = append(out, rows...)
	}
	return out, nil
}

// FooterMetadata returns the key/value metadata of a Parquet file.
func FooterMetadata(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, kv := range pf.Metadata().KeyValueMetadata {
		out[kv.Key] = kv.Value
	}
	return out, nil
}

// NumRows is the row count of a Parquet file, from its footer.
func NumRows(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return 0, err
	}
	return pf.NumRows(), nil
}
