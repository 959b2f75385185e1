// Package storage is where inputs are read from: local files (including
// Databricks' FUSE paths) and object stores (S3, Azure Blob/ADLS, GCS)
// through gocloud.dev/blob, behind one interface.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// ErrTooLarge is returned by ReadFile for files over the limit.
var ErrTooLarge = errors.New("file too large")

// ErrUnavailable marks a store that kept failing with transient errors
// (5xx, throttling, dropped connections) through every retry: the job
// failed, its configuration may well be right.
var ErrUnavailable = errors.New("storage unavailable")

// Entry is one file found by Walk.
type Entry struct {
	Path string // full path, usable with ReadFile
	Rel  string // path relative to the walk root, with forward slashes
	Size int64
	// Mode is the type of the file the path leads to, links followed
	// (fs.ModeNamedPipe, ...): 0 for a regular file and for an object.
	Mode fs.FileMode
	// Version tells two contents of the same path apart: the object's MD5
	// (S3's ETag of a single-part upload, Azure's Content-MD5) where the
	// store lists one, else the modification time.
	Version string
}

// Store reads files and lists trees.
type Store interface {
	// ReadFile returns the whole file; files over limit bytes (when > 0)
	// fail with ErrTooLarge without being read.
	ReadFile(ctx context.Context, path string, limit int64) ([]byte, error)
	// Walk calls fn for every file under root in lexical order, streaming:
	// fn sees the first files before the last directory is listed.
	Walk(ctx context.Context, root string, fn func(Entry) error) error
	// Open opens a file for streaming reads.
	Open(ctx context.Context, path string) (io.ReadCloser, error)
	// IsDir reports whether path is a directory (a prefix of objects).
	IsDir(ctx context.Context, path string) (bool, error)
	// ListDirs names the directories directly under path, sorted.
	ListDirs(ctx context.Context, path string) ([]string, error)
}

// Local is the local file system.
type Local struct{}

func (Local) ReadFile(ctx context.Context, path string, limit int64) ([]byte, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if limit > 0 && st.Size() > limit {
		return nil, fmt.Errorf("%w: %d bytes, over the limit of %d (--max-bytes)", ErrTooLarge, st.Size(), limit)
	}
	buf := make([]byte, st.Size())
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

func (Local) Walk(ctx context.Context, root string, fn func(Entry) error) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		e := Entry{Path: p, Rel: filepath.ToSlash(rel), Mode: d.Type()}
		info, err := d.Info()
		if e.Mode&fs.ModeSymlink != 0 {
			info, err = os.Stat(p) // the target's type, size and time
			if err == nil {
				e.Mode = info.Mode().Type()
			}
		}
		if err == nil {
			e.Size, e.Version = info.Size(), info.ModTime().UTC().Format(time.RFC3339Nano)
		}
		return fn(e)
	})
}

func (Local) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	return openRegular(path)
}

func (Local) IsDir(ctx context.Context, path string) (bool, error) {
	st, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return st.IsDir(), nil
}

func (Local) ListDirs(ctx context.Context, path string) ([]string, error) {
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
