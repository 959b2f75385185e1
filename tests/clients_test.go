package tests

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/featurizer/featurizer/internal/clients"
	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/table"
)

// What tests/clients/read_tables.py reports of one table.
type clientTable struct {
	Path         string                     `json:"path"`
	Spark        map[string]clientSparkRead `json:"spark"` // by spark.sql.parquet.enableVectorizedReader
	Arrow        []clientArrowFile          `json:"arrow"`
	ArrowRejects []clientArrowFile          `json:"arrow_rejects"`
	DuckDB       struct {
		Count    int64               `json:"count"`
		Paths    []string            `json:"paths"`
		Features map[string][]uint32 `json:"features"`
	} `json:"duckdb"`
}

type clientSparkRead struct {
	Schema  sparkType         `json:"schema"`
	Count   int64             `json:"count"`
	Batched bool              `json:"batched"`
	Rows    []json.RawMessage `json:"rows"`
}

// sparkType is a Spark data type as DataType.jsonValue() writes it.
type sparkType struct {
	Name   string
	Fields []struct {
		Name string    `json:"name"`
		Type sparkType `json:"type"`
	}
	Element *sparkType
}

func (s *sparkType) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &s.Name)
	}
	var v struct {
		Type   string `json:"type"`
		Fields []struct {
			Name string    `json:"name"`
			Type sparkType `json:"type"`
		} `json:"fields"`
		ElementType *sparkType `json:"elementType"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	s.Name, s.Fields, s.Element = v.Type, v.Fields, v.ElementType
	return nil
}

// String is Spark's simpleString: struct<path:string,features:array<float>>.
func (s sparkType) String() string {
	switch s.Name {
	case "struct":
		var f []string
		for _, x := range s.Fields {
			f = append(f, x.Name+":"+x.Type.String())
		}
		return "struct<" + strings.Join(f, ",") + ">"
	case "array":
		return "array<" + s.Element.String() + ">"
	}
	return s.Name
}

type clientArrowFile struct {
	File     string            `json:"file"`
	Rows     int64             `json:"rows"`
	ReadRows int64             `json:"read_rows"`
	Metadata map[string]string `json:"metadata"`
	Columns  []struct {
		Column      string      `json:"column"`
		Encodings   []string    `json:"encodings"`
		Compression string      `json:"compression"`
		Pages       [][2]string `json:"pages"` // page type, value encoding
	} `json:"columns"`
}

type clientReport struct {
	SparkVersion string         `json:"spark_version"`
	Tables       []clientTable  `json:"tables"`
	SparkML      map[string]any `json:"spark_ml"`
	Timings      map[string]any `json:"timings"`
}

// readWithClients runs tests/clients/read_tables.py once (one Spark JVM for
// every table) on req and returns what the clients saw.
func readWithClients(t *testing.T, cwd string, req map[string]any) clientReport {
	t.Helper()
	py := clients.Python(t, "pyspark", "pyarrow", "duckdb")
	var rep clientReport
	took := runClientScript(t, py, "read_tables.py", cwd, t.TempDir(), req, &rep)
	t.Logf("Spark %s: %.1fs in all (%v)", rep.SparkVersion, took.Seconds(), rep.Timings)
	return rep
}

// runClientScript runs tests/clients/SCRIPT with the clients' Python in
// cwd: req goes in as a JSON file in work, the script's JSON result comes
// back into res. It returns how long the script ran.
func runClientScript(t *testing.T, py, script, cwd, work string, req, res any) time.Duration {
	t.Helper()
	reqFile, resFile := filepath.Join(work, "request.json"), filepath.Join(work, "result.json")
	b, _ := json.Marshal(req)
	if err := os.WriteFile(reqFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	path, _ := filepath.Abs(filepath.Join("clients", script))
	cmd := exec.Command(py, path, reqFile, resFile)
	cmd.Env, cmd.Dir = clients.Env(py), cwd
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	if b, err = os.ReadFile(resFile); err == nil {
		err = json.Unmarshal(b, res)
	}
	if err != nil {
		t.Fatalf("%s result: %v\n%s", script, err, out)
	}
	return time.Since(start)
}

// Spark (vectorized reader on and off), pyarrow and DuckDB read the tables
// featurize and predict write, locally, in shards and incrementally
// updated: Spark's schema, each row once and nothing from _rejects, the
// features bit for bit; every part's footer holds the provenance; every
// page is a data page v1 (or a dictionary page) in PLAIN or dictionary
// encoding, snappy-compressed, as Spark itself writes. One PySpark session
// does it all, and then runs the README's Spark ML sample on two of them.
func TestRealClientsReadTables(t *testing.T) {
	clients.Python(t, "pyspark", "pyarrow", "duckdb")
	fx := newFixture(t, testmodels.Options{Seed: 21})
	dir, model, spec, in := fx.dir, fx.model, fx.spec, fx.in
	for i := 0; i < 6; i++ {
		writePNG(t, filepath.Join(in, []string{"cats", "dogs"}[i%2], fmt.Sprintf("x%d.png", i)), picture(37+i*3, 41, 40+i))
	}
	// Two inputs that become rejects: they must never show up in a read.
	os.WriteFile(filepath.Join(in, "cats", "broken.png"), []byte("not a PNG"), 0o644)
	os.WriteFile(filepath.Join(in, "dogs", "empty.jpg"), nil, 0o644)
	featurize := func(out string, extra ...string) {
		t.Helper()
		args := append([]string{"featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out,
			"--rows-per-part", "4", "--batch-size", "3", "--quiet"}, extra...)
		if r := run(t, args...); r.code != exitOK {
			t.Fatalf("%v: exit %d %s", args, r.code, r.stderr)
		}
	}
	// The README sample's layout: features/train and features/test.
	work := filepath.Join(dir, "work")
	local := filepath.Join(work, "features", "train")
	featurize(local)
	sharded := filepath.Join(work, "features", "test")
	runShards(t, 2, func(i int) []string {
		return []string{"featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", sharded,
			"--shard", fmt.Sprintf("%d/2", i), "--rows-per-part", "3", "--quiet"}
	}, nil)
	// Incremental: made, then an image added, one changed, one removed.
	incremental := filepath.Join(dir, "incremental")
	featurize(incremental)
	writePNG(t, filepath.Join(in, "cats", "new.png"), picture(44, 52, 77))
	writePNG(t, filepath.Join(in, "dogs", "d0.png"), picture(61, 47, 78))
	os.Remove(filepath.Join(in, "cats", "c1.png"))
	featurize(incremental, "--incremental")
	if m, _ := filepath.Glob(filepath.Join(incremental, "part-g0001-*.parquet")); len(m) == 0 {
		t.Fatal("the incremental run wrote no new generation of parts")
	}
	predictions := filepath.Join(dir, "predictions")
	if r := run(t, "predict", "--backbone", model, "--spec", spec, "--input", in, "--output", predictions,
		"--rows-per-part", "4", "--top-k", "3", "--quiet"); r.code != exitOK {
		t.Fatalf("predict: %d %s", r.code, r.stderr)
	}

	sample, exports := readmeSparkMLSample(t)
	kinds := []struct{ path, kind string }{{local, "features"}, {sharded, "features"}, {incremental, "features"}, {predictions, "predictions"}}
	var tables []map[string]string
	for _, k := range kinds {
		tables = append(tables, map[string]string{"path": k.path, "kind": k.kind})
	}
	rep := readWithClients(t, work, map[string]any{"tables": tables,
		"spark_ml": map[string]any{"code": sample, "export": exports}})
	if len(rep.Tables) != len(kinds) {
		t.Fatalf("%d tables read, %d asked", len(rep.Tables), len(kinds))
	}
	for i, k := range kinds {
		t.Run(filepath.Base(k.path), func(t *testing.T) {
			checkClientRead(t, k.path, k.kind, rep.Tables[i])
		})
	}

	// The README's Spark ML sample ran on features/train and features/test.
	labelled := 0
	rows, _ := table.ReadAll[table.FeatureRow](sharded)
	for _, r := range rows {
		if r.Label != nil {
			labelled++
		}
	}
	acc, ok := rep.SparkML["accuracy"].(float64)
	if !ok || acc < 0 || acc > 1 || rep.SparkML["predictions"] != float64(labelled) {
		t.Errorf("README Spark ML sample: accuracy %v, %v predictions for %d labelled test rows", rep.SparkML["accuracy"], rep.SparkML["predictions"], labelled)
	}
}

// checkClientRead holds what the clients read of one table to the table.
func checkClientRead(t *testing.T, loc, kind string, got clientTable) {
	man, err := table.ReadManifest(loc)
	if err != nil {
		t.Fatal(err)
	}
	wantSchema := "struct<path:string,label:string,label_index:integer,features:array<float>>"
	if kind == "predictions" {
		wantSchema = "struct<path:string,label:string,prediction:string,prediction_index:integer,probability:float,top_k:array<struct<index:integer,label:string,probability:float>>>"
	}
	rejects, err := table.ReadAll[table.RejectRow](filepath.Join(loc, table.RejectsDir))
	if err != nil || len(rejects) == 0 {
		t.Fatalf("the table has no rejects to keep out (%v)", err)
	}
	rejected := map[string]bool{}
	for _, r := range rejects {
		rejected[r.Path] = true
	}

	// Ours, as featurizer reads it.
	want := map[string]string{}
	var wantFeatures map[string][]uint32
	if kind == "features" {
		rows, err := table.ReadAll[table.FeatureRow](loc)
		if err != nil {
			t.Fatal(err)
		}
		wantFeatures = map[string][]uint32{}
		for _, r := range rows {
			b, _ := json.Marshal(map[string]any{"path": r.Path, "label": r.Label, "label_index": r.LabelIndex, "features": float32Bits(r.Features)})
			want[r.Path] = string(b)
			wantFeatures[r.Path] = float32Bits(r.Features)
		}
	} else {
		rows, err := table.ReadAll[table.PredictionRow](loc)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			var topk [][]any
			for _, k := range r.TopK {
				topk = append(topk, []any{k.Index, k.Label, math.Float32bits(k.Probability)})
			}
			b, _ := json.Marshal(map[string]any{"path": r.Path, "label": r.Label, "prediction": r.Prediction,
				"prediction_index": r.PredictionIndex, "probability": math.Float32bits(r.Probability), "top_k": topk})
			want[r.Path] = string(b)
		}
	}
	if int64(len(want)) != man.Rows || len(want) == 0 {
		t.Fatalf("%d rows read by featurizer, manifest %d", len(want), man.Rows)
	}

	for _, vec := range []string{"true", "false"} {
		s, ok := got.Spark[vec]
		if !ok {
			t.Fatalf("no Spark read with the vectorized reader %s", vec)
		}
		if s.Schema.String() != wantSchema {
			t.Errorf("vectorized %s: Spark schema %s, want %s", vec, s.Schema, wantSchema)
		}
		if s.Batched != (vec == "true") {
			t.Errorf("vectorized reader %s: Spark's scan batched = %v", vec, s.Batched)
		}
		if s.Count != man.Rows || len(s.Rows) != len(want) {
			t.Errorf("vectorized %s: Spark counts %d rows (%d collected), the table has %d", vec, s.Count, len(s.Rows), man.Rows)
		}
		seen := map[string]bool{}
		for _, raw := range s.Rows {
			var r map[string]any
			json.Unmarshal(raw, &r)
			p, _ := r["path"].(string)
			if rejected[p] {
				t.Errorf("vectorized %s: a reject is read as a row: %s", vec, p)
			}
			if seen[p] {
				t.Errorf("vectorized %s: %s read twice", vec, p)
			}
			seen[p] = true
			if g := canonicalJSON(raw); g != canonicalJSON([]byte(want[p])) {
				t.Errorf("vectorized %s: Spark reads\n%s\nfeaturizer wrote\n%s", vec, g, want[p])
			}
		}
	}

	// pyarrow: every data file, its rows and its footer; every page.
	var files []string
	for _, p := range man.Parts {
		files = append(files, filepath.Base(p.File))
	}
	sort.Strings(files)
	var arrowFiles []string
	var arrowRows int64
	for _, f := range got.Arrow {
		arrowFiles = append(arrowFiles, f.File)
		arrowRows += f.ReadRows
		if f.ReadRows != f.Rows {
			t.Errorf("%s: pyarrow reads %d rows, the footer says %d", f.File, f.ReadRows, f.Rows)
		}
		footer, err := table.FooterMetadata(filepath.Join(loc, f.File))
		if err != nil {
			t.Fatal(err)
		}
		keys := []string{table.MetadataKey, "featurizer.backbone", "featurizer.weights_sha256", "featurizer.preprocessing",
			"featurizer.tool_version", "featurizer.run"}
		if kind == "features" {
			keys = append(keys, "featurizer.feature_dim")
		}
		for _, k := range keys {
			if f.Metadata[k] == "" {
				t.Errorf("%s: pyarrow finds no footer key %s", f.File, k)
			}
		}
		for k, v := range footer {
			if strings.HasPrefix(k, "featurizer.") && f.Metadata[k] != v {
				t.Errorf("%s: pyarrow reads footer key %s = %q, featurizer wrote %q", f.File, k, f.Metadata[k], v)
			}
		}
		var prov table.Provenance
		if err := json.Unmarshal([]byte(f.Metadata[table.MetadataKey]), &prov); err != nil || prov.WeightsSHA256 != man.Provenance.WeightsSHA256 {
			t.Errorf("%s: provenance in the footer %v %+v", f.File, err, prov)
		}
	}
	if strings.Join(arrowFiles, ",") != strings.Join(files, ",") || arrowRows != man.Rows {
		t.Errorf("pyarrow reads %v (%d rows), the manifest lists %v (%d rows)", arrowFiles, arrowRows, files, man.Rows)
	}
	if len(got.ArrowRejects) == 0 {
		t.Error("pyarrow read no rejects part")
	}
	for _, f := range append(append([]clientArrowFile{}, got.Arrow...), got.ArrowRejects...) {
		checkSparkCompatibleEncodings(t, f)
	}

	// DuckDB: read_parquet('table/*.parquet').
	if got.DuckDB.Count != man.Rows {
		t.Errorf("DuckDB counts %d rows, the table has %d", got.DuckDB.Count, man.Rows)
	}
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	if strings.Join(got.DuckDB.Paths, "\n") != strings.Join(paths, "\n") {
		t.Errorf("DuckDB reads the paths\n%v\nthe table holds\n%v", got.DuckDB.Paths, paths)
	}
	for p, f := range wantFeatures {
		if fmt.Sprint(got.DuckDB.Features[p]) != fmt.Sprint(f) {
			t.Errorf("%s: DuckDB reads other features", p)
		}
	}
}

// checkSparkCompatibleEncodings: what parquet-mr (Spark) writes and every
// reader reads: data page v1, PLAIN or dictionary values (levels RLE),
// snappy. Data page v2 and the DELTA_* encodings are what older readers
// (Spark's vectorized reader before 3.3, among others) refuse.
func checkSparkCompatibleEncodings(t *testing.T, f clientArrowFile) {
	t.Helper()
	if len(f.Columns) == 0 {
		t.Errorf("%s: no column chunks", f.File)
	}
	for _, c := range f.Columns {
		col := c.Column
		if c.Compression != "SNAPPY" {
			t.Errorf("%s %s: compression %s", f.File, col, c.Compression)
		}
		for _, e := range c.Encodings {
			if e != "PLAIN" && e != "RLE" && e != "PLAIN_DICTIONARY" && e != "RLE_DICTIONARY" && e != "BIT_PACKED" {
				t.Errorf("%s %s: encoding %s (chunk encodings %v)", f.File, col, e, c.Encodings)
			}
		}
		if len(c.Pages) == 0 {
			t.Errorf("%s %s: no pages", f.File, col)
		}
		for _, p := range c.Pages {
			if (p[0] != "DATA_PAGE" && p[0] != "DICTIONARY_PAGE") || (p[1] != "PLAIN" && p[1] != "PLAIN_DICTIONARY" && p[1] != "RLE_DICTIONARY") {
				t.Errorf("%s %s: a %s page in %s", f.File, col, p[0], p[1])
			}
		}
	}
}

func float32Bits(f []float32) []uint32 {
	out := make([]uint32, len(f))
	for i, v := range f {
		out[i] = math.Float32bits(v)
	}
	return out
}

// canonicalJSON re-encodes a JSON value with sorted keys.
func canonicalJSON(b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "invalid JSON: " + string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// readmeSparkMLSample is the README's Spark ML code block (the one after
// the marker comment), and the names the test reads back from it.
func readmeSparkMLSample(t *testing.T) (code string, exports []string) {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- tested: tests/clients_test.go runs this block -->\\s*```python\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("README.md has no Spark ML sample after its marker comment")
	}
	return string(m[1]), []string{"accuracy", "predictions"}
}
