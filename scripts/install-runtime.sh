#!/usr/bin/env bash
# The install recipe of the featurizer container image (Dockerfile) and its
# checks, in one script that CI runs too (scripts/test-container-recipe.sh).
#
#   install-runtime.sh ort --variant cpu|gpu --prefix DIR [--archive FILE] [--pins FILE]
#       Fetch the pinned ONNX Runtime (cpu: the npm package onnxruntime-node;
#       gpu: ONNX Runtime's CUDA 12 release with the CUDA/TensorRT providers),
#       verify its SHA-256 (and the CPU library's), install the libraries into
#       DIR/lib and write DIR/featurizer.env (FEATURIZER_ORT_LIB=...).
#       --archive uses a local copy of the archive instead of downloading it
#       (it is verified all the same). Needs no root.
#   install-runtime.sh system-deps --variant cpu|gpu [--dcs] [--dry-run] [--pins FILE]
#       apt-get install what the binary and the providers load (libjpeg-turbo,
#       OpenBLAS; gpu: pinned TensorRT 10; gpu --dcs: also the CUDA 12 runtime
#       and cuDNN 9) and, with --dcs, check the Databricks Container Services
#       requirements. --dry-run prints the apt command instead (no root).
#   install-runtime.sh check [--pins FILE] [--dockerfile FILE]
#       Validate the pins file (the container's pins and make setup-gpu's
#       HOST_GPU_* pins) and its agreement with the Dockerfile,
#       scripts/setup-ort.sh, backbones/ortlib.go and internal/version.
#       Offline, no root.
#   install-runtime.sh measure --variant cpu|gpu
#       On a machine with internet access: download the artefact and print its
#       SHA-256 and those of the libraries in it, to fill in the pins file.
#
# Pins: scripts/ort-runtime.pins (KEY=VALUE), the only place versions and
# checksums are written down. A missing pin or a mismatching download is
# refused: nothing is installed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
prog=install-runtime

die() { echo "$prog: $*" >&2; exit 1; }
note() { echo "$prog: $*"; }

# --- pins -------------------------------------------------------------------

declare -A PIN=()
pins_file="$here/ort-runtime.pins"

