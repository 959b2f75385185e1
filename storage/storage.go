package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrTooLarge is returned by ReadFileLimit for files over the limit.
var ErrTooLarge = errors.New("file too large")

// ErrUnavailable marks a store that kept failing with transient errors
// (5xx, throttling, dropped connections) through every retry: the job
// failed, its configuration may well be right.
var ErrUnavailable = errors.New("storage unavailable")

// Store is a location: a local directory or a prefix of a bucket. Jobs read
// their inputs and write their tables and models through it.
//
// Names are slash-separated and relative to the location ("" is the
// location itself). The store of a whole namespace, which Resolve returns
// for inputs, takes the full paths its Walk yields (Entry.Path: a local
// path, or s3://bucket/key), which is what input items carry; any bucket
// store takes an object's full URL too.
//
// Every file written appears whole or not at all: it is written under a
// hidden temporary name (".NAME.tmp-RANDOM", which Spark, Hadoop and
// featurizer's readers skip) and then renamed, or for a bucket copied,
// into place.
//
// A store does not retry: WithRetry does (Open and Resolve apply it).
type Store interface {
	// Location is the location as the user named it.
	Location() string
	// Path is the full location of name, for messages and rows.
	Path(name string) string

	// ReadFile returns a whole file; a missing one fails with an error
	// matching fs.ErrNotExist.
	ReadFile(ctx context.Context, name string) ([]byte, error)
	// ReadFileLimit is ReadFile for a file that may be anything: files
	// over limit bytes (when > 0) fail with ErrTooLarge without being
	// read, and a named pipe, device or directory is refused without
	// blocking.
	ReadFileLimit(ctx context.Context, name string, limit int64) ([]byte, error)
	// Open opens name for random access (Parquet footers): a bucket
	// object is read by ranges, its tail in one request.
	Open(ctx context.Context, name string) (File, error)
	// NewReader opens name for one streaming read; a bucket connection
	// broken mid-body is reopened at the offset reached.
	NewReader(ctx context.Context, name string) (io.ReadCloser, error)
	// List names the entries directly under sub, sorted.
	List(ctx context.Context, sub string) ([]FileInfo, error)
	// Walk calls fn for every file under sub in lexical order, streaming:
	// fn sees the first files before the last directory is listed. It
	// stops at the first error fn returns.
	Walk(ctx context.Context, sub string, fn func(Entry) error) error
	// IsDir reports whether name is a directory (a prefix of objects); a
	// name that is neither a file nor a directory is an error.
	IsDir(ctx context.Context, name string) (bool, error)

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
	// Remove deletes name (a file, or a tree); a missing one is not an
	// error.
	Remove(ctx context.Context, name string) error
	// RemoveTemps deletes the hidden temporaries a killed run left in sub.
	RemoveTemps(ctx context.Context, sub string) error

	// Close releases the bucket, if any.
	Close() error
}

// Entry is one file found by Walk.
type Entry struct {
	Path string // full path of the file (Store.Path); Resolve's store reads it back
	Rel  string // path relative to the walk's sub, with forward slashes
	Size int64
	// Mode is the type of the file the path leads to, links followed
	// (fs.ModeNamedPipe, ...): 0 for a regular file and for an object.
	Mode fs.FileMode
	// Version tells two contents of the same path apart: the object's MD5
	// (S3's ETag of a single-part upload, Azure's Content-MD5) where the
	// store lists one, else the modification time.
	Version string
}

// FileInfo describes an entry found by List.
type FileInfo struct {
	Name  string
	Size  int64
	IsDir bool
}

// File is a file opened for random access.
type File interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Open opens a location (see Resolve for the forms), with the default
// retries.
func Open(ctx context.Context, location string) (Store, error) {
	s, err := openBackend(ctx, location)
	if err != nil {
		return nil, err
	}
	return WithRetry(s, RetryOptions{}), nil
}

// Resolve opens the namespace a location lives in, with the default
// retries, and names the location in it: the local file system (the name
// is the local path) or the whole bucket (the name is the location's URL,
// query aside). Inputs use it: a manifest names images anywhere in its
// namespace.
//
// The forms of a location:
//
//   - a local path, file:///path, /Volumes/... (Unity Catalog volumes)
//     and dbfs:/path (as /dbfs/path, the FUSE mount) are local;
//   - s3://bucket/prefix, gs://bucket/prefix, azblob://container/prefix and
//     mem://bucket/prefix go through gocloud.dev/blob, with credentials from
//     each provider's standard environment and chains;
//   - abfss://container@account.dfs.core.windows.net/prefix (Azure
//     Databricks' form) is the same container on the blob endpoint.
func Resolve(ctx context.Context, location string) (Store, string, error) {
	s, name, err := resolve(ctx, location)
	if err != nil {
		return nil, "", err
	}
	return WithRetry(s, RetryOptions{}), name, nil
}

// LocalPath is the local directory (or file) a location names, and false
// for a location in a bucket. The few callers that need a path of their
// own (renaming a model directory into place, reading a table's parts with
// a library that takes file names) use it; everything else goes through a
// Store.
func LocalPath(location string) (string, bool) {
	p, local, err := localPath(location)
	return p, local && err == nil
}

// IsRemote reports whether a location is in an object store.
func IsRemote(location string) bool {
	return strings.Contains(location, "://") && !strings.HasPrefix(location, "file://")
}

func localPath(location string) (p string, local bool, err error) {
	switch {
	case strings.HasPrefix(location, "dbfs:/"):
		return "/dbfs/" + strings.TrimLeft(strings.TrimPrefix(location, "dbfs:"), "/"), true, nil
	case strings.HasPrefix(location, "file://"):
		u, err := url.Parse(location)
		if err != nil {
			return "", true, fmt.Errorf("location %q: %w", location, err)
		}
		return u.Path, true, nil
	case !strings.Contains(location, "://"):
		return location, true, nil
	}
	return "", false, nil
}

// openBackend opens the store of a location, without retries.
func openBackend(ctx context.Context, location string) (Store, error) {
	s, name, err := resolve(ctx, location)
	if err != nil {
		return nil, err
	}
	switch s := s.(type) {
	case *blobStore:
		s.root, s.loc = strings.TrimSuffix(s.key(name), "/"), location
		return s, nil
	default:
		return localStore{dir: name, loc: location}, nil
	}
}

// resolve is Resolve without retries.
func resolve(ctx context.Context, location string) (Store, string, error) {
	if p, local, err := localPath(location); err != nil {
		return nil, "", err
	} else if local {
		return localStore{}, p, nil
	}
	b, prefix, err := openBucket(ctx, location)
	if err != nil {
		return nil, "", err
	}
	u, _ := url.Parse(location) // openBucket parsed it
	return &blobStore{bucket: b, prefix: prefix, loc: prefix}, prefix + strings.TrimPrefix(u.Path, "/"), nil
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
