package table

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Shard is one of Count workers writing the same table; the zero value
// (or Count <= 1) is an unsharded run.
type Shard struct {
	Index, Count int
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
	if !s.Sharded() {
		return PartName(k)
	}
	return fmt.Sprintf("part-s%03d-%05d.parquet", s.Index, k)
}

// ShardsDir holds one file per finished shard; the last one to finish
// writes the table's manifest.
const ShardsDir = "_shards"

func (s Shard) doneFile() string {
	return filepath.Join(ShardsDir, fmt.Sprintf("shard-%03d-of-%03d.json", s.Index, s.Count))
}

func (s Shard) owns(name string) bool {
	return strings.HasPrefix(name, fmt.Sprintf("part-s%03d-", s.Index))
}

// PrepareShard readies dir for this shard: other shards' files are left
// alone; this shard's own parts are refused (or removed with overwrite);
// the table-level manifest and _SUCCESS go, since the table is being
// rewritten.
func PrepareShard(dir string, s Shard, overwrite bool) error {
	if !s.Sharded() {
		return PrepareDir(dir, overwrite)
	}
	if err := os.MkdirAll(filepath.Join(dir, RejectsDir), 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var mine, foreign []string
	for _, e := range ents {
		n := e.Name()
		switch {
		case s.owns(n):
			mine = append(mine, n)
		case isTableFile(n) || n == ShardsDir || strings.HasPrefix(n, "."):
		default:
			foreign = append(foreign, n)
		}
	}
	if len(foreign) > 0 {
		return fmt.Errorf("%w: %s holds %s, which featurizer did not write", ErrOutputExists, dir, strings.Join(foreign, ", "))
	}
	if len(mine) > 0 && !overwrite {
		if _, err := os.Stat(filepath.Join(dir, s.doneFile())); err == nil {
			return fmt.Errorf("%w: %s already holds the finished parts of shard %s; pass --overwrite to redo them", ErrOutputExists, dir, s)
		}
		// This shard was interrupted: it resumes.
		for _, n := range []string{ManifestFile, SuccessFile} {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return removeTemps(dir)
	}
	rej, _ := os.ReadDir(filepath.Join(dir, RejectsDir))
	for _, e := range rej {
		if s.owns(e.Name()) {
			mine = append(mine, filepath.Join(RejectsDir, e.Name()))
		}
	}
	for _, n := range append(mine, s.doneFile(), ManifestFile, SuccessFile) {
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// ShardDone records a finished shard. When every shard of the run has
// finished, it writes the table's manifest (all parts, the summed counts)
// and _SUCCESS, and reports true. Two shards finishing together may both
// write them, with the same content.
func ShardDone(dir string, s Shard, m Manifest) (bool, error) {
	if err := WriteJSONAtomic(filepath.Join(dir, s.doneFile()), m); err != nil {
		return false, err
	}
	var all []Manifest
	for i := 0; i < s.Count; i++ {
		b, err := os.ReadFile(filepath.Join(dir, Shard{i, s.Count}.doneFile()))
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
	sort.Slice(total.Parts, func(i, j int) bool { return total.Parts[i].File < total.Parts[j].File })
	sort.Slice(total.RejectParts, func(i, j int) bool { return total.RejectParts[i].File < total.RejectParts[j].File })
	if err := WriteJSONAtomic(filepath.Join(dir, ManifestFile), total); err != nil {
		return false, err
	}
	return true, WriteFileAtomic(filepath.Join(dir, SuccessFile), nil)
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
func ScanCommitted(dir string, s Shard) (map[int]Committed, error) {
	out := map[int]Committed{}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		n := e.Name()
		var k int
		if s.Sharded() {
			var si int
			if _, err := fmt.Sscanf(n, "part-s%03d-%05d.parquet", &si, &k); err != nil || si != s.Index || s.PartName(k) != n {
				continue
			}
		} else if _, err := fmt.Sscanf(n, "part-%05d.parquet", &k); err != nil || PartName(k) != n {
			continue
		}
		meta, rows, err := footer(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("committed part %s: %w", n, err)
		}
		c := Committed{Index: k, Part: PartInfo{File: n, Rows: int(rows)}, Provenance: meta[MetadataKey]}
		if err := json.Unmarshal([]byte(meta[PartInputsKey]), &c.Inputs); err != nil {
			return nil, fmt.Errorf("committed part %s has no %s footer: written by another version; pass --overwrite", n, PartInputsKey)
		}
		rej := filepath.Join(RejectsDir, n)
		if _, rrows, err := footer(filepath.Join(dir, rej)); err == nil {
			c.Rejects = &PartInfo{File: filepath.ToSlash(rej), Rows: int(rrows)}
		}
		out[k] = c
	}
	return out, nil
}

func footer(path string) (map[string]string, int64, error) {
	meta, err := FooterMetadata(path)
	if err != nil {
		return nil, 0, err
	}
	n, err := NumRows(path)
	return meta, n, err
}
