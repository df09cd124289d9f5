"""JAX fast paths of the table lookup (imported only on the JAX backend)."""

import jax
import jax.numpy as jnp
from keras import ops

jit = jax.jit


def is_traced(x):
    """True for a value inside a traced function (`jit`, `grad`, `fit`)."""
    return isinstance(x, jax.core.Tracer)


def take_rows(table, ids):
    """`table[ids]` for in-range ids: `jnp.take(mode="clip")`, no per-element select."""
    return jnp.take(ops.convert_to_tensor(table), ids, axis=0, mode="clip")


@ops.custom_gradient
def take_slots(table, slots):
    """Rows of non-negative slots, zeros elsewhere; the gradient skips the others.

    The forward reads slot 0 at dropped positions and zeroes them: every
    index stays in range, which runtimes that check bounds require (the
    LiteRT interpreter running a SavedModel exported from JAX fails on
    "fill" mode's out-of-range reads). The gradient is the transpose of
    "fill" mode's gather: a scatter that drops those positions.
    """
    keep = ops.expand_dims(ops.greater_equal(slots, 0), -1)
    rows = jnp.take(table, ops.maximum(slots, 0), axis=0, mode="clip")
    out = ops.where(keep, rows, ops.zeros((), table.dtype))

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        dropped = jnp.where(slots < 0, table.shape[0], slots)
        return jnp.zeros_like(table).at[dropped].add(upstream, mode="drop"), None

    return out, grad
