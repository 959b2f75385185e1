package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/featurizer/featurizer/internal/testservers"
	"gocloud.dev/blob"
)

// The conformance suite: one test per behaviour, each run on every backend
// of one list (local disk, memory, Azurite, fake-gcs-server, MinIO, and
// MinIO behind a proxy that injects faults). The servers start per test;
// they skip when not installed unless FEATURIZER_REQUIRE_SERVERS is set.

// backend is a kind of store under test.
type backend struct {
	name string
	// loc is the location of prefix (nil: mem, which Resolve would open
	// afresh, empty).
	loc func(prefix string) string
	mem *blob.Bucket
	// put uploads an object under prefix/ with the server's own client
	// (nil: through the store's Put).
	put func(prefix, rel string, data []byte) error
	// proxy, for the faulty backend.
	proxy *testservers.FaultProxy
}

// open opens prefix of the backend with the default retries.
func (be backend) open(t *testing.T, prefix string) Store {
	t.Helper()
	if be.mem != nil {
		return WithRetry(keepOpen{&blobStore{bucket: be.mem, prefix: "mem://bucket/", root: prefix, loc: "mem://bucket/" + prefix}}, RetryOptions{})
	}
	s, err := Open(context.Background(), be.loc(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// resolve is Resolve of prefix on the backend: the namespace's store and
// the prefix's name in it.
func (be backend) resolve(t *testing.T, prefix string) (Store, string) {
	t.Helper()
	if be.mem != nil {
		return WithRetry(keepOpen{&blobStore{bucket: be.mem, prefix: "mem://bucket/", loc: "mem://bucket/"}}, RetryOptions{}), "mem://bucket/" + prefix
	}
	s, name, err := Resolve(context.Background(), be.loc(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, name
}

// seed puts files under prefix, bypassing the store where the server has
// a client of its own.
func (be backend) seed(t *testing.T, prefix string, files map[string]string) {
	t.Helper()
	for rel, data := range files {
		var err error
		if be.put != nil {
			err = be.put(prefix, rel, []byte(data))
		} else {
			err = be.open(t, prefix).Put(context.Background(), rel, []byte(data))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// keepOpen is a store on a bucket shared by the test (Close is a no-op).
type keepOpen struct{ Store }

func (keepOpen) Close() error { return nil }

func faultSeed() int64 {
	seed := int64(1)
	if v := os.Getenv("FEATURIZER_FAULT_SEED"); v != "" {
		seed, _ = strconv.ParseInt(v, 10, 64)
	}
	return seed
}

// backends starts the servers and lists every backend.
func backends(t *testing.T) []backend {
	ctx := context.Background()
	dir := t.TempDir()
	local := backend{name: "local",
		loc: func(prefix string) string { return filepath.Join(dir, prefix) },
		put: func(prefix, rel string, data []byte) error {
			p := filepath.Join(dir, prefix, filepath.FromSlash(rel))
			os.MkdirAll(filepath.Dir(p), 0o755)
			return os.WriteFile(p, data, 0o644)
		}}
	mb, err := blob.OpenBucket(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mb.Close() })
	mem := backend{name: "mem", mem: mb}
	// A real Azure Blob server (Azurite) on loopback.
	azLoc, azPut := testservers.Azurite(t)
	azurite := backend{name: "azurite",
		loc: func(prefix string) string { return strings.Replace(azLoc, "/images?", "/"+prefix+"?", 1) },
		put: func(prefix, rel string, data []byte) error {
			if prefix != "images" {
				return fmt.Errorf("azurite: seeding under %s/: only images/", prefix)
			}
			return azPut(rel, data)
		}}
	// Google Cloud Storage's JSON API (fake-gcs-server) on loopback.
	g := testservers.FakeGCS(t)
	gcs := backend{name: "gcs", loc: g.URL,
		put: func(prefix, rel string, data []byte) error { return g.Put(prefix+"/"+rel, data) }}
	// A real S3 server (MinIO) on loopback.
	m := testservers.MinIO(t)
	minio := backend{name: "minio", loc: m.URL,
		put: func(prefix, rel string, data []byte) error { return m.Put(prefix+"/"+rel, data) }}
	// The same MinIO behind a proxy that injects faults into a fifth of
	// the requests, seeded, so that the same requests fail every run
	// (FEATURIZER_FAULT_SEED tries another seed): 503 SlowDown,
	// connections dropped before forwarding and halfway through the
	// response, slow responses. Seeding pauses the faults.
	seed := faultSeed()
	proxy := m.FaultProxy(t, testservers.FaultOptions{
		Seed:            seed,
		SlowDown:        0.08,
		DropBefore:      0.06,
		DropMidResponse: 0.06,
		Delay:           0.04,
		DelayDuration:   50 * time.Millisecond,
	})
	faults := backend{name: "minio+faults", loc: func(prefix string) string { return proxy.URL("faulty/" + prefix) }, proxy: proxy,
		put: func(prefix, rel string, data []byte) error { return proxy.Put("faulty/"+prefix+"/"+rel, data) }}
	t.Cleanup(func() {
		t.Logf("fault proxy, seed %d: %v", seed, proxy.Counts())
		for _, f := range proxy.Injected() {
			t.Logf("  %s", f)
		}
	})
	return []backend{local, mem, azurite, gcs, minio, faults}
}

// requireFaults fails the test when the faulty backend saw no fault: the
// retries were not tried.
func requireFaults(t *testing.T, be backend) {
	if be.proxy == nil {
		return
	}
	if c := be.proxy.Counts(); c.SlowDown+c.DropBefore+c.DropMidResponse == 0 {
		t.Errorf("no error was injected: %v", c)
	}
}

var tree = map[string]string{"b/2.jpg": "two", "a/1.jpg": "one", "a/deep/3.jpg": "three", "root.jpg": "root", "c/4.jpg": "four!"}

// Walk lists every file under a prefix in lexical order with its size,
// streaming, and stops at the first error fn returns; an entry's Path reads
// it back from the store of its namespace (what input items do).
func TestConformanceWalk(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			be.seed(t, "images", tree)
			s, root := be.resolve(t, "images")
			var rels, paths []string
			err := s.Walk(ctx, root, func(e Entry) error {
				rels, paths = append(rels, e.Rel), append(paths, e.Path)
				if int64(len(tree[e.Rel])) != e.Size {
					t.Errorf("%s: size %d", e.Rel, e.Size)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !sort.StringsAreSorted(rels) || strings.Join(rels, ",") != "a/1.jpg,a/deep/3.jpg,b/2.jpg,c/4.jpg,root.jpg" {
				t.Errorf("Walk order %v", rels)
			}
			for i, p := range paths {
				if b, err := s.ReadFileLimit(ctx, p, 0); err != nil || string(b) != tree[rels[i]] {
					t.Errorf("ReadFileLimit(%s) = %q, %v", p, b, err)
				}
			}
			// The same walk on the store of the prefix itself.
			rels = rels[:0]
			if err := be.open(t, "images").Walk(ctx, "a", func(e Entry) error { rels = append(rels, e.Rel); return nil }); err != nil || strings.Join(rels, ",") != "1.jpg,deep/3.jpg" {
				t.Errorf("Walk(a) = %v, %v", rels, err)
			}
			stop := fmt.Errorf("stop")
			n := 0
			if err := s.Walk(ctx, root, func(Entry) error { n++; return stop }); err != stop || n != 1 {
				t.Errorf("Walk after error: %v, %d calls", err, n)
			}
			requireFaults(t, be)
		})
	}
}

// ReadFile and ReadFileLimit return a whole file; a file over the limit
// fails with ErrTooLarge, a missing one with fs.ErrNotExist; NewReader
// streams the same bytes.
func TestConformanceRead(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			be.seed(t, "images", tree)
			s := be.open(t, "images")
			if b, err := s.ReadFile(ctx, "a/1.jpg"); err != nil || string(b) != "one" {
				t.Errorf("ReadFile = %q, %v", b, err)
			}
			if b, err := s.ReadFileLimit(ctx, "c/4.jpg", 5); err != nil || string(b) != "four!" {
				t.Errorf("ReadFileLimit(at the limit) = %q, %v", b, err)
			}
			if _, err := s.ReadFileLimit(ctx, "c/4.jpg", 3); !errors.Is(err, ErrTooLarge) {
				t.Errorf("limit: %v", err)
			}
			for _, read := range []func() error{
				func() error { _, err := s.ReadFile(ctx, "a/missing.jpg"); return err },
				func() error { _, err := s.ReadFileLimit(ctx, "a/missing.jpg", 10); return err },
				func() error { _, err := s.Open(ctx, "a/missing.jpg"); return err },
				func() error { _, err := s.NewReader(ctx, "a/missing.jpg"); return err },
			} {
				if err := read(); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing.jpg") {
					t.Errorf("reading a missing file: %v, want fs.ErrNotExist naming it", err)
				}
			}
			r, err := s.NewReader(ctx, "a/deep/3.jpg")
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil || string(b) != "three" {
				t.Errorf("NewReader = %q, %v", b, err)
			}
		})
	}
}

// IsDir tells a directory (a prefix of objects) from a file, and fails on
// a name that is neither.
func TestConformanceIsDir(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			be.seed(t, "images", tree)
			s, root := be.resolve(t, "images")
			if ok, err := s.IsDir(ctx, root); err != nil || !ok {
				t.Errorf("IsDir(root) = %v, %v", ok, err)
			}
			d := be.open(t, "images")
			for name, want := range map[string]bool{"": true, "a": true, "a/deep": true, "a/1.jpg": false, "root.jpg": false} {
				if ok, err := d.IsDir(ctx, name); err != nil || ok != want {
					t.Errorf("IsDir(%q) = %v, %v", name, ok, err)
				}
			}
			if _, err := d.IsDir(ctx, "nothing"); err == nil {
				t.Error("IsDir(missing) succeeded")
			}
		})
	}
}

