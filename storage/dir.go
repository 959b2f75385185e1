package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// Dir is a location that jobs write to: a local directory or a prefix of a
// bucket. Names are slash-separated and relative to it. Every file appears
// whole or not at all: it is written under a hidden temporary name
// (".NAME.tmp-RANDOM", which Spark, Hadoop and featurizer's readers skip)
// and then renamed, or for a bucket copied, into place.
type Dir interface {
	// Location is the directory as the user named it.
	Location() string
	// Path is the full location of name, for messages and rows.
	Path(name string) string
	// LocalPath is the local directory, or "" for a bucket.
	LocalPath() string
	// ReadFile returns a whole file; a missing one fails with an error
	// matching fs.ErrNotExist.
	ReadFile(ctx context.Context, name string) ([]byte, error)
	// List names the entries directly under sub ("" for the top), sorted.
	List(ctx context.Context, sub string) ([]FileInfo, error)
	// Open opens name for random access (Parquet footers): a bucket object
	// is read by ranges, its tail in one request.
	Open(ctx context.Context, name string) (File, error)
	// WriteFile writes name atomically.
	WriteFile(ctx context.Context, name string, data []byte) error
	// Put writes a small file, replacing it atomically: in an object store
	// in one request (a PUT replaces an object whole, and a killed writer
	// leaves no temporary key behind); on disk it is WriteFile.
	Put(ctx context.Context, name string, data []byte) error
	// CreateExclusive writes name atomically only if it does not exist
	// yet; when it does, the error matches fs.ErrExist and the file is
	// left as it was. Of two processes creating the same name at once,
	// exactly one succeeds (a lock, or a lease, on disk or in a bucket).
	CreateExclusive(ctx context.Context, name string, data []byte) error
	// CreateTemp returns a spool file for name, to be passed to Commit.
	CreateTemp(name string) (*os.File, error)
	// Commit makes the closed spool file f visible as name, atomically,
	// and removes the spool.
	Commit(ctx context.Context, f *os.File, name string) error
	// Remove deletes name (a file, or for a local directory, a tree);
	// a missing one is not an error.
	Remove(ctx context.Context, name string) error
	// RemoveTemps deletes the hidden temporaries a killed run left in sub.
	RemoveTemps(ctx context.Context, sub string) error
	// Close releases the bucket, if any.
	Close() error
}

// FileInfo describes an entry of a Dir.
type FileInfo struct {
	Name  string
	Size  int64
	IsDir bool
}

// File is an open file of a Dir.
type File interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// IsTemp reports whether a file name is one of the hidden temporaries.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-")
}

func tempName(name string) string {
	var b [6]byte
	rand.Read(b[:])
	dir, base := path.Split(name)
	return dir + "." + base + ".tmp-" + hex.EncodeToString(b[:])
}

// OpenDir opens a location for writing (see Resolve for the forms).
func OpenDir(ctx context.Context, location string) (Dir, error) {
	s, p, err := Resolve(ctx, location)
	if err != nil {
		return nil, err
	}
	switch s := s.(type) {
	case *Blob:
		return &BlobDir{b: s, loc: location, root: strings.TrimSuffix(s.key(p), "/")}, nil
	default:
		return LocalDir{Dir: p, loc: location}, nil
	}
}

// IsRemote reports whether a location is in an object store.
func IsRemote(location string) bool {
	return strings.Contains(location, "://") && !strings.HasPrefix(location, "file://")
}

// LocalDir is a directory on a local (or FUSE-mounted) file system.
type LocalDir struct {
	Dir string
	loc string
}

// NewLocalDir is the local directory dir.
func NewLocalDir(dir string) LocalDir { return LocalDir{Dir: dir, loc: dir} }

func (d LocalDir) Location() string {
	if d.loc == "" {
		return d.Dir
	}
	return d.loc
}
func (d LocalDir) path(name string) string { return filepath.Join(d.Dir, filepath.FromSlash(name)) }
func (d LocalDir) Path(name string) string { return d.path(name) }
func (d LocalDir) LocalPath() string       { return d.Dir }
func (d LocalDir) Close() error            { return nil }
func (d LocalDir) Remove(_ context.Context, name string) error {
	return os.RemoveAll(d.path(name))
}

