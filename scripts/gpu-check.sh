#!/usr/bin/env bash
# The GPU check of issue 9, prepared to run on a lent GPU machine (no Go, no
# internet, at most 64 MiB per call; CUDA 13 libraries and PyTorch in its
# python3) in two calls of the device tool while the machine stays warm,
# and on this machine's CPU to check the script itself.
#
#   scripts/gpu-check.sh pack            here: build what travels into .gpu/
#                                        (needs make setup-gpu): the GPU runtime
#                                        (its CUDA provider slimmed to sm_90 by
#                                        tools/cudaslim, xz) and the payload
#                                        (stripped featurizer and gpubench, the
#                                        CPU runtime, ~100 real photos)
#   scripts/gpu-check.sh runtime         device, call 1 (carry .gpu/runtime.tar.xz):
#                                        unpack the runtime into .gpu/cache
#   scripts/gpu-check.sh run             device, call 2 (carry .gpu/payload.tar.xz,
#                                        within 30 s of call 1): export ResNet-50 and
#                                        InceptionV3 (torchvision, random weights),
#                                        make image variants, run gpubench; the
#                                        report (gpu-bench.json) goes to $OUT
#   scripts/gpu-check.sh cpu             here: the same measurement on the CPU,
#                                        small, to check the script end to end
#                                        (GPU_DEVICE=cpu GPU_PYTHON=/usr/bin/python3
#                                        with runtime and run rehearses the two
#                                        calls here, from the packed files)
#
# The device tool's calls, as prepared:
#   run(command="bash scripts/gpu-check.sh runtime", carry=[".gpu/runtime.tar.xz"], timeout_s=300)
#   run(command="bash scripts/gpu-check.sh run", carry=[".gpu/payload.tar.xz"], timeout_s=560)
set -euo pipefail
cd "$(dirname "$0")/.."
GPU_RT=1.29.0-cuda13
CPU_RT=1.30.0
ARCH=${GPU_ARCH:-90}
VARIANTS=${GPU_VARIANTS:-3000}
cache=${FEATURIZER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/featurizer}
SHARED=${SHARED:-../shared}

say() { echo "gpu-check: $*" >&2; }

# untar FILE DIR: unpack with Python's tarfile (xz included), which every
# machine with a python3 has, unlike the xz command.
untar() {
  python3 - "$1" "$2" <<'EOF'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    t.extractall(sys.argv[2])
EOF
}

