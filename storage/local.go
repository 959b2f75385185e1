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

// localStore is a directory on a local (or FUSE-mounted) file system. With
// dir "" (Resolve's) names are local paths as they are.
type localStore struct {
	dir string
	loc string
}

// NewLocal is the local directory dir.
func NewLocal(dir string) Store { return localStore{dir: dir, loc: dir} }

func (d localStore) Location() string {
	if d.loc == "" {
		return d.dir
	}
	return d.loc
}

func (d localStore) path(name string) string {
	if d.dir == "" {
		return filepath.FromSlash(name)
	}
	return filepath.Join(d.dir, filepath.FromSlash(name))
}

func (d localStore) Path(name string) string { return d.path(name) }
func (d localStore) Close() error            { return nil }

func (d localStore) ReadFile(ctx context.Context, name string) ([]byte, error) {
	return d.ReadFileLimit(ctx, name, 0)
}

func (d localStore) ReadFileLimit(_ context.Context, name string, limit int64) ([]byte, error) {
	f, err := openRegular(d.path(name))
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

type localFile struct {
	*os.File
	size int64
}

func (f localFile) Size() int64 { return f.size }

func (d localStore) Open(_ context.Context, name string) (File, error) {
	f, err := openRegular(d.path(name))
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

func (d localStore) NewReader(_ context.Context, name string) (io.ReadCloser, error) {
	return openRegular(d.path(name))
}

func (d localStore) List(_ context.Context, sub string) ([]FileInfo, error) {
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

func (d localStore) Walk(ctx context.Context, sub string, fn func(Entry) error) error {
	root := d.path(sub)
	return filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if de.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		e := Entry{Path: p, Rel: filepath.ToSlash(rel), Mode: de.Type()}
		info, err := de.Info()
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

func (d localStore) IsDir(_ context.Context, name string) (bool, error) {
	st, err := os.Stat(d.path(name))
	if err != nil {
		return false, err
	}
	return st.IsDir(), nil
}

func (d localStore) Remove(_ context.Context, name string) error {
	return os.RemoveAll(d.path(name))
}

func (d localStore) CreateTemp(name string) (*os.File, error) {
	p := d.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	return os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*")
}

// Commit syncs the spool (created beside name by CreateTemp) and renames
// it into place.
func (d localStore) Commit(_ context.Context, f *os.File, name string) error {
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

func (d localStore) WriteFile(ctx context.Context, name string, data []byte) error {
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

func (d localStore) Put(ctx context.Context, name string, data []byte) error {
	return d.WriteFile(ctx, name, data)
}

// CreateExclusive writes a temporary file beside name and hard-links it
// into place: the link fails if name exists, and a reader never sees a
// partial file. A file system without hard links (some FUSE mounts) gets
// an O_EXCL create instead, whose content appears as it is written.
func (d localStore) CreateExclusive(_ context.Context, name string, data []byte) error {
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

func (d localStore) RemoveTemps(_ context.Context, sub string) error {
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
