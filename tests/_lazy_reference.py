"""NumPy references of row-wise ("lazy") SGD, Adagrad and Adam/AdamW.

Independent of keras_embedx: the row-sparse training tests compare the
layers' tables with these. Each optimizer keeps its state for a whole
`[rows, dim]` table and `step(table, ids, grad)` applies one training step:
`ids` are the ids of the batch (any shape, repeats allowed), `grad` is the
dense `[rows, dim]` gradient of the loss with respect to the table (the sum
of the contributions of every position, as the backward pass of a gather
gives it). Only the rows in `np.unique(ids)` change, in the table and in the
optimizer state; every other row, and its state, stays bit-identical.

Which definitions, and where from:

- Lazy Adam is TensorFlow's: `tf.contrib.opt.LazyAdamOptimizer` (TF 1.x,
  documented at tensorflow.org/versions/r1.15/api_docs/python/tf/contrib/opt/
  LazyAdamOptimizer) and its TF 2 successor `tfa.optimizers.LazyAdam`
  (tensorflow/addons, `tensorflow_addons/optimizers/lazy_adam.py`,
  `_resource_apply_sparse`). Per step, with `t` the optimizer's *global*
  step count (1 at the first step, counted over every step whether or not a
  row was touched) and `lr` the learning rate at step `t - 1` (a schedule is
  evaluated at the number of steps already taken, as Keras' optimizers do),
  for the rows `r` in the batch only:

      m[r] = beta_1 * m[r] + (1 - beta_1) * g[r]
      v[r] = beta_2 * v[r] + (1 - beta_2) * g[r] ** 2
      alpha = lr * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
      table[r] -= alpha * m[r] / (sqrt(v[r]) + epsilon)

  `epsilon` is "epsilon hat" of Kingma & Ba (2014, just before section
  2.1), outside the square root and not bias-corrected, as in Keras' `Adam`
  and TF's LazyAdam. Repeated ids of a batch are summed into one gradient
  per row before the update (TF's optimizers de-duplicate `IndexedSlices`
  by summing, `_deduplicate_indexed_slices`). PyTorch's `SparseAdam` uses
  the same moments and bias correction (its step count also advances once
  per step of the whole table), and also only for the rows in the gradient.
  The moments of rows not in the batch are not decayed, which is where lazy
  Adam departs from Adam; on a step where every row is in the batch the two
  agree exactly.
- Weight decay is decoupled (AdamW, Loshchilov & Hutter 2019), applied as
  Keras' `AdamW` applies it, before the Adam update and at the same
  learning rate `lr`: `table[r] -= table[r] * weight_decay * lr`; lazily,
  that is only to the rows in the batch (rows not in the batch do not
  shrink).
- Adagrad is Keras' `keras.optimizers.Adagrad` (accumulator initialised to
  `initial_accumulator_value`, then `acc[r] += g[r] ** 2; table[r] -= lr *
  g[r] / sqrt(acc[r] + epsilon)`). A row with a zero gradient changes
  neither its accumulator nor its value, so row-wise Adagrad equals dense
  Adagrad exactly; so does row-wise SGD (`table[r] -= lr * g[r]`).

Arithmetic is float64 throughout; the tables the tests compare are float32.
"""

import numpy as np


def learning_rate_at(learning_rate, step):
    """The learning rate of the step that follows `step` completed steps.

    `learning_rate` is a float or a `keras.optimizers.schedules`
    `LearningRateSchedule` (any callable of the step count), which Keras'
    optimizers evaluate at their `iterations` before the update: 0 for the
    first step.
    """
    if callable(learning_rate):
        from keras import ops  # the schedule's own arithmetic

        return float(ops.convert_to_numpy(learning_rate(step)))
    return float(learning_rate)


class _RowOptimizer:
    """The state every reference keeps: the step count and touched rows."""

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate
        self.iterations = 0

    def step(self, table, ids, grad):
        """`table` after one step: only the rows `np.unique(ids)` change."""
        table = np.array(table, dtype=np.float64)
        grad = np.asarray(grad, dtype=np.float64)
        if grad.shape != table.shape:
            raise ValueError(
                f"`grad` must have the table's shape {table.shape}. "
                f"Received: {grad.shape}"
            )
        rows = np.unique(np.asarray(ids).reshape(-1))
        lr = learning_rate_at(self.learning_rate, self.iterations)
        self.iterations += 1
        table[rows] = self._update(table, rows, grad[rows], lr)
        return table

    def _update(self, table, rows, g, lr):
        raise NotImplementedError


