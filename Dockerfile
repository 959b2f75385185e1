# CPU image of featurizer. (The GPU variant with CUDA/TensorRT providers is
# tracked separately.)  docker build -t featurizer . && docker run --rm -v $PWD:/data featurizer featurize ...
FROM golang:1.26-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libturbojpeg0-dev libopenblas-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -o /out/featurizer ./cmd/featurizer
# The pinned ONNX Runtime, verified by SHA-256 (see scripts/setup-ort.sh).
RUN FEATURIZER_CACHE=/out/cache scripts/setup-ort.sh

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libturbojpeg0 libopenblas0 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 featurizer && mkdir /models && chown featurizer /models
COPY --from=build /out/featurizer /usr/local/bin/featurizer
COPY --from=build /out/cache/onnxruntime/1.30.0/libonnxruntime.so.1 /usr/local/lib/libonnxruntime.so.1
ENV FEATURIZER_ORT_LIB=/usr/local/lib/libonnxruntime.so.1 FEATURIZER_MODELS=/models
USER featurizer
ENTRYPOINT ["featurizer"]