// List names the entries directly under a name, sorted, files with their
// size, directories marked.
func TestConformanceList(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			be.seed(t, "images", tree)
			s := be.open(t, "images")
			for sub, want := range map[string]string{
				"":  "a:true:0,b:true:0,c:true:0,root.jpg:false:4",
				"a": "1.jpg:false:3,deep:true:0",
			} {
				ents, err := s.List(ctx, sub)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, e := range ents {
					names = append(names, fmt.Sprintf("%s:%v:%d", e.Name, e.IsDir, e.Size))
				}
				if got := strings.Join(names, ","); got != want {
					t.Errorf("List(%q) = %s, want %s", sub, got, want)
				}
			}
		})
	}
}

// Open reads a file by ranges: anywhere in it, its tail (read in one
// request) included, with its size.
func TestConformanceOpenRanged(t *testing.T) {
	ctx := context.Background()
	big := make([]byte, 600<<10) // over the tail read in one request
	for i := range big {
		big[i] = byte(i * 7)
	}
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			s := be.open(t, "ranged")
			if err := s.WriteFile(ctx, "a.bin", big); err != nil {
				t.Fatal(err)
			}
			r, err := s.Open(ctx, "a.bin")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Size() != int64(len(big)) {
				t.Errorf("Size = %d", r.Size())
			}
			for _, off := range []int64{0, 1000, int64(len(big)) - 100, int64(len(big)) - 300<<10} {
				p := make([]byte, 100)
				if n, err := r.ReadAt(p, off); n != 100 || (err != nil && err != io.EOF) || !bytes.Equal(p, big[off:off+100]) {
					t.Errorf("ReadAt(%d) = %d, %v", off, n, err)
				}
			}
			p := make([]byte, 100)
			if n, err := r.ReadAt(p, int64(len(big))-40); n != 40 || err != io.EOF || !bytes.Equal(p[:40], big[len(big)-40:]) {
				t.Errorf("ReadAt(past the end) = %d, %v", n, err)
			}
		})
	}
}

