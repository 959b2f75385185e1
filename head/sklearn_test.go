package head

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// sklearnFit is scikit-learn's converged LogisticRegression (lbfgs,
// multinomial, C = 1 / (lambda * n), tol 1e-10) on standardized rows.
const sklearnFit = `
import json, sys
import numpy as np
from sklearn.linear_model import LogisticRegression
d, n, lam = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
x = np.fromfile(sys.argv[1] + ".x", dtype=np.float32).reshape(n, d).astype(np.float64)
y = np.fromfile(sys.argv[1] + ".y", dtype=np.int32)
m = LogisticRegression(C=1.0 / (lam * n), tol=1e-10, max_iter=100000).fit(x, y)
p = m.predict_proba(x)
loss = -np.mean(np.log(p[np.arange(n), y])) + lam / 2 * np.sum(m.coef_ ** 2)
print(json.dumps({"coef": m.coef_.tolist(), "loss": loss}))
`

// The converged fit is scikit-learn's: the same penalized loss and the
// same weights, on a problem where early stopping used to end far away.
func TestMatchesScikitLearn(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import sklearn").Run(); err != nil {
		t.Skip("needs /usr/bin/python3 with scikit-learn (Debian python3-sklearn):", err)
	}
	train, val := noisy(240, 40, 3, 1), noisy(120, 40, 3, 2)
	lam := 1e-3
	res, err := Train(context.Background(), train, val, 3, Options{RegParam: &lam, NoRefit: true})
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(t.TempDir(), "rows")
	for ext, v := range map[string]any{".x": train.X, ".y": train.Y} {
		f, err := os.Create(base + ext)
		if err != nil {
			t.Fatal(err)
		}
		if err := binary.Write(f, binary.LittleEndian, v); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	out, err := exec.Command("/usr/bin/python3", "-c", sklearnFit, base, "40", "240", "0.001").Output()
	if err != nil {
		t.Fatalf("scikit-learn: %v", err)
	}
	var ref struct {
		Coef [][]float64
		Loss float64
	}
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	ours := res.Curve[0].TrainLoss
	t.Logf("penalized loss: ours %.7f, scikit-learn %.7f", ours, ref.Loss)
	if math.Abs(ours-ref.Loss) > 1e-5*ref.Loss {
		t.Errorf("penalized loss %.7f, scikit-learn's %.7f", ours, ref.Loss)
	}
	worst, scale := 0.0, 0.0
	for c, row := range ref.Coef {
		for j, w := range row {
			worst = math.Max(worst, math.Abs(float64(res.Params.W[j*3+c])-w))
			scale = math.Max(scale, math.Abs(w))
		}
	}
	t.Logf("largest weight difference %.2e (largest weight %.3f)", worst, scale)
	if worst > 1e-2*scale {
		t.Errorf("weights differ from scikit-learn's by up to %.3g (largest weight %.3g)", worst, scale)
	}
}
