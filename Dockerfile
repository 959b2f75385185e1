# syntax=docker/dockerfile:1
# featurizer container image: docs/container.md has the build and run
# commands, what each target is for, and what is pinned where.
#
#   docker build -t featurizer:gpu .                           # CUDA + TensorRT (default)
#   docker build -t featurizer:cpu --build-arg VARIANT=cpu .   # CPU only
#   docker build -t featurizer:gpu-dcs --target dcs .          # Databricks Container Services
#   docker run --rm --gpus all -v "$PWD:/data" featurizer:gpu featurize --device cuda ...
#
# Every install step is scripts/install-runtime.sh, which CI also runs
# (scripts/test-container-recipe.sh); every version and SHA-256 of what it
# installs is in scripts/ort-runtime.pins, checked against this file
# (install-runtime.sh check): the base images below are the only pins here.

ARG VARIANT=gpu
# The binary is built on the runtime's OS: a cgo binary built against a newer
# glibc (Debian bookworm's 2.36) does not start on Ubuntu 22.04 (2.35), the OS
# of the CUDA image and of Databricks Runtime 15.4.
ARG BUILD_IMAGE=ubuntu:22.04
ARG GO_IMAGE=golang:1.26-bookworm
ARG CUDA_IMAGE=nvidia/cuda:12.9.1-cudnn-runtime-ubuntu22.04
ARG CPU_IMAGE=ubuntu:22.04
ARG DCS_BASE=databricksruntime/standard:15.4-LTS

# --- the Go toolchain (static binaries: any glibc) ---------------------------
FROM ${GO_IMAGE} AS go

# --- build: cgo against libjpeg-turbo, libtiff, libwebp, LittleCMS (decoding) and OpenBLAS (head)
FROM ${BUILD_IMAGE} AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       gcc libc6-dev libjpeg-turbo8-dev libtiff-dev libwebp-dev liblcms2-dev zlib1g-dev libopenblas-dev ca-certificates git \
    && rm -rf /var/lib/apt/lists/*
COPY --from=go /usr/local/go /usr/local/go
ENV PATH=/usr/local/go/bin:/root/go/bin:$PATH CGO_ENABLED=1
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -o /out/featurizer ./cmd/featurizer

# --- fetch: the pinned ONNX Runtime, SHA-256 verified -------------------------
FROM ${BUILD_IMAGE} AS fetch
ARG VARIANT
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY scripts/install-runtime.sh scripts/ort-runtime.pins /recipe/
RUN /recipe/install-runtime.sh ort --variant "${VARIANT}" --prefix /opt/featurizer

# --- runtime bases --------------------------------------------------------------
FROM ${CUDA_IMAGE} AS base-gpu
FROM ${CPU_IMAGE} AS base-cpu

# --- dcs: for Databricks Container Services -------------------------------------
# Databricks' own base (JDK, bash, iproute2, procps, sudo, FUSE and the
# /databricks/python3 virtualenv matching DBR 15.4), plus the featurizer. The
# GPU flavour adds the CUDA 12 runtime, cuDNN 9 and TensorRT from NVIDIA's apt
# repository, whose signed list and key come from the CUDA image. Databricks
# starts its own processes (as root) and ignores ENTRYPOINT: tasks run
# `featurizer ...` from PATH (jobs/deploy/run_featurizer.py).
FROM ${DCS_BASE} AS dcs-cpu
FROM ${DCS_BASE} AS dcs-gpu
COPY --from=base-gpu /usr/share/keyrings/cuda-archive-keyring.gpg /usr/share/keyrings/cuda-archive-keyring.gpg
COPY --from=base-gpu /etc/apt/sources.list.d/cuda-ubuntu2204-x86_64.list /etc/apt/sources.list.d/cuda-ubuntu2204-x86_64.list
ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
FROM dcs-${VARIANT} AS dcs
ARG VARIANT
USER root
COPY scripts/install-runtime.sh scripts/ort-runtime.pins /opt/featurizer/recipe/
RUN /opt/featurizer/recipe/install-runtime.sh system-deps --variant "${VARIANT}" --dcs
COPY --from=fetch /opt/featurizer /opt/featurizer
COPY --from=build /out/featurizer /opt/featurizer/bin/featurizer
# The binary finds ../lib/libonnxruntime.so.1 by itself; the variable is for
# processes that do inherit the image's environment.
ENV FEATURIZER_ORT_LIB=/opt/featurizer/lib/libonnxruntime.so.1
RUN ln -s /opt/featurizer/bin/featurizer /usr/local/bin/featurizer \
    && featurizer version | tee /dev/stderr | grep -q '^onnxruntime [0-9]'

# --- image: the default target, `docker run [--gpus all] IMAGE COMMAND ...` ----
FROM base-${VARIANT} AS runtime
ARG VARIANT
COPY scripts/install-runtime.sh scripts/ort-runtime.pins /opt/featurizer/recipe/
RUN /opt/featurizer/recipe/install-runtime.sh system-deps --variant "${VARIANT}"
COPY --from=fetch /opt/featurizer /opt/featurizer
COPY --from=build /out/featurizer /opt/featurizer/bin/featurizer
ENV FEATURIZER_ORT_LIB=/opt/featurizer/lib/libonnxruntime.so.1 FEATURIZER_MODELS=/models
# The image's smoke test: the binary starts (glibc, libjpeg-turbo, libtiff, libwebp, OpenBLAS)
# and loads the pinned ONNX Runtime.
RUN ln -s /opt/featurizer/bin/featurizer /usr/local/bin/featurizer \
    && featurizer version | tee /dev/stderr | grep -q '^onnxruntime [0-9]' \
    && useradd --create-home --uid 1000 --shell /bin/bash featurizer \
    && mkdir -p /models /data && chown featurizer:featurizer /models /data

FROM runtime AS image
USER featurizer
WORKDIR /data
ENTRYPOINT ["featurizer"]
CMD ["--help"]
