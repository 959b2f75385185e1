package head

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strings"

	"github.com/featurizer/featurizer/table"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Report is what a training run writes for people: metrics.json, report.md
// and two pictures.
type Report struct {
	Title      string            `json:"title"`
	Classes    []string          `json:"classes"`
	Features   table.FeatureSpec `json:"features"`
	Solver     string            `json:"solver"`
	BLAS       string            `json:"blas"`
	Lambda     float64           `json:"reg_param"`
	Alpha      float64           `json:"elastic_net_param"`
	Hidden     int               `json:"hidden"`
	Curve      []CurvePoint      `json:"regularization_path"`
	TrainRows  int               `json:"train_rows"`
	Seconds    float64           `json:"train_seconds"`
	Validation *Metrics          `json:"validation,omitempty"`
	Test       *Metrics          `json:"test,omitempty"`
	Notes      []string          `json:"notes,omitempty"`
	// Refit is the final fit on train + validation (RefitRows rows) with
	// the chosen penalty; nil when the model is the selection fit.
	Refit     *CurvePoint `json:"refit,omitempty"`
	RefitRows int         `json:"refit_rows,omitempty"`
}

// Files of a report.
const (
	MetricsFile    = "metrics.json"
	ReportFile     = "report.md"
	ConfusionPNG   = "confusion_matrix.png"
	RegularizePNG  = "regularization.png"
	confusionTitle = "Confusion matrix"
)

// WriteReport writes the report files into dir.
func WriteReport(dir string, r *Report) error {
	if err := table.WriteJSONAtomic(filepath.Join(dir, MetricsFile), r); err != nil {
		return err
	}
	eval := r.Test
	split := "test"
	if eval == nil {
		eval, split = r.Validation, "validation"
	}
	var pics []string
	if eval != nil {
		if err := confusionPlot(filepath.Join(dir, ConfusionPNG), eval, r.Classes, split); err != nil {
			return fmt.Errorf("confusion matrix plot: %w", err)
		}
		pics = append(pics, ConfusionPNG)
	}
	if len(r.Curve) > 1 {
		if err := curvePlot(filepath.Join(dir, RegularizePNG), r.Curve, r.Lambda); err != nil {
			return fmt.Errorf("regularization plot: %w", err)
		}
		pics = append(pics, RegularizePNG)
	}
	return table.WriteFileAtomic(filepath.Join(dir, ReportFile), []byte(r.markdown(eval, split, pics)))
}

func (r *Report) markdown(eval *Metrics, split string, pics []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.Title)
	fmt.Fprintf(&b, "%d classes, trained on %d rows in %.1f s: %s", len(r.Classes), r.TrainRows, r.Seconds, r.model())
	fmt.Fprintf(&b, ", solver %s (BLAS: %s), reg_param %.3g, elastic_net_param %g.\n\n", r.Solver, r.BLAS, r.Lambda, r.Alpha)
	if r.Features.Backbone != "" {
		fmt.Fprintf(&b, "Features: %s.\n\n", r.Features)
	}
	if r.Refit != nil {
		fmt.Fprintf(&b, "reg_param was chosen on validation by a fit on the %d training rows; the model was then refit on train + validation (%d rows) with it (%d iterations, %.1f s). Validation metrics are those of the selection fit, test metrics those of the refit model.\n\n",
			r.TrainRows, r.RefitRows, r.Refit.Iterations, r.Refit.Seconds)
	}
	b.WriteString("| split | model | rows | accuracy | macro F1 | weighted F1 | log-loss |\n|---|---|---|---|---|---|---|\n")
	for _, s := range []struct {
		name, model string
		m           *Metrics
	}{{"validation", r.modelOf("validation"), r.Validation}, {"test", r.modelOf("test"), r.Test}} {
		if s.m != nil {
			fmt.Fprintf(&b, "| %s | %s | %d | %.4f | %.4f | %.4f | %.4f |\n", s.name, s.model, s.m.N, s.m.Accuracy, s.m.MacroF1, s.m.WeightedF1, s.m.LogLoss)
		}
	}
	if eval != nil {
		fmt.Fprintf(&b, "\n## Per class (%s)\n\n| class | precision | recall | F1 | support |\n|---|---|---|---|---|\n", split)
		for _, c := range eval.PerClass {
			fmt.Fprintf(&b, "| %s | %.3f | %.3f | %.3f | %d |\n", c.Class, c.Precision, c.Recall, c.F1, c.Support)
		}
	}
	for _, p := range pics {
		switch p {
		case ConfusionPNG:
			fmt.Fprintf(&b, "\n## Confusion matrix (%s)\n\nRows are the true classes, columns the predictions.\n\n![confusion matrix](%s)\n", split, p)
		case RegularizePNG:
			fmt.Fprintf(&b, "\n## Regularization path\n\nValidation loss for each reg_param, strongest first; the chosen one is marked.\n\n![regularization path](%s)\n", p)
		}
	}
	if len(r.Curve) > 0 {
		b.WriteString("\n| reg_param | train loss | validation loss | validation accuracy | iterations | non-zero weights | seconds |\n|---|---|---|---|---|---|---|\n")
		for _, c := range r.Curve {
			mark := ""
			if c.Lambda == r.Lambda {
				mark = " (chosen)"
			}
			fmt.Fprintf(&b, "| %.3g%s | %.4f | %.4f | %.4f | %d | %.3f | %.1f |\n", c.Lambda, mark, c.TrainLoss, c.ValLoss, c.ValAccuracy, c.Iterations, c.NonZeroWeight, c.Seconds)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n%s\n", n)
	}
	return b.String()
}