load_pins() {
  [ -f "$pins_file" ] || die "pins file $pins_file not found"
  local n=0 line key value
  PIN=()
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    line=${line%%#*}
    line=${line%"${line##*[![:space:]]}"}
    [ -z "$line" ] && continue
    if [[ ! $line =~ ^([A-Z][A-Z0-9_]*)=([^[:space:]\"\'\`\$\;\&\|]*)$ ]]; then
      die "$pins_file:$n: expected KEY=VALUE (no spaces, quotes or shell characters), got: $line"
    fi
    key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
    [ -z "${PIN[$key]+x}" ] || die "$pins_file:$n: $key is pinned twice"
    PIN[$key]=$value
  done <"$pins_file"
}

# pin KEY: its value, or a refusal naming what is missing and how to get it.
pin() {
  local v=${PIN[$1]:-}
  [ -n "$v" ] || die "no pin for $1 in $pins_file: refusing to install an unpinned artefact (measure it with '$0 measure' on a machine with internet access and add $1=...)"
  printf '%s' "$v"
}

sha_pin() {
  local v
  v=$(pin "$1")
  [[ $v =~ ^[0-9a-f]{64}$ ]] || die "$pins_file: $1 must be 64 lowercase hex digits (a SHA-256), got '$v'"
  printf '%s' "$v"
}

# Every key each variant needs, and its shape: the one definition of a valid
# pins file (ort, system-deps and check all go through it).
validate_pins() {
  local k
  [[ $(pin ORT_VERSION) =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "$pins_file: ORT_VERSION must be X.Y.Z"
  for k in CPU_SHA256 CPU_LIB_SHA256 GPU_SHA256; do sha_pin "$k" >/dev/null; done
  for k in CPU_URL GPU_URL; do
    [[ $(pin "$k") =~ ^https://[^/]+/ ]] || die "$pins_file: $k must be an https URL"
    [[ $(pin "$k") == *"$(pin ORT_VERSION)"* ]] || die "$pins_file: $k does not name ORT_VERSION $(pin ORT_VERSION)"
  done
  [[ $(pin CPU_NPM_PACKAGE) == "onnxruntime-node@$(pin ORT_VERSION)" ]] || die "$pins_file: CPU_NPM_PACKAGE must be onnxruntime-node@ORT_VERSION"
  [[ $(pin CPU_NPM_INTEGRITY) =~ ^sha512-[A-Za-z0-9+/]+=*$ ]] || die "$pins_file: CPU_NPM_INTEGRITY must be an npm sha512- integrity string"
  [[ $(pin CPU_LIB_IN_ARCHIVE) == package/*/libonnxruntime.so.1 ]] || die "$pins_file: CPU_LIB_IN_ARCHIVE must be a package/.../libonnxruntime.so.1 path"
  [[ $(pin GPU_URL) == */"$(pin GPU_ARCHIVE_DIR).tgz" ]] || die "$pins_file: GPU_URL must end with GPU_ARCHIVE_DIR.tgz"
  [[ $(pin GPU_ARCHIVE_DIR) == onnxruntime-linux-x64-gpu*-"$(pin ORT_VERSION)" ]] || die "$pins_file: GPU_ARCHIVE_DIR must be onnxruntime-linux-x64-gpu...-ORT_VERSION"
  [[ $(pin GPU_SHA256_MEASURED) =~ ^(yes|no)$ ]] || die "$pins_file: GPU_SHA256_MEASURED must be yes or no"
  [[ $(pin CUDA_IMAGE) =~ ^nvidia/cuda:12\.([0-9]+)\.[0-9]+-cudnn-runtime-ubuntu22\.04$ ]] ||
    die "$pins_file: CUDA_IMAGE must be nvidia/cuda:12.X.Y-cudnn-runtime-ubuntu22.04 (CUDA 12 + cuDNN 9 for the ONNX Runtime CUDA 12 build; Ubuntu 22.04 like the build stage)"
  local cuda_minor=${BASH_REMATCH[1]}
  [[ $(pin CUDA_APT_SUFFIX) == "12-$cuda_minor" ]] || die "$pins_file: CUDA_APT_SUFFIX must be 12-$cuda_minor to match CUDA_IMAGE"
  [[ $(pin TENSORRT_DEB_VERSION) =~ ^10\.[0-9.]+-[0-9]+\+cuda12\.([0-9]+)$ ]] || die "$pins_file: TENSORRT_DEB_VERSION must be a TensorRT 10 build for CUDA 12 (10.x.y.z-1+cuda12.N)"
  [[ ${BASH_REMATCH[1]} == "$cuda_minor" ]] || die "$pins_file: TENSORRT_DEB_VERSION is built for CUDA 12.${BASH_REMATCH[1]} but CUDA_IMAGE is CUDA 12.$cuda_minor"
  [[ $(pin CUDNN_APT_PACKAGE) == libcudnn9-cuda-12 ]] || die "$pins_file: CUDNN_APT_PACKAGE must be libcudnn9-cuda-12 (cuDNN 9 for CUDA 12)"
}

# --- helpers ----------------------------------------------------------------

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

verify() { # FILE EXPECTED WHAT
  local got
  got=$(sha256_of "$1")
  [ "$got" = "$2" ] || die "$3: SHA-256 mismatch: got $got, pinned $2 ($pins_file); refusing to install"
}

fetch() { # URL DEST
  command -v curl >/dev/null 2>&1 || die "curl is needed to download $1 (or pass --archive FILE)"
  curl -fsSL --retry 3 --proto '=https' -o "$2" "$1" || die "download of $1 failed"
}

fetch_cpu_archive() { # DEST_DIR -> path
  local dest=$1 name
  name=onnxruntime-node-$(pin ORT_VERSION).tgz
  if command -v npm >/dev/null 2>&1; then
    (cd "$dest" && npm pack --silent "$(pin CPU_NPM_PACKAGE)" >/dev/null) || die "npm pack $(pin CPU_NPM_PACKAGE) failed"
  else
    fetch "$(pin CPU_URL)" "$dest/$name"
  fi
  printf '%s' "$dest/$name"
}

# --- ort --------------------------------------------------------------------

cmd_ort() {
  local variant="" prefix="" archive=""
  while [ $# -gt 0 ]; do
    case $1 in
      --variant) variant=${2:-}; shift 2 ;;
      --prefix) prefix=${2:-}; shift 2 ;;
      --archive) archive=${2:-}; shift 2 ;;
      --pins) pins_file=${2:-}; shift 2 ;;
      *) die "ort: unknown argument $1" ;;
    esac
  done
  [[ $variant =~ ^(cpu|gpu)$ ]] || die "ort: --variant cpu|gpu is required"
  [ -n "$prefix" ] || die "ort: --prefix DIR is required"
  [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || die "ort: only Linux x86_64 is packaged"
  load_pins
  validate_pins
  local version work lib
  version=$(pin ORT_VERSION)
  mkdir -p "$prefix"
  prefix=$(cd "$prefix" && pwd)
  lib="$prefix/lib"
  work=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now: $work is local
  trap "rm -rf '$work'" EXIT
  mkdir "$work/stage"

  if [ -z "$archive" ]; then
    note "fetching the ONNX Runtime $version $variant archive ..."
    if [ "$variant" = cpu ]; then archive=$(fetch_cpu_archive "$work"); else
      archive="$work/$(pin GPU_ARCHIVE_DIR).tgz"
      fetch "$(pin GPU_URL)" "$archive"
    fi
  fi
  [ -f "$archive" ] || die "ort: archive $archive not found"

  if [ "$variant" = cpu ]; then
    verify "$archive" "$(sha_pin CPU_SHA256)" "$(basename "$archive")"
    tar -xzf "$archive" -C "$work/stage" "$(pin CPU_LIB_IN_ARCHIVE)" || die "ort: $(pin CPU_LIB_IN_ARCHIVE) is not in $archive"
    verify "$work/stage/$(pin CPU_LIB_IN_ARCHIVE)" "$(sha_pin CPU_LIB_SHA256)" libonnxruntime.so.1
    mkdir -p "$work/lib"
    install -m 0755 "$work/stage/$(pin CPU_LIB_IN_ARCHIVE)" "$work/lib/libonnxruntime.so.1"
  else
    if [ "$(pin GPU_SHA256_MEASURED)" != yes ]; then
      note "note: GPU_SHA256 was not measured on the machine that wrote the pins (see $pins_file); the download is still checked against it"
    fi
    verify "$archive" "$(sha_pin GPU_SHA256)" "$(basename "$archive")"
    local d
    d=$(pin GPU_ARCHIVE_DIR)
    tar -xzf "$archive" -C "$work/stage" "$d/lib" || die "ort: $d/lib is not in $archive"
    local f
    mkdir -p "$work/lib"
    # Libraries as files, the sonames as links: the providers are loaded from
    # the directory of libonnxruntime.so, so they all stay together.
    for f in "$work/stage/$d/lib/"*.so*; do
      if [ -f "$f" ] && [ ! -L "$f" ]; then install -m 0755 "$f" "$work/lib/"; fi
    done
    if [ ! -f "$work/lib/libonnxruntime.so.1" ]; then
      [ -f "$work/lib/libonnxruntime.so.$version" ] || die "ort: $d/lib has neither libonnxruntime.so.$version nor libonnxruntime.so.1"
      ln -s "libonnxruntime.so.$version" "$work/lib/libonnxruntime.so.1"
    fi
    [ -e "$work/lib/libonnxruntime.so" ] || ln -s libonnxruntime.so.1 "$work/lib/libonnxruntime.so"
    for f in libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so libonnxruntime_providers_tensorrt.so; do
      [ -f "$work/lib/$f" ] || die "ort: $d/lib/$f is missing from the GPU archive"
    done
    # The licence texts travel with the libraries (when the archive has them).
    mkdir -p "$work/share"
    for f in LICENSE ThirdPartyNotices.txt; do
      if tar -xzf "$archive" -C "$work/stage" "$d/$f" 2>/dev/null; then cp "$work/stage/$d/$f" "$work/share/onnxruntime-$f"; fi
    done
  fi

  # Record what was installed, then move it into place in one step per file.
  (cd "$work/lib" && find . -maxdepth 1 -type f -printf '%f\n' | sort | xargs sha256sum) >"$work/SHA256SUMS"
  mv "$work/SHA256SUMS" "$work/lib/SHA256SUMS"
  mkdir -p "$lib"
  for f in "$work/lib/"*; do
    if [ -L "$f" ]; then ln -sfn "$(readlink "$f")" "$lib/$(basename "$f")"; else mv -f "$f" "$lib/"; fi
  done
  if [ -d "$work/share" ] && [ -n "$(ls -A "$work/share")" ]; then mkdir -p "$prefix/share"; mv -f "$work/share/"* "$prefix/share/"; fi
  cat >"$prefix/featurizer.env" <<EOF
# Written by scripts/install-runtime.sh: ONNX Runtime $version ($variant).
FEATURIZER_ORT_LIB=$lib/libonnxruntime.so.1
FEATURIZER_ORT_VARIANT=$variant
EOF
  cp "$pins_file" "$prefix/ort-runtime.pins"
  note "ONNX Runtime $version ($variant) installed in $lib, SHA-256 verified; FEATURIZER_ORT_LIB=$lib/libonnxruntime.so.1 (see $prefix/featurizer.env)"
}

# --- system-deps ------------------------------------------------------------

cmd_system_deps() {
  local variant="" dcs=0 dry=0
  while [ $# -gt 0 ]; do
    case $1 in
      --variant) variant=${2:-}; shift 2 ;;
      --dcs) dcs=1; shift ;;
      --dry-run) dry=1; shift ;;
      --pins) pins_file=${2:-}; shift 2 ;;
      *) die "system-deps: unknown argument $1" ;;
    esac
  done
  [[ $variant =~ ^(cpu|gpu)$ ]] || die "system-deps: --variant cpu|gpu is required"
  load_pins
  validate_pins
  local os=ubuntu
  if [ -r /etc/os-release ]; then os=$(sed -n 's/^ID=//p' /etc/os-release | tr -d '"'); fi
  [ "$dry" = 1 ] && os=ubuntu # the image's OS
  # libjpeg-turbo's and libtiff's runtime packages are named differently on
  # Ubuntu and Debian; libwebp's are not.
  local pkgs=(ca-certificates libopenblas0 libwebp7 libwebpdemux2 liblcms2-2)
  if [ "$os" = debian ]; then pkgs+=(libjpeg62-turbo libtiff6); else pkgs+=(libjpeg-turbo8 libtiff5); fi
  if [ "$variant" = gpu ]; then
    local trt
    trt=$(pin TENSORRT_DEB_VERSION)
    pkgs+=("libnvinfer10=$trt" "libnvinfer-plugin10=$trt" "libnvonnxparsers10=$trt")
    if [ "$dcs" = 1 ]; then
      local s
      s=$(pin CUDA_APT_SUFFIX)
      pkgs+=("cuda-cudart-$s" "libcublas-$s" "libcufft-$s" "libcurand-$s" "cuda-nvrtc-$s" "$(pin CUDNN_APT_PACKAGE)")
    fi
  fi
  if [ "$dry" = 1 ]; then
    echo "apt-get install -y --no-install-recommends ${pkgs[*]}"
    [ "$dcs" = 1 ] && echo "then check the Databricks Container Services requirements: java bash ip sudo ps /databricks/python3/bin/python"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "system-deps: run as root (inside the image build), or use --dry-run"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
  # Keep the pinned TensorRT from being upgraded by a later apt-get upgrade.
  if [ "$variant" = gpu ]; then apt-mark hold libnvinfer10 libnvinfer-plugin10 libnvonnxparsers10 >/dev/null; fi
  rm -rf /var/lib/apt/lists/*
  ldconfig
  if [ "$dcs" = 1 ]; then check_dcs; fi
  note "system packages installed: ${pkgs[*]}"
}

# What Databricks Container Services needs of an image (docs/container.md):
# Ubuntu, a JDK on PATH, bash, iproute2, coreutils, procps, sudo, and for
# Python tasks a virtualenv at /databricks/python3 whose packages match the
# Databricks Runtime version of the cluster.
check_dcs() {
  local missing=() c
  for c in java bash ip sudo ps ls; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  [ -x /databricks/python3/bin/python ] || [ -x /databricks/python3/bin/python3 ] || missing+=(/databricks/python3)
  grep -qi '^ID=ubuntu' /etc/os-release 2>/dev/null || missing+=("an Ubuntu base")
  [ ${#missing[@]} -eq 0 ] || die "the Databricks Container Services base lacks: ${missing[*]} (start from databricksruntime/standard, see docs/container.md)"
}

# --- check ------------------------------------------------------------------

# dockerfile_arg FILE NAME: the default of 'ARG NAME=...' (first one).
dockerfile_arg() { sed -n "s/^ARG $2=\\([^[:space:]]*\\).*/\\1/p" "$1" | head -n1; }

cmd_check() {
  local dockerfile="$root/Dockerfile" errs=0
  while [ $# -gt 0 ]; do
    case $1 in
      --pins) pins_file=${2:-}; shift 2 ;;
      --dockerfile) dockerfile=${2:-}; shift 2 ;;
      *) die "check: unknown argument $1" ;;
    esac
  done
  load_pins
  validate_pins
  bad() { echo "$prog: check: $*" >&2; errs=$((errs + 1)); }

  # The CPU pins are the ones make setup uses, and the Go code expects.
  local setup="$root/scripts/setup-ort.sh" ortlib="$root/backbones/ortlib.go" verfile="$root/internal/version/version.go" v
  if [ -f "$setup" ]; then
    v=$(sed -n 's/^VERSION=//p' "$setup"); [ "$v" = "$(pin ORT_VERSION)" ] || bad "scripts/setup-ort.sh pins ONNX Runtime $v, $pins_file pins $(pin ORT_VERSION)"
    v=$(sed -n 's/^TGZ_SHA256=//p' "$setup"); [ "$v" = "$(pin CPU_SHA256)" ] || bad "scripts/setup-ort.sh TGZ_SHA256 differs from CPU_SHA256"
    v=$(sed -n 's/^LIB_SHA256=//p' "$setup"); [ "$v" = "$(pin CPU_LIB_SHA256)" ] || bad "scripts/setup-ort.sh LIB_SHA256 differs from CPU_LIB_SHA256"
    v=$(sed -n 's/^LIB_IN_TGZ=//p' "$setup"); [ "$v" = "$(pin CPU_LIB_IN_ARCHIVE)" ] || bad "scripts/setup-ort.sh LIB_IN_TGZ differs from CPU_LIB_IN_ARCHIVE"
  fi
  if [ -f "$verfile" ]; then
    v=$(sed -n 's/^const ONNXRuntime[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p' "$verfile"); [ "$v" = "$(pin ORT_VERSION)" ] || bad "internal/version/version.go ONNXRuntime is '$v', the pins say $(pin ORT_VERSION)"
  fi
  if [ -f "$ortlib" ]; then
    v=$(sed -n 's/^[[:space:]]*ORTLibSHA256[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p' "$ortlib"); [ "$v" = "$(pin CPU_LIB_SHA256)" ] || bad "backbones/ortlib.go ORTLibSHA256 differs from CPU_LIB_SHA256"
  fi

  # The host GPU runtime of make setup-gpu (scripts/setup-ort-gpu.sh reads
  # its pins from the pins file and carries none of its own): well-formed,
  # one ONNX Runtime version for core and providers, and the values
  # backbones/ortlib.go verifies and loads.
  local k gv
  for k in HOST_GPU_CORE_SHA256 HOST_GPU_CORE_LIB_SHA256 HOST_GPU_PROVIDERS_SHA256 HOST_GPU_PROVIDERS_SHARED_SHA256 HOST_GPU_PROVIDERS_CUDA_SHA256 HOST_GPU_PROVIDERS_TENSORRT_SHA256; do
    sha_pin "$k" >/dev/null
  done
  gv=$(pin HOST_GPU_ORT_VERSION)
  [[ $gv =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || bad "$pins_file: HOST_GPU_ORT_VERSION must be X.Y.Z"
  [[ $(pin HOST_GPU_DIR) == "$gv"-cuda[0-9]* ]] || bad "$pins_file: HOST_GPU_DIR must be HOST_GPU_ORT_VERSION-cudaN"
  [[ $(pin HOST_GPU_CORE_NPM_PACKAGE) == "onnxruntime-node@$gv" ]] || bad "$pins_file: HOST_GPU_CORE_NPM_PACKAGE must be onnxruntime-node@HOST_GPU_ORT_VERSION (core and providers at one version)"
  [[ $(pin HOST_GPU_PROVIDERS_NPM_PACKAGE) =~ ^[a-z0-9._-]+@[0-9.]+$ ]] || bad "$pins_file: HOST_GPU_PROVIDERS_NPM_PACKAGE must be NAME@VERSION"
  for k in HOST_GPU_CORE_NPM_INTEGRITY HOST_GPU_PROVIDERS_NPM_INTEGRITY; do
    [[ $(pin "$k") =~ ^sha512-[A-Za-z0-9+/]+=*$ ]] || bad "$pins_file: $k must be an npm sha512- integrity string"
  done
  [[ $(pin HOST_GPU_CORE_LIB_IN_ARCHIVE) == package/*/libonnxruntime.so.1 ]] || bad "$pins_file: HOST_GPU_CORE_LIB_IN_ARCHIVE must be a package/.../libonnxruntime.so.1 path"
  [[ $(pin HOST_GPU_PROVIDERS_DIR_IN_ARCHIVE) == package/* ]] || bad "$pins_file: HOST_GPU_PROVIDERS_DIR_IN_ARCHIVE must be a package/... folder"
  if [ -f "$root/scripts/setup-ort-gpu.sh" ] && grep -Eq '[0-9a-f]{64}' "$root/scripts/setup-ort-gpu.sh"; then
    bad "scripts/setup-ort-gpu.sh contains a 64-hex checksum; its pins belong in $pins_file only"
  fi
  if [ -f "$ortlib" ]; then
    local go_name pin_name pair
    for pair in ORTGPUVersion:HOST_GPU_ORT_VERSION ORTGPUDir:HOST_GPU_DIR ORTGPULibSHA256:HOST_GPU_CORE_LIB_SHA256 \
      ORTGPUProvidersSharedSHA256:HOST_GPU_PROVIDERS_SHARED_SHA256 ORTGPUProvidersCUDASHA256:HOST_GPU_PROVIDERS_CUDA_SHA256 \
      ORTGPUProvidersTensorRTSHA256:HOST_GPU_PROVIDERS_TENSORRT_SHA256; do
      go_name=${pair%%:*} pin_name=${pair#*:}
      v=$(sed -n "s/^[[:space:]]*${go_name}[[:space:]]*=[[:space:]]*\"\(.*\)\"/\1/p" "$ortlib")
      [ "$v" = "$(pin "$pin_name")" ] || bad "backbones/ortlib.go $go_name is '$v', $pins_file pins $pin_name=$(pin "$pin_name")"
    done
  fi

  # The Dockerfile: same CUDA base, one OS for build and runtime, the recipe
  # used for every install, no pins of its own, non-root, featurizer entry.
  [ -f "$dockerfile" ] || die "check: $dockerfile not found"
  local cuda build cpu variant dcs_base
  cuda=$(dockerfile_arg "$dockerfile" CUDA_IMAGE)
  build=$(dockerfile_arg "$dockerfile" BUILD_IMAGE)
  cpu=$(dockerfile_arg "$dockerfile" CPU_IMAGE)
  variant=$(dockerfile_arg "$dockerfile" VARIANT)
  dcs_base=$(dockerfile_arg "$dockerfile" DCS_BASE)
  [ "$cuda" = "$(pin CUDA_IMAGE)" ] || bad "Dockerfile ARG CUDA_IMAGE=$cuda, $pins_file pins CUDA_IMAGE=$(pin CUDA_IMAGE)"
  [ "$variant" = gpu ] || bad "Dockerfile ARG VARIANT should default to gpu, is '$variant'"
  [ "$build" = ubuntu:22.04 ] || bad "Dockerfile ARG BUILD_IMAGE=$build: the binary must be built on the runtime's OS (ubuntu:22.04: glibc 2.35, libjpeg.so.8 of jammy)"
  [ "$cpu" = ubuntu:22.04 ] || bad "Dockerfile ARG CPU_IMAGE=$cpu: the CPU runtime must be the build's OS (ubuntu:22.04)"
  [[ $dcs_base == databricksruntime/standard:15.4-LTS ]] || bad "Dockerfile ARG DCS_BASE=$dcs_base: the dcs target is checked against databricksruntime/standard:15.4-LTS (Ubuntu 22.04); update this check and docs/container.md together"
  grep -Eq '^FROM \$\{CUDA_IMAGE\} AS base-gpu' "$dockerfile" || bad "Dockerfile: no 'FROM \${CUDA_IMAGE} AS base-gpu' stage"
  grep -Eq '^FROM \$\{CPU_IMAGE\} AS base-cpu' "$dockerfile" || bad "Dockerfile: no 'FROM \${CPU_IMAGE} AS base-cpu' stage"
  grep -Eq '^FROM base-\$\{VARIANT\} AS runtime' "$dockerfile" || bad "Dockerfile: the runtime stage must be chosen by VARIANT (FROM base-\${VARIANT} AS runtime)"
  grep -Eq 'install-runtime\.sh ort --variant "?\$\{?VARIANT\}?"? --prefix' "$dockerfile" || bad "Dockerfile: ONNX Runtime must be installed by scripts/install-runtime.sh ort --variant \$VARIANT"
  grep -Eq 'install-runtime\.sh system-deps --variant "?\$\{?VARIANT\}?"?' "$dockerfile" || bad "Dockerfile: system packages must be installed by scripts/install-runtime.sh system-deps"
  grep -Eq 'install-runtime\.sh system-deps --variant "?\$\{?VARIANT\}?"? --dcs' "$dockerfile" || bad "Dockerfile: the dcs target must install through scripts/install-runtime.sh system-deps --dcs"
  grep -Eq '^COPY .*scripts/ort-runtime\.pins' "$dockerfile" || bad "Dockerfile: scripts/ort-runtime.pins must be copied into the build"
  grep -Eq '^USER (featurizer|1000)' "$dockerfile" || bad "Dockerfile: the runtime image must run as the non-root user (USER featurizer / 1000)"
  grep -Eq 'useradd .*--uid 1000' "$dockerfile" || bad "Dockerfile: no user with uid 1000"
  grep -Eq '^ENTRYPOINT \["featurizer"\]' "$dockerfile" || bad "Dockerfile: ENTRYPOINT [\"featurizer\"] missing"
  [ "$(grep -E '^FROM ' "$dockerfile" | tail -n1 | awk '{print $NF}')" = image ] || bad "Dockerfile: the last stage (the default target) must be 'image', the runtime image"
  if grep -Eq '[0-9a-f]{64}' "$dockerfile"; then bad "Dockerfile: contains a 64-hex checksum; checksums belong in $pins_file only"; fi
  if grep -Eq "$(pin ORT_VERSION | sed 's/\./\\./g')|libnvinfer10=" "$dockerfile"; then bad "Dockerfile: names the ONNX Runtime or TensorRT version; versions belong in $pins_file only"; fi
  [ "$errs" = 0 ] || die "check: $errs problem(s)"
  note "check: $pins_file is well-formed and agrees with $(basename "$dockerfile"), setup-ort.sh and ortlib.go (ONNX Runtime $(pin ORT_VERSION); CUDA base $(pin CUDA_IMAGE); TensorRT $(pin TENSORRT_DEB_VERSION); GPU SHA-256 measured here: $(pin GPU_SHA256_MEASURED); make setup-gpu: ONNX Runtime $gv, $(pin HOST_GPU_DIR))"
}

# --- measure ----------------------------------------------------------------

cmd_measure() {
  local variant=""
  while [ $# -gt 0 ]; do
    case $1 in
      --variant) variant=${2:-}; shift 2 ;;
      --pins) pins_file=${2:-}; shift 2 ;;
      *) die "measure: unknown argument $1" ;;
    esac
  done
  [[ $variant =~ ^(cpu|gpu)$ ]] || die "measure: --variant cpu|gpu is required"
  load_pins
  local work a
  work=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" EXIT
  if [ "$variant" = cpu ]; then
    a=$(fetch_cpu_archive "$work")
    echo "CPU_SHA256=$(sha256_of "$a")"
    tar -xzf "$a" -C "$work" "$(pin CPU_LIB_IN_ARCHIVE)"
    echo "CPU_LIB_SHA256=$(sha256_of "$work/$(pin CPU_LIB_IN_ARCHIVE)")"
  else
    a="$work/$(pin GPU_ARCHIVE_DIR).tgz"
    fetch "$(pin GPU_URL)" "$a"
    echo "GPU_SHA256=$(sha256_of "$a")"
    echo "GPU_SHA256_MEASURED=yes"
    tar -xzf "$a" -C "$work"
    (cd "$work/$(pin GPU_ARCHIVE_DIR)/lib" && find . -maxdepth 1 -type f -printf '%f\n' | sort | xargs sha256sum | sed 's/^/# /')
  fi
}

case ${1:-} in
  ort) shift; cmd_ort "$@" ;;
  system-deps) shift; cmd_system_deps "$@" ;;
  check) shift; cmd_check "$@" ;;
  measure) shift; cmd_measure "$@" ;;
  -h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
  *) die "usage: $0 ort|system-deps|check|measure ... (--help)" ;;
esac
