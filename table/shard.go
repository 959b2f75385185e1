package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/featurizer/featurizer/storage"
)

// Shard is one of Count workers writing the same table; the zero value
// (or Count <= 1) is an unsharded run.
type Shard struct {
	Index, Count int
	// Gen is the generation of an incremental run (0 for the first).
	Gen int
}

// Sharded reports whether the run is one of several.
func (s Shard) Sharded() bool { return s.Count > 1 }

// String is "i/n".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// ParseShard reads "i/n" (0 <= i < n).
func ParseShard(v string) (Shard, error) {
	var s Shard
	if _, err := fmt.Sscanf(v, "%d/%d", &s.Index, &s.Count); err != nil || s.Count < 1 || s.Index < 0 || s.Index >= s.Count || fmt.Sprintf("%d/%d", s.Index, s.Count) != v {
		return Shard{}, fmt.Errorf("--shard: expected i/n with 0 <= i < n, e.g. 2/4, got %q", v)
	}
	return s, nil
}

// PartName names part k of this shard: part-00007.parquet unsharded,
// part-s002-00007.parquet for shard 2.
func (s Shard) PartName(k int) string {
	return fmt.Sprintf("%s%05d.parquet", s.prefix(), k)
}

// prefix is what the names of this shard's (and generation's) parts
// start with.
func (s Shard) prefix() string {
	p := "part-"
	if s.Gen > 0 {
		p += fmt.Sprintf("g%04d-", s.Gen)
	}
	if s.Sharded() {
		p += fmt.Sprintf("s%03d-", s.Index)
	}
	return p
}

// PartIndex returns k when name is this shard's part k.
func (s Shard) PartIndex(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, s.prefix())
	if !ok {
		return 0, false
	}
	var k int
	if _, err := fmt.Sscanf(rest, "%05d.parquet", &k); err != nil || s.PartName(k) != name {
		return 0, false
	}
	return k, true
}

// ShardsDir holds one file per finished shard; the last one to finish
// writes the table's manifest.
const ShardsDir = "_shards"

func (s Shard) doneFile() string {
	if s.Gen > 0 {
		return path.Join(ShardsDir, fmt.Sprintf("shard-g%04d-%03d-of-%03d.json", s.Gen, s.Index, s.Count))
	}
	return path.Join(ShardsDir, fmt.Sprintf("shard-%03d-of-%03d.json", s.Index, s.Count))
}

// Done reports whether this shard has recorded its finish in dir.
func (s Shard) Done(ctx context.Context, dir storage.Store) bool {
	_, err := dir.ReadFile(ctx, s.doneFile())
	return err == nil
}

