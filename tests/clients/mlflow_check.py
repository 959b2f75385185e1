"""MLflow loads featurizer's model directories: tests/mlflow_test.go.

Run with the clients' Python (.venv, requirements-clients.txt) as
mlflow_check.py REQUEST.json RESULT.json, in a scratch working directory
(the registry's artifacts go there). The request names model directories,
each with an input tensor (raw little-endian float32) and its shape. For
each model this reports what MLflow sees, and the Go test judges it:

- mlflow.pyfunc.load_model: the warnings MLflow logs while loading (it
  compares requirements.txt and the Python version with this environment),
  the signature, and the predictions on the tensor;
- mlflow.onnx.load_model: IR version, opsets, graph inputs and outputs;
- MLmodel's metadata, and the environment files mlflow.onnx.save_model
  writes for the same graph in this environment;
- mlflow.register_model into a sqlite registry, both from the directory as
  it is and from a run's artifacts, and the predictions of the registered
  versions loaded back through models:/ URIs.

And once: the versions of every package requirements.txt pins as this
environment has them, onnx's VERSION_TABLE, and the newest IR version and
opset the installed onnxruntime loads (measured with one-node models).
"""
import importlib.metadata
import json
import logging
import os
import platform
import sys
import tempfile
import time
import warnings


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(f"{record.name}: {record.getMessage()}")


def tensor_specs(schema):
    return [{"name": s.name, "dtype": str(s.type), "shape": list(s.shape)} for s in schema.inputs]


def value_infos(values):
    out = []
    for v in values:
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim]
        out.append({"name": v.name, "elem_type": v.type.tensor_type.elem_type, "shape": dims})
    return out


def outputs_of(pred):
    import numpy as np
    if isinstance(pred, dict):
        return {k: np.asarray(v, dtype=np.float32).ravel().tolist() for k, v in pred.items()}
    return {"": np.asarray(pred, dtype=np.float32).ravel().tolist()}


def preprocess(prep, px):
    """The normalization and layout preprocessing.json describes, on pixels
    already resized as its "resize" says: one float32 rounding per step."""
    import numpy as np
    # The README's lines (**In MLflow**), word for word.
    x = px.astype(np.float32)
    if prep["input"]["color"] == "BGR":
        x = x[..., ::-1]
    n = prep["normalize"]                       # one float32 rounding per step
    x = (x / np.float32(n["scale"]) - np.float32(n["mean"])) / np.float32(n["std"])
    if prep["input"]["layout"] == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x)


def check_model(req, registry_uri):
    import numpy as np
    import mlflow
    import mlflow.onnx
    import mlflow.pyfunc
    from mlflow.models import Model

    d, res = req["dir"], {}
    x = np.fromfile(req["input"], dtype="<f4").reshape(req["shape"])

    records = Records()
    logging.getLogger("mlflow").addHandler(records)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = time.time()
        model = mlflow.pyfunc.load_model(d)
        res["load_seconds"] = time.time() - t
    logging.getLogger("mlflow").removeHandler(records)
    res["load_warnings"] = records.messages + [f"{w.category.__name__}: {w.message}" for w in caught]
    sig = model.metadata.signature
    res["signature"] = {"inputs": tensor_specs(sig.inputs), "outputs": tensor_specs(sig.outputs)}
    res["pyfunc"] = outputs_of(model.predict(x))

    proto = mlflow.onnx.load_model(d)
    res["onnx"] = {
        "ir_version": proto.ir_version,
        "opsets": {o.domain or "ai.onnx": o.version for o in proto.opset_import},
        "inputs": value_infos([i for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}]),
        "outputs": value_infos(proto.graph.output),
    }
    mlmodel = Model.load(d)
    res["metadata"] = mlmodel.metadata or {}
    prep_file = os.path.join(d, res["metadata"].get("preprocessing", "preprocessing.json"))
    if req.get("pixels") and os.path.exists(prep_file):
        # preprocessing.json applied with numpy to the resized 8-bit pixels
        # (N, H, W, RGB) gives the tensor featurizer feeds the model.
        with open(prep_file) as f:
            prep = json.load(f)
        px = np.fromfile(req["pixels"], dtype=np.uint8).reshape(req["pixels_shape"])
        res["preprocessing_max_diff"] = float(np.max(np.abs(preprocess(prep, px) - x)))
    res["mlmodel"] = {"mlflow_version": mlmodel.mlflow_version,
                      "onnx_version": mlmodel.flavors["onnx"]["onnx_version"],
                      "python_version": mlmodel.flavors["python_function"]["python_version"]}

    # What MLflow itself writes for this graph in this environment.
    with tempfile.TemporaryDirectory() as tmp:
        own = os.path.join(tmp, "own")
        mlflow.onnx.save_model(proto, own)
        with open(os.path.join(own, "requirements.txt")) as f:
            res["mlflow_own_requirements"] = [l.strip() for l in f if l.strip() and not l.startswith("#")]
        res["mlflow_own_python"] = Model.load(own).flavors["python_function"]["python_version"]

    # The registry: the directory as it is, and the same files logged as a
    # run's artifacts (how a training notebook would register it).
    mlflow.set_tracking_uri(registry_uri)
    mlflow.set_registry_uri(registry_uri)
    name = req["name"]
    mv = mlflow.register_model(os.path.abspath(d), name)
    with mlflow.start_run() as run:
        mlflow.log_artifacts(d, "model")
    mv2 = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    client = mlflow.MlflowClient()
    res["registered"] = []
    for v in (mv, mv2):
        got = client.get_model_version(name, v.version)
        loaded = mlflow.pyfunc.load_model(f"models:/{name}/{v.version}")
        res["registered"].append({"version": int(got.version), "status": got.status, "source": got.source,
                                  "pyfunc": outputs_of(loaded.predict(x))})
    mlflow.set_tracking_uri(None)
    return res


def probe_onnxruntime():
    """The newest IR version and opset the installed onnxruntime loads."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    ort.set_default_logger_severity(3)

    def loads(ir, opset):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])
        g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = ir
        try:
            s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
            s.run(None, {"x": np.ones((1, 2), np.float32)})
            return True
        except Exception:
            return False

    ir = 7
    while ir < 64 and loads(ir + 1, 13):
        ir += 1
    opset = 13
    while opset < 128 and loads(7, opset + 1):
        opset += 1
    return {"max_ir": ir, "max_opset": opset}


def main():
    with open(sys.argv[1]) as f:
        req = json.load(f)
    import onnx.helper

    res = {"python": platform.python_version(), "installed": {}, "models": {}}
    for pkg in req["packages"]:
        try:
            res["installed"][pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            res["installed"][pkg] = None
    res["onnx_version_table"] = [[r[0], r[1], r[2]] for r in onnx.helper.VERSION_TABLE]
    res["onnxruntime_loads"] = probe_onnxruntime()
    for m in req["models"]:
        res["models"][m["name"]] = check_model(m, req["registry_uri"])
    with open(sys.argv[2], "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main()
