"""Databricks task entry point: run the featurizer binary of the container
image with the task's parameters, streaming its log lines to the driver log.

Set as the python_file of a spark_python_task (see databricks-job.json);
the container image (Databricks Container Services) puts the binary on PATH.
Paths are the node's FUSE paths: /Volumes/... (Unity Catalog volumes) and
/dbfs/... for DBFS.
"""
import subprocess
import sys

if __name__ == "__main__":
    proc = subprocess.run(["featurizer"] + sys.argv[1:])
    sys.exit(proc.returncode)
