"""The base class of keras_embedx's row-wise optimizers."""

import keras
from keras import ops

from keras_embedx._checks import check_float, check_int

# Distinct rows one step may update when nothing else tells the table.
DEFAULT_CAPACITY = 16_384


class RowOptimizer:
    """Base class of the row-wise optimizers a table's `row_optimizer` takes.

    A row optimizer holds hyperparameters only: the table that uses it
    keeps the per-row state (in its own variables, saved with the model)
    and asks `update` for the new values of the rows one step touched.
    The same instance may serve several tables.

    Args:
        learning_rate: float, or a
            `keras.optimizers.schedules.LearningRateSchedule` called with
            the number of updates the table has applied so far.
        capacity: int or None, the most distinct rows of the table one
            training step may touch (the size of the table's gradient
            buffer, `capacity x output_dim` floats). None: the number of
            ids in a batch when the layer sees a fully known input shape at
            build time, else 16,384 (never more than the table's rows). A
            step that touches more raises an error (eagerly) or gives NaN
            outputs and leaves the table unchanged (compiled).
        name: str, a name for the optimizer.
    """

    # Names of the per-row state arrays, each shaped like the table.
    state_names = ()

    def __init__(self, learning_rate=0.01, capacity=None, name=None):
        if isinstance(learning_rate, dict):
            learning_rate = keras.optimizers.schedules.deserialize(learning_rate)
        if not isinstance(
            learning_rate, keras.optimizers.schedules.LearningRateSchedule
        ):
            learning_rate = check_float("learning_rate", learning_rate)
            if learning_rate < 0:
                raise ValueError(
                    "`learning_rate` must be >= 0. Received: "
                    f"learning_rate={learning_rate}"
                )
        self.learning_rate = learning_rate
        self.capacity = None if capacity is None else check_int("capacity", capacity)
        self.name = name or type(self).__name__.lower()

    def learning_rate_at(self, step):
        """The learning rate (float32 tensor) of update number `step` (0-based)."""
        rate = self.learning_rate
        if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
            rate = rate(step)
        return ops.cast(rate, "float32")

    def initial_state(self, name):
        """The value every row's state `name` starts from."""
        return 0.0

    def update(self, rows, grads, state, learning_rate, step):
        """New values of touched rows and of their state.

        Args:
            rows: float32 tensor `[n, dim]`, the rows' current values.
            grads: float32 tensor `[n, dim]`, their gradients this step.
            state: dict name -> float32 tensor `[n, dim]` (`state_names`).
            learning_rate: float32 scalar tensor.
            step: int32 scalar tensor, updates applied before this one.

        Returns:
            `(new_rows, new_state)` of the same shapes.
        """
        raise NotImplementedError

    def _hyper(self):
        return {}

    def get_config(self):
        rate = self.learning_rate
        if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
            rate = keras.optimizers.schedules.serialize(rate)
        return {
            "learning_rate": rate,
            "capacity": self.capacity,
            "name": self.name,
            **self._hyper(),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({self.get_config()!r})"
