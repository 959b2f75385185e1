package head

import (
	"math"
)

// ClassMetrics are one class's scores.
type ClassMetrics struct {
	Class     string  `json:"class"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// Metrics evaluate predictions against labels.
type Metrics struct {
	N          int            `json:"n"`
	Accuracy   float64        `json:"accuracy"`
	MacroF1    float64        `json:"macro_f1"`
	WeightedF1 float64        `json:"weighted_f1"`
	LogLoss    float64        `json:"log_loss"`
	PerClass   []ClassMetrics `json:"per_class"`
	// Confusion[i][j] counts rows of true class i predicted as j.
	Confusion [][]int `json:"confusion_matrix"`
}

// Evaluate scores class probabilities (n x k, row-major) against y. Log-loss
// clips probabilities at 1e-15, as scikit-learn does.
func Evaluate(probs []float32, y []int32, classes []string) Metrics {
	k := len(classes)
	n := len(y)
	m := Metrics{N: n, Confusion: make([][]int, k)}
	for i := range m.Confusion {
		m.Confusion[i] = make([]int, k)
	}
	correct := 0
	for i := 0; i < n; i++ {
		row := probs[i*k : (i+1)*k]
		pred := argmax(row)
		m.Confusion[y[i]][pred]++
		if pred == int(y[i]) {
			correct++
		}
		m.LogLoss -= math.Log(math.Min(math.Max(float64(row[y[i]]), 1e-15), 1-1e-15))
	}
	if n > 0 {
		m.Accuracy = float64(correct) / float64(n)
		m.LogLoss /= float64(n)
	}
	present := 0
	for c := 0; c < k; c++ {
		tp := m.Confusion[c][c]
		var predicted, support int
		for j := 0; j < k; j++ {
			predicted += m.Confusion[j][c]
			support += m.Confusion[c][j]
		}
		cm := ClassMetrics{Class: classes[c], Support: support}
		if predicted > 0 {
			cm.Precision = float64(tp) / float64(predicted)
		}
		if support > 0 {
			cm.Recall = float64(tp) / float64(support)
		}
		if support > 0 || predicted > 0 {
			present++
		}
		if cm.Precision+cm.Recall > 0 {
			cm.F1 = 2 * cm.Precision * cm.Recall / (cm.Precision + cm.Recall)
		}
		m.PerClass = append(m.PerClass, cm)
		m.MacroF1 += cm.F1
		m.WeightedF1 += cm.F1 * float64(support)
	}
	// Macro over the classes that occur in y or in the predictions, as
	// scikit-learn does.
	if present > 0 {
		m.MacroF1 /= float64(present)
	}
	if n > 0 {
		m.WeightedF1 /= float64(n)
	}
	return m
}
