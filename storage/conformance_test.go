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
	"testing"
	"time"

	"github.com/featurizer/featurizer/internal/testservers"
)

// backend is a store under test with a way to put objects into it.
type backend struct {
	name  string
	store Store
	root  string // the location's path within the store
	put   func(rel string, data []byte) error
	// check, when set, runs at the end of the backend's subtest.
	check func(t *testing.T)
}

func backends(t *testing.T) []backend {
	ctx := context.Background()
	var out []backend
	dir := t.TempDir()
	out = append(out, backend{"local", Local{}, dir, func(rel string, data []byte) error {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		return os.WriteFile(p, data, 0o644)
	}, nil})
	for _, loc := range []string{"mem://bucket/images"} {
		s, root, err := Resolve(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		b := s.(*Blob)
		t.Cleanup(func() { b.Close() })
		out = append(out, backend{"mem", s, root, func(rel string, data []byte) error {
			return b.Bucket.WriteAll(ctx, "images/"+rel, data, nil)
		}, nil})
	}
	// A real Azure Blob server (Azurite) on loopback.
	loc, put := testservers.Azurite(t)
	s, root, err := Resolve(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.(*Blob).Close() })
	out = append(out, backend{"azurite", s, root, put, nil})
	// Google Cloud Storage's JSON API (fake-gcs-server) on loopback.
	g := testservers.FakeGCS(t)
	out = append(out, resolved(t, "gcs", g.URL("images"), func(rel string, data []byte) error {
		return g.Put("images/"+rel, data)
	}, nil))
	// A real S3 server (MinIO) on loopback.
	m := testservers.MinIO(t)
	out = append(out, resolved(t, "minio", m.URL("images"), func(rel string, data []byte) error {
		return m.Put("images/"+rel, data)
	}, nil))
	// Another MinIO behind a proxy that injects faults into a fifth of the
	// requests, seeded, so that the same requests fail every run
	// (FEATURIZER_FAULT_SEED tries another seed): 503 SlowDown, connections
	// dropped before forwarding and halfway through the response, slow
	// responses. The data goes in with faults paused; the subtest checks
	// that faults did happen.
	seed := int64(1)
	if v := os.Getenv("FEATURIZER_FAULT_SEED"); v != "" {
		seed, _ = strconv.ParseInt(v, 10, 64)
	}
	fm := testservers.MinIO(t)
	proxy := fm.FaultProxy(t, testservers.FaultOptions{
		Seed:            seed,
		SlowDown:        0.08,
		DropBefore:      0.06,
		DropMidResponse: 0.06,
		Delay:           0.04,
		DelayDuration:   200 * time.Millisecond,
	})
	out = append(out, resolved(t, "minio+faults", proxy.URL("images"), func(rel string, data []byte) error {
		return proxy.Put("images/"+rel, data)
	}, func(t *testing.T) {
		c := proxy.Counts()
		t.Logf("fault proxy, seed %d: %v", seed, c)
		for _, f := range proxy.Injected() {
			t.Logf("  %s", f)
		}
		if c.SlowDown+c.DropBefore+c.DropMidResponse == 0 {
			t.Errorf("no error was injected: %v", c)
		}
	}))
	return out
}

// resolved is a backend on a location that Resolve opens.
func resolved(t *testing.T, name, loc string, put func(string, []byte) error, check func(*testing.T)) backend {
	s, root, err := Resolve(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.(*Blob).Close() })
	return backend{name, s, root, put, check}
}

