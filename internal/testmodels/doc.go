// Package testmodels builds small, real ONNX networks for tests: two
// convolutions, global pooling and a dense classifier, with fixed
// pseudo-random weights. No binary model files live in the repository.
package testmodels
