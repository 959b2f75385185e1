#!/usr/bin/env bash
# make bench: export ResNet-50 and InceptionV3 with random weights (speed does
# not depend on weights), then measure featurizer against raw ONNX Runtime
# and a PyTorch CPU pipeline in one run (Debian's torch 1.13, and a current
# torch 2.x when `make bench-env` has made .venv-bench); then the classifier
# head against scikit-learn and Spark ML (PySpark from make setup's .venv).
# Needs ../shared and Debian's python3-torch, python3-torchvision and
# python3-sklearn (make setup installs them). Arguments go to the first.
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
# 2. Classifier heads vs scikit-learn and Spark ML's LogisticRegression
#    (PySpark local mode, same cores, reading the tables; the synthetic
#    100,000 x 2048 x 100 table is written once into bench/data, about 1 GB;
#    Spark needs about 9 GB of memory there; allow about two hours on 2 cores).
go run ./bench/heads -bin bin/featurizer -shared "$SHARED" -spark-python .venv/bin/python
# 3. Storage and sharding (the CLI on the clothing photos, MobileNetV2):
#    MinIO (started on loopback) against local disk, and 1/2/4 shard
#    processes (FEATURIZER_BENCH_SPLIT=train for the 3,068-image split).
FEATURIZER_REQUIRE_SERVERS=1 go test -run '^$' -bench 'StorageMinIOvsLocal|Shards' -benchtime 3x -timeout 60m ./tests
