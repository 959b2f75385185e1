#!/usr/bin/env bash
# make bench-decode [BASE=ref]: JPEG decode throughput (the hot path) of this
# tree against a baseline commit, side by side in one run. Both test binaries
# run BenchmarkDecodeJPEG (a 400x533 clothing photo from ../shared, else a
# synthetic one) in alternating rounds from the same directory; the report is
# each side's median ns/op and their ratio. BASE defaults to b1ea02f, the
# decoders before issue 12 (libtiff, libwebp, Pillow's BMP).
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-b1ea02f}
rounds=${ROUNDS:-7}
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/base" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add --detach "$tmp/base" "$base" >/dev/null 2>&1
(cd "$tmp/base" && go test -c -o "$tmp/base.test" ./featurize)
go test -c -o "$tmp/head.test" ./featurize
cd featurize
run() { "$1" -test.run '^$' -test.bench 'DecodeJPEG$' -test.benchtime 2s | awk '/^BenchmarkDecodeJPEG/ {print $3}'; }
for i in $(seq "$rounds"); do
  run "$tmp/base.test" >>"$tmp/base.ns"
  run "$tmp/head.test" >>"$tmp/head.ns"
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
b=$(median "$tmp/base.ns") h=$(median "$tmp/head.ns")
echo "BenchmarkDecodeJPEG, median of $rounds rounds each, alternating:"
echo "  base $base: $b ns/op"
echo "  this tree:   $h ns/op"
awk -v b="$b" -v h="$h" 'BEGIN {printf "  throughput ratio (this tree / base): %.3f\n", b / h}'
