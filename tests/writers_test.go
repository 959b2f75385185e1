package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/internal/testservers"
	"github.com/featurizer/featurizer/storage"
	"github.com/featurizer/featurizer/table"
)

// outFiles lists the files of a table location (local or bucket): the top
// level and _rejects/, as Spark and DuckDB see them.
func outFiles(t *testing.T, loc string) []string {
	t.Helper()
	d, err := storage.Open(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var out []string
	for _, sub := range []string{"", table.RejectsDir} {
		ents, _ := d.List(context.Background(), sub)
		for _, e := range ents {
			if !e.IsDir {
				out = append(out, path.Join(sub, e.Name))
			}
		}
	}
	sort.Strings(out)
	return out
}

// dataParts are the Parquet parts a reader of the folder picks up.
func dataParts(files []string) []string {
	var out []string
	for _, f := range files {
		b := path.Base(f)
		if strings.HasPrefix(b, "part-") && strings.HasSuffix(b, ".parquet") {
			out = append(out, f)
		}
	}
	return out
}

func hasFile(files []string, name string) bool {
	for _, f := range files {
		if f == name {
			return true
		}
	}
	return false
}

// tableTells checks that the table at got is what its manifest says and
// nothing more: every part-*.parquet in the folder (what Spark reads) is
// listed, every listed part is there, the rows equal those of want, the
// manifest records the layout it was written as, and no lease is left.
func tableTells(t *testing.T, want, got string, shards int) {
	t.Helper()
	defer func() {
		if t.Failed() {
			m, _ := table.ReadManifest(got)
			t.Logf("%s holds %v; manifest %+v", got, outFiles(t, got), m)
		}
	}()
	sameTable(t, want, got)
	m, err := table.ReadManifest(got)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, p := range append(append([]table.PartInfo{}, m.Parts...), m.RejectParts...) {
		listed = append(listed, p.File)
	}
	sort.Strings(listed)
	files := outFiles(t, got)
	if parts := dataParts(files); strings.Join(parts, " ") != strings.Join(listed, " ") {
		t.Errorf("%s: the folder holds\n  %v\nthe manifest lists\n  %v", got, parts, listed)
	}
	if m.Shards != shards {
		t.Errorf("%s: manifest says %d shards, want %d", got, m.Shards, shards)
	}
	for _, p := range dataParts(files) {
		b := path.Base(p)
		if sharded := strings.HasPrefix(b, "part-s"); sharded != (shards > 1) {
			t.Errorf("%s: %s is not a part of a %d-shard table", got, p, shards)
		}
	}
	if !hasFile(files, table.SuccessFile) || hasFile(files, table.LeaseFile) {
		t.Errorf("%s: _SUCCESS %v, lease left %v", got, hasFile(files, table.SuccessFile), hasFile(files, table.LeaseFile))
	}
}

// Re-sharding with --overwrite (issue 8, item 3): a complete 3-shard table
// made again as 2 shards that start at different moments, then as 4 at
// once, then as one process, leaves nothing of any earlier layout that a
// Parquet reader would pick up, and a later shard of the new run keeps
// what an earlier one committed. On local disk and in MinIO.
func TestOverwriteReshard(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{Seed: 12})
	in := filepath.Join(dir, "images")
	for i := 0; i < 40; i++ {
		writePNG(t, filepath.Join(in, []string{"a", "b"}[i%2], fmt.Sprintf("%02d.png", i)), picture(40+i%5, 30, i))
	}
	os.WriteFile(filepath.Join(in, "a", "broken.png"), []byte("not a png"), 0o644)
	args := func(out string, extra ...string) []string {
		return append([]string{"featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out,
			"--rows-per-part", "3", "--batch-size", "4", "--workers", "1", "--threads", "1", "--quiet"}, extra...)
	}
	one := filepath.Join(dir, "one")
	if r := run(t, args(one)...); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	srv := testservers.MinIO(t)
	for _, out := range []string{filepath.Join(dir, "out"), srv.URL("out")} {
		t.Run(map[bool]string{true: "minio", false: "local"}[strings.HasPrefix(out, "s3://")], func(t *testing.T) {
			shards := func(n int, extra ...string) {
				t.Helper()
				runShards(t, n, func(i int) []string { return args(out, append(extra, "--shard", fmt.Sprintf("%d/%d", i, n))...) }, nil)
			}
			shards(3)
			tableTells(t, one, out, 3)
			// 0/2 runs to its end before 1/2 starts.
			if r := run(t, args(out, "--shard", "0/2", "--overwrite")...); r.code != exitOK {
				t.Fatalf("0/2: %d %s", r.code, r.stderr)
			}
			files := outFiles(t, out)
			if hasFile(files, table.SuccessFile) {
				t.Error("_SUCCESS while shard 1/2 has not run")
			}
			for _, p := range dataParts(files) {
				if !strings.HasPrefix(path.Base(p), "part-s000-") {
					t.Errorf("after 0/2 with --overwrite, %s of the 3-shard table is still there", p)
				}
			}
			if r := run(t, args(out, "--shard", "1/2", "--overwrite")...); r.code != exitOK {
				t.Fatalf("1/2: %d %s", r.code, r.stderr)
			}
			tableTells(t, one, out, 2)
			shards(4, "--overwrite")
			tableTells(t, one, out, 4)
			if r := run(t, args(out, "--overwrite")...); r.code != exitOK {
				t.Fatalf("unsharded: %d %s", r.code, r.stderr)
			}
			tableTells(t, one, out, 1)
			shards(2, "--overwrite")
			tableTells(t, one, out, 2)
		})
	}
}

