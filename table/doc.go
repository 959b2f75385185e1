// Package table owns featurizer's tables on storage: feature, prediction
// and rejects tables as directories of Parquet part files that Spark,
// pyarrow and DuckDB read as one table, with a manifest (provenance, parts,
// counts) written last and a _SUCCESS marker. Every Parquet row type lives
// here (rows.go).
//
// Writing: a Writer holds the output's lease (one writer per output), readies
// the output (Prepare: the --overwrite cleanup, an interrupted run's parts
// kept for a resume, shards, incremental generations), commits part files
// whose footers carry the provenance (PartWriter), and on Finish writes the
// summary, the manifest and _SUCCESS. Every file appears atomically.
//
// Reading: OpenComplete and Verify refuse a table that is incomplete or
// inconsistent (footers checked against the manifest); ReadAll and ReadPart
// read rows; ReadIndex and FilterPart serve incremental runs.
package table
