"""Checks on the ids a layer is called with, made before Keras converts them.

A Keras layer converts its inputs to backend tensors before `call` runs, so
two mistakes are only visible before that:

- strings (words instead of ids) fail inside the backend, each with its own
  error naming neither the layer nor the fix, or, on a symbolic
  `keras.Input(dtype="string")`, only once `fit` or `predict` sends data;
- on JAX with 64-bit types disabled (JAX's default), int64 ids are
  truncated to int32, so id `2**32 + 2` reads row 2 and the smallest int64
  the padding row, where TensorFlow and PyTorch read the OOV row.

`check_ids` handles both; `IdInputLayer.__call__` runs a layer's
`_checked_ids` before Keras converts its inputs. The ids of a
model's own inputs (`fit`, `predict`, `model(x)`) are converted by Keras
before any layer sees them: see the `out_of_range` docs of the layers.
"""

import keras
import numpy as np
from keras import ops

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
# Where the words come from, for the error on strings: Vocabulary ids (word
# tables) or the layer's own encoder (subword and character layers).
WORD_IDS_HINT = (
    "Encode the texts first, e.g. with `keras_embedx.Vocabulary.encode(texts)` "
    "(NumPy, any backend) or `keras.layers.StringLookup(vocabulary=..., "
    'mask_token="")` (in a tf.data pipeline), and pass the int ids.'
)


class IdInputLayer(keras.layers.Layer):
    """A layer taking int ids, checked by `_checked_ids` before conversion."""

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(self._checked_ids(inputs), *args, **kwargs)

    def _checked_ids(self, inputs):
        raise NotImplementedError


def dense_ids(ids):
    """`ids` as a dense tensor when they are sparse, else unchanged.

    A sparse id tensor (`tf.SparseTensor` on TensorFlow, a JAX sparse array
    such as `BCOO`) reads as its dense form, its unset entries id 0: the
    padding row, as `keras.layers.Embedding` gives them. Ragged tensors
    are left as they are (the lookups handle them on TensorFlow).
    """
    if _is_sparse(ids):
        return ops.convert_to_tensor(ids, sparse=False)
    return ids


def positions_along(x, axis):
    """int32 positions `0 .. n - 1` along `axis` of `x`, for broadcasting.

    A length known when the function is traced gives a constant `[n]`. An
    unknown one (a symbolic or run-time dimension) gives the positions
    counted from `x` itself, shaped `x.shape[:axis + 1]` with the leading
    axes cut to one entry, so the count keeps `x`'s dimension: exporters
    that trace symbolic shapes (jax2onnx) cannot give `arange` such a
    length.
    """
    n = x.shape[axis]
    if isinstance(n, int):
        return ops.convert_to_tensor(np.arange(n, dtype="int32"))
    rank = len(x.shape)
    axis %= rank
    index = (slice(0, 1),) * axis + (slice(None),) + (0,) * (rank - axis - 1)
    return ops.cumsum(ops.ones_like(x[index], dtype="int32"), axis=axis) - 1


def _is_sparse(x):
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf  # backend check, imported only on TensorFlow

        return isinstance(x, tf.SparseTensor)
    if backend == "jax":
        from jax.experimental import sparse  # backend check, only on JAX

        return isinstance(x, sparse.JAXSparse)
    return False


def own_encoder_hint(layer):
    """The hint for layers that encode words themselves (`layer.encode`)."""
    return (
        f"Encode the words first with `{type(layer).__name__}.encode(words)` "
        "(NumPy, any backend), and pass the int ids it returns."
    )


def check_ids(layer, inputs, num_rows, out_of_range="oov", hint=WORD_IDS_HINT):
    """`inputs`, checked before the layer's `__call__` converts them.

    Args:
        layer: the layer called (named in the errors).
        inputs: what the layer was called with.
        num_rows: int, rows of the table the ids index.
        out_of_range: `"oov"` or `"error"`, the layer's mode.
        hint: how to encode strings into ids, for the error.

    Returns:
        `inputs`, or a NumPy array where ids no backend holds are replaced
        by -1, which reads the OOV row as every out-of-range id does: uint64
        ids past int64 (PyTorch has no uint64), and on JAX with 64-bit types
        disabled, ids past int32.

    Raises:
        ValueError: for strings, and in mode `"error"` for ids past int32
            that JAX would truncate.
    """
    example = _string_example(inputs)
    if example is not None:
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) takes int ids, not "
            f"strings. {hint} Received: {example}"
        )
    if not isinstance(inputs, np.ndarray):
        return inputs
    if inputs.dtype == np.uint64:
        # PyTorch has no uint64: past int64 is out of range anyway.
        ids = inputs.astype(np.int64)
        ids[inputs > np.iinfo(np.int64).max] = -1
        inputs = ids
    if _jax_truncates_int64():
        return _fit_int32(inputs, num_rows, out_of_range)
    return inputs


def out_of_range_error(num_rows, ids, bad):
    """The `ValueError` for ids outside `[0, num_rows)` (NumPy `ids`, `bad`)."""
    return ValueError(
        f"Ids must lie in [0, {num_rows}). Received {int(bad.sum())} "
        f"id(s) outside it, e.g. {ids[bad][:5].tolist()}. Pass "
        "out_of_range='oov' to map them to the OOV row instead."
    )


def _string_example(inputs):
    """A description of the strings in `inputs`, or None when it holds none."""
    if isinstance(inputs, np.ndarray):
        if inputs.dtype.kind in "US":
            first = inputs.reshape(-1)[:1].tolist()
            return f"an array of dtype {inputs.dtype}{_example(first)}"
        if inputs.dtype.kind == "O":
            words = [w for w in inputs.reshape(-1) if isinstance(w, (str, bytes))]
            if words:
                return f"an array of dtype object holding {words[0]!r}"
        return None
    if isinstance(inputs, (list, tuple)):
        for leaf in keras.tree.flatten(inputs):
            if isinstance(leaf, (str, bytes)):
                return f"a {type(inputs).__name__} holding {leaf!r}"
        return None
    if isinstance(inputs, (str, bytes)):
        return repr(inputs)
    dtype = getattr(inputs, "dtype", None)
    if dtype is not None and getattr(dtype, "name", dtype) == "string":
        return f"a {type(inputs).__name__} of dtype string"
    return None


def _example(items):
    return f", e.g. {items[0]!r}" if items else ""


def _jax_truncates_int64():
    if keras.config.backend() != "jax":
        return False
    import jax  # backend check, imported only on JAX

    return not jax.config.jax_enable_x64


def _fit_int32(ids, num_rows, out_of_range):
    """Ids past int32 as -1 (or an error), before JAX truncates them."""
    if ids.dtype.kind not in "iu" or np.can_cast(ids.dtype, np.int32) or not ids.size:
        return ids
    if ids.min() >= INT32_MIN and ids.max() <= INT32_MAX:
        return ids
    if out_of_range == "error":
        raise out_of_range_error(num_rows, ids, (ids < 0) | (ids >= num_rows))
    past = (ids < INT32_MIN) | (ids > INT32_MAX)
    return np.where(past, -1, ids).astype(np.int32)
