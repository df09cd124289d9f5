"""Row-wise Adagrad."""

import keras
from keras import ops

from keras_embedx._checks import check_float
from keras_embedx.optimizers.base import RowOptimizer


@keras.saving.register_keras_serializable(package="keras_embedx")
class Adagrad(RowOptimizer):
    """Adagrad on the rows a batch touches, with one accumulator per value.

    Each touched row adds its squared gradient to its accumulator and
    moves by `-learning_rate * g / sqrt(accumulator + epsilon)`, as
    `keras.optimizers.Adagrad` does. A row a batch does not touch has a
    zero gradient, which changes neither the row nor its accumulator, so
    the row-wise form gives the dense optimizer's result.

    Args:
        learning_rate: float or a
            `keras.optimizers.schedules.LearningRateSchedule`. Defaults to
            `0.001`.
        initial_accumulator_value: float >= 0, the accumulators' starting
            value. Defaults to `0.1`.
        epsilon: float > 0 added inside the square root. Defaults to `1e-7`.
        capacity: int or None, the most distinct rows one step may touch
            (see `keras_embedx.optimizers.RowOptimizer`).
        name: str, a name for the optimizer.

    Example:

    >>> import keras_embedx
    >>> opt = keras_embedx.optimizers.Adagrad(0.05)
    >>> opt.initial_accumulator_value
    0.1

    Reference:
        - [Duchi et al., 2011](https://jmlr.org/papers/v12/duchi11a.html)
    """

    state_names = ("accumulator",)

    def __init__(
        self,
        learning_rate=0.001,
        initial_accumulator_value=0.1,
        epsilon=1e-7,
        capacity=None,
        name=None,
    ):
        super().__init__(learning_rate, capacity=capacity, name=name)
        value = check_float("initial_accumulator_value", initial_accumulator_value)
        epsilon = check_float("epsilon", epsilon)
        if value < 0 or epsilon <= 0:
            raise ValueError(
                "`initial_accumulator_value` must be >= 0 and `epsilon` > 0. "
                f"Received: initial_accumulator_value={value}, epsilon={epsilon}"
            )
        self.initial_accumulator_value = value
        self.epsilon = epsilon

    def initial_state(self, name):
        return self.initial_accumulator_value

    def update(self, rows, grads, state, learning_rate, step):
        acc = ops.add(state["accumulator"], ops.square(grads))
        step_size = ops.divide(
            ops.multiply(learning_rate, grads), ops.sqrt(ops.add(acc, self.epsilon))
        )
        return ops.subtract(rows, step_size), {"accumulator": acc}

    def _hyper(self):
        return {
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }
