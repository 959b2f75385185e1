package tests

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/jobs"
	"github.com/featurizer/featurizer/storage"
	"github.com/featurizer/featurizer/table"
)

// sameTable checks that the table at got holds exactly the rows and rejects
// of the table at want: each path once, labels and features equal.
func sameTable(t *testing.T, want, got string) {
	t.Helper()
	a, err := table.ReadAll[table.FeatureRow](want)
	if err != nil {
		t.Fatal(err)
	}
	b, err := table.ReadAll[table.FeatureRow](got)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]table.FeatureRow{}
	for _, r := range b {
		if _, dup := byPath[r.Path]; dup {
			t.Fatalf("%s: %s twice", got, r.Path)
		}
		byPath[r.Path] = r
	}
	if len(a) != len(b) {
		t.Fatalf("%d rows in %s, %d in %s", len(b), got, len(a), want)
	}
	for _, r := range a {
		s, ok := byPath[r.Path]
		if !ok {
			t.Fatalf("%s missing from %s", r.Path, got)
		}
		if (r.Label == nil) != (s.Label == nil) || (r.Label != nil && (*s.Label != *r.Label || *s.LabelIndex != *r.LabelIndex)) {
			t.Errorf("%s: labels differ", r.Path)
		}
		for i := range r.Features {
			if math.Abs(float64(r.Features[i]-s.Features[i])) > 1e-5 {
				t.Fatalf("%s: feature %d differs", r.Path, i)
			}
		}
	}
	rejPaths := func(loc string) []string {
		rows, _ := table.ReadAll[table.RejectRow](loc)
		var out []string
		for _, r := range rows {
			out = append(out, r.Path)
		}
		sort.Strings(out)
		return out
	}
	if ra, rb := rejPaths(storage.Join(want, table.RejectsDir)), rejPaths(storage.Join(got, table.RejectsDir)); fmt.Sprint(ra) != fmt.Sprint(rb) {
		t.Errorf("rejects differ: %v, want %v", rb, ra)
	}
	m, err := table.ReadManifest(got)
	if err != nil || m.Rows != int64(len(a)) {
		t.Errorf("manifest of %s: %+v %v", got, m, err)
	}
}

// An incremental rerun on a grown, edited input featurizes only what is new
// or changed and ends with exactly the table of a fresh run; killed at
// random moments, it still converges to it.
func TestIncremental(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{Seed: 8})
	in := filepath.Join(dir, "images")
	for i := 0; i < 30; i++ {
		writePNG(t, filepath.Join(in, []string{"x", "y"}[i%2], fmt.Sprintf("%02d.png", i)), picture(300, 200, i))
	}
	args := func(out string, extra ...string) []string {
		return append([]string{"featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out,
			"--rows-per-part", "4", "--batch-size", "2", "--workers", "1", "--threads", "1", "--quiet"}, extra...)
	}
	out := filepath.Join(dir, "table")
	if r := run(t, args(out)...); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	// Grow: 8 new images (one broken), 2 changed, 3 removed.
	for i := 30; i < 37; i++ {
		writePNG(t, filepath.Join(in, "x", fmt.Sprintf("%02d.png", i)), picture(300, 200, i))
	}
	os.WriteFile(filepath.Join(in, "y", "broken.png"), []byte("not a png"), 0o644)
	writePNG(t, filepath.Join(in, "x", "00.png"), picture(310, 200, 100))
	writePNG(t, filepath.Join(in, "y", "05.png"), picture(300, 210, 101))
	for _, n := range []string{"x/02.png", "x/10.png", "y/21.png"} {
		os.Remove(filepath.Join(in, n))
	}
	// Without --incremental a complete table is refused, naming the flag.
	if r := run(t, args(out)...); r.code != exitUsage || !strings.Contains(r.stderr, "--incremental") {
		t.Fatalf("rerun without --incremental: %d %s", r.code, r.stderr)
	}
	if r := run(t, args(out, "--incremental")...); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	var sum jobs.Summary
	b, _ := os.ReadFile(filepath.Join(out, table.SummaryFile))
	json.Unmarshal(b, &sum)
	if i := sum.Incremental; i == nil || i.New != 8 || i.Changed != 2 || i.Removed != 3 || i.Unchanged != 25 || sum.Inputs != 10 {
		t.Fatalf("summary %+v %+v", sum, sum.Incremental)
	}
	clean := filepath.Join(dir, "clean")
	if r := run(t, args(clean)...); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	sameTable(t, clean, out)
	noTempFiles(t, out)
	// Nothing new: no work, no new part.
	parts, _ := filepath.Glob(filepath.Join(out, "part-*.parquet"))
	if r := run(t, args(out, "--incremental")...); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	if again, _ := filepath.Glob(filepath.Join(out, "part-*.parquet")); len(again) != len(parts) {
		t.Errorf("a no-op incremental run wrote parts: %d -> %d", len(parts), len(again))
	}
	sameTable(t, clean, out)

	// Killed during an incremental run: the rerun (with or without the
	// flag) goes on with the same generation and converges.
	for i := 37; i < 60; i++ {
		writePNG(t, filepath.Join(in, "y", fmt.Sprintf("%02d.png", i)), picture(900, 800, i))
	}
	os.Remove(filepath.Join(in, "x", "04.png"))
	writePNG(t, filepath.Join(in, "x", "06.png"), picture(300, 220, 102))
	// Finished means a new _SUCCESS: the one of the table before this run
	// stays until the run has prepared the output, which on a loaded
	// machine may come after the first kill.
	before, err := os.Stat(filepath.Join(out, table.SuccessFile))
	if err != nil {
		t.Fatal(err)
	}
	old := func(now os.FileInfo) bool { // inode numbers are reused: the time too
		return os.SameFile(before, now) && before.ModTime().Equal(now.ModTime())
	}
	kills := killAtRandom(t, 3, 6, 50, 400, args(out, "--incremental"), func(int) bool {
		now, err := os.Stat(filepath.Join(out, table.SuccessFile))
		return err == nil && !old(now)
	})
	if now, err := os.Stat(filepath.Join(out, table.SuccessFile)); err == nil && old(now) {
		// Every kill came before the run prepared the output: the table is
		// still the previous one, complete.
		if r := run(t, args(out, "--incremental")...); r.code != exitOK {
			t.Fatalf("final rerun: %d %s", r.code, r.stderr)
		}
	} else if err != nil {
		if r := run(t, args(out)...); r.code != exitOK { // no flag: an interrupted incremental run goes on
			t.Fatalf("final rerun: %d %s", r.code, r.stderr)
		}
	}
	t.Logf("%d kills", kills)
	clean2 := filepath.Join(dir, "clean2")
	if r := run(t, args(clean2)...); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	sameTable(t, clean2, out)
	noTempFiles(t, out)
	// The table trains.
	if r := run(t, "train", "--features", out, "--output", filepath.Join(dir, "model"), "--quiet"); r.code != exitOK {
		t.Fatalf("train on the incremental table: %s", r.stderr)
	}
}

