"""Keras' own features for tests/keras_test.go.

Reads a JSON list of jobs on stdin, one per model:
  {"name": "inceptionv3-keras", "weights": "X.weights.h5", "size": 299,
   "pixels": ["a.rgb", ...], "out": "features.f32"}
Each pixels file holds the 8-bit RGB pixels featurizer's resize gives
(size x size x 3, written by featurize/testdata/reference.py with Pillow).
Builds the keras.applications model afresh, loads the weights that
tools/export_backbone.py exported (so the architecture is Keras' own, and
loading fails if it differs), and runs Model(inputs, the
GlobalAveragePooling2D layer's output) on preprocess_input of those pixels.
Writes the features as float32 and prints one JSON line per job: the pooling
layer's name and the library versions.
"""
import importlib.metadata
import json
import sys

import numpy as np
import tensorflow as tf

keras = tf.keras  # the same Keras tools/export_backbone.py uses
# Keras 3, or Keras 2 (tf_keras) with TF_USE_LEGACY_KERAS=1.
KERAS_DIST = "tf_keras" if keras.__name__.startswith("tf_keras") else "keras"
APPS = {
    "inceptionv3-keras": (keras.applications.InceptionV3, keras.applications.inception_v3.preprocess_input),
    "resnet50-keras": (keras.applications.ResNet50, keras.applications.resnet50.preprocess_input),
}


def main():
    for job in json.load(sys.stdin):
        build, preprocess_input = APPS[job["name"]]
        model = build(weights=None)
        model.load_weights(job["weights"])
        pools = [l for l in model.layers if isinstance(l, keras.layers.GlobalAveragePooling2D)]
        if len(pools) != 1:
            sys.exit(f"{job['name']}: {len(pools)} GlobalAveragePooling2D layers, expected 1")
        features = keras.Model(model.inputs, pools[0].output)
        s = job["size"]
        x = np.stack([np.fromfile(p, dtype=np.uint8).reshape(s, s, 3) for p in job["pixels"]]).astype(np.float32)
        y = features.predict(preprocess_input(x), batch_size=10, verbose=0)
        np.ascontiguousarray(y, dtype=np.float32).tofile(job["out"])
        print(json.dumps({"name": job["name"], "pool_layer": pools[0].name, "shape": list(y.shape),
                          "tensorflow": tf.__version__, "keras": f"{KERAS_DIST} {importlib.metadata.version(KERAS_DIST)}"}), flush=True)


if __name__ == "__main__":
    main()
