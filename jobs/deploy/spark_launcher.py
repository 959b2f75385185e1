"""Run featurizer on an existing Spark cluster: one shard per Spark task.

    spark-submit --archives featurizer.tar.gz#featurizer \\
        jobs/deploy/spark_launcher.py --shards 8 --task-cpus 4 [--gpus-per-task 1] -- \\
        featurize --backbone mobilenetv2 --input /dbfs/images --output /dbfs/features

Task i of n runs `featurizer ARGS --shard i/n --progress log`; the shards
write their own parts into the same output and the last to finish writes the
manifest and _SUCCESS (see the README: the union of the shards is the
unsharded table, row for row).

- Resources: with --task-cpus C (and --gpus-per-task G) the stage runs under
  a stage-level ResourceProfile asking C cores (and G GPUs) per task, on
  Standalone, YARN and Kubernetes (task-only profile without dynamic
  allocation, Spark 3.4+/3.5+; executors of that shape with it). Each shard
  gets `--workers C --threads C` from the cores its task holds (unless ARGS
  set them) and, with GPUs, `--device cuda --device-id ADDRESS` from the GPU
  Spark assigned to the task (TaskContext.resources()). In local mode
  (local[N]) --task-cpus sets spark.task.cpus and GPUs are refused: local
  mode assigns no task resources.
- The binary: shipped with the job (`--archives featurizer.tar.gz#featurizer`,
  an archive holding `featurizer` or `bin/featurizer`, and optionally
  `libonnxruntime.so.1`, which then becomes FEATURIZER_ORT_LIB; or `--files
  /path/to/featurizer`), else `--binary` (default `featurizer`) on the
  executors' PATH (a container image or an init script).
- Logs: each shard's stdout and stderr are streamed line by line, as they
  come, to the executor's stderr (prefixed `[featurizer i/n]`); the driver
  prints each shard's summary line and time when the job ends.
- Speculation is switched off for the job (two copies of one shard would
  write the same parts); a running SparkContext with it on is refused.
- A shard that fails fails its task with its exit code and the last lines
  of its stderr; Spark retries the task (spark.task.maxFailures), and the
  retry resumes from the parts the shard committed. When a task's retries
  are spent the Spark job fails, and so does this script (exit 1).

Exit codes: 0 done, 1 the Spark job failed, 2 bad arguments or settings.
"""
import argparse
import collections
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

TAIL_LINES = 40


def flag_given(args, name):
    return any(a == name or a.startswith(name + "=") for a in args)


def parse(argv):
    ap = argparse.ArgumentParser(prog="spark_launcher.py", description="featurizer on Spark: one shard per task")
    ap.add_argument("--shards", type=int, required=True, help="number of shards (Spark tasks)")
    ap.add_argument("--task-cpus", type=int, default=0,
                    help="cores per shard task (a stage-level ResourceProfile); default spark.task.cpus")
    ap.add_argument("--gpus-per-task", type=float, default=0,
                    help="GPUs per shard task, 0 < G <= 1 (a fraction shares a GPU); passes --device cuda --device-id")
    ap.add_argument("--binary", default="featurizer",
                    help="the featurizer binary: name of a file or archive shipped with the job, or a command on PATH")
    ap.add_argument("featurizer_args", nargs=argparse.REMAINDER, help="-- then featurize/predict and its flags")
    a = ap.parse_args(argv)
    args = a.featurizer_args[1:] if a.featurizer_args[:1] == ["--"] else a.featurizer_args
    if a.shards < 1:
        ap.error("--shards: expected a positive integer, got %d" % a.shards)
    if a.task_cpus < 0:
        ap.error("--task-cpus: expected a positive integer, got %d" % a.task_cpus)
    if not (0 <= a.gpus_per_task <= 1):
        ap.error("--gpus-per-task: expected a number in (0, 1], got %g" % a.gpus_per_task)
    if not args or args[0] not in ("featurize", "predict"):
        ap.error("after --: expected featurize or predict and its flags, got %r" % " ".join(args))
    if flag_given(args, "--shard"):
        ap.error("--shard: set by the launcher (one per task), leave it out of the featurizer arguments")
    if a.gpus_per_task and flag_given(args, "--device-id"):
        ap.error("--device-id: set by the launcher from the task's GPU with --gpus-per-task, leave it out")
    a.featurizer_args = args
    return a


