"""The layer test harness every public keras_embedx layer goes through.

`check_layer(make_layer, inputs, ...)` checks, on the current backend, what a
user relies on for any Keras layer, with public Keras API only:

- config: `get_config()` is JSON-safe and small (no weights in it);
  `from_config` and Keras serialisation give a layer with the same config,
  which with the same weights computes the same outputs;
- calls: a symbolic call on `keras.Input` has the shape
  `compute_output_shape` gives; the mask reaches the next layer of a
  functional model; an eager call equals the compiled model's output;
- training: one `fit` step moves every trainable weight, leaves every
  non-trainable weight bit-identical, and moves exactly the table rows the
  case says train (`RowCheck`);
- mixed precision: under `mixed_float16` and `mixed_bfloat16` the output
  has the compute dtype, float variables stay float32, the output is finite
  and close to the float32 layer's with the same weights;
- saving: a `.keras` file loads back with bit-identical weights, config,
  vocabulary and predictions, and (given a `CrossBackendLoader`) loads
  under another backend with bit-identical weights and the same outputs,
  and saved there, loads back here the same way.

Each part is also a function of its own (`check_config`, `check_calls`,
`check_fit_step`, `check_mixed_precision`, `check_saving`).
"""

import dataclasses
import importlib.util
import json
import os
import queue
import subprocess
import sys
import textwrap
import threading

import keras
import numpy as np
from keras import ops

from tests._crossbackend import other_backend

POLICIES = ("mixed_float16", "mixed_bfloat16")
# Closeness of a mixed-precision output to the float32 one, relative to the
# largest float32 output (float16: 10 bits of mantissa, bfloat16: 7).
MIXED_TOLERANCE = {"mixed_float16": 3e-3, "mixed_bfloat16": 2e-2}


def _numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def _values(variables):
    return [(v, _numpy(v).copy()) for v in variables]


def _config_json(layer):
    return json.dumps(layer.get_config(), sort_keys=True)


def _copy_variables(source, target):
    """Assign `source`'s variables to `target`'s (as `load_model` does: which
    rows of a table are frozen lives in variables, not in `get_weights()`)."""
    pairs = list(zip(source.weights, target.weights, strict=True))
    for a, b in pairs:
        assert tuple(a.shape) == tuple(b.shape), (a.path, b.path)
        b.assign(_numpy(a))


@dataclasses.dataclass
class RowCheck:
    """Which rows of a table one `fit` step moves.

    Attributes:
        read: callable, `read(layer)` → the table as an ndarray `[rows, dim]`.
        trained: ids of rows the step must move (each row in some entry).
        unchanged: ids of rows that must stay bit-identical (frozen rows,
            and rows no input reads).
    """

    read: object
    trained: object = ()
    unchanged: object = ()


