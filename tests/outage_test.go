package tests

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/internal/testservers"
	"github.com/featurizer/featurizer/table"
)

// An image the store keeps failing to serve (503 after every retry) is
// the store's fault, not the image's: the job fails (exit 1) instead of
// recording a reject in a table that would look complete, and the rerun,
// once the store serves it, resumes and makes it a row.
func TestStoreOutageFailsTheJobNotTheImage(t *testing.T) {
	needRuntime(t)
	srv := testservers.MinIO(t)
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{Seed: 5})
	s3Images(t, dir, 6, 30, 26, srv.Put)

	// A proxy that answers 503 SlowDown to every GET of one object while
	// failing is set; listings and other objects pass.
	var failing atomic.Bool
	failing.Store(true)
	up, _ := url.Parse(srv.Endpoint)
	rp := httputil.NewSingleHostReverseProxy(up)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/images/y/04.png") {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`))
			return
		}
		rp.ServeHTTP(w, r) // the Host header stays the one the client signed
	}))
	defer proxy.Close()
	input := strings.Replace(srv.URL("images"), srv.Endpoint, proxy.URL, 1)
	out := filepath.Join(dir, "features")
	args := []string{"featurize", "--backbone", model, "--spec", spec, "--input", input, "--output", out,
		"--rows-per-part", "2", "--workers", "1", "--progress", "none"}

	r := run(t, args...)
	if r.code != exitFailure || !strings.Contains(r.stderr, "04.png") {
		t.Fatalf("exit %d, want 1 with an error naming the object\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(out, table.SuccessFile)); err == nil {
		t.Fatal("_SUCCESS written by a job that could not read an image")
	}
	if rej, _ := table.ReadAll[table.RejectRow](filepath.Join(out, table.RejectsDir)); len(rej) > 0 {
		for _, x := range rej {
			if strings.Contains(x.Path, "04.png") {
				t.Fatalf("the unreadable image became a reject: %+v", x)
			}
		}
	}

	failing.Store(false)
	if r := run(t, args...); r.code != exitOK {
		t.Fatalf("rerun: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rows, err := table.ReadAll[table.FeatureRow](out)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, row := range rows {
		seen[row.Path]++
	}
	if len(rows) != 6 || len(seen) != 6 {
		t.Fatalf("rerun: %d rows, %d distinct paths, want 6 and 6", len(rows), len(seen))
	}
	found := false
	for p := range seen {
		found = found || strings.HasSuffix(p, "/images/y/04.png")
	}
	if !found {
		t.Error("the image the store failed to serve is not a row after the rerun")
	}
}
