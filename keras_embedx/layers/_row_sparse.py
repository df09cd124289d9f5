"""Row-sparse training of an `EmbeddingTable` with a row-wise optimizer.

With `row_optimizer` set, the table's row variables (`trainable_table`,
and `frozen_live` of a schedulable table) are non-trainable for Keras: the
model's optimizer never sees them and no backend builds a dense
`[rows, dim]` gradient. Each such variable ("param") gets instead:

- `<param>_grad`: a trainable `[capacity, dim]` buffer created with
  `overwrite_with_gradient=True`, so the model's optimizer step writes the
  buffer's gradient into it instead of updating it;
- `<param>_ids`: int32 `[capacity]`, the param rows the buffer's entries
  stand for (sorted, -1 for unused entries);
- one `[rows, dim]` array per optimizer state (`<param>_<state>`).

A training call first commits the pending update (the rows recorded by the
previous training call, their gradient now in the buffer) with a scatter
into those rows only, then finds the distinct rows of its own batch (a sort
of the ids: static shapes, so it runs under every compiler), gathers them,
and lets the gradient of every looked-up position reach the buffer entry of
its row (`_through`). Calls outside training commit too, so whatever reads
the table through the layer sees the update; eager reads (`full_table`,
saving) commit first through `flush`.
"""

import inspect

import keras
from keras import ops

from keras_embedx.layers._fast import take_rows, torch_eager
from keras_embedx.layers._row_scatter import assign_rows
from keras_embedx.layers._schedule import scaled_rows, stored_rows
from keras_embedx.optimizers.base import DEFAULT_CAPACITY


@ops.custom_gradient
def _through(rows, buffer_rows, keep):
    """Value `rows`; the gradient at kept positions reaches `buffer_rows`."""

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        zero = ops.zeros_like(upstream)
        return zero, ops.where(keep, upstream, zero), None

    return rows, grad


def distinct_rows(index, capacity, sentinel):
    """Distinct non-negative entries of a 1-D int `index`, in a fixed-size array.

    Returns:
        `(ids, inverse, count)`: int32 `[capacity]` sorted distinct entries
        (-1 after the last), int32 `[n]` position of each entry's row in
        `ids` (meaningless for negative entries), and how many distinct
        entries there are (more than `capacity` means some did not fit).
    """
    # Sorts and gathers only: every backend compiles them with static
    # shapes (a scatter is a Python loop over the ids on PyTorch).
    index = ops.cast(index, "int32")
    flat = ops.where(ops.less(index, 0), sentinel, index)
    order = ops.argsort(flat)
    ordered = ops.take(flat, order)
    new = ops.concatenate(
        [ops.ones((1,), "bool"), ops.not_equal(ordered[1:], ordered[:-1])]
    )
    first = ops.logical_and(new, ops.not_equal(ordered, sentinel))
    rank = ops.subtract(ops.cumsum(ops.cast(first, "int32")), 1)
    count = ops.sum(ops.cast(first, "int32"))
    # The first entry of each row sorts by its rank, the rest after them;
    # `capacity` entries of padding keep the result `capacity` long.
    n = ops.shape(flat)[0]
    key = ops.concatenate(
        [
            ops.where(first, rank, capacity + ops.arange(n, dtype="int32")),
            capacity + n + ops.arange(capacity, dtype="int32"),
        ]
    )
    picked = ops.argsort(key)[:capacity]
    padded = ops.concatenate([ordered, ops.full((capacity,), -1, "int32")])
    ids = ops.where(
        ops.less(ops.arange(capacity, dtype="int32"), count),
        ops.take(padded, picked),
        -1,
    )
    inverse = ops.take(
        ops.minimum(ops.maximum(rank, 0), capacity - 1), ops.argsort(order)
    )
    return ops.cast(ids, "int32"), ops.cast(inverse, "int32"), count


def check_row_optimizer(row_optimizer, regularizer, constraint):
    """The table's row optimizer (None or a `RowOptimizer`), checked."""
    from keras_embedx import optimizers

    row_optimizer = optimizers.get(row_optimizer)
    if row_optimizer is not None and (
        regularizer is not None or constraint is not None
    ):
        raise ValueError(
            "A table trained by a row optimizer updates only the rows a batch "
            "touches, so a regularizer or constraint over the whole table "
            "cannot apply. Received: "
            f"embeddings_regularizer={regularizer!r}, "
            f"embeddings_constraint={constraint!r} with "
            f"row_optimizer={row_optimizer!r}"
        )
    return row_optimizer


def serialize_row_optimizer(row_optimizer):
    from keras_embedx import optimizers

    return optimizers.serialize(row_optimizer)


