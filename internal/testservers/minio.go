package testservers

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The root credentials of every MinIO server the tests start. They are the
// same for all servers because the s3 driver reads them from the process
// environment.
const (
	MinIOAccessKey = "featurizer"
	MinIOSecretKey = "featurizer-secret"
	MinIORegion    = "us-east-1"
)

// MinIOServer is a real MinIO server on loopback with one fresh bucket.
type MinIOServer struct {
	Bucket   string // the bucket created for the test
	Endpoint string // http://127.0.0.1:PORT
	Dir      string // the server's data directory
}

var minioSeq atomic.Int64

// MinIO runs a real MinIO server on loopback for the test (its data in a
// temporary directory, stopped at cleanup) and creates a fresh bucket in
// it. It sets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION for
// the test (so the test must not be parallel), which is what the
// gocloud.dev s3 driver reads. Several servers may run at once. The test
// skips when minio is not installed, unless FEATURIZER_REQUIRE_SERVERS is
// set, where it fails.
func MinIO(t testing.TB) *MinIOServer {
	t.Helper()
	bin := findTool("FEATURIZER_MINIO", "bin/minio", "minio")
	if bin == "" {
		msg := "minio not found (make setup installs it with go install; or set FEATURIZER_MINIO)"
		if os.Getenv("FEATURIZER_REQUIRE_SERVERS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	var endpoint string
	// A port found free may be taken before the server binds it: then the
	// server exits at once and we try other ports.
	for attempt := 1; ; attempt++ {
		var err error
		endpoint, err = startMinIO(t, bin, dir)
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(err.Error(), "exited") {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_ACCESS_KEY_ID", MinIOAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", MinIOSecretKey)
	t.Setenv("AWS_REGION", MinIORegion)
	// Settings of the developer's own AWS setup that would override or
	// spoil ours.
	for _, k := range []string{"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(k, "")
	}
	m := &MinIOServer{Bucket: fmt.Sprintf("featurizer-%d", minioSeq.Add(1)), Endpoint: endpoint, Dir: dir}
	// Live is not ready: until its object layer is up, the server answers
	// 503 XMinioServerNotInitialized.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := s3Do(http.MethodPut, m.Endpoint, "/"+m.Bucket, nil)
		if err == nil {
			resp.Body.Close()
			return m
		}
		if !strings.Contains(err.Error(), "XMinioServerNotInitialized") || time.Now().After(deadline) {
			t.Fatalf("minio: create bucket %s: %v", m.Bucket, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startMinIO starts the server in dir and waits until it is live. The
// process is stopped at cleanup.
func startMinIO(t testing.TB, bin, dir string) (string, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", loopbackPort(t))
	console := fmt.Sprintf("127.0.0.1:%d", loopbackPort(t))
	cmd := exec.Command(bin, "server", dir, "--address", addr, "--console-address", console, "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+MinIOAccessKey,
		"MINIO_ROOT_PASSWORD="+MinIOSecretKey,
		"MINIO_CI_CD=1",     // a test's temporary directory may be on the root drive
		"MINIO_UPDATE=off",  // no update check
		"MINIO_BROWSER=off", // the console is not needed
	)
	var out lockedBuffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("minio: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() { cmd.Process.Kill(); <-exited }
	t.Cleanup(stop)
	endpoint := "http://" + addr
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := client.Get(endpoint + "/minio/health/live"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return endpoint, nil
			}
		}
		select {
		case <-exited:
			return "", fmt.Errorf("minio exited before it was live (%s); its output:\n%s", cmd.ProcessState, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("minio was not live on %s after 30 s; its output:\n%s", endpoint, out.String())
		}
	}
}

// loopbackPort finds a free TCP port on 127.0.0.1.
func loopbackPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// URL is the gocloud.dev location of prefix in the bucket:
// s3://BUCKET/PREFIX?endpoint=http://127.0.0.1:PORT&use_path_style=true&region=us-east-1.
func (m *MinIOServer) URL(prefix string) string { return s3URL(m.Bucket, m.Endpoint, prefix) }

// Put uploads an object (key relative to the bucket) straight to the server.
func (m *MinIOServer) Put(key string, data []byte) error {
	return s3Put(m.Endpoint, m.Bucket, key, data)
}

func s3URL(bucket, endpoint, prefix string) string {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix = "/" + prefix
	}
	// Not url.Values.Encode: it would escape the endpoint, which gocloud
	// accepts either way but people read.
	return fmt.Sprintf("s3://%s%s?endpoint=%s&use_path_style=true&region=%s", bucket, prefix, endpoint, MinIORegion)
}

func s3Put(endpoint, bucket, key string, data []byte) error {
	resp, err := s3Do(http.MethodPut, endpoint, "/"+bucket+"/"+strings.TrimPrefix(key, "/"), data)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	resp.Body.Close()
	return nil
}

// s3Do sends a request signed with AWS Signature Version 4 (the root
// credentials; the Host header is the endpoint's) and returns the
// response when its status is 2xx, else an error with the body.
func s3Do(method, endpoint, path string, body []byte) (*http.Response, error) {
	req, err := signedRequest(method, endpoint, path, body, time.Now())
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	return resp, nil
}

// signedRequest builds a SigV4-signed S3 request (path style, no query).
func signedRequest(method, endpoint, path string, body []byte, now time.Time) (*http.Request, error) {
	u, err := url.Parse(endpoint + s3Escape(path))
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	now = now.UTC()
	amzDate := now.Format("20060102T150405Z")
	day := now.Format("20060102")
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	// Signed headers, in order.
	headers := [][2]string{{"host", u.Host}}
	// No x-amz-checksum-*: like most tools' uploads (the reader must take
	// such objects without complaint).
	headers = append(headers, [2]string{"x-amz-content-sha256", payload}, [2]string{"x-amz-date", amzDate})
	var names, lines []string
	for _, h := range headers {
		if h[0] != "host" {
			req.Header.Set(h[0], h[1])
		}
		names = append(names, h[0])
		lines = append(lines, h[0]+":"+h[1]+"\n")
	}
	signed := strings.Join(names, ";")
	canonical := strings.Join([]string{
		method,
		u.EscapedPath(),
		"", // query
		strings.Join(lines, ""),
		signed,
		payload,
	}, "\n")
	scope := day + "/" + MinIORegion + "/s3/aws4_request"
	h := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(h[:])
	key := []byte("AWS4" + MinIOSecretKey)
	for _, part := range []string{day, MinIORegion, "s3", "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		MinIOAccessKey, scope, signed, hex.EncodeToString(hmacSHA256(key, toSign))))
	return req, nil
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// s3Escape escapes a path as SigV4 wants: everything but unreserved
// characters and '/'.
func s3Escape(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
