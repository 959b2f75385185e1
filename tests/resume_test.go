package tests

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/table"
)

// kill -9 at random moments, then rerun: every rerun resumes from the
// committed parts, and the table converges to exactly one row per image,
// equal to an uninterrupted run.
func TestKill9Resume(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{Seed: 6})
	in := filepath.Join(dir, "images")
	for i := 0; i < 60; i++ {
		writePNG(t, filepath.Join(in, []string{"x", "y"}[i%2], fmt.Sprintf("%02d.png", i)), picture(900, 800, i))
	}
	os.WriteFile(filepath.Join(in, "x", "broken.png"), []byte("not a png"), 0o644)
	args := func(out string) []string {
		return []string{"featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out,
			"--rows-per-part", "5", "--batch-size", "2", "--workers", "1", "--threads", "1", "--quiet"}
	}
	clean := filepath.Join(dir, "clean")
	if r := run(t, args(clean)...); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	out := filepath.Join(dir, "killed")
	kills := killAtRandom(t, 1, 8, 100, 500, args(out), func(kills int) bool {
		// Whatever is visible is whole.
		parts, _ := filepath.Glob(filepath.Join(out, "part-*.parquet"))
		for _, p := range parts {
			if _, err := table.NumRows(p); err != nil {
				t.Fatalf("after kill %d: %s is not a whole Parquet file: %v", kills, p, err)
			}
		}
		_, err := os.Stat(filepath.Join(out, table.SuccessFile))
		return err == nil // it had finished
	})
	if _, err := os.Stat(filepath.Join(out, table.SuccessFile)); err != nil {
		if r := run(t, args(out)...); r.code != exitOK {
			t.Fatalf("final rerun: %d %s", r.code, r.stderr)
		}
	}
	t.Logf("%d kills", kills)
	a, _ := table.ReadAll[table.FeatureRow](clean)
	b, _ := table.ReadAll[table.FeatureRow](out)
	if len(b) != 60 || len(a) != 60 {
		t.Fatalf("%d rows after resuming, %d clean", len(b), len(a))
	}
	seen := map[string]table.FeatureRow{}
	for _, row := range b {
		if _, dup := seen[row.Path]; dup {
			t.Fatalf("%s twice", row.Path)
		}
		seen[row.Path] = row
	}
	for _, row := range a {
		got, ok := seen[row.Path]
		if !ok {
			t.Fatalf("%s missing", row.Path)
		}
		for i := range row.Features {
			if math.Abs(float64(row.Features[i]-got.Features[i])) > 1e-5 {
				t.Fatalf("%s differs", row.Path)
			}
		}
	}
	rej, _ := table.ReadAll[table.RejectRow](filepath.Join(out, table.RejectsDir))
	if len(rej) != 1 || !strings.HasSuffix(rej[0].Path, "broken.png") {
		t.Errorf("rejects %+v", rej)
	}
	m, err := table.ReadManifest(out)
	if err != nil || m.Rows != 60 || m.Rejected != 1 {
		t.Errorf("manifest %+v %v", m, err)
	}
	noTempFiles(t, out)
	// A changed input cannot be mixed into a half-written table.
	if kills > 0 {
		other := filepath.Join(dir, "other")
		cmd := exec.Command(binary, args(other)...)
		cmd.Start()
		time.Sleep(300 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if parts, _ := filepath.Glob(filepath.Join(other, "part-*.parquet")); len(parts) > 0 {
			os.Rename(filepath.Join(in, "x", "00.png"), filepath.Join(in, "x", "000-renamed.png"))
			r := run(t, args(other)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, "changed since the interrupted run") {
				t.Errorf("changed input: %d %s", r.code, r.stderr)
			}
		}
	}
}
