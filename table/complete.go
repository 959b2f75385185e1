package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/featurizer/featurizer/storage"
)

// Every reader (train, predict --features, show, run's reuse of a table)
// goes through Verify, alone or inside OpenComplete: this file is the one
// place that says what a complete table is.
//
// A table is featurizer's when it has a manifest, _shards/, _rejects/ or a
// summary, or when one of its parts carries featurizer's provenance
// footer. Such a table is complete when it has _SUCCESS and _manifest.json
// and the parts the manifest lists are exactly the data files in the
// folder (Spark reads every name not starting with _ or .), each with the
// row count the manifest records and a provenance footer that agrees with
// the manifest. Any other folder of part-*.parquet files is a table from
// another tool (Spark, pandas): it has no provenance to check and is read
// as it is.

// Checked is what Verify learned about a table.
type Checked struct {
	Location string
	// Manifest is nil for a table from another tool (and for an incomplete
	// table without one).
	Manifest *Manifest
	// Provenance is the manifest's or, without a manifest, that of the
	// first part's footer; nil when there is none.
	Provenance *Provenance
	// Parts are the names of the part files: the manifest's, in its order;
	// without one, the part-*.parquet files of the folder, sorted.
	Parts []string
	// Featurizer: the table was written by featurizer.
	Featurizer bool
}

// IncompleteError says what a table lacks (or has too much of) and how to
// finish it.
type IncompleteError struct {
	Location string
	Missing  []string // files the table lacks
	Extra    []string // data files the manifest does not list
	Fix      string
}

func (e *IncompleteError) Error() string {
	var what []string
	if len(e.Missing) > 0 {
		what = append(what, "missing "+listNames(e.Missing))
	}
	if len(e.Extra) > 0 {
		what = append(what, listNames(e.Extra)+" in the folder but not in its "+ManifestFile+" (Spark would read them)")
	}
	return fmt.Sprintf("table %s is incomplete: %s; %s", e.Location, strings.Join(what, "; "), e.Fix)
}

// MismatchError is a part whose footer disagrees with the manifest.
type MismatchError struct {
	Location string
	Part     string
	Field    string // the provenance field, "rows", or MetadataKey when the footer has none
	Footer   string // the part's value
	Manifest string // the manifest's value
}

func (e *MismatchError) Error() string {
	if e.Field == MetadataKey {
		return fmt.Sprintf("table %s: part %s has no %s footer: it was not written with this table; remove it, or rerun featurize with --overwrite", e.Location, e.Part, MetadataKey)
	}
	return fmt.Sprintf("table %s: part %s disagrees with %s on %s: the part says %s, the manifest %s; the table was changed after it was written: rerun featurize with --overwrite to make it again",
		e.Location, e.Part, ManifestFile, e.Field, e.Footer, e.Manifest)
}

// NotTableError is a location that holds no table at all.
type NotTableError struct {
	Location string
	Why      string
}

func (e *NotTableError) Error() string {
	return fmt.Sprintf("%s is not a table: %s", e.Location, e.Why)
}

func listNames(names []string) string {
	const show = 5
	if len(names) <= show {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:show], ", "), len(names)-show)
}

// VerifyOptions tune Verify; the zero value checks everything.
type VerifyOptions struct {
	// SkipFooters leaves out the footer checks (one small read per part):
	// OpenComplete does them on the downloaded copy of a bucket's table.
	SkipFooters bool
}

