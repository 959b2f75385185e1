package testservers

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// FaultOptions says which faults a FaultProxy injects: each field but
// Seed and DelayDuration is the share (0 to 1) of requests that get that
// fault. A request gets at most one fault, so the shares should add up
// to at most 1. The zero value injects nothing.
type FaultOptions struct {
	// Seed makes the choice deterministic: whether the n-th request with a
	// given method and URL gets a fault, and which, depends only on the
	// seed, the method, the URL and n, not on timing or on how concurrent
	// requests interleave. Retries of a request are new draws.
	Seed int64
	// SlowDown answers 503 with S3's SlowDown error, without forwarding.
	SlowDown float64
	// DropBefore closes the connection without a response, without
	// forwarding.
	DropBefore float64
	// DropMidResponse forwards the request (the upstream does the work),
	// then writes the response's status line, headers and half of its body
	// (half of the headers when it has none) and closes the connection.
	DropMidResponse float64
	// Delay forwards the request after DelayDuration (a slow response).
	Delay float64
	// DelayDuration is the delay of delayed requests; 0 means 200ms.
	DelayDuration time.Duration
}

// FaultKind names a kind of injected fault.
type FaultKind int

const (
	NoFault FaultKind = iota
	FaultSlowDown
	FaultDropBefore
	FaultDropMidResponse
	FaultDelay
)

func (k FaultKind) String() string {
	return [...]string{"none", "503 SlowDown", "drop before forwarding", "drop mid-response", "delay"}[k]
}

// FaultCounts counts what a FaultProxy saw and did.
type FaultCounts struct {
	Requests        int64 // every request, paused ones included
	SlowDown        int64
	DropBefore      int64
	DropMidResponse int64
	Delay           int64
}

// Faults is the number of injected faults of all kinds, delays included.
func (c FaultCounts) Faults() int64 {
	return c.SlowDown + c.DropBefore + c.DropMidResponse + c.Delay
}

func (c FaultCounts) String() string {
	return fmt.Sprintf("%d requests: %d 503 SlowDown, %d dropped before forwarding, %d dropped mid-response, %d delayed",
		c.Requests, c.SlowDown, c.DropBefore, c.DropMidResponse, c.Delay)
}

// FaultProxy is an HTTP reverse proxy on loopback in front of an upstream
// server that injects faults into a share of the requests. It forwards
// requests with the Host header the client sent, so requests signed for
// the proxy's address (S3 SigV4 signs Host) pass through intact.
type FaultProxy struct {
	Endpoint string // http://127.0.0.1:PORT, the proxy
	Bucket   string // for URL and Put, when in front of a MinIOServer

	opts      FaultOptions
	upstream  string // host:port
	transport *http.Transport
	paused    atomic.Int32
	mu        sync.Mutex
	seen      map[string]uint64 // draws made per method and URL
	counts    [5]atomic.Int64   // by FaultKind; NoFault counts requests
	injected  []string          // guarded by mu
}

// NewFaultProxy starts a FaultProxy in front of upstream
// (http://host:port), stopped at cleanup.
func NewFaultProxy(t testing.TB, upstream string, opts FaultOptions) *FaultProxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil || u.Host == "" {
		t.Fatalf("fault proxy: bad upstream %q", upstream)
	}
	shares := []float64{opts.SlowDown, opts.DropBefore, opts.DropMidResponse, opts.Delay}
	sum := 0.0
	for _, s := range shares {
		if s < 0 || s > 1 {
			t.Fatalf("fault proxy: share %v is not between 0 and 1", s)
		}
		sum += s
	}
	if sum > 1+1e-9 {
		t.Fatalf("fault proxy: the shares add up to %v, over 1", sum)
	}
	if opts.DelayDuration == 0 {
		opts.DelayDuration = 200 * time.Millisecond
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{
		Endpoint:  "http://" + l.Addr().String(),
		opts:      opts,
		upstream:  u.Host,
		transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16},
		seen:      map[string]uint64{},
	}
	srv := &http.Server{Handler: p}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close(); p.transport.CloseIdleConnections() })
	return p
}

// FaultProxy starts a FaultProxy in front of the server, for its bucket.
func (m *MinIOServer) FaultProxy(t testing.TB, opts FaultOptions) *FaultProxy {
	p := NewFaultProxy(t, m.Endpoint, opts)
	p.Bucket = m.Bucket
	return p
}

// URL is the gocloud.dev location of prefix in the bucket through the
// proxy (as MinIOServer.URL, with the proxy as endpoint).
func (p *FaultProxy) URL(prefix string) string { return s3URL(p.Bucket, p.Endpoint, prefix) }

// Put uploads an object (key relative to the bucket) through the proxy,
// with faults paused.
func (p *FaultProxy) Put(key string, data []byte) error {
	defer p.Pause()()
	return s3Put(p.Endpoint, p.Bucket, key, data)
}

