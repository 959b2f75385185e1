"""scikit-learn baseline for the head benchmark (make bench).

The protocol of featurizer train (and of bench/spark_head.py): standardize
on train; for each penalty of the grid (strongest first, warm-started) fit
LogisticRegression (lbfgs, multinomial) on train and keep the one with the
best validation log-loss, the path stopping after 3 worse in a row; then,
as Spark's TrainValidationSplit does, refit that penalty on train +
validation (standardized by their joint statistics, warm-started from the
chosen fit) and report the refit model's test accuracy. C = 1 / (lambda *
n) maps Spark's regParam onto scikit-learn's C for n training rows.
Prints one JSON line.
"""
import argparse
import json
import resource
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.preprocessing import StandardScaler


def load(d, split, dim):
    x = np.fromfile(f"{d}/{split}.X.f32", dtype=np.float32).reshape(-1, dim)
    y = np.fromfile(f"{d}/{split}.y.i32", dtype=np.int32)
    return x, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--grid", required=True, help="comma-separated lambdas, strongest first")
    ap.add_argument("--max-iter", type=int, default=200)
    ap.add_argument("--tol", type=float, default=1e-4, help="LogisticRegression's tol (its default)")
    ap.add_argument("--no-refit", action="store_true", help="keep the fit on train alone")
    a = ap.parse_args()
    meta = json.load(open(f"{a.data}/meta.json"))
    dim, k = meta["dim"], meta["classes"]
    xtr, ytr = load(a.data, "train", dim)
    xva, yva = load(a.data, "validation", dim)
    xte, yte = load(a.data, "test", dim)
    warnings.simplefilter("ignore", ConvergenceWarning)
    t0 = time.perf_counter()
    sc = StandardScaler().fit(xtr)
    # lbfgs works in float64: convert once rather than at every fit.
    xtr64 = sc.transform(xtr).astype(np.float64)
    xva64 = sc.transform(xva).astype(np.float64)
    n = len(ytr)
    clf = LogisticRegression(solver="lbfgs", max_iter=a.max_iter, tol=a.tol, warm_start=True)
    best, best_loss, worse, curve = None, np.inf, 0, []
    for lam in [float(v) for v in a.grid.split(",")]:
        t = time.perf_counter()
        clf.set_params(C=1.0 / (lam * n))
        clf.fit(xtr64, ytr)
        p = clf.predict_proba(xva64)
        vl = log_loss(yva, p, labels=list(range(k)))
        curve.append({"lambda": lam, "validation_loss": vl, "validation_accuracy": accuracy_score(yva, p.argmax(1)),
                      "iterations": int(np.max(clf.n_iter_)), "seconds": time.perf_counter() - t})
        if vl < best_loss:
            best_loss, best, worse = vl, (lam, clf.coef_.copy(), clf.intercept_.copy()), 0
        else:
            worse += 1
            if worse >= 3:
                break
    select_seconds = time.perf_counter() - t0
    lam, coef, icpt = best
    del xtr64
    refit = None
    if a.no_refit:
        clf.coef_, clf.intercept_ = coef, icpt
        final_sc = sc
    else:
        t = time.perf_counter()
        xall = np.concatenate([xtr, xva])
        yall = np.concatenate([ytr, yva])
        final_sc = StandardScaler().fit(xall)
        xall64 = final_sc.transform(xall).astype(np.float64)
        del xall
        # Warm start at the chosen fit, moved to the joint scale.
        raw = coef / sc.scale_
        clf.coef_ = raw * final_sc.scale_
        clf.intercept_ = icpt - (coef / sc.scale_) @ sc.mean_ + raw @ final_sc.mean_
        clf.set_params(C=1.0 / (lam * len(yall)))
        clf.fit(xall64, yall)
        refit = {"rows": int(len(yall)), "iterations": int(np.max(clf.n_iter_)), "seconds": time.perf_counter() - t}
    seconds = time.perf_counter() - t0
    del xtr
    test_acc = accuracy_score(yte, clf.predict(final_sc.transform(xte).astype(np.float64)))
    print(json.dumps({"test_accuracy": test_acc, "validation_loss": best_loss, "lambda": lam, "seconds": seconds,
                      "select_seconds": select_seconds, "refit": refit, "tol": a.tol, "max_iter": a.max_iter,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "curve": curve,
                      "sklearn": __import__("sklearn").__version__}))


if __name__ == "__main__":
    main()
