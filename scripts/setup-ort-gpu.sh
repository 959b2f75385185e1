#!/usr/bin/env bash
# make setup-gpu: install ONNX Runtime's CUDA 13 GPU runtime for the host
# (--device cuda|tensorrt outside the container), beside the CPU runtime of
# make setup:
#
#   FEATURIZER_CACHE/onnxruntime/HOST_GPU_DIR/   (default ~/.cache/featurizer/onnxruntime/1.29.0-cuda13/)
#     libonnxruntime.so.1                     the core, from onnxruntime-node
#     libonnxruntime_providers_shared.so      the provider libraries, from
#     libonnxruntime_providers_cuda.so        com.github.asus4.onnxruntime.linux-x64-gpu
#     libonnxruntime_providers_tensorrt.so    (package/Plugins/Linux/x64/)
#     SHA256SUMS
#
# Both npm packages are fetched with npm pack (curl when npm is missing or
# FEATURIZER_FETCH=curl), and each package and each library is checked
# against its SHA-256 in scripts/ort-runtime.pins (HOST_GPU_*), the one place
# the pins live. Idempotent: a verified copy is kept. Atomic: the folder is
# assembled under a hidden temporary name beside it and renamed into place,
# so a failed or interrupted run leaves the old state (or nothing), never a
# half-installed folder. Fails closed, with one line, on any mismatch.
#
#   scripts/setup-ort-gpu.sh [--pins FILE] [--registry URL]
#
# --registry (or FEATURIZER_NPM_REGISTRY) is the npm registry to fetch from
# (default: npm's configured one; for curl, https://registry.npmjs.org).
set -euo pipefail

prog=setup-ort-gpu
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pins_file=$here/ort-runtime.pins
registry=${FEATURIZER_NPM_REGISTRY:-}

die() { echo "$prog: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case $1 in
    --pins) pins_file=${2:-}; shift 2 ;;
    --registry) registry=${2:-}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (--pins FILE, --registry URL)" ;;
  esac
done

