package backbones

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/featurizer/featurizer/download"
	"github.com/featurizer/featurizer/modelspec"
)

// ensureModel is download.Store.Ensure for an ONNX model: the digest is
// HashModel's, which covers external data files too (and is the file's
// SHA-256 for a one-file model, the only kind a download gives).
func ensureModel(ctx context.Context, s *download.Store, file, url, expected, hint string) (path, digest string, err error) {
	path = filepath.Join(s.Dir, file)
	digest, dataFiles, err := hashModel(path)
	switch {
	case err == nil:
		if expected != "" && digest != expected {
			ce := &download.ChecksumError{Path: path, Got: digest, Expected: expected}
			if len(dataFiles) > 0 {
				return "", "", fmt.Errorf("verify weights: %w (this copy keeps its weights in %d external data file(s) and the SHA-256 covers them too; the expected file is one self-contained model: delete %s to download it again)", ce, len(dataFiles), file)
			}
			return "", "", fmt.Errorf("verify weights: %w (delete it to download it again)", ce)
		}
		return path, digest, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", "", fmt.Errorf("read weights: %w", err)
	}
	return s.Ensure(ctx, file, url, expected, hint)
}

// withClassList adds a catalog class list that is not in the store yet to
// an offline message about the weights, so that one line names every file
// the user has to place.
func withClassList(err error, s *download.Store, spec *modelspec.Spec, classes bool) error {
	var de *download.Error
	if !classes || spec.Classifier == nil || !errors.As(err, &de) || !de.Unreachable {
		return err
	}
	list, ok := modelspec.LookupClassList(spec.Classifier.Classes)
	if !ok {
		return err
	}
	if _, statErr := os.Stat(filepath.Join(s.Dir, list.File)); statErr == nil {
		return err
	}
	de.Place = append(de.Place, download.File{Name: list.File, URL: list.URL, SHA256: list.SHA256})
	return err
}
