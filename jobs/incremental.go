package jobs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

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
	// _SUCCESS before the manifest: a run that overwrites the table removes
	// the manifest first (table.Prepare), so a shard of it starting
	// meanwhile never sees a manifest without _SUCCESS, which would look
	// like an interrupted incremental run.
	complete := true
	if _, err := s.out.ReadFile(ctx, table.SuccessFile); errors.Is(err, fs.ErrNotExist) {
		complete = false
	} else if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	m, err := table.ReadManifestDir(ctx, s.out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	if complete && !c.Incremental {
		return nil, nil // table.Prepare refuses it, or overwrites it
	}
	// Whatever decides the rows must be what it was: the backbone, its
	// weights, the preprocessing, the labels, and the limits that decide
	// which inputs are rejected (--max-pixels, --max-bytes, --fast-decode).
	diff := m.Provenance.Diff(s.prov)
	if m.Kind != "features" {
		diff = append([]string{fmt.Sprintf("kind: %s in the table, features now", m.Kind)}, diff...)
	}
	if len(diff) > 0 {
		if c.Overwrite {
			c.note("incremental: %s was made with other settings (%s): starting over", c.Output, strings.Join(diff, "; "))
			return nil, nil
		}
		return nil, &ConfigError{fmt.Errorf("output: %s holds a table made with other settings (%s); pass --overwrite to start over", c.Output, strings.Join(diff, "; "))}
	}
	index, err := table.ReadIndex(ctx, s.out, m)
	if err != nil {
		if c.Overwrite {
			c.note("incremental: %v: starting over", err)
			return nil, nil
		}
		return nil, &ConfigError{fmt.Errorf("output: %w; pass --overwrite to start over", err)}
	}
	inc := &incremental{base: m, index: index, gen: m.Generation + 1, seen: map[string]bool{}, changed: map[string]bool{}}
	inc.stats.Generation = inc.gen // the Writer's parts are of this generation (table.Writer.Prepare)
	// known: the table has a row or reject for it; changed: since then.
	look := func(it inputs.Item) (known, changed bool) {
		old, ok := index[it.Path]
		return ok, ok && (old.Ref.Size != it.Size || old.Ref.Version != it.Version)
	}
	s.src.SetFilter(func(it inputs.Item) bool {
		inc.seen[it.Path] = true
		known, changed := look(it)
		switch {
		case !known:
			inc.stats.New++
		case changed:
			inc.changed[it.Path] = true
			inc.stats.Changed++
		default:
			inc.stats.Unchanged++
			return false
		}
		return true
	}, func(it inputs.Item) bool { // the same choice, for the count ahead: no books
		known, changed := look(it)
		return !known || changed
	})
	c.note("incremental: adding generation %d to %s (%d inputs in it)", inc.gen, c.Output, len(index))
	return inc, nil
}

// drop lists the inputs of the table's earlier parts whose rows go: those
// that changed, and those of this shard that are no longer listed.
func (inc *incremental) drop(shard table.Shard) []string {
	var out []string
	for p := range inc.index {
		mine := !shard.Sharded() || inputs.ShardOf(p, shard.Count) == shard.Index
		switch {
		case inc.changed[p]:
			out = append(out, p)
		case mine && !inc.seen[p]:
			inc.stats.Removed++
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// apply drops the rows of the inputs in drop from the table's earlier
// parts (rewriting only the parts that hold some) and returns those parts
// for the manifest. Run twice with the same drop, it gives the same table.
func (inc *incremental) apply(ctx context.Context, out storage.Store, drop []string) (parts, rejects []table.PartInfo, err error) {
	dropSet := map[string]bool{}
	affected := map[string]bool{}
	for _, p := range drop {
		dropSet[p] = true
		if e, ok := inc.index[p]; ok {
			affected[e.Part] = true
		}
	}
	ctx = context.WithoutCancel(ctx)
	rejectRows := map[string]int{}
	for _, r := range inc.base.RejectParts {
		rejectRows[r.File] = r.Rows
	}
	for _, p := range inc.base.Parts {
		rej := path.Join(table.RejectsDir, p.File)
		if affected[p.File] {
			rows, rejected, err := table.FilterPart(ctx, out, p.File, dropSet)
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

// complete is the last shard's step of a sharded incremental run: the
// drops of every shard are applied to the earlier parts, which join the
// new ones in the table's manifest.
func (inc *incremental) complete(ctx context.Context, out storage.Store) func([]table.Manifest, *table.Manifest) error {
	return func(shards []table.Manifest, total *table.Manifest) error {
		var drop []string
		for _, m := range shards {
			drop = append(drop, m.Drop...)
		}
		parts, rejects, err := inc.apply(ctx, out, drop)
		if err != nil {
			return err
		}
		total.Parts = append(total.Parts, parts...)
		total.RejectParts = append(total.RejectParts, rejects...)
		total.Rows, total.Rejected = 0, 0
		for _, p := range total.Parts {
			total.Rows += int64(p.Rows)
		}
		for _, p := range total.RejectParts {
			total.Rejected += int64(p.Rows)
		}
		total.Generation, total.Drop = inc.gen, nil
		return nil
	}
}
