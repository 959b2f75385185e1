package table

import (
	"encoding/json"
	"strings"
	"testing"
)

// A float32 table's provenance is what it was before precision existed (no
// key), so existing tables still match; an fp16 table records it, and a run
// in the other precision differs from it on that field.
func TestProvenancePrecision(t *testing.T) {
	p := Provenance{Tool: "featurizer", Backbone: "b", Labels: []string{}}
	j, _ := json.Marshal(p)
	if strings.Contains(string(j), "precision") {
		t.Errorf("float32 provenance: %s", j)
	}
	h := p
	h.Precision = "fp16"
	j, _ = json.Marshal(h)
	if !strings.Contains(string(j), `"precision":"fp16"`) {
		t.Errorf("fp16 provenance: %s", j)
	}
	d := p.Compare(h)
	if len(d) != 1 || d[0].Field != "precision" || d[0].B != `"fp16"` {
		t.Errorf("Compare: %+v", d)
	}
	if h.FeatureSpec() != p.FeatureSpec() {
		t.Error("precision is part of the feature spec: a head trained on float32 features could not predict on float16 ones")
	}
}
