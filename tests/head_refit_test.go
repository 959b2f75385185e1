package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/head"
)

// train refits the chosen penalty on train + validation by default and
// says so (model.json, report.md, the summary line); --refit=false keeps
// the fit on train alone. Validation metrics are the selection fit's in
// both cases, so they agree; the test metrics are the final model's.
func TestTrainRefit(t *testing.T) {
	dir, _, _ := trainSetup(t, 6)
	f := func(s string) string { return filepath.Join(dir, "features", s) }
	arts := map[bool]*head.Artefact{}
	for _, refit := range []bool{true, false} {
		out := filepath.Join(dir, fmt.Sprint("refit-", refit))
		r := run(t, "train", "--features", f("train"), "--validation", f("validation"), "--test", f("test"), "--output", out,
			"--grid", "1,0.1,0.01", fmt.Sprintf("--refit=%v", refit))
		if r.code != exitOK {
			t.Fatalf("--refit=%v: exit %d: %s", refit, r.code, r.stderr)
		}
		art, _, err := head.LoadArtefact(out)
		if err != nil {
			t.Fatal(err)
		}
		arts[refit] = art
		report, err := os.ReadFile(filepath.Join(out, head.ReportFile))
		if err != nil {
			t.Fatal(err)
		}
		rows := art.Training.Rows
		says := strings.Contains(string(report), "refit on train + validation")
		line := strings.Contains(r.stdout, fmt.Sprintf("refit on train + validation (%d rows)", rows["train"]+rows["validation"]))
		if art.Training.Refit != refit || says != refit || line != refit || (art.Training.RefitRows == rows["train"]+rows["validation"]) != refit {
			t.Errorf("--refit=%v: model.json refit %v (%d rows), rows %v, report says refit %v, summary %v: %s", refit, art.Training.Refit, art.Training.RefitRows, rows, says, line, r.stdout)
		}
		if refit && !strings.HasPrefix(art.Training.ValidationMetrics, "selection fit") {
			t.Errorf("validation_metrics_of %q", art.Training.ValidationMetrics)
		}
		if art.Test == nil || art.Test.Accuracy < 0.95 {
			t.Errorf("--refit=%v: test metrics %+v", refit, art.Test)
		}
	}
	if a, b := arts[true], arts[false]; a.Training.RegParam != b.Training.RegParam || a.Validation.LogLoss != b.Validation.LogLoss {
		t.Errorf("the selection differs: reg_param %g / %g, validation log-loss %g / %g", a.Training.RegParam, b.Training.RegParam, a.Validation.LogLoss, b.Validation.LogLoss)
	}
}
