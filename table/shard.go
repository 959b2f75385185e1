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
func (s Shard) Done(ctx context.Context, dir storage.Dir) bool {
	_, err := dir.ReadFile(ctx, s.doneFile())
	return err == nil
}

func (s Shard) owns(name string) bool {
	return strings.HasPrefix(name, s.prefix())
}

// PrepareShard readies dir for this shard: other shards' files are left
// alone; this shard's own parts are refused (or removed with overwrite);
// the table-level manifest and _SUCCESS go, since the table is being
// rewritten.
func PrepareShard(ctx context.Context, dir storage.Dir, s Shard, overwrite bool) error {
	if !s.Sharded() {
		return PrepareDir(ctx, dir, overwrite)
	}
	if err := mkdir(dir); err != nil {
		return err
	}
	ents, err := dir.List(ctx, "")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var mine, foreign []string
	for _, e := range ents {
		n := e.Name
		switch {
		case s.owns(n):
			mine = append(mine, n)
		case isTableFile(n) || n == ShardsDir || strings.HasPrefix(n, "."):
		default:
			foreign = append(foreign, n)
		}
	}
	if len(foreign) > 0 {
		return fmt.Errorf("%w: %s holds %s, which featurizer did not write", ErrOutputExists, dir.Location(), strings.Join(foreign, ", "))
	}
	if len(mine) > 0 && !overwrite {
		if exists(ctx, dir, s.doneFile()) {
			return fmt.Errorf("%w: %s already holds the finished parts of shard %s; pass --overwrite to redo them", ErrOutputExists, dir.Location(), s)
		}
		// This shard was interrupted: it resumes.
		for _, n := range []string{ManifestFile, SuccessFile} {
			if err := dir.Remove(ctx, n); err != nil {
				return err
			}
		}
		return s.removeTemps(ctx, dir)
	}
	rej, _ := dir.List(ctx, RejectsDir)
	for _, e := range rej {
		if s.owns(e.Name) {
			mine = append(mine, path.Join(RejectsDir, e.Name))
		}
	}
	for _, n := range append(mine, s.doneFile(), ManifestFile, SuccessFile) {
		if err := dir.Remove(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// PrepareIncrementalShard readies dir for this shard of an incremental run:
// the table's parts and manifest stay (they are its base); a shard that
// already finished this generation is refused; leftovers of a killed run
// go.
func PrepareIncrementalShard(ctx context.Context, dir storage.Dir, s Shard) error {
	if s.Done(ctx, dir) {
		return fmt.Errorf("%w: %s already holds the finished parts of shard %s of this incremental run", ErrOutputExists, dir.Location(), s)
	}
	return s.removeTemps(ctx, dir)
}

// removeTemps deletes the temporaries this shard's killed run left, and
// only those: the other shards, running now, have theirs in flight.
func (s Shard) removeTemps(ctx context.Context, dir storage.Dir) error {
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
			for _, p := range own {
				if strings.HasPrefix(e.Name, p) {
					if err := dir.Remove(ctx, path.Join(sub, e.Name)); err != nil {
						return err
					}
					break
				}
			}
		}
	}
	return nil
}

// ShardDone records a finished shard. When every shard of the run has
// finished, it writes the table's manifest (all parts, the summed counts)
// and _SUCCESS, and reports true. Two shards finishing together may both
// write them, with the same content.
func ShardDone(ctx context.Context, dir storage.Dir, s Shard, m Manifest) (bool, error) {
	return ShardDoneThen(ctx, dir, s, m, nil)
}

// ShardDoneThen is ShardDone with a last step before the table's manifest:
// complete sees the shards' manifests and the summed one, and may change
// the latter (an incremental run adds the table's earlier parts). It may
// run in two shards at once, so it must be idempotent.
func ShardDoneThen(ctx context.Context, dir storage.Dir, s Shard, m Manifest, complete func(shards []Manifest, total *Manifest) error) (bool, error) {
	if err := WriteJSON(ctx, dir, s.doneFile(), m); err != nil {
		return false, err
	}
	var all []Manifest
	for i := 0; i < s.Count; i++ {
		b, err := dir.ReadFile(ctx, Shard{Index: i, Count: s.Count, Gen: s.Gen}.doneFile())
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
		all = append(all, sm)
	}
	total := all[0]
	total.Parts, total.RejectParts, total.Rows, total.Rejected = nil, nil, 0, 0
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
	if err := WriteJSON(ctx, dir, ManifestFile, total); err != nil {
		return false, err
	}
	return true, dir.WriteFile(ctx, SuccessFile, nil)
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
}

// ScanCommitted lists this shard's committed parts in dir (a part file is
// the commit point: its rejects part, when there is one, was committed
// before it).
func ScanCommitted(ctx context.Context, dir storage.Dir, s Shard) (map[int]Committed, error) {
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
		c := Committed{Index: k, Part: PartInfo{File: n, Rows: int(rows)}, Provenance: meta[MetadataKey]}
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
