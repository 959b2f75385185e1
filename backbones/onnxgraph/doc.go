// Package onnxgraph reads, edits and builds ONNX models at the protobuf wire
// level: Parse gives the graph (nodes, initializers, inputs and outputs),
// Model.Apply adds nodes, initializers and outputs, Build writes a new model
// (the heads, the test networks), ExternalRefs/InlineExternal/Externalize
// handle weights kept in external data files, and ToFloat16 converts a graph
// to float16 for the CUDA provider.
//
// ONNX Runtime only returns graph outputs, so exposing an inner tensor (a
// feature tap) means rewriting the model before a session is created. Working
// on the wire format keeps every field we do not touch byte for byte as it was
// (weights, metadata, fields of newer ONNX versions) and needs no generated
// protobuf code; the package has no cgo.
package onnxgraph
