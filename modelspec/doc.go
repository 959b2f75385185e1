// Package modelspec holds the value types that describe a backbone — its
// input, resizing, normalization, feature tap and classifier (Spec), and
// the Preprocessing recorded with every feature table — with the built-in
// catalog (catalog.yaml) and the YAML spec files for models outside it.
//
// It has no cgo and no ONNX Runtime: the table, head and input packages
// import it for these types alone, and only what runs a model links the
// runtime (package backbones).
package modelspec