// Verify checks that dir holds a complete table. On an *IncompleteError
// the returned Checked still describes what is there (show prints it).
func Verify(ctx context.Context, dir storage.Store, o VerifyOptions) (*Checked, error) {
	c := &Checked{Location: dir.Location()}
	ents, err := dir.List(ctx, "")
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(ents) == 0) {
		return nil, &NotTableError{c.Location, "no such directory, or it is empty"}
	}
	if err != nil {
		return nil, err
	}
	var hasManifest, hasSuccess, hasShards, bookkeeping bool
	var data, parquetParts []string // names Spark reads; the part-*.parquet among them
	for _, e := range ents {
		n := e.Name
		switch {
		case n == ManifestFile:
			hasManifest = true
		case n == SuccessFile:
			hasSuccess = true
		case n == ShardsDir:
			hasShards, bookkeeping = true, true
		case n == RejectsDir || (strings.HasPrefix(n, "_summary") && strings.HasSuffix(n, ".json")):
			bookkeeping = true
		case strings.HasPrefix(n, "_") || strings.HasPrefix(n, "."):
			// Hidden from Spark: temporaries, a writer's lease, others' files.
		default:
			if e.IsDir {
				data = append(data, n+"/")
				continue
			}
			data = append(data, n)
			if strings.HasPrefix(n, "part-") && strings.HasSuffix(n, ".parquet") {
				parquetParts = append(parquetParts, n)
			}
		}
	}
	sort.Strings(parquetParts)
	if hasManifest {
		if c.Manifest, err = ReadManifestDir(ctx, dir); err != nil {
			return c, &IncompleteError{Location: c.Location, Missing: []string{"a readable " + ManifestFile + " (" + err.Error() + ")"},
				Fix: "rerun the featurize command that wrote it with --overwrite to make it again"}
		}
		c.Featurizer = true
		p := c.Manifest.Provenance
		c.Provenance = &p
		for _, pi := range c.Manifest.Parts {
			c.Parts = append(c.Parts, pi.File)
		}
	} else {
		c.Parts = parquetParts
		// Without a manifest, the footers tell a featurizer table (a killed
		// job's parts) from another tool's.
		for _, n := range parquetParts {
			meta, _, err := footerOf(ctx, dir, n)
			if err != nil {
				return c, fmt.Errorf("read the footer of %s: %w", dir.Path(n), err)
			}
			if js, ok := meta[MetadataKey]; ok {
				c.Featurizer = true
				var p Provenance
				if json.Unmarshal([]byte(js), &p) == nil {
					c.Provenance = &p
				}
				break
			}
		}
		c.Featurizer = c.Featurizer || bookkeeping
	}
	if !c.Featurizer {
		if len(parquetParts) == 0 {
			return nil, &NotTableError{c.Location, "no part-*.parquet files"}
		}
		return c, nil
	}

	// A featurizer table: all of it, or nothing.
	inc := &IncompleteError{Location: c.Location}
	if !hasSuccess {
		inc.Missing = append(inc.Missing, SuccessFile)
	}
	if !hasManifest {
		inc.Missing = append(inc.Missing, ManifestFile)
	}
	if c.Manifest != nil {
		listed := map[string]bool{}
		for _, p := range c.Parts {
			listed[p] = true
		}
		present := map[string]bool{}
		for _, n := range data {
			present[n] = true
			if !listed[n] {
				inc.Extra = append(inc.Extra, n)
			}
		}
		for _, p := range c.Parts {
			if !present[p] {
				inc.Missing = append(inc.Missing, p+" (listed in "+ManifestFile+")")
			}
		}
	}
	if len(inc.Missing) == 0 && len(inc.Extra) == 0 {
		if o.SkipFooters {
			return c, nil
		}
		return c, CheckFooters(ctx, dir, c)
	}
	switch {
	case !hasSuccess || !hasManifest:
		inc.Fix = "the job writing it did not finish (or is still running): rerun the same featurize command to finish it (it resumes where it stopped), or rerun it with --overwrite to start over"
		if hasShards || shardedParts(data) {
			inc.Fix = "the sharded job writing it did not finish (or is still running)" + unfinishedShards(ctx, dir) +
				": rerun the same featurize --shard i/n command for every shard that did not finish (each resumes where it stopped; the last one writes the manifest and _SUCCESS), or rerun them all with --overwrite to start over"
		}
	default:
		inc.Fix = "the table was changed after it was written: restore the missing parts or remove the extra files, or rerun the featurize command with --overwrite to make it again"
	}
	return c, inc
}

// shardedParts reports whether any of names is a shard's part.
func shardedParts(names []string) bool {
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, "part-")
		if !ok {
			continue
		}
		if g, ok := strings.CutPrefix(rest, "g"); ok && len(g) > 5 {
			rest = g[5:] // part-gNNNN-...
		}
		if strings.HasPrefix(rest, "s") {
			return true
		}
	}
	return false
}

