package jobs

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The deployment specs stay consistent: one featurize task per shard, the
// train task after all of them; the Indexed Job's count matches its
// completions.
func TestDeploySpecs(t *testing.T) {
	var job struct {
		Tasks []struct {
			Key       string `json:"task_key"`
			DependsOn []struct {
				Key string `json:"task_key"`
			} `json:"depends_on"`
			Python struct {
				Parameters []string `json:"parameters"`
			} `json:"spark_python_task"`
		} `json:"tasks"`
	}
	b, err := os.ReadFile("deploy/databricks-job.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &job); err != nil {
		t.Fatal(err)
	}
	shards := map[string]bool{}
	var deps int
	for _, task := range job.Tasks {
		p := strings.Join(task.Python.Parameters, " ")
		if strings.HasPrefix(p, "featurize ") {
			i := strings.Index(p, "--shard ")
			shards[strings.Fields(p[i:])[1]] = true
		}
		if task.Key == "train" {
			deps = len(task.DependsOn)
		}
	}
	for i := 0; i < len(shards); i++ {
		if !shards[fmt.Sprintf("%d/%d", i, len(shards))] {
			t.Errorf("shard %d/%d has no task: %v", i, len(shards), shards)
		}
	}
	if deps != len(shards) || len(shards) == 0 {
		t.Errorf("train depends on %d tasks, %d shards", deps, len(shards))
	}

	var k8s struct {
		Spec struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int    `yaml:"completions"`
			Template       struct {
				Spec struct {
					Containers []struct {
						Env []struct{ Name, Value string } `yaml:"env"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	b, _ = os.ReadFile("deploy/kubernetes-indexed-job.yaml")
	if err := yaml.Unmarshal(b, &k8s); err != nil {
		t.Fatal(err)
	}
	count := ""
	for _, e := range k8s.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "JOB_COMPLETION_COUNT" {
			count = e.Value
		}
	}
	if k8s.Spec.CompletionMode != "Indexed" || count != fmt.Sprint(k8s.Spec.Completions) {
		t.Errorf("completion mode %q, JOB_COMPLETION_COUNT %q, completions %d", k8s.Spec.CompletionMode, count, k8s.Spec.Completions)
	}
}
