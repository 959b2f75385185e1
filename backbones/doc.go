// Package backbones runs pretrained models on ONNX Runtime, and is the only
// package that links the runtime (cgo, through onnxruntime_go).
//
// Resolve turns a name from the catalog (package modelspec), or an ONNX
// file with its spec, into a Backbone: the spec, the weights located and
// verified (fetched through package download when missing) and its class
// names. NewEngine plans the feature tap (FindTap, or the tensor the spec
// names), adds the pooling to one vector per image to the graph (package
// onnxgraph) and opens one session; Engine.Run computes features and
// logits for a batch. Session is a plain session for other models (a
// head, model.onnx).
//
// The rest finds and loads the runtime: the pinned CPU library or the GPU
// runtime of make setup-gpu (InitRuntimeFor, Runtimes), the CUDA and cuDNN
// libraries a GPU provider needs (CheckDevice, from the provider's own
// DT_NEEDED), float16 graphs for the CUDA provider, and page-locked input
// buffers on a GPU. Value types that describe a model live in modelspec, so
// that packages which never run one do not link the runtime.
package backbones
