"""Backend fast paths of the table lookup, behind backend-independent calls.

Every function here works on every backend. Where a backend has a faster
way, the work goes to that backend's module (`jax.py`, `tensorflow.py`,
`torch.py`), imported only while Keras runs on that backend; each of those
modules imports nothing else from keras_embedx.
"""

import keras
from keras import ops


def _fast():
    """The current backend's fast-path module, or None."""
    backend = keras.config.backend()
    if backend == "jax":
        from keras_embedx.layers._fast import jax as fast
    elif backend == "tensorflow":
        from keras_embedx.layers._fast import tensorflow as fast
    elif backend == "torch":
        from keras_embedx.layers._fast import torch as fast
    else:
        return None
    return fast


def take_rows(table, ids):
    """Rows `table[ids]` for ids already known to lie in `[0, len(table))`.

    Same values and gradients as `ops.take(table, ids, axis=0)`, through the
    backend's own gather, without `ops.take`'s handling of negative or
    out-of-range ids.
    """
    fast = _fast()
    if fast is None:
        return ops.take(table, ids, axis=0)
    return fast.take_rows(table, ids)


def take_slots(table, slots):
    """Rows `table[slots]` where `slots >= 0`; the other positions are dropped.

    For the trainable rows of a mixed table: a frozen row's slot is
    negative, and the caller replaces its position with the frozen row, so
    the gradient reaching that position is zero. On JAX the gradient
    scatter skips those positions. Elsewhere a frozen row's slot `s` reads
    slot `-1 - s`, which `row_index` spreads over the trainable rows (see
    `keras_embedx.layers._schedule.slots`).
    """
    if keras.config.backend() == "jax":
        return _fast().take_slots(ops.convert_to_tensor(table), slots)
    return take_rows(table, ops.maximum(slots, ops.subtract(-1, slots)))


def torch_eager():
    """True on PyTorch when ops run one by one on real values.

    False inside `torch.compile` and `torch.export` (where shapes must be
    static) and while `torch.jit.trace` records a graph: a trace keeps only
    the ops run, so a Python branch on the sample's values would be baked
    into the exported model.
    """
    return keras.config.backend() == "torch" and _fast().eager()


def torch_exporting():
    """True on PyTorch while `torch.export` or `torch.jit.trace` records a graph."""
    return keras.config.backend() == "torch" and _fast().exporting()


def compiled_when_eager(layer, fn, *args):
    """`fn(*args)`, run as one compiled call when JAX executes eagerly.

    Called eagerly on JAX with concrete arrays, this traces `fn` once per
    input signature with `jax.jit`, reading `layer`'s variables through a
    `keras.StatelessScope`, and runs it as one kernel; inside a traced
    function (`fit`, `predict`, `jax.grad`) and on the other backends it
    simply calls `fn(*args)`.
    """
    if keras.config.backend() != "jax":
        return fn(*args)
    fast = _fast()
    if any(fast.is_traced(a) or keras.backend.is_keras_tensor(a) for a in args):
        return fn(*args)
    return _compiled(layer, "_compiled_when_eager", fn, fast.jit)(*args)


def fused_on_tensorflow(layer, fn, *args):
    """`fn(*args)`, run on TensorFlow as one XLA cluster, however it is called.

    Eagerly, `fn` is compiled with `tf.function(jit_compile=True)` (once per
    rank of the inputs); inside a graph (`fit`, `predict`, `model.export`)
    its ops are marked for one XLA cluster instead, which a graph frozen for
    export to another runtime serves as ordinary ops. Ragged or sparse
    inputs, and inputs of unknown rank, take the plain path. On the other
    backends this simply calls `fn(*args)`.
    """
    if keras.config.backend() != "tensorflow":
        return fn(*args)
    fast = _fast()
    ranks = fast.dense_ranks(args)
    if ranks is None:
        return fn(*args)
    if fast.in_graph():
        with fast.one_cluster():
            return fn(*args)
    return _compiled(layer, f"_fused_on_tensorflow{ranks}", fn, fast.xla)(*args)


def _compiled(layer, key, fn, compile_fn):
    """`compile_fn` of `fn` with `layer`'s variables as explicit inputs.

    The compiled function reads the variables through a
    `keras.StatelessScope` mapping them to its inputs (so it captures no
    state and gradients flow to whatever the caller passes), and is cached
    on `layer` under `key` until the layer's variables change (new ones
    after `build`, replaced ones after `quantize`).
    """
    variables = layer.variables
    ids = [id(v) for v in variables]
    cache = layer.__dict__.get(key)
    if cache is None or cache[0] != ids:

        def pure(values, *inner):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return fn(*inner)

        # The variables stay referenced with their ids, so an id cannot be
        # reused by a variable created later (`quantize` replaces some).
        cache = (ids, compile_fn(pure), variables)
        object.__setattr__(layer, key, cache)
    compiled = cache[1]
    return lambda *args: compiled([v.value for v in variables], *args)


def torch_remap_in_range(ids, num_rows, oov_id):
    """Eager PyTorch: ids outside `[0, num_rows)` replaced by `oov_id`, in few kernels."""
    return _fast().remap_in_range(ids, num_rows, oov_id)


def torch_mixed_rows(table, ids, frozen_rows):
    """Eager PyTorch: the rows of a table with frozen and trainable rows."""
    return _fast().mixed_rows(table, ids, frozen_rows)


def quiet_frozen_live_without_gradient():
    """On PyTorch, silence Keras' missing-gradient warning about `frozen_live` alone.

    Keras' optimizers warn when a trainable variable gets no gradient, and
    suggest a missing loss. PyTorch's `ops.cond` is a Python branch, so a
    step at factor 0 does not read `frozen_live`; giving it a zero gradient
    instead would cost a dense optimizer update of every frozen row (see
    docs/design/table.md). The filter names only `frozen_live` variables.
    """
    if keras.config.backend() == "torch":
        _fast().quiet_frozen_live_without_gradient()


def forget_merged(table):
    """Drop `table`'s merged copy of its rows (kept on eager PyTorch only)."""
    if keras.config.backend() == "torch":
        _fast().forget_merged(table)
