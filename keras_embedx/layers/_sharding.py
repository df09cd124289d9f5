"""Which table variables a `keras.distribution` shards, and into how many parts.

Shared by the table (which pads its rows to a multiple of the shards at
build time) and `keras_embedx.distribution` (which builds the layout map).
"""

import math

import keras

#: Variables of a table with one row per table row (or per frozen /
#: trainable row), sharded along that axis.
ROW_VARIABLES = (
    "frozen_table",
    "frozen_scale",
    "frozen_live",
    "frozen_offset",
    "trainable_table",
)
#: The table's `[rows]` index (row -> slot), sharded along its only axis.
INDEX_VARIABLE = "row_index"
#: The table's scalar learning-rate factor, replicated.
SCALAR_VARIABLE = "unfreeze_factor"


def row_shards(table):
    """How many shards the active distribution splits `table`'s rows into.

    1 without a distribution or when none of the table's row variables is
    sharded; otherwise the product of the mesh axis sizes on the row axis
    (the least common multiple over its variables). The table pads its
    variables' rows to a multiple of this at build time.
    """
    distribution = keras.distribution.distribution()
    if distribution is None:
        return 1
    mesh = getattr(distribution, "device_mesh", None)
    if mesh is None:
        return 1
    prefix = f"{table.path}/" if table.path else ""
    shards = 1
    for name, ndim in [(n, 2) for n in ROW_VARIABLES] + [(INDEX_VARIABLE, 1)]:
        probe = _Probe(prefix + name, (1,) * ndim)
        layout = distribution.get_variable_layout(probe)
        axes = tuple(getattr(layout, "axes", None) or ())
        first = axes[0] if axes else None
        if first is None:
            continue
        first = (first,) if isinstance(first, str) else tuple(first)
        size = 1
        for axis_name in first:
            if axis_name in mesh.axis_names:
                size *= mesh.shape[list(mesh.axis_names).index(axis_name)]
        shards = math.lcm(shards, size)
    return shards


class _Probe:
    """Stands in for a variable not created yet, to ask a distribution its layout."""

    _layout = None

    def __init__(self, path, shape):
        self.path = path
        self.shape = shape