// WriteFile and Commit make a file appear whole, new or replacing one, and
// leave no temporary (nor, for a bucket, spool) behind.
func TestConformanceAtomicWrite(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			s := be.open(t, "out")
			if err := s.WriteFile(ctx, "sub/b.json", []byte(`{"b":1}`)); err != nil {
				t.Fatal(err)
			}
			f, err := s.CreateTemp("sub/c.parquet")
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte("spooled"))
			if err := s.Commit(ctx, f, "sub/c.parquet"); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(f.Name()); err == nil {
				t.Errorf("spool %s left behind", f.Name())
			}
			if b, err := s.ReadFile(ctx, "sub/c.parquet"); err != nil || string(b) != "spooled" {
				t.Errorf("ReadFile(committed) = %q, %v", b, err)
			}
			if err := s.WriteFile(ctx, "sub/b.json", []byte(`{"b":2}`)); err != nil {
				t.Fatal(err)
			}
			if b, err := s.ReadFile(ctx, "sub/b.json"); err != nil || string(b) != `{"b":2}` {
				t.Errorf("after overwrite: %q, %v", b, err)
			}
			// Put replaces a file in one request.
			if err := s.Put(ctx, "sub/b.json", []byte(`{"b":3}`)); err != nil {
				t.Fatal(err)
			}
			if b, err := s.ReadFile(ctx, "sub/b.json"); err != nil || string(b) != `{"b":3}` {
				t.Errorf("after Put: %q, %v", b, err)
			}
			ents, err := s.List(ctx, "sub")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range ents {
				names = append(names, e.Name)
			}
			if strings.Join(names, ",") != "b.json,c.parquet" {
				t.Errorf("List(sub) = %v: a temporary left behind?", names)
			}
			requireFaults(t, be)
		})
	}
}

