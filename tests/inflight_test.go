package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/jobs"
	"github.com/featurizer/featurizer/table"
)

// Four batches in inference at once write the table of one at a time:
// the same parts, rows in the same order with the same features, the same
// rejects; the summary says how many were in flight and how busy the
// device was.
func TestInFlightSameTable(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{Seed: 5})
	in := filepath.Join(dir, "in")
	dataset(t, in)
	if err := writeCorpus(filepath.Join(in, "corrupt")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		writePNG(t, filepath.Join(in, "more", fmt.Sprintf("m%02d.png", i)), picture(30+i, 40+i%9, 200+i))
	}
	type result struct {
		parts   []string
		rows    []table.FeatureRow
		rejects []table.RejectRow
	}
	var first *result
	for _, n := range []int{1, 4} {
		out := filepath.Join(dir, fmt.Sprint("out", n))
		r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out,
			"--batch-size", "3", "--inflight", fmt.Sprint(n), "--workers", "2", "--threads", "1", "--rows-per-part", "7", "--progress", "none")
		if r.code != exitOK {
			t.Fatalf("--inflight %d: exit %d\n%s%s", n, r.code, r.stdout, r.stderr)
		}
		var res result
		res.parts, _ = filepath.Glob(filepath.Join(out, "part-*.parquet"))
		for i := range res.parts {
			res.parts[i] = filepath.Base(res.parts[i])
		}
		var err error
		if res.rows, err = table.ReadAll[table.FeatureRow](out); err != nil {
			t.Fatal(err)
		}
		if res.rejects, err = table.ReadAll[table.RejectRow](filepath.Join(out, table.RejectsDir)); err != nil {
			t.Fatal(err)
		}
		var sum jobs.Summary
		b, _ := os.ReadFile(filepath.Join(out, table.SummaryFile))
		if err := json.Unmarshal(b, &sum); err != nil {
			t.Fatal(err)
		}
		if sum.InFlight != n || sum.Device != "cpu" || sum.InferMaxConcurrent < 1 || sum.InferMaxConcurrent > n ||
			!(sum.InferBusyShare > 0 && sum.InferBusyShare <= 1) || sum.StageSeconds["infer_busy"] <= 0 {
			t.Errorf("--inflight %d: summary %s", n, b)
		}
		if strings.Contains(r.stdout, "note:") {
			t.Errorf("a CPU run with a bottleneck note: %s", r.stdout)
		}
		if first == nil {
			first = &res
			if len(res.rejects) == 0 || len(res.rows) < 40 {
				t.Fatalf("%d rows, %d rejects", len(res.rows), len(res.rejects))
			}
			continue
		}
		if !reflect.DeepEqual(res, *first) {
			t.Errorf("--inflight %d wrote another table than --inflight 1: parts %v vs %v, %d rows vs %d, %d rejects vs %d",
				n, res.parts, first.parts, len(res.rows), len(first.rows), len(res.rejects), len(first.rejects))
		}
	}
}

// Out-of-range values are refused with one line naming the flag.
func TestInFlightFlagChecked(t *testing.T) {
	for _, v := range []string{"0", "17", "-1"} {
		r := run(t, "featurize", "--backbone", "mobilenetv2", "--input", "x", "--output", "y", "--inflight", v)
		want := "--inflight: expected 1 to 16 batches in inference at once, got " + v
		if r.code != exitUsage || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("--inflight %s: exit %d, %q", v, r.code, r.stderr)
		}
	}
}

// Ctrl-C with several batches in flight: the calls finish, committed parts
// stay whole, nothing half-written, no _SUCCESS, exit 130.
func TestInterruptInFlight(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{})
	in := filepath.Join(dir, "images")
	slowPNGs(t, in, 400)
	out := filepath.Join(dir, "out")
	interruptAfterFirstPart(t, out, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out,
		"--batch-size", "2", "--inflight", "4", "--workers", "2", "--threads", "1", "--rows-per-part", "4", "--progress", "none")
	if _, err := os.Stat(filepath.Join(out, table.SuccessFile)); err == nil {
		t.Error("_SUCCESS written by a stopped job")
	}
	noTempFiles(t, out)
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "part-") {
			t.Errorf("unexpected file after a stop: %s", e.Name())
		}
	}
	rows, err := table.ReadAll[table.FeatureRow](out)
	if err != nil {
		t.Fatalf("a committed part is unreadable: %v", err)
	}
	if len(rows) == 0 || len(rows)%4 != 0 || len(rows) >= 400 {
		t.Errorf("%d rows after the stop: want whole parts of 4, fewer than 400", len(rows))
	}
	for i, r := range rows {
		if want := filepath.Join(in, fmt.Sprintf("%03d.png", i)); r.Path != want {
			t.Fatalf("row %d is %s, want %s: a gap or a reordering", i, r.Path, want)
		}
	}
}
