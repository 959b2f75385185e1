#!/usr/bin/env bash
# make bench: export ResNet-50 and InceptionV3 with random weights (speed does
# not depend on weights), then measure featurizer against raw ONNX Runtime
# and a PyTorch CPU pipeline in one run. Needs ../shared and Debian's
# python3-torch / python3-torchvision (make setup installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
mkdir -p bench/models
for m in resnet50-torchvision inceptionv3-torchvision; do
  [ -f "bench/models/$m.onnx" ] || /usr/bin/python3 tools/export_backbone.py "$m" --random --headless --out bench/models >/dev/null
done
go build -o bin/featurizer ./cmd/featurizer
go run ./bench -bin bin/featurizer -models bench/models -shared "$SHARED" "$@"
