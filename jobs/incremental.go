package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/featurizer/featurizer/inputs"
	"github.com/featurizer/featurizer/storage"
	"github.com/featurizer/featurizer/table"
)

// incremental is a run that adds to a complete feature table: the table's
// parts stay (minus the rows of changed and removed inputs) and a new
// generation of parts holds the new and changed inputs.
type incremental struct {
	base    *table.Manifest
	index   map[string]table.Indexed
	gen     int
	seen    map[string]bool
	changed map[string]bool
	stats   IncrementalStats
}

// incremental decides whether this run adds to the table in the output,
// and if so prepares it. A table whose manifest is there without _SUCCESS
// is an incremental run that was interrupted: it goes on, flag or not.
func (s *setup) incremental(ctx context.Context, c *Common) (*incremental, error) {
	m, err := table.ReadManifestDir(ctx, s.out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	complete := true
	if _, err := s.out.ReadFile(ctx, table.SuccessFile); errors.Is(err, fs.ErrNotExist) {
		complete = false
	} else if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	if complete && !c.Incremental {
		return nil, nil // PrepareShard refuses it, or overwrites it
	}
	a, _ := json.Marshal(m.Provenance)
	b, _ := json.Marshal(s.prov)
	if m.Kind != "features" || string(a) != string(b) {
		if c.Overwrite {
			c.note("incremental: %s was made with other settings (backbone, weights, preprocessing or labels): starting over", c.Output)
			return nil, nil
		}
		return nil, &ConfigError{fmt.Errorf("output: %s holds a table made with other settings (backbone, weights, preprocessing or labels); pass --overwrite to start over", c.Output)}
	}
	index, err := table.ReadIndex(ctx, s.out, m.Parts)
	if err != nil {
		if c.Overwrite {
			c.note("incremental: %v: starting over", err)
			return nil, nil
		}
		return nil, &ConfigError{fmt.Errorf("output: %w; pass --overwrite to start over", err)}
	}
	inc := &incremental{base: m, index: index, gen: m.Generation + 1, seen: map[string]bool{}, changed: map[string]bool{}}
	inc.stats.Generation = inc.gen
	c.Shard.Gen = inc.gen
	// From here until the new manifest the table is being changed.
	if err := s.out.Remove(ctx, table.SuccessFile); err != nil {
		return nil, err
	}
	s.src.SetFilter(func(it inputs.Item) bool {
		inc.seen[it.Path] = true
		old, ok := index[it.Path]
		switch {
		case !ok:
			inc.stats.New++
		case old.Ref.Size != it.Size || old.Ref.Version != it.Version:
			inc.changed[it.Path] = true
			inc.stats.Changed++
		default:
			inc.stats.Unchanged++
			return false
		}
		return true
	})
	c.note("incremental: adding generation %d to %s (%d inputs in it)", inc.gen, c.Output, len(index))
	return inc, nil
}

// finish drops the rows of changed and removed inputs from the table's
// earlier parts and returns them for the manifest.
func (inc *incremental) finish(ctx context.Context, out storage.Dir) (parts, rejects []table.PartInfo, err error) {
	drop := map[string]bool{}
	for p, e := range inc.index {
		if inc.changed[p] || !inc.seen[p] {
			drop[p] = true
			if !inc.seen[p] {
				inc.stats.Removed++
			}
			_ = e
		}
	}
	affected := map[string]bool{}
	for p := range drop {
		affected[inc.index[p].Part] = true
	}
	ctx = context.WithoutCancel(ctx)
	rejectRows := map[string]int{}
	for _, r := range inc.base.RejectParts {
		rejectRows[r.File] = r.Rows
	}
	for _, p := range inc.base.Parts {
		rej := path.Join(table.RejectsDir, p.File)
		if affected[p.File] {
			rows, rejected, err := table.FilterPart(ctx, out, p.File, drop)
			if err != nil {
				return nil, nil, fmt.Errorf("incremental: drop changed and removed inputs from %s: %w", p.File, err)
			}
			p.Rows = rows
			if _, ok := rejectRows[rej]; ok {
				rejectRows[rej] = rejected
			}
		}
		parts = append(parts, p)
		if n, ok := rejectRows[rej]; ok {
			rejects = append(rejects, table.PartInfo{File: rej, Rows: n})
		}
	}
	return parts, rejects, nil
}