def make_row_sparse(table):
    """The `RowSparse` state of a table being built, or None."""
    if table.row_optimizer is None:
        return None
    params = {}
    if table.num_trainable:
        params["table"] = table.trainable_table
    if table.num_frozen and table.schedulable:
        params["live"] = table.frozen_live
    if not params:
        return None
    return RowSparse(table, table.row_optimizer, params)


def _is_symbolic(x):
    return keras.backend.is_keras_tensor(x)


def _eager():
    """True when ops run on values one by one (no trace to break)."""
    if keras.config.backend() == "torch":
        return torch_eager()
    if keras.config.backend() == "tensorflow":
        import tensorflow as tf  # backend check, imported only on TensorFlow

        return tf.executing_eagerly()
    return False  # JAX's `fit` traces; an eager JAX call reads the flag later


def _compiling_torch():
    if keras.config.backend() != "torch":
        return False
    import torch  # backend check, imported only on PyTorch

    return torch.compiler.is_compiling()


def _model_optimizer():
    """The optimizer of the model whose training step is running, or None."""
    frame = inspect.currentframe()
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, keras.Model) and frame.f_code.co_name == "train_step":
            return getattr(owner, "optimizer", None)
        frame = frame.f_back
    return None


def check_model_optimizer(optimizer, table):
    """Refuse model optimizers whose step does not hand over plain gradients."""
    if optimizer is None:
        return
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        raise ValueError(
            f"Table {table.path!r} trains with a row optimizer, which needs the "
            "model's optimizer to pass every step's gradient on; a "
            "LossScaleOptimizer (used with the 'mixed_float16' policy) skips "
            "steps whose scaled gradients overflow. Use the "
            "'mixed_bfloat16' policy (no loss scaling) or row_optimizer=None. "
            f"Received: optimizer={type(optimizer).__name__}"
        )
    steps = getattr(optimizer, "gradient_accumulation_steps", None)
    scale = getattr(optimizer, "loss_scale_factor", None)
    if steps or scale:
        raise ValueError(
            f"Table {table.path!r} trains with a row optimizer, which applies "
            "each step's gradient as it comes; the model's optimizer has "
            f"gradient_accumulation_steps={steps}, loss_scale_factor={scale}. "
            "Compile with an optimizer without them, or use row_optimizer=None."
        )


