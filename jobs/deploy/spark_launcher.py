"""Run featurizer on an existing Spark cluster: one shard per partition.

    spark-submit jobs/deploy/spark_launcher.py --shards 8 -- \
        featurize --backbone mobilenetv2 --input /dbfs/images --output /dbfs/features

Every executor needs the featurizer binary on PATH (a cluster init script or
the container image) and the ONNX Runtime library (FEATURIZER_ORT_LIB). Each
partition runs `featurizer ... --shard i/n`; shards write their own part
files into the same output, and the last to finish writes the manifest and
_SUCCESS. A failed partition is retried by Spark and resumes from its
committed parts.
"""
import argparse
import subprocess

from pyspark.sql import SparkSession


def run_shard(args, n):
    def f(index, _rows):
        cmd = ["featurizer"] + args + ["--shard", f"{index}/{n}", "--progress", "log"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"shard {index}/{n} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        yield (index, proc.stdout.strip())
    return f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shards", type=int, required=True)
    ap.add_argument("featurizer_args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    args = [x for x in a.featurizer_args if x != "--"]
    spark = SparkSession.builder.appName("featurizer").getOrCreate()
    rdd = spark.sparkContext.parallelize(range(a.shards), a.shards)
    for index, line in rdd.mapPartitionsWithIndex(run_shard(args, a.shards)).collect():
        print(f"shard {index}: {line}")


if __name__ == "__main__":
    main()