// launch starts the CLI and returns its process and a wait for its exit
// code.
func launch(t *testing.T, args ...string) (*exec.Cmd, func() (int, string)) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, func() (int, string) {
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), stderr.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, stderr.String()
	}
}

// waitForPart waits until the output holds a part named name.
func waitForPart(t *testing.T, out, name string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !hasFile(outFiles(t, out), name) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in %s within a minute", name, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// allUnder checks that every row of the table at loc comes from input root
// and that there are n of them.
func allUnder(t *testing.T, loc, root string, n int) {
	t.Helper()
	rows, err := table.ReadAll[table.FeatureRow](loc)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if !strings.HasPrefix(r.Path, root+string(filepath.Separator)) || seen[r.Path] {
			t.Fatalf("%s: row %s is not from %s, or twice", loc, r.Path, root)
		}
		seen[r.Path] = true
	}
	m, err := table.ReadManifest(loc)
	if len(rows) != n || err != nil || m.Input != root || m.Rows != int64(n) {
		t.Errorf("%s: %d rows, want %d; manifest %+v %v", loc, len(rows), n, m, err)
	}
	var listed []string
	for _, p := range append(append([]table.PartInfo{}, m.Parts...), m.RejectParts...) {
		listed = append(listed, p.File)
	}
	sort.Strings(listed)
	if parts := dataParts(outFiles(t, loc)); strings.Join(parts, " ") != strings.Join(listed, " ") {
		t.Errorf("%s: the folder holds %v, the manifest lists %v", loc, parts, listed)
	}
}

