package head

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Metrics against scikit-learn on random predictions, with a class that is
// never predicted and one that never occurs.
func TestMetricsMatchScikitLearn(t *testing.T) {
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import sklearn").CombinedOutput(); err != nil {
		msg := "scikit-learn unavailable (apt-get install python3-sklearn): " + strings.TrimSpace(string(out))
		if os.Getenv("FEATURIZER_REQUIRE_REFERENCE") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	const n, k = 300, 5
	rng := rand.New(rand.NewSource(1))
	probs := make([]float32, n*k)
	y := make([]int32, n)
	for i := 0; i < n; i++ {
		y[i] = int32(rng.Intn(k - 1)) // class 4 never occurs
		var s float32
		for c := 0; c < k; c++ {
			v := rng.Float32()
			if c == 3 {
				v *= 0.01 // class 3 almost never predicted
			}
			if c == int(y[i]) {
				v += 0.5
			}
			probs[i*k+c] = v
			s += v
		}
		for c := 0; c < k; c++ {
			probs[i*k+c] /= s
		}
	}
	classes := []string{"a", "b", "c", "d", "e"}
	m := Evaluate(probs, y, classes)
	in, _ := json.Marshal(map[string]any{"probs": probs, "y": y, "k": k})
	script := `
import json, sys
import numpy as np
from sklearn.metrics import accuracy_score, f1_score, log_loss, confusion_matrix, precision_recall_fscore_support
d = json.load(sys.stdin)
p = np.array(d["probs"], dtype=np.float64).reshape(-1, d["k"]); y = np.array(d["y"])
pred = p.argmax(1)
pr, rc, f1, sup = precision_recall_fscore_support(y, pred, labels=list(range(d["k"])), zero_division=0)
print(json.dumps({"accuracy": accuracy_score(y, pred), "macro_f1": f1_score(y, pred, average="macro"),
  "weighted_f1": f1_score(y, pred, average="weighted"), "log_loss": log_loss(y, p, labels=list(range(d["k"]))),
  "confusion": confusion_matrix(y, pred, labels=list(range(d["k"]))).tolist(), "precision": pr.tolist(), "recall": rc.tolist()}))
`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var want struct {
		Accuracy, MacroF1, WeightedF1, LogLoss float64
		Confusion                              [][]int
		Precision, Recall                      []float64
	}
	json.Unmarshal(out, &struct {
		A *float64   `json:"accuracy"`
		M *float64   `json:"macro_f1"`
		W *float64   `json:"weighted_f1"`
		L *float64   `json:"log_loss"`
		C *[][]int   `json:"confusion"`
		P *[]float64 `json:"precision"`
		R *[]float64 `json:"recall"`
	}{&want.Accuracy, &want.MacroF1, &want.WeightedF1, &want.LogLoss, &want.Confusion, &want.Precision, &want.Recall})
	near := func(name string, a, b float64) {
		if math.Abs(a-b) > 1e-6 {
			t.Errorf("%s: %v, scikit-learn %v", name, a, b)
		}
	}
	near("accuracy", m.Accuracy, want.Accuracy)
	near("macro F1", m.MacroF1, want.MacroF1)
	near("weighted F1", m.WeightedF1, want.WeightedF1)
	near("log-loss", m.LogLoss, want.LogLoss)
	for c := 0; c < k; c++ {
		near("precision "+classes[c], m.PerClass[c].Precision, want.Precision[c])
		near("recall "+classes[c], m.PerClass[c].Recall, want.Recall[c])
		for j := 0; j < k; j++ {
			if m.Confusion[c][j] != want.Confusion[c][j] {
				t.Fatalf("confusion matrix differs: %v vs %v", m.Confusion, want.Confusion)
			}
		}
	}
}
