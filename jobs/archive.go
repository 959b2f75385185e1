package jobs

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/featurizer/featurizer/download"
)

// Archive is a dataset published as one .tgz/.tar.gz/.tar/.zip file.
type Archive struct {
	URL    string `yaml:"url"`
	SHA256 string `yaml:"sha256"`
	// Root is the directory inside the archive that the data paths are
	// relative to (flower_photos for the TensorFlow flowers archive).
	Root string `yaml:"root,omitempty"`
}

// Validate checks that the archive is named with its checksum.
func (a *Archive) Validate() error {
	if a.URL == "" || len(a.SHA256) != 64 {
		return fmt.Errorf("data.archive: expected url and sha256 (64 hex digits)")
	}
	return nil
}

// Fetch downloads the archive into cacheDir (verified by SHA-256) and
// extracts it once; it returns the extracted root. Both steps are atomic:
// a temporary name, then a rename.
func (a *Archive) Fetch(ctx context.Context, cacheDir string, offline bool, note func(string)) (string, error) {
	if err := a.Validate(); err != nil {
		return "", err
	}
	base := filepath.Join(cacheDir, "datasets", a.SHA256[:16])
	dest := filepath.Join(base, "extracted")
	root := dest
	if a.Root != "" {
		root = filepath.Join(dest, a.Root)
	}
	if st, err := os.Stat(dest); err == nil && st.IsDir() {
		return root, nil
	}
	store := &download.Store{Dir: base, Offline: offline, Note: note}
	name := filepath.Base(strings.SplitN(a.URL, "?", 2)[0])
	file, _, err := store.Ensure(ctx, name, a.URL, a.SHA256, "")
	if err != nil {
		return "", fmt.Errorf("data.archive: %w", err)
	}
	tmp, err := os.MkdirTemp(base, ".extract-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if note != nil {
		note(fmt.Sprintf("extracting %s", file))
	}
	if err := extract(file, tmp); err != nil {
		return "", fmt.Errorf("data.archive: extract %s: %w", file, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return "", err
	}
	return root, nil
}

// extract unpacks a tar (optionally gzipped) or zip file into dir, refusing
// entries that would land outside it.
func extract(file, dir string) error {
	inside := func(name string) (string, error) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if p != dir && !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			return "", fmt.Errorf("entry %q leaves the archive", name)
		}
		return p, nil
	}
	write := func(p string, r io.Reader) error {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if strings.HasSuffix(file, ".zip") {
		z, err := zip.OpenReader(file)
		if err != nil {
			return err
		}
		defer z.Close()
		for _, e := range z.File {
			p, err := inside(e.Name)
			if err != nil {
				return err
			}
			if e.FileInfo().IsDir() {
				os.MkdirAll(p, 0o755)
				continue
			}
			r, err := e.Open()
			if err != nil {
				return err
			}
			err = write(p, r)
			r.Close()
			if err != nil {
				return err
			}
		}
		return nil
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(file, ".gz") || strings.HasSuffix(file, ".tgz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		defer gz.Close()
		r = gz
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p, err := inside(h.Name)
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := write(p, tr); err != nil {
				return err
			}
		}
	}
}
