"""Row-wise stochastic gradient descent."""

import keras
from keras import ops

from keras_embedx.optimizers.base import RowOptimizer


@keras.saving.register_keras_serializable(package="keras_embedx")
class SGD(RowOptimizer):
    """Plain gradient descent on the rows a batch touches.

    Each step moves every touched row by `-learning_rate * gradient`. Rows
    a batch does not touch have a zero gradient, so the table after any
    number of steps equals what `keras.optimizers.SGD` (no momentum) makes
    of a dense table: the lazy and dense forms agree exactly.

    Args:
        learning_rate: float or a
            `keras.optimizers.schedules.LearningRateSchedule`. Defaults to
            `0.01`.
        capacity: int or None, the most distinct rows one step may touch
            (see `keras_embedx.optimizers.RowOptimizer`).
        name: str, a name for the optimizer.

    Example:

    A 1,000-row table trained row-sparsely while Adam trains the head; one
    step moves only the 3 distinct rows of the batch:

    >>> layer = keras_embedx.layers.PretrainedEmbedding(
    ...     1000, 8, mask_zero=False, row_optimizer=keras_embedx.optimizers.SGD(0.1)
    ... )
    >>> model = keras.Sequential([
    ...     keras.Input((4,), dtype="int32"),
    ...     layer,
    ...     keras.layers.GlobalAveragePooling1D(),
    ...     keras.layers.Dense(1),
    ... ])
    >>> model.compile(optimizer="adam", loss="mse")
    >>> before = layer.embeddings
    >>> _ = model.fit(np.array([[3, 5, 7, 3]]), np.ones((1, 1)), verbose=0)
    >>> int((layer.embeddings != before).any(axis=1).sum())
    3
    """

    def __init__(self, learning_rate=0.01, capacity=None, name=None):
        super().__init__(learning_rate, capacity=capacity, name=name)

    def update(self, rows, grads, state, learning_rate, step):
        return ops.subtract(rows, ops.multiply(learning_rate, grads)), {}
