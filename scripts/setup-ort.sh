#!/usr/bin/env bash
# Fetch the pinned ONNX Runtime CPU library (libonnxruntime.so.1) from the npm
# package onnxruntime-node, verify the package and the library by SHA-256 and
# install it into the featurizer cache. Idempotent: a verified copy is kept.
set -euo pipefail

VERSION=1.30.0
TGZ_SHA256=6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75
LIB_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
LIB_IN_TGZ=package/bin/napi-v6/linux/x64/libonnxruntime.so.1
TARBALL_URL=https://registry.npmjs.org/onnxruntime-node/-/onnxruntime-node-${VERSION}.tgz

cache=${FEATURIZER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/featurizer}
dest="$cache/onnxruntime/$VERSION/libonnxruntime.so.1"

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "setup-ort: only Linux x86_64 is packaged here; install ONNX Runtime $VERSION yourself and set FEATURIZER_ORT_LIB" >&2
  exit 1
fi

if [ -f "$dest" ] && echo "$LIB_SHA256  $dest" | sha256sum -c --status; then
  echo "ONNX Runtime $VERSION: $dest (verified)"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetching onnxruntime-node@$VERSION (about 110 MB) ..."
if command -v npm >/dev/null 2>&1; then
  (cd "$work" && npm pack --silent "onnxruntime-node@$VERSION" >/dev/null)
else
  curl -fsSL --retry 3 -o "$work/onnxruntime-node-$VERSION.tgz" "$TARBALL_URL"
fi
tgz="$work/onnxruntime-node-$VERSION.tgz"
echo "$TGZ_SHA256  $tgz" | sha256sum -c --status || {
  echo "setup-ort: $tgz: SHA-256 is $(sha256sum "$tgz" | cut -d' ' -f1), expected $TGZ_SHA256" >&2; exit 1; }
tar -xzf "$tgz" -C "$work" "$LIB_IN_TGZ"
echo "$LIB_SHA256  $work/$LIB_IN_TGZ" | sha256sum -c --status || {
  echo "setup-ort: libonnxruntime.so.1: SHA-256 is $(sha256sum "$work/$LIB_IN_TGZ" | cut -d' ' -f1), expected $LIB_SHA256" >&2; exit 1; }
mkdir -p "$(dirname "$dest")"
install -m 0755 "$work/$LIB_IN_TGZ" "$dest.tmp.$$"
mv -f "$dest.tmp.$$" "$dest"
echo "ONNX Runtime $VERSION: $dest (installed, SHA-256 verified)"