class RowSparse:
    """The row-sparse state of one `EmbeddingTable` (see the module docstring)."""

    def __init__(self, table, optimizer, params, capacity=None):
        self.table = table
        self.optimizer = optimizer
        rows = max(int(p.shape[0]) for p in params.values())
        capacity = optimizer.capacity or capacity or DEFAULT_CAPACITY
        self.capacity = int(min(capacity, rows))
        self.params = {}
        dim = table.output_dim
        for name, variable in params.items():
            state = {
                key: table._weight(
                    f"{name}_{key}",
                    tuple(variable.shape),
                    initializer=keras.initializers.Constant(
                        optimizer.initial_state(key)
                    ),
                )
                for key in optimizer.state_names
            }
            self.params[name] = {
                "variable": variable,
                "buffer": table._weight(
                    f"{name}_grad",
                    (self.capacity, dim),
                    trainable=True,
                    overwrite_with_gradient=True,
                ),
                "ids": table._weight(
                    f"{name}_ids",
                    (self.capacity,),
                    dtype="int32",
                    initializer=keras.initializers.Constant(-1),
                ),
                "state": state,
            }
        self.step = table._weight("row_step", (), dtype="int32")
        self.pending = table._weight("row_pending", (), dtype="int32")
        self.overflow = table._weight("row_overflow", (), dtype="int32")
        self._checked = None

    def logical_rows(self, variable):
        """Rows of `variable` to save (without distribution padding), or None."""
        rows = {"table": self.table.num_trainable, "live": self.table.num_rows}
        for name, param in self.params.items():
            if any(variable is v for v in param["state"].values()):
                return rows[name]
        return None

    def trainable(self):
        """Whether the model's optimizer fills the gradient buffers."""
        return all(p["buffer"].trainable for p in self.params.values())

    # ------------------------------------------------------------ commit
    def flush(self):
        """Commit the pending update now (eager reads, saving)."""
        self.check_overflow()
        if int(ops.convert_to_numpy(self.pending)):
            self.commit()

    def check_overflow(self):
        seen = int(ops.convert_to_numpy(self.overflow))
        if seen:
            self.overflow.assign(0)
            raise self._overflow_error(seen)

    def _overflow_error(self, count):
        return ValueError(
            f"A training step of table {self.table.path!r} touched {count} "
            f"distinct rows, more than its row optimizer's capacity of "
            f"{self.capacity}; that step left the table unchanged and gave NaN "
            "outputs. Pass a larger `capacity` to the row optimizer (at most "
            "the number of ids in a batch is ever needed)."
        )

    def commit(self):
        """Apply the update the last training call recorded, if any."""
        if torch_eager() and not int(ops.convert_to_numpy(self.pending)):
            return
        on = ops.greater(self.pending, 0)
        step = ops.convert_to_tensor(self.step)
        rate = self.optimizer.learning_rate_at(step)
        eager = torch_eager()
        for param in self.params.values():
            ids = ops.convert_to_tensor(param["ids"])
            if eager and int(ops.convert_to_numpy(ids[0])) < 0:
                continue  # no row of this param was touched
            # Unused entries (-1) repeat entry 0: its row, its gradient and
            # state, so they compute the same new values and duplicate
            # writes carry identical values.
            entry = ops.where(
                ops.greater_equal(ids, 0), ops.arange(self.capacity, dtype="int32"), 0
            )
            index = ops.maximum(ops.take(ids, entry), 0)
            old = take_rows(param["variable"], index)
            buffer = ops.stop_gradient(ops.convert_to_tensor(param["buffer"]))
            grads = take_rows(buffer, entry)
            state = {k: take_rows(v, index) for k, v in param["state"].items()}
            new, new_state = self.optimizer.update(old, grads, state, rate, step)
            if not eager:
                # Compiled: nothing pending, or no row touched, writes the
                # old values back.
                go = ops.logical_and(on, ops.greater_equal(ids[0], 0))
                new = ops.where(go, new, old)
                new_state = {k: ops.where(go, new_state[k], state[k]) for k in state}
            assign_rows(param["variable"], index, new)
            for key, variable in param["state"].items():
                assign_rows(variable, index, new_state[key])
        self.step.assign(ops.add(step, ops.cast(on, "int32")))
        self.pending.assign(0)

    # ------------------------------------------------------------ lookup
    def take(self, name, index, training):
        """Rows `param[index]` (any values where `index < 0`).

        In a training call, the gradient of each position with
        `index >= 0` reaches the buffer entry of its row.
        """
        param = self.params[name]
        rows = take_rows(param["variable"], ops.maximum(index, 0))
        if not training or _is_symbolic(index):
            return rows
        flat = ops.reshape(index, (-1,))
        sentinel = int(param["variable"].shape[0])
        ids, inverse, count = distinct_rows(flat, self.capacity, sentinel)
        buffer_rows = take_rows(param["buffer"], ops.reshape(inverse, ops.shape(index)))
        keep = ops.expand_dims(ops.greater_equal(index, 0), -1)
        param["ids"].assign(ids)
        self._counts.append(count)
        return _through(rows, buffer_rows, keep)

    def begin(self, ids, training):
        """Start a call: commit what is pending, check the model's optimizer."""
        self._counts = []
        if _is_symbolic(ids):
            return
        if training and not (self._checked and _compiling_torch()):
            # Under `torch.compile` the frame walk breaks the graph: the first
            # step checks, later traces trust it.
            optimizer = _model_optimizer()
            if optimizer is not None and self._checked is not optimizer:
                check_model_optimizer(optimizer, self.table)
                self._checked = optimizer
            if torch_eager():
                self.check_overflow()
        self.commit()

    def end(self, out, training):
        """Finish a training call: mark the update pending, or NaN on overflow."""
        if not self._counts:
            return out
        count = self._counts[0]
        for other in self._counts[1:]:
            count = ops.maximum(count, other)
        self._counts = []
        over = ops.greater(count, self.capacity)
        if _eager() and bool(ops.convert_to_numpy(over)):
            raise self._overflow_error(int(ops.convert_to_numpy(count)))
        # int32 operands, not Python ints: JAX would store a weakly typed
        # value and compile the training step once more.
        self.pending.assign(ops.cast(ops.logical_not(over), "int32"))
        self.overflow.assign(ops.where(over, count, self.overflow.value))
        return ops.where(over, ops.cast(float("nan"), out.dtype), out)


def sparse_rows(table, ids, training):
    """`table`'s rows of in-range int ids, trained row-sparsely in training."""
    state = table._row_sparse
    training = bool(training) and state.trainable()
    state.begin(ids, training)
    slots = None
    if table.is_mixed:
        slots = take_rows(table.row_index, ids)
    out = None
    if table.num_trainable:
        out = state.take("table", ids if slots is None else slots, training)
    if table.num_frozen:
        frozen = stored_rows(table, ids)
        if table.schedulable:
            factor = table.unfreeze_factor
            learning = ops.greater(factor, 0)
            index = ops.where(learning, ids, -1)
            if slots is not None:
                index = ops.where(ops.less(slots, 0), index, -1)
            live = scaled_rows(state.take("live", index, training), factor)
            frozen = ops.where(learning, live, frozen)
        if out is None:
            out = frozen
        else:
            out = ops.where(ops.expand_dims(ops.less(slots, 0), -1), frozen, out)
    return state.end(out, training)
