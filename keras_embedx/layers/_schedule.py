"""Which rows train, and how fast the frozen rows learn.

A table with both frozen and trainable rows keeps, in `row_index` (int32),
each row's slot in `trainable_table`, or a negative number for a frozen row
(`slots`). With `schedulable=True` the frozen rows also learn, at a rate set
by the non-trainable scalar `unfreeze_factor` (f, 0 by default). While
f == 0 a frozen row reads its stored value; while f > 0 it reads

    f * frozen_live

where `frozen_live` is a trainable float32 variable holding the row's value
divided by f, and the row's full gradient reaches `frozen_live` unscaled
(`scaled_rows`). The optimizer therefore computes the same update for
`frozen_live` as for a fully trainable row, and the row moves by f times
that update: f is a per-row learning-rate multiplier for every optimizer,
Adam and RMSprop included. Decoupled weight decay shrinks the row at the
full rate. `set_factor` rescales `frozen_live` (`live *= f_old / f_new`) so
the table does not jump, and when the factor returns to 0 it stores what
the rows learned back into `frozen_table`, or, for lossy storage, into a
non-trainable float32 `frozen_offset` (read as stored rows + offset), so
that it is not rounded away.
"""

import numpy as np
from keras import ops

from keras_embedx.layers._fast import (
    quiet_frozen_live_without_gradient,
    take_rows,
    torch_eager,
    torch_exporting,
)
from keras_embedx.layers._storage import codec

# Frozen rows' positions read (and send a zero gradient to) this many
# trainable rows at most; see `slots`.
FROZEN_SPREAD = 1024


def slots(trainable_mask):
    """`row_index` values: each trainable row's slot, negative if frozen.

    A frozen row stores `-1 - (row % m)`, `m` being the number of trainable
    rows or `FROZEN_SPREAD`, whichever is fewer: outside JAX a compiled
    lookup reads slot `-1 - s` at a frozen position (and discards it), which
    spreads those zero gradients over up to 1024 rows. Tables saved with -1
    everywhere send them all to row 0, with the same result.
    """
    trainable_mask = np.asarray(trainable_mask, dtype=bool)
    spread = min(max(int(trainable_mask.sum()), 1), FROZEN_SPREAD)
    rows = np.arange(len(trainable_mask))
    out = -1 - rows % spread
    out[trainable_mask] = np.arange(int(trainable_mask.sum()))
    return out.astype("int32")


def frozen_mask(table):
    """Bool NumPy array `[num_rows]`: which rows of `table` are frozen."""
    if not table.num_frozen:
        return np.zeros(table.num_rows, dtype=bool)
    if not table.num_trainable:
        return np.ones(table.num_rows, dtype=bool)
    return row_slots(table) < 0


def row_slots(table):
    return ops.convert_to_numpy(table.row_index)[: table.num_rows]


def scaled_rows(rows, factor):
    """Value exactly `factor * rows`; the gradient reaches `rows` unscaled.

    The optimizer then updates the variable behind `rows` as it would a
    fully trainable one, and the value moves by `factor` times that update.
    A custom gradient, so that XLA can fuse the product into the gather.
    """
    return _scaled(rows, ops.convert_to_tensor(factor))


@ops.custom_gradient
def _scaled(rows, factor):
    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        return upstream, ops.zeros_like(factor)

    return rows * factor, grad


def has_offset(table):
    """Whether `table` keeps what its frozen rows learned in `frozen_offset`."""
    return table.schedulable and codec(table.storage_dtype).lossy


def create(table, rows, width, trainable):
    """The schedule's variables: `unfreeze_factor`, and for a schedulable
    table `frozen_live` (trainable unless a row optimizer trains it) and,
    with lossy storage, `frozen_offset`."""
    table.unfreeze_factor = table._weight("unfreeze_factor", ())
    if table.schedulable:
        table.frozen_live = table._weight(
            "frozen_live", (rows, width), trainable=trainable
        )
        if trainable:
            # PyTorch reads it only while the factor is above 0.
            quiet_frozen_live_without_gradient()
        if has_offset(table):
            table.frozen_offset = table._weight("frozen_offset", (rows, width))


def reset(table):
    """After new stored rows: no learned offset, and `frozen_live` in step."""
    if not table.schedulable:
        return
    if has_offset(table):
        table.frozen_offset.assign(np.zeros(table.frozen_offset.shape, "float32"))
    f = factor(table)
    # The stored rows, divided by the factor while it is above 0.
    table.frozen_live.assign(
        stored_values(table) / f
        if f > 0
        else ops.zeros(table.frozen_live.shape, "float32")
    )


def factor(table):
    """How fast `table`'s frozen rows learn now: 0 (frozen) to 1 (full rate)."""
    if not table.num_frozen:
        return 1.0
    return float(ops.convert_to_numpy(table.unfreeze_factor))


def set_factor(table, value):
    """Set how fast the frozen rows learn, carrying their values over."""
    old = factor(table)
    if value == old:
        return
    if table.schedulable:
        values = frozen_values(table)
        if value > 0:
            table.frozen_live.assign(values / value)
        elif has_offset(table):
            stored = stored_values(table, with_offset=False)
            table.frozen_offset.assign(values - stored)
        else:
            table.frozen_table.assign(values)
    table.unfreeze_factor.assign(value)


def stored_rows(table, ids):
    """Float32 stored frozen rows of in-range ids, with their learned offset."""
    rows = codec(table.storage_dtype).read_rows(table, ids)
    if has_offset(table):
        rows = rows + take_rows(table.frozen_offset, ids)
    return rows


def stored_values(table, with_offset=True):
    """Float32 tensor of every stored frozen row (padding rows included)."""
    values = codec(table.storage_dtype).read_all(table)
    if with_offset and has_offset(table):
        values = values + table.frozen_offset
    return values


def frozen_values(table):
    """Float32 tensor of what every frozen row reads now (padding included)."""
    if table.schedulable and factor(table) > 0:
        return ops.multiply(table.unfreeze_factor, table.frozen_live)
    return stored_values(table)


def frozen_rows(table, ids):
    """What the frozen rows of in-range ids read: one gather either way.

    The stored rows while the factor is 0 (no gradient can reach them), the
    live rows scaled by the factor while it is above 0.
    """
    if not table.schedulable:
        return stored_rows(table, ids)
    f = table.unfreeze_factor

    def learning():
        return scaled_rows(take_rows(table.frozen_live, ids), f)

    def stored():
        return stored_rows(table, ids)

    if torch_eager():
        return learning() if factor(table) > 0 else stored()
    if torch_exporting():
        # A Python branch on the factor's value would be baked into the
        # exported graph: gather both and select, which gives the same rows.
        return ops.where(ops.greater(f, 0), learning(), stored_rows(table, ids))
    return ops.cond(ops.greater(f, 0), learning, stored)


def check_factor(table, value):
    """`value` as a float in [0, 1] that `table` can take, or a `ValueError`."""
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"The factor must lie in [0, 1]. Received: {value}")
    if value > 0 and table.num_frozen and not table.schedulable:
        raise ValueError(
            f"Table {table.path!r} keeps its frozen rows in a non-trainable "
            "variable, so they cannot learn. Build the layer with "
            "`schedulable=True` to schedule their learning rate."
        )
    return value
