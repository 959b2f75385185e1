//go:build !noopenblas

package head

// #cgo LDFLAGS: -lopenblas
// void openblas_set_num_threads(int);
import "C"

import "gonum.org/v1/netlib/blas/netlib"

// openBLAS routes Gorgonia's matrix products through OpenBLAS (Debian
// libopenblas-dev) via gonum's netlib bindings. Build with -tags noopenblas
// for a pure-Go binary.
var openBLAS blasImpl = netlib.Implementation{}

// singleThreadBLAS keeps OpenBLAS on the calling thread: the trainer runs
// one graph per core itself, and OpenBLAS's own worker threads would spin
// (sched_yield) between calls, taking the cores the graphs need.
func singleThreadBLAS() { C.openblas_set_num_threads(1) }
