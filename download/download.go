package download

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// MirrorEnv names the environment variable of a mirror: a base URL that
// serves each file under its file name, tried instead of the file's own URL
// (a site without internet access, and the tests). The SHA-256 is checked
// all the same.
const MirrorEnv = "FEATURIZER_MIRROR"

// Store is a directory of downloaded files. The zero value of every field
// but Dir works.
type Store struct {
	Dir string
	// Offline forbids downloads.
	Offline bool
	// Client is used for downloads; nil means a client with a 30 minute
	// timeout.
	Client *http.Client
	// Mirror replaces each file's URL with Mirror/<file>; empty means
	// $FEATURIZER_MIRROR, if set.
	Mirror string
	// Note receives one-line messages (download started, done); nil drops them.
	Note func(string)
}

// DefaultModelsDir is $FEATURIZER_MODELS, else models under CacheDir.
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

// Error is a download that failed (the server, the network or the disk),
// as opposed to a file that is not there to download.
type Error struct {
	URL string
	Err error
	// Unreachable is set when no server answered (most likely there is no
	// network): the message is then one line naming every file in Place
	// and the folder (Dir) to put them in.
	Unreachable bool
	Dir         string
	Place       []File
}

// File is a file to fetch: its name in the store, its pinned URL and
// SHA-256.
type File struct{ Name, URL, SHA256 string }

func (e *Error) Error() string {
	if !e.Unreachable || len(e.Place) == 0 {
		return e.Err.Error()
	}
	var names, from []string
	for _, f := range e.Place {
		names = append(names, f.Name)
		from = append(from, fmt.Sprintf("%s from %s (SHA-256 %s)", f.Name, f.URL, f.SHA256))
	}
	them := "it"
	if len(names) > 1 {
		them = "them"
	}
	return fmt.Sprintf("cannot download %s (offline? %v); put %s into %s yourself, or point --models-dir (FEATURIZER_MODELS) at a folder that has %s",
		strings.Join(names, " and "), e.Err, strings.Join(from, " and "), e.Dir, them)
}

func (e *Error) Unwrap() error { return e.Err }

// MissingError is a file that is not in the store and may not be fetched:
// it has no download, or downloads are off. The user has to provide it.
type MissingError struct{ Msg string }

func (e *MissingError) Error() string { return e.Msg }

// Ensure returns the path and SHA-256 of file in the store, downloading it
// from url first when it is missing. expected, when set, must match. hint
// tells the user how to obtain a file that has no url.
func (s *Store) Ensure(ctx context.Context, file, url, expected, hint string) (path, digest string, err error) {
	path = filepath.Join(s.Dir, file)
	digest, err = HashFile(path)
	switch {
	case err == nil:
		if expected != "" && digest != expected {
			return "", "", fmt.Errorf("verify %s: %w (delete it to download it again)", file, &ChecksumError{Path: path, Got: digest, Expected: expected})
		}
		return path, digest, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", "", fmt.Errorf("read %s: %w", file, err)
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
	from := s.source(file, url)
	if err := s.download(ctx, from, path, expected); err != nil {
		var ce *ChecksumError
		if errors.As(err, &ce) || ctx.Err() != nil {
			return "", "", err
		}
		var na *noAnswer
		if errors.As(err, &na) {
			return "", "", &Error{URL: from, Err: na.err, Unreachable: true, Dir: s.Dir, Place: []File{{file, url, expected}}}
		}
		return "", "", &Error{URL: from, Err: fmt.Errorf("%w (without network access, put %s into %s yourself)", err, file, s.Dir)}
	}
	return path, expected, nil
}

// source is where file is fetched from: the mirror when there is one.
func (s *Store) source(file, url string) string {
	m := s.Mirror
	if m == "" {
		m = os.Getenv(MirrorEnv)
	}
	if m == "" {
		return url
	}
	return strings.TrimRight(m, "/") + "/" + file
}

func (s *Store) note(format string, args ...any) {
	if s.Note != nil {
		s.Note(fmt.Sprintf(format, args...))
	}
}

// noAnswer is a request no server answered: no route, no name, refused.
type noAnswer struct{ err error }

func (e *noAnswer) Error() string { return e.err.Error() }
func (e *noAnswer) Unwrap() error { return e.err }

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
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err // the message names the URL already
		}
		// A name that does not resolve will not resolve in a few seconds
		// either (most likely no network): say so at once.
		var dns *net.DNSError
		return ctx.Err() == nil && !(errors.As(err, &dns) && dns.IsNotFound), &noAnswer{err}
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
