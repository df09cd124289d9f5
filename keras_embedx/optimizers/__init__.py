"""Row-wise optimizers for keras_embedx tables (`row_optimizer=`).

A table layer built with one of these trains its rows row-sparsely: each
step updates only the rows its batch looks up, in the table and in the
optimizer's state, while the rest of the model trains with the model's own
optimizer inside plain `fit`.
"""

from keras_embedx.optimizers.adagrad import Adagrad
from keras_embedx.optimizers.base import RowOptimizer
from keras_embedx.optimizers.lazy_adam import LazyAdam
from keras_embedx.optimizers.sgd import SGD

__all__ = ["SGD", "Adagrad", "LazyAdam", "RowOptimizer", "get", "serialize"]


def serialize(optimizer):
    """A JSON-safe config of a row optimizer, or None."""
    if optimizer is None:
        return None
    import keras

    return keras.saving.serialize_keras_object(optimizer)


def get(identifier):
    """A `RowOptimizer` from an instance, a serialized config, or None.

    Args:
        identifier: None, a `RowOptimizer`, or the dict `serialize` returns.

    Returns:
        None or a `RowOptimizer`.
    """
    if identifier is None or isinstance(identifier, RowOptimizer):
        return identifier
    if isinstance(identifier, dict):
        import keras

        optimizer = keras.saving.deserialize_keras_object(identifier)
        if isinstance(optimizer, RowOptimizer):
            return optimizer
    raise ValueError(
        "`row_optimizer` must be None or a row-wise optimizer: "
        "keras_embedx.optimizers.SGD, Adagrad or LazyAdam (the model's own "
        "optimizer, such as keras.optimizers.Adam, trains the other "
        f"variables). Received: row_optimizer={identifier!r}"
    )
