package jobs

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The Databricks job is a well-formed Jobs API 2.1 create request that does
// what the README says: GPU shards with --device cuda, each on its own
// single-node cluster; containers that reach Unity Catalog volumes; the
// entry point from a workspace file; train after every shard.
func TestDatabricksJobSpec(t *testing.T) {
	b, err := os.ReadFile("deploy/databricks-job.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range checkDatabricksJob(b) {
		t.Error(e)
	}
}

// The checker is not vacuous: each mistake the spec once had, or could
// have, is reported.
func TestDatabricksJobCheckerCatches(t *testing.T) {
	good, err := os.ReadFile("deploy/databricks-job.json")
	if err != nil {
		t.Fatal(err)
	}
	type obj = map[string]any
	task := func(j obj, key string) obj {
		for _, x := range j["tasks"].([]any) {
			if x.(obj)["task_key"] == key {
				return x.(obj)
			}
		}
		t.Fatalf("no task %s", key)
		return nil
	}
	params := func(j obj, key string) []any {
		return task(j, key)["spark_python_task"].(obj)["parameters"].([]any)
	}
	cluster := func(j obj, key string) obj {
		for _, x := range j["job_clusters"].([]any) {
			if x.(obj)["job_cluster_key"] == key {
				return x.(obj)["new_cluster"].(obj)
			}
		}
		t.Fatalf("no cluster %s", key)
		return nil
	}
	drop := func(args []any, flag string) []any {
		var out []any
		for i := 0; i < len(args); i++ {
			if args[i] == flag {
				i++
				continue
			}
			out = append(out, args[i])
		}
		return out
	}
	cases := []struct {
		name, want string
		edit       func(j obj)
	}{
		{"python file on the DBFS root", "deprecated DBFS root", func(j obj) {
			task(j, "featurize_0")["spark_python_task"].(obj)["python_file"] = "dbfs:/featurizer/run_featurizer.py"
		}},
		{"GPU shard without --device cuda", "without --device cuda", func(j obj) {
			task(j, "featurize_1")["spark_python_task"].(obj)["parameters"] = drop(params(j, "featurize_1"), "--device")
		}},
		{"--device cuda on the CPU cluster", "without a GPU", func(j obj) {
			task(j, "featurize_2")["job_cluster_key"] = "cpu"
		}},
		{"two shards on one cluster", "share job cluster", func(j obj) {
			task(j, "featurize_3")["job_cluster_key"] = "gpu_0"
		}},
		{"no volumes conf in the container", "unityCatalog.volumes.enabled", func(j obj) {
			delete(cluster(j, "gpu_0")["spark_conf"].(obj), "spark.databricks.unityCatalog.volumes.enabled")
		}},
		{"shared access mode", "needs SINGLE_USER", func(j obj) {
			cluster(j, "gpu_1")["data_security_mode"] = "USER_ISOLATION"
		}},
		{"unknown access mode", "not one of the API's values", func(j obj) {
			cluster(j, "gpu_1")["data_security_mode"] = "SINGLE"
		}},
		{"misspelt field", `unknown field "depend_on"`, func(j obj) {
			task(j, "train")["depend_on"] = task(j, "train")["depends_on"]
			delete(task(j, "train"), "depends_on")
		}},
		{"train before a shard", "before task featurize_2", func(j obj) {
			deps := task(j, "train")["depends_on"].([]any)
			task(j, "train")["depends_on"] = append(deps[:2:2], deps[3:]...)
		}},
		{"missing shard", "3 featurize tasks for 4 shards", func(j obj) {
			var ts []any
			for _, x := range j["tasks"].([]any) {
				if x.(obj)["task_key"] != "featurize_3" {
					ts = append(ts, x)
				}
			}
			j["tasks"] = ts
			deps := task(j, "train")["depends_on"].([]any)
			task(j, "train")["depends_on"] = deps[:3]
			var cs []any
			for _, x := range j["job_clusters"].([]any) {
				if x.(obj)["job_cluster_key"] != "gpu_3" {
					cs = append(cs, x)
				}
			}
			j["job_clusters"] = cs
		}},
		{"dangling dependency", `depends_on "featurize_9"`, func(j obj) {
			task(j, "train")["depends_on"] = append(task(j, "train")["depends_on"].([]any), obj{"task_key": "featurize_9"})
		}},
		{"cycle", "cycle", func(j obj) {
			task(j, "featurize_0")["depends_on"] = []any{obj{"task_key": "train"}}
		}},
		{"undefined job parameter", `undefined job parameter "featurs"`, func(j obj) {
			p := params(j, "train")
			p[2] = "{{job.parameters.featurs}}"
		}},
		{"no compute", "exactly one of job_cluster_key", func(j obj) {
			delete(task(j, "train"), "job_cluster_key")
		}},
		{"bad task key", "task_key", func(j obj) {
			task(j, "train")["task_key"] = "train model"
		}},
		{"single node without its profile", "num_workers 0 needs", func(j obj) {
			delete(cluster(j, "cpu")["spark_conf"].(obj), "spark.databricks.cluster.profile")
		}},
		{"GPU image on a CPU node", "with image", func(j obj) {
			cluster(j, "cpu")["docker_image"].(obj)["url"] = "REGISTRY/featurizer:gpu-dcs"
		}},
		{"path outside the volumes", "Unity Catalog volume path", func(j obj) {
			for _, x := range j["parameters"].([]any) {
				if x.(obj)["name"] == "features" {
					x.(obj)["default"] = "/tmp/features"
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var j obj
			if err := json.Unmarshal(good, &j); err != nil {
				t.Fatal(err)
			}
			c.edit(j)
			b, _ := json.Marshal(j)
			errs := checkDatabricksJob(b)
			for _, e := range errs {
				if strings.Contains(e.Error(), c.want) {
					return
				}
			}
			t.Errorf("want an error containing %q, got %v", c.want, errs)
		})
	}
}

// imageUID is the uid the Dockerfile's image runs as.
func imageUID(t *testing.T) int {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`useradd [^\n]*--uid (\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("Dockerfile: no useradd --uid")
	}
	uid, _ := strconv.Atoi(string(m[1]))
	return uid
}

// The Indexed Job is a well-formed batch/v1 Job that does what the README
// says: a GPU per pod used with --device cuda, --workers/--threads matched to
// the CPU limit, fsGroup for the image's non-root user, a ReadWriteMany
// output volume.
func TestKubernetesIndexedJobSpec(t *testing.T) {
	b, err := os.ReadFile("deploy/kubernetes-indexed-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range checkKubernetesJob(b, imageUID(t)) {
		t.Error(e)
	}
}

func TestKubernetesCheckerCatches(t *testing.T) {
	good, err := os.ReadFile("deploy/kubernetes-indexed-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	uid := imageUID(t)
	cases := []struct{ name, old, new, want string }{
		{"no --device cuda", "--device, cuda, ", "", "without --device cuda"},
		{"no GPU limit", "nvidia.com/gpu: 1}\n            requests: {cpu: \"8\", memory: 8Gi, nvidia.com/gpu: 1}", "}\n            requests: {cpu: \"8\", memory: 8Gi}", "without an nvidia.com/gpu limit"},
		{"workers above the limit", `--workers, "8"`, `--workers, "16"`, "--workers \"16\": expected the CPU limit, 8"},
		{"no threads", `--threads, "8",`, "", "--threads \"\": expected the CPU limit"},
		{"no fsGroup", "        fsGroup: 1000\n", "", "fsGroup: required"},
		{"root", "runAsUser: 1000", "runAsUser: 0", "runAsUser 1000"},
		{"ReadWriteOnce output", "accessModes: [ReadWriteMany]", "accessModes: [ReadWriteOnce]", "needs ReadWriteMany"},
		{"count off", `value: "4"`, `value: "3"`, "JOB_COMPLETION_COUNT"},
		{"not indexed", "completionMode: Indexed", "completionMode: NonIndexed", "completionMode"},
		{"misspelt field", "backoffLimitPerIndex:", "backOffLimitPerIndex:", "backOffLimitPerIndex"},
		{"restart policy", "restartPolicy: Never", "restartPolicy: OnFailure", "need restartPolicy Never"},
		{"output read-only", "{name: data, mountPath: /data}", "{name: data, mountPath: /data, readOnly: true}", "not a writable persistent volume claim"},
		{"GPU request differs", "requests: {cpu: \"8\", memory: 8Gi, nvidia.com/gpu: 1}", "requests: {cpu: \"8\", memory: 8Gi, nvidia.com/gpu: 2}", "requested 2"},
		{"unknown volume", "- {name: models, mountPath: /models, readOnly: true}", "- {name: weights, mountPath: /models, readOnly: true}", "no such volume"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(string(good), c.old) {
				t.Fatalf("the spec no longer contains %q: update the case", c.old)
			}
			errs := checkKubernetesJob([]byte(strings.Replace(string(good), c.old, c.new, 1)), uid)
			for _, e := range errs {
				if strings.Contains(e.Error(), c.want) {
					return
				}
			}
			t.Errorf("want an error containing %q, got %v", c.want, errs)
		})
	}
}

// run_featurizer.py, the Databricks entry point, relays the binary's output
// as it comes, passes a cancelled run's SIGTERM on to it, and fails the task
// when the binary fails.
func TestRunFeaturizerEntryPoint(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	dir := t.TempDir()
	// A stand-in binary: says it started, then waits for SIGTERM (exit 130,
	// as featurizer after its running batch) or exits with $1. It ends by
	// itself, so an entry point that fails to pass SIGTERM on leaves no
	// process behind for long.
	fake := filepath.Join(dir, "featurizer")
	script := `#!/bin/sh
trap 'echo stopping; echo "stopped" > "$MARK"; exit 130' TERM
echo "started $*"
[ "$1" = wait ] || exit "$1"
i=0; while [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done # gives up after ~30 s
`
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	start := func(arg string) (*exec.Cmd, *os.File, string) {
		mark := filepath.Join(dir, "mark-"+arg)
		cmd := exec.Command(py, "deploy/run_featurizer.py", arg)
		// Found on PATH, as in the DCS image.
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "MARK="+mark, "PYTHONDONTWRITEBYTECODE=1")
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = w, w
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		return cmd, r, mark
	}
	readUntil := func(r *os.File, want string) string {
		var got []byte
		buf := make([]byte, 4096)
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(string(got), want) {
			r.SetReadDeadline(deadline)
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("waiting for %q: %v; output so far: %q", want, err, got)
			}
		}
		return string(got)
	}

	// Streaming: the child's first line arrives while it still runs.
	cmd, r, mark := start("wait")
	readUntil(r, "started wait")
	// A cancelled run: SIGTERM to the entry point reaches the binary.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("the entry point exited 0 after the binary was stopped")
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the entry point did not end after SIGTERM")
	}
	r.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if b, _ := os.ReadFile(mark); strings.Contains(string(b), "stopped") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the binary never got SIGTERM: a cancelled task would leave it running")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Exit codes: 0 passes, anything else fails the task.
	for _, code := range []int{0, 2} {
		cmd, r, _ := start(fmt.Sprint(code))
		out := readUntil(r, "started")
		err := cmd.Wait()
		r.Close()
		if (err == nil) != (code == 0) {
			t.Errorf("binary exit %d: entry point error %v (output %q)", code, err, out)
		}
	}
}
