package backbones

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/featurizer/featurizer/backbones/onnxgraph"
)

// ONNX external data. Current PyTorch (torch.onnx.export since 2.5) writes a
// model as NAME.onnx (the graph) plus NAME.onnx.data (the weights), the
// tensors pointing into the data file by location, offset and length. The
// graph is edited here and handed to ONNX Runtime as bytes, so ONNX Runtime
// cannot find such files itself: ReadModel reads the data and inlines it, and
// the rest of the pipeline sees an ordinary one-file model.
//
// Data files must lie in the model's directory or below it: an absolute
// location or one that climbs out with ".." is refused, as ONNX Runtime does.

// ReadModel reads an ONNX model file. When its tensors keep their data in
// external files, the data is read from them (relative to the model's
// directory) into the returned model, which is then one self-contained
// model of at most 2 GiB. The model is read once and the result allocated
// once, at its final size.
func ReadModel(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	refs, err := onnxgraph.ExternalRefs(data)
	if err != nil {
		if errors.Is(err, onnxgraph.ErrNotONNX) {
			return data, nil // Parse says what is wrong with it
		}
		return nil, err
	}
	if len(refs) == 0 {
		return data, nil
	}
	src := newDirSource(path)
	defer src.Close()
	out, err := onnxgraph.InlineExternal(data, src)
	if errors.Is(err, onnxgraph.ErrTooLarge) {
		return nil, fmt.Errorf("%s: %w; featurizer loads models of up to 2 GiB", path, err)
	}
	return out, err
}

// dirSource reads external data files next to a model.
type dirSource struct {
	model string // the model file, for messages
	dir   string
	files map[string]*os.File
	sizes map[string]int64
}

func newDirSource(model string) *dirSource {
	return &dirSource{model: model, dir: filepath.Dir(model), files: map[string]*os.File{}, sizes: map[string]int64{}}
}

// dataPath checks an external data location and returns the file's path.
func dataPath(modelDir string, ref onnxgraph.ExternalData) (string, error) {
	loc := filepath.FromSlash(ref.Location)
	switch {
	case filepath.IsAbs(loc) || filepath.IsAbs(ref.Location):
		return "", fmt.Errorf("tensor %q: external data location %q is an absolute path; featurizer only reads data files in the model's directory (%s) or below it", ref.Tensor, ref.Location, modelDir)
	case !filepath.IsLocal(loc):
		return "", fmt.Errorf("tensor %q: external data location %q leaves the model's directory (%s); featurizer only reads data files in it or below it", ref.Tensor, ref.Location, modelDir)
	}
	return filepath.Join(modelDir, loc), nil
}

func (s *dirSource) open(ref onnxgraph.ExternalData) (*os.File, int64, string, error) {
	p, err := dataPath(s.dir, ref)
	if err != nil {
		return nil, 0, "", err
	}
	if f, ok := s.files[p]; ok {
		return f, s.sizes[p], p, nil
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, "", fmt.Errorf("tensor %q: external data file %s is missing (%s keeps its weights there: copy it next to the model)", ref.Tensor, p, filepath.Base(s.model))
		}
		return nil, 0, "", fmt.Errorf("tensor %q: external data: %w", ref.Tensor, err)
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", p)
	}
	if err != nil {
		f.Close()
		return nil, 0, "", fmt.Errorf("tensor %q: external data: %w", ref.Tensor, err)
	}
	s.files[p], s.sizes[p] = f, st.Size()
	return f, st.Size(), p, nil
}

func (s *dirSource) Size(ref onnxgraph.ExternalData) (int64, error) {
	_, size, p, err := s.open(ref)
	if err != nil {
		return 0, err
	}
	if ref.Length < 0 {
		if ref.Offset > size {
			return 0, fmt.Errorf("tensor %q: external data offset %d is beyond the end of %s (%d bytes)", ref.Tensor, ref.Offset, p, size)
		}
		return size - ref.Offset, nil
	}
	if ref.Offset > size || ref.Length > size-ref.Offset {
		return 0, fmt.Errorf("tensor %q: external data at offset %d, length %d is beyond the end of %s (%d bytes): the data file is truncated or not the model's", ref.Tensor, ref.Offset, ref.Length, p, size)
	}
	return ref.Length, nil
}

func (s *dirSource) ReadInto(ref onnxgraph.ExternalData, dst []byte) error {
	f, _, p, err := s.open(ref)
	if err != nil {
		return err
	}
	n, err := f.ReadAt(dst, ref.Offset)
	if n == len(dst) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("tensor %q: external data file %s: short read, %d of %d bytes at offset %d (did the file change?)", ref.Tensor, p, n, len(dst), ref.Offset)
	}
	return fmt.Errorf("tensor %q: external data: %w", ref.Tensor, err)
}

func (s *dirSource) Close() {
	for _, f := range s.files {
		f.Close()
	}
}

// HashModel returns the SHA-256 that identifies a model's weights, the one
// recorded in every table. For a model in one file it is the file's SHA-256
// (HashFile). For a model whose tensors keep their data in external files it
// is the SHA-256 of the model file followed by each data file, whole, in the
// order in which the model first refers to them, each once: what
// `cat model.onnx model.onnx.data | sha256sum` prints. A change to any data
// file changes it.
func HashModel(path string) (string, error) {
	d, _, err := hashModel(path)
	return d, err
}

// hashModel also returns the data files it covered.
func hashModel(path string) (digest string, dataFiles []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", nil, err
	}
	h := sha256.New()
	// One pass: the file is hashed as the scan reads it, and the scan skips
	// over the tensor data instead of keeping it.
	br := bufio.NewReaderSize(io.TeeReader(f, h), 1<<16)
	dir := filepath.Dir(path)
	seen := map[string]bool{}
	err = onnxgraph.ScanExternal(br, st.Size(), func(ref onnxgraph.ExternalData) error {
		p, err := dataPath(dir, ref)
		if err != nil {
			return err
		}
		if !seen[p] {
			seen[p] = true
			dataFiles = append(dataFiles, p)
		}
		return nil
	})
	if err != nil && !errors.Is(err, onnxgraph.ErrNotONNX) {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	if err != nil {
		dataFiles = nil // not a model: just the file's hash
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return "", nil, err
	}
	for _, p := range dataFiles {
		if err := hashInto(h, p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", nil, fmt.Errorf("%s keeps its weights in %s, which is missing: copy it next to the model", path, p)
			}
			return "", nil, err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), dataFiles, nil
}

func hashInto(h hash.Hash, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(h, f)
	return err
}
