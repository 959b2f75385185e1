//go:build !noopenblas

package head

// #cgo LDFLAGS: -lopenblas
import "C"

import "gonum.org/v1/netlib/blas/netlib"

// openBLAS routes Gorgonia's matrix products through OpenBLAS (Debian
// libopenblas-dev) via gonum's netlib bindings. Build with -tags noopenblas
// for a pure-Go binary.
var openBLAS blasImpl = netlib.Implementation{}
