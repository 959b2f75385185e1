package tests

import "github.com/featurizer/featurizer/internal/corrupt"

func writeCorpus(dir string) error { return corrupt.Write(dir) }
func corpusFiles() []corrupt.File  { return corrupt.Files }
