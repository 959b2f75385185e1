package testservers

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// GCSServer is a fake Google Cloud Storage server (fsouza/fake-gcs-server,
// the JSON API in memory) on loopback with one bucket.
type GCSServer struct {
	Bucket   string
	Endpoint string // http://127.0.0.1:PORT
}

// FakeGCS starts a fake GCS server for the test, creates a bucket and sets
// STORAGE_EMULATOR_HOST, which gocloud.dev's gcsblob (and Google's client)
// follow: gs:// locations then go to the server, without credentials. One
// per test process at a time (the variable is global). The test skips when
// the server is not installed, unless FEATURIZER_REQUIRE_SERVERS is set.
func FakeGCS(t testing.TB) *GCSServer {
	t.Helper()
	bin := findTool("FEATURIZER_FAKE_GCS", "bin/fake-gcs-server", "fake-gcs-server")
	if bin == "" {
		msg := "fake-gcs-server not found (make setup installs it with go install; or set FEATURIZER_FAKE_GCS)"
		if os.Getenv("FEATURIZER_REQUIRE_SERVERS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	port := loopbackPort(t)
	host := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "-scheme", "http", "-host", "127.0.0.1", "-port", fmt.Sprint(port),
		"-backend", "memory", "-public-host", host, "-log-level", "error")
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	g := &GCSServer{Bucket: fmt.Sprintf("featurizer-%d", minioSeq.Add(1)), Endpoint: "http://" + host}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Post(g.Endpoint+"/storage/v1/b?project=featurizer", "application/json",
			strings.NewReader(fmt.Sprintf(`{"name":%q}`, g.Bucket)))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("fake-gcs-server exited: %s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("fake-gcs-server did not start on %s: %v %s", host, err, out.String())
		}
	}
	t.Setenv("STORAGE_EMULATOR_HOST", host)
	return g
}

// URL is the gs:// location of prefix in the bucket.
func (g *GCSServer) URL(prefix string) string {
	return "gs://" + g.Bucket + "/" + strings.Trim(prefix, "/")
}

// Put uploads an object (key relative to the bucket).
func (g *GCSServer) Put(key string, data []byte) error {
	u := fmt.Sprintf("%s/upload/storage/v1/b/%s/o?uploadType=media&name=%s", g.Endpoint, g.Bucket, url.QueryEscape(key))
	resp, err := http.Post(u, "application/octet-stream", bytes.NewReader(data))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("put %s: %s", key, resp.Status)
	}
	return nil
}
