// Package jobs runs whole jobs from a configuration and wires the other
// packages together: Featurize (images to a feature table), Predict (a
// backbone's own classifier, or PredictModel with a trained head), Train
// (a head on feature tables, with model.onnx when the backbone is at hand)
// and Run (a job file: featurize the data sets, train, evaluate; stages
// already up to date are skipped). Defaults and validation of the settings
// live here once, for the CLI flags and the job file alike. The cmd layer
// only parses flags into these configs and turns errors into exit codes.
// deploy/ holds the Databricks, Kubernetes and Spark launchers.
package jobs
