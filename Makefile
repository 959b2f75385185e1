# featurizer: the README's commands are `make demo` and `make test` (each
# installs what it needs on first use); `make setup` installs it all at once.
SHELL := /bin/bash
GO ?= go
BIN := bin/featurizer
SHARED ?= ../shared
# Debian packages: libjpeg-turbo, zlib, libtiff and libwebp for the JPEG,
# PNG, TIFF and WebP decoders (driven as Pillow drives them), LittleCMS for
# CIE Lab TIFFs (converted as Pillow's ImageCms converts them) and OpenBLAS for the head's matrix products
# (cgo); Pillow, numpy, torchvision and scikit-learn for the reference tests
# and benchmarks that pin our results to theirs. OpenJDK 17 runs PySpark 3.5
# (which supports Java 8, 11 and 17) for the real-client tests.
# Building the binary needs only the first few (cgo: a C compiler, JPEG, PNG,
# BLAS; certificates for the downloads): make demo installs just those.
BUILD_APT_PACKAGES := gcc libc6-dev ca-certificates curl libjpeg62-turbo-dev zlib1g-dev libtiff-dev libwebp-dev liblcms2-dev libopenblas-dev
APT_PACKAGES := $(BUILD_APT_PACKAGES) python3-pil python3-numpy libtiff-tools webp python3-torchvision python3-sklearn python3-venv openjdk-17-jre-headless
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup setup-gpu deps deps-build ort tools clients clients-lock build test lint demo bench bench-decode clean corpus

