#!/usr/bin/env bash
# Exercise the container image's install recipe without Docker or root (CI
# runs this from .ci/run): the pins and the Dockerfile agree; the CPU variant
# installs the pinned ONNX Runtime into a temporary prefix and the featurizer
# binary loads it from there; a corrupted archive, a wrong or missing pin is
# refused; the GPU variant's install logic runs on a stand-in archive laid
# out like ONNX Runtime's GPU release. Prints 'N passed, N failed'.
set -euo pipefail
cd "$(dirname "$0")/.."
recipe=scripts/install-runtime.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
passed=0 failed=0

ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
# expect_fail NAME PATTERN CMD...: CMD must exit non-zero, saying PATTERN.
expect_fail() {
  local name=$1 pattern=$2; shift 2
  if "$@" >"$tmp/out" 2>&1; then fail "$name: succeeded, expected a refusal"; cat "$tmp/out"; return; fi
  if grep -Eq -- "$pattern" "$tmp/out"; then ok "$name"; else fail "$name: refused without '$pattern':"; cat "$tmp/out"; fi
}
pins=$PWD/scripts/ort-runtime.pins
pin() { sed -n "s/^$1=//p" "$pins"; }

# 1. The scripts parse, and pass shellcheck where it is installed.
for s in "$recipe" scripts/test-container-recipe.sh scripts/setup-ort.sh scripts/setup-ort-gpu.sh; do
  if bash -n "$s"; then ok "bash -n $s"; else fail "bash -n $s"; fi
done
if command -v shellcheck >/dev/null 2>&1; then
  if shellcheck "$recipe" scripts/test-container-recipe.sh scripts/setup-ort-gpu.sh; then ok "shellcheck"; else fail "shellcheck"; fi
else
  echo "skip shellcheck (not installed)"
fi

# 2. Pins file and Dockerfile consistency, and that check notices a drift.
if "$recipe" check >"$tmp/out" 2>&1; then ok "check: pins agree with the Dockerfile, setup-ort.sh, ortlib.go"; else fail "check"; cat "$tmp/out"; fi
sed 's|^ARG CUDA_IMAGE=.*|ARG CUDA_IMAGE=nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04|' Dockerfile >"$tmp/Dockerfile.cuda"
expect_fail "check refuses a Dockerfile whose CUDA base differs from the pins" "CUDA_IMAGE" "$recipe" check --dockerfile "$tmp/Dockerfile.cuda"
sed 's|^ARG BUILD_IMAGE=.*|ARG BUILD_IMAGE=golang:1.26-bookworm|' Dockerfile >"$tmp/Dockerfile.glibc"
expect_fail "check refuses a build stage on another OS (glibc) than the runtime" "BUILD_IMAGE" "$recipe" check --dockerfile "$tmp/Dockerfile.glibc"
grep -v '^USER ' Dockerfile >"$tmp/Dockerfile.root"
expect_fail "check refuses an image that runs as root" "non-root" "$recipe" check --dockerfile "$tmp/Dockerfile.root"
sed 's/^TENSORRT_DEB_VERSION=.*/TENSORRT_DEB_VERSION=10.9.0.34-1+cuda12.8/' scripts/ort-runtime.pins >"$tmp/trt.pins"
expect_fail "check refuses TensorRT built for another CUDA minor than the image" "TENSORRT_DEB_VERSION" "$recipe" check --pins "$tmp/trt.pins"
sed 's/^HOST_GPU_PROVIDERS_CUDA_SHA256=.*/HOST_GPU_PROVIDERS_CUDA_SHA256='"$(printf 'a%.0s' $(seq 64))"'/' scripts/ort-runtime.pins >"$tmp/hostgpu.pins"
expect_fail "check refuses make setup-gpu pins that differ from backbones/ortlib.go" "ORTGPUProvidersCUDASHA256" "$recipe" check --pins "$tmp/hostgpu.pins"
# shellcheck disable=SC2016 # the $(id) is meant literally
printf 'ORT_VERSION=1.30.0\nCPU_URL=$(id)\n' >"$tmp/shell.pins"
expect_fail "pins with shell characters are refused" "expected KEY=VALUE" "$recipe" check --pins "$tmp/shell.pins"

# 3. CPU variant: the full install from the npm registry into a temp prefix.
cpu_tgz="$tmp/onnxruntime-node-$(pin ORT_VERSION).tgz"
if command -v npm >/dev/null 2>&1; then
  (cd "$tmp" && npm pack --silent "$(pin CPU_NPM_PACKAGE)" >/dev/null)
