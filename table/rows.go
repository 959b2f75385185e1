package table

// The Parquet row types of featurizer's tables, and of what it reads:
// every struct with parquet tags lives here.

// FeatureRow is one row of a feature table. Spark reads features as
// array<float>.
type FeatureRow struct {
	Path       string    `parquet:"path"`
	Label      *string   `parquet:"label,optional"`
	LabelIndex *int32    `parquet:"label_index,optional"`
	Features   []float32 `parquet:"features,list"`
}

// RejectRow records an input that produced no row, and why.
type RejectRow struct {
	Path  string `parquet:"path"`
	Stage string `parquet:"stage"` // read, decode, preprocess, infer
	Error string `parquet:"error"`
}

// TopK is one entry of a prediction's top-k list.
type TopK struct {
	Index       int32   `parquet:"index"`
	Label       string  `parquet:"label"`
	Probability float32 `parquet:"probability"`
}

// PredictionRow is one row of a prediction table.
type PredictionRow struct {
	Path            string  `parquet:"path"`
	Label           *string `parquet:"label,optional"`
	Prediction      string  `parquet:"prediction"`
	PredictionIndex int32   `parquet:"prediction_index"`
	Probability     float32 `parquet:"probability"`
	TopK            []TopK  `parquet:"top_k,list"`
}

// TrainRow is what training reads of a feature table; a split column is
// optional (tables from other tools may have one).
type TrainRow struct {
	Path     string    `parquet:"path"`
	Label    *string   `parquet:"label,optional"`
	Split    *string   `parquet:"split,optional"`
	Features []float32 `parquet:"features,list"`
}

// LabelRow is a feature table's row without its features: the labels and
// splits that training looks at before it reads features.
type LabelRow struct {
	Path  string  `parquet:"path"`
	Label *string `parquet:"label,optional"`
	Split *string `parquet:"split,optional"`
}

// ScoreRow is what a trained head scores of a feature table (predict
// --features).
type ScoreRow struct {
	Path     string    `parquet:"path"`
	Label    *string   `parquet:"label,optional"`
	Features []float32 `parquet:"features,list"`
}

// ManifestRow is a row of an input manifest in Parquet: a path column and
// an optional label column (both optional in the schema: a null path is
// refused by the reader, with its row number).
type ManifestRow struct {
	Path  *string `parquet:"path,optional"`
	Label *string `parquet:"label,optional"`
}
