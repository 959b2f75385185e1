package jobs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/featurizer/featurizer/backbones"
	"github.com/featurizer/featurizer/featurize"
	"github.com/featurizer/featurizer/head"
	"github.com/featurizer/featurizer/inputs"
	"github.com/featurizer/featurizer/storage"
	"github.com/featurizer/featurizer/table"
)

// PredictModelConfig configures prediction with a trained head: on images
// (backbone, then head) or on a stored feature table (head only).
type PredictModelConfig struct {
	Common
	Model    string
	Features string // a feature table to score instead of images
	TopK     int
}

// headRunner runs the backbone for features, then the head on them; to the
// pipeline it is one model whose "logits" are the head's probabilities.
type headRunner struct {
	eng  *backbones.Engine
	head *backbones.Session
	k    int
	bufs sync.Pool // features between the two, one per call in flight (--inflight)
}

func (h *headRunner) SampleSize() int { return h.eng.SampleSize() }

// InputBuffer passes on the engine's page-locked memory on a GPU.
func (h *headRunner) InputBuffer(n int) []float32 { return h.eng.InputBuffer(n) }
func (h *headRunner) FeatureDim() int             { return 0 }
func (h *headRunner) NumClasses() int             { return h.k }
func (h *headRunner) Run(input []float32, n int, _, probs []float32) error {
	d := h.eng.FeatureDim()
	buf, _ := h.bufs.Get().([]float32)
	if len(buf) < n*d {
		buf = make([]float32, n*d)
	}
	defer h.bufs.Put(buf)
	if err := h.eng.Run(input, n, buf, nil); err != nil {
		return err
	}
	return h.head.Run(buf[:n*d], []int64{int64(n), int64(d)}, [][]float32{probs[:n*h.k]}, [][]int64{{int64(n), int64(h.k)}})
}

func loadHeadSession(dir string, art *head.Artefact, threads int) (*backbones.Session, error) {
	data, err := os.ReadFile(filepath.Join(dir, art.Head.File))
	if err != nil {
		return nil, err
	}
	return backbones.NewSession(data, art.Head.Input, []string{art.Head.Output}, threads)
}

// PredictModel classifies with a trained head. Features that do not come
// from the backbone, weights and preprocessing the head was trained on are
// refused.
func PredictModel(ctx context.Context, c PredictModelConfig) (*Summary, error) {
	c.defaults()
	// A model in a bucket is downloaded, except the combined model (the
	// backbone's weights again), which prediction does not use.
	model, cleanup, err := storage.FetchDir(ctx, c.Model, func(n string) bool { return n != head.CombinedONNX })
	if err != nil {
		return nil, &ConfigError{fmt.Errorf("model: %w", err)}
	}
	defer cleanup()
	art, _, err := head.LoadArtefact(model)
	if err != nil {
		return nil, &ConfigError{err}
	}
	if err := backbones.InitRuntimeFor(c.ORTLib, c.Device); err != nil {
		return nil, err
	}
	c.Identity = "head " + fileSHA256(filepath.Join(model, art.Head.File)) // another head is another job
	if c.Features != "" {
		return predictFeatures(ctx, c, model, art)
	}
	if c.Backbone == "" && c.Spec == "" {
		c.Backbone = art.Features.Backbone
	}
	s, err := c.setup(ctx, false, true)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := art.Features.Mismatch(s.prov.FeatureSpec(), "the model "+c.Model, "the backbone "+c.Backbone); err != nil {
		return nil, &ConfigError{err}
	}
	hs, err := loadHeadSession(model, art, 1)
	if err != nil {
		return nil, err
	}
	defer hs.Close()
	s.runner = &headRunner{eng: s.eng, head: hs, k: art.Head.K}
	return runJob(ctx, s, &c.Common, "predict", predictionRow(false, art.Classes, min(c.TopK, art.Head.K)))
}