// Two jobs on one output (issue 8, item 4): while a job writes its table,
// another job with another input is refused (exit 2, naming the host, the
// pid and since when), with or without --overwrite, and the first job's
// table is its own; once it is done the second may replace it. A writer
// killed by kill -9 leaves an interrupted run: another job is told so,
// and --overwrite takes it over at once (its process is gone). A lease
// held from another host counts until its heartbeat is stale. On local
// disk and in MinIO.
func TestSecondWriterRefused(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{Seed: 13})
	inA, inB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for i := 0; i < 24; i++ {
		writePNG(t, filepath.Join(inA, []string{"x", "y"}[i%2], fmt.Sprintf("%02d.png", i)), picture(900, 800, i))
	}
	for i := 0; i < 6; i++ {
		writePNG(t, filepath.Join(inB, []string{"x", "y"}[i%2], fmt.Sprintf("b%02d.png", i)), picture(50, 40, i))
	}
	args := func(in, out string, extra ...string) []string {
		return append([]string{"featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out,
			"--rows-per-part", "2", "--batch-size", "2", "--workers", "1", "--threads", "1", "--quiet"}, extra...)
	}
	host, _ := os.Hostname()
	srv := testservers.MinIO(t)
	for _, out := range []string{filepath.Join(dir, "out"), srv.URL("out")} {
		t.Run(map[bool]string{true: "minio", false: "local"}[strings.HasPrefix(out, "s3://")], func(t *testing.T) {
			// The first job is paused (SIGSTOP) once it has committed a
			// part: it holds the output, whatever the machine's speed.
			a, waitA := launch(t, args(inA, out)...)
			waitForPart(t, out, table.PartName(0))
			a.Process.Signal(syscall.SIGSTOP)
			for _, extra := range [][]string{{"--overwrite"}, nil} {
				r := run(t, args(inB, out, extra...)...)
				who := fmt.Sprintf("host %s, pid %d", host, a.Process.Pid)
				if r.code != exitUsage || !strings.Contains(r.stderr, "being written by another job") || !strings.Contains(r.stderr, who) ||
					!strings.Contains(r.stderr, "since ") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
					t.Errorf("second writer %v: exit %d, want 2 naming %q:\n%s", extra, r.code, who, r.stderr)
				}
			}
			a.Process.Signal(syscall.SIGCONT)
			if code, stderr := waitA(); code != exitOK {
				t.Fatalf("first writer: %d %s", code, stderr)
			}
			allUnder(t, out, inA, 24)
			// Done: the other job may now replace the table.
			if r := run(t, args(inB, out, "--overwrite")...); r.code != exitOK {
				t.Fatalf("after the first job: %d %s", r.code, r.stderr)
			}
			allUnder(t, out, inB, 6)

			// kill -9 of a writer.
			k, waitK := launch(t, args(inA, out, "--overwrite")...)
			waitForPart(t, out, table.PartName(3)) // beyond the parts of b's table
			k.Process.Signal(syscall.SIGKILL)
			waitK()
			r := run(t, args(inB, out)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, "interrupted run of another job") || !strings.Contains(r.stderr, fmt.Sprintf("pid %d", k.Process.Pid)) ||
				!strings.Contains(r.stderr, "--overwrite") {
				t.Errorf("after kill -9, another job: %d %s", r.code, r.stderr)
			}
			if r := run(t, args(inB, out, "--overwrite")...); r.code != exitOK {
				t.Fatalf("after kill -9, another job with --overwrite: %d %s", r.code, r.stderr)
			}
			allUnder(t, out, inB, 6)

			// A lease from another host: live, then stale.
			d, err := storage.Open(context.Background(), out)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			forge := func(age time.Duration) {
				now := time.Now().UTC()
				l := table.Lease{Job: "0123456789abcdef", Run: "feedface", Shards: 4, Kind: "features", Input: "s3://elsewhere/images", Since: now.Add(-time.Hour),
					Holders: []table.Holder{{Host: "worker-7", PID: 4242, Shard: "3/4", Heartbeat: now.Add(-age)}}}
				b, _ := json.Marshal(l)
				if err := d.Put(context.Background(), table.LeaseFile, b); err != nil {
					t.Fatal(err)
				}
			}
			forge(5 * time.Second)
			r = run(t, args(inA, out, "--overwrite")...)
			if r.code != exitUsage || !strings.Contains(r.stderr, "being written by another job (features of s3://elsewhere/images as 4 shards") ||
				!strings.Contains(r.stderr, "host worker-7, pid 4242 (shard 3/4)") {
				t.Errorf("live lease of another host: %d %s", r.code, r.stderr)
			}
			forge(time.Hour)
			if r := run(t, args(inA, out)...); r.code != exitUsage || !strings.Contains(r.stderr, "interrupted run of another job") {
				t.Errorf("stale lease of another host, without --overwrite: %d %s", r.code, r.stderr)
			}
			allUnder(t, out, inB, 6) // refusals change nothing
			if r := run(t, args(inA, out, "--overwrite")...); r.code != exitOK {
				t.Fatalf("stale lease of another host, with --overwrite: %d %s", r.code, r.stderr)
			}
			allUnder(t, out, inA, 24)
		})
	}
}

