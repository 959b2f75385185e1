"""Databricks task entry point: run the featurizer binary of the cluster's
container image with the task's parameters.

Set as the python_file of a spark_python_task (see databricks-job.json), from
a workspace file (`databricks workspace import
/Workspace/Shared/featurizer/run_featurizer.py --file
jobs/deploy/run_featurizer.py --format RAW --overwrite`). The container image
(Databricks Container Services, `docker build --target dcs`) puts the binary
on PATH; FEATURIZER_BIN overrides it. Paths are the node's FUSE paths:
/Volumes/... (Unity Catalog volumes: the cluster needs
spark.databricks.unityCatalog.volumes.enabled and the dedicated access mode)
and /dbfs/... for DBFS.

The binary's output is relayed line by line as it comes (the run page and
the driver log show progress while the task runs, not at its end); a
cancelled run's SIGTERM is passed on, so featurizer stops after the running
batch and the rerun resumes; the task fails with the binary's exit code
(0 includes rejected images: they are rows of _rejects/).
"""
import os
import shutil
import signal
import subprocess
import sys

FALLBACK = "/opt/featurizer/bin/featurizer"


def binary():
    b = os.environ.get("FEATURIZER_BIN") or shutil.which("featurizer")
    if not b and os.access(FALLBACK, os.X_OK):
        b = FALLBACK
    if not b:
        sys.exit("run_featurizer.py: no featurizer binary on PATH or at %s: run the job on a cluster "
                 "with the featurizer DCS image (docker_image.url), or set FEATURIZER_BIN" % FALLBACK)
    return b


def main(argv):
    cmd = [binary()] + argv
    print("run_featurizer.py: " + " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0)

    def forward(signum, _frame):
        if proc.poll() is None:
            proc.send_signal(signum)

    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, forward)
    out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
    for line in iter(proc.stdout.readline, b""):
        if out is not None:
            out.write(line)
            out.flush()
        else:  # a driver whose stdout takes text only
            sys.stdout.write(line.decode("utf-8", "replace"))
            sys.stdout.flush()
    code = proc.wait()
    if code != 0:
        # The task fails; the line says why in the run's output.
        sys.exit("run_featurizer.py: featurizer exited with %d (1 job failed, 2 bad flags or "
                 "configuration, 130 stopped)" % code if code > 0 else
                 "run_featurizer.py: featurizer killed by signal %d" % -code)
    return 0


if __name__ == "__main__":
    main(sys.argv[1:])
