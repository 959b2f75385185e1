// Package version names this build of featurizer: its own version (recorded
// in provenance and model files), the Go it was built with, and the ONNX
// Runtime release it pins.
package version
