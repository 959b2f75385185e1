// Command heads benchmarks featurizer's classifier head, in one run and on
// the same feature tables, against
//
//   - scikit-learn's LogisticRegression (lbfgs, on arrays exported from the
//     tables), and
//   - Spark ML's LogisticRegression in PySpark local mode with the same
//     cores, reading the Parquet tables themselves: the trainer Deep Learning
//     Pipelines' users had,
//
// on the clothing features (MobileNetV2) and on a synthetic 100,000 x 2048 x
// 100-class table: test accuracy, training time, process wall time and peak
// memory, as differences and ratios (ours / theirs).
//
// Two penalty protocols, each the same on every side:
//
//   - grid: the penalty chosen on the validation table over the same grid,
//     strongest first, by validation log-loss, the path stopping after three
//     worse values (featurizer's rule), then refit on train + validation
//     with that penalty, standardized by their joint statistics (what Spark's
//     TrainValidationSplit does with its best parameters, with the fixed
//     validation table instead of a random split); test accuracy is the
//     refit model's. Each fits to its own default tolerance (featurizer and
//     Spark tol 1e-6, scikit-learn 1e-4), at most 200 iterations;
//   - dlp: Deep Learning Pipelines' tutorial, one fixed penalty on train
//     (regParam 0.05, elasticNetParam 0.3, maxIter 20); Spark only, as
//     scikit-learn's lbfgs has no elastic net.
package main
