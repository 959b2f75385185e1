#!/usr/bin/env bash
# make bench: export ResNet-50 and InceptionV3 with random weights (speed does
# not depend on weights), then measure featurizer against raw ONNX Runtime
# and a PyTorch CPU pipeline in one run; then the classifier head against
# scikit-learn. Needs ../shared and Debian's python3-torch, python3-torchvision
# and python3-sklearn (make setup installs them). Arguments go to the first.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
mkdir -p bench/models
for m in resnet50-torchvision inceptionv3-torchvision; do
  [ -f "bench/models/$m.onnx" ] || /usr/bin/python3 tools/export_backbone.py "$m" --random --headless --out bench/models >/dev/null
done
go build -o bin/featurizer ./cmd/featurizer
# 1. Featurizing: end to end vs raw ONNX Runtime vs PyTorch.
go run ./bench -bin bin/featurizer -models bench/models -shared "$SHARED" "$@"
# 2. Classifier heads vs scikit-learn (the synthetic 100,000 x 2048 x 100
#    table is written once into bench/data, about 1 GB; allow ~10 minutes).
go run ./bench/heads -bin bin/featurizer -shared "$SHARED"
