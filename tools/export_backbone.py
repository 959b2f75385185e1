#!/usr/bin/env python3
"""Export a catalog backbone to ONNX for featurizer.

Usage:
  /usr/bin/python3 tools/export_backbone.py NAME --out DIR [--random] [--headless]
  .venv/bin/python tools/export_backbone.py inceptionv3-keras --out DIR [--random [--seed N]] [--keras-weights FILE]

torchvision flavours (resnet50-torchvision, resnet101, resnet152,
inceptionv3-torchvision) need Debian's python3-torch and python3-torchvision;
their pretrained weights download from download.pytorch.org on first use
(torch.hub checks their hash). Keras flavours (inceptionv3-keras,
resnet50-keras) need tensorflow and tf2onnx, which Debian does not package:
`make setup` puts them in .venv (tested with tensorflow-cpu 2.21.0, Keras 3,
and tf2onnx 1.17.0, its first release for NumPy 2). The ImageNet weights
download from storage.googleapis.com on first use (Keras checks their hash).

--random keeps the random initial weights (no download): for speed work, the
speed of a network does not depend on its weights, and for tests. For Keras
models --seed N makes them reproducible, and --keras-weights FILE (a name
ending in .weights.h5) also saves the Keras weights that were exported, so
that Keras itself can be run on exactly the weights in the ONNX file
(tests/keras_test.go does). --headless replaces the classifier by Identity
(Keras: include_top=False with average pooling), so that the output is the
pooled feature vector.

The file name is the catalog's, and featurizer records its SHA-256 in every
table it writes. The batch axis is dynamic. The model is written as one file
(torch.onnx.export(..., external_data=False) where torch has it); featurizer
also loads models whose weights are in NAME.onnx.data, and then records the
SHA-256 of NAME.onnx followed by NAME.onnx.data.
"""
import argparse
import os
import sys

TORCHVISION = {
    "resnet50-torchvision": ("resnet50", "IMAGENET1K_V1", 224, "resnet50-torchvision.onnx"),
    "resnet101": ("resnet101", "IMAGENET1K_V1", 224, "resnet101-torchvision.onnx"),
    "resnet152": ("resnet152", "IMAGENET1K_V1", 224, "resnet152-torchvision.onnx"),
    "inceptionv3-torchvision": ("inception_v3", "IMAGENET1K_V1", 299, "inceptionv3-torchvision.onnx"),
}
KERAS = {
    "inceptionv3-keras": ("InceptionV3", 299, "inceptionv3-keras.onnx"),
    "resnet50-keras": ("ResNet50", 224, "resnet50-keras.onnx"),
}


def export_torchvision(name, out, random, headless, file_name=None):
    import torch
    import torchvision

    arch, weights, size, default_file = TORCHVISION[name]
    kwargs = {}
    if arch == "inception_v3":
        kwargs = {"aux_logits": False, "init_weights": True}
        if not random:
            kwargs = {"aux_logits": True}  # the pretrained weights include the aux head
    if random:
        model = getattr(torchvision.models, arch)(**kwargs)
        if arch == "inception_v3":
            # torchvision's own Inception initialization (truncated normal,
            # std 0.1, no fan scaling) gives activations around 1e11, which
            # overflow float16; He initialization keeps them near 1. Speed
            # does not depend on the weights.
            for m in model.modules():
                if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                    torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    else:
        model = getattr(torchvision.models, arch)(weights=weights, **kwargs)
        if arch == "inception_v3":
            model.aux_logits, model.AuxLogits = False, None
    if headless:
        model.fc = torch.nn.Identity()
    model.eval()
    path = os.path.join(out, file_name or default_file)
    x = torch.zeros(1, 3, size, size)
    kwargs = dict(input_names=["input"], output_names=["output"],
                  opset_version=17, dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    # PyTorch 2.5+ writes the weights to PATH.data ("external data") by
    # default, and 2.9+ exports through dynamo unless told not to; the
    # classic exporter writes one self-contained file, simpler to copy and
    # to pin. Older torch (Debian's) has neither argument.
    for extra in ({"external_data": False, "dynamo": False}, {"external_data": False}, {}):
        try:
            torch.onnx.export(model, x, path, **extra, **kwargs)
            break
        except TypeError:
            continue
    return path


def export_keras(name, out, random, headless, file_name=None, seed=0, keras_weights=None):
    try:
        import tensorflow as tf
        import tf2onnx
    except ImportError as e:
        sys.exit(f"{name} needs tensorflow and tf2onnx ({e}); make setup installs them in .venv "
                 "(or: pip install tensorflow-cpu==2.21.0 tf2onnx==1.17.0)")
    # tf.keras is Keras 3 from TensorFlow 2.16 on, or Keras 2 (tf_keras)
    # with TF_USE_LEGACY_KERAS=1; tf2onnx 1.17 converts both (both tested
    # against Keras' own features on TensorFlow 2.21).
    keras = tf.keras
    cls, size, default_file = KERAS[name]
    if random:
        keras.utils.set_random_seed(seed)  # Python, NumPy and the backend's initializers
    model = getattr(keras.applications, cls)(weights=None if random else "imagenet",
                                             include_top=not headless, pooling="avg" if headless else None)
    if keras_weights:
        model.save_weights(keras_weights)
    # An explicit input signature: a dynamic batch axis and a fixed input
    # name, whichever Keras built the model.
    spec = (tf.TensorSpec((None, size, size, 3), tf.float32, name="input_1"),)
    path = os.path.join(out, file_name or default_file)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=path)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", choices=sorted(list(TORCHVISION) + list(KERAS)))
    ap.add_argument("--out", required=True, help="models directory")
    ap.add_argument("--file", help="file name (default: the catalog's)")
    ap.add_argument("--random", action="store_true", help="random weights, no download (speed work only)")
    ap.add_argument("--headless", action="store_true", help="classifier replaced by Identity")
    ap.add_argument("--seed", type=int, default=0, help="Keras: the seed of the random weights (with --random)")
    ap.add_argument("--keras-weights", metavar="FILE",
                    help="Keras: also save the exported model's Keras weights (FILE ends in .weights.h5)")
    a = ap.parse_args()
    if a.name in TORCHVISION and (a.keras_weights or a.seed):
        ap.error("--seed and --keras-weights are for the Keras flavours")
    os.makedirs(a.out, exist_ok=True)
    if a.name in TORCHVISION:
        print(export_torchvision(a.name, a.out, a.random, a.headless, a.file))
    else:
        print(export_keras(a.name, a.out, a.random, a.headless, a.file, a.seed, a.keras_weights))


if __name__ == "__main__":
    main()
