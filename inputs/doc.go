// Package inputs turns what the user points at (a directory tree of images,
// or a CSV or Parquet manifest, on any storage) into an ordered stream of
// images with their labels: Source.Walk for the pipeline, Source.List to
// count ahead, with filters for incremental runs and the shard of each
// path.
package inputs