// modelOf names the model whose metrics a split's row shows.
func (r *Report) modelOf(split string) string {
	switch {
	case r.Refit == nil:
		return "final"
	case split == "validation":
		return "selection (train)"
	}
	return "final (train + validation)"
}

func (r *Report) model() string {
	if r.Hidden > 0 {
		return fmt.Sprintf("MLP with %d hidden ReLU units", r.Hidden)
	}
	return "multinomial logistic regression"
}

// grid adapts a confusion matrix to plotter.GridXYZ: x is the predicted
// class, y the true class counted from the top.
type grid struct {
	m [][]int
}

func (g grid) Dims() (c, r int)   { return len(g.m), len(g.m) }
func (g grid) X(c int) float64    { return float64(c) }
func (g grid) Y(r int) float64    { return float64(r) }
func (g grid) Z(c, r int) float64 { return float64(g.m[len(g.m)-1-r][c]) }

func confusionPlot(path string, m *Metrics, classes []string, split string) error {
	k := len(classes)
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s (%s, %d rows)", confusionTitle, split, m.N)
	p.X.Label.Text = "predicted"
	p.Y.Label.Text = "true"
	p.Add(plotter.NewHeatMap(grid{m.Confusion}, blues(64)))
	var xt, yt []plot.Tick
	for i, c := range classes {
		xt = append(xt, plot.Tick{Value: float64(i), Label: c})
		yt = append(yt, plot.Tick{Value: float64(k - 1 - i), Label: c})
	}
	p.X.Tick.Marker = plot.ConstantTicks(xt)
	p.Y.Tick.Marker = plot.ConstantTicks(yt)
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign = -1
	var pts plotter.XYLabels
	for r := 0; r < k; r++ {
		for c := 0; c < k; c++ {
			pts.XYs = append(pts.XYs, plotter.XY{X: float64(c), Y: float64(k - 1 - r)})
			pts.Labels = append(pts.Labels, fmt.Sprint(m.Confusion[r][c]))
		}
	}
	labels, err := plotter.NewLabels(pts)
	if err != nil {
		return err
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].XAlign = -0.5
		labels.TextStyle[i].YAlign = -0.5
	}
	p.Add(labels)
	size := vg.Length(max(4, k)) * 0.6 * vg.Inch
	return p.Save(size+1.5*vg.Inch, size+1*vg.Inch, path)
}

// blues runs from white to a dark blue.
type blues int

func (n blues) Colors() []color.Color {
	out := make([]color.Color, n)
	for i := range out {
		t := float64(i) / float64(n-1)
		out[i] = color.RGBA{R: uint8(255 - 220*t), G: uint8(255 - 160*t), B: uint8(255 - 80*t), A: 255}
	}
	return out
}

var _ palette.Palette = blues(0)

func curvePlot(path string, curve []CurvePoint, chosen float64) error {
	p := plot.New()
	p.Title.Text = "Regularization path"
	p.X.Label.Text = "reg_param (lambda)"
	p.Y.Label.Text = "loss"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: 1}
	var val, tr plotter.XYs
	for _, c := range curve {
		if c.Lambda <= 0 {
			continue
		}
		val = append(val, plotter.XY{X: c.Lambda, Y: c.ValLoss})
		tr = append(tr, plotter.XY{X: c.Lambda, Y: c.TrainLoss})
	}
	lv, pv, err := plotter.NewLinePoints(val)
	if err != nil {
		return err
	}
	lv.Color, pv.Color = color.RGBA{R: 200, A: 255}, color.RGBA{R: 200, A: 255}
	lt, err := plotter.NewLine(tr)
	if err != nil {
		return err
	}
	lt.Color = color.RGBA{B: 200, A: 255}
	lt.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
	p.Add(lv, pv, lt)
	p.Legend.Add("validation loss", lv, pv)
	p.Legend.Add("train loss (with penalty)", lt)
	if chosen > 0 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, c := range curve {
			lo, hi = math.Min(lo, math.Min(c.ValLoss, c.TrainLoss)), math.Max(hi, math.Max(c.ValLoss, c.TrainLoss))
		}
		mark, err := plotter.NewLine(plotter.XYs{{X: chosen, Y: lo}, {X: chosen, Y: hi}})
		if err != nil {
			return err
		}
		mark.Color = color.Gray{Y: 90}
		p.Add(mark)
		p.Legend.Add(fmt.Sprintf("chosen: %.3g", chosen), mark)
	}
	p.Legend.Top = true
	p.Legend.Left = true
	return p.Save(6*vg.Inch, 4*vg.Inch, path)
}
