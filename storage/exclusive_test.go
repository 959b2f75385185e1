package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/featurizer/featurizer/internal/testservers"
)

// CreateExclusive is what a table's lease stands on: on every backend
// (local disk, memory, Azurite, fake-gcs-server, MinIO, MinIO behind a
// fault-injecting proxy) a second create of the same name fails with
// fs.ErrExist and leaves the first content, and of many processes
// creating one name at once exactly one succeeds.
func TestDirCreateExclusive(t *testing.T) {
	ctx := context.Background()
	azurite, _ := testservers.Azurite(t)
	g := testservers.FakeGCS(t)
	m := testservers.MinIO(t)
	fm := testservers.MinIO(t)
	proxy := fm.FaultProxy(t, testservers.FaultOptions{Seed: 5, SlowDown: 0.08, DropBefore: 0.06, DropMidResponse: 0.06, Delay: 0.04, DelayDuration: 50 * time.Millisecond})
	locs := []struct{ name, loc string }{
		{"local", filepath.Join(t.TempDir(), "out")},
		{"mem", "mem://bucket/excl"},
		{"azurite", strings.Replace(azurite, "/images?", "/excl?", 1)},
		{"gcs", g.URL("excl")},
		{"minio", m.URL("excl")},
		{"minio+faults", proxy.URL("excl")},
	}
	for _, l := range locs {
		t.Run(l.name, func(t *testing.T) {
			d, err := OpenDir(ctx, l.loc)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if err := d.CreateExclusive(ctx, "_lock.json", []byte(`{"who":"first"}`)); err != nil {
				t.Fatal(err)
			}
			err = d.CreateExclusive(ctx, "_lock.json", []byte(`{"who":"second"}`))
			if !errors.Is(err, fs.ErrExist) {
				t.Errorf("second create: %v, want fs.ErrExist", err)
			}
			if b, _ := d.ReadFile(ctx, "_lock.json"); string(b) != `{"who":"first"}` {
				t.Errorf("the second create changed the file: %s", b)
			}
			ents, _ := d.List(ctx, "")
			for _, e := range ents {
				if IsTemp(e.Name) {
					t.Errorf("temporary %s left", e.Name)
				}
			}
			// Put replaces it whole (the lease's heartbeat), leaving no
			// temporary behind.
			if err := d.Put(ctx, "_lock.json", []byte(`{"who":"first","beat":2}`)); err != nil {
				t.Fatal(err)
			}
			if b, _ := d.ReadFile(ctx, "_lock.json"); string(b) != `{"who":"first","beat":2}` {
				t.Errorf("after Put: %s", b)
			}
			// Once removed, the name can be created again.
			if err := d.Remove(ctx, "_lock.json"); err != nil {
				t.Fatal(err)
			}
			if err := d.CreateExclusive(ctx, "_lock.json", []byte(`{"who":"third"}`)); err != nil {
				t.Errorf("create after remove: %v", err)
			}
			// A race: one winner, every loser told fs.ErrExist, the
			// winner's content in place.
			for round := 0; round < 3; round++ {
				name := fmt.Sprintf("race-%d.json", round)
				const n = 8
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := 0; i < n; i++ {
					wg.Add(1)
					go func(i int) {
						defer wg.Done()
						errs[i] = d.CreateExclusive(ctx, name, []byte(fmt.Sprintf(`{"who":%d}`, i)))
					}(i)
				}
				wg.Wait()
				winner := -1
				for i, err := range errs {
					switch {
					case err == nil && winner >= 0:
						t.Errorf("round %d: creators %d and %d both succeeded", round, winner, i)
					case err == nil:
						winner = i
					case !errors.Is(err, fs.ErrExist):
						t.Errorf("round %d: creator %d: %v", round, i, err)
					}
				}
				if winner < 0 {
					t.Fatalf("round %d: nobody created %s", round, name)
				}
				if b, _ := d.ReadFile(ctx, name); string(b) != fmt.Sprintf(`{"who":%d}`, winner) {
					t.Errorf("round %d: content %s, winner %d", round, b, winner)
				}
			}
			ents, _ = d.List(ctx, "")
			for _, e := range ents {
				if IsTemp(e.Name) {
					t.Errorf("temporary %s left", e.Name)
				}
			}
		})
	}
	t.Logf("fault proxy: %v", proxy.Counts())
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
