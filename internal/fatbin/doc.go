// Package fatbin slims the CUDA device code inside an ELF shared library
// (such as ONNX Runtime's CUDA provider, 166 MB of which is kernels for six
// GPU architectures) down to the architectures one GPU runs.
//
// The .nv_fatbin section holds fat binary containers, each a header (u32
// magic 0xBA55ED50, u16 version, u16 header size, u64 payload size) and
// entries (u16 kind, u16 version, u32 header size, u64 payload size, ...,
// u32 SM architecture at offset 28). The CUDA runtime finds each container
// through a pointer of its own (.nvFatBinSegment) and reads the container's
// sizes, so a container may shrink in place: Slim moves the kept entries to
// the front of their container, writes the smaller payload size, and
// zeroes the bytes that follow up to where the next container begins. The
// file keeps its size and every offset; the zeroes compress to nothing.
package fatbin