else
  curl -fsSL --retry 3 -o "$cpu_tgz" "$(pin CPU_URL)"
fi
if "$recipe" ort --variant cpu --prefix "$tmp/cpu" --archive "$cpu_tgz" >"$tmp/out" 2>&1 &&
  [ "$(sha256sum <"$tmp/cpu/lib/libonnxruntime.so.1" | cut -d' ' -f1)" = "$(pin CPU_LIB_SHA256)" ] &&
  grep -qx "FEATURIZER_ORT_LIB=$tmp/cpu/lib/libonnxruntime.so.1" "$tmp/cpu/featurizer.env" &&
  (cd "$tmp/cpu/lib" && sha256sum -c --status SHA256SUMS); then
  ok "cpu: installed into a temp prefix, SHA-256 verified, featurizer.env written"
else
  fail "cpu install"; cat "$tmp/out"
fi
if "$recipe" ort --variant cpu --prefix "$tmp/cpu-npm" >"$tmp/out" 2>&1 && [ -f "$tmp/cpu-npm/lib/libonnxruntime.so.1" ]; then
  ok "cpu: fetched by the recipe itself (npm registry) and installed"
else
  fail "cpu fetch"; cat "$tmp/out"
fi

# 4. The featurizer binary, laid out as in the image, loads that library:
#    by FEATURIZER_ORT_LIB and by itself (bin/../lib), with no setup cache.
if go build -o "$tmp/cpu/bin/featurizer" ./cmd/featurizer 2>"$tmp/out"; then
  lib_line="^onnxruntime $(pin ORT_VERSION) \\($tmp/cpu/lib/libonnxruntime.so.1; pinned"
  out=$(env -i PATH="$PATH" HOME="$tmp/home" "$(grep '^FEATURIZER_ORT_LIB=' "$tmp/cpu/featurizer.env")" "$tmp/cpu/bin/featurizer" version 2>&1 || true)
  if grep -Eq "$lib_line" <<<"$out"; then ok "featurizer version loads ONNX Runtime through featurizer.env"; else fail "featurizer version (env): $out"; fi
  out=$(env -i PATH="$PATH" HOME="$tmp/home" "$tmp/cpu/bin/featurizer" version 2>&1 || true)
  if grep -Eq "$lib_line" <<<"$out"; then ok "featurizer version finds ../lib/libonnxruntime.so.1 without FEATURIZER_ORT_LIB"; else fail "featurizer version (layout): $out"; fi
else
  fail "go build ./cmd/featurizer"; cat "$tmp/out"
fi

# 5. Refusals: a corrupted archive, a wrong pin, a missing pin; nothing is
#    installed when refused.
cp "$cpu_tgz" "$tmp/corrupt.tgz"
printf 'x' | dd of="$tmp/corrupt.tgz" bs=1 seek=1000000 conv=notrunc status=none
expect_fail "cpu: a corrupted archive is refused" "SHA-256 mismatch" "$recipe" ort --variant cpu --prefix "$tmp/bad" --archive "$tmp/corrupt.tgz"
if [ -e "$tmp/bad/lib/libonnxruntime.so.1" ]; then fail "cpu: the refused install left a library behind"; else ok "cpu: the refused install left nothing"; fi
sed "s/^CPU_LIB_SHA256=.*/CPU_LIB_SHA256=$(printf '0%.0s' $(seq 64))/" scripts/ort-runtime.pins >"$tmp/libsha.pins"
expect_fail "cpu: a library whose SHA-256 differs from its pin is refused" "libonnxruntime.so.1: SHA-256 mismatch" "$recipe" ort --variant cpu --prefix "$tmp/bad2" --archive "$cpu_tgz" --pins "$tmp/libsha.pins"
sed 's/^GPU_SHA256=.*/GPU_SHA256=/' scripts/ort-runtime.pins >"$tmp/nosha.pins"
expect_fail "gpu: a missing pin is refused" "no pin for GPU_SHA256" "$recipe" ort --variant gpu --prefix "$tmp/bad3" --archive "$cpu_tgz" --pins "$tmp/nosha.pins"

