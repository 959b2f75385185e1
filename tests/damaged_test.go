package tests

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/inputs"
	"github.com/featurizer/featurizer/internal/corrupt"
	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/table"
)

// A folder of damaged JPEGs, PNGs and GIFs, and the committed decoder
// corpus (every format and variant, featurize/testdata/corpus), gives a row
// for exactly the files Pillow decodes and a decode reject for every other
// one: on every run, with one decode worker or eight.
func TestDamagedImagesTableMatchesPillow(t *testing.T) {
	needRuntime(t)
	if err := corrupt.PillowAvailable(); err != nil {
		if os.Getenv("FEATURIZER_REQUIRE_REFERENCE") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	model, spec := tinyBackbone(t, dir, testmodels.Options{Seed: 3})
	in := filepath.Join(dir, "damaged")
	var paths []string
	for sub, write := range map[string]func(string, int64) ([]string, error){"jpeg": corrupt.WriteDamagedJPEGs, "png": corrupt.WriteDamagedPNGs, "gif": corrupt.WriteDamagedGIFs} {
		names, err := write(filepath.Join(in, sub), 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			paths = append(paths, filepath.Join(in, sub, n))
		}
	}
	paths = append(paths, copyCorpus(t, filepath.Join(in, "corpus"))...)
	sort.Strings(paths)
	verdicts, err := corrupt.PillowVerdicts(paths)
	if err != nil {
		t.Fatal(err)
	}
	var wantRows, wantRejects []string
	for _, p := range paths {
		if verdicts[p].OK {
			wantRows = append(wantRows, p)
		} else {
			wantRejects = append(wantRejects, p)
		}
	}
	t.Logf("%d files: Pillow %s decodes %d, refuses %d", len(paths), corrupt.PillowVersion(), len(wantRows), len(wantRejects))
	for i, workers := range []int{1, 1, 8, 8, 8} {
		out := filepath.Join(dir, fmt.Sprintf("out-%d", i))
		r := run(t, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out,
			"--workers", fmt.Sprint(workers), "--batch-size", "16", "--progress", "none")
		if r.code != exitOK {
			t.Fatalf("run %d (--workers %d): exit %d\n%s%s", i, workers, r.code, r.stdout, r.stderr)
		}
		rows, err := table.ReadAll[table.FeatureRow](out)
		if err != nil {
			t.Fatal(err)
		}
		rejects, err := table.ReadAll[table.RejectRow](filepath.Join(out, table.RejectsDir))
		if err != nil {
			t.Fatal(err)
		}
		var gotRows, gotRejects []string
		for _, r := range rows {
			gotRows = append(gotRows, r.Path)
		}
		for _, r := range rejects {
			gotRejects = append(gotRejects, r.Path)
			if r.Stage != "decode" || r.Error == "" {
				t.Errorf("run %d: reject %s: stage %q, reason %q", i, filepath.Base(r.Path), r.Stage, r.Error)
			}
		}
		sort.Strings(gotRows)
		sort.Strings(gotRejects)
		if d := diffNames(wantRows, gotRows); d != "" {
			t.Errorf("run %d (--workers %d): rows differ from what Pillow decodes:\n%s", i, workers, d)
		}
		if d := diffNames(wantRejects, gotRejects); d != "" {
			t.Errorf("run %d (--workers %d): rejects differ from what Pillow refuses:\n%s", i, workers, d)
		}
		if !strings.Contains(r.stdout, fmt.Sprintf("%d rows, %d rejected", len(wantRows), len(wantRejects))) {
			t.Errorf("run %d: summary line: %s", i, r.stdout)
		}
	}
}

// diffNames lists what is only in want (-) and only in got (+).
func diffNames(want, got []string) string {
	in := func(s []string) map[string]bool {
		m := map[string]bool{}
		for _, v := range s {
			m[v] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, v := range want {
		if !g[v] {
			fmt.Fprintf(&b, "  - %s\n", filepath.Base(v))
		}
	}
	for _, v := range got {
		if !w[v] {
			fmt.Fprintf(&b, "  + %s\n", filepath.Base(v))
		}
	}
	if len(got) != len(g) {
		fmt.Fprintf(&b, "  %d duplicate paths\n", len(got)-len(g))
	}
	return b.String()
}

// copyCorpus copies featurize/testdata/corpus's image files into dir,
// returning their new paths.
func copyCorpus(t *testing.T, dir string) []string {
	t.Helper()
	root := filepath.Join("..", "featurize", "testdata", "corpus")
	var out []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !slices.Contains(inputs.ImageExtensions, strings.ToLower(filepath.Ext(p))) {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		out = append(out, dst)
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no corpus files under %s", root)
	}
	return out
}
