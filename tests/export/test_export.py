"""`model.export` in every format, served by the format's own runtime.

Each case of `_cases.py` is exported once per format (module-scoped
artifacts) and served by TensorFlow's loader, ONNX Runtime, the LiteRT
interpreter or `torch.export.load`; the predictions must equal the Keras
model's own, on the batch with padding, OOV and out-of-range ids.

Tolerances: `tf_saved_model` and `torch` run the backend's own graph of the
same float32 ops, so they agree to 1e-6; ONNX Runtime and LiteRT run their
own kernels (other summation orders, fused multiply-adds) and agree to 1e-5.
"""

import importlib.util

import keras
import numpy as np
import pytest

from tests.conftest import BACKEND
from tests.export._cases import (
    CASES,
    UNKNOWN_SHAPES,
    build,
    in_range,
    num_rows,
    run_litert,
)

FORMATS = ("tf_saved_model", "onnx", "litert", "torch")
TOLERANCE = {"tf_saved_model": 1e-6, "torch": 1e-6, "onnx": 1e-5, "litert": 1e-5}

# (backend, format) pairs where Keras cannot export a stock Embedding model:
# out of scope, shown by `test_stock_keras_cannot_export`.
UNSUPPORTED = {
    ("tensorflow", "torch"): "Torch export requires PyTorch backend.",
    ("jax", "torch"): "Torch export requires PyTorch backend.",
}
UNSUPPORTED[("torch", "tf_saved_model")] = (
    "Detected mismatch between the structure of `inputs` and `dynamic_shapes`"
)
if importlib.util.find_spec("litert_torch") is None:
    UNSUPPORTED[("torch", "litert")] = "you must install the `litert-torch` package"

# Cells that fail, with the error (strict xfail: a fix shows).
KNOWN = {
    ("jax", "litert", "char_unknown_words"): (
        "TFLiteConverter cannot convert the JAX SavedModel's cumulative sum "
        "over characters of unknown length ('vhlo.custom_call_v1' op is not "
        "part of the vhlo support yet)"
    ),
}


def _cells():
    for fmt in FORMATS:
        for case in CASES:
            marks = []
            if (BACKEND, fmt) in UNSUPPORTED:
                marks.append(
                    pytest.mark.skip(
                        reason=f"Keras cannot export format={fmt!r} on {BACKEND}: "
                        + UNSUPPORTED[(BACKEND, fmt)]
                    )
                )
            elif (BACKEND, fmt, case) in KNOWN:
                reason = KNOWN[(BACKEND, fmt, case)]
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            yield pytest.param(fmt, case, marks=marks, id=f"{fmt}-{case}")


@pytest.fixture(scope="module")
def models():
    return {}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    return {"dir": tmp_path_factory.mktemp("export")}


def _case(models, name):
    if name not in models:
        model, layer, x = build(name)
        model(x)  # Keras' ONNX export refuses a model never called
        models[name] = (model, layer, x, model.predict(x, verbose=0))
    return models[name]


@pytest.mark.parametrize("name", [c for c in CASES if c != "stock"])
def test_keras_reads_the_oov_row_for_ids_outside_the_table(models, name):
    model, layer, x, expected = _case(models, name)
    n = num_rows(layer)
    np.testing.assert_array_equal(model.predict(in_range(x, n), verbose=0), expected)
    if name in ("mixed", "int8"):
        table = layer.table.full_table()
        out = keras.ops.convert_to_numpy(layer(x))
        bad = (x < 0) | (x >= n)
        np.testing.assert_array_equal(
            out[bad], np.broadcast_to(table[1], out[bad].shape)
        )


def _export(models, artifacts, fmt, name):
    key = (fmt, name)
    if key not in artifacts:
        model = _case(models, name)[0]
        path = artifacts["dir"] / f"{name}.{_SUFFIX[fmt]}"
        if fmt == "litert" and BACKEND == "jax":
            path = _litert_through_saved_model(model, path)
        else:
            options = _torch_options(name) if fmt == "torch" else {}
            model.export(str(path), format=fmt, verbose=False, **options)
        artifacts[key] = path
    return artifacts[key]


def _torch_options(name):
    # Without `dynamic_shapes`, Keras exports a program for batches of 1,
    # and fixes every other unknown length.
    import torch

    dims = {0: torch.export.Dim("batch", min=1, max=64)}
    for axis, n in enumerate(UNKNOWN_SHAPES.get(name, ()), start=1):
        if n is None:
            dims[axis] = torch.export.Dim(f"axis{axis}", min=1, max=64)
    return {"dynamic_shapes": dims}


_SUFFIX = {"tf_saved_model": "tf", "onnx": "onnx", "litert": "tflite", "torch": "pt2"}


def _litert_through_saved_model(model, path):
    """JAX: Keras exports no LiteRT; the route is SavedModel, then TF's converter."""
    import tensorflow as tf

    saved = path.with_suffix(".tf")
    model.export(str(saved), format="tf_saved_model", verbose=False)
    path.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert())
    return path


def serve(fmt, path, x):
    """The predictions of the artifact at `path` for `x`, in `fmt`'s runtime."""
    if fmt == "tf_saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))  # held: serve reads its variables
        return loaded.serve(tf.constant(x)).numpy()
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]
    if fmt == "litert":
        return run_litert(x, model_path=str(path))
    import torch

    program = torch.export.load(str(path))
    return program.module()(torch.from_numpy(x)).detach().numpy()


@pytest.mark.parametrize(("fmt", "name"), list(_cells()))
def test_exported_model_predicts_as_keras(models, artifacts, fmt, name):
    _, _, x, expected = _case(models, name)
    got = serve(fmt, _export(models, artifacts, fmt, name), x)
    tol = TOLERANCE[fmt]
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "fmt", [f for f in FORMATS if (BACKEND, f) in UNSUPPORTED], ids=str
)
def test_stock_keras_cannot_export(models, tmp_path, fmt):
    model = _case(models, "stock")[0]
    with pytest.raises(Exception, match=UNSUPPORTED[(BACKEND, fmt)]):
        model.export(str(tmp_path / f"stock.{_SUFFIX[fmt]}"), format=fmt)
