package inputs

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/featurizer/featurizer/storage"
	"github.com/featurizer/featurizer/table"
	"github.com/parquet-go/parquet-go"
)

// Item is one image to process.
type Item struct {
	Seq   int64  // position in the input order, from 0
	Path  string // the path recorded in the output row
	Open  string // the path to read
	Label string
	// HasLabel is false for unlabelled inputs (label null in the output).
	HasLabel bool
	// Size and Version identify the content of a listed file (directory
	// inputs): an incremental run redoes the ones that changed.
	Size    int64
	Version string
	// Unreadable says why the listed file is not read at all ("not a
	// regular file (named pipe)"): it becomes a reject at the read stage.
	Unreadable string
}

// Source is an opened input.
type Source struct {
	Kind     string   // "directory" or "manifest"
	Location string   // as given
	Labels   []string // sorted; label_index is the position here

	// walk lists the items; books says whether it records what it
	// passes over (Skipped): Walk's listing does, List's does not.
	walk  func(ctx context.Context, fn func(Item) error, books bool) error
	store storage.Store
	shard int
	of    int
	keep  func(Item) bool
	want  func(Item) bool // keep's twin without bookkeeping, for List
	// Skipped counts files of a directory that are not images by their
	// extension (or are hidden); they are listed in SkippedExamples.
	Skipped         int64
	SkippedExamples []string
}

// ImageExtensions are the file extensions read from directories.
var ImageExtensions = []string{".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}

// Open inspects location: a directory is walked, a .csv or .parquet file is
// a manifest with a path column and an optional label column.
func Open(ctx context.Context, store storage.Store, location string) (*Source, error) {
	path := location
	if store == nil {
		var err error
		if store, path, err = storage.Resolve(ctx, location); err != nil {
			return nil, fmt.Errorf("open input: %w", err)
		}
	}
	isDir, err := store.IsDir(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open input: %w", err)
	}
	var s *Source
	switch {
	case isDir:
		s, err = openDir(ctx, store, path)
	case strings.ToLower(filepath.Ext(location)) == ".csv":
		s, err = openCSV(ctx, store, path)
	case strings.ToLower(filepath.Ext(location)) == ".parquet":
		s, err = openParquet(ctx, store, path)
	default:
		return nil, fmt.Errorf("open input: %s is neither a directory nor a manifest (.csv or .parquet with a path column)", location)
	}
	if s != nil {
		s.Location, s.store = location, store
	}
	return s, err
}

// Store is where the items are read from.
func (s *Source) Store() storage.Store { return s.store }

// Walk calls fn for each item in order. It stops at the first error. With
// a shard set, only the items whose path hashes to it are passed on,
// numbered from 0.
func (s *Source) Walk(ctx context.Context, fn func(Item) error) error {
	return s.filtered(ctx, fn, s.keep, true)
}

// ErrNoList is List's answer for a filtered source without a want.
var ErrNoList = errors.New("inputs: the filter cannot say which items it keeps without keeping books")

// List calls fn for the items Walk passes on, numbered as Walk numbers
// them, in a listing of its own that keeps no books: the filter's want
// stands in for keep, and Skipped stays as the last Walk left it. It may
// run alongside Walk (the pipeline counts the input with it while Walk
// feeds the work). A bucket is listed, a manifest read, once more.
func (s *Source) List(ctx context.Context, fn func(Item) error) error {
	if s.keep != nil && s.want == nil {
		return ErrNoList
	}
	return s.filtered(ctx, fn, s.want, false)
}

func (s *Source) filtered(ctx context.Context, fn func(Item) error, keep func(Item) bool, books bool) error {
	if s.of <= 1 && keep == nil {
		return s.walk(ctx, fn, books)
	}
	var seq int64
	return s.walk(ctx, func(it Item) error {
		if s.of > 1 && ShardOf(it.Path, s.of) != s.shard {
			return nil
		}
		if keep != nil && !keep(it) {
			return nil
		}
		it.Seq = seq
		seq++
		return fn(it)
	}, books)
}

// SetFilter keeps only the items keep accepts (numbered from 0 among
// them); keep sees every item of the shard, in order, once per Walk, and
// may keep books. want, when not nil, accepts the same items as keep
// without side effects and safely alongside it: List asks it instead.
func (s *Source) SetFilter(keep, want func(Item) bool) { s.keep, s.want = keep, want }

// SetShard keeps only the items of shard i of n.
func (s *Source) SetShard(i, n int) { s.shard, s.of = i, n }

// ShardOf assigns a path to one of n shards by its FNV-1a hash: stable
// across runs, machines and listing orders.
func ShardOf(path string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(path))
	return int(h.Sum64() % uint64(n))
}

// LabelIndex returns the index of label in Labels.
func (s *Source) LabelIndex(label string) int32 {
	return int32(sort.SearchStrings(s.Labels, label))
}

func isImage(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range ImageExtensions {
		if ext == e {
			return true
		}
	}
	return false
}

