"""Row reads the table and its row-sparse training share, and backend checks."""

import keras
from keras import ops


def take_rows(table, ids):
    """Rows `table[ids]` for ids already known to lie in `[0, len(table))`.

    Same values and gradients as `ops.take(table, ids, axis=0)`, through the
    backend's own gather, without `ops.take`'s handling of negative or
    out-of-range ids: `jnp.take(mode="clip")` on JAX,
    `torch.nn.functional.embedding` (or `index_select`) on PyTorch,
    `tf.gather` on TensorFlow.
    """
    backend = keras.config.backend()
    if backend == "jax":
        import jax.numpy as jnp  # backend fast path, imported only on JAX

        return jnp.take(ops.convert_to_tensor(table), ids, axis=0, mode="clip")
    if backend == "torch":
        import torch  # backend fast path, imported only on PyTorch

        table = torch_tensor(table)
        ids = torch_tensor(ids, device=table.device)
        if len(table.shape) == 2 and table.is_floating_point():
            return torch.nn.functional.embedding(ids, table)
        rows = table.index_select(0, ids.reshape(-1))
        return rows.reshape(*ids.shape, *table.shape[1:])
    if backend == "tensorflow":
        import tensorflow as tf  # backend fast path, imported only on TensorFlow

        if isinstance(table, keras.Variable):
            table = table.value
        return tf.gather(table, ids)
    return ops.take(table, ids, axis=0)


def is_concrete(x):
    """True when `x` holds values (eager), False inside a traced function."""
    try:
        ops.convert_to_numpy(x)
    except Exception:
        return False
    return True


def torch_tensor(x, device=None):
    """`x` as a torch tensor (on `device` if given), with the least work.

    `keras.ops.convert_to_tensor` costs more Python time per call than an
    eager PyTorch gather of a few thousand rows; a variable's value or a
    tensor already on the right device needs none of it.
    """
    import torch  # backend fast path, imported only on PyTorch

    if isinstance(x, keras.Variable):
        return x.value
    if isinstance(x, torch.Tensor):
        return x if device is None or x.device == device else x.to(device)
    return ops.convert_to_tensor(x)


def torch_eager():
    """True on PyTorch when ops run one by one on real values.

    False inside `torch.compile` and `torch.export` (where shapes must be
    static) and while `torch.jit.trace` records a graph (how Keras exports
    ONNX on PyTorch with a dynamic batch): a trace keeps only the ops run,
    so a Python branch on the sample's values (such as skipping the
    out-of-range remap because its ids are all in range) would be baked
    into the exported model.
    """
    if keras.config.backend() != "torch":
        return False
    import torch  # backend check, imported only on PyTorch

    return not (torch.compiler.is_compiling() or torch.jit.is_tracing())


def torch_exporting():
    """True on PyTorch while `torch.export` or `torch.jit.trace` records a graph.

    There variables hold no values a Python branch could read (`torch.export`
    gives them fake tensors), and an exported graph keeps no branch.
    """
    if keras.config.backend() != "torch":
        return False
    import torch  # backend check, imported only on PyTorch

    return torch.compiler.is_exporting() or torch.jit.is_tracing()


def scaled_rows(rows, factor):
    """Value exactly `factor * rows`; the gradient reaches `rows` unscaled.

    The optimizer then updates the variable behind `rows` as it would a
    fully trainable one, and the value moves by `factor` times that update.
    A custom gradient, so that XLA can fuse the product into the gather
    (docs/design/lookup-history.md).
    """
    return _scaled(rows, ops.convert_to_tensor(factor))


@ops.custom_gradient
def _scaled(rows, factor):
    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        return upstream, ops.zeros_like(factor)

    return rows * factor, grad
