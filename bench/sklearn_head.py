"""scikit-learn baseline for the head benchmark (make bench).

Same protocol as featurizer's trainer: standardize on train, then for each
penalty of the grid (strongest first, warm-started) fit LogisticRegression
(lbfgs, multinomial), keep the one with the best validation log-loss, stop
the path after 3 worse in a row; report test accuracy. C = 1 / (lambda * n)
maps Spark's regParam onto scikit-learn's C. Prints one JSON line.
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
    del xtr
    n = len(ytr)
    clf = LogisticRegression(solver="lbfgs", max_iter=a.max_iter, warm_start=True)
    best, best_loss, worse, curve = None, np.inf, 0, []
    for lam in [float(v) for v in a.grid.split(",")]:
        clf.set_params(C=1.0 / (lam * n))
        clf.fit(xtr64, ytr)
        p = clf.predict_proba(xva64)
        vl = log_loss(yva, p, labels=list(range(k)))
        curve.append({"lambda": lam, "validation_loss": vl, "iterations": int(np.max(clf.n_iter_))})
        if vl < best_loss:
            best_loss, best, worse = vl, (lam, clf.coef_.copy(), clf.intercept_.copy()), 0
        else:
            worse += 1
            if worse >= 3:
                break
    seconds = time.perf_counter() - t0
    lam, coef, icpt = best
    clf.coef_, clf.intercept_ = coef, icpt
    test_acc = accuracy_score(yte, clf.predict(sc.transform(xte).astype(np.float64)))
    print(json.dumps({"test_accuracy": test_acc, "validation_loss": best_loss, "lambda": lam, "seconds": seconds,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "curve": curve,
                      "sklearn": __import__("sklearn").__version__}))


if __name__ == "__main__":
    main()
