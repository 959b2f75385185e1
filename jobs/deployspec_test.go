package jobs

// Structural checkers for the deployment specs in jobs/deploy: no network,
// no kubectl, no Databricks CLI. Each spec is decoded into the subset of its
// API's types that the spec uses, with unknown fields refused (a misspelt
// field is an error, not silently ignored), then checked against the API's
// rules for those fields and against what featurizer needs from them.
//
// Databricks: the Jobs API 2.1 create request as the Databricks SDK models
// it (jobs.CreateJob, JobCluster, Task, TaskDependency, SparkPythonTask,
// PythonWheelTask, JobParameterDefinition, compute.ClusterSpec, DockerImage).
// Kubernetes: batch/v1 Job and core/v1 PersistentVolumeClaim.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ---- Databricks Jobs API 2.1 ----------------------------------------------

type dbJob struct {
	Name              string            `json:"name"`
	Description       string            `json:"description"`
	MaxConcurrentRuns *int              `json:"max_concurrent_runs"`
	TimeoutSeconds    *int              `json:"timeout_seconds"`
	Tags              map[string]string `json:"tags"`
	Format            string            `json:"format"`
	Parameters        []dbParam         `json:"parameters"`
	JobClusters       []dbJobCluster    `json:"job_clusters"`
	Tasks             []dbTask          `json:"tasks"`
	GitSource         *dbGitSource      `json:"git_source"`
}

type dbGitSource struct {
	GitURL      string `json:"git_url"`
	GitProvider string `json:"git_provider"`
	GitBranch   string `json:"git_branch"`
	GitTag      string `json:"git_tag"`
	GitCommit   string `json:"git_commit"`
}

// dbParam is a JobParameterDefinition: name and default are both required.
type dbParam struct {
	Name    string  `json:"name"`
	Default *string `json:"default"`
}

type dbJobCluster struct {
	Key        string     `json:"job_cluster_key"`
	NewCluster *dbCluster `json:"new_cluster"`
}

// dbCluster is compute.ClusterSpec, the fields a job cluster uses here.
type dbCluster struct {
	SparkVersion           string            `json:"spark_version"`
	NodeTypeID             string            `json:"node_type_id"`
	DriverNodeTypeID       string            `json:"driver_node_type_id"`
	InstancePoolID         string            `json:"instance_pool_id"`
	PolicyID               string            `json:"policy_id"`
	NumWorkers             *int              `json:"num_workers"`
	Autoscale              *dbAutoscale      `json:"autoscale"`
	DataSecurityMode       string            `json:"data_security_mode"`
	SingleUserName         string            `json:"single_user_name"`
	RuntimeEngine          string            `json:"runtime_engine"`
	SparkConf              map[string]string `json:"spark_conf"`
	SparkEnvVars           map[string]string `json:"spark_env_vars"`
	CustomTags             map[string]string `json:"custom_tags"`
	AutoterminationMinutes *int              `json:"autotermination_minutes"`
	DockerImage            *dbDockerImage    `json:"docker_image"`
}

type dbAutoscale struct {
	MinWorkers int `json:"min_workers"`
	MaxWorkers int `json:"max_workers"`
}

