package table

import (
	"context"
	"encoding/json"
)

// PartWriter writes a run's rows of type T into part files. Part k holds
// the inputs [k*RowsPerPart, (k+1)*RowsPerPart) of the input order,
// whether they became rows or rejects, so a part's content depends only
// on the input and a rerun can tell which parts are complete. Each part is
// committed (made visible) once the inputs move past it, after checking
// that the run still holds the output; parts an interrupted run committed
// are never rewritten.
type PartWriter[T any] struct {
	ctx     context.Context
	w       *Writer
	perPart int64
	meta    map[string]string

	cur         int64  // index of the open part
	first, last string // inputs of the open part
	inputs      int64
	items       []InputRef
	part        *Part[T]
	rej         *Part[RejectRow]
	rows        []T
	rejRows     []RejectRow
}

// NewPartWriter writes w's parts; ctx bounds the lease checks before each
// commit (a commit itself is never cut short).
func NewPartWriter[T any](ctx context.Context, w *Writer) *PartWriter[T] {
	return &PartWriter[T]{ctx: ctx, w: w, perPart: int64(w.o.RowsPerPart), meta: w.Footer(), cur: -1}
}

// Row adds the row of input seq (its index in this shard's input order,
// ascending across calls).
func (p *PartWriter[T]) Row(seq int64, in InputRef, row T) error {
	if err := p.advance(seq, in); err != nil {
		return err
	}
	p.rows = append(p.rows, row)
	return nil
}

// Reject adds input seq as a reject: stage and why.
func (p *PartWriter[T]) Reject(seq int64, in InputRef, stage, why string) error {
	if err := p.advance(seq, in); err != nil {
		return err
	}
	p.rejRows = append(p.rejRows, RejectRow{Path: in.Path, Stage: stage, Error: why})
	return nil
}

// advance moves to the part of input seq, committing those before it.
func (p *PartWriter[T]) advance(seq int64, in InputRef) error {
	k := seq / p.perPart
	for k != p.cur {
		if err := p.flush(); err != nil {
			return err
		}
		if err := p.commit(); err != nil {
			return err
		}
		p.cur++
	}
	if p.inputs == 0 {
		p.first = in.Path
	}
	p.last = in.Path
	p.inputs++
	p.items = append(p.items, in)
	return nil
}

// Flush writes the rows added so far into the open part (call it after
// each batch: rows are buffered until then).
func (p *PartWriter[T]) Flush() error { return p.flush() }

func (p *PartWriter[T]) flush() error {
	if p.cur < 0 {
		return nil
	}
	if _, done := p.w.committed[int(p.cur)]; done {
		p.rows, p.rejRows = p.rows[:0], p.rejRows[:0]
		return nil
	}
	name := p.w.shard.PartName(int(p.cur))
	if p.part == nil {
		part, err := NewPart[T](p.ctx, p.w.dir, name, p.meta)
		if err != nil {
			return err
		}
		p.part = part
	}
	if len(p.rows) > 0 {
		if err := p.part.Write(p.rows); err != nil {
			return err
		}
	}
	if len(p.rejRows) > 0 {
		if p.rej == nil {
			part, err := NewPart[RejectRow](p.ctx, p.w.dir, RejectsDir+"/"+name, p.meta)
			if err != nil {
				return err
			}
			p.rej = part
		}
		if err := p.rej.Write(p.rejRows); err != nil {
			return err
		}
	}
	p.rows, p.rejRows = p.rows[:0], p.rejRows[:0]
	return nil
}

// commit makes the open part (and its rejects, first) visible.
func (p *PartWriter[T]) commit() error {
	defer func() { p.first, p.last, p.inputs, p.items = "", "", 0, p.items[:0] }()
	if _, done := p.w.committed[int(p.cur)]; done {
		return nil
	}
	if p.rej != nil || p.part != nil {
		// A run that lost the output to another job commits nothing more.
		if err := p.w.lease.Check(p.ctx); err != nil {
			return err
		}
	}
	name := p.w.shard.PartName(int(p.cur))
	if p.rej != nil {
		if err := p.rej.Commit(); err != nil {
			return err
		}
		p.w.committedPart(nil, &PartInfo{File: RejectsDir + "/" + name, Rows: p.rej.Rows()})
		p.rej = nil
	}
	if p.part != nil {
		b, _ := json.Marshal(PartInputs{First: p.first, Last: p.last, Inputs: p.inputs, RowsPerPart: int(p.perPart), Items: p.items})
		p.part.SetMetadata(PartInputsKey, string(b))
		if err := p.part.Commit(); err != nil {
			return err
		}
		p.w.committedPart(&PartInfo{File: name, Rows: p.part.Rows()}, nil)
		p.part = nil
	}
	return nil
}

// Close commits the last part. An empty input still gets one (empty) part
// so that readers find the schema, unless the run resumed parts or adds
// to a table (an incremental run with nothing new).
func (p *PartWriter[T]) Close() error {
	if p.cur < 0 && (len(p.w.committed) > 0 || p.w.base != nil) {
		return nil // everything was written by the interrupted run, or nothing is new
	}
	if p.cur < 0 {
		p.cur = 0
		if err := p.flush(); err != nil {
			return err
		}
	}
	return p.commit()
}

// Abort drops the parts in progress; committed parts stay.
func (p *PartWriter[T]) Abort() {
	if p.part != nil {
		p.part.Abort()
		p.part = nil
	}
	if p.rej != nil {
		p.rej.Abort()
		p.rej = nil
	}
}