def find_binary(name):
    """The featurizer executable on this executor, and the environment it
    needs: a file or an unpacked archive shipped with the job, else PATH."""
    from pyspark import SparkFiles
    env = dict(os.environ)
    base = os.path.basename(name)
    candidates = []
    for root in (SparkFiles.getRootDirectory(), os.getcwd()):  # local/standalone; YARN and k8s unpack in the cwd
        shipped = os.path.join(root, base)
        if os.path.isfile(shipped):
            candidates.append((shipped, None))
        elif os.path.isdir(shipped):
            for rel in ("featurizer", os.path.join("bin", "featurizer")):
                candidates.append((os.path.join(shipped, rel), shipped))
    for path, archive in candidates:
        if os.path.isfile(path):
            if not os.access(path, os.X_OK):
                os.chmod(path, 0o755)
            if archive and "FEATURIZER_ORT_LIB" not in env:
                for rel in ("libonnxruntime.so.1", os.path.join("lib", "libonnxruntime.so.1")):
                    if os.path.isfile(os.path.join(archive, rel)):
                        env["FEATURIZER_ORT_LIB"] = os.path.join(archive, rel)
                        break
            return path, env
    found = shutil.which(name)
    if found:
        return found, env
    raise RuntimeError("featurizer binary %r: not shipped with the job (--archives featurizer.tar.gz#%s or --files) "
                       "and not on the executor's PATH" % (name, base))


