package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/featurizer/featurizer/storage"
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
	ctx := context.Background()
	d, err := storage.Open(ctx, dir)
	if err != nil {
		return &usageError{fmt.Sprintf("show: %v", err)}
	}
	defer d.Close()
	// An incomplete table is shown (show is where one looks to see what
	// went wrong), under a loud first line, and the exit code is 2 as for
	// every command that is given it, so that a script stops there.
	c, verr := table.Verify(ctx, d, table.VerifyOptions{})
	var inc *table.IncompleteError
	var mis *table.MismatchError
	var not *table.NotTableError
	switch {
	case errors.As(verr, &inc):
		fmt.Fprintf(stdout, "INCOMPLETE TABLE, do not read it: %v\n", verr)
	case errors.As(verr, &mis):
		fmt.Fprintf(stdout, "INCONSISTENT TABLE, do not read it: %v\n", verr)
	case errors.As(verr, &not):
		return &usageError{fmt.Sprintf("show: %s is not a featurizer table: %v", dir, verr)}
	case verr != nil:
		return fmt.Errorf("show: %w", verr)
	case !c.Featurizer:
		return &usageError{fmt.Sprintf("show: %s is not a featurizer table: it has no %s and its parts carry no featurizer provenance", dir, table.ManifestFile)}
	}
	incomplete := func() error {
		if verr != nil {
			return &usageError{fmt.Sprintf("show: %v", verr)}
		}
		return nil
	}
	m := c.Manifest
	if m == nil {
		// No manifest: what the folder holds, and the footer's provenance.
		fmt.Fprintf(stdout, "table without %s: %d part files in the folder\n", table.ManifestFile, len(c.Parts))
		if c.Provenance != nil {
			showProvenance(stdout, *c.Provenance)
		}
		return incomplete()
	}
	fmt.Fprintf(stdout, "%s table: %d rows in %d part files, %d rejected\n", m.Kind, m.Rows, len(m.Parts), m.Rejected)
	showProvenance(stdout, m.Provenance)
	if err := showRows(ctx, stdout, dir, m, *n); err != nil && verr == nil {
		return err
	}
	return incomplete()
}

func showProvenance(stdout io.Writer, p table.Provenance) {
	fmt.Fprintf(stdout, "backbone %s (weights %s, SHA-256 %s), featurizer %s\n", p.Backbone, p.WeightsFile, p.WeightsSHA256, p.ToolVersion)
	if p.FeatureDim > 0 {
		fmt.Fprintf(stdout, "features: %d values from tensor %s (%s pooling)\n", p.FeatureDim, p.FeatureTensor, p.FeaturePooling)
	}
	fmt.Fprintf(stdout, "preprocessing: %s\n", p.Preprocessing.JSON())
	if len(p.Labels) > 0 {
		fmt.Fprintf(stdout, "labels (label_index order): %s\n", strings.Join(p.Labels, ", "))
	}
}

// showRows prints the first n rows of the table's first part.
func showRows(ctx context.Context, stdout io.Writer, dir string, m *table.Manifest, n int) error {
	if len(m.Parts) == 0 || n <= 0 {
		return nil
	}
	fmt.Fprintln(stdout)
	first := m.Parts[0].File
	switch m.Kind {
	case "predictions":
		rows, err := table.ReadPart[table.PredictionRow](ctx, dir, first)
		if err != nil {
			return err
		}
		for _, r := range rows[:min(n, len(rows))] {
			var top []string
			for _, k := range r.TopK {
				top = append(top, fmt.Sprintf("%s %.3f", k.Label, k.Probability))
			}
			fmt.Fprintf(stdout, "%s\n    %s (%d, %.3f); top: %s\n", r.Path, r.Prediction, r.PredictionIndex, r.Probability, strings.Join(top, ", "))
		}
	default:
		rows, err := table.ReadPart[table.FeatureRow](ctx, dir, first)
		if err != nil {
			return err
		}
		for _, r := range rows[:min(n, len(rows))] {
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
