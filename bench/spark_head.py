"""Spark ML baseline for the head benchmark (make bench): the trainer Deep
Learning Pipelines' users had, LogisticRegression in PySpark local mode, on
featurizer's feature tables themselves (spark.read.parquet, array_to_vector,
StringIndexer on label).

Two protocols, the same on both sides (bench/heads runs featurizer train
with the matching flags):

  --grid       the penalty chosen on the validation table over the given
               regParam grid, strongest first, by validation log-loss
               (MulticlassClassificationEvaluator(metricName="logLoss")),
               the path stopping after 3 worse values in a row, as
               featurizer's; then the winner refit on train + validation,
               what TrainValidationSplit does with its best parameters (with
               our fixed validation table instead of a random split);
               --no-refit keeps the fit on train.
  --reg-param  one fixed penalty on train alone (Deep Learning Pipelines'
               tutorial: regParam=0.05, elasticNetParam=0.3, maxIter=20).

Standardization on (Spark's default, and ours; each fit standardizes by the
statistics of the rows it is given, so the refit's are train +
validation's). tol is Spark's default, 1e-6, as featurizer's. Prints one
JSON line.
"""
import argparse
import json
import os
import resource
import sys
import time

T_START = time.perf_counter()


def vm_hwm_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="directory with the train, validation and test tables")
    ap.add_argument("--grid", help="comma-separated regParam values, strongest first")
    ap.add_argument("--reg-param", type=float, help="a fixed regParam instead of --grid")
    ap.add_argument("--elastic-net-param", type=float, default=0.0)
    ap.add_argument("--max-iter", type=int, default=200)
    ap.add_argument("--no-refit", action="store_true", help="keep the chosen fit on train alone")
    ap.add_argument("--cores", type=int, default=os.cpu_count(), help="local[N]: task threads")
    ap.add_argument("--driver-memory", default="8g")
    a = ap.parse_args()
    if (a.grid is None) == (a.reg_param is None):
        sys.exit("spark_head.py: give --grid or --reg-param")

    # Spark's MLlib guide: native BLAS with one thread per task
    # (spark.task.cpus = 1); the JVM inherits this process's environment.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    from pyspark.sql import SparkSession, functions as F
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import MulticlassClassificationEvaluator
    from pyspark.ml.feature import StringIndexer
    from pyspark.ml.functions import array_to_vector
    import pyspark

    spark = (SparkSession.builder.master(f"local[{a.cores}]")
             .appName("featurizer-bench-heads")
             .config("spark.driver.memory", a.driver_memory)
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", str(a.cores))
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    jvm_pid = spark.sparkContext._gateway.proc.pid
    blas = spark.sparkContext._jvm.dev.ludovic.netlib.blas.BLAS.getInstance().getClass().getName()
    t_session = time.perf_counter()

    def read(split):
        return (spark.read.parquet(os.path.join(a.data, split))
                .where(F.col("label").isNotNull())
                .select("label", array_to_vector("features").alias("features")))

    # Classes: the sorted training labels, as featurizer train numbers them.
    indexer = StringIndexer(inputCol="label", outputCol="y", stringOrderType="alphabetAsc").fit(read("train"))
    train = indexer.transform(read("train")).select("features", "y").cache()
    val = indexer.transform(read("validation")).select("features", "y").cache()
    test = indexer.transform(read("test")).select("features", "y").cache()
    rows = {"train": train.count(), "validation": val.count(), "test": test.count()}
    t_read = time.perf_counter()

    lr = LogisticRegression(featuresCol="features", labelCol="y", family="multinomial", standardization=True,
                            maxIter=a.max_iter, elasticNetParam=a.elastic_net_param)
    logloss = MulticlassClassificationEvaluator(labelCol="y", metricName="logLoss")
    accuracy = MulticlassClassificationEvaluator(labelCol="y", metricName="accuracy")
    curve = []
    if a.reg_param is not None:
        t = time.perf_counter()
        best = lr.fit(train, {lr.regParam: a.reg_param})
        best_lam = a.reg_param
        curve.append({"lambda": a.reg_param, "iterations": best.summary.totalIterations,
                      "seconds": time.perf_counter() - t})
    else:
        best, best_lam, best_loss, worse = None, None, float("inf"), 0
        for lam in [float(v) for v in a.grid.split(",")]:
            t = time.perf_counter()
            m = lr.fit(train, {lr.regParam: lam})
            vl = logloss.evaluate(m.transform(val))
            curve.append({"lambda": lam, "validation_loss": vl, "iterations": m.summary.totalIterations,
                          "seconds": time.perf_counter() - t})
            if vl < best_loss:
                best, best_lam, best_loss, worse = m, lam, vl, 0
            else:
                worse += 1
                if worse >= 3:
                    break
    refit = None
    if a.reg_param is None and not a.no_refit:
        t = time.perf_counter()
        # Not cached here: LogisticRegression persists its own copy of an
        # uncached input, and a third copy of the rows does not fit 8g.
        both = train.union(val)
        n = rows["train"] + rows["validation"]
        best = lr.fit(both, {lr.regParam: best_lam})
        refit = {"rows": n, "iterations": best.summary.totalIterations, "seconds": time.perf_counter() - t}
    t_fit = time.perf_counter()
    test_acc = accuracy.evaluate(best.transform(test))
    jvm_rss = vm_hwm_mib(jvm_pid)
    spark.stop()
    py_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "test_accuracy": test_acc, "lambda": best_lam, "elastic_net_param": a.elastic_net_param,
        "train_seconds": t_fit - t_read, "read_seconds": t_read - t_session, "session_seconds": t_session - T_START,
        "process_seconds": time.perf_counter() - T_START, "peak_rss_mib": jvm_rss + py_rss,
        "jvm_peak_rss_mib": jvm_rss, "rows": rows, "curve": curve, "refit": refit, "tol": lr.getTol(), "cores": a.cores, "blas": blas,
        "spark": pyspark.__version__}))


if __name__ == "__main__":
    main()