def die_with_parent():
    """In the child: SIGTERM when the Python worker that started it dies
    (a cancelled Spark task kills the worker; featurizer then stops after
    its running batch, as on Ctrl-C, and its rerun resumes)."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def run_shard(opts, n):
    def task(index, _rows):
        from pyspark import TaskContext
        ctx = TaskContext.get()
        binary, env = find_binary(opts.binary)
        args = list(opts.featurizer_args)
        cpus = ctx.cpus() if ctx is not None else 1
        if not flag_given(args, "--workers"):
            args += ["--workers", str(cpus)]
        if not flag_given(args, "--threads"):
            args += ["--threads", str(cpus)]
        if opts.gpus_per_task:
            gpu = (ctx.resources() if ctx is not None else {}).get("gpu")
            if gpu is None or not gpu.addresses:
                raise RuntimeError("shard %d/%d: --gpus-per-task %g but Spark assigned this task no GPU" % (index, n, opts.gpus_per_task))
            if not flag_given(args, "--device"):
                args += ["--device", "cuda"]
            args += ["--device-id", gpu.addresses[0]]
        args += ["--shard", "%d/%d" % (index, n)]
        if not flag_given(args, "--progress"):
            args += ["--progress", "log"]  # timestamped lines, not a terminal's bar
        cmd = [binary] + args
        prefix = "[featurizer %d/%d] " % (index, n)
        lock = threading.Lock()
        tail = collections.deque(maxlen=TAIL_LINES)
        stdout_lines = []
        sys.stderr.write(prefix + "attempt %d: %s\n" % (ctx.attemptNumber() if ctx else 0, " ".join(cmd)))
        sys.stderr.flush()
        start = time.time()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                preexec_fn=die_with_parent, bufsize=1, text=True, errors="replace")

        def pump(stream, keep):
            for line in stream:
                with lock:
                    sys.stderr.write(prefix + line if line.endswith("\n") else prefix + line + "\n")
                    sys.stderr.flush()
                keep.append(line.rstrip("\n"))

        threads = [threading.Thread(target=pump, args=(proc.stdout, stdout_lines), daemon=True),
                   threading.Thread(target=pump, args=(proc.stderr, tail), daemon=True)]
        for th in threads:
            th.start()
        code = proc.wait()
        for th in threads:
            th.join()
        if code != 0:
            raise RuntimeError("featurizer shard %d/%d failed (exit %d): %s\n--- last lines of its stderr ---\n%s"
                               % (index, n, code, " ".join(cmd), "\n".join(tail)))
        yield index, time.time() - start, "\n".join(stdout_lines).strip()
    return task


def build_profile(opts, dynamic_allocation):
    from pyspark.resource import ExecutorResourceRequests, ResourceProfileBuilder, TaskResourceRequests
    cpus = opts.task_cpus or 1
    treqs = TaskResourceRequests().cpus(cpus)
    if opts.gpus_per_task:
        treqs.resource("gpu", opts.gpus_per_task)
    builder = ResourceProfileBuilder().require(treqs)
    if dynamic_allocation:
        # Executors of the shards' shape: one GPU, the tasks that share it.
        per_executor = int(math.floor(1 / opts.gpus_per_task)) if opts.gpus_per_task else 1
        ereqs = ExecutorResourceRequests().cores(cpus * per_executor)
        if opts.gpus_per_task:
            ereqs.resource("gpu", 1)
        builder.require(ereqs)
    return builder.build


def main(argv=None):
    opts = parse(sys.argv[1:] if argv is None else argv)
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession
    SparkContext._ensure_initialized()  # the JVM spark-submit started: its settings, before a context exists
    master = SparkConf().get("spark.master", "")
    local = master == "local" or master.startswith("local[")
    if local and opts.gpus_per_task:
        print("spark_launcher.py: --gpus-per-task: local mode (%s) assigns no task resources; "
              "use a cluster (or local-cluster[...]) with GPU resources" % master, file=sys.stderr)
        return 2
    builder = SparkSession.builder.appName("featurizer %s (%d shards)" % (opts.featurizer_args[0], opts.shards))
    builder = builder.config("spark.speculation", "false")
    if local and opts.task_cpus:
        builder = builder.config("spark.task.cpus", str(opts.task_cpus))
    ours = SparkContext._active_spark_context is None
    spark = builder.getOrCreate()
    try:
        return launch(spark, opts, master, local)
    finally:
        if ours:
            spark.stop()


def launch(spark, opts, master, local):
    sc = spark.sparkContext
    speculation = sc.getConf().get("spark.speculation", "false").lower()
    if speculation == "true":
        print("spark_launcher.py: spark.speculation is on in this SparkContext: two copies of a shard would "
              "write the same parts; run with --conf spark.speculation=false", file=sys.stderr)
        return 2
    print("featurizer on Spark: %d shards, master %s, %s cpus and %g GPUs per task, spark.speculation=%s"
          % (opts.shards, master, opts.task_cpus or sc.getConf().get("spark.task.cpus", "1"), opts.gpus_per_task,
             speculation), flush=True)
    rdd = sc.parallelize(range(opts.shards), opts.shards)
    if (opts.task_cpus or opts.gpus_per_task) and not local:
        dyn = sc.getConf().get("spark.dynamicAllocation.enabled", "false").lower() == "true"
        rdd = rdd.withResources(build_profile(opts, dyn))
    sc.setJobDescription("featurizer %s, %d shards" % (opts.featurizer_args[0], opts.shards))
    start = time.time()
    try:
        results = rdd.mapPartitionsWithIndex(run_shard(opts, opts.shards)).collect()
    except Exception as e:  # Py4JJavaError: the task's error, shard output tail included
        msg = str(e)
        cut = msg.find("RuntimeError: featurizer shard")
        if cut >= 0:  # the shard's own message, without the JVM's stack trace after it
            end = msg.find("\n\tat ", cut)
            msg = msg[cut:end if end >= 0 else None].rstrip()
        print("spark_launcher.py: the Spark job failed: %s" % msg[-8000:], file=sys.stderr)
        return 1
    for index, seconds, summary in sorted(results):
        print("shard %d/%d: %.1fs: %s" % (index, opts.shards, seconds, summary))
    print("%d shards done in %.1fs" % (opts.shards, time.time() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
