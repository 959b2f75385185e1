package jobs

import (
	"context"

	"github.com/featurizer/featurizer/featurize"
	"github.com/featurizer/featurizer/table"
)

// partSink is the pipeline's sink: each result becomes a row (made by
// toRow) or a reject of the table's parts (table.PartWriter).
type partSink[T any] struct {
	parts *table.PartWriter[T]
	toRow func(featurize.Result) T
}

func newPartSink[T any](ctx context.Context, w *table.Writer, toRow func(featurize.Result) T) *partSink[T] {
	return &partSink[T]{parts: table.NewPartWriter[T](ctx, w), toRow: toRow}
}

func (s *partSink[T]) Write(results []featurize.Result) error {
	for _, r := range results {
		in := table.InputRef{Path: r.Item.Path, Size: r.Item.Size, Version: r.Item.Version}
		var err error
		if r.Reject != nil {
			err = s.parts.Reject(r.Item.Seq, in, r.Reject.Stage, r.Reject.Err)
		} else {
			err = s.parts.Row(r.Item.Seq, in, s.toRow(r))
		}
		if err != nil {
			return err
		}
	}
	return s.parts.Flush()
}

// close commits the last part.
func (s *partSink[T]) close() error { return s.parts.Close() }

// abort drops the parts in progress; committed parts stay.
func (s *partSink[T]) abort() { s.parts.Abort() }