// Two jobs started at the same moment on one output, several times: one
// of them writes the table, whole; the other is refused or runs after it.
// Never rows of both.
func TestTwoWritersAtOnce(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{Seed: 14})
	ins := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b")}
	counts := []int{14, 9}
	for k, in := range ins {
		for i := 0; i < counts[k]; i++ {
			writePNG(t, filepath.Join(in, "x", fmt.Sprintf("%d-%02d.png", k, i)), picture(200+k*10, 150, i+k*50))
		}
	}
	out := filepath.Join(dir, "out")
	for round := 0; round < 4; round++ {
		codes := make([]int, 2)
		errs := make([]string, 2)
		waits := make([]func() (int, string), 2)
		for k := range ins {
			_, waits[k] = launch(t, "featurize", "--backbone", model, "--spec", spec, "--input", ins[k], "--output", out,
				"--rows-per-part", "2", "--batch-size", "2", "--workers", "1", "--threads", "1", "--quiet", "--overwrite")
		}
		for k := range ins {
			codes[k], errs[k] = waits[k]()
			if codes[k] != exitOK && (codes[k] != exitUsage || !strings.Contains(errs[k], "being written by another job")) {
				t.Errorf("round %d, job %d: exit %d %s", round, k, codes[k], errs[k])
			}
		}
		if codes[0] != exitOK && codes[1] != exitOK {
			t.Fatalf("round %d: both refused", round)
		}
		m, err := table.ReadManifest(out)
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		if m.Input == ins[1] {
			k = 1
		}
		allUnder(t, out, ins[k], counts[k])
	}
}

// What a refusal says (issue 8, item 10): a shard of another layout, or
// one process, on a complete 2-shard table names the layout it was
// written as and changes nothing (it used to say the input had changed,
// and to remove the table's _SUCCESS).
func TestLayoutRefusalNamesTheLayout(t *testing.T) {
	needRuntime(t)
	dir, _, args := refusalSetup(t, 15)
	out := filepath.Join(dir, "out")
	runShards(t, 2, func(i int) []string { return args("--shard", fmt.Sprintf("%d/2", i)) }, nil)
	ref := filepath.Join(dir, "ref")
	if r := run(t, args("--output", ref)...); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	tableTells(t, ref, out, 2)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--shard", "0/3"}, []string{"already holds a complete table written as 2 shards, not 3 (this is shard 0/3); pass --overwrite"}},
		{[]string{"--shard", "2/3"}, []string{"already holds a complete table written as 2 shards, not 3 (this is shard 2/3); pass --overwrite"}},
		{[]string{"--shard", "1/2"}, []string{"already holds the finished parts of shard 1/2"}},
		{nil, []string{"already holds a complete table written as 2 shards; pass --overwrite", "--incremental"}},
	} {
		r := run(t, args(c.args...)...)
		ok := r.code == exitUsage && !strings.Contains(r.stderr, "changed since") && strings.Count(strings.TrimSpace(r.stderr), "\n") == 0
		for _, w := range c.want {
			ok = ok && strings.Contains(r.stderr, w)
		}
		if !ok {
			t.Errorf("%v: exit %d, want 2 saying %q:\n%s", c.args, r.code, c.want, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(out, table.SuccessFile)); err != nil {
			t.Fatalf("after %v: the complete table lost its _SUCCESS", c.args)
		}
		tableTells(t, ref, out, 2)
	}
}

// refusalSetup writes 20 images in two classes and a tiny backbone; args
// makes a featurize command line onto dir/out (a later --output wins).
func refusalSetup(t *testing.T, seed int64) (dir, in string, args func(extra ...string) []string) {
	dir = t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{Seed: seed})
	in = filepath.Join(dir, "images")
	for i := 0; i < 20; i++ {
		writePNG(t, filepath.Join(in, []string{"a", "b"}[i%2], fmt.Sprintf("%02d.png", i)), picture(60, 50, i))
	}
	return dir, in, func(extra ...string) []string {
		return append([]string{"featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", filepath.Join(dir, "out"),
			"--rows-per-part", "3", "--quiet"}, extra...)
	}
}

