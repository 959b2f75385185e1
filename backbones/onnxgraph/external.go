package onnxgraph

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// External data. A TensorProto may keep its data in another file instead of
// raw_data: data_location (14) is EXTERNAL (1) and external_data (13) holds
// StringStringEntryProto {key 1, value 2} entries: location (the file,
// relative to the model's directory), offset and length (decimal strings,
// optional) and checksum (SHA-1, optional, not checked here). torch.onnx
// writes models this way since PyTorch 2.5. ONNX Runtime resolves such files
// only for a model loaded from a path; a model edited here is handed over as
// bytes, so the data is moved into the model first (InlineExternal).

// MaxModelSize is the largest serialized model: protobuf messages, and ONNX
// Runtime's loading from memory, stop at 2 GiB.
const MaxModelSize = math.MaxInt32

// ErrTooLarge is returned when inlining would make a model over MaxModelSize.
var ErrTooLarge = errors.New("model too large")

// ExternalData is a tensor whose data lives in an external file.
type ExternalData struct {
	Tensor   string // the tensor's name (may be empty for an unnamed attribute tensor)
	Location string // as written in the model: relative to the model's directory
	Offset   int64
	Length   int64 // -1 when the model gives none (to the end of the file)
	Checksum string
	Dims     []int64
	ElemType int32
}

// ByteSize is the size of the tensor's data implied by its shape and element
// type, or -1 when the type has no fixed size (strings, unknown types).
func (x ExternalData) ByteSize() int64 {
	n := int64(1)
	for _, d := range x.Dims {
		if d < 0 || (d > 0 && n > MaxModelSize/d) {
			return -1 // unknown, or far beyond what can be loaded
		}
		n *= d
	}
	switch x.ElemType {
	case Uint8, Int8, 9 /* bool */, 17, 18, 19, 20 /* float8 */ :
		return n
	case 4, 5 /* uint16, int16 */, Float16, 16 /* bfloat16 */ :
		return 2 * n
	case Float, Int32, 12 /* uint32 */ :
		return 4 * n
	case Int64, Double, 13 /* uint64 */, 14 /* complex64 */ :
		return 8 * n
	case 15: // complex128
		return 16 * n
	case 21, 22, 23: // uint4, int4, float4e2m1: two per byte
		return (n + 1) / 2
	}
	return -1
}

// ExternalSource gives the bytes of external tensors; the caller decides
// where files are and which ones may be read.
type ExternalSource interface {
	// Size returns how many bytes ref's data has: ref.Length when it is
	// given (after checking that offset+length lies within the file), else
	// the bytes from ref.Offset to the end of the file.
	Size(ref ExternalData) (int64, error)
	// ReadInto fills dst with the data at ref.Offset.
	ReadInto(ref ExternalData, dst []byte) error
}

// Message kinds walked to find tensors, and which fields of each hold
// messages that may contain tensors.
type kind int

const (
	kModel kind = iota
	kGraph
	kNode
	kAttr
	kTensor
	kSparse
	kFunction
	kTraining
)

var children = [...]map[protowire.Number]kind{
	kModel:    {7: kGraph, 20: kTraining, 25: kFunction},
	kGraph:    {1: kNode, 5: kTensor, 15: kSparse},
	kNode:     {5: kAttr},
	kAttr:     {5: kTensor, 6: kGraph, 10: kTensor, 11: kGraph, 22: kSparse, 23: kSparse},
	kTensor:   {},
	kSparse:   {1: kTensor, 2: kTensor},
	kFunction: {7: kNode},
	kTraining: {1: kGraph, 2: kGraph},
}

// piece is part of a rewritten message: bytes, or n bytes of external data.
type piece struct {
	b   []byte
	ref *ExternalData
	n   int64
}

func piecesSize(ps []piece) int64 {
	var n int64
	for _, p := range ps {
		if p.ref != nil {
			n += p.n
		} else {
			n += int64(len(p.b))
		}
	}
	return n
}

