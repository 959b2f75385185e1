package backbones

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Store is a directory of model files (weights and class lists). Files are
// verified by SHA-256; a missing file with a known URL is downloaded unless
// the store is offline.
type Store struct {
	Dir string
	// Offline forbids downloads.
	Offline bool
	// Client is used for downloads; nil means a client with a 30 minute
	// timeout.
	Client *http.Client
	// Note receives one-line messages (download started, done); nil drops them.
	Note func(string)
}

// DefaultModelsDir is $FEATURIZER_MODELS, else the user cache directory.
func DefaultModelsDir() string {
	if d := os.Getenv("FEATURIZER_MODELS"); d != "" {
		return d
	}
	return filepath.Join(CacheDir(), "models")
}

// CacheDir is $FEATURIZER_CACHE, else featurizer under the user cache
// directory (~/.cache/featurizer).
func CacheDir() string {
	if d := os.Getenv("FEATURIZER_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "featurizer")
	}
	return filepath.Join(os.TempDir(), "featurizer-cache")
}

// ChecksumError reports a file whose SHA-256 is not the expected one.
type ChecksumError struct {
	Path     string
	Got      string
	Expected string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s: SHA-256 is %s, expected %s", e.Path, e.Got, e.Expected)
}

// DownloadError is a download that failed (the server, the network or the
// disk), as opposed to a file that is not there to download.
type DownloadError struct {
	URL string
	Err error
}

func (e *DownloadError) Error() string { return e.Err.Error() }
func (e *DownloadError) Unwrap() error { return e.Err }

// MissingError is a file that is not in the store and may not be fetched:
// it has no download, or downloads are off. The user has to provide it.
type MissingError struct{ Msg string }

func (e *MissingError) Error() string { return e.Msg }

// Ensure returns the path and SHA-256 of file in the store, downloading it
// from url first when it is missing. expected, when set, must match. hint
// tells the user how to obtain a file that has no url.
func (s *Store) Ensure(ctx context.Context, file, url, expected, hint string) (path, digest string, err error) {
	return s.ensure(ctx, file, url, expected, hint, false)
}

// EnsureModel is Ensure for an ONNX model: the digest is HashModel's, which
// covers external data files too (and is HashFile's for a one-file model,
// the only kind a download gives).
func (s *Store) EnsureModel(ctx context.Context, file, url, expected, hint string) (path, digest string, err error) {
	return s.ensure(ctx, file, url, expected, hint, true)
}

func (s *Store) ensure(ctx context.Context, file, url, expected, hint string, model bool) (path, digest string, err error) {
	path = filepath.Join(s.Dir, file)
	var dataFiles []string
	if model {
		digest, dataFiles, err = hashModel(path)
	} else {
		digest, err = HashFile(path)
	}
	switch {
	case err == nil:
		if expected != "" && digest != expected {
			ce := &ChecksumError{Path: path, Got: digest, Expected: expected}
			if len(dataFiles) > 0 {
				return "", "", fmt.Errorf("verify weights: %w (this copy keeps its weights in %d external data file(s) and the SHA-256 covers them too; the expected file is one self-contained model: delete %s to download it again)", ce, len(dataFiles), file)
			}
			return "", "", fmt.Errorf("verify weights: %w (delete it to download it again)", ce)
		}
		return path, digest, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", "", fmt.Errorf("read weights: %w", err)
	}
	if url == "" {
		msg := fmt.Sprintf("%s not found in the models directory %s (set --models-dir or FEATURIZER_MODELS)", file, s.Dir)
		if hint != "" {
			msg += "; it has no published download, create it with: " + hint
		}
		return "", "", &MissingError{msg}
	}
	if s.Offline {
		return "", "", &MissingError{fmt.Sprintf("%s not found in the models directory %s and downloads are off (--offline); fetch %s into it", file, s.Dir, url)}
	}
	if err := s.download(ctx, url, path, expected); err != nil {
		var ce *ChecksumError
		if errors.As(err, &ce) || ctx.Err() != nil {
			return "", "", err
		}
		return "", "", &DownloadError{URL: url, Err: fmt.Errorf("%w (without network access, put %s into %s yourself)", err, file, s.Dir)}
	}
	return path, expected, nil
}

func (s *Store) note(format string, args ...any) {
	if s.Note != nil {
		s.Note(fmt.Sprintf(format, args...))
	}
}

// download fetches url into path: a temporary file in the same directory,
// verified, then renamed, so that path never holds a partial or wrong file.
func (s *Store) download(ctx context.Context, url, path, expected string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Minute}
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 2 * time.Second):
			}
		}
		s.note("downloading %s to %s", url, path)
		retry, err := s.downloadOnce(ctx, client, url, path, expected)
		if err == nil {
			s.note("downloaded %s (SHA-256 %s)", filepath.Base(path), expected)
			return nil
		}
		lastErr = err
		if !retry {
			break
		}
	}
	return lastErr
}

func (s *Store) downloadOnce(ctx context.Context, client *http.Client, url, path, expected string) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, fmt.Errorf("download %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode >= 500 || resp.StatusCode == 429, fmt.Errorf("download %s: HTTP %s", url, resp.Status)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".download-*")
	if err != nil {
		return false, fmt.Errorf("download %s: %w", url, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), resp.Body); err != nil {
		tmp.Close()
		return ctx.Err() == nil, fmt.Errorf("download %s: %w", url, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, fmt.Errorf("download %s: %w", url, err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("download %s: %w", url, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if expected != "" && got != expected {
		return false, fmt.Errorf("download %s: %w", url, &ChecksumError{Path: path, Got: got, Expected: expected})
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("download %s: %w", url, err)
	}
	return false, nil
}

// HashFile returns the hex SHA-256 of a file.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