photos() { # DIR: ~100 real photos from ../shared
  local dir=$1
  mkdir -p "$dir"
  ls "$SHARED"/data/clothing-small/test/*/*.jpg | sort | awk 'NR % 7 == 1' | head -50 | while read -r f; do cp "$f" "$dir/c-$(basename "$f")"; done
  ls "$SHARED"/data/imagenet-samples/*.JPEG | sort | awk 'NR % 20 == 1' | head -50 | while read -r f; do cp "$f" "$dir/i-$(basename "$f")"; done
}

pack() {
  local rt="$cache/onnxruntime/$GPU_RT"
  for f in libonnxruntime.so.1 libonnxruntime_providers_cuda.so libonnxruntime_providers_shared.so; do
    [ -f "$rt/$f" ] || { say "$rt/$f missing: run make setup-gpu first"; exit 1; }
  done
  [ -f "$cache/onnxruntime/$CPU_RT/libonnxruntime.so.1" ] || { say "CPU runtime missing: run make setup"; exit 1; }
  [ -d "$SHARED/data" ] || { say "needs the photos in $SHARED/data"; exit 1; }
  rm -rf .gpu/stage && mkdir -p .gpu/stage/rt/onnxruntime/$GPU_RT .gpu/stage/p/bin .gpu/stage/p/cache/onnxruntime/$CPU_RT
  cp "$rt/libonnxruntime.so.1" "$rt/libonnxruntime_providers_shared.so" .gpu/stage/rt/onnxruntime/$GPU_RT/
  go run ./tools/cudaslim -arch "$ARCH" -o .gpu/stage/rt/onnxruntime/$GPU_RT/libonnxruntime_providers_cuda.so "$rt/libonnxruntime_providers_cuda.so"
  say "compressing the runtime (xz -9, about a minute)"
  tar -C .gpu/stage/rt -cf - onnxruntime | xz -9 -T0 > .gpu/runtime.tar.xz
  go build -trimpath -ldflags='-s -w' -o .gpu/stage/p/bin/featurizer ./cmd/featurizer
  go build -trimpath -ldflags='-s -w' -o .gpu/stage/p/bin/gpubench ./bench/gpu
  cp "$cache/onnxruntime/$CPU_RT/libonnxruntime.so.1" .gpu/stage/p/cache/onnxruntime/$CPU_RT/
  photos .gpu/stage/p/photos
  tar -C .gpu/stage/p -cf - . | xz -9 -T0 > .gpu/payload.tar.xz
  rm -rf .gpu/stage
  ls -l .gpu/*.tar.xz >&2
  for f in .gpu/runtime.tar.xz .gpu/payload.tar.xz; do
    [ "$(stat -c %s "$f")" -lt $((60 << 20)) ] || { say "$f is over 60 MiB: it would not travel"; exit 1; }
  done
}

runtime() {
  mkdir -p .gpu/cache
  untar .gpu/runtime.tar.xz .gpu/cache
  ls -l .gpu/cache/onnxruntime/$GPU_RT >&2
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2 || true
  python3 -c 'import nvidia, os; print("NVIDIA libraries:", os.path.dirname(nvidia.__file__))' >&2 || true
}

# measure BIN_DIR CACHE DEVICE VARIANTS PYTHON EXTRA...: models, images,
# gpubench.
measure() {
  local p=$1 cachedir=$2 dev=$3 n=$4 py=$5
  shift 5
  export FEATURIZER_CACHE=$cachedir
  local out=${OUT:-.gpu/out}
  mkdir -p "$out" .gpu/models
  "$p/bin/featurizer" version | tee "$out/version.txt" >&2 || true
  for m in resnet50-torchvision inceptionv3-torchvision; do
    [ -f .gpu/models/$m.onnx ] || "$py" tools/export_backbone.py $m --random --headless --out .gpu/models >&2
  done
  rm -rf .gpu/images
  "$py" scripts/gpu-variants.py "$p/photos" .gpu/images "$n" >&2
  "$p/bin/gpubench" -bin "$p/bin/featurizer" -models .gpu/models -images .gpu/images -photos "$p/photos" \
    -device "$dev" -python "$py" -out "$out" "$@"
}

run() {
  rm -rf .gpu/p && mkdir -p .gpu/p
  untar .gpu/payload.tar.xz .gpu/p
  # Both runtimes in one cache: the CPU one for the parity reference.
  mkdir -p .gpu/cache/onnxruntime
  cp -r .gpu/p/cache/onnxruntime/$CPU_RT .gpu/cache/onnxruntime/
  [ -d .gpu/cache/onnxruntime/$GPU_RT ] || { say "no GPU runtime in .gpu/cache: run call 1 (scripts/gpu-check.sh runtime) first"; exit 1; }
  ( nvidia-smi dmon -s u -d 1 > "${OUT:-.gpu/out}/dmon.txt" 2>&1 & echo $! > .gpu/dmon.pid ) || true
  export PYTHONUNBUFFERED=1
  measure "$PWD/.gpu/p" "$PWD/.gpu/cache" "${GPU_DEVICE:-cuda}" "$VARIANTS" "${GPU_PYTHON:-python3}" "$@"
  kill "$(cat .gpu/dmon.pid)" 2>/dev/null || true
}

cpu() {
  rm -rf .gpu/cpu && mkdir -p .gpu/cpu/bin
  go build -o .gpu/cpu/bin/featurizer ./cmd/featurizer
  go build -o .gpu/cpu/bin/gpubench ./bench/gpu
  photos .gpu/cpu/photos
  measure "$PWD/.gpu/cpu" "$cache" cpu "${GPU_VARIANTS:-64}" /usr/bin/python3 \
    -backbones resnet50-torchvision -raw-images 64 -batches 16,32 -parity-images 8 "$@"
}

case "${1:-}" in
  pack) pack ;;
  runtime) runtime ;;
  run) shift; run "$@" ;;
  cpu) shift; cpu "$@" ;;
  *) sed -n '2,27p' "$0" >&2; exit 2 ;;
esac
