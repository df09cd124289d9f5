"""Backend-specific in-place row writes for the row-sparse training mode.

`assign_rows(variable, indices, values)` writes `values[i]` into row
`indices[i]` of `variable`, touching only those rows: a scatter into the
variable's own buffer (TensorFlow's resource scatter, PyTorch's
`index_copy_`), or on JAX a functional scatter that XLA performs in place
when the trainer donates its state (as Keras' JAX trainer does under
`jit`). Duplicate indices must carry identical values (the caller
guarantees it), so the result does not depend on the order of the writes.
"""

import keras
from keras import ops


def assign_rows(variable, indices, values):
    """Write `values` (`[n, ...]`) into rows `indices` (`[n]`) of `variable`."""
    # Inside a `keras.StatelessScope` a variable's value is a plain tensor:
    # the write then goes through `assign`, which the scope records.
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf  # backend fast path, imported only on TensorFlow

        target = variable.value
        if isinstance(target, tf.Variable):
            target.scatter_nd_update(
                ops.expand_dims(indices, -1), ops.cast(values, target.dtype)
            )
            return
    if backend == "torch":
        import torch  # backend fast path, imported only on PyTorch

        target = variable.value
        if isinstance(target, torch.nn.Parameter):
            with torch.no_grad():
                target.index_copy_(
                    0,
                    ops.convert_to_tensor(indices).to(torch.int64),
                    ops.convert_to_tensor(values).to(target.dtype),
                )
            return
    variable.assign(
        ops.scatter_update(
            variable.value,
            ops.expand_dims(indices, -1),
            ops.cast(values, variable.dtype),
        )
    )
