package table

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/featurizer/featurizer/modelspec"
	"github.com/featurizer/featurizer/storage"
)

// Provenance says exactly how a table was made; it is stored in every
// Parquet footer and in the manifest.
type Provenance struct {
	Tool           string                  `json:"tool"`
	ToolVersion    string                  `json:"tool_version"`
	Backbone       string                  `json:"backbone"`
	WeightsFile    string                  `json:"weights_file"`
	WeightsSHA256  string                  `json:"weights_sha256"`
	Preprocessing  modelspec.Preprocessing `json:"preprocessing"`
	FeatureTensor  string                  `json:"feature_tensor,omitempty"`
	FeaturePooling string                  `json:"feature_pooling,omitempty"`
	FeatureDim     int                     `json:"feature_dim,omitempty"`
	Labels         []string                `json:"labels"`
	// FastDecode: JPEGs were decoded at a reduced size (not bit-exact).
	FastDecode bool `json:"fast_decode,omitempty"`
	// MaxPixels and MaxBytes decide which inputs become rows and which
	// rejects: an incremental run with other limits is refused.
	MaxPixels int64 `json:"max_pixels,omitempty"`
	MaxBytes  int64 `json:"max_bytes,omitempty"`
	// Precision is "fp16" when the backbone ran in half precision
	// (--fp16: features differ from float32's); empty for float32.
	Precision string `json:"precision,omitempty"`
}

// FieldDiff is a provenance field on which two provenances differ, with
// both values as JSON ("" when one does not record the field).
type FieldDiff struct{ Field, A, B string }

// Compare lists the provenance fields on which p and q differ, in the
// order of the JSON (p's keys, then those only q has): every field,
// including ones added after a table was written.
func (p Provenance) Compare(q Provenance) []FieldDiff {
	ja, _ := json.Marshal(p)
	jb, _ := json.Marshal(q)
	var a, b map[string]json.RawMessage
	json.Unmarshal(ja, &a)
	json.Unmarshal(jb, &b)
	keys := jsonKeys(ja)
	for _, k := range jsonKeys(jb) {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	var out []FieldDiff
	for _, k := range keys {
		if string(a[k]) != string(b[k]) {
			out = append(out, FieldDiff{k, string(a[k]), string(b[k])})
		}
	}
	return out
}

// jsonKeys lists the keys of a JSON object in their order.
func jsonKeys(obj []byte) []string {
	dec := json.NewDecoder(strings.NewReader(string(obj)))
	var keys []string
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return keys
		}
		keys = append(keys, t.(string))
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return keys
		}
	}
	return keys
}

// Manifest is written last, as _manifest.json, just before _SUCCESS.
type Manifest struct {
	Format      string     `json:"format"`
	Kind        string     `json:"kind"` // features or predictions
	Provenance  Provenance `json:"provenance"`
	Input       string     `json:"input"`
	Parts       []PartInfo `json:"parts"`
	RejectParts []PartInfo `json:"reject_parts"`
	Rows        int64      `json:"rows"`
	Rejected    int64      `json:"rejected"`
	Created     time.Time  `json:"created"`
	// StageKey fingerprints what the table was made from (set by run
	// jobs): a rerun with the same key skips the stage.
	StageKey string `json:"stage_key,omitempty"`
	// Generation counts the incremental runs that added to the table (0:
	// written in one run); their parts are named part-gNNNN-*.
	Generation int `json:"generation,omitempty"`
	// Job and Shards say which job wrote the table, and as how many
	// shards (1: one process); Run is the run that completed it.
	Job    string `json:"job,omitempty"`
	Run    string `json:"run,omitempty"`
	Shards int    `json:"shards,omitempty"`
	// Drop lists, in a shard's record of an incremental run, the inputs of
	// the table's earlier parts whose rows go (changed or removed): the
	// last shard to finish drops them all, in one place.
	Drop []string `json:"drop,omitempty"`
}

// PartInfo describes one committed part file.
type PartInfo struct {
	File string `json:"file"`
	Rows int    `json:"rows"`
}

// ManifestFormat versions the table layout.
const ManifestFormat = "featurizer.table/v1"

// ReadManifest reads the manifest of the table at a location.
func ReadManifest(location string) (*Manifest, error) {
	ctx := context.Background()
	d, err := storage.Open(ctx, location)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return ReadManifestDir(ctx, d)
}

// ReadManifestDir reads the manifest of the table in dir.
func ReadManifestDir(ctx context.Context, dir storage.Store) (*Manifest, error) {
	b, err := dir.ReadFile(ctx, ManifestFile)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	return &m, nil
}

// FeatureSpec is the part of the provenance that decides the feature
// values: two tables (or a table and a model) are compatible only when it
// is equal.
type FeatureSpec struct {
	Backbone       string                  `json:"backbone"`
	WeightsSHA256  string                  `json:"weights_sha256"`
	Preprocessing  modelspec.Preprocessing `json:"preprocessing"`
	FeatureTensor  string                  `json:"feature_tensor"`
	FeaturePooling string                  `json:"feature_pooling"`
	FeatureDim     int                     `json:"feature_dim"`
}

// FeatureSpec returns the feature-deciding part of p.
func (p Provenance) FeatureSpec() FeatureSpec {
	return FeatureSpec{Backbone: p.Backbone, WeightsSHA256: p.WeightsSHA256, Preprocessing: p.Preprocessing,
		FeatureTensor: p.FeatureTensor, FeaturePooling: p.FeaturePooling, FeatureDim: p.FeatureDim}
}

// String is a short human form, for error messages.
func (f FeatureSpec) String() string {
	sha := f.WeightsSHA256
	if len(sha) > 12 {
		sha = sha[:12]
	}
	return fmt.Sprintf("%s (weights %s, tap %s/%s, %d-d, preprocessing %s)", f.Backbone, sha, f.FeatureTensor, f.FeaturePooling, f.FeatureDim, f.Preprocessing.JSON())
}

// Mismatch returns an error naming both specs when they differ.
func (f FeatureSpec) Mismatch(other FeatureSpec, what, otherWhat string) error {
	a, _ := json.Marshal(f)
	b, _ := json.Marshal(other)
	if string(a) == string(b) {
		return nil
	}
	return fmt.Errorf("feature mismatch: %s has features from %s, but %s has features from %s", what, f, otherWhat, other)
}