// An incremental run with other settings is refused naming each setting
// that differs, with both values (issue 8, item 10): the limits that
// decide which inputs become rows (--max-pixels, --max-bytes,
// --fast-decode) included, which used to be ignored; the labels; the
// weights. The table is left as it was.
func TestIncrementalRefusalNamesTheSetting(t *testing.T) {
	needRuntime(t)
	dir, in, args := refusalSetup(t, 16)
	out := filepath.Join(dir, "out")
	if r := run(t, args()...); r.code != exitOK {
		t.Fatal(r.stderr)
	}
	before, _ := table.ReadManifest(out)
	intact := func(what string) {
		t.Helper()
		m, err := table.ReadManifest(out)
		if _, serr := os.Stat(filepath.Join(out, table.SuccessFile)); err != nil || serr != nil || m.Generation != before.Generation || m.Rows != before.Rows {
			t.Fatalf("after %s: the table changed: %+v %v %v", what, m, err, serr)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-pixels", "1000000"}, "max_pixels: 178956970 in the table, 1000000 now"},
		{[]string{"--max-bytes", "5000"}, "max_bytes: 268435456 in the table, 5000 now"},
		{[]string{"--fast-decode"}, "fast_decode: false in the table, true now"},
	} {
		r := run(t, args(append([]string{"--incremental"}, c.args...)...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "--overwrite") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, want 2 saying %q:\n%s", c.args, r.code, c.want, r.stderr)
		}
		intact(strings.Join(c.args, " "))
	}
	// A new class folder changes the labels.
	writePNG(t, filepath.Join(in, "c", "new.png"), picture(60, 50, 99))
	r := run(t, args("--incremental")...)
	if r.code != exitUsage || !strings.Contains(r.stderr, `labels: ["a","b"] in the table, ["a","b","c"] now`) {
		t.Errorf("new label: %d %s", r.code, r.stderr)
	}
	intact("a new label")
	os.RemoveAll(filepath.Join(in, "c"))
	// Other weights.
	other := filepath.Join(dir, "other")
	os.MkdirAll(other, 0o755)
	model2, spec2 := tinyBackbone(t, other, testmodels.Options{Seed: 17})
	r = run(t, "featurize", "--backbone", model2, "--spec", spec2, "--input", in, "--output", out, "--rows-per-part", "3", "--quiet", "--incremental")
	if r.code != exitUsage || !strings.Contains(r.stderr, "weights_sha256: ") || strings.Contains(r.stderr, "labels:") {
		t.Errorf("other weights: %d %s", r.code, r.stderr)
	}
	intact("other weights")
	// The default limit, named, is the same setting: nothing to do.
	if r := run(t, args("--incremental", "--max-pixels", "178956970")...); r.code != exitOK {
		t.Errorf("the default limit named: %d %s", r.code, r.stderr)
	}
	if m, _ := table.ReadManifest(out); m.Rows != before.Rows {
		t.Errorf("a no-op incremental run changed the rows: %d -> %d", before.Rows, m.Rows)
	}
}

// predict --features writes a table too: it takes the output's lease like
// featurize, so a job writing there refuses it, and it waits for nobody
// once that job is done.
func TestPredictFeaturesTakesTheLease(t *testing.T) {
	needRuntime(t)
	dir, model, spec, trainTable, modelDir := readersSetup(t)
	in := filepath.Join(dir, "big")
	for i := 0; i < 16; i++ {
		writePNG(t, filepath.Join(in, []string{"x", "y"}[i%2], fmt.Sprintf("%02d.png", i)), picture(900, 800, i))
	}
	out := filepath.Join(dir, "shared-out")
	a, waitA := launch(t, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out,
		"--rows-per-part", "2", "--batch-size", "2", "--workers", "1", "--threads", "1", "--quiet")
	waitForPart(t, out, table.PartName(0))
	a.Process.Signal(syscall.SIGSTOP)
	predict := func(extra ...string) result {
		return run(t, append([]string{"predict", "--model", modelDir, "--features", trainTable, "--output", out, "--quiet"}, extra...)...)
	}
	for _, extra := range [][]string{nil, {"--overwrite"}} {
		r := predict(extra...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "being written by another job") || !strings.Contains(r.stderr, fmt.Sprintf("pid %d", a.Process.Pid)) {
			t.Errorf("predict --features %v into a featurize job's output: exit %d, want 2 naming the other job:\n%s", extra, r.code, r.stderr)
		}
	}
	a.Process.Signal(syscall.SIGCONT)
	if code, stderr := waitA(); code != exitOK {
		t.Fatalf("featurize: %d %s", code, stderr)
	}
	allUnder(t, out, in, 16)
	if r := predict("--overwrite"); r.code != exitOK {
		t.Fatalf("predict --features --overwrite after the job: %d %s", r.code, r.stderr)
	}
	rows, err := table.ReadAll[table.PredictionRow](out)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := table.ReadAll[table.FeatureRow](trainTable)
	if len(rows) != len(want) {
		t.Errorf("%d predictions for %d feature rows", len(rows), len(want))
	}
	for _, f := range []string{table.SuccessFile, table.ManifestFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "_lease.json")); err == nil {
		t.Error("the lease outlived the job")
	}
}
