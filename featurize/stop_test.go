package featurize

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/featurizer/featurizer/inputs"
	"github.com/featurizer/featurizer/storage"
)

// runWithin runs the pipeline and fails the test when it has not returned
// after limit (the pipeline is then left running: the test has failed).
func runWithin(t *testing.T, limit time.Duration, run func() (*Stats, error)) (*Stats, error) {
	t.Helper()
	type result struct {
		st  *Stats
		err error
	}
	done := make(chan result, 1)
	go func() { st, err := run(); done <- result{st, err} }()
	select {
	case r := <-done:
		return r.st, r.err
	case <-time.After(limit):
		t.Fatalf("the pipeline did not return within %v", limit)
		return nil, nil
	}
}

// A named pipe (or a link to one) named like an image is a reject at the
// read stage, whether a directory listing or a manifest names it: opening
// it would wait for a writer forever.
func TestPipelineNonRegularFilesAreRejects(t *testing.T) {
	dir := greyFiles(t, 12)
	os.Remove(filepath.Join(dir, "003.png"))
	os.Remove(filepath.Join(dir, "004.png"))
	for _, p := range []string{"003.png", "pipe"} {
		if err := syscall.Mkfifo(filepath.Join(dir, p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "pipe"), filepath.Join(dir, "004.png")); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(t.TempDir(), "m.csv")
	os.WriteFile(manifest, []byte("path\n"+filepath.Join(dir, "002.png")+"\n"+filepath.Join(dir, "003.png")+"\n"+filepath.Join(dir, "004.png")+"\n"), 0o644)

	pre := cropSpec(8, 8)
	for _, loc := range []string{dir, manifest} {
		src, err := inputs.Open(context.Background(), nil, loc)
		if err != nil {
			t.Fatal(err)
		}
		var sink collectSink
		st, err := runWithin(t, 20*time.Second, func() (*Stats, error) {
			return Run(context.Background(), src, &fakeEngine{size: 3 * 8 * 8}, pre, &sink, Options{BatchSize: 4, Workers: 2})
		})
		if err != nil {
			t.Fatal(err)
		}
		pipes := 0
		for _, r := range sink.rows {
			base := filepath.Base(r.Item.Path)
			if base != "003.png" && base != "004.png" {
				continue
			}
			pipes++
			if r.Reject == nil || r.Reject.Stage != StageRead || !strings.Contains(r.Reject.Err, "not a regular file (named pipe)") {
				t.Errorf("%s: %s: %+v", loc, base, r.Reject)
			}
		}
		if pipes != 2 || st.ByStage[StageRead] != 2 {
			t.Errorf("%s: %d pipes seen, stats %+v", loc, pipes, st)
		}
	}
}

// hangingStore is a store whose reads never return, whatever the context
// says, as on a hung NFS or FUSE mount. The pipeline only reads.
type hangingStore struct {
	storage.Store
	entered chan struct{}
	release chan struct{}
}

func (h *hangingStore) Location() string { return "hung://" }
func (h *hangingStore) ReadFileLimit(ctx context.Context, path string, limit int64) ([]byte, error) {
	select {
	case h.entered <- struct{}{}:
	default:
	}
	<-h.release
	return nil, errors.New("released")
}

// items lists n items, then hangs when hang is set (a listing stuck on a
// hung file system), ignoring the context.
type items struct {
	n    int
	hang chan struct{}
}

func (w items) Walk(ctx context.Context, fn func(inputs.Item) error) error {
	for i := 0; i < w.n; i++ {
		if err := fn(inputs.Item{Seq: int64(i), Path: "x.png", Open: "x.png"}); err != nil {
			return err
		}
	}
	if w.hang != nil {
		<-w.hang
	}
	return nil
}

// A stop is honoured while a read is stuck: the read is abandoned and Run
// returns context.Canceled at once.
func TestPipelineStopsWhileAReadHangs(t *testing.T) {
	h := &hangingStore{entered: make(chan struct{}, 1), release: make(chan struct{})}
	defer close(h.release)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-h.entered; cancel() }()
	_, err := runWithin(t, 5*time.Second, func() (*Stats, error) {
		return Run(ctx, items{n: 4}, &fakeEngine{size: 3 * 8 * 8}, cropSpec(8, 8), &collectSink{}, Options{BatchSize: 2, Workers: 1, Store: h})
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// The same with the listing stuck.
func TestPipelineStopsWhileTheListingHangs(t *testing.T) {
	dir := greyFiles(t, 1)
	hang := make(chan struct{})
	defer close(hang)
	ctx, cancel := context.WithCancel(context.Background())
	sink := &signalSink{wrote: make(chan struct{}, 1)}
	go func() { <-sink.wrote; cancel() }()
	_, err := runWithin(t, 5*time.Second, func() (*Stats, error) {
		w := items{n: 2, hang: hang}
		return Run(ctx, localItems{w, filepath.Join(dir, "000.png")}, &fakeEngine{size: 3 * 8 * 8}, cropSpec(8, 8), sink, Options{BatchSize: 2, Workers: 1})
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// localItems lists a real file under every item of w.
type localItems struct {
	w    items
	file string
}

func (l localItems) Walk(ctx context.Context, fn func(inputs.Item) error) error {
	return l.w.Walk(ctx, func(it inputs.Item) error {
		it.Path, it.Open = l.file, l.file
		return fn(it)
	})
}

type signalSink struct {
	collectSink
	wrote chan struct{}
}

func (s *signalSink) Write(rs []Result) error {
	s.collectSink.Write(rs)
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return nil
}

// The decode workers read local files themselves; a read of a file under
// a lease (an SMB oplock: the open waits until the holder lets go, 45 s by
// default) is abandoned at a stop too.
func TestPipelineStopsWhileALocalOpenWaits(t *testing.T) {
	dir := greyFiles(t, 3)
	path := filepath.Join(dir, "001.png")
	lease, release := leaseFile(t, path)
	defer release()
	src, err := inputs.Open(context.Background(), nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { waitForLeaseBreak(lease); cancel() }()
	_, err = runWithin(t, 10*time.Second, func() (*Stats, error) {
		return Run(ctx, src, &fakeEngine{size: 3 * 8 * 8}, cropSpec(8, 8), &collectSink{}, Options{BatchSize: 1, Workers: 1})
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// leaseFile takes a write lease on path: another open of it blocks until
// the lease is released (or lease-break-time passes). SIGIO, the signal of
// a lease break, is ignored by Go programs that do not ask for it.
func leaseFile(t *testing.T, path string) (lease *os.File, release func()) {
	t.Helper()
	if b, err := os.ReadFile("/proc/sys/fs/leases-enable"); err == nil && strings.TrimSpace(string(b)) == "0" {
		t.Skip("file leases are disabled on this machine (/proc/sys/fs/leases-enable)")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fcntl(f, syscall.F_SETLEASE, syscall.F_WRLCK); err != nil {
		f.Close()
		t.Fatalf("take a lease on %s: %v", path, err)
	}
	return f, func() {
		fcntl(f, syscall.F_SETLEASE, syscall.F_UNLCK)
		f.Close()
	}
}

// waitForLeaseBreak returns once someone has opened the leased file (the
// lease is being broken: F_GETLEASE no longer says F_WRLCK), or after 20 s.
func waitForLeaseBreak(lease *os.File) {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if v, err := fcntl(lease, syscall.F_GETLEASE, 0); err == nil && v != syscall.F_WRLCK {
			return
		}
	}
}

func fcntl(f *os.File, cmd, arg int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), uintptr(cmd), uintptr(arg))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