# 6. GPU variant, offline: a stand-in archive with the GPU release's layout
#    (the real libonnxruntime as libonnxruntime.so.X.Y.Z, the sonames as links,
#    stand-in provider libraries). The real pin must refuse it; pinned to its
#    own SHA-256 it installs, and the binary loads it.
gdir=$(pin GPU_ARCHIVE_DIR)
mkdir -p "$tmp/gpu-src/$gdir/lib"
tar -xzf "$cpu_tgz" -C "$tmp" "$(pin CPU_LIB_IN_ARCHIVE)"
cp "$tmp/$(pin CPU_LIB_IN_ARCHIVE)" "$tmp/gpu-src/$gdir/lib/libonnxruntime.so.$(pin ORT_VERSION)"
ln -s "libonnxruntime.so.$(pin ORT_VERSION)" "$tmp/gpu-src/$gdir/lib/libonnxruntime.so.1"
ln -s libonnxruntime.so.1 "$tmp/gpu-src/$gdir/lib/libonnxruntime.so"
for p in shared cuda tensorrt; do echo "stand-in $p" >"$tmp/gpu-src/$gdir/lib/libonnxruntime_providers_$p.so"; done
echo "MIT (stand-in)" >"$tmp/gpu-src/$gdir/LICENSE"
tar -czf "$tmp/$gdir.tgz" -C "$tmp/gpu-src" "$gdir"
expect_fail "gpu: an archive that is not the pinned release is refused" "SHA-256 mismatch" "$recipe" ort --variant gpu --prefix "$tmp/bad4" --archive "$tmp/$gdir.tgz"
sed "s/^GPU_SHA256=.*/GPU_SHA256=$(sha256sum <"$tmp/$gdir.tgz" | cut -d' ' -f1)/" scripts/ort-runtime.pins >"$tmp/gpu.pins"
if "$recipe" ort --variant gpu --prefix "$tmp/gpu" --archive "$tmp/$gdir.tgz" --pins "$tmp/gpu.pins" >"$tmp/out" 2>&1 &&
  [ "$(readlink "$tmp/gpu/lib/libonnxruntime.so.1")" = "libonnxruntime.so.$(pin ORT_VERSION)" ] &&
  [ -f "$tmp/gpu/lib/libonnxruntime_providers_cuda.so" ] && [ -f "$tmp/gpu/lib/libonnxruntime_providers_tensorrt.so" ] &&
  [ -f "$tmp/gpu/lib/libonnxruntime_providers_shared.so" ] && [ -f "$tmp/gpu/share/onnxruntime-LICENSE" ] &&
  grep -qx "FEATURIZER_ORT_LIB=$tmp/gpu/lib/libonnxruntime.so.1" "$tmp/gpu/featurizer.env"; then
  ok "gpu: release layout installed (providers beside libonnxruntime.so.1, licence kept)"
else
  fail "gpu install"; cat "$tmp/out"; ls -l "$tmp/gpu/lib" 2>/dev/null || true
fi
if [ -x "$tmp/cpu/bin/featurizer" ]; then
  mkdir -p "$tmp/gpu/bin" && cp "$tmp/cpu/bin/featurizer" "$tmp/gpu/bin/"
  out=$(env -i PATH="$PATH" HOME="$tmp/home" "$tmp/gpu/bin/featurizer" version 2>&1 || true)
  if grep -q "^onnxruntime $(pin ORT_VERSION) ($tmp/gpu/lib/libonnxruntime.so.1" <<<"$out"; then ok "gpu layout: featurizer loads libonnxruntime.so.1 through its soname link"; else fail "gpu layout: $out"; fi
fi

# 7. The system packages each image installs (dry run: no root, no apt).
out=$("$recipe" system-deps --variant gpu --dry-run 2>&1 || true)
trt=$(pin TENSORRT_DEB_VERSION)
if grep -q "libnvinfer10=$trt libnvinfer-plugin10=$trt libnvonnxparsers10=$trt" <<<"$out" && grep -q libjpeg-turbo8 <<<"$out" && grep -q libtiff5 <<<"$out" && grep -q libwebpdemux2 <<<"$out"; then ok "system-deps gpu: pinned TensorRT $trt, libjpeg-turbo, libtiff, libwebp, OpenBLAS"; else fail "system-deps gpu: $out"; fi
out=$("$recipe" system-deps --variant gpu --dcs --dry-run 2>&1 || true)
if grep -q "cuda-cudart-$(pin CUDA_APT_SUFFIX) .*$(pin CUDNN_APT_PACKAGE)" <<<"$out" && grep -q "databricks/python3" <<<"$out"; then ok "system-deps gpu --dcs: CUDA $(pin CUDA_APT_SUFFIX) runtime, cuDNN 9, DCS requirements"; else fail "system-deps dcs: $out"; fi
out=$("$recipe" system-deps --variant cpu --dry-run 2>&1 || true)
if ! grep -q nvinfer <<<"$out" && grep -q libopenblas0 <<<"$out"; then ok "system-deps cpu: no NVIDIA packages"; else fail "system-deps cpu: $out"; fi

echo "container recipe: $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