func openDir(ctx context.Context, store storage.Store, root string) (*Source, error) {
	abs := root
	if !storage.IsRemote(store.Location()) {
		var err error
		if abs, err = filepath.Abs(root); err != nil {
			return nil, err
		}
	}
	ents, err := store.List(ctx, abs)
	var dirs []string
	for _, e := range ents {
		if e.IsDir {
			dirs = append(dirs, e.Name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open input: %w", err)
	}
	// Labels are the first-level folders: class/*.jpg.
	var labels []string
	for _, d := range dirs {
		if !strings.HasPrefix(d, ".") {
			labels = append(labels, d)
		}
	}
	sort.Strings(labels)
	s := &Source{Kind: "directory", Location: root, Labels: labels}
	s.walk = func(ctx context.Context, fn func(Item) error, books bool) error {
		var seq int64
		if books {
			s.Skipped, s.SkippedExamples = 0, nil
		}
		return store.Walk(ctx, abs, func(e storage.Entry) error {
			hidden := strings.HasPrefix(e.Rel, ".") || strings.Contains(e.Rel, "/.")
			if hidden || !isImage(e.Rel) {
				if !books {
					return nil
				}
				s.Skipped++
				if len(s.SkippedExamples) < 10 {
					s.SkippedExamples = append(s.SkippedExamples, e.Rel)
				}
				return nil
			}
			it := Item{Seq: seq, Path: e.Path, Open: e.Path, Size: e.Size, Version: e.Version}
			// A named pipe, socket or device named like an image is never
			// opened (a pipe would block the job). A link that leads
			// nowhere is left to the read, which says so.
			if e.Mode&fs.ModeSymlink == 0 {
				it.Unreadable = storage.NotRegular(e.Mode)
			}
			if first, _, nested := strings.Cut(e.Rel, "/"); nested {
				it.Label, it.HasLabel = first, true
			}
			seq++
			return fn(it)
		})
	}
	return s, nil
}

// resolve makes a manifest path relative to the manifest's directory.
func resolve(manifest, p string) string {
	if filepath.IsAbs(p) || strings.Contains(p, "://") {
		return p
	}
	if strings.Contains(manifest, "://") {
		return manifest[:strings.LastIndex(manifest, "/")+1] + p
	}
	return filepath.Join(filepath.Dir(manifest), p)
}

func openCSV(ctx context.Context, store storage.Store, location string) (*Source, error) {
	read := func(fn func(path, label string, hasLabel bool, line int) error) error {
		f, err := store.NewReader(ctx, location)
		if err != nil {
			return fmt.Errorf("open manifest: %w", err)
		}
		defer f.Close()
		r := csv.NewReader(f)
		r.ReuseRecord = true
		header, err := r.Read()
		if err != nil {
			return fmt.Errorf("manifest %s: read header: %w", location, err)
		}
		pathCol, labelCol := -1, -1
		for i, h := range header {
			switch strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) {
			case "path":
				pathCol = i
			case "label":
				labelCol = i
			}
		}
		if pathCol < 0 {
			return fmt.Errorf("manifest %s: no \"path\" column in the header %q", location, strings.Join(header, ","))
		}
		for line := 2; ; line++ {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("manifest %s: %w", location, err)
			}
			p := rec[pathCol]
			if p == "" {
				return fmt.Errorf("manifest %s line %d: empty path", location, line)
			}
			label, has := "", false
			if labelCol >= 0 && rec[labelCol] != "" {
				label, has = rec[labelCol], true
			}
			if err := fn(p, label, has, line); err != nil {
				return err
			}
		}
	}
	return openManifest(ctx, store, location, read)
}

type manifestRow = table.ManifestRow // (the row types live in table)

func openParquet(ctx context.Context, store storage.Store, location string) (*Source, error) {
	read := func(fn func(path, label string, hasLabel bool, line int) error) error {
		// One request for the whole file, not one per page.
		data, err := store.ReadFile(ctx, location)
		if err != nil {
			return fmt.Errorf("open manifest: %w", err)
		}
		f := bytes.NewReader(data)
		pf, err := parquet.OpenFile(f, int64(len(data)))
		if err != nil {
			return fmt.Errorf("manifest %s: %w", location, err)
		}
		if _, ok := pf.Schema().Lookup("path"); !ok {
			return fmt.Errorf("manifest %s: no \"path\" column (columns: %s)", location, columnNames(pf.Schema()))
		}
		r := parquet.NewGenericReader[manifestRow](f)
		defer r.Close()
		buf := make([]manifestRow, 256)
		row := 0
		for {
			n, err := r.Read(buf)
			for _, m := range buf[:n] {
				row++
				if m.Path == nil || *m.Path == "" {
					return fmt.Errorf("manifest %s row %d: empty path", location, row)
				}
				label, has := "", false
				if m.Label != nil && *m.Label != "" {
					label, has = *m.Label, true
				}
				if err := fn(*m.Path, label, has, row); err != nil {
					return err
				}
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("manifest %s: %w", location, err)
			}
		}
	}
	return openManifest(ctx, store, location, read)
}

func columnNames(s *parquet.Schema) string {
	var names []string
	for _, f := range s.Fields() {
		names = append(names, f.Name())
	}
	return strings.Join(names, ", ")
}

// openManifest makes a first pass for the label set (label_index needs the
// sorted labels before the first row is written); the walk is a second pass.
func openManifest(ctx context.Context, store storage.Store, location string, read func(func(path, label string, has bool, line int) error) error) (*Source, error) {
	set := map[string]bool{}
	if err := read(func(_, label string, has bool, _ int) error {
		if has {
			set[label] = true
		}
		return ctx.Err()
	}); err != nil {
		return nil, err
	}
	labels := make([]string, 0, len(set))
	for l := range set {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	s := &Source{Kind: "manifest", Location: location, Labels: labels}
	s.walk = func(ctx context.Context, fn func(Item) error, _ bool) error {
		var seq int64
		return read(func(p, label string, has bool, _ int) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			it := Item{Seq: seq, Path: p, Open: resolve(location, p), Label: label, HasLabel: has}
			seq++
			return fn(it)
		})
	}
	return s, nil
}