func (d LocalDir) ReadFile(_ context.Context, name string) ([]byte, error) {
	return os.ReadFile(d.path(name))
}

func (d LocalDir) List(_ context.Context, sub string) ([]FileInfo, error) {
	ents, err := os.ReadDir(d.path(sub))
	if err != nil {
		return nil, err
	}
	out := make([]FileInfo, 0, len(ents))
	for _, e := range ents {
		fi := FileInfo{Name: e.Name(), IsDir: e.IsDir()}
		if info, err := e.Info(); err == nil && !e.IsDir() {
			fi.Size = info.Size()
		}
		out = append(out, fi)
	}
	return out, nil
}

type localFile struct {
	*os.File
	size int64
}

func (f localFile) Size() int64 { return f.size }

func (d LocalDir) Open(_ context.Context, name string) (File, error) {
	f, err := os.Open(d.path(name))
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return localFile{f, st.Size()}, nil
}

func (d LocalDir) CreateTemp(name string) (*os.File, error) {
	p := d.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	return os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*")
}

// Commit syncs the spool (created beside name by CreateTemp) and renames
// it into place.
func (d LocalDir) Commit(_ context.Context, f *os.File, name string) error {
	err := f.Chmod(0o644)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil && cerr != nil && !errors.Is(cerr, os.ErrClosed) {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), d.path(name))
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	syncDir(filepath.Dir(d.path(name)))
	return nil
}

func (d LocalDir) WriteFile(ctx context.Context, name string, data []byte) error {
	f, err := d.CreateTemp(name)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	return d.Commit(ctx, f, name)
}

func (d LocalDir) Put(ctx context.Context, name string, data []byte) error {
	return d.WriteFile(ctx, name, data)
}

// CreateExclusive writes a temporary file beside name and hard-links it
// into place: the link fails if name exists, and a reader never sees a
// partial file. A file system without hard links (some FUSE mounts) gets
// an O_EXCL create instead, whose content appears as it is written.
func (d LocalDir) CreateExclusive(_ context.Context, name string, data []byte) error {
	p := d.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	err = os.Link(f.Name(), p)
	if err == nil {
		syncDir(filepath.Dir(p))
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", p, fs.ErrExist)
	}
	g, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	_, err = g.Write(data)
	if err == nil {
		err = g.Sync()
	}
	if cerr := g.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return fmt.Errorf("create %s: %w", p, err)
	}
	syncDir(filepath.Dir(p))
	return nil
}

func (d LocalDir) RemoveTemps(_ context.Context, sub string) error {
	ents, _ := os.ReadDir(d.path(sub))
	for _, e := range ents {
		if IsTemp(e.Name()) {
			if err := os.Remove(filepath.Join(d.path(sub), e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync() // best effort: not every file system syncs directories
		f.Close()
	}
}

// BlobDir is a prefix of a bucket. Objects are uploaded under a temporary
// key and then copied to their name, so that a reader never sees a part
// of one, whatever the store's upload semantics.
type BlobDir struct {
	b    *Blob
	loc  string
	root string // key prefix, no trailing slash
}

func (d *BlobDir) Location() string  { return d.loc }
func (d *BlobDir) LocalPath() string { return "" }
func (d *BlobDir) Close() error      { return d.b.Close() }

func (d *BlobDir) key(name string) string {
	if d.root == "" {
		return name
	}
	if name == "" {
		return d.root
	}
	return d.root + "/" + name
}

func (d *BlobDir) Path(name string) string { return d.b.prefix + d.key(name) }

// guard turns a panic inside the driver into an error: gocloud v0.47's
// Azure driver dereferences a nil status when a copy's status poll fails.
func guard(op func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("storage driver panic: %v", r) // Unknown: retried
		}
	}()
	return op()
}

func (d *BlobDir) do(ctx context.Context, op func() error) error {
	return d.b.retry(ctx, func() error { return guard(op) })
}

func notExist(err error, p string) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	return err
}

func (d *BlobDir) ReadFile(ctx context.Context, name string) ([]byte, error) {
	var data []byte
	err := d.do(ctx, func() error {
		var err error
		data, err = d.b.Bucket.ReadAll(ctx, d.key(name))
		return err
	})
	return data, notExist(err, d.Path(name))
}