class SGD(_RowOptimizer):
    """Row-wise SGD: `table[r] -= lr * g[r]` (equal to dense SGD)."""

    def _update(self, table, rows, g, lr):
        return table[rows] - lr * g


class Adagrad(_RowOptimizer):
    """Row-wise Adagrad with Keras' `Adagrad` formula (equal to dense Adagrad)."""

    def __init__(self, learning_rate, initial_accumulator_value=0.1, epsilon=1e-7):
        super().__init__(learning_rate)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon
        self.accumulator = None

    def _update(self, table, rows, g, lr):
        if self.accumulator is None:
            self.accumulator = np.full(table.shape, self.initial_accumulator_value)
        self.accumulator[rows] += g * g
        return table[rows] - lr * g / np.sqrt(self.accumulator[rows] + self.epsilon)


class LazyAdam(_RowOptimizer):
    """Lazy Adam (TF's LazyAdam), with optional decoupled weight decay."""

    def __init__(
        self,
        learning_rate,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        weight_decay=0.0,
    ):
        super().__init__(learning_rate)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.weight_decay = weight_decay
        self.m = None
        self.v = None

    def _update(self, table, rows, g, lr):
        if self.m is None:
            self.m = np.zeros(table.shape)
            self.v = np.zeros(table.shape)
        t = self.iterations  # already advanced: 1 at the first step
        value = table[rows]
        if self.weight_decay:
            value = value - value * self.weight_decay * lr
        self.m[rows] = self.beta_1 * self.m[rows] + (1 - self.beta_1) * g
        self.v[rows] = self.beta_2 * self.v[rows] + (1 - self.beta_2) * g * g
        alpha = lr * np.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        return value - alpha * self.m[rows] / (np.sqrt(self.v[rows]) + self.epsilon)


class PooledRegression:
    """NumPy forward and backward of `table -> mean over the sequence -> Dense(1)`.

    The model the row-sparse tests train: ids `[batch, seq]` (no masking),
    `GlobalAveragePooling1D`, `Dense(1)` with kernel `w` `[dim, 1]` and bias
    `b` `[1]`, mean squared error. `step` trains the table with a row
    optimizer above and the head with plain SGD at `head_learning_rate`
    (a float or a schedule), both from the gradients of the same forward
    pass, as one `fit` step does.
    """

    def __init__(self, table, kernel, bias, row_optimizer, head_learning_rate):
        self.table = np.array(table, dtype=np.float64)
        self.kernel = np.array(kernel, dtype=np.float64).reshape(-1, 1)
        self.bias = np.array(bias, dtype=np.float64).reshape(1)
        self.row_optimizer = row_optimizer
        self.head_learning_rate = head_learning_rate
        self.iterations = 0

    def gradients(self, ids, y):
        """`(table_grad, kernel_grad, bias_grad)` of the mean squared error."""
        ids = np.asarray(ids)
        batch, seq = ids.shape
        pooled = self.table[ids].mean(axis=1)  # [batch, dim]
        pred = pooled @ self.kernel + self.bias  # [batch, 1]
        dpred = 2.0 * (pred - np.asarray(y, np.float64).reshape(batch, 1)) / batch
        table_grad = np.zeros_like(self.table)
        per_position = np.repeat(dpred @ self.kernel.T / seq, seq, axis=0)
        np.add.at(table_grad, ids.reshape(-1), per_position)
        return table_grad, pooled.T @ dpred, dpred.sum(axis=0)

    def step(self, ids, y):
        table_grad, kernel_grad, bias_grad = self.gradients(ids, y)
        lr = learning_rate_at(self.head_learning_rate, self.iterations)
        self.iterations += 1
        self.table = self.row_optimizer.step(self.table, ids, table_grad)
        self.kernel = self.kernel - lr * kernel_grad
        self.bias = self.bias - lr * bias_grad

    def fit(self, x, y, batch_size):
        """`step` over consecutive batches, as `fit(..., shuffle=False)`."""
        for start in range(0, len(x), batch_size):
            self.step(x[start : start + batch_size], y[start : start + batch_size])
        return self.table
