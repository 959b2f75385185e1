package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/featurizer/featurizer/internal/testservers"
)

// Retrying is the wrapper's: a backend makes each request once; under
// WithRetry a transient failure is tried again, Attempts times in all (4
// by default, after 200, 400 and 800ms), then fails with ErrUnavailable;
// a final error (a missing file) is not retried.
func TestRetryPolicy(t *testing.T) {
	boom := errors.New("connection reset") // gcerrors.Unknown: transient
	count := func(ctx context.Context, err error) (int, error) {
		n := 0
		return n, request(ctx, func() error { n++; return err })
	}
	n, err := count(context.Background(), boom)
	if n != 1 || err != boom {
		t.Errorf("without WithRetry: %d attempts, %v; want 1, the error itself", n, err)
	}
	fast := retrying{o: RetryOptions{Attempts: 3, Backoff: time.Millisecond}}
	n, err = count(fast.ctx(context.Background()), boom)
	if n != 3 || !errors.Is(err, ErrUnavailable) || !errors.Is(err, boom) || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("Attempts 3: %d attempts, %v", n, err)
	}
	n, err = count(fast.ctx(context.Background()), fs.ErrNotExist)
	if n != 1 || err != fs.ErrNotExist {
		t.Errorf("a final error: %d attempts, %v", n, err)
	}
	t0 := time.Now()
	n, err = count(retrying{}.ctx(context.Background()), boom)
	if dt := time.Since(t0); n != 4 || !strings.Contains(err.Error(), "after 4 attempts") || dt < 1400*time.Millisecond || dt > 3*time.Second {
		t.Errorf("zero options: %d attempts in %v, %v; want 4 in 1.4s", n, dt, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if n, err := count(retrying{}.ctx(ctx), boom); n != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("stopped during the backoff: %d attempts, %v", n, err)
	}
}

// Through a real S3 server that throttles every request, a store without
// WithRetry gives up at the first failure, one with it makes Attempts
// times the requests and reports ErrUnavailable. (The SDK retries a
// throttled request a few times on its own, with its own backoff: one
// attempt of ours is several requests.) Open's stores retry.
func TestRetryWrapper(t *testing.T) {
	ctx := context.Background()
	m := testservers.MinIO(t)
	proxy := m.FaultProxy(t, testservers.FaultOptions{Seed: 1, SlowDown: 1})
	if err := proxy.Put("down/a.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	raw, err := openBackend(ctx, proxy.URL("down"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	requests := func(s Store) (int64, error) {
		before := proxy.Counts().Requests
		_, err := s.ReadFile(ctx, "a.json")
		return proxy.Counts().Requests - before, err
	}
	once, err := requests(raw)
	if err == nil || errors.Is(err, ErrUnavailable) || once == 0 {
		t.Fatalf("without retries: %d requests, %v", once, err)
	}
	twice, err := requests(WithRetry(raw, RetryOptions{Attempts: 2, Backoff: time.Millisecond}))
	if !errors.Is(err, ErrUnavailable) || twice != 2*once {
		t.Errorf("Attempts 2: %d requests (one attempt makes %d), %v", twice, once, err)
	}
	for _, loc := range []string{proxy.URL("down"), t.TempDir()} {
		s, err := Open(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if r, ok := s.(retrying); !ok || r.o != (RetryOptions{}) {
			t.Errorf("Open(%s) = %T, not a store with the default retries", loc, s)
		}
	}
	if s, _, err := Resolve(ctx, proxy.URL("down")); err != nil {
		t.Fatal(err)
	} else if s.Close(); s.(retrying).o != (RetryOptions{}) {
		t.Errorf("Resolve: %T, not a store with the default retries", s)
	}
}

// A bare io.EOF ends a listing and is final; an EOF inside a transport
// error (a kept-alive connection closed under a request: the fault proxy's
// dropped connections) is retried like any dropped connection. It was
// not, and a create through the proxy failed now and then.
func TestTransientEOF(t *testing.T) {
	sent := &url.Error{Op: "Put", URL: "http://127.0.0.1:1/b/k", Err: io.EOF}
	for err, want := range map[error]bool{
		io.EOF: false,
		fmt.Errorf("request send failed, %w", sent):   true,
		fmt.Errorf("read k: %w", io.ErrUnexpectedEOF): true,
		fmt.Errorf("x: %w", fs.ErrNotExist):           false,
	} {
		if got := transient(err); got != want {
			t.Errorf("transient(%v) = %v, want %v", err, got, want)
		}
	}
}
