// Package storage is where jobs read and write: local files (including
// Databricks' FUSE paths) and object stores (S3, Azure Blob/ADLS, GCS)
// through gocloud.dev/blob, behind one interface, Store: a location (a
// local directory or a prefix of a bucket) with reads (whole files, ranged,
// streaming, listings and walks) and atomic writes (rename or temporary key
// and copy, create-if-absent, spool and commit).
//
// Backends make each request once; WithRetry retries the transient
// failures (throttling, 5xx, dropped connections) of every request a store
// makes, with backoff, and reports ErrUnavailable when they last. Open and
// Resolve return stores with the default retries. No store exposes a local
// path: the few callers that need one ask LocalPath about the location.
package storage