// tensorFunc rewrites one TensorProto; nil pieces mean unchanged.
type tensorFunc func(b []byte) ([]piece, error)

// rewrite walks message b of kind k and returns its new encoding, or nil
// when no tensor in it changed. Wire-format errors wrap ErrNotONNX; errors
// of fn are returned as they are.
func rewrite(b []byte, k kind, fn tensorFunc) ([]piece, error) {
	if k == kTensor {
		return fn(b)
	}
	var out []piece
	start := 0 // start of the unchanged bytes not yet in out
	pos := 0
	err := eachFieldRaw(b, func(num protowire.Number, typ protowire.Type, field, payload []byte) error {
		fieldStart := pos
		pos += len(field)
		child, ok := children[k][num]
		if !ok || typ != protowire.BytesType {
			return nil
		}
		ps, err := rewrite(payload, child, fn)
		if err != nil {
			return passErr{err}
		}
		if ps == nil {
			return nil
		}
		var hdr []byte
		hdr = protowire.AppendTag(hdr, num, protowire.BytesType)
		hdr = protowire.AppendVarint(hdr, uint64(piecesSize(ps)))
		out = append(out, piece{b: b[start:fieldStart]}, piece{b: hdr})
		out = append(out, ps...)
		start = pos
		return nil
	})
	if err != nil {
		return nil, unwrapPass(err)
	}
	if out == nil {
		return nil, nil
	}
	return append(out, piece{b: b[start:]}), nil
}

// passErr carries an error that is not about the wire format through
// eachField and eachFieldRaw.
type passErr struct{ error }

func unwrapPass(err error) error {
	var p passErr
	if errors.As(err, &p) {
		return p.error
	}
	return fmt.Errorf("%w: %v", ErrNotONNX, err)
}

// parseExternal reads the external-data fields of a TensorProto.
func parseExternal(b []byte) (x ExternalData, external bool, err error) {
	x.Length = -1
	var entries [][]byte
	err = eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, u uint64) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			x.Dims = append(x.Dims, int64(u))
		case num == 1 && typ == protowire.BytesType:
			for len(v) > 0 {
				d, n := protowire.ConsumeVarint(v)
				if n < 0 {
					return protowire.ParseError(n)
				}
				x.Dims = append(x.Dims, int64(d))
				v = v[n:]
			}
		case num == 2 && typ == protowire.VarintType:
			x.ElemType = int32(u)
		case num == 8 && typ == protowire.BytesType:
			x.Tensor = string(v)
		case num == 13 && typ == protowire.BytesType:
			entries = append(entries, v)
		case num == 14 && typ == protowire.VarintType:
			external = u == 1
		}
		return nil
	})
	if err != nil {
		return x, false, fmt.Errorf("%w: tensor %q: %v", ErrNotONNX, x.Tensor, err)
	}
	if !external {
		return x, false, nil
	}
	return x, true, x.setEntries(entries)
}

