package head

import (
	"os"
	"sync"

	gonumblas "gonum.org/v1/gonum/blas/gonum"
	"gorgonia.org/tensor"
)

type blasImpl = tensor.BLAS

var (
	blasOnce sync.Once
	blasName string
)

// UseBLAS picks the BLAS behind Gorgonia's tensors once per process:
// OpenBLAS when the binary was built with it, unless FEATURIZER_BLAS=go asks
// for gonum's pure-Go implementation. It returns the name of the one in use.
func UseBLAS() string {
	blasOnce.Do(func() {
		if openBLAS != nil && os.Getenv("FEATURIZER_BLAS") != "go" {
			tensor.Use(openBLAS)
			singleThreadBLAS()
			blasName = "openblas"
			return
		}
		tensor.Use(gonumblas.Implementation{})
		blasName = "gonum (pure Go)"
	})
	return blasName
}
