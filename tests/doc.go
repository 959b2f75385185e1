// Package tests runs the built featurizer CLI end to end: whole jobs on
// local disk and on real storage servers (internal/testservers), resume
// after kill -9, shards, incremental runs, exit codes, progress on a
// pseudo-terminal, and the real clients (PySpark, pyarrow, DuckDB, MLflow,
// Keras) reading what it writes. It has only tests.
package tests
