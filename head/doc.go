// Package head trains, evaluates and ships classifier heads on feature
// tables: multinomial logistic regression (or a one-hidden-layer MLP) with
// Spark's elastic-net penalty.
//
// Options (options.go) hold the settings and their defaults. Train fits in
// memory with L-BFGS (lbfgs.go), TrainStream streams a table that does not
// fit with Adam (adam.go); features are standardized first
// (standardize.go). The penalty path (path.go) fits each penalty of the
// grid, logistic regression to convergence (Tol) and Adam or the MLP with
// early stopping, chooses by validation loss, and refits the chosen penalty
// on train + validation unless NoRefit. Evaluate and the report give
// metrics; the artefact is head.onnx with model.json and the MLflow files
// (package combined adds model.onnx, the backbone and head in one graph).
package head
