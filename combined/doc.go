// Package combined builds model.onnx: a backbone's graph with the feature
// pooling of its spec and a trained head grafted on, so that one ONNX file
// takes images and gives class probabilities. It sits apart from head so
// that head, which only trains and serializes heads, needs no ONNX Runtime.
package combined