// TestConformance runs the same expectations on every backend.
func TestConformance(t *testing.T) {
	ctx := context.Background()
	files := map[string]string{"b/2.jpg": "two", "a/1.jpg": "one", "a/deep/3.jpg": "three", "root.jpg": "root", "c/4.jpg": "four!"}
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			for rel, data := range files {
				if err := be.put(rel, []byte(data)); err != nil {
					t.Fatal(err)
				}
			}
			if ok, err := be.store.IsDir(ctx, be.root); err != nil || !ok {
				t.Fatalf("IsDir(root) = %v, %v", ok, err)
			}
			dirs, err := be.store.ListDirs(ctx, be.root)
			if err != nil || strings.Join(dirs, ",") != "a,b,c" {
				t.Errorf("ListDirs = %v, %v", dirs, err)
			}
			var rels []string
			var first Entry
			err = be.store.Walk(ctx, be.root, func(e Entry) error {
				if first.Path == "" {
					first = e
				}
				rels = append(rels, e.Rel)
				if int64(len(files[e.Rel])) != e.Size {
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
			data, err := be.store.ReadFile(ctx, first.Path, 0)
			if err != nil || string(data) != "one" {
				t.Errorf("ReadFile(%s) = %q, %v", first.Path, data, err)
			}
			if ok, err := be.store.IsDir(ctx, first.Path); err != nil || ok {
				t.Errorf("IsDir(file) = %v, %v", ok, err)
			}
			big := strings.Replace(first.Path, "a/1.jpg", "c/4.jpg", 1)
			if _, err := be.store.ReadFile(ctx, big, 3); !errors.Is(err, ErrTooLarge) {
				t.Errorf("limit: %v", err)
			}
			if _, err := be.store.ReadFile(ctx, strings.Replace(first.Path, "1.jpg", "missing.jpg", 1), 0); err == nil {
				t.Error("reading a missing object succeeded")
			}
			r, err := be.store.Open(ctx, first.Path)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil || string(b) != "one" {
				t.Errorf("Open = %q, %v", b, err)
			}
			// Walking stops at the first error.
			stop := fmt.Errorf("stop")
			n := 0
			if err := be.store.Walk(ctx, be.root, func(Entry) error { n++; return stop }); err != stop || n != 1 {
				t.Errorf("Walk after error: %v, %d calls", err, n)
			}
			if be.check != nil {
				be.check(t)
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
	for _, c := range cases {
		s, p, err := Resolve(ctx, c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		kind := "local"
		if b, ok := s.(*Blob); ok {
			kind = "blob"
			b.Close()
		}
		if kind != c.kind || p != c.path {
			t.Errorf("%s: %s %s, want %s %s", c.in, kind, p, c.kind, c.path)
		}
	}
	// s3:// takes gocloud's URL parameters; bad values and unknown
	// parameters are refused at open.
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	ok, p, err := Resolve(ctx, "s3://bucket/p/q?region=eu-west-1&endpoint=http://127.0.0.1:1&use_path_style=true&disable_https=true&accelerate=false&ssetype=AES256")
	if err != nil || p != "s3://bucket/p/q" {
		t.Fatalf("s3 with parameters: %q, %v", p, err)
	}
	ok.(*Blob).Close()
	for _, bad := range []string{"ftp://host/x", "abfss://nocontainer/x", "s3://b/x?use_path_style=maybe", "s3://b/x?ssetype=rot13", "s3://b/x?no_such_option=1"} {
		if _, _, err := Resolve(ctx, bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	// abfss maps onto the blob endpoint of the account (no credentials
	// needed to open the bucket).
	t.Setenv("AZURE_STORAGE_KEY", "a2V5")
	s, p, err := Resolve(ctx, "abfss://images@myaccount.dfs.core.windows.net/clothing/train")
	if err != nil {
		t.Fatal(err)
	}
	s.(*Blob).Close()
	if p != "abfss://images@myaccount.dfs.core.windows.net/clothing/train" {
		t.Errorf("abfss path %s", p)
	}
}

// TestDirConformance runs the writable side (what jobs write tables and
// models with) on every backend: atomic writes, listings that skip
// nothing, ranged reads of a tail, removal, and temporaries.
func TestDirConformance(t *testing.T) {
	ctx := context.Background()
	azurite, _ := testservers.Azurite(t)
	g := testservers.FakeGCS(t)
	m := testservers.MinIO(t)
	fm := testservers.MinIO(t)
	proxy := fm.FaultProxy(t, testservers.FaultOptions{Seed: 3, SlowDown: 0.08, DropBefore: 0.06, DropMidResponse: 0.06, Delay: 0.04, DelayDuration: 50 * time.Millisecond})
	locs := []struct{ name, loc string }{
		{"local", filepath.Join(t.TempDir(), "out")},
		{"mem", "mem://bucket/out"},
		{"azurite", strings.Replace(azurite, "/images?", "/out?", 1)},
		{"gcs", g.URL("out")},
		{"minio", m.URL("out")},
		{"minio+faults", proxy.URL("out")},
	}
	for _, l := range locs {
		t.Run(l.name, func(t *testing.T) {
			d, err := OpenDir(ctx, l.loc)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if _, err := d.ReadFile(ctx, "missing.json"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("ReadFile(missing) = %v, want fs.ErrNotExist", err)
			}
			big := make([]byte, 600<<10) // over the tail read in one request
			for i := range big {
				big[i] = byte(i * 7)
			}
			if err := d.WriteFile(ctx, "a.bin", big); err != nil {
				t.Fatal(err)
			}
			if err := d.WriteFile(ctx, "sub/b.json", []byte(`{"b":1}`)); err != nil {
				t.Fatal(err)
			}
			f, err := d.CreateTemp("sub/c.parquet")
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte("spooled"))
			if err := d.Commit(ctx, f, "sub/c.parquet"); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(f.Name()); err == nil && d.LocalPath() == "" {
				t.Errorf("spool %s left behind", f.Name())
			}
			ents, err := d.List(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range ents {
				names = append(names, fmt.Sprintf("%s:%v:%d", e.Name, e.IsDir, e.Size))
				if IsTemp(e.Name) {
					t.Errorf("temporary %s visible", e.Name)
				}
			}
			if got := strings.Join(names, ","); got != fmt.Sprintf("a.bin:false:%d,sub:true:0", len(big)) {
				t.Errorf("List = %s", got)
			}
			sub, _ := d.List(ctx, "sub")
			if len(sub) != 2 || sub[0].Name != "b.json" || sub[1].Name != "c.parquet" {
				t.Errorf("List(sub) = %+v", sub)
			}
			if b, err := d.ReadFile(ctx, "sub/c.parquet"); err != nil || string(b) != "spooled" {
				t.Errorf("ReadFile(committed) = %q, %v", b, err)
			}
			r, err := d.Open(ctx, "a.bin")
			if err != nil {
				t.Fatal(err)
			}
			for _, off := range []int64{0, 1000, int64(len(big)) - 100, int64(len(big)) - 300<<10} {
				p := make([]byte, 100)
				if n, err := r.ReadAt(p, off); n != 100 || (err != nil && err != io.EOF) || !bytes.Equal(p, big[off:off+100]) {
					t.Errorf("ReadAt(%d) = %d, %v", off, n, err)
				}
			}
			if r.Size() != int64(len(big)) {
				t.Errorf("Size = %d", r.Size())
			}
			r.Close()
			// Overwrite is atomic too: the new content, whole.
			if err := d.WriteFile(ctx, "sub/b.json", []byte(`{"b":2}`)); err != nil {
				t.Fatal(err)
			}
			if b, _ := d.ReadFile(ctx, "sub/b.json"); string(b) != `{"b":2}` {
				t.Errorf("after overwrite: %q", b)
			}
			// A leftover temporary (a killed upload) goes with RemoveTemps.
			if err := d.WriteFile(ctx, ".x.parquet.tmp-dead", []byte("half")); err != nil {
				t.Fatal(err)
			}
			if err := d.RemoveTemps(ctx, ""); err != nil {
				t.Fatal(err)
			}
			if _, err := d.ReadFile(ctx, ".x.parquet.tmp-dead"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("temporary not removed: %v", err)
			}
			if err := d.Remove(ctx, "sub"); err != nil {
				t.Fatal(err)
			}
			if err := d.Remove(ctx, "never-there"); err != nil {
				t.Errorf("Remove(missing) = %v", err)
			}
			ents, _ = d.List(ctx, "")
			if len(ents) != 1 || ents[0].Name != "a.bin" {
				t.Errorf("after Remove(sub): %+v", ents)
			}
		})
	}
	t.Logf("fault proxy: %v", proxy.Counts())
}