// predictFeatures scores a stored feature table: no image is touched.
func predictFeatures(ctx context.Context, c PredictModelConfig, model string, art *head.Artefact) (*Summary, error) {
	c.defaults()
	start := time.Now()
	// An incomplete table is refused; every part's footer agrees with the
	// manifest (table.OpenComplete), so the manifest speaks for each part.
	t, err := head.Open(ctx, c.Features)
	if err != nil {
		return nil, &ConfigError{fmt.Errorf("features: %w", err)}
	}
	defer t.Close()
	if t.Provenance != nil {
		if err := art.Features.Mismatch(t.FeatureSpec(), "the model "+c.Model, "the table "+c.Features); err != nil {
			return nil, &ConfigError{err}
		}
	} else if t.Dim != art.Head.Dim {
		return nil, &ConfigError{fmt.Errorf("features: the table has %d features, the model expects %d", t.Dim, art.Head.Dim)}
	}
	if c.Output == "" {
		return nil, &ConfigError{errors.New("output: no output directory given")}
	}
	out, err := storage.Open(ctx, c.Output)
	if err != nil {
		return nil, &ConfigError{fmt.Errorf("output: %w", err)}
	}
	defer out.Close()
	prov := table.Provenance{Tool: "featurizer", Labels: art.Classes}
	if t.Provenance != nil {
		prov = *t.Provenance
		prov.Labels = art.Classes
	}
	// One job at a time writes into the output, as for featurize; the
	// table is scored whole, by one process, every part anew.
	w, err := c.openWriter(ctx, out, table.WriterOptions{Kind: "predictions", Input: c.Features, Provenance: prov, Rewrite: true})
	if err != nil {
		return nil, err
	}
	defer w.Close()
	if err := c.prepare(ctx, w, nil, false); err != nil {
		return nil, err
	}
	hs, err := loadHeadSession(model, art, c.Threads)
	if err != nil {
		return nil, err
	}
	defer hs.Close()
	sink := newPartSink(ctx, w, predictionRow(false, art.Classes, min(c.TopK, art.Head.K)))
	st := &featurize.Stats{ByStage: map[string]int64{}}
	d, kk := art.Head.Dim, art.Head.K
	var seq int64
	if c.Progress != nil {
		// The table's row count is the work: known before the first batch.
		c.Progress.Start()
		c.Progress.Total(t.Rows)
	}
	err = head.Scan(ctx, t, func(rows []table.ScoreRow) error {
		n := len(rows)
		x := make([]float32, n*d)
		probs := make([]float32, n*kk)
		results := make([]featurize.Result, n)
		for i, r := range rows {
			results[i].Item = inputs.Item{Seq: seq + int64(i), Path: r.Path}
			if r.Label != nil {
				results[i].Item.Label, results[i].Item.HasLabel = *r.Label, true
			}
			if why := badFeatures(r.Features, d); why != "" {
				results[i].Reject = &featurize.Reject{Stage: StageFeatures, Err: why}
				continue // its input row stays zero: it cannot spoil the batch
			}
			copy(x[i*d:], r.Features)
		}
		seq += int64(n)
		t0 := time.Now()
		if err := hs.Run(x, []int64{int64(n), int64(d)}, [][]float32{probs}, [][]int64{{int64(n), int64(kk)}}); err != nil {
			return err
		}
		st.InferNs += int64(time.Since(t0))
		st.Batches++
		for i := range results {
			if results[i].Reject != nil {
				continue
			}
			results[i].Logits = probs[i*kk : (i+1)*kk]
			if j := firstNonFinite(results[i].Logits); j >= 0 {
				results[i].Logits = nil
				results[i].Reject = &featurize.Reject{Stage: featurize.StageInfer, Err: fmt.Sprintf("the head gave %v as the probability of class %d", probs[i*kk+j], j)}
			}
		}
		for _, r := range results {
			if r.Reject != nil {
				st.Rejected++
				st.ByStage[r.Reject.Stage]++
			} else {
				st.Rows++
			}
		}
		if c.Progress != nil {
			c.Progress.Update(st.Rows+st.Rejected, st.Rejected)
		}
		return sink.Write(results)
	})
	if err == nil {
		err = sink.close()
	}
	st.Wall = time.Since(start)
	st.WallSec = st.Wall.Seconds()
	if st.WallSec > 0 {
		st.ImgPerSec = float64(st.Rows) / st.WallSec
	}
	if err != nil {
		sink.abort()
		return newSummary(&c.Common, "predict", prov, start, nil, st), err
	}
	c.Input = c.Features
	parts, rejects := w.Parts()
	return finish(ctx, w, nil, newSummary(&c.Common, "predict", prov, start, nil, st), parts, rejects)
}

// StageFeatures is the reject stage of a stored row whose features the
// head cannot take (predict --features): not finite, or not the model's
// dimension.
const StageFeatures = "features"

// badFeatures says why a stored feature vector cannot be scored, or "".
func badFeatures(f []float32, d int) string {
	if len(f) != d {
		return fmt.Sprintf("%d features, the model expects %d", len(f), d)
	}
	if j := firstNonFinite(f); j >= 0 {
		return fmt.Sprintf("features[%d] is %v: features must be finite numbers", j, f[j])
	}
	return ""
}

// firstNonFinite is the index of the first NaN or infinite value, or -1.
func firstNonFinite(v []float32) int {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return i
		}
	}
	return -1
}