# --- pins: the same strict KEY=VALUE format install-runtime.sh reads --------
declare -A PIN=()
[ -f "$pins_file" ] || die "pins file $pins_file not found"
n=0
while IFS= read -r line || [ -n "$line" ]; do
  n=$((n + 1))
  line=${line%%#*}
  line=${line%"${line##*[![:space:]]}"}
  [ -z "$line" ] && continue
  [[ $line =~ ^([A-Z][A-Z0-9_]*)=([^[:space:]\"\'\`\$\;\&\|]*)$ ]] ||
    die "$pins_file:$n: expected KEY=VALUE (no spaces, quotes or shell characters), got: $line"
  PIN[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
done <"$pins_file"

pin() {
  [ -n "${PIN[$1]:-}" ] || die "no pin for $1 in $pins_file: refusing to install an unpinned artefact"
  printf '%s' "${PIN[$1]}"
}
sha_pin() {
  local v
  v=$(pin "$1")
  [[ $v =~ ^[0-9a-f]{64}$ ]] || die "$pins_file: $1 must be a SHA-256 (64 lowercase hex digits), got '$v'"
  printf '%s' "$v"
}

version=$(pin HOST_GPU_ORT_VERSION)
dirname=$(pin HOST_GPU_DIR)
core_pkg=$(pin HOST_GPU_CORE_NPM_PACKAGE)
prov_pkg=$(pin HOST_GPU_PROVIDERS_NPM_PACKAGE)
core_lib=$(pin HOST_GPU_CORE_LIB_IN_ARCHIVE)
prov_dir=$(pin HOST_GPU_PROVIDERS_DIR_IN_ARCHIVE)
[[ $dirname =~ ^[A-Za-z0-9._-]+$ ]] || die "$pins_file: HOST_GPU_DIR must be a plain folder name, got '$dirname'"
[[ $core_pkg == onnxruntime-node@"$version" ]] || die "$pins_file: HOST_GPU_CORE_NPM_PACKAGE must be onnxruntime-node@HOST_GPU_ORT_VERSION (one ONNX Runtime version for core and providers)"
# name in the folder <- (pin of its SHA-256, package, path in the package)
files=(libonnxruntime.so.1 libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so libonnxruntime_providers_tensorrt.so)
declare -A SHA=(
  [libonnxruntime.so.1]=$(sha_pin HOST_GPU_CORE_LIB_SHA256)
  [libonnxruntime_providers_shared.so]=$(sha_pin HOST_GPU_PROVIDERS_SHARED_SHA256)
  [libonnxruntime_providers_cuda.so]=$(sha_pin HOST_GPU_PROVIDERS_CUDA_SHA256)
  [libonnxruntime_providers_tensorrt.so]=$(sha_pin HOST_GPU_PROVIDERS_TENSORRT_SHA256)
)
declare -A FROM=(
  [libonnxruntime.so.1]="$core_pkg $core_lib"
  [libonnxruntime_providers_shared.so]="$prov_pkg $prov_dir/libonnxruntime_providers_shared.so"
  [libonnxruntime_providers_cuda.so]="$prov_pkg $prov_dir/libonnxruntime_providers_cuda.so"
  [libonnxruntime_providers_tensorrt.so]="$prov_pkg $prov_dir/libonnxruntime_providers_tensorrt.so"
)
declare -A TGZ_SHA=([$core_pkg]=$(sha_pin HOST_GPU_CORE_SHA256) [$prov_pkg]=$(sha_pin HOST_GPU_PROVIDERS_SHA256))

[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] ||
  die "only Linux x86_64 is packaged; install ONNX Runtime $version's GPU build yourself and set FEATURIZER_ORT_LIB"

cache=${FEATURIZER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/featurizer}
root=$cache/onnxruntime
dest=$root/$dirname

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# verified DIR: every library there, with its pinned SHA-256.
verified() {
  local f
  for f in "${files[@]}"; do
    [ -f "$1/$f" ] && [ "$(sha256_of "$1/$f")" = "${SHA[$f]}" ] || return 1
  done
}

if verified "$dest"; then
  echo "ONNX Runtime $version GPU (CUDA 13): $dest (verified)"
  exit 0
fi

mkdir -p "$root"
# One installer at a time; a run that waited finds the other's verified copy.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$root/.$dirname.lock"
  flock 9
fi
if verified "$dest"; then
  echo "ONNX Runtime $version GPU (CUDA 13): $dest (verified)"
  exit 0
fi
# Leftovers of a run that was killed (-9) before its trap could clean up.
rm -rf "$root/.$dirname.tmp."*
work=$(mktemp -d "$root/.$dirname.tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
mkdir "$work/dl" "$work/x" "$work/new"

# fetch PKG@VERSION: the package tarball, in $work/dl.
fetch() {
  local spec=$1 name=${1%@*} ver=${1##*@} out
  out=$work/dl/$name-$ver.tgz
  echo "fetching $spec ..."
  if [ "${FEATURIZER_FETCH:-npm}" != curl ] && command -v npm >/dev/null 2>&1; then
    # A private npm cache: the installed copy is what is kept, not 300 MB of
    # tarballs in ~/.npm.
    if ! (cd "$work/dl" && npm pack --loglevel error --cache "$work/npm-cache" ${registry:+--registry "$registry"} "$spec" >/dev/null 2>"$work/err"); then
      die "download of $spec failed (npm pack): $(npm_error "$work/err"); nothing installed"
    fi
  else
    local base=${registry:-https://registry.npmjs.org}
    if ! curl -fsSL --retry 3 -o "$out" "${base%/}/$name/-/$name-$ver.tgz" 2>"$work/err"; then
      die "download of $spec failed (curl): $(head -n1 "$work/err" | sed 's/ *$//' | cut -c1-300); nothing installed"
    fi
  fi
  [ -f "$out" ] || die "download of $spec: no $name-$ver.tgz was written; nothing installed"
}

# npm_error FILE: npm's error lines as one line.
npm_error() {
  sed -n 's/^npm \(error\|ERR!\) *//p' "$1" | grep -v -e '^A complete log' -e '^$' | head -n 3 | paste -sd '|' - | sed 's/|/; /g' | cut -c1-300
}

for spec in "$core_pkg" "$prov_pkg"; do
  fetch "$spec"
  tgz=$work/dl/${spec%@*}-${spec##*@}.tgz
  got=$(sha256_of "$tgz")
  [ "$got" = "${TGZ_SHA[$spec]}" ] ||
    die "$(basename "$tgz"): SHA-256 is $got, pinned ${TGZ_SHA[$spec]} ($pins_file); nothing installed"
done

for f in "${files[@]}"; do
  read -r spec member <<<"${FROM[$f]}"
  tgz=$work/dl/${spec%@*}-${spec##*@}.tgz
  tar -xzf "$tgz" -C "$work/x" "$member" 2>"$work/err" ||
    die "$(basename "$tgz"): $member is not in the package ($(head -n1 "$work/err")); nothing installed"
  got=$(sha256_of "$work/x/$member")
  [ "$got" = "${SHA[$f]}" ] ||
    die "$f (from $spec): SHA-256 is $got, pinned ${SHA[$f]} ($pins_file); nothing installed"
  install -m 0755 "$work/x/$member" "$work/new/$f"
done
(cd "$work/new" && sha256sum "${files[@]}" >SHA256SUMS)

# Into place in one rename (an unverified old copy is moved aside first).
if [ -e "$dest" ] || [ -L "$dest" ]; then mv "$dest" "$work/old"; fi
mv "$work/new" "$dest"
echo "ONNX Runtime $version GPU (CUDA 13): $dest (installed, SHA-256 verified: $core_pkg + $prov_pkg)"
