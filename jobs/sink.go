package jobs

import (
	"context"
	"encoding/json"

	"github.com/featurizer/featurizer/featurize"
	"github.com/featurizer/featurizer/storage"
	"github.com/featurizer/featurizer/table"
)

// partSink writes results into part files. Part k holds the inputs
// [k*perPart, (k+1)*perPart) of the input order, whether they became rows
// or rejects, so a part's content depends only on the input and a rerun
// can tell which parts are complete.
type partSink[T any] struct {
	ctx     context.Context
	dir     storage.Dir
	shard   table.Shard
	perPart int64
	meta    map[string]string
	toRow   func(featurize.Result) T

	cur         int64                   // index of the open part
	committed   map[int]table.Committed // parts an interrupted run finished: never rewritten
	first, last string                  // inputs of the open part
	inputs      int64
	items       []table.InputRef
	noEmpty     bool         // no empty part when there is nothing to write (an incremental run)
	check       func() error // before each commit: the run still holds the output
	part        *table.Part[T]
	rej         *table.Part[table.RejectRow]
	rows        []T
	rejRows     []table.RejectRow
	parts       []table.PartInfo
	rejectParts []table.PartInfo
}

func newPartSink[T any](ctx context.Context, dir storage.Dir, shard table.Shard, perPart int, meta map[string]string, toRow func(featurize.Result) T) *partSink[T] {
	return &partSink[T]{ctx: ctx, dir: dir, shard: shard, perPart: int64(perPart), meta: meta, toRow: toRow, cur: -1}
}

func (s *partSink[T]) Write(results []featurize.Result) error {
	s.rows, s.rejRows = s.rows[:0], s.rejRows[:0]
	for _, r := range results {
		k := r.Item.Seq / s.perPart
		for k != s.cur {
			if err := s.flush(); err != nil {
				return err
			}
			if err := s.commit(); err != nil {
				return err
			}
			s.cur++
		}
		if s.inputs == 0 {
			s.first = r.Item.Path
		}
		s.last = r.Item.Path
		s.inputs++
		s.items = append(s.items, table.InputRef{Path: r.Item.Path, Size: r.Item.Size, Version: r.Item.Version})
		if r.Reject != nil {
			s.rejRows = append(s.rejRows, table.RejectRow{Path: r.Item.Path, Stage: r.Reject.Stage, Error: r.Reject.Err})
		} else {
			s.rows = append(s.rows, s.toRow(r))
		}
	}
	return s.flush()
}

// flush writes the buffered rows of the current part.
func (s *partSink[T]) flush() error {
	if s.cur < 0 {
		return nil
	}
	if _, done := s.committed[int(s.cur)]; done {
		return nil
	}
	if s.part == nil {
		p, err := table.NewPart[T](s.ctx, s.dir, s.shard.PartName(int(s.cur)), s.meta)
		if err != nil {
			return err
		}
		s.part = p
	}
	if len(s.rows) > 0 {
		if err := s.part.Write(s.rows); err != nil {
			return err
		}
	}
	if len(s.rejRows) > 0 {
		if s.rej == nil {
			p, err := table.NewPart[table.RejectRow](s.ctx, s.dir, table.RejectsDir+"/"+s.shard.PartName(int(s.cur)), s.meta)
			if err != nil {
				return err
			}
			s.rej = p
		}
		if err := s.rej.Write(s.rejRows); err != nil {
			return err
		}
	}
	s.rows, s.rejRows = s.rows[:0], s.rejRows[:0]
	return nil
}

// commit makes the current part (and its rejects) visible.
func (s *partSink[T]) commit() error {
	defer func() { s.first, s.last, s.inputs, s.items = "", "", 0, s.items[:0] }()
	if _, done := s.committed[int(s.cur)]; done {
		return nil
	}
	if s.check != nil && (s.rej != nil || s.part != nil) {
		if err := s.check(); err != nil {
			return err
		}
	}
	if s.rej != nil {
		if err := s.rej.Commit(); err != nil {
			return err
		}
		s.rejectParts = append(s.rejectParts, table.PartInfo{File: table.RejectsDir + "/" + s.shard.PartName(int(s.cur)), Rows: s.rej.Rows()})
		s.rej = nil
	}
	if s.part != nil {
		b, _ := json.Marshal(table.PartInputs{First: s.first, Last: s.last, Inputs: s.inputs, RowsPerPart: int(s.perPart), Items: s.items})
		s.part.SetMetadata(table.PartInputsKey, string(b))
		if err := s.part.Commit(); err != nil {
			return err
		}
		s.parts = append(s.parts, table.PartInfo{File: s.shard.PartName(int(s.cur)), Rows: s.part.Rows()})
		s.part = nil
	}
	return nil
}

// close commits the last part. An empty input still gets one (empty) part
// so that readers find the schema.
func (s *partSink[T]) close() error {
	if s.cur < 0 && (len(s.committed) > 0 || s.noEmpty) {
		return nil // everything was written by the interrupted run, or nothing is new
	}
	if s.cur < 0 {
		s.cur = 0
		if err := s.flush(); err != nil {
			return err
		}
	}
	return s.commit()
}

// abort drops the parts in progress; committed parts stay.
func (s *partSink[T]) abort() {
	if s.part != nil {
		s.part.Abort()
		s.part = nil
	}
	if s.rej != nil {
		s.rej.Abort()
		s.rej = nil
	}
}