CACHE ?= $(or $(FEATURIZER_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/featurizer)
AZURITE_VERSION := 3.35.0
# MinIO (S3 server), built from source with go install at a pinned module
# version; the stamp file next to the binary records which one is there.
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_BIN := $(CACHE)/tools/bin/minio
FAKE_GCS_VERSION := v1.56.1
FAKE_GCS_BIN := $(CACHE)/tools/bin/fake-gcs-server

setup: deps ort tools clients ## install the Debian libraries, the pinned ONNX Runtime, the test servers and the clients' Python
	$(GO) mod download

# The real clients the tests drive (PySpark, pyarrow, DuckDB, MLflow, Keras;
# issue 10): a virtual environment in .venv/ made from the python3 first on
# PATH, every package pinned with its hashes in $(CLIENTS_LOCK). The stamp
# holds the lock's SHA-256 and the interpreter's version: while both match,
# nothing is installed again; when either changes, .venv/ is made anew, so it
# never keeps a package the lock no longer lists. Debian's /usr/bin/python3
# stays for the Pillow/torchvision reference tests.
VENV := .venv
CLIENTS_IN := requirements-clients.in
CLIENTS_LOCK := requirements-clients.txt
CLIENTS_PYTHON ?= python3
UV_VERSION := 0.13.9
clients:
	@want="$$(sha256sum $(CLIENTS_LOCK) | cut -d' ' -f1) $$($(CLIENTS_PYTHON) -c 'import sys; print(sys.version.split()[0])')"; \
	if [ -x $(VENV)/bin/python ] && [ "$$(cat $(VENV)/.clients-stamp 2>/dev/null)" = "$$want" ]; then \
	  echo "clients: $(VENV) matches $(CLIENTS_LOCK)"; \
	else \
	  rm -rf $(VENV) && $(CLIENTS_PYTHON) -m venv $(VENV) && \
	  $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(CLIENTS_LOCK) && \
	  $(VENV)/bin/python -m pip check >/dev/null && \
	  echo "$$want" > $(VENV)/.clients-stamp && \
	  echo "clients: $(VENV) installed from $(CLIENTS_LOCK)"; \
	fi

# Re-resolve the lock after editing $(CLIENTS_IN) (versions already in the
# lock are kept where they still fit), with uv from PyPI in the tool cache.
clients-lock:
	@[ "$$($(CACHE)/tools/uv/bin/uv --version 2>/dev/null)" = "uv $(UV_VERSION)" ] || \
	  { rm -rf $(CACHE)/tools/uv && $(CLIENTS_PYTHON) -m venv $(CACHE)/tools/uv && $(CACHE)/tools/uv/bin/pip install --quiet uv==$(UV_VERSION); }
	$(CACHE)/tools/uv/bin/uv pip compile --quiet --generate-hashes \
	  --python-version $$($(CLIENTS_PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
	  --custom-compile-command 'make clients-lock' $(CLIENTS_IN) -o $(CLIENTS_LOCK)

# Azurite (Azure Blob emulator, from npm), MinIO (S3, go install, a few
# minutes the first time) and fake-gcs-server (Google Cloud Storage, go
# install): the storage tests start them on loopback themselves.
tools:
	@if [ "$$($(CACHE)/tools/node_modules/.bin/azurite-blob --version 2>/dev/null)" = "$(AZURITE_VERSION)" ]; then \
	  echo "azurite $(AZURITE_VERSION): $(CACHE)/tools"; \
	else \
	  mkdir -p $(CACHE)/tools && npm install --silent --no-audit --no-fund --prefix $(CACHE)/tools azurite@$(AZURITE_VERSION) >/dev/null && \
	  echo "azurite $(AZURITE_VERSION) installed in $(CACHE)/tools"; \
	fi
	@if [ -x $(MINIO_BIN) ] && [ "$$(cat $(MINIO_BIN).version 2>/dev/null)" = "$(MINIO_VERSION)" ]; then \
	  echo "minio $(MINIO_VERSION): $(MINIO_BIN)"; \
	else \
	  rm -f $(MINIO_BIN).version && mkdir -p $(CACHE)/tools/bin && \
	  GOBIN=$(CACHE)/tools/bin CGO_ENABLED=0 $(GO) install github.com/minio/minio@$(MINIO_VERSION) && \
	  echo "$(MINIO_VERSION)" > $(MINIO_BIN).version && \
	  echo "minio $(MINIO_VERSION) installed in $(MINIO_BIN)"; \
	fi
	@if [ -x $(FAKE_GCS_BIN) ] && [ "$$(cat $(FAKE_GCS_BIN).version 2>/dev/null)" = "$(FAKE_GCS_VERSION)" ]; then \
	  echo "fake-gcs-server $(FAKE_GCS_VERSION): $(FAKE_GCS_BIN)"; \
	else \
	  rm -f $(FAKE_GCS_BIN).version && mkdir -p $(CACHE)/tools/bin && \
	  GOBIN=$(CACHE)/tools/bin CGO_ENABLED=0 $(GO) install github.com/fsouza/fake-gcs-server@$(FAKE_GCS_VERSION) && \
	  echo "$(FAKE_GCS_VERSION)" > $(FAKE_GCS_BIN).version && \
	  echo "fake-gcs-server $(FAKE_GCS_VERSION) installed in $(FAKE_GCS_BIN)"; \
	fi

# apt-install: the Debian packages of $(1) that are not installed yet.
apt-install = missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	else echo "Debian packages present: $(1)"; fi

deps:
	@$(call apt-install,$(APT_PACKAGES))

deps-build:
	@$(call apt-install,$(BUILD_APT_PACKAGES))

ort:
	scripts/setup-ort.sh

# The host GPU runtime for --device cuda|tensorrt: ONNX Runtime 1.29.0 for
# CUDA 13 from two npm packages (about 290 MB), SHA-256 verified against
# scripts/ort-runtime.pins, beside the CPU runtime. No GPU needed to install.
setup-gpu:
	scripts/setup-ort-gpu.sh

build:
	$(GO) build -o $(BIN) ./cmd/featurizer

# Remake the committed decoder corpus (featurize/testdata/corpus/<class>/)
# from its generators, with Debian's Pillow and libtiff's and libwebp's
# command-line tools. The tests only read it; run this after changing a
# generator, then commit what it wrote.
CORPUS_CLASSES := bmp gif jpeg orient png tiff webp
corpus: deps
	@for c in $(CORPUS_CLASSES); do \
	  rm -rf featurize/testdata/corpus/$$c && mkdir -p featurize/testdata/corpus/$$c && \
	  /usr/bin/python3 tools/corpus/$$c.py featurize/testdata/corpus/$$c || exit 1; \
	  echo "corpus $$c: $$(ls featurize/testdata/corpus/$$c | wc -l) files"; \
	done

lint:
	$(GO) vet ./...
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	@fmt=$$(gofmt -l .); if [ -n "$$fmt" ]; then echo "not gofmt'ed: $$fmt"; exit 1; fi

# Every test, after make setup (ONNX Runtime, the reference Python, the
# storage servers and the clients' .venv; a no-op once installed); ../shared
# is used when present (CI sets FEATURIZER_REQUIRE_SHARED=1).
test: setup lint
	FEATURIZER_REQUIRE_ORT=1 FEATURIZER_REQUIRE_REFERENCE=1 $(GO) test -count=1 -timeout 40m ./...
	@# The pure-Go BLAS fallback of the head trainer (no OpenBLAS linked).
	FEATURIZER_REQUIRE_ORT=1 FEATURIZER_REQUIRE_REFERENCE=1 $(GO) test -count=1 -tags noopenblas ./head

# The main job end to end on the default (CPU, local disk), from a fresh
# clone: the first run installs what the binary needs (deps-build, the pinned
# ONNX Runtime; not the test servers or .venv) and downloads MobileNetV2's
# weights and the ImageNet class list from their pinned URLs, SHA-256
# verified, into the models cache (offline: one line says which files to put
# where). $(SHARED)/models is used when it has both. Then MobileNetV2's
# ImageNet classes for the photos in samples/ and, when $(SHARED)/data has
# the clothing photos, the clothing job (featurize three splits, train a
# head, evaluate).
# Where the demo's tables go.
DEMO_OUT ?= out/demo
demo: deps-build ort build
	@models=$$( [ -f $(SHARED)/models/mobilenetv2-12-int8.onnx ] && [ -f $(SHARED)/models/imagenet-classes.txt ] && echo $(SHARED)/models || echo "$${FEATURIZER_MODELS:-$(CACHE)/models}"); \
	clothing=$(abspath $(SHARED))/data/clothing-small; \
	set -e; set -x; \
	$(BIN) predict --backbone mobilenetv2 --models-dir $$models --input samples --output $(DEMO_OUT)/predictions --overwrite --top-k 5; \
	$(BIN) show $(DEMO_OUT)/predictions --rows 5; \
	{ set +x; } 2>/dev/null; \
	if [ -d $$clothing ]; then \
	  set -x; \
	  $(BIN) run configs/clothing-mobilenetv2.yaml --set output=$(abspath $(DEMO_OUT))/clothing --set models_dir=$$models \
	    --set data.train=$$clothing/train --set data.validation=$$clothing/validation --set data.test=$$clothing/test; \
	  $(BIN) show $(DEMO_OUT)/clothing/features/test --rows 3; \
	  head -20 $(DEMO_OUT)/clothing/model/report.md; \
	else \
	  echo "demo: the clothing job (featurize, train, evaluate) needs the photos in $(SHARED)/data/clothing-small (set SHARED=...): skipped"; \
	fi

bench:
	scripts/bench.sh
	scripts/bench-decode.sh

# JPEG decode throughput of this tree against a baseline commit (BASE=ref),
# side by side in one run.
bench-decode:
	scripts/bench-decode.sh $(BASE)

# The bench-only Python (.venv-bench/): a current torch 2.x from PyPI, the
# second PyTorch peer of make bench. Not in setup or CI: PyPI's torch pulls
# NVIDIA's CUDA libraries, about 4 GB. Installed from the hash-pinned lock;
# the stamp (the lock's SHA-256 and the interpreter's version) skips a
# reinstall while both match.
.PHONY: bench-env
BENCH_VENV := .venv-bench
BENCH_LOCK := bench/requirements-bench.txt
bench-env:
	@want="$$(sha256sum $(BENCH_LOCK) | cut -d' ' -f1) $$(python3 -c 'import sys; print(sys.version.split()[0])')"; \
	if [ -x $(BENCH_VENV)/bin/python ] && [ "$$(cat $(BENCH_VENV)/.bench-stamp 2>/dev/null)" = "$$want" ]; then \
	  echo "bench-env: $(BENCH_VENV) matches $(BENCH_LOCK)"; \
	else \
	  rm -rf $(BENCH_VENV) && python3 -m venv $(BENCH_VENV) && \
	  $(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(BENCH_LOCK) && \
	  $(BENCH_VENV)/bin/python -m pip check >/dev/null && \
	  echo "$$want" > $(BENCH_VENV)/.bench-stamp && \
	  echo "bench-env: $(BENCH_VENV) installed from $(BENCH_LOCK)"; \
	fi

clean:
	rm -rf bin out