func (d *BlobDir) List(ctx context.Context, sub string) ([]FileInfo, error) {
	prefix := d.key(sub)
	if prefix != "" {
		prefix += "/"
	}
	var out []FileInfo
	err := d.do(ctx, func() error {
		out = out[:0]
		it := d.b.Bucket.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
		for {
			obj, err := it.Next(ctx)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			name := strings.TrimSuffix(strings.TrimPrefix(obj.Key, prefix), "/")
			if name == "" {
				continue
			}
			out = append(out, FileInfo{Name: name, Size: obj.Size, IsDir: obj.IsDir})
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// tailSize is read in one request when an object is opened: a Parquet
// footer (and the feature table's provenance) fits in it.
const tailSize = 256 << 10

type blobFile struct {
	ctx  context.Context
	d    *BlobDir
	key  string
	size int64
	tail []byte // the last len(tail) bytes
}

func (f *blobFile) Size() int64  { return f.size }
func (f *blobFile) Close() error { return nil }

func (f *blobFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	n := len(p)
	if off+int64(n) > f.size {
		n = int(f.size - off)
	}
	if start := f.size - int64(len(f.tail)); off >= start {
		copy(p, f.tail[off-start:])
	} else if err := f.d.rangeRead(f.ctx, f.key, off, p[:n]); err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (d *BlobDir) rangeRead(ctx context.Context, key string, off int64, p []byte) error {
	return d.do(ctx, func() error {
		r, err := d.b.Bucket.NewRangeReader(ctx, key, off, int64(len(p)), nil)
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.ReadFull(r, p)
		if err != nil {
			// A body cut short is a broken connection: worth retrying.
			return fmt.Errorf("read %s: %w", key, err) // gcerrors.Unknown: retried
		}
		return nil
	})
}

func (d *BlobDir) Open(ctx context.Context, name string) (File, error) {
	key := d.key(name)
	var size int64
	err := d.do(ctx, func() error {
		a, err := d.b.Bucket.Attributes(ctx, key)
		if err == nil {
			size = a.Size
		}
		return err
	})
	if err != nil {
		return nil, notExist(err, d.Path(name))
	}
	f := &blobFile{ctx: ctx, d: d, key: key, size: size}
	f.tail = make([]byte, min(size, tailSize))
	if err := d.rangeRead(ctx, key, size-int64(len(f.tail)), f.tail); err != nil {
		return nil, fmt.Errorf("read %s: %w", d.Path(name), err)
	}
	return f, nil
}

func (d *BlobDir) CreateTemp(name string) (*os.File, error) {
	return os.CreateTemp("", "featurizer-"+path.Base(name)+".tmp-*")
}

// upload puts the content of open() under a temporary key, copies it to
// name and deletes the temporary key.
func (d *BlobDir) upload(ctx context.Context, name string, open func() (io.Reader, error)) error {
	tmp := d.key(tempName(name))
	err := d.do(ctx, func() error {
		r, err := open()
		if err != nil {
			return err
		}
		return d.b.Bucket.Upload(ctx, tmp, r, &blob.WriterOptions{ContentType: "application/octet-stream"})
	})
	if err == nil {
		err = d.do(ctx, func() error { return d.b.Bucket.Copy(ctx, d.key(name), tmp, nil) })
	}
	// The temporary key goes in any case; a leftover one is skipped by
	// readers and removed by the next run's RemoveTemps.
	derr := d.do(ctx, func() error {
		if err := d.b.Bucket.Delete(ctx, tmp); gcerrors.Code(err) != gcerrors.NotFound {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("upload %s: %w", d.Path(name), err)
	}
	if derr != nil {
		return fmt.Errorf("upload %s: remove temporary key: %w", d.Path(name), derr)
	}
	return nil
}

func (d *BlobDir) WriteFile(ctx context.Context, name string, data []byte) error {
	return d.upload(ctx, name, func() (io.Reader, error) { return bytes.NewReader(data), nil })
}

func (d *BlobDir) Put(ctx context.Context, name string, data []byte) error {
	key := d.key(name)
	err := d.do(ctx, func() error {
		return d.b.Bucket.Upload(ctx, key, bytes.NewReader(data), &blob.WriterOptions{ContentType: "application/octet-stream"})
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", d.Path(name), err)
	}
	return nil
}

// CreateExclusive uploads name with the store's create-if-absent
// precondition (S3 If-None-Match: *, GCS ifGenerationMatch=0, Azure
// If-None-Match: *), straight to its key: a small single-request upload is
// atomic. A retried request whose first attempt did succeed finds the
// object there: it is recognised as ours by its content.
func (d *BlobDir) CreateExclusive(ctx context.Context, name string, data []byte) error {
	key := d.key(name)
	err := d.do(ctx, func() error {
		return d.b.Bucket.Upload(ctx, key, bytes.NewReader(data), &blob.WriterOptions{ContentType: "application/octet-stream", IfNotExist: true})
	})
	if gcerrors.Code(err) == gcerrors.FailedPrecondition {
		if cur, rerr := d.ReadFile(ctx, name); rerr == nil && bytes.Equal(cur, data) {
			return nil
		}
		return fmt.Errorf("create %s: %w", d.Path(name), fs.ErrExist)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", d.Path(name), err)
	}
	return nil
}

func (d *BlobDir) Commit(ctx context.Context, f *os.File, name string) error {
	defer os.Remove(f.Name())
	defer f.Close()
	return d.upload(ctx, name, func() (io.Reader, error) {
		_, err := f.Seek(0, io.SeekStart)
		return f, err
	})
}

func (d *BlobDir) Remove(ctx context.Context, name string) error {
	key := d.key(name)
	err := d.do(ctx, func() error {
		err := d.b.Bucket.Delete(ctx, key)
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("remove %s: %w", d.Path(name), err)
	}
	// A "directory": every object under it.
	it := d.b.Bucket.List(&blob.ListOptions{Prefix: key + "/"})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("remove %s: %w", d.Path(name), err)
		}
		if err := d.do(ctx, func() error {
			if err := d.b.Bucket.Delete(ctx, obj.Key); gcerrors.Code(err) != gcerrors.NotFound {
				return err
			}
			return nil
		}); err != nil {
			return fmt.Errorf("remove %s: %w", d.b.prefix+obj.Key, err)
		}
	}
}

func (d *BlobDir) RemoveTemps(ctx context.Context, sub string) error {
	ents, err := d.List(ctx, sub)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.IsDir && IsTemp(e.Name) {
			if err := d.Remove(ctx, path.Join(sub, e.Name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// FetchOptions bounds a download.
type FetchOptions struct {
	// Keep selects the names to download; nil keeps everything.
	Keep func(name string) bool
}

// Fetch downloads the files directly under sub of d into the local
// directory dst (one request per file), skipping temporaries.
func Fetch(ctx context.Context, d Dir, sub, dst string, o FetchOptions) error {
	ents, err := d.List(ctx, sub)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir || IsTemp(e.Name) || (o.Keep != nil && !o.Keep(e.Name)) {
			continue
		}
		data, err := d.ReadFile(ctx, path.Join(sub, e.Name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// FetchDir makes the files directly under a location readable from local
// disk: a local location is returned as it is; a bucket's are downloaded
// (those keep accepts; nil keeps all) into a temporary directory that
// cleanup removes.
func FetchDir(ctx context.Context, location string, keep func(name string) bool) (dir string, cleanup func(), err error) {
	d, err := OpenDir(ctx, location)
	if err != nil {
		return "", nil, err
	}
	defer d.Close()
	if p := d.LocalPath(); p != "" {
		return p, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "featurizer-fetch-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	if err := Fetch(ctx, d, "", tmp, FetchOptions{Keep: keep}); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("download %s: %w", location, err)
	}
	return tmp, cleanup, nil
}

// Join appends slash-separated elements to a location: a local path, or a
// URL, whose query (s3://b/p?endpoint=...) stays at the end.
func Join(location string, elem ...string) string {
	if !strings.Contains(location, "://") {
		return filepath.Join(append([]string{location}, elem...)...)
	}
	base, query, hasQuery := strings.Cut(location, "?")
	out := strings.TrimSuffix(base, "/") + "/" + path.Join(elem...)
	if hasQuery {
		out += "?" + query
	}
	return out
}
