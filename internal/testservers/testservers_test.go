package testservers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob"
)

// Two servers at once, each with its own bucket, reachable through
// gocloud.dev with the URL they give.
func TestMinIO(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	a, b := MinIO(t), MinIO(t)
	t.Logf("two servers live in %v", time.Since(start).Round(time.Millisecond))
	if a.Endpoint == b.Endpoint || a.Bucket == b.Bucket {
		t.Fatalf("servers share %s %s", a.Endpoint, a.Bucket)
	}
	if err := a.Put("p/x.txt", []byte("in a")); err != nil {
		t.Fatal(err)
	}
	if err := b.Put("p/x.txt", []byte("in b")); err != nil {
		t.Fatal(err)
	}
	if err := a.Put("p/sub dir/ünï+code.txt", []byte("escaped")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		m         *MinIOServer
		key, want string
	}{{a, "x.txt", "in a"}, {b, "x.txt", "in b"}, {a, "sub dir/ünï+code.txt", "escaped"}} {
		bucket, err := blob.OpenBucket(ctx, c.m.URL("p"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := blob.PrefixedBucket(bucket, "p/").ReadAll(ctx, c.key)
		bucket.Close()
		if err != nil || string(got) != c.want {
			t.Errorf("%s %s: %q, %v", c.m.URL("p"), c.key, got, err)
		}
	}
	if got := a.URL("/images/"); got != "s3://"+a.Bucket+"/images?endpoint="+a.Endpoint+"&use_path_style=true&region=us-east-1" {
		t.Errorf("URL %s", got)
	}
}

// Signed requests pass through the proxy: it keeps the Host header the
// client signed. Sent straight to MinIO, the same request fails.
func TestFaultProxySignatures(t *testing.T) {
	ctx := context.Background()
	m := MinIO(t)
	p := m.FaultProxy(t, FaultOptions{})
	if err := p.Put("k/one", []byte("1")); err != nil {
		t.Fatal(err)
	}
	bucket, err := blob.OpenBucket(ctx, p.URL(""))
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	if err := bucket.WriteAll(ctx, "k/two", []byte("22"), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := bucket.ReadAll(ctx, "k/one"); err != nil || string(got) != "1" {
		t.Fatalf("read through the proxy: %q, %v", got, err)
	}
	it := bucket.List(&blob.ListOptions{Prefix: "k/"})
	var keys []string
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, o.Key)
	}
	if strings.Join(keys, ",") != "k/one,k/two" {
		t.Errorf("list %v", keys)
	}
	if c := p.Counts(); c.Requests < 4 || c.Faults() != 0 {
		t.Errorf("counts: %v", c)
	}
	// A request signed for the proxy's Host but sent to MinIO with MinIO's
	// Host is refused: what the proxy must not do.
	req, err := signedRequest(http.MethodGet, p.Endpoint, "/"+m.Bucket+"/k/one", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Host = strings.TrimPrefix(m.Endpoint, "http://")
	req.Host = ""
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "SignatureDoesNotMatch") {
		t.Errorf("altered Host: %s %s", resp.Status, body)
	}
}

// Each fault kind, on a plain upstream.
func TestFaultProxyKinds(t *testing.T) {
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Host == strings.TrimPrefix(r.Header.Get("X-Want-Host"), "http://") {
			w.Header().Set("X-Host", "kept")
		}
		fmt.Fprint(w, strings.Repeat("x", 1000))
	}))
	defer up.Close()
	get := func(p *FaultProxy) (*http.Response, string, error) {
		req, _ := http.NewRequest("GET", p.Endpoint+"/a/b?c=d", nil)
		req.Header.Set("X-Want-Host", p.Endpoint)
		req.Close = true
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}

	p := NewFaultProxy(t, up.URL, FaultOptions{})
	if resp, body, err := get(p); err != nil || resp.StatusCode != 200 || len(body) != 1000 || resp.Header.Get("X-Host") != "kept" {
		t.Fatalf("no faults: %v %v %d", resp, err, len(body))
	}

	p = NewFaultProxy(t, up.URL, FaultOptions{SlowDown: 1})
	before := hits.Load()
	if resp, body, err := get(p); err != nil || resp.StatusCode != 503 || !strings.Contains(body, "<Code>SlowDown</Code>") || hits.Load() != before {
		t.Errorf("SlowDown: %v %q %v", resp, body, err)
	}

	p = NewFaultProxy(t, up.URL, FaultOptions{DropBefore: 1})
	if _, _, err := get(p); err == nil || hits.Load() != before {
		t.Errorf("DropBefore: %v, %d upstream hits", err, hits.Load()-before)
	}

	p = NewFaultProxy(t, up.URL, FaultOptions{DropMidResponse: 1})
	resp, body, err := get(p)
	if err != io.ErrUnexpectedEOF || resp.StatusCode != 200 || len(body) != 500 || hits.Load() != before+1 {
		t.Errorf("DropMidResponse: %v, %d bytes, %v", resp, len(body), err)
	}

	p = NewFaultProxy(t, up.URL, FaultOptions{Delay: 1, DelayDuration: 150 * time.Millisecond})
	start := time.Now()
	if _, body, err := get(p); err != nil || len(body) != 1000 || time.Since(start) < 150*time.Millisecond {
		t.Errorf("Delay: %v after %v", err, time.Since(start))
	}
	if c := p.Counts(); c.Delay != 1 || c.Requests != 1 {
		t.Errorf("counts %v", c)
	}

	// Paused: nothing injected, nothing drawn.
	p = NewFaultProxy(t, up.URL, FaultOptions{DropBefore: 1})
	resume := p.Pause()
	if _, _, err := get(p); err != nil {
		t.Errorf("paused: %v", err)
	}
	resume()
	resume()
	if _, _, err := get(p); err == nil {
		t.Error("resumed: no fault")
	}
	if c := p.Counts(); c.DropBefore != 1 || c.Requests != 2 {
		t.Errorf("counts %v", c)
	}
}

// The same seed gives the same faults; a share gives about that share.
func TestFaultProxyDeterministic(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	opts := FaultOptions{Seed: 7, SlowDown: 0.1, DropBefore: 0.1, DropMidResponse: 0.1, Delay: 0.1, DelayDuration: time.Microsecond}
	run := func(opts FaultOptions) []FaultKind {
		p := NewFaultProxy(t, up.URL, opts)
		var kinds []FaultKind
		for i := 0; i < 400; i++ {
			r := httptest.NewRequest("GET", fmt.Sprintf("/obj/%d", i%10), nil)
			kinds = append(kinds, p.choose(r))
		}
		return kinds
	}
	a, b := run(opts), run(opts)
	opts.Seed = 8
	c := run(opts)
	n := map[FaultKind]int{}
	same := true
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("draw %d: %v then %v with the same seed", i, a[i], b[i])
		}
		same = same && a[i] == c[i]
		n[a[i]]++
	}
	if same {
		t.Error("another seed gives the same faults")
	}
	for k := FaultSlowDown; k <= FaultDelay; k++ {
		if n[k] < 20 || n[k] > 60 {
			t.Errorf("%v: %d of 400 at a share of 0.1", k, n[k])
		}
	}
}
