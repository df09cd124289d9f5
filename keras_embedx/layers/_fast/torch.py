"""PyTorch fast paths of the table lookup (imported only on PyTorch).

Eager PyTorch pays Keras' Python work for every op, so the lookup here is
written with few ops on plain tensors.
"""

import warnings

import keras
import torch
from keras import ops

# Attribute of a table holding the state of its merged copy (see
# `merged_frozen`); it lives and dies with the table.
_MERGED = "_merged_copy"


def tensor(x, device=None):
    """`x` as a torch tensor (on `device` if given), with the least work.

    A variable's value or a tensor already on the right device needs none
    of `keras.ops.convert_to_tensor`'s Python work.
    """
    if isinstance(x, keras.Variable):
        return x.value
    if isinstance(x, torch.Tensor):
        return x if device is None or x.device == device else x.to(device)
    return ops.convert_to_tensor(x)


def eager():
    return not (torch.compiler.is_compiling() or torch.jit.is_tracing())


def exporting():
    return torch.compiler.is_exporting() or torch.jit.is_tracing()


def take_rows(table, ids):
    """`table[ids]` for in-range ids: `embedding` (or `index_select`)."""
    table = tensor(table)
    ids = tensor(ids, device=table.device)
    if len(table.shape) == 2 and table.is_floating_point():
        return torch.nn.functional.embedding(ids, table)
    rows = table.index_select(0, ids.reshape(-1))
    return rows.reshape(*ids.shape, *table.shape[1:])


def remap_in_range(ids, num_rows, oov_id):
    """Eager ids with those outside `[0, num_rows)` replaced by `oov_id`.

    Three kernels; on a CPU one reduction first tells whether any id needs
    them (ids are nearly always in range). On an accelerator that answer
    would wait for the device, so the rewrite runs unconditionally.
    """
    ids = tensor(ids)
    if ids.device.type == "cpu" and ids.numel():
        low, high = torch.aminmax(ids)
        if low.item() >= 0 and high.item() < num_rows:
            return ids
    return ids.masked_fill(ids.clamp(0, num_rows - 1) != ids, oov_id)


_ONLY_FROZEN_LIVE = (
    r"Gradients do not exist for variables "
    r"\[('[^']*/frozen_live', )*'[^']*/frozen_live'\] when minimizing"
)


def quiet_frozen_live_without_gradient():
    warnings.filterwarnings("ignore", message=_ONLY_FROZEN_LIVE, category=UserWarning)


def mixed_rows(table, ids, frozen_rows):
    """Rows of a table with frozen and trainable rows, on eager PyTorch.

    Without gradients, one gather from the merged copy when there is one
    (`merged_frozen`). Otherwise the frozen rows (`frozen_rows(flat_ids)`)
    for every position, then the trainable rows written over the positions
    of trainable rows (a differentiable `index_copy_`; a full-size `where`
    costs more than the gather). Flat 1-D indexing keeps each step one
    kernel.
    """
    if torch.is_grad_enabled():
        # A step may follow that changes the trainable rows.
        table.__dict__.pop(_MERGED, None)
    else:
        merged = merged_frozen(table)
        if merged is not None:
            return torch.nn.functional.embedding(tensor(ids, merged.device), merged)
    ids = tensor(ids, device=table.row_index.value.device)
    flat = ids.reshape(-1)
    # `out` is fresh and flat: an in-place write to a view of it would
    # make the backward pass copy the whole output again.
    out = frozen_rows(flat)
    slots = take_rows(table.row_index, flat)
    positions = torch.nonzero(slots >= 0).reshape(-1)
    rows = take_rows(table.trainable_table, slots.index_select(0, positions))
    out = out.index_copy_(0, positions, rows)
    return out.reshape(*ids.shape, out.shape[-1])


def merged_frozen(table):
    """`frozen_table` with the trainable rows copied into their entries, or None.

    The entries of trainable rows in a float32 `frozen_table` are never
    read as those rows' values, so they can hold a copy of the trainable
    rows, and a lookup without gradients is then one gather, as in
    `keras.layers.Embedding`, without a second copy of the table. The
    table keeps, on itself, which tensors its copy was taken from and
    whether it is current. It stops being current when a call records
    gradients (an optimizer step may follow) and when the table's own
    methods write its variables (`forget_merged`); while the trainable rows
    hold a gradient (an optimizer may step at any time), the copy is
    refreshed on every call.

    Returns None where no copy can be kept: low-precision storage, rows
    trained by a row optimizer, frozen rows that learn (factor above 0),
    tensors a `keras.StatelessScope` supplies (a lookup must not write to
    them) and tensors made under `torch.inference_mode`.
    """
    if table.storage_dtype != "float32" or table._row_sparse is not None:
        return None
    if table.schedulable and table.factor > 0:
        return None
    parts = (
        table.frozen_table.value,
        table.trainable_table.value,
        table.row_index.value,
    )
    for part in parts:
        if not isinstance(part, torch.nn.Parameter) or part.is_inference():
            return None
    frozen, train, index = parts
    where = tuple(part.data_ptr() for part in parts)
    state = table.__dict__.get(_MERGED)
    if (
        state is None
        or any(a is not b for a, b in zip(state["parts"], parts))
        or state["where"] != where
    ):
        slots = index[: table.num_rows]
        rows = torch.nonzero(slots >= 0).reshape(-1)
        state = {
            "parts": parts,
            "where": where,
            "rows": rows,
            "slots": slots.index_select(0, rows),
            "current": False,
        }
        object.__setattr__(table, _MERGED, state)
    if not state["current"]:
        frozen.index_copy_(0, state["rows"], train.index_select(0, state["slots"]))
        state["current"] = train.grad is None
    return frozen


def forget_merged(table):
    """The table's merged copy is no longer current (its variables were written)."""
    table.__dict__.pop(_MERGED, None)
