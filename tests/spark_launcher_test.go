package tests

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/internal/clients"
	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/table"
)

// sparkSubmit runs the venv's spark-submit on jobs/deploy/spark_launcher.py
// with env added to the clients' environment. onLine (when given) sees
// each stderr line as it arrives. It returns stdout, stderr and the exit
// code. spark-submit passes the driver script's stdout and stderr both to
// its stdout; the executors' (the shards' log lines) go to its stderr.
func sparkSubmit(t *testing.T, env []string, onLine func(string), args ...string) (string, string, int) {
	t.Helper()
	py := clients.Python(t, "pyspark")
	launcher, _ := filepath.Abs("../jobs/deploy/spark_launcher.py")
	full := append([]string{"--conf", "spark.ui.enabled=false", "--conf", "spark.ui.showConsoleProgress=false", "--conf", "spark.log.level=WARN",
		"--driver-memory", "768m"}, args...)
	// spark-submit's options, then the launcher's (after the script).
	split := len(full)
	for i, a := range full {
		if a == "LAUNCHER" {
			split = i
		}
	}
	cmdArgs := append(append(append([]string{}, full[:split]...), launcher), full[split+1:]...)
	cmd := exec.Command(filepath.Join(filepath.Dir(py), "spark-submit"), cmdArgs...)
	cmd.Env = append(clients.Env(py), env...)
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(pipe)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		stderr.WriteString(sc.Text() + "\n")
		if onLine != nil {
			onLine(sc.Text())
		}
	}
	code := 0
	if err := cmd.Wait(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	t.Logf("spark-submit %v: exit %d in %.1fs", args, code, time.Since(start).Seconds())
	return stdout.String(), stderr.String(), code
}