func (x *ExternalData) setEntries(entries [][]byte) error {
	hasLoc := false
	for _, e := range entries {
		var key, val string
		err := eachField(e, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
			if typ == protowire.BytesType {
				switch num {
				case 1:
					key = string(v)
				case 2:
					val = string(v)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%w: tensor %q: external_data: %v", ErrNotONNX, x.Tensor, err)
		}
		switch key {
		case "location":
			x.Location, hasLoc = val, true
		case "offset", "length":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("tensor %q: external data %s %q is not a byte count", x.Tensor, key, val)
			}
			if key == "offset" {
				x.Offset = n
			} else {
				x.Length = n
			}
		case "checksum":
			x.Checksum = val
		}
	}
	if !hasLoc || x.Location == "" {
		return fmt.Errorf("tensor %q: data_location is EXTERNAL but external_data names no location", x.Tensor)
	}
	return nil
}

// ExternalRefs lists the tensors of a serialized model that keep their data
// in external files (initializers, sparse initializers, tensor attributes
// such as Constant's value, in subgraphs and functions too), in file order.
func ExternalRefs(model []byte) ([]ExternalData, error) {
	var refs []ExternalData
	_, err := rewrite(model, kModel, func(b []byte) ([]piece, error) {
		x, ext, err := parseExternal(b)
		if ext {
			refs = append(refs, x)
		}
		return nil, err
	})
	if err != nil {
		return nil, err
	}
	return refs, nil
}

// InlineExternal returns model with the data of every external tensor read
// from src and stored in the tensor itself (raw_data), external_data and
// data_location dropped; every other byte is kept. The result is allocated
// once, at its final size, and the data is read straight into it. A model
// without external tensors is returned as it is.
func InlineExternal(model []byte, src ExternalSource) ([]byte, error) {
	var total int64
	ps, err := rewrite(model, kModel, func(b []byte) ([]piece, error) {
		x, ext, err := parseExternal(b)
		if err != nil || !ext {
			return nil, err
		}
		n, err := src.Size(x)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, fmt.Errorf("tensor %q: external data offset %d is beyond the end of %s", x.Tensor, x.Offset, x.Location)
		}
		want := x.ByteSize()
		switch {
		case x.Length < 0 && want >= 0 && n >= want:
			n = want // no length given: the tensor's own size, not the rest of the file
		case want >= 0 && n != want:
			return nil, fmt.Errorf("tensor %q: external data in %s is %d bytes, its shape %v of element type %d needs %d", x.Tensor, x.Location, n, x.Dims, x.ElemType, want)
		}
		total += n
		if total > MaxModelSize {
			return nil, fmt.Errorf("%w: the external data alone is over %d bytes, and one ONNX model (with its data inlined) is limited to 2 GiB", ErrTooLarge, int64(MaxModelSize))
		}
		var out []piece
		var head []byte
		err = eachFieldRaw(b, func(num protowire.Number, _ protowire.Type, field, _ []byte) error {
			if num != 9 && num != 13 && num != 14 {
				head = append(head, field...)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %v", ErrNotONNX, x.Tensor, err)
		}
		head = protowire.AppendTag(head, 9, protowire.BytesType)
		head = protowire.AppendVarint(head, uint64(n))
		ref := x
		out = append(out, piece{b: head}, piece{ref: &ref, n: n})
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	if ps == nil {
		return model, nil
	}
	size := piecesSize(ps)
	if size > MaxModelSize {
		return nil, fmt.Errorf("%w: with its external data inlined the model would be %d bytes, over the 2 GiB limit of one ONNX model", ErrTooLarge, size)
	}
	out := make([]byte, size)
	off := int64(0)
	for _, p := range ps {
		if p.ref == nil {
			off += int64(copy(out[off:], p.b))
			continue
		}
		if err := src.ReadInto(*p.ref, out[off:off+p.n]); err != nil {
			return nil, err
		}
		off += p.n
	}
	return out, nil
}

// ExternalizeOptions say which tensors Externalize moves out.
type ExternalizeOptions struct {
	// Location is the data file's name, relative to the model's directory.
	Location string
	// MinBytes keeps tensors with less data than this in the model.
	MinBytes int
	// Align pads each tensor's offset to a multiple of it (0: no padding).
	Align int
	// NoLength leaves out the length entries.
	NoLength bool
}

// Externalize is the inverse of InlineExternal, as torch.onnx and the onnx
// package write models: the raw_data of every tensor with at least MinBytes
// (initializers and tensor attributes alike) moves into one data file,
// returned next to the new model. Tests use it to make external-data models.
func Externalize(model []byte, o ExternalizeOptions) (newModel, data []byte, err error) {
	ps, err := rewrite(model, kModel, func(b []byte) ([]piece, error) {
		var raw []byte
		hasRaw := false
		var head []byte
		err := eachFieldRaw(b, func(num protowire.Number, typ protowire.Type, field, payload []byte) error {
			if num == 9 && typ == protowire.BytesType {
				raw, hasRaw = payload, true
				return nil
			}
			head = append(head, field...)
			return nil
		})
		if err != nil || !hasRaw || len(raw) < o.MinBytes {
			return nil, err
		}
		if o.Align > 1 {
			for len(data)%o.Align != 0 {
				data = append(data, 0)
			}
		}
		entry := func(k, v string) []byte {
			return appendString(appendString(nil, 1, k), 2, v)
		}
		head = appendMessage(head, 13, entry("location", o.Location))
		head = appendMessage(head, 13, entry("offset", strconv.Itoa(len(data))))
		if !o.NoLength {
			head = appendMessage(head, 13, entry("length", strconv.Itoa(len(raw))))
		}
		head = appendVarint(head, 14, 1)
		data = append(data, raw...)
		return []piece{{b: head}}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	if ps == nil {
		return model, nil, nil
	}
	for _, p := range ps {
		newModel = append(newModel, p.b...)
	}
	return newModel, data, nil
}

// ScanExternal reads a serialized model of size bytes from r, front to back,
// and calls fn for each external tensor in file order, as ExternalRefs does,
// without holding the model in memory: tensor data is skipped as it is read.
// It reads everything up to the end of the model. Malformed input gives an
// error wrapping ErrNotONNX.
func ScanExternal(r *bufio.Reader, size int64, fn func(ExternalData) error) error {
	s := &scanner{r: r, fn: fn}
	err := s.message(size, kModel)
	if err != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errMalformed)) {
		return fmt.Errorf("%w: %v", ErrNotONNX, err)
	}
	return err
}

var errMalformed = errors.New("malformed protobuf")

type scanner struct {
	r  *bufio.Reader
	fn func(ExternalData) error
}

func (s *scanner) varint() (uint64, int64, error) {
	var x uint64
	for i := 0; i < 10; i++ {
		c, err := s.r.ReadByte()
		if err != nil {
			return 0, 0, err
		}
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return x, int64(i + 1), nil
		}
	}
	return 0, 0, errMalformed
}

func (s *scanner) discard(n int64) error {
	for n > 0 {
		c := n
		if c > 1<<30 {
			c = 1 << 30
		}
		if _, err := s.r.Discard(int(c)); err != nil {
			return err
		}
		n -= c
	}
	return nil
}

// message walks n bytes of a message of kind k.
func (s *scanner) message(n int64, k kind) error {
	var x ExternalData
	var entries [][]byte
	external := false
	if k == kTensor {
		x.Length = -1
	}
	for n > 0 {
		tag, c, err := s.varint()
		if err != nil {
			return err
		}
		n -= c
		num, typ := protowire.DecodeTag(tag)
		if num <= 0 {
			return errMalformed
		}
		switch typ {
		case protowire.VarintType:
			v, c, err := s.varint()
			if err != nil {
				return err
			}
			n -= c
			if k == kTensor {
				switch num {
				case 1:
					x.Dims = append(x.Dims, int64(v))
				case 2:
					x.ElemType = int32(v)
				case 14:
					external = v == 1
				}
			}
		case protowire.Fixed32Type:
			n -= 4
			err = s.discard(4)
		case protowire.Fixed64Type:
			n -= 8
			err = s.discard(8)
		case protowire.BytesType:
			l, c, err := s.varint()
			if err != nil {
				return err
			}
			n -= c
			if l > uint64(n) {
				return errMalformed
			}
			ln := int64(l)
			n -= ln
			child, ok := children[k][num]
			switch {
			case ok:
				err = s.message(ln, child)
			case k == kTensor && (num == 8 || num == 13) && ln <= 1<<20:
				b := make([]byte, ln)
				if _, err = io.ReadFull(s.r, b); err == nil {
					if num == 8 {
						x.Tensor = string(b)
					} else {
						entries = append(entries, b)
					}
				}
			default:
				err = s.discard(ln)
			}
			if err != nil {
				return err
			}
		default:
			return errMalformed
		}
		if err != nil {
			return err
		}
		if n < 0 {
			return errMalformed
		}
	}
	if external {
		if err := x.setEntries(entries); err != nil {
			return err
		}
		return s.fn(x)
	}
	return nil
}