// Four shard processes update a table incrementally in parallel (one of
// them killed and rerun): the last to finish drops the changed and removed
// rows of every shard, and the table is that of a fresh run.
func TestIncrementalShards(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{Seed: 9})
	in := filepath.Join(dir, "images")
	for i := 0; i < 40; i++ {
		writePNG(t, filepath.Join(in, []string{"x", "y"}[i%2], fmt.Sprintf("%02d.png", i)), picture(300, 200, i))
	}
	args := func(out string, extra ...string) []string {
		return append([]string{"featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out,
			"--rows-per-part", "4", "--batch-size", "2", "--workers", "1", "--threads", "1", "--quiet"}, extra...)
	}
	shards := func(out string, extra ...string) {
		t.Helper()
		runShards(t, 4, func(i int) []string { return args(out, append(extra, "--shard", fmt.Sprintf("%d/4", i))...) }, nil)
	}
	out := filepath.Join(dir, "table")
	shards(out)
	for i := 40; i < 55; i++ {
		writePNG(t, filepath.Join(in, "y", fmt.Sprintf("%02d.png", i)), picture(600, 500, i))
	}
	writePNG(t, filepath.Join(in, "x", "00.png"), picture(310, 200, 100))
	writePNG(t, filepath.Join(in, "y", "07.png"), picture(300, 230, 101))
	for _, n := range []string{"x/02.png", "y/13.png", "x/20.png", "y/33.png"} {
		os.Remove(filepath.Join(in, n))
	}
	// Shard 2 is killed once mid-run, then all four run together.
	cmd := exec.Command(binary, args(out, "--incremental", "--shard", "2/4")...)
	cmd.Start()
	time.Sleep(150 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	runShards(t, 4, func(i int) []string { return args(out, "--incremental", "--shard", fmt.Sprintf("%d/4", i)) },
		func(i int, output string) bool {
			return i == 2 && strings.Contains(output, "already holds the finished parts")
		})
	clean := filepath.Join(dir, "clean")
	if r := run(t, args(clean)...); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	sameTable(t, clean, out)
	noTempFiles(t, out)
	m, _ := table.ReadManifest(out)
	if m.Generation != 1 {
		t.Errorf("generation %d, want 1", m.Generation)
	}
	var new, changed, removed int64
	for i := 0; i < 4; i++ {
		var s jobs.Summary
		b, _ := os.ReadFile(filepath.Join(out, fmt.Sprintf("_summary-s%03d.json", i)))
		json.Unmarshal(b, &s)
		if s.Incremental == nil {
			t.Fatalf("shard %d: no incremental summary", i)
		}
		new, changed, removed = new+s.Incremental.New, changed+s.Incremental.Changed, removed+s.Incremental.Removed
	}
	if new != 15 || changed != 2 || removed != 4 {
		t.Errorf("shards found %d new, %d changed, %d removed; want 15, 2, 4", new, changed, removed)
	}
}
