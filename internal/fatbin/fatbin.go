package fatbin

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

const (
	containerMagic = 0xBA55ED50
	containerHdr   = 16
	entryMinHdr    = 32
)

// Stats says what Slim found and kept.
type Stats struct {
	Containers int
	// Bytes of device code by architecture (e.g. 90 for sm_90) before.
	ByArch    map[uint32]int64
	Kept      int64 // bytes of entries kept
	Zeroed    int64 // bytes now zero
	Untouched int   // containers with code for none of the kept architectures
}

// Archs lists the architectures found, ascending.
func (s Stats) Archs() []uint32 {
	var a []uint32
	for k := range s.ByArch {
		a = append(a, k)
	}
	sort.Slice(a, func(i, j int) bool { return a[i] < a[j] })
	return a
}

// Section returns the file offset and size of the .nv_fatbin section.
func Section(file []byte) (off, size int64, err error) {
	f, err := elf.NewFile(bytes.NewReader(file))
	if err != nil {
		return 0, 0, fmt.Errorf("not an ELF file: %w", err)
	}
	s := f.Section(".nv_fatbin")
	if s == nil {
		return 0, 0, errors.New("no .nv_fatbin section: the library holds no CUDA device code")
	}
	if s.Type == elf.SHT_NOBITS || int64(s.Offset)+int64(s.Size) > int64(len(file)) {
		return 0, 0, errors.New(".nv_fatbin section is not in the file")
	}
	return int64(s.Offset), int64(s.Size), nil
}

// Slim rewrites, in place, every container of the .nv_fatbin section of
// file so that it holds only the entries whose architecture is in keep. A
// container with no entry for a kept architecture is left as it is.
func Slim(file []byte, keep map[uint32]bool) (Stats, error) {
	st := Stats{ByArch: map[uint32]int64{}}
	off, size, err := Section(file)
	if err != nil {
		return st, err
	}
	sec := file[off : off+size]
	le := binary.LittleEndian
	for p := int64(0); p+containerHdr <= size; {
		if le.Uint32(sec[p:]) != containerMagic {
			if sec[p] != 0 {
				return st, fmt.Errorf("unexpected data at section offset %d: not a fat binary container", p)
			}
			p++ // padding between containers, or what an earlier Slim zeroed
			continue
		}
		hdr := int64(le.Uint16(sec[p+6:]))
		payload := int64(le.Uint64(sec[p+8:]))
		start, end := p+hdr, p+hdr+payload
		if hdr < containerHdr || end > size {
			return st, fmt.Errorf("container at section offset %d: sizes out of range", p)
		}
		st.Containers++
		var kept [][2]int64 // entry spans to keep, in order
		for q := start; q < end; {
			if q+entryMinHdr > end {
				return st, fmt.Errorf("container at section offset %d: truncated entry at %d", p, q)
			}
			eh := int64(le.Uint32(sec[q+4:]))
			ep := int64(le.Uint64(sec[q+8:]))
			arch := le.Uint32(sec[q+28:])
			if eh < entryMinHdr || q+eh+ep > end {
				return st, fmt.Errorf("container at section offset %d: entry at %d out of range", p, q)
			}
			st.ByArch[arch] += ep
			if keep[arch] {
				kept = append(kept, [2]int64{q, q + eh + ep})
				st.Kept += eh + ep
			}
			q += eh + ep
		}
		if len(kept) == 0 {
			// Code only for other GPUs (an sm_120-only kernel, say): it
			// cannot run on the kept ones either; left as it is.
			st.Untouched++
			p = end
			continue
		}
		// Compact the kept entries to the front, then zero the rest.
		w := start
		for _, k := range kept {
			w += int64(copy(sec[w:], sec[k[0]:k[1]]))
		}
		for i := w; i < end; i++ {
			sec[i] = 0
		}
		st.Zeroed += end - w
		le.PutUint64(sec[p+8:], uint64(w-start))
		p = end
	}
	if st.Containers == 0 {
		return st, errors.New(".nv_fatbin holds no fat binary container")
	}
	if st.Kept == 0 {
		return st, fmt.Errorf("no device code for the kept architectures (found %v)", st.Archs())
	}
	return st, nil
}
