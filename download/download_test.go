package download

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// The download path runs against a local server only.
func TestStoreDownload(t *testing.T) {
	payload := []byte("pretend these are weights")
	var hits, failures atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/flaky":
			if failures.Add(1) == 1 {
				http.Error(w, "try again", http.StatusServiceUnavailable)
				return
			}
			w.Write(payload)
		case "/ok", "/tampered", "/mirror/m.onnx":
			if r.URL.Path == "/tampered" {
				w.Write([]byte("something else"))
				return
			}
			w.Write(payload)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	good := sum(payload)

	t.Run("downloads and verifies", func(t *testing.T) {
		s := &Store{Dir: t.TempDir()}
		p, d, err := s.Ensure(ctx, "m.onnx", srv.URL+"/ok", good, "")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		if string(got) != string(payload) || d != good {
			t.Fatalf("file %q digest %s", got, d)
		}
		before := hits.Load()
		if _, _, err := s.Ensure(ctx, "m.onnx", srv.URL+"/ok", good, ""); err != nil {
			t.Fatal(err)
		}
		if hits.Load() != before {
			t.Error("a present, verified file was downloaded again")
		}
	})
	t.Run("wrong checksum names both hashes and leaves nothing", func(t *testing.T) {
		s := &Store{Dir: t.TempDir()}
		_, _, err := s.Ensure(ctx, "m.onnx", srv.URL+"/tampered", good, "")
		var ce *ChecksumError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), good) || !strings.Contains(err.Error(), sum([]byte("something else"))) {
			t.Fatalf("got %v", err)
		}
		ents, _ := os.ReadDir(s.Dir)
		if len(ents) != 0 {
			t.Errorf("left %v behind", ents)
		}
	})
	t.Run("retries a 503", func(t *testing.T) {
		s := &Store{Dir: t.TempDir()}
		if _, _, err := s.Ensure(ctx, "m.onnx", srv.URL+"/flaky", good, ""); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("404 fails", func(t *testing.T) {
		s := &Store{Dir: t.TempDir()}
		if _, _, err := s.Ensure(ctx, "m.onnx", srv.URL+"/missing", good, ""); err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("offline", func(t *testing.T) {
		s := &Store{Dir: t.TempDir(), Offline: true}
		if _, _, err := s.Ensure(ctx, "m.onnx", srv.URL+"/ok", good, ""); err == nil || !strings.Contains(err.Error(), "--offline") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("present but corrupt", func(t *testing.T) {
		s := &Store{Dir: t.TempDir()}
		os.WriteFile(filepath.Join(s.Dir, "m.onnx"), []byte("bit rot"), 0o644)
		_, _, err := s.Ensure(ctx, "m.onnx", srv.URL+"/ok", good, "")
		if err == nil || !strings.Contains(err.Error(), good) || !strings.Contains(err.Error(), sum([]byte("bit rot"))) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a mirror serves the file by name, verified", func(t *testing.T) {
		s := &Store{Dir: t.TempDir(), Mirror: srv.URL + "/mirror/"}
		if _, d, err := s.Ensure(ctx, "m.onnx", "http://unreachable.invalid/m.onnx", good, ""); err != nil || d != good {
			t.Fatalf("got %s %v", d, err)
		}
		s = &Store{Dir: t.TempDir(), Mirror: srv.URL + "/mirror"}
		if _, _, err := s.Ensure(ctx, "m.onnx", srv.URL+"/ok", sum([]byte("other")), ""); !errors.As(err, new(*ChecksumError)) {
			t.Fatalf("a mirror's file is not verified: %v", err)
		}
	})
	t.Run("the mirror from the environment", func(t *testing.T) {
		t.Setenv(MirrorEnv, srv.URL+"/mirror")
		s := &Store{Dir: t.TempDir()}
		if _, _, err := s.Ensure(ctx, "m.onnx", "http://unreachable.invalid/m.onnx", good, ""); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no url gives the recipe", func(t *testing.T) {
		s := &Store{Dir: t.TempDir()}
		_, _, err := s.Ensure(ctx, "m.onnx", "", "", "python3 export.py")
		if err == nil || !strings.Contains(err.Error(), "python3 export.py") {
			t.Fatalf("got %v", err)
		}
	})
}

// Without a network (no server answers) the error is one line that names
// each file, where it comes from, its SHA-256 and the folder to put it in.
func TestStoreUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/weights/m.onnx"
	l.Close() // nothing listens there now: connection refused
	s := &Store{Dir: t.TempDir()}
	want := sum([]byte("w"))
	_, _, err = s.Ensure(context.Background(), "m.onnx", url, want, "")
	var de *Error
	if !errors.As(err, &de) || !de.Unreachable {
		t.Fatalf("got %#v", err)
	}
	de.Place = append(de.Place, File{Name: "classes.txt", URL: "https://example.org/classes.txt", SHA256: "c0ffee"})
	msg := err.Error()
	for _, part := range []string{"offline", "m.onnx from " + url, want, "classes.txt from https://example.org/classes.txt", "c0ffee", "into " + s.Dir, "--models-dir"} {
		if !strings.Contains(msg, part) {
			t.Errorf("message lacks %q: %s", part, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("more than one line: %q", msg)
	}
	if ents, _ := os.ReadDir(s.Dir); len(ents) != 0 {
		t.Errorf("left %v behind", ents)
	}
}

// A name that does not resolve is not tried again: offline, the answer
// comes at once.
func TestStoreNoNameNoRetry(t *testing.T) {
	var dials atomic.Int32
	offline := &http.Client{Transport: &http.Transport{DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
		dials.Add(1)
		return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
	}}}
	s := &Store{Dir: t.TempDir(), Client: offline}
	_, _, err := s.Ensure(context.Background(), "m.onnx", "https://models.example/m.onnx", sum([]byte("w")), "")
	var de *Error
	if !errors.As(err, &de) || !de.Unreachable || dials.Load() != 1 {
		t.Fatalf("%d attempts, %v", dials.Load(), err)
	}
}
