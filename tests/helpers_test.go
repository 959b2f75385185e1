package tests

import (
	"os"
	"syscall"

	"github.com/featurizer/featurizer/internal/corrupt"
)

func writeCorpus(dir string) error     { return corrupt.Write(dir) }
func corpusFiles() []corrupt.File      { return corrupt.Files }
func maxRSS(ps *os.ProcessState) int64 { return ps.SysUsage().(*syscall.Rusage).Maxrss }