// CreateExclusive is what a table's lease stands on: a second create of
// the same name fails with fs.ErrExist and leaves the first content, and
// of many processes creating one name at once exactly one succeeds.
func TestConformanceCreateExclusive(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			d := be.open(t, "excl")
			if err := d.CreateExclusive(ctx, "_lock.json", []byte(`{"who":"first"}`)); err != nil {
				t.Fatal(err)
			}
			err := d.CreateExclusive(ctx, "_lock.json", []byte(`{"who":"second"}`))
			if !errors.Is(err, fs.ErrExist) {
				t.Errorf("second create: %v, want fs.ErrExist", err)
			}
			if b, _ := d.ReadFile(ctx, "_lock.json"); string(b) != `{"who":"first"}` {
				t.Errorf("the second create changed the file: %s", b)
			}
			// Put replaces it whole (the lease's heartbeat).
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
			ents, _ := d.List(ctx, "")
			for _, e := range ents {
				if IsTemp(e.Name) {
					t.Errorf("temporary %s left", e.Name)
				}
			}
			requireFaults(t, be)
		})
	}
}

// Remove deletes a file or a tree, and a missing name quietly;
// RemoveTemps deletes the temporaries a killed writer left, nothing else.
func TestConformanceRemove(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			s := be.open(t, "rm")
			for _, name := range []string{"keep.bin", "sub/a.json", "sub/deep/b.json", ".x.parquet.tmp-dead"} {
				if err := s.WriteFile(ctx, name, []byte(name)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.RemoveTemps(ctx, ""); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ReadFile(ctx, ".x.parquet.tmp-dead"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("temporary not removed: %v", err)
			}
			if err := s.Remove(ctx, "sub"); err != nil {
				t.Fatal(err)
			}
			if err := s.Remove(ctx, "never-there"); err != nil {
				t.Errorf("Remove(missing) = %v", err)
			}
			ents, _ := s.List(ctx, "")
			if len(ents) != 1 || ents[0].Name != "keep.bin" {
				t.Errorf("after Remove(sub): %+v", ents)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	cases := []struct{ in, kind, path string }{
		{"/data/images", "local", "/data/images"},
		{"relative/dir", "local", "relative/dir"},
		{"file:///data/x", "local", "/data/x"},
		{"dbfs:/mnt/images", "local", "/dbfs/mnt/images"},
		{"/Volumes/main/default/images", "local", "/Volumes/main/default/images"},
		{"mem://bucket/some/prefix", "blob", "mem://bucket/some/prefix"},
	}
	kind := func(s Store) string {
		if _, ok := s.(retrying).s.(*blobStore); ok {
			return "blob"
		}
		return "local"
	}
	for _, c := range cases {
		s, p, err := Resolve(ctx, c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		s.Close()
		if kind(s) != c.kind || p != c.path {
			t.Errorf("%s: %s %s, want %s %s", c.in, kind(s), p, c.kind, c.path)
		}
		lp, local := LocalPath(c.in)
		if local != (c.kind == "local") || (local && lp != c.path) {
			t.Errorf("LocalPath(%s) = %q, %v", c.in, lp, local)
		}
		// Open names the location itself.
		o, err := Open(ctx, c.in)
		if err != nil {
			t.Fatalf("Open(%s): %v", c.in, err)
		}
		o.Close()
		if o.Location() != c.in || o.Path("x/y") != c.path+"/x/y" {
			t.Errorf("Open(%s): location %s, path of x/y %s", c.in, o.Location(), o.Path("x/y"))
		}
	}
	// s3:// takes gocloud's URL parameters; bad values and unknown
	// parameters are refused at open.
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	s, p, err := Resolve(ctx, "s3://bucket/p/q?region=eu-west-1&endpoint=http://127.0.0.1:1&use_path_style=true&disable_https=true&accelerate=false&ssetype=AES256")
	if err != nil || p != "s3://bucket/p/q" {
		t.Fatalf("s3 with parameters: %q, %v", p, err)
	}
	s.Close()
	for _, bad := range []string{"ftp://host/x", "abfss://nocontainer/x", "s3://b/x?use_path_style=maybe", "s3://b/x?ssetype=rot13", "s3://b/x?no_such_option=1"} {
		if _, _, err := Resolve(ctx, bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
		if _, err := Open(ctx, bad); err == nil {
			t.Errorf("Open(%s) accepted", bad)
		}
	}
	// abfss maps onto the blob endpoint of the account (no credentials
	// needed to open the bucket).
	t.Setenv("AZURE_STORAGE_KEY", "a2V5")
	s, p, err = Resolve(ctx, "abfss://images@myaccount.dfs.core.windows.net/clothing/train")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if p != "abfss://images@myaccount.dfs.core.windows.net/clothing/train" {
		t.Errorf("abfss path %s", p)
	}
}
