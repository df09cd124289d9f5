"""The position part of `TokenAndPosition`: learned rows or sinusoids.

`add_positions(layer, x, start_index, positions)` adds the encoding of the
positions asked for to the token vectors `x`, after checking them against
the layer's `sequence_length`: eagerly when they are known, as NaN rows
inside a compiled function where no backend can raise.
"""

import numpy as np
from keras import ops

from keras_embedx.layers._ids import positions_along
from keras_embedx.layers.table import is_concrete, remap_out_of_range


def add_positions(layer, x, start_index, positions):
    """`x` plus the position encoding of `layer` (`layer.position`)."""
    length = ops.shape(x)[-2]
    if positions is None:
        if isinstance(start_index, (bool, float, np.floating)) or (
            isinstance(start_index, (int, np.integer)) and start_index < 0
        ):
            raise ValueError(
                "`start_index` must be an int >= 0 (the position of the "
                f"first token). Received: start_index={start_index!r}"
            )
        if isinstance(start_index, (int, np.integer)):
            start_index = int(start_index)
        static = isinstance(length, int) and isinstance(start_index, int)
        if static:
            check_static_length(layer, length + start_index, start_index)
        else:
            _check_concrete_positions(layer, start_index, length)
        if layer.position is None:
            return x
        if static and layer.position == "learned":
            # A run of rows known now: slice the table, as keras-hub does.
            table = layer.position_embedding.dense_table()
            return x + ops.slice(table, (start_index, 0), (length, layer.embedding_dim))
        ids = positions_along(x, -2)
        if not (isinstance(start_index, int) and start_index == 0):
            ids = ids + ops.cast(start_index, "int32")
    else:
        static = False
        _check_positions_shape(ops.shape(positions), ops.shape(x))
        ids = ops.cast(positions, "int32")
        _check_concrete_positions(layer, ids, None)
        if layer.position is None:
            return x
    bad = None
    if not static:
        # Only reached when the length or start is known at run time
        # inside a compiled function: mark positions past the end.
        ids, bad = remap_out_of_range(
            ids, layer.sequence_length, oov_id=0, mode="error"
        )
    if layer.position == "learned":
        encoding = layer.position_embedding(ids)
    else:
        encoding = sinusoid(
            ids, layer.embedding_dim, layer.max_wavelength, layer.compute_dtype
        )
    if bad is not None:
        encoding = ops.where(ops.expand_dims(bad, -1), float("nan"), encoding)
    return x + encoding


def sinusoid(ids, dim, max_wavelength, dtype):
    """keras-hub's `SinePositionEncoding` for positions `ids`, in `dtype`.

    Dimensions `2k` and `2k + 1` share one angle (sine, then cosine), so
    each angle is computed once and each of sin/cos on half the columns:
    the same float32 values as keras-hub's layer at half the work.
    """
    half = (dim + 1) // 2
    angles_at = ops.cast(ids, "float32")
    if len(angles_at.shape) == 1:
        angles_at = ops.expand_dims(angles_at, 0)
    min_freq = ops.cast(1 / max_wavelength, "float32")
    timescales = ops.power(
        min_freq,
        ops.cast(2 * np.arange(half), "float32") / ops.cast(dim, "float32"),
    )
    angles = ops.expand_dims(angles_at, -1) * timescales
    pairs = ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1)
    encoding = ops.reshape(pairs, (*ops.shape(angles)[:-1], 2 * half))
    if 2 * half != dim:
        encoding = encoding[..., :dim]
    return ops.cast(encoding, dtype)


def check_static_length(layer, end, start_index=0):
    """Raise when positions up to `end` do not fit `layer.sequence_length`."""
    if layer.sequence_length is None or end is None or end <= layer.sequence_length:
        return
    where = f" starting at start_index={start_index}" if start_index else ""
    raise ValueError(
        f"Layer {layer.name!r} takes sequences of at most "
        f"sequence_length={layer.sequence_length} tokens. Received a sequence "
        f"of {end - start_index} tokens{where}, which needs {end} positions. "
        "Truncate the inputs (e.g. Vocabulary.encode(..., sequence_length=N)) "
        "or build the layer with a larger `sequence_length`."
    )


def _check_positions_shape(shape, x_shape):
    """`positions` must be `(length,)` or `(batch, length)` for the inputs."""
    batch, length = x_shape[0], x_shape[-2]
    fits = len(shape) in (1, 2) and shape[-1] in (length, None)
    if fits and len(shape) == 2 and None not in (shape[0], batch):
        fits = shape[0] in (1, batch)
    if not fits or (len(x_shape) != 3 and len(shape) == 2):
        raise ValueError(
            "`positions` must have shape (sequence_length,) or (batch_size, "
            f"sequence_length) matching the inputs' {tuple(x_shape[:-1])}. "
            f"Received: positions.shape={tuple(shape)}"
        )


def _check_concrete_positions(layer, start_or_ids, length):
    """Raise for out-of-range positions when their values are known."""
    if layer.sequence_length is None or not is_concrete(start_or_ids):
        return
    values = np.asarray(ops.convert_to_numpy(start_or_ids))
    if length is not None and values.size and values.min() < 0:
        raise ValueError(
            "`start_index` must be >= 0 (the position of the first token). "
            f"Received: start_index={values.tolist()}"
        )
    if length is not None:
        if isinstance(length, int):
            check_static_length(layer, int(values) + length, int(values))
        return
    if values.size and (values.min() < 0 or values.max() >= layer.sequence_length):
        raise ValueError(
            f"`positions` must lie in [0, {layer.sequence_length}) "
            f"(sequence_length). Received values from {values.min()} to "
            f"{values.max()}."
        )