type dbDockerImage struct {
	URL       string `json:"url"`
	BasicAuth *struct {
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"basic_auth"`
}

type dbTask struct {
	TaskKey                string             `json:"task_key"`
	Description            string             `json:"description"`
	DependsOn              []dbTaskDependency `json:"depends_on"`
	RunIf                  string             `json:"run_if"`
	JobClusterKey          string             `json:"job_cluster_key"`
	ExistingClusterID      string             `json:"existing_cluster_id"`
	NewCluster             *dbCluster         `json:"new_cluster"`
	SparkPythonTask        *dbSparkPython     `json:"spark_python_task"`
	PythonWheelTask        *dbPythonWheel     `json:"python_wheel_task"`
	MaxRetries             *int               `json:"max_retries"`
	MinRetryIntervalMillis *int               `json:"min_retry_interval_millis"`
	RetryOnTimeout         *bool              `json:"retry_on_timeout"`
	TimeoutSeconds         *int               `json:"timeout_seconds"`
}

type dbTaskDependency struct {
	TaskKey string `json:"task_key"`
	Outcome string `json:"outcome"`
}

type dbSparkPython struct {
	PythonFile string   `json:"python_file"`
	Parameters []string `json:"parameters"`
	Source     string   `json:"source"`
}

type dbPythonWheel struct {
	PackageName     string            `json:"package_name"`
	EntryPoint      string            `json:"entry_point"`
	Parameters      []string          `json:"parameters"`
	NamedParameters map[string]string `json:"named_parameters"`
}

// Enumerations of the API (the SDK's DataSecurityMode, Source and
// TaskDependencyType / run_if).
var (
	dbSecurityModes = set("NONE", "SINGLE_USER", "USER_ISOLATION", "LEGACY_TABLE_ACL", "LEGACY_PASSTHROUGH",
		"LEGACY_SINGLE_USER", "LEGACY_SINGLE_USER_STANDARD", "DATA_SECURITY_MODE_STANDARD",
		"DATA_SECURITY_MODE_DEDICATED", "DATA_SECURITY_MODE_AUTO")
	dbSources   = set("WORKSPACE", "GIT")
	dbRunIf     = set("ALL_SUCCESS", "ALL_DONE", "NONE_FAILED", "AT_LEAST_ONE_SUCCESS", "ALL_FAILED", "AT_LEAST_ONE_FAILED")
	dbTaskKeyRe = regexp.MustCompile(`^[\w\-]+$`)
	dbRefRe     = regexp.MustCompile(`\{\{\s*([^}]*?)\s*\}\}`)
	dbURIRe     = regexp.MustCompile(`^[a-z0-9]+:/`)
	// GPU instance families: Azure N-series, AWS g*/p*, GCP a2/a3/g2.
	dbGPUNodeRe = regexp.MustCompile(`^(Standard_N[CDV]|(g[3-6]|p[2-5])[a-z]*\.|(a2|a3|g2)-)`)
)

func set(v ...string) map[string]bool {
	m := map[string]bool{}
	for _, s := range v {
		m[s] = true
	}
	return m
}

// checkDatabricksJob returns every problem found in a Jobs API 2.1 create
// request, or nil.
func checkDatabricksJob(b []byte) []error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var job dbJob
	if err := dec.Decode(&job); err != nil {
		return []error{fmt.Errorf("not a Jobs API 2.1 create request: %v", err)}
	}
	if job.Name == "" {
		bad("name: empty")
	}
	params := map[string]string{}
	for i, p := range job.Parameters {
		switch {
		case p.Name == "":
			bad("parameters[%d]: name is required", i)
		case p.Default == nil:
			bad("parameters[%d] (%s): default is required", i, p.Name)
		case params[p.Name] != "":
			bad("parameters[%d]: %s defined twice", i, p.Name)
		default:
			params[p.Name] = *p.Default
		}
	}
	clusters := map[string]*dbCluster{}
	for i, c := range job.JobClusters {
		if c.Key == "" {
			bad("job_clusters[%d]: job_cluster_key is required", i)
			continue
		}
		if clusters[c.Key] != nil {
			bad("job_clusters[%d]: job_cluster_key %s defined twice", i, c.Key)
		}
		if c.NewCluster == nil {
			bad("job_clusters[%d] (%s): new_cluster is required", i, c.Key)
			continue
		}
		clusters[c.Key] = c.NewCluster
		for _, e := range checkDBCluster(c.NewCluster) {
			bad("job cluster %s: %v", c.Key, e)
		}
	}

	tasks := map[string]*dbTask{}
	for i := range job.Tasks {
		t := &job.Tasks[i]
		switch {
		case t.TaskKey == "":
			bad("tasks[%d]: task_key is required", i)
			continue
		case len(t.TaskKey) > 100 || !dbTaskKeyRe.MatchString(t.TaskKey):
			bad("tasks[%d]: task_key %q: expected 1-100 of [A-Za-z0-9_-]", i, t.TaskKey)
		case tasks[t.TaskKey] != nil:
			bad("tasks[%d]: task_key %s defined twice", i, t.TaskKey)
		}
		tasks[t.TaskKey] = t
	}
	if len(tasks) == 0 {
		bad("tasks: none")
	}
	used := map[string]bool{}
	for _, t := range job.Tasks {
		if t.TaskKey == "" {
			continue
		}
		where := "task " + t.TaskKey
		for _, d := range t.DependsOn {
			if tasks[d.TaskKey] == nil || d.TaskKey == t.TaskKey {
				bad("%s: depends_on %q: no such other task", where, d.TaskKey)
			}
		}
		if t.RunIf != "" && !dbRunIf[t.RunIf] {
			bad("%s: run_if %q: not one of the API's values", where, t.RunIf)
		}
		compute := 0
		for _, set := range []bool{t.JobClusterKey != "", t.ExistingClusterID != "", t.NewCluster != nil} {
			if set {
				compute++
			}
		}
		if compute != 1 {
			bad("%s: expected exactly one of job_cluster_key, existing_cluster_id, new_cluster; got %d", where, compute)
		}
		if t.JobClusterKey != "" {
			if clusters[t.JobClusterKey] == nil {
				bad("%s: job_cluster_key %q: no such job cluster", where, t.JobClusterKey)
			}
			used[t.JobClusterKey] = true
		}
		if t.NewCluster != nil {
			for _, e := range checkDBCluster(t.NewCluster) {
				bad("%s: new_cluster: %v", where, e)
			}
		}
		var args []string
		switch {
		case t.SparkPythonTask != nil && t.PythonWheelTask != nil:
			bad("%s: more than one task type", where)
		case t.SparkPythonTask != nil:
			p := t.SparkPythonTask
			args = p.Parameters
			if p.PythonFile == "" {
				bad("%s: spark_python_task.python_file is required", where)
			}
			if p.Source != "" && !dbSources[p.Source] {
				bad("%s: spark_python_task.source %q: expected WORKSPACE or GIT", where, p.Source)
			}
			if p.Source == "GIT" {
				if job.GitSource == nil {
					bad("%s: source GIT without the job's git_source", where)
				}
				if strings.HasPrefix(p.PythonFile, "/") {
					bad("%s: python_file %q: a file in a Git repository is a relative path", where, p.PythonFile)
				}
			} else {
				f := p.PythonFile
				// The DBFS root (dbfs:/ and its /dbfs FUSE view) is deprecated
				// for code; a workspace file is an absolute /Workspace path.
				if strings.HasPrefix(f, "dbfs:") || strings.HasPrefix(f, "/dbfs/") {
					bad("%s: python_file %q is in the deprecated DBFS root: use a workspace file (/Workspace/...)", where, f)
				} else if !strings.HasPrefix(f, "/") && !dbURIRe.MatchString(f) {
					bad("%s: python_file %q: a workspace file is an absolute path", where, f)
				}
			}
		case t.PythonWheelTask != nil:
			args = t.PythonWheelTask.Parameters
			if t.PythonWheelTask.PackageName == "" || t.PythonWheelTask.EntryPoint == "" {
				bad("%s: python_wheel_task: package_name and entry_point are required", where)
			}
		default:
			bad("%s: no task type (spark_python_task or python_wheel_task)", where)
		}
		for _, a := range args {
			for _, m := range dbRefRe.FindAllStringSubmatch(a, -1) {
				if name, ok := strings.CutPrefix(m[1], "job.parameters."); ok {
					if _, def := params[name]; !def {
						bad("%s: %s refers to undefined job parameter %q", where, m[0], name)
					}
				}
			}
		}
	}
	if cyc := dbCycle(tasks); cyc != "" {
		bad("depends_on has a cycle through %s", cyc)
	}
	if len(errs) > 0 {
		return errs // the featurizer checks below assume a well-formed job
	}
	errs = checkDBFeaturizer(&job, params, clusters, tasks)
	for _, k := range sortedKeys(clusters) {
		if !used[k] {
			bad("job cluster %s: no task uses it", k)
		}
	}
	return errs
}

func checkDBCluster(c *dbCluster) []error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	if c.SparkVersion == "" {
		bad("spark_version is required")
	}
	if c.NodeTypeID == "" && c.InstancePoolID == "" && c.PolicyID == "" {
		bad("node_type_id (or instance_pool_id) is required")
	}
	if (c.NumWorkers == nil) == (c.Autoscale == nil) {
		bad("expected exactly one of num_workers and autoscale")
	}
	if c.DataSecurityMode != "" && !dbSecurityModes[c.DataSecurityMode] {
		bad("data_security_mode %q: not one of the API's values", c.DataSecurityMode)
	}
	if c.DockerImage != nil && c.DockerImage.URL == "" {
		bad("docker_image.url is required")
	}
	// A single-node cluster is num_workers 0 with Databricks' single-node
	// profile, a local master and the SingleNode resource class.
	if c.NumWorkers != nil && *c.NumWorkers == 0 {
		if c.SparkConf["spark.databricks.cluster.profile"] != "singleNode" ||
			!strings.HasPrefix(c.SparkConf["spark.master"], "local[") || c.CustomTags["ResourceClass"] != "SingleNode" {
			bad("num_workers 0 needs spark.databricks.cluster.profile singleNode, spark.master local[...] and custom_tags.ResourceClass SingleNode")
		}
	}
	return errs
}

// dbCycle returns a task on a depends_on cycle, or "".
func dbCycle(tasks map[string]*dbTask) string {
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(k string) string
	visit = func(k string) string {
		switch state[k] {
		case 1:
			return k
		case 2:
			return ""
		}
		state[k] = 1
		if t := tasks[k]; t != nil {
			for _, d := range t.DependsOn {
				if c := visit(d.TaskKey); c != "" {
					return c
				}
			}
		}
		state[k] = 2
		return ""
	}
	keys := make([]string, 0, len(tasks))
	for k := range tasks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if c := visit(k); c != "" {
			return c
		}
	}
	return ""
}

// flagValue returns the value of --name in args ("" and false when absent).
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// checkDBFeaturizer checks what featurizer needs of a well-formed job.
func checkDBFeaturizer(job *dbJob, params map[string]string, clusters map[string]*dbCluster, tasks map[string]*dbTask) []error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	resolve := func(s string) string {
		return dbRefRe.ReplaceAllStringFunc(s, func(m string) string {
			name, _ := strings.CutPrefix(dbRefRe.FindStringSubmatch(m)[1], "job.parameters.")
			return params[name]
		})
	}
	type shardTask struct {
		key, cluster string
		i, n         int
	}
	writers := map[string][]shardTask{} // featurize tasks by output table
	for _, k := range sortedKeys(tasks) {
		t := tasks[k]
		var args []string
		if t.SparkPythonTask != nil {
			args = t.SparkPythonTask.Parameters
		} else {
			args = t.PythonWheelTask.Parameters
		}
		if len(args) == 0 {
			bad("task %s: no featurizer command in its parameters", k)
			continue
		}
		c := clusters[t.JobClusterKey]
		if c == nil {
			c = t.NewCluster
		}
		if c == nil {
			continue // an existing cluster: nothing known about it
		}
		if c.DockerImage != nil {
			// Unity Catalog volumes reach a container only with this conf,
			// on a cluster in the dedicated (single user) access mode.
			if c.SparkConf["spark.databricks.unityCatalog.volumes.enabled"] != "true" {
				bad("task %s: its cluster runs a container without spark.databricks.unityCatalog.volumes.enabled true: /Volumes is not there", k)
			}
			if m := c.DataSecurityMode; m != "SINGLE_USER" && m != "DATA_SECURITY_MODE_DEDICATED" {
				bad("task %s: its cluster runs a container in access mode %q: Databricks Container Services with Unity Catalog needs SINGLE_USER", k, m)
			}
		}
		gpu := dbGPUNodeRe.MatchString(c.NodeTypeID)
		if c.DockerImage != nil && strings.Contains(strings.ToLower(c.DockerImage.URL), "gpu") != gpu {
			bad("task %s: node %s (GPU: %v) with image %s", k, c.NodeTypeID, gpu, c.DockerImage.URL)
		}
		dev, _ := flagValue(args, "--device")
		cmd := args[0]
		if cmd == "featurize" || cmd == "predict" || cmd == "run" {
			if gpu && dev != "cuda" && dev != "tensorrt" {
				bad("task %s: runs %s on a GPU node (%s) without --device cuda", k, cmd, c.NodeTypeID)
			}
			if !gpu && (dev == "cuda" || dev == "tensorrt") {
				bad("task %s: --device %s on a node without a GPU (%s)", k, dev, c.NodeTypeID)
			}
		}
		for _, f := range []string{"--input", "--output", "--features", "--validation", "--test", "--models-dir"} {
			if v, ok := flagValue(args, f); ok {
				if p := resolve(v); !strings.HasPrefix(p, "/Volumes/") && !strings.Contains(p, "://") {
					bad("task %s: %s %q: expected a Unity Catalog volume path (/Volumes/...) or a bucket URL", k, f, p)
				}
			}
		}
		if cmd == "featurize" {
			out, _ := flagValue(args, "--output")
			st := shardTask{key: k, cluster: t.JobClusterKey, n: 1}
			if s, ok := flagValue(args, "--shard"); ok {
				a, b, _ := strings.Cut(s, "/")
				var e1, e2 error
				st.i, e1 = strconv.Atoi(a)
				st.n, e2 = strconv.Atoi(b)
				if e1 != nil || e2 != nil || st.n < 1 || st.i < 0 || st.i >= st.n {
					bad("task %s: --shard %q: expected i/n", k, s)
					continue
				}
			}
			writers[resolve(out)] = append(writers[resolve(out)], st)
		}
	}
	for _, out := range sortedKeys(writers) {
		ws := writers[out]
		n := ws[0].n
		seen := map[int]bool{}
		onCluster := map[string]string{}
		for _, w := range ws {
			if w.n != n {
				bad("output %s: shards of %d and %d processes", out, n, w.n)
			}
			if seen[w.i] {
				bad("output %s: shard %d/%d twice", out, w.i, n)
			}
			seen[w.i] = true
			// Shards exist to add machines: two on one cluster share its
			// cores and its GPU and gain nothing.
			if other, ok := onCluster[w.cluster]; ok && w.cluster != "" {
				bad("output %s: tasks %s and %s share job cluster %s: give each shard its own cluster (or run one unsharded task)", out, other, w.key, w.cluster)
			}
			onCluster[w.cluster] = w.key
		}
		if len(ws) != n {
			bad("output %s: %d featurize tasks for %d shards", out, len(ws), n)
		}
		// Whoever reads the table waits for every shard.
		for _, k := range sortedKeys(tasks) {
			t := tasks[k]
			var args []string
			if t.SparkPythonTask != nil {
				args = t.SparkPythonTask.Parameters
			} else if t.PythonWheelTask != nil {
				args = t.PythonWheelTask.Parameters
			}
			if len(args) == 0 || args[0] == "featurize" {
				continue
			}
			for _, f := range []string{"--features", "--validation", "--test"} {
				if v, ok := flagValue(args, f); ok && resolve(v) == out {
					for _, w := range ws {
						if !dbDependsOn(tasks, k, w.key) {
							bad("task %s reads %s before task %s has written its shard: add it to depends_on", k, out, w.key)
						}
					}
				}
			}
		}
	}
	return errs
}

func dbDependsOn(tasks map[string]*dbTask, from, to string) bool {
	for _, d := range tasks[from].DependsOn {
		if d.TaskKey == to || dbDependsOn(tasks, d.TaskKey, to) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ---- Kubernetes batch/v1 Job ------------------------------------------------

type k8sMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type k8sPVC struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Metadata   k8sMeta `yaml:"metadata"`
	Spec       struct {
		AccessModes      []string `yaml:"accessModes"`
		StorageClassName *string  `yaml:"storageClassName"`
		VolumeMode       string   `yaml:"volumeMode"`
		Resources        struct {
			Requests map[string]string `yaml:"requests"`
		} `yaml:"resources"`
	} `yaml:"spec"`
}

type k8sJob struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Metadata   k8sMeta `yaml:"metadata"`
	Spec       struct {
		CompletionMode          string `yaml:"completionMode"`
		Completions             *int   `yaml:"completions"`
		Parallelism             *int   `yaml:"parallelism"`
		BackoffLimit            *int   `yaml:"backoffLimit"`
		BackoffLimitPerIndex    *int   `yaml:"backoffLimitPerIndex"`
		MaxFailedIndexes        *int   `yaml:"maxFailedIndexes"`
		ActiveDeadlineSeconds   *int   `yaml:"activeDeadlineSeconds"`
		TTLSecondsAfterFinished *int   `yaml:"ttlSecondsAfterFinished"`
		PodFailurePolicy        *struct {
			Rules []struct {
				Action      string `yaml:"action"`
				OnExitCodes *struct {
					ContainerName string `yaml:"containerName"`
					Operator      string `yaml:"operator"`
					Values        []int  `yaml:"values"`
				} `yaml:"onExitCodes"`
				OnPodConditions []struct {
					Type   string `yaml:"type"`
					Status string `yaml:"status"`
				} `yaml:"onPodConditions"`
			} `yaml:"rules"`
		} `yaml:"podFailurePolicy"`
		Template struct {
			Metadata k8sMeta `yaml:"metadata"`
			Spec     k8sPod  `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sPod struct {
	RestartPolicy      string            `yaml:"restartPolicy"`
	ServiceAccountName string            `yaml:"serviceAccountName"`
	NodeSelector       map[string]string `yaml:"nodeSelector"`
	SecurityContext    struct {
		RunAsNonRoot        *bool  `yaml:"runAsNonRoot"`
		RunAsUser           *int   `yaml:"runAsUser"`
		RunAsGroup          *int   `yaml:"runAsGroup"`
		FSGroup             *int   `yaml:"fsGroup"`
		FSGroupChangePolicy string `yaml:"fsGroupChangePolicy"`
	} `yaml:"securityContext"`
	Tolerations []struct {
		Key      string `yaml:"key"`
		Operator string `yaml:"operator"`
		Value    string `yaml:"value"`
		Effect   string `yaml:"effect"`
	} `yaml:"tolerations"`
	Containers []k8sContainer `yaml:"containers"`
	Volumes    []struct {
		Name                  string `yaml:"name"`
		PersistentVolumeClaim *struct {
			ClaimName string `yaml:"claimName"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"persistentVolumeClaim"`
		EmptyDir *struct {
			Medium    string `yaml:"medium"`
			SizeLimit string `yaml:"sizeLimit"`
		} `yaml:"emptyDir"`
	} `yaml:"volumes"`
}

type k8sContainer struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Resources struct {
		Limits   map[string]string `yaml:"limits"`
		Requests map[string]string `yaml:"requests"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
		SubPath   string `yaml:"subPath"`
	} `yaml:"volumeMounts"`
}

var (
	k8sDNSLabel    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	k8sAccessModes = set("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
	k8sPFPActions  = set("FailJob", "FailIndex", "Ignore", "Count")
)

// k8sCPU parses a CPU quantity ("8", "500m", "1.5") into millicores.
func k8sCPU(q string) (int, error) {
	if m, ok := strings.CutSuffix(q, "m"); ok {
		return strconv.Atoi(m)
	}
	f, err := strconv.ParseFloat(q, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("cpu quantity %q", q)
	}
	return int(f * 1000), nil
}

// checkKubernetesJob returns every problem found in a multi-document
// manifest holding one batch/v1 Job (and the claims it mounts), or nil.
// imageUID is the uid the image runs as (the Dockerfile's useradd).
func checkKubernetesJob(b []byte, imageUID int) []error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	var jobs []k8sJob
	pvcs := map[string]k8sPVC{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for i := 0; ; i++ {
		var node yaml.Node
		if err := dec.Decode(&node); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return []error{fmt.Errorf("document %d: %v", i, err)}
		}
		var head struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
		}
		node.Decode(&head)
		// Decode again with unknown fields refused.
		raw, _ := yaml.Marshal(&node)
		strict := yaml.NewDecoder(bytes.NewReader(raw))
		strict.KnownFields(true)
		switch head.APIVersion + " " + head.Kind {
		case "batch/v1 Job":
			var j k8sJob
			if err := strict.Decode(&j); err != nil {
				return []error{fmt.Errorf("document %d (Job): %v", i, err)}
			}
			jobs = append(jobs, j)
		case "v1 PersistentVolumeClaim":
			var p k8sPVC
			if err := strict.Decode(&p); err != nil {
				return []error{fmt.Errorf("document %d (PersistentVolumeClaim): %v", i, err)}
			}
			for _, m := range p.Spec.AccessModes {
				if !k8sAccessModes[m] {
					bad("claim %s: access mode %q", p.Metadata.Name, m)
				}
			}
			if len(p.Spec.AccessModes) == 0 || p.Spec.Resources.Requests["storage"] == "" {
				bad("claim %s: accessModes and resources.requests.storage are required", p.Metadata.Name)
			}
			pvcs[p.Metadata.Name] = p
		default:
			bad("document %d: unexpected %s %s", i, head.APIVersion, head.Kind)
		}
	}
	if len(jobs) != 1 {
		return append(errs, fmt.Errorf("expected one batch/v1 Job, found %d", len(jobs)))
	}
	j := jobs[0]
	s := &j.Spec
	pod := &s.Template.Spec
	if !k8sDNSLabel.MatchString(j.Metadata.Name) || len(j.Metadata.Name) > 63 {
		bad("metadata.name %q: expected a DNS-1123 label", j.Metadata.Name)
	}
	if s.CompletionMode != "Indexed" {
		bad("spec.completionMode %q: shards come from JOB_COMPLETION_INDEX, set only in Indexed mode", s.CompletionMode)
	}
	if s.Completions == nil || *s.Completions < 1 {
		bad("spec.completions: expected the number of shards")
	}
	if s.BackoffLimitPerIndex != nil && s.CompletionMode != "Indexed" {
		bad("spec.backoffLimitPerIndex needs completionMode Indexed")
	}
	if pod.RestartPolicy != "Never" && pod.RestartPolicy != "OnFailure" {
		bad("template restartPolicy %q: a Job's pods need Never or OnFailure", pod.RestartPolicy)
	}
	if (s.PodFailurePolicy != nil || s.BackoffLimitPerIndex != nil) && pod.RestartPolicy != "Never" {
		bad("podFailurePolicy and backoffLimitPerIndex need restartPolicy Never")
	}
	if len(pod.Containers) != 1 {
		return append(errs, fmt.Errorf("expected one container, found %d", len(pod.Containers)))
	}
	c := &pod.Containers[0]
	if s.PodFailurePolicy != nil {
		for i, r := range s.PodFailurePolicy.Rules {
			if !k8sPFPActions[r.Action] {
				bad("podFailurePolicy.rules[%d].action %q", i, r.Action)
			}
			if r.Action == "FailIndex" && s.BackoffLimitPerIndex == nil {
				bad("podFailurePolicy.rules[%d]: FailIndex needs backoffLimitPerIndex", i)
			}
			if (r.OnExitCodes == nil) == (len(r.OnPodConditions) == 0) {
				bad("podFailurePolicy.rules[%d]: expected exactly one of onExitCodes and onPodConditions", i)
			}
			if e := r.OnExitCodes; e != nil {
				if e.Operator != "In" && e.Operator != "NotIn" || len(e.Values) == 0 {
					bad("podFailurePolicy.rules[%d].onExitCodes: operator In or NotIn with values", i)
				}
				if e.ContainerName != "" && e.ContainerName != c.Name {
					bad("podFailurePolicy.rules[%d].onExitCodes.containerName %q: no such container", i, e.ContainerName)
				}
			}
		}
	}
	if !k8sDNSLabel.MatchString(c.Name) || c.Image == "" {
		bad("container: a DNS-1123 name and an image are required")
	}
	volumes := map[string]int{}
	for i, v := range pod.Volumes {
		if (v.PersistentVolumeClaim == nil) == (v.EmptyDir == nil) {
			bad("volume %s: expected exactly one source", v.Name)
		}
		volumes[v.Name] = i
	}
	for _, m := range c.VolumeMounts {
		if _, ok := volumes[m.Name]; !ok {
			bad("volumeMount %s: no such volume", m.Name)
		}
	}
	// Extended resources cannot be overcommitted: a request equals the limit.
	for r, v := range c.Resources.Requests {
		if strings.Contains(r, "/") && c.Resources.Limits[r] != v {
			bad("resources: %s requested %s but limited to %q", r, v, c.Resources.Limits[r])
		}
	}
	if len(errs) > 0 {
		return errs
	}

	// What featurizer needs.
	args := c.Args
	if len(c.Command) > 0 {
		args = append(append([]string{}, c.Command[1:]...), args...)
	}
	if len(args) == 0 || args[0] != "featurize" {
		bad("container args: expected featurize ..., got %q", args)
		return errs
	}
	count := ""
	for _, e := range c.Env {
		if e.Name == "JOB_COMPLETION_COUNT" {
			count = e.Value
		}
	}
	if s.Completions != nil && count != strconv.Itoa(*s.Completions) {
		bad("env JOB_COMPLETION_COUNT %q != completions %d: shards would not cover the input", count, *s.Completions)
	}
	gpus := c.Resources.Limits["nvidia.com/gpu"]
	dev, _ := flagValue(args, "--device")
	if gpus != "" && gpus != "0" && dev != "cuda" && dev != "tensorrt" {
		bad("limits nvidia.com/gpu %s but args without --device cuda: the GPU would sit idle", gpus)
	}
	if (gpus == "" || gpus == "0") && (dev == "cuda" || dev == "tensorrt") {
		bad("--device %s without an nvidia.com/gpu limit: the pod gets no GPU", dev)
	}
	cpu := c.Resources.Limits["cpu"]
	if cpu == "" {
		bad("limits.cpu: required, to size --workers and --threads")
	} else if mc, err := k8sCPU(cpu); err != nil {
		bad("limits.cpu: %v", err)
	} else {
		cores := strconv.Itoa(max(1, mc/1000))
		for _, f := range []string{"--workers", "--threads"} {
			// The defaults are the node's cores, not the pod's limit.
			if v, _ := flagValue(args, f); v != cores {
				bad("%s %q: expected the CPU limit, %s (the default is the node's core count)", f, v, cores)
			}
		}
		if req := c.Resources.Requests["cpu"]; req != "" && req != cpu {
			bad("requests.cpu %s != limits.cpu %s", req, cpu)
		}
	}
	sc := pod.SecurityContext
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != imageUID {
		bad("securityContext: runAsNonRoot true and runAsUser %d (the image's user)", imageUID)
	}
	if sc.FSGroup == nil {
		bad("securityContext.fsGroup: required, so that uid %d can write the volumes", imageUID)
	}
	parallel := 1
	if s.Parallelism != nil {
		parallel = *s.Parallelism
	}
	for _, f := range []string{"--input", "--output"} {
		p, ok := flagValue(args, f)
		if !ok {
			bad("args: %s is required", f)
			continue
		}
		var mount string
		var ro bool
		var vol string
		for _, m := range c.VolumeMounts {
			if (p == m.MountPath || strings.HasPrefix(p, strings.TrimSuffix(m.MountPath, "/")+"/")) && len(m.MountPath) > len(mount) {
				mount, ro, vol = m.MountPath, m.ReadOnly, m.Name
			}
		}
		if mount == "" {
			bad("%s %s: on no mounted volume", f, p)
			continue
		}
		if f != "--output" {
			continue
		}
		v := pod.Volumes[volumes[vol]]
		if ro || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ReadOnly {
			bad("--output %s: on volume %s, which is not a writable persistent volume claim", p, vol)
			continue
		}
		if claim, ok := pvcs[v.PersistentVolumeClaim.ClaimName]; ok && parallel > 1 &&
			!set(claim.Spec.AccessModes...)["ReadWriteMany"] {
			bad("--output %s: claim %s is %v: %d pods on several nodes write it, it needs ReadWriteMany", p, claim.Metadata.Name, claim.Spec.AccessModes, parallel)
		}
	}
	return errs
}
