package backbones

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
		case "/ok", "/tampered":
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
	t.Run("no url gives the recipe", func(t *testing.T) {
		s := &Store{Dir: t.TempDir()}
		_, _, err := s.Ensure(ctx, "m.onnx", "", "", "python3 export.py")
		if err == nil || !strings.Contains(err.Error(), "python3 export.py") {
			t.Fatalf("got %v", err)
		}
	})
}
