//go:build noopenblas

package head

var openBLAS blasImpl // none in this build: the pure-Go BLAS is used

func singleThreadBLAS() {}
