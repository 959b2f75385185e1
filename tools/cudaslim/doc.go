// Command cudaslim keeps, in a CUDA shared library such as ONNX Runtime's
// libonnxruntime_providers_cuda.so, only the device code for the GPU
// architectures given (internal/fatbin): the file keeps its size and
// layout, and what was dropped becomes zeroes that compress away. For a
// container image or a copy that must travel for one kind of GPU:
//
//	go run ./tools/cudaslim -arch 90 -o slim.so libonnxruntime_providers_cuda.so
package main
