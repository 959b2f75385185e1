package featurize

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/featurizer/featurizer/internal/corrupt"
)

func needPillow(t *testing.T) {
	t.Helper()
	if err := corrupt.PillowAvailable(); err != nil {
		if os.Getenv("FEATURIZER_REQUIRE_REFERENCE") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

type decodeVerdict struct {
	ok     bool
	err    string
	w, h   int
	sha256 string
}

func verdictOf(d *Decoder, path string) decodeVerdict {
	data, err := os.ReadFile(path)
	if err != nil {
		return decodeVerdict{err: err.Error()}
	}
	img, err := d.Decode(data)
	if err != nil {
		return decodeVerdict{err: err.Error()}
	}
	sum := sha256.Sum256(img.Pix[:img.W*img.H*3])
	return decodeVerdict{ok: true, w: img.W, h: img.H, sha256: hex.EncodeToString(sum[:])}
}

// A damaged JPEG is decoded exactly when Pillow decodes it, to Pillow's
// pixels; every run, from any number of goroutines at once.
func TestDamagedJPEGsMatchPillow(t *testing.T) {
	testDamagedMatchPillow(t, corrupt.WriteDamagedJPEGs, 200, 50, 100)
}

// The same for PNGs.
func TestDamagedPNGsMatchPillow(t *testing.T) {
	testDamagedMatchPillow(t, corrupt.WriteDamagedPNGs, 200, 50, 100)
}

// And GIFs.
func TestDamagedGIFsMatchPillow(t *testing.T) {
	testDamagedMatchPillow(t, corrupt.WriteDamagedGIFs, 200, 50, 100)
}

func testDamagedMatchPillow(t *testing.T, write func(string, int64) ([]string, error), minFiles, minAccepted, minRefused int) {
	needPillow(t)
	dir := t.TempDir()
	names, err := write(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = filepath.Join(dir, n)
	}
	want, err := corrupt.PillowVerdicts(paths)
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for _, v := range want {
		if v.OK {
			accepted++
		}
	}
	t.Logf("%d damaged files, Pillow %s accepts %d and refuses %d", len(names), corrupt.PillowVersion(), accepted, len(names)-accepted)
	if len(names) < minFiles || accepted < minAccepted || len(names)-accepted < minRefused {
		t.Fatalf("the corpus lost its teeth: %d files, %d accepted", len(names), accepted)
	}
	check := func(t *testing.T, path string, got decodeVerdict) {
		w := want[path]
		switch {
		case w.OK && !got.ok:
			t.Errorf("%s: Pillow decodes it, we refuse it: %s", filepath.Base(path), got.err)
		case !w.OK && got.ok:
			t.Errorf("%s: Pillow refuses it (%s), we decode it", filepath.Base(path), w.Error)
		case w.OK && w.SHA256 != "" && (got.w != w.Width || got.h != w.Height || got.sha256 != w.SHA256):
			t.Errorf("%s: %dx%d pixels differ from Pillow's %dx%d", filepath.Base(path), got.w, got.h, w.Width, w.Height)
		case !w.OK && !strings.Contains(got.err, "JPEG") && !strings.Contains(got.err, "PNG") && !strings.Contains(got.err, "GIF") && !strings.Contains(got.err, "--max-pixels"):
			t.Errorf("%s: the reason does not say what failed: %s", filepath.Base(path), got.err)
		}
	}
	var d Decoder
	for _, p := range paths {
		check(t, p, verdictOf(&d, p))
	}
	// Eight goroutines, three rounds each, locked to no thread: verdicts
	// must not depend on which OS thread a decode lands on.
	var wg sync.WaitGroup
	var mu sync.Mutex
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var d Decoder
			for round := 0; round < 3; round++ {
				for i := range paths {
					p := paths[(i+g*len(paths)/8)%len(paths)]
					got := verdictOf(&d, p)
					runtime.Gosched()
					mu.Lock()
					check(t, p, got)
					mu.Unlock()
				}
			}
		}(g)
	}
	wg.Wait()
}