// Pause stops injecting faults until the returned function is called
// (pauses nest): requests meanwhile, the setup of a test, pass through
// untouched and do not count as draws.
func (p *FaultProxy) Pause() (resume func()) {
	p.paused.Add(1)
	var once sync.Once
	return func() { once.Do(func() { p.paused.Add(-1) }) }
}

// Counts returns the counters so far.
func (p *FaultProxy) Counts() FaultCounts {
	return FaultCounts{
		Requests:        p.counts[NoFault].Load(),
		SlowDown:        p.counts[FaultSlowDown].Load(),
		DropBefore:      p.counts[FaultDropBefore].Load(),
		DropMidResponse: p.counts[FaultDropMidResponse].Load(),
		Delay:           p.counts[FaultDelay].Load(),
	}
}

// Injected lists the faults injected so far, in order, as
// "KIND: METHOD REQUEST-URI".
func (p *FaultProxy) Injected() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.injected...)
}

// choose draws the fault for a request.
func (p *FaultProxy) choose(r *http.Request) FaultKind {
	if p.paused.Load() > 0 {
		return NoFault
	}
	o := p.opts
	if o.SlowDown+o.DropBefore+o.DropMidResponse+o.Delay <= 0 {
		return NoFault
	}
	id := r.Method + " " + r.URL.RequestURI()
	p.mu.Lock()
	n := p.seen[id]
	p.seen[id] = n + 1
	p.mu.Unlock()
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(o.Seed))
	binary.LittleEndian.PutUint64(b[8:], n)
	h.Write(b[:])
	h.Write([]byte(id))
	// FNV's low bits mix poorly into the high ones: finish with a
	// splitmix64 step before taking 53 bits.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	u := float64(x>>11) / (1 << 53)
	for _, c := range []struct {
		share float64
		kind  FaultKind
	}{{o.SlowDown, FaultSlowDown}, {o.DropBefore, FaultDropBefore}, {o.DropMidResponse, FaultDropMidResponse}, {o.Delay, FaultDelay}} {
		if u < c.share {
			return c.kind
		}
		u -= c.share
	}
	return NoFault
}

func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.counts[NoFault].Add(1)
	kind := p.choose(r)
	if kind != NoFault {
		p.counts[kind].Add(1)
		p.mu.Lock()
		p.injected = append(p.injected, kind.String()+": "+r.Method+" "+r.URL.RequestURI())
		p.mu.Unlock()
	}
	switch kind {
	case FaultSlowDown:
		w.Header().Set("Content-Type", "application/xml")
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
			`<Error><Code>SlowDown</Code><Message>Please reduce your request rate. (injected by the test's fault proxy)</Message><Resource>%s</Resource><RequestId>fault-proxy</RequestId></Error>`,
			xmlEscape(r.URL.Path))
		return
	case FaultDropBefore:
		hijackClose(w, nil)
		return
	case FaultDelay:
		select {
		case <-time.After(p.opts.DelayDuration):
		case <-r.Context().Done():
			return
		}
	}
	resp, err := p.forward(r)
	if err != nil {
		http.Error(w, "fault proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if kind == FaultDropMidResponse {
		var raw bytes.Buffer
		fmt.Fprintf(&raw, "HTTP/1.1 %s\r\n", resp.Status)
		body, _ := io.ReadAll(resp.Body)
		h := resp.Header.Clone()
		h.Del("Transfer-Encoding")
		h.Del("Connection")
		if r.Method != http.MethodHead {
			h.Set("Content-Length", fmt.Sprint(len(body)))
		}
		h.Write(&raw)
		raw.WriteString("\r\n")
		cut := raw.Len() / 2
		if r.Method != http.MethodHead && len(body) > 0 {
			cut = raw.Len() + len(body)/2
		}
		raw.Write(body)
		hijackClose(w, raw.Bytes()[:cut])
		return
	}
	for k, v := range resp.Header {
		if !hopByHop(k) {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// forward sends the request upstream with its Host header, path (as
// escaped by the client), query, headers and body unchanged.
func (p *FaultProxy) forward(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL = &url.URL{Scheme: "http", Host: p.upstream, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	out.Host = r.Host
	for k := range out.Header {
		if hopByHop(k) {
			out.Header.Del(k)
		}
	}
	if r.ContentLength == 0 {
		out.Body = nil
	}
	return p.transport.RoundTrip(out)
}

func hopByHop(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// hijackClose takes the connection, writes raw (if any) and closes it.
func hijackClose(w http.ResponseWriter, raw []byte) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(fmt.Sprintf("fault proxy: cannot hijack: %v", err))
	}
	if len(raw) > 0 {
		buf.Write(raw)
		buf.Flush()
	}
	conn.Close()
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