// removeTemps deletes the temporaries this shard's killed run left, and
// only those: the other shards, running now, have theirs in flight. With
// overwrite, those of parts no shard of this layout writes go too.
func (s Shard) removeTemps(ctx context.Context, dir storage.Store, overwrite bool) error {
	own := []string{"." + s.prefix(), "." + path.Base(s.doneFile()) + ".tmp-", fmt.Sprintf("._summary-s%03d.json.tmp-", s.Index)}
	for _, sub := range []string{"", RejectsDir, ShardsDir} {
		ents, err := dir.List(ctx, sub)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		for _, e := range ents {
			if e.IsDir || !storage.IsTemp(e.Name) {
				continue
			}
			mine := false
			for _, p := range own {
				mine = mine || strings.HasPrefix(e.Name, p)
			}
			if !mine && sub == "" && isLeaseTemp(e.Name) && leftoverLeaseTemp(dir, e.Name) {
				mine = true
			}
			if !mine && overwrite && sub != ShardsDir {
				inner, _, _ := strings.Cut(strings.TrimPrefix(e.Name, "."), ".tmp-")
				if p, ok := parsePartName(inner); ok && !s.inLayout(p) {
					mine = true
				}
			}
			if mine {
				if err := dir.Remove(ctx, path.Join(sub, e.Name)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// ShardDone records a finished shard. When every shard of the run has
// finished, it completes the table (see Finish: the folder is checked
// against the manifest, then the manifest and _SUCCESS are written) and
// reports true. Two shards finishing together may both complete it, with
// the same content.
func ShardDone(ctx context.Context, dir storage.Store, s Shard, m Manifest, o FinishOptions) (bool, error) {
	return ShardDoneThen(ctx, dir, s, m, nil, o)
}

// ShardDoneThen is ShardDone with a last step before the table's manifest:
// complete sees the shards' manifests and the summed one, and may change
// the latter (an incremental run adds the table's earlier parts). It may
// run in two shards at once, so it must be idempotent.
func ShardDoneThen(ctx context.Context, dir storage.Store, s Shard, m Manifest, complete func(shards []Manifest, total *Manifest) error, o FinishOptions) (bool, error) {
	if err := WriteJSON(ctx, dir, s.doneFile(), m); err != nil {
		return false, err
	}
	var all []Manifest
	for i := 0; i < s.Count; i++ {
		name := Shard{Index: i, Count: s.Count, Gen: s.Gen}.doneFile()
		b, err := dir.ReadFile(ctx, name)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil // another shard is still running
		}
		if err != nil {
			return false, err
		}
		var sm Manifest
		if err := json.Unmarshal(b, &sm); err != nil {
			return false, err
		}
		if m.Job != "" && sm.Job != m.Job {
			// An older table's record: that shard has not run yet (it
			// replaces its own record when it does).
			return false, nil
		}
		all = append(all, sm)
	}
	total := m
	total.Parts, total.RejectParts, total.Rows, total.Rejected, total.Drop = nil, nil, 0, 0, nil
	for _, sm := range all {
		total.Parts = append(total.Parts, sm.Parts...)
		total.RejectParts = append(total.RejectParts, sm.RejectParts...)
		total.Rows += sm.Rows
		total.Rejected += sm.Rejected
		if sm.Created.After(total.Created) {
			total.Created = sm.Created
		}
	}
	if complete != nil {
		if err := complete(all, &total); err != nil {
			return false, err
		}
	}
	sort.Slice(total.Parts, func(i, j int) bool { return total.Parts[i].File < total.Parts[j].File })
	sort.Slice(total.RejectParts, func(i, j int) bool { return total.RejectParts[i].File < total.RejectParts[j].File })
	if err := Finish(ctx, dir, total, o); err != nil {
		return false, err
	}
	return true, nil
}

// PartInputsKey is the footer key recording which inputs a part covers:
// resuming checks that the input listing is still the same.
const PartInputsKey = "featurizer.part_inputs"

// PartInputs is the value of PartInputsKey.
type PartInputs struct {
	First       string `json:"first"`
	Last        string `json:"last"`
	Inputs      int64  `json:"inputs"` // rows + rejects
	RowsPerPart int    `json:"rows_per_part"`
	// Items are the part's inputs (rows and rejects) with what identifies
	// their content: an incremental run redoes only new or changed ones.
	Items []InputRef `json:"items,omitempty"`
}

// InputRef is one input as it was listed.
type InputRef struct {
	Path    string `json:"p"`
	Size    int64  `json:"s"`
	Version string `json:"v,omitempty"` // ETag/MD5 or modification time
}

// Committed is a part an interrupted run finished.
type Committed struct {
	Index      int
	Part       PartInfo
	Rejects    *PartInfo
	Inputs     PartInputs
	Provenance string // the footer's provenance JSON
	// Job is the job that wrote it (nil: a part from before RunKey).
	Job *Job
}

// ScanCommitted lists this shard's committed parts in dir (a part file is
// the commit point: its rejects part, when there is one, was committed
// before it).
func ScanCommitted(ctx context.Context, dir storage.Store, s Shard) (map[int]Committed, error) {
	out := map[int]Committed{}
	ents, err := dir.List(ctx, "")
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	rejects := map[string]bool{}
	if rej, err := dir.List(ctx, RejectsDir); err == nil {
		for _, e := range rej {
			rejects[e.Name] = true
		}
	}
	for _, e := range ents {
		n := e.Name
		k, ok := s.PartIndex(n)
		if !ok {
			continue
		}
		meta, rows, err := footerOf(ctx, dir, n)
		if err != nil {
			return nil, fmt.Errorf("committed part %s: %w", dir.Path(n), err)
		}
		c := Committed{Index: k, Part: PartInfo{File: n, Rows: int(rows)}, Provenance: meta[MetadataKey], Job: JobOf(meta)}
		if err := json.Unmarshal([]byte(meta[PartInputsKey]), &c.Inputs); err != nil {
			return nil, fmt.Errorf("committed part %s has no %s footer: written by another version; pass --overwrite", n, PartInputsKey)
		}
		if rejects[n] {
			rej := path.Join(RejectsDir, n)
			if _, rrows, err := footerOf(ctx, dir, rej); err == nil {
				c.Rejects = &PartInfo{File: rej, Rows: int(rrows)}
			}
		}
		out[k] = c
	}
	return out, nil
}
