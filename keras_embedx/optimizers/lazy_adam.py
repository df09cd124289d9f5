"""Lazy Adam (with optional decoupled weight decay) on touched rows."""

import keras
from keras import ops

from keras_embedx._checks import check_float
from keras_embedx.optimizers.base import RowOptimizer


@keras.saving.register_keras_serializable(package="keras_embedx")
class LazyAdam(RowOptimizer):
    """Adam whose moments and weight decay move only for touched rows.

    For each row a batch touches, at update number `t` (1-based, counted
    per table):

    - `row -= learning_rate * weight_decay * row` (decoupled decay as in
      AdamW, skipped when `weight_decay` is 0),
    - `m = beta_1 * m + (1 - beta_1) * g`, `v = beta_2 * v + (1 - beta_2) * g**2`,
    - `row -= learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m /
      (sqrt(v) + epsilon)`.

    Rows a batch does not touch keep their value and their moments, where
    dense Adam would decay their moments and keep moving them on momentum
    alone; this is the "lazy" Adam of TensorFlow 1 and PyTorch's
    `SparseAdam`. For rare words it means an update only when they occur,
    which usually trains embeddings as well as dense Adam at a fraction of
    the cost.

    Args:
        learning_rate: float or a
            `keras.optimizers.schedules.LearningRateSchedule`. Defaults to
            `0.001`.
        beta_1: float in [0, 1), decay of the first moment. Defaults to `0.9`.
        beta_2: float in [0, 1), decay of the second moment. Defaults to
            `0.999`.
        epsilon: float > 0, added to the denominator. Defaults to `1e-7`.
        weight_decay: float >= 0, decoupled weight decay of touched rows.
            Defaults to `0.0`.
        capacity: int or None, the most distinct rows one step may touch
            (see `keras_embedx.optimizers.RowOptimizer`).
        name: str, a name for the optimizer.

    Example:

    >>> import keras_embedx
    >>> opt = keras_embedx.optimizers.LazyAdam(1e-3, weight_decay=0.01)
    >>> opt.beta_2
    0.999

    Reference:
        - [Kingma and Ba, 2015](https://arxiv.org/abs/1412.6980)
        - [Loshchilov and Hutter, 2019](https://arxiv.org/abs/1711.05101)
    """

    state_names = ("m", "v")

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        weight_decay=0.0,
        capacity=None,
        name=None,
    ):
        super().__init__(learning_rate, capacity=capacity, name=name)
        values = {
            "beta_1": check_float("beta_1", beta_1),
            "beta_2": check_float("beta_2", beta_2),
            "epsilon": check_float("epsilon", epsilon),
            "weight_decay": check_float("weight_decay", weight_decay),
        }
        for key in ("beta_1", "beta_2"):
            if not 0.0 <= values[key] < 1.0:
                raise ValueError(
                    f"`{key}` must lie in [0, 1). Received: {key}={values[key]}"
                )
        if values["epsilon"] <= 0 or values["weight_decay"] < 0:
            raise ValueError(
                "`epsilon` must be > 0 and `weight_decay` >= 0. Received: "
                f"epsilon={values['epsilon']}, weight_decay={values['weight_decay']}"
            )
        self.beta_1 = values["beta_1"]
        self.beta_2 = values["beta_2"]
        self.epsilon = values["epsilon"]
        self.weight_decay = values["weight_decay"]

    def update(self, rows, grads, state, learning_rate, step):
        t = ops.cast(ops.add(step, 1), "float32")
        if self.weight_decay:
            rows = ops.subtract(
                rows, ops.multiply(rows, learning_rate * self.weight_decay)
            )
        m = ops.add(
            ops.multiply(state["m"], self.beta_1),
            ops.multiply(grads, 1.0 - self.beta_1),
        )
        v = ops.add(
            ops.multiply(state["v"], self.beta_2),
            ops.multiply(ops.square(grads), 1.0 - self.beta_2),
        )
        alpha = ops.divide(
            ops.multiply(learning_rate, ops.sqrt(1.0 - ops.power(self.beta_2, t))),
            1.0 - ops.power(self.beta_1, t),
        )
        step_size = ops.divide(
            ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon)
        )
        return ops.subtract(rows, step_size), {"m": m, "v": v}

    def _hyper(self):
        return {
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "weight_decay": self.weight_decay,
        }
