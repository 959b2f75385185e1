package table

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/featurizer/featurizer/internal/version"
	"github.com/featurizer/featurizer/storage"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
)

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
	ctx  context.Context
	dir  storage.Store
	name string
	tmp  *os.File
	w    *parquet.GenericWriter[T]
	rows int
}

// rowGroupRows bounds memory: parquet-go holds a row group in memory until
// it is flushed.
const rowGroupRows = 1024

// writerOptions are the settings of every Parquet file a table holds:
// what Spark itself writes (parquet-mr's defaults), which every Parquet
// reader reads. parquet-go's own defaults, data page v2 and
// DELTA_LENGTH_BYTE_ARRAY strings, are refused by Spark's vectorized reader
// before 3.3 and by several other engines.
func writerOptions() []parquet.WriterOption {
	return []parquet.WriterOption{
		parquet.DataPageVersion(1),
		parquet.DefaultEncoding(&parquet.Plain),
		parquet.Compression(&snappy.Codec{}),
		parquet.MaxRowsPerRowGroup(rowGroupRows),
		parquet.CreatedBy("featurizer", version.Tool(), ""),
	}
}

// NewPart starts writing the file name of dir with the footer metadata
// meta, into a spool file (beside it on local disk, in the temporary
// directory for a bucket).
func NewPart[T any](ctx context.Context, dir storage.Store, name string, meta map[string]string) (*Part[T], error) {
	tmp, err := dir.CreateTemp(name)
	if err != nil {
		return nil, fmt.Errorf("create part: %w", err)
	}
	opts := writerOptions()
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		opts = append(opts, parquet.KeyValueMetadata(k, meta[k]))
	}
	// A commit is not interrupted by a stop: it is short, and atomic.
	return &Part[T]{ctx: context.WithoutCancel(ctx), dir: dir, name: name, tmp: tmp, w: parquet.NewGenericWriter[T](tmp, opts...)}, nil
}

// NewLocalPart starts writing the local file path (tools and tests).
func NewLocalPart[T any](path string, meta map[string]string) (*Part[T], error) {
	return NewPart[T](context.Background(), storage.NewLocal(filepath.Dir(path)), filepath.Base(path), meta)
}

// Write appends rows.
func (p *Part[T]) Write(rows []T) error {
	if _, err := p.w.Write(rows); err != nil {
		return fmt.Errorf("write %s: %w", path.Base(p.name), err)
	}
	p.rows += len(rows)
	return nil
}

// SetMetadata adds a footer key, up to Commit.
func (p *Part[T]) SetMetadata(key, value string) { p.w.SetKeyValueMetadata(key, value) }

// Rows is the number of rows written so far.
func (p *Part[T]) Rows() int { return p.rows }

// Commit finishes the file and moves it into place.
func (p *Part[T]) Commit() error {
	if err := p.w.Close(); err != nil {
		p.Abort()
		return fmt.Errorf("write %s: %w", p.name, err)
	}
	if err := p.dir.Commit(p.ctx, p.tmp, p.name); err != nil {
		return fmt.Errorf("commit %s: %w", p.dir.Path(p.name), err)
	}
	return nil
}

// Abort drops the file; nothing becomes visible.
func (p *Part[T]) Abort() {
	p.tmp.Close()
	os.Remove(p.tmp.Name())
}

// WriteFileAtomic writes the local file path through a temporary file and
// a rename.
func WriteFileAtomic(path string, data []byte) error {
	return storage.NewLocal(filepath.Dir(path)).WriteFile(context.Background(), filepath.Base(path), data)
}

// WriteJSONAtomic writes v as indented JSON to a local file.
func WriteJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, append(b, '\n'))
}

// WriteJSON writes v as indented JSON to name in dir, atomically.
func WriteJSON(ctx context.Context, dir storage.Store, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return dir.WriteFile(ctx, name, append(b, '\n'))
}

// ErrOutputExists is returned when an output directory already holds a table.
var ErrOutputExists = errors.New("output directory is not empty")

// mkdir creates a local directory (a bucket has no directories).
func mkdir(dir storage.Store) error {
	if p, local := storage.LocalPath(dir.Location()); local {
		return os.MkdirAll(p, 0o755)
	}
	return nil
}

// removeTemps deletes the hidden temporary files a killed run left behind
// (not those of a lease being written: another process's, in flight).
func removeTemps(ctx context.Context, dir storage.Store) error {
	for _, d := range []string{"", RejectsDir, ShardsDir} {
		ents, err := dir.List(ctx, d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		for _, e := range ents {
			if e.IsDir || !storage.IsTemp(e.Name) || (isLeaseTemp(e.Name) && !leftoverLeaseTemp(dir, path.Join(d, e.Name))) {
				continue
			}
			if err := dir.Remove(ctx, path.Join(d, e.Name)); err != nil {
				return err
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

// Fetch makes a table readable from local disk: a local location is
// returned as it is; a bucket's table (its parts, manifest and _SUCCESS;
// with rejects, the _rejects table too) is downloaded into a temporary
// directory, one request per file, removed by cleanup.
func Fetch(ctx context.Context, location string) (dir string, cleanup func(), err error) {
	if !storage.IsRemote(location) {
		d, err := storage.Open(ctx, location)
		if err != nil {
			return "", nil, err
		}
		p, _ := storage.LocalPath(d.Location())
		return p, func() {}, nil
	}
	d, err := storage.Open(ctx, location)
	if err != nil {
		return "", nil, err
	}
	defer d.Close()
	tmp, err := os.MkdirTemp("", "featurizer-table-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	keep := func(n string) bool { return isTableFile(n) }
	if err := storage.Fetch(ctx, d, "", tmp, storage.FetchOptions{Keep: keep}); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("download %s: %w", location, err)
	}
	if err := storage.Fetch(ctx, d, RejectsDir, filepath.Join(tmp, RejectsDir), storage.FetchOptions{Keep: keep}); err != nil && !errors.Is(err, fs.ErrNotExist) {
		cleanup()
		return "", nil, fmt.Errorf("download %s: %w", location, err)
	}
	return tmp, cleanup, nil
}

// ReadAll reads every row of the table's part files (tests and tools; a
// large table should be streamed).
func ReadAll[T any](location string) ([]T, error) {
	dir, cleanup, err := Fetch(context.Background(), location)
	if err != nil {
		return nil, err
	}
	defer cleanup()
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

// footerOf reads the key/value metadata and row count of name in dir from
// its footer (for a bucket: the object's tail, one request).
func footerOf(ctx context.Context, dir storage.Store, name string) (map[string]string, int64, error) {
	f, err := dir.Open(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	pf, err := parquet.OpenFile(f, f.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, 0, err
	}
	out := map[string]string{}
	for _, kv := range pf.Metadata().KeyValueMetadata {
		out[kv.Key] = kv.Value
	}
	return out, pf.NumRows(), nil
}

// ReadPart reads every row of one file of the table at a location (one
// request for a bucket).
func ReadPart[T any](ctx context.Context, location, name string) ([]T, error) {
	d, err := storage.Open(ctx, location)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	data, err := d.ReadFile(ctx, name)
	if err != nil {
		return nil, err
	}
	rows, err := parquet.Read[T](bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.Path(name), err)
	}
	return rows, nil
}
