package table

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/featurizer/featurizer/storage"
	"github.com/parquet-go/parquet-go"
)

// Indexed is where an input of a table is, and what it was when its row
// was written.
type Indexed struct {
	Part string
	Ref  InputRef
}

// ReadIndex reads the inputs of the parts of m from their footers (one
// small read per part): path -> part and fingerprint. Parts written
// before fingerprints were recorded make the table unfit for incremental
// runs. It also sets the row counts of m's parts and rejects parts to what
// the files hold now: an incremental run killed while it rewrote earlier
// parts (FilterPart) leaves them with fewer rows than the manifest says,
// and its rerun, which no longer finds the dropped inputs in the index,
// builds the new manifest on these counts.
func ReadIndex(ctx context.Context, dir storage.Store, m *Manifest) (map[string]Indexed, error) {
	out := map[string]Indexed{}
	for i, p := range m.RejectParts {
		_, rows, err := footerOf(ctx, dir, p.File)
		if err != nil {
			return nil, fmt.Errorf("rejects part %s: %w", dir.Path(p.File), err)
		}
		m.RejectParts[i].Rows = int(rows)
	}
	for i, p := range m.Parts {
		meta, rows, err := footerOf(ctx, dir, p.File)
		if err != nil {
			return nil, fmt.Errorf("part %s: %w", dir.Path(p.File), err)
		}
		m.Parts[i].Rows = int(rows)
		var in PartInputs
		if err := json.Unmarshal([]byte(meta[PartInputsKey]), &in); err != nil || int64(len(in.Items)) != in.Inputs {
			return nil, fmt.Errorf("part %s does not record its inputs (written by an older version)", dir.Path(p.File))
		}
		for _, r := range in.Items {
			out[r.Path] = Indexed{Part: p.File, Ref: r}
		}
	}
	return out, nil
}

// FilterPart rewrites part name of dir (and its rejects part) without the
// inputs in drop, atomically, file by file: the rejects first, the part
// last. Either order of a crash leaves a table whose footers match its
// rows, so a rerun recomputes the same work. It returns the new counts.
func FilterPart(ctx context.Context, dir storage.Store, name string, drop map[string]bool) (rows, rejected int, err error) {
	rej := path.Join(RejectsDir, name)
	rejected, err = filterFile[RejectRow](ctx, dir, rej, func(r RejectRow) string { return r.Path }, drop, nil)
	if errors.Is(err, fs.ErrNotExist) {
		rejected, err = 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	rows, err = filterFile[FeatureRow](ctx, dir, name, func(r FeatureRow) string { return r.Path }, drop, func(meta map[string]string) {
		var in PartInputs
		if json.Unmarshal([]byte(meta[PartInputsKey]), &in) != nil {
			return
		}
		items := in.Items[:0]
		for _, it := range in.Items {
			if !drop[it.Path] {
				items = append(items, it)
			}
		}
		in.Items, in.Inputs = items, int64(len(items))
		in.First, in.Last = "", ""
		if len(items) > 0 {
			in.First, in.Last = items[0].Path, items[len(items)-1].Path
		}
		b, _ := json.Marshal(in)
		meta[PartInputsKey] = string(b)
	})
	return rows, rejected, err
}

func filterFile[T any](ctx context.Context, dir storage.Store, name string, key func(T) string, drop map[string]bool, edit func(map[string]string)) (int, error) {
	data, err := dir.ReadFile(ctx, name)
	if err != nil {
		return 0, err
	}
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", dir.Path(name), err)
	}
	meta := map[string]string{}
	for _, kv := range pf.Metadata().KeyValueMetadata {
		meta[kv.Key] = kv.Value
	}
	r := parquet.NewGenericReader[T](pf)
	defer r.Close()
	var keep []T
	buf := make([]T, 256)
	for {
		n, err := r.Read(buf)
		for _, row := range buf[:n] {
			if !drop[key(row)] {
				keep = append(keep, row)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", dir.Path(name), err)
		}
	}
	if edit != nil {
		edit(meta)
	}
	p, err := NewPart[T](ctx, dir, name, meta)
	if err != nil {
		return 0, err
	}
	if len(keep) > 0 {
		if err := p.Write(keep); err != nil {
			p.Abort()
			return 0, err
		}
	}
	return len(keep), p.Commit()
}