// unfinishedShards names the shards of the newest run recorded in _shards/
// that have not recorded their finish, when it can tell.
func unfinishedShards(ctx context.Context, dir storage.Store) string {
	ents, err := dir.List(ctx, ShardsDir)
	if err != nil {
		return ""
	}
	gen, count := -1, 0
	done := map[int]bool{}
	for _, e := range ents {
		var g, i, n int
		if _, err := fmt.Sscanf(e.Name, "shard-g%04d-%03d-of-%03d.json", &g, &i, &n); err != nil {
			g = 0
			if _, err := fmt.Sscanf(e.Name, "shard-%03d-of-%03d.json", &i, &n); err != nil {
				continue
			}
		}
		if g > gen {
			gen, count, done = g, n, map[int]bool{}
		}
		if g == gen {
			done[i] = true
		}
	}
	if count == 0 {
		return ""
	}
	var missing []string
	for i := 0; i < count; i++ {
		if !done[i] {
			missing = append(missing, fmt.Sprintf("%d/%d", i, count))
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return " (shards not finished: " + strings.Join(missing, ", ") + ")"
}

// CheckFooters checks every part's footer against the manifest: its row
// count and every provenance field (ProvenanceDiff).
func CheckFooters(ctx context.Context, dir storage.Store, c *Checked) error {
	if c.Manifest == nil {
		return nil
	}
	want := c.Manifest.Provenance
	for _, pi := range c.Manifest.Parts {
		meta, rows, err := footerOf(ctx, dir, pi.File)
		if err != nil {
			return fmt.Errorf("table %s: read the footer of part %s: %w", c.Location, pi.File, err)
		}
		js, ok := meta[MetadataKey]
		if !ok {
			return &MismatchError{Location: c.Location, Part: pi.File, Field: MetadataKey}
		}
		var got Provenance
		if err := json.Unmarshal([]byte(js), &got); err != nil {
			return fmt.Errorf("table %s: part %s: unreadable %s footer: %w", c.Location, pi.File, MetadataKey, err)
		}
		if field, a, b := ProvenanceDiff(got, want); field != "" {
			return &MismatchError{Location: c.Location, Part: pi.File, Field: field, Footer: a, Manifest: b}
		}
		if rows != int64(pi.Rows) {
			return &MismatchError{Location: c.Location, Part: pi.File, Field: "rows", Footer: fmt.Sprint(rows), Manifest: fmt.Sprint(pi.Rows)}
		}
	}
	return nil
}

// notCompared are the provenance fields that do not change a row: the
// tool's version and the weights' file name (their SHA-256 is compared).
var notCompared = map[string]bool{"tool": true, "tool_version": true, "weights_file": true}

// ProvenanceDiff returns the first provenance field, other than the
// tool's version and the weights' file name, on which a and b differ,
// with both values (JSON, "nothing" when not recorded); "" when they
// agree.
func ProvenanceDiff(a, b Provenance) (field, va, vb string) {
	for _, d := range a.Compare(b) {
		if notCompared[d.Field] {
			continue
		}
		if d.A == "" {
			d.A = "nothing"
		}
		if d.B == "" {
			d.B = "nothing"
		}
		return d.Field, d.A, d.B
	}
	return "", "", ""
}

// Opened is a verified table readable from local disk.
type Opened struct {
	Checked
	// Dir is the local directory holding the parts (a download of a
	// bucket's table); Paths are the parts' local paths.
	Dir   string
	Paths []string
	close func()
}

// Close removes a downloaded copy.
func (c *Opened) Close() {
	if c != nil && c.close != nil {
		c.close()
	}
}

// OpenComplete verifies the table at a location and makes it readable from
// local disk: a bucket's table is downloaded (one request per file) and its
// footers checked on the copy. A single local .parquet file is a table of
// one part. Incomplete tables are refused with an *IncompleteError.
func OpenComplete(ctx context.Context, location string) (*Opened, error) {
	if !storage.IsRemote(location) {
		if st, err := os.Stat(location); err == nil && !st.IsDir() && strings.HasSuffix(location, ".parquet") {
			return openFile(ctx, location)
		}
	}
	d, err := storage.Open(ctx, location)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	local, isLocal := storage.LocalPath(d.Location())
	remote := !isLocal
	c, err := Verify(ctx, d, VerifyOptions{SkipFooters: remote})
	if err != nil {
		return nil, err
	}
	out := &Opened{Checked: *c, Dir: local}
	if remote {
		dir, cleanup, err := Fetch(ctx, location)
		if err != nil {
			return nil, err
		}
		out.Dir, out.close = dir, cleanup
		if err := CheckFooters(ctx, storage.NewLocal(dir), c); err != nil {
			out.Close()
			return nil, err
		}
	}
	for _, p := range c.Parts {
		out.Paths = append(out.Paths, filepath.Join(out.Dir, filepath.FromSlash(p)))
	}
	return out, nil
}

func openFile(ctx context.Context, file string) (*Opened, error) {
	dir, name := filepath.Dir(file), filepath.Base(file)
	c := &Opened{Checked: Checked{Location: file, Parts: []string{name}}, Dir: dir, Paths: []string{file}}
	meta, _, err := footerOf(ctx, storage.NewLocal(dir), path.Base(name))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if js, ok := meta[MetadataKey]; ok {
		var p Provenance
		if err := json.Unmarshal([]byte(js), &p); err != nil {
			return nil, fmt.Errorf("%s: unreadable %s footer: %w", file, MetadataKey, err)
		}
		c.Provenance, c.Featurizer = &p, true
	}
	return c, nil
}