// writeTar writes an uncompressed tar of files (name in the archive ->
// path on disk), executable.
func writeTar(t *testing.T, path string, files map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for name, src := range files {
		in, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := in.Stat()
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: st.Size(), ModTime: st.ModTime()}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// jobs/deploy/spark_launcher.py under real PySpark (local[2]): two shards,
// one per task, with the binary and ONNX Runtime shipped with the job
// (--archives; neither is on PATH or in the cache) and speculation asked
// for but switched off, give the table of one process, row for row; each
// shard got --workers/--threads from its task's cores, its log lines were
// streamed to the executor's stderr and its summary came back to the
// driver.
func TestSparkLauncherShardsEqualOneRun(t *testing.T) {
	needRuntime(t)
	clients.Python(t, "pyspark")
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{Seed: 8})
	in := filepath.Join(dir, "images")
	for i := 0; i < 24; i++ {
		writePNG(t, filepath.Join(in, []string{"a", "b", "c"}[i%3], fmt.Sprintf("%02d.png", i)), picture(30+i%5, 38, i))
	}
	os.WriteFile(filepath.Join(in, "a", "broken.png"), []byte("not a PNG"), 0o644)
	args := func(out string) []string {
		return []string{"featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out, "--rows-per-part", "5"}
	}
	one := filepath.Join(dir, "one")
	if r := run(t, append(args(one), "--quiet")...); r.code != 0 {
		t.Fatal(r.stderr)
	}

	ortLib := backbones.DefaultORTLibPath()
	archive := filepath.Join(dir, "featurizer.tar")
	writeTar(t, archive, map[string]string{"featurizer": binary, "libonnxruntime.so.1": ortLib})
	sharded := filepath.Join(dir, "sharded")
	stdout, stderr, code := sparkSubmit(t, []string{
		"PATH=/usr/bin:/bin",
		"FEATURIZER_CACHE=" + filepath.Join(dir, "empty-cache"), // only the archive's ONNX Runtime can load
		"FEATURIZER_ORT_LIB=",
	}, nil, append([]string{"--master", "local[2]", "--conf", "spark.speculation=true", "--archives", archive + "#fz",
		"LAUNCHER", "--shards", "2", "--binary", "fz", "--"}, args(sharded)...)...)
	if code != 0 {
		t.Fatalf("spark-submit: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "featurizer on Spark: 2 shards, master local[2], 1 cpus and 0 GPUs per task, spark.speculation=false") {
		t.Errorf("speculation asked for is not off for the job:\n%s", stdout)
	}
	sameTable(t, one, sharded)
	m, err := table.ReadManifest(sharded)
	if err != nil || m.Shards != 2 {
		t.Errorf("manifest of the launcher's table: %+v %v", m, err)
	}
	for i := 0; i < 2; i++ {
		shard := fmt.Sprintf("%d/2", i)
		// The summary line of each shard, back on the driver.
		if !regexp.MustCompile(`(?m)^shard ` + shard + `: [0-9.]+s: .*\d+ images -> \d+ rows`).MatchString(stdout) {
			t.Errorf("no summary of shard %s on the driver:\n%s", shard, stdout)
		}
		// Its command line (one core per task in local[2]) and its log,
		// line by line on the executor's stderr.
		if !strings.Contains(stderr, "[featurizer "+shard+"] attempt 0: ") ||
			!regexp.MustCompile(`\[featurizer `+shard+`\] attempt 0: \S+/fz/featurizer featurize .* --workers 1 --threads 1 --shard `+shard+` --progress log`).MatchString(stderr) {
			t.Errorf("shard %s's command line is not in the executor's log:\n%s", shard, stderr)
		}
		if !regexp.MustCompile(`(?m)^\[featurizer ` + shard + `\] .*feature tap found automatically`).MatchString(stderr) {
			t.Errorf("shard %s's log lines are not in the executor's log:\n%s", shard, stderr)
		}
	}
}

// fakeFeaturizer writes a stand-in for the binary that records its
// arguments, prints a first log line, waits until the test has seen that
// line from every shard (so the lines can only have come through while the
// process ran: streamed, not buffered), then fails as shard failShard or
// prints a summary line.
func fakeFeaturizer(t *testing.T, dir string, failShard string) (binDir, ackFile string) {
	t.Helper()
	binDir = filepath.Join(dir, "bin")
	os.MkdirAll(binDir, 0o755)
	ackFile = filepath.Join(dir, "ack")
	script := fmt.Sprintf(`#!/bin/sh
shard=""
prev=""
for a in "$@"; do [ "$prev" = "--shard" ] && shard="$a"; prev="$a"; done
echo "fake args: $*" >&2
echo "first log line of $shard" >&2
i=0
while [ ! -e %q ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done
[ -e %q ] || { echo "nobody saw the first line: the launcher buffers the output" >&2; exit 3; }
if [ "$shard" = %q ]; then
  for n in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45; do echo "error detail $n of $shard" >&2; done
  exit 2
fi
echo "$shard done: 9 images -> 9 rows"
`, ackFile, ackFile, failShard)
	if err := os.WriteFile(filepath.Join(binDir, "featurizer"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return binDir, ackFile
}

// ackWhenSeen returns an onLine callback that creates ack once the first
// log line of every shard has come through spark-submit's stderr.
func ackWhenSeen(ack string, shards ...string) func(string) {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(line string) {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range shards {
			if strings.Contains(line, "["+"featurizer "+s+"] first log line of "+s) {
				seen[s] = true
			}
		}
		if len(seen) == len(shards) {
			os.WriteFile(ack, nil, 0o644)
		}
	}
}

// A shard that fails fails the Spark job, and the launcher (exit 1), with
// the shard's exit code and the tail of its stderr; the log lines of both
// shards reached the executor's stderr while they ran (the stand-in binary
// waits until the test has seen them); the binary was found on PATH.
func TestSparkLauncherFailedShardFailsTheJob(t *testing.T) {
	clients.Python(t, "pyspark")
	dir := t.TempDir()
	binDir, ack := fakeFeaturizer(t, dir, "1/2")
	stdout, stderr, code := sparkSubmit(t, []string{"PATH=" + binDir + ":/usr/bin:/bin"}, ackWhenSeen(ack, "0/2", "1/2"),
		"--master", "local[2]", "LAUNCHER", "--shards", "2", "--", "featurize", "--input", "/in", "--output", "/out", "--workers", "3")
	if code != 1 {
		t.Fatalf("spark-submit: exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(ack); err != nil {
		t.Fatalf("the shards' first log lines never reached the executor's stderr while they ran:\n%s", stderr)
	}
	// The driver's message: the shard, its exit code, its last lines.
	i := strings.Index(stdout, "spark_launcher.py: the Spark job failed: RuntimeError: featurizer shard 1/2 failed (exit 2)")
	if i < 0 {
		t.Fatalf("no failure message naming the shard and its exit code:\n%s", stdout)
	}
	msg := stdout[i:]
	if !strings.Contains(msg, "error detail 45 of 1/2") || !strings.Contains(msg, "error detail 6 of 1/2") || strings.Contains(msg, "error detail 5 of 1/2\n") {
		t.Errorf("the failure message does not end with the shard's last 40 stderr lines:\n%s", msg)
	}
	// --workers given by the user is kept; --threads comes from the task.
	if !strings.Contains(stderr, "--workers 3 --threads 1 --shard 0/2 --progress log") {
		t.Errorf("shard command lines:\n%s", stderr)
	}
}

// Stage-level scheduling on a Standalone cluster (local-cluster: a master
// and two workers in the driver's JVM, executors in JVMs of their own),
// each worker with one GPU (stand-ins, handed out by a discovery script):
// --task-cpus 2 --gpus-per-task 1 runs each shard in a task holding 2 cores
// and one GPU, which it gets as --workers 2 --threads 2 --device cuda
// --device-id ADDRESS, the two shards on the two GPUs.
func TestSparkLauncherStageLevelGPUs(t *testing.T) {
	clients.Python(t, "pyspark")
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	os.WriteFile(filepath.Join(bin, "featurizer"), []byte("#!/bin/sh\necho \"ran: $*\"\n"), 0o755)
	gpus := filepath.Join(dir, "gpus")
	os.MkdirAll(gpus, 0o755)
	discover := filepath.Join(dir, "discover-gpus.sh")
	os.WriteFile(discover, []byte(fmt.Sprintf(`#!/bin/sh
for i in 0 1 2 3; do
  if mkdir %q/$i 2>/dev/null; then echo "{\"name\": \"gpu\", \"addresses\": [\"$i\"]}"; exit 0; fi
done
exit 1
`, gpus)), 0o755)
	stdout, stderr, code := sparkSubmit(t, []string{"PATH=" + bin + ":/usr/bin:/bin"}, nil,
		"--master", "local-cluster[2,2,1024]", "--conf", "spark.executor.memory=512m",
		"--conf", "spark.worker.resource.gpu.amount=1", "--conf", "spark.worker.resource.gpu.discoveryScript="+discover,
		"--conf", "spark.executor.resource.gpu.amount=1",
		"LAUNCHER", "--shards", "2", "--task-cpus", "2", "--gpus-per-task", "1", "--", "predict", "--input", "/in", "--output", "/out")
	if code != 0 {
		t.Fatalf("spark-submit: exit %d\n%s\n%s", code, stdout, stderr)
	}
	devices := map[string]bool{}
	for i := 0; i < 2; i++ {
		m := regexp.MustCompile(fmt.Sprintf(`(?m)^shard %d/2: [0-9.]+s: ran: predict --input /in --output /out --workers 2 --threads 2 --device cuda --device-id (\d) --shard %d/2 --progress log$`, i, i)).FindStringSubmatch(stdout)
		if m == nil {
			t.Fatalf("shard %d/2 did not run with its task's cores and GPU:\n%s\n%s", i, stdout, stderr)
		}
		devices[m[1]] = true
	}
	if len(devices) != 2 {
		t.Errorf("both shards ran on GPU %v", devices)
	}
}

// Arguments the launcher refuses before any shard starts, exit 2 with the
// flag named: its own argument checks (no Spark needed for those), and GPUs
// in local mode, which assigns no task resources.
func TestSparkLauncherRefusals(t *testing.T) {
	py := clients.Python(t, "pyspark")
	launcher, _ := filepath.Abs("../jobs/deploy/spark_launcher.py")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--shards", "2", "--", "featurize", "--shard", "0/2"}, "--shard: set by the launcher"},
		{[]string{"--shards", "2", "--gpus-per-task", "1", "--", "predict", "--device-id", "1"}, "--device-id: set by the launcher"},
		{[]string{"--shards", "0", "--", "featurize"}, "--shards: expected a positive integer"},
		{[]string{"--shards", "2", "--gpus-per-task", "2", "--", "featurize"}, "--gpus-per-task: expected a number in (0, 1]"},
		{[]string{"--shards", "2", "--", "train", "--features", "x"}, "expected featurize or predict"},
	} {
		cmd := exec.Command(py, append([]string{launcher}, c.args...)...)
		cmd.Env = clients.Env(py)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), c.want) {
			t.Errorf("%v: %v, want exit 2 and %q:\n%s", c.args, err, c.want, out)
		}
	}
	stdout, stderr, code := sparkSubmit(t, nil, nil, "--master", "local[1]", "LAUNCHER", "--shards", "2", "--gpus-per-task", "1", "--", "featurize", "--input", "x")
	if code != 2 || !strings.Contains(stdout, "--gpus-per-task: local mode (local[1]) assigns no task resources") {
		t.Errorf("GPUs in local mode: exit %d\n%s\n%s", code, stdout, stderr)
	}
}