class _MaskProbe(keras.layers.Layer):
    """Outputs the mask Keras hands it: 1/0 per position, -1 for no mask."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.cast(ops.zeros_like(inputs[..., 0]), "float32") - 1.0
        return ops.cast(mask, "float32")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1]


class _SumLoss(keras.losses.Loss):
    """The sum of the outputs: a gradient of ones reaches every output entry."""

    def call(self, y_true, y_pred):
        return ops.sum(ops.cast(y_pred, "float32"), axis=-1)


def _input(inputs):
    return keras.Input(shape=inputs.shape[1:], dtype=str(inputs.dtype))


def _model(layer, inputs):
    x = _input(inputs)
    return keras.Model(x, layer(x))


def check_config(layer, inputs, max_config_bytes=8192):
    """JSON-safe config; `from_config` and Keras serialisation round trips."""
    config = layer.get_config()
    text = json.dumps(config, sort_keys=True)
    assert len(text) <= max_config_bytes, (
        f"get_config() of {layer.name} is {len(text)} bytes of JSON; weights "
        "and large vocabularies belong in the weights file and assets"
    )
    clone = type(layer).from_config(json.loads(text))
    assert _config_json(clone) == text, "from_config(get_config()) changed the config"
    revived = keras.layers.deserialize(
        json.loads(json.dumps(keras.layers.serialize(layer)))
    )
    assert type(revived) is type(layer)
    assert _config_json(revived) == text, "Keras serialisation changed the config"
    # Same config, same weights: same outputs.
    want = _numpy(layer(inputs))
    revived(inputs)
    _copy_variables(layer, revived)
    np.testing.assert_array_equal(
        _numpy(revived(inputs)),
        want,
        err_msg="a layer from the config, given the weights, computes another output",
    )


def check_calls(layer, inputs, expected_output_shape, expected_mask, atol, rtol):
    """Symbolic and eager calls; the mask as the next layer receives it."""
    x = _input(inputs)
    outputs = layer(x)
    assert tuple(outputs.shape) == tuple(layer.compute_output_shape(x.shape)), (
        f"symbolic output {outputs.shape} != compute_output_shape "
        f"{layer.compute_output_shape(x.shape)}"
    )
    batch = (None, *expected_output_shape[1:])
    assert tuple(outputs.shape) == batch, (outputs.shape, batch)
    model = keras.Model(x, [outputs, _MaskProbe(dtype="float32")(outputs)])
    compiled, seen = model.predict(inputs, batch_size=len(inputs), verbose=0)

    eager = _numpy(layer(inputs))
    assert np.isfinite(eager).all(), "non-finite outputs"
    assert eager.shape == tuple(expected_output_shape), eager.shape
    assert eager.shape == tuple(layer.compute_output_shape(inputs.shape))
    np.testing.assert_allclose(
        eager,
        compiled,
        atol=atol,
        rtol=rtol,
        err_msg="eager call != the compiled model's output",
    )
    mask = layer.compute_mask(inputs)
    if expected_mask is None:
        assert mask is None, "a layer without padding must not return a mask"
        np.testing.assert_array_equal(seen, -1.0, err_msg="the next layer got a mask")
    else:
        np.testing.assert_array_equal(_numpy(mask), expected_mask)
        np.testing.assert_array_equal(
            seen,
            np.asarray(expected_mask, "float32"),
            err_msg="the next layer of the model did not receive the mask",
        )
    return model


def check_fit_step(layer, inputs, rows=None, learning_rate=0.1):
    """One `fit` step: what trains moves, what is frozen stays bit-identical."""
    model = _model(layer, inputs)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss=_SumLoss())
    trainable = _values(layer.trainable_weights)
    fixed = _values(layer.non_trainable_weights)
    table = None if rows is None else np.array(rows.read(layer), copy=True)
    target = np.zeros(model.output.shape[1:], "float32")[None].repeat(len(inputs), 0)
    model.fit(inputs, target, batch_size=len(inputs), epochs=1, verbose=0)
    for variable, before in trainable:
        assert np.any(_numpy(variable) != before), (
            f"trainable {variable.path} did not move in a fit step"
        )
    for variable, _ in trainable:
        assert np.isfinite(_numpy(variable)).all(), f"{variable.path} not finite"
    for variable, before in fixed:
        np.testing.assert_array_equal(
            _numpy(variable),
            before,
            err_msg=f"non-trainable {variable.path} moved in a fit step",
        )
    if rows is not None:
        after = np.asarray(rows.read(layer))
        unchanged = np.asarray(rows.unchanged, int)
        np.testing.assert_array_equal(
            after[unchanged], table[unchanged], err_msg="a frozen/unread row moved"
        )
        trained = np.asarray(rows.trained, int)
        moved = np.any(after[trained] != table[trained], axis=1)
        assert moved.all(), f"rows {trained[~moved].tolist()} did not train"
    return model


def check_mixed_precision(make_layer, layer, inputs, policies=POLICIES):
    """Under each policy: compute-dtype output, float32 variables, same values."""
    reference = _numpy(layer(inputs)).astype("float32")
    scale = max(1.0, float(np.abs(reference).max()))
    for policy in policies:
        mixed = make_layer(dtype=policy)
        compute = keras.DTypePolicy(policy).compute_dtype
        symbolic = mixed(_input(inputs))
        assert keras.backend.standardize_dtype(symbolic.dtype) == compute, (
            policy,
            symbolic.dtype,
        )
        mixed(inputs)
        _copy_variables(layer, mixed)
        out = mixed(inputs)
        assert keras.backend.standardize_dtype(out.dtype) == compute, (
            policy,
            out.dtype,
        )
        for weight in mixed.weights:
            dtype = keras.backend.standardize_dtype(weight.dtype)
            assert dtype == "float32" or "float" not in dtype, (weight.path, dtype)
        out = _numpy(out).astype("float32")
        assert np.isfinite(out).all(), f"non-finite outputs under {policy}"
        tol = MIXED_TOLERANCE[policy] * scale
        np.testing.assert_allclose(out, reference, atol=tol, rtol=0, err_msg=policy)
        # Structural zeros (padding positions) stay exactly zero.
        np.testing.assert_array_equal(out[reference == 0], 0, err_msg=policy)


def _vocabulary(layer):
    """`layer.get_vocabulary()` as a list; None for a layer without one."""
    try:
        return list(layer.get_vocabulary())
    except (AttributeError, ValueError):
        return None


def check_saving(layer, inputs, path, loader=None, atol=1e-5, rtol=1e-5):
    """`.keras` round trip here (bit-identical) and, with `loader`, elsewhere."""
    x = _input(inputs)
    model = keras.Model(x, layer(x))
    expected = model.predict(inputs, batch_size=len(inputs), verbose=0)
    # The layer's weights as its users see them (each table whole): which
    # spare entries a variable holds is the layer's own business.
    weights = layer.get_weights()
    model.save(path)
    loaded = keras.models.load_model(path)
    got = loaded.predict(inputs, batch_size=len(inputs), verbose=0)
    np.testing.assert_array_equal(got, expected, err_msg="loaded model predicts else")
    again = loaded.get_layer(layer.name)
    for a, b in zip(again.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert type(again) is type(layer)
    assert _config_json(again) == _config_json(layer)
    assert _vocabulary(again) == _vocabulary(layer)
    if loader is not None:
        loader.check(path, layer, inputs, expected, weights, atol, rtol)


def check_layer(
    make_layer,
    inputs,
    expected_output_shape,
    expected_mask=None,
    rows=None,
    save_path=None,
    loader=None,
    atol=1e-6,
    rtol=1e-6,
    policies=POLICIES,
    max_config_bytes=8192,
):
    """Run every check of this module on `make_layer()` and `inputs`.

    Args:
        make_layer: callable, `make_layer(**kwargs)` → a fresh layer; it
            must pass `dtype=` on to the layer.
        inputs: ndarray, one batch of inputs.
        expected_output_shape: tuple, the output shape for `inputs`.
        expected_mask: bool ndarray the layer's mask must equal, or None
            for a layer that returns no mask.
        rows: optional `RowCheck` for the `fit` step.
        save_path: where to write the `.keras` file (None: no saving check).
        loader: optional `CrossBackendLoader` that loads the file under
            another backend.
        atol, rtol: eager against compiled, and across backends (there
            with `rtol` at least 1e-5).
        policies: mixed-precision policies to check.
        max_config_bytes: bound on `get_config()`'s JSON.

    Returns:
        The trained layer.
    """
    inputs = np.asarray(inputs)
    layer = make_layer()
    check_calls(layer, inputs, expected_output_shape, expected_mask, atol, rtol)
    check_config(layer, inputs, max_config_bytes)
    check_fit_step(layer, inputs, rows)
    if policies:
        check_mixed_precision(make_layer, layer, inputs, policies)
    if save_path is not None:
        check_saving(layer, inputs, save_path, loader, atol=atol, rtol=max(rtol, 1e-5))
    return layer


# ------------------------------------------------------ another backend
_WORKER = textwrap.dedent(
    """
    import json, sys, traceback
    import numpy as np, keras
    import keras_embedx  # registers the layers

    def check(request):
        data = np.load(request["data"])
        model = keras.models.load_model(request["path"])
        layer = model.get_layer(request["layer"])
        got = layer.get_weights()
        assert len(got) == int(data["num_weights"]), "number of weights"
        for i, w in enumerate(got):
            np.testing.assert_array_equal(w, data[f"w{i}"], err_msg=f"weight {i}")
        x = data["inputs"]
        out = model.predict(x, batch_size=len(x), verbose=0)
        np.testing.assert_allclose(
            out, data["expected"], atol=request["atol"], rtol=request["rtol"]
        )
        config = json.dumps(layer.get_config(), sort_keys=True)
        assert config == request["config"], "config"
        if request["vocabulary"] is not None:
            assert list(layer.get_vocabulary()) == request["vocabulary"], "vocabulary"
        model.save(request["resave"])

    print("READY", flush=True)
    for line in sys.stdin:
        try:
            check(json.loads(line))
            reply = {"ok": True}
        except Exception:
            reply = {"ok": False, "error": traceback.format_exc()}
        print("REPLY " + json.dumps(reply), flush=True)
    """
)


class CrossBackendLoader:
    """A Python process under another backend that loads `.keras` files.

    One process serves every check of a session (starting a backend costs
    seconds); `check` sends it a file and what loading it must give.
    """

    def __init__(self, backend, timeout=300):
        self.backend = backend
        self.timeout = timeout
        self._proc = None
        self._lines = queue.Queue()
        self._log = None

    def _start(self):
        env = dict(os.environ, KERAS_BACKEND=self.backend, TF_CPP_MIN_LOG_LEVEL="3")
        self._log = open(os.devnull, "w")  # noqa: SIM115 - closed in close()
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self._expect("READY")

    def _read(self):
        for line in self._proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _expect(self, prefix):
        while True:
            try:
                line = self._lines.get(timeout=self.timeout)
            except queue.Empty:
                raise AssertionError(
                    f"no answer from the {self.backend} process in {self.timeout} s"
                ) from None
            if line is None:
                raise AssertionError(
                    f"the {self.backend} process exited ({self._proc.wait()})"
                )
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    def check(self, path, layer, inputs, expected, weights, atol, rtol):
        """Under the other backend, `path` loads with `weights` bit for bit,
        `layer`'s config and vocabulary, and predicts `expected` for
        `inputs`; saved there again, it loads back here the same way."""
        if self._proc is None:
            self._start()
        data = f"{path}.expected.npz"
        arrays = {f"w{i}": w for i, w in enumerate(weights)}
        np.savez(
            data,
            inputs=inputs,
            expected=expected,
            num_weights=len(weights),
            **arrays,
        )
        request = {
            "path": str(path),
            "data": data,
            "layer": layer.name,
            "config": _config_json(layer),
            "vocabulary": _vocabulary(layer),
            "resave": f"{path}.{self.backend}.keras",
            "atol": atol,
            "rtol": rtol,
        }
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        reply = json.loads(self._expect("REPLY"))
        assert reply["ok"], f"loading under {self.backend} failed:\n{reply['error']}"
        back = keras.models.load_model(request["resave"])
        again = back.get_layer(layer.name)
        for a, b in zip(again.get_weights(), weights, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"saved by {self.backend}")
        assert _config_json(again) == request["config"]
        assert _vocabulary(again) == request["vocabulary"]
        got = back.predict(inputs, batch_size=len(inputs), verbose=0)
        np.testing.assert_allclose(
            got, expected, atol=atol, rtol=rtol, err_msg=f"saved by {self.backend}"
        )

    def close(self):
        if self._proc is not None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


def cross_backend_loader(current):
    """A `CrossBackendLoader` for the backend after `current`, or None where
    that backend is not installed."""
    backend = other_backend(current)
    if importlib.util.find_spec(backend) is None:
        return None
    return CrossBackendLoader(backend)
