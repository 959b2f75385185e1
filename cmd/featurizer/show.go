package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/featurizer/featurizer/table"
)

// cmdShow prints a table's provenance, counts and first rows.
func cmdShow(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("show", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	n := fs.Int("rows", 5, "rows to print")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage: featurizer show [--rows N] TABLE_DIR")
			return flag.ErrHelp
		}
		return &usageError{fmt.Sprintf("show: %v", err)}
	}
	if len(pos) != 1 {
		return &usageError{"show: expected one table directory (featurizer show [--rows N] DIR)"}
	}
	dir := pos[0]
	m, err := table.ReadManifest(dir)
	if err != nil {
		if _, e := table.ReadPart[table.FeatureRow](context.Background(), dir, table.PartName(0)); e == nil {
			return fmt.Errorf("show: %s has part files but no %s: the job that wrote it did not finish", dir, table.ManifestFile)
		}
		return &usageError{fmt.Sprintf("show: %s is not a featurizer table: %v", dir, err)}
	}
	p := m.Provenance
	fmt.Fprintf(stdout, "%s table: %d rows in %d part files, %d rejected\n", m.Kind, m.Rows, len(m.Parts), m.Rejected)
	fmt.Fprintf(stdout, "backbone %s (weights %s, SHA-256 %s), featurizer %s\n", p.Backbone, p.WeightsFile, p.WeightsSHA256, p.ToolVersion)
	if p.FeatureDim > 0 {
		fmt.Fprintf(stdout, "features: %d values from tensor %s (%s pooling)\n", p.FeatureDim, p.FeatureTensor, p.FeaturePooling)
	}
	fmt.Fprintf(stdout, "preprocessing: %s\n", p.Preprocessing.JSON())
	if len(p.Labels) > 0 {
		fmt.Fprintf(stdout, "labels (label_index order): %s\n", strings.Join(p.Labels, ", "))
	}
	if len(m.Parts) == 0 || *n <= 0 {
		return nil
	}
	fmt.Fprintln(stdout)
	first := m.Parts[0].File
	switch m.Kind {
	case "predictions":
		rows, err := table.ReadPart[table.PredictionRow](context.Background(), dir, first)
		if err != nil {
			return err
		}
		for _, r := range rows[:min(*n, len(rows))] {
			var top []string
			for _, k := range r.TopK {
				top = append(top, fmt.Sprintf("%s %.3f", k.Label, k.Probability))
			}
			fmt.Fprintf(stdout, "%s\n    %s (%d, %.3f); top: %s\n", r.Path, r.Prediction, r.PredictionIndex, r.Probability, strings.Join(top, ", "))
		}
	default:
		rows, err := table.ReadPart[table.FeatureRow](context.Background(), dir, first)
		if err != nil {
			return err
		}
		for _, r := range rows[:min(*n, len(rows))] {
			label := "null"
			if r.Label != nil {
				label = fmt.Sprintf("%s (%d)", *r.Label, *r.LabelIndex)
			}
			head := r.Features[:min(4, len(r.Features))]
			fmt.Fprintf(stdout, "%s\n    label %s, features %v ... (%d values)\n", r.Path, label, head, len(r.Features))
		}
	}
	return nil
}
