package storage

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
)

// FetchOptions bounds a download.
type FetchOptions struct {
	// Keep selects the names to download; nil keeps everything.
	Keep func(name string) bool
}

// Fetch downloads the files directly under sub of s into the local
// directory dst (one request per file), skipping temporaries.
func Fetch(ctx context.Context, s Store, sub, dst string, o FetchOptions) error {
	ents, err := s.List(ctx, sub)
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
		data, err := s.ReadFile(ctx, path.Join(sub, e.Name))
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
	if p, ok := LocalPath(location); ok {
		return p, func() {}, nil
	}
	s, err := Open(ctx, location)
	if err != nil {
		return "", nil, err
	}
	defer s.Close()
	tmp, err := os.MkdirTemp("", "featurizer-fetch-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	if err := Fetch(ctx, s, "", tmp, FetchOptions{Keep: keep}); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("download %s: %w", location, err)
	}
	return tmp, cleanup, nil
}
