"""Shard keras_embedx tables along the vocabulary axis with `keras.distribution`.

A keras_embedx table (`keras_embedx.layers.EmbeddingTable`, inside
every keras_embedx layer) keeps its rows in a few variables:

| variable          | shape                  | layout from `layout_map` |
|-------------------|------------------------|--------------------------|
| `frozen_table`    | `[rows, dim]`          | `("model", None)`        |
| `frozen_scale`    | `[rows, 1]`            | `("model", None)`        |
| `frozen_live`     | `[rows, dim]`          | `("model", None)`        |
| `frozen_offset`   | `[rows, dim]`          | `("model", None)`        |
| `trainable_table` | `[trainable rows, dim]`| `("model", None)`        |
| `row_index`       | `[rows]`               | `("model",)`             |
| `unfreeze_factor` | `[]`                   | replicated               |

`layout_map(mesh)` maps those variables, by path, onto the mesh's `"model"`
axis so each device holds `1 / mesh_size("model")` of every table, and the
optimizer's slots follow (Keras gives them their variable's layout).

JAX requires every sharded axis to divide evenly. When a table's row count
does not divide by the number of shards, the table appends zero rows to
its variables (never read: ids never reach them) up to the next multiple,
at build time, under the active distribution only. Saved weights leave the
padding out, so a `.keras` file written on 8 devices loads on 1 device, on
another mesh, or on another backend, and the other way round.
"""

import keras

from keras_embedx._checks import check_positive_int
from keras_embedx._walk import iter_tables
from keras_embedx.layers._sharding import (
    INDEX_VARIABLE,
    ROW_VARIABLES,
    SCALAR_VARIABLE,
)
from keras_embedx.layers.table import EmbeddingTable


def layout_map(mesh, model=None, axis="model"):
    """A `keras.distribution.LayoutMap` that shards every keras_embedx table.

    Each table is split along its vocabulary (row) axis over the devices of
    `mesh`'s `axis` axis (`"model"` by default): a `[rows, dim]` variable
    gets the layout `("model", None)`, the `[rows]` row index `("model",)`
    and the scalar unfreeze factor is replicated. Everything else in the
    model is left to you: add entries to the returned map (for example
    `lm["dense.*kernel"] = (None, "model")`), or leave them out and those
    variables are replicated.

    Without `model`, the keys are regular expressions matching the
    variables of every keras_embedx table by name (`".*/frozen_table"`, ...),
    whatever the layer is called, so the same map serves a model you have
    not built yet. Build the model (or call `from_vectors`, or
    `keras.models.load_model`) inside `ModelParallel(...).scope()`: Keras
    places each variable as it is created. With a built `model`, the keys
    are the exact paths of the tables that its layers list in
    `embedding_tables()` (every `keras_embedx.layers.TableLayer`;
    TokenAndPosition's position table, which has no vocabulary axis, is
    left replicated); use that map to load the saved model under the
    distribution.

    Rows that the number of shards does not divide are padded with zero
    rows inside the table (see `keras_embedx.distribution`); nothing
    changes for the user, and saved files hold no padding.

    Sharding needs the JAX backend (`keras.distribution` is implemented
    for JAX); on TensorFlow use `tf.distribute` strategies instead, see
    docs/scaling.md.

    Args:
        mesh: a `keras.distribution.DeviceMesh` with an axis named `axis`,
            e.g. `DeviceMesh((2, 4), ("batch", "model"))` on 8 devices.
        model: optional built Keras model (or layer) whose tables to list by
            exact path.
        axis: str, the mesh axis that splits the vocabulary. Defaults to
            `"model"`.

    Returns:
        A `keras.distribution.LayoutMap` for
        `keras.distribution.ModelParallel(layout_map=..., batch_dim_name=...)`.

    Raises:
        ValueError: `mesh` is not a DeviceMesh, has no `axis` axis, or names
            devices this process does not have; `model` is not built or has
            no keras_embedx tables.

    Example:

    ```python
    import keras
    import keras_embedx

    devices = keras.distribution.list_devices()
    mesh = keras_embedx.distribution.device_mesh(shards=len(devices))
    layouts = keras_embedx.distribution.layout_map(mesh)
    distribution = keras.distribution.ModelParallel(
        layout_map=layouts, batch_dim_name="batch"
    )
    with distribution.scope():
        layer = keras_embedx.layers.PretrainedEmbedding.from_vectors(wv, vocab)
        model = ...  # build and compile as usual
    model.fit(...)
    ```
    """
    _check_mesh(mesh, axis)
    layouts = keras.distribution.LayoutMap(mesh)
    if model is None:
        names = "|".join(ROW_VARIABLES)
        layouts[rf"(.*/)?({names})"] = (axis, None)
        layouts[rf"(.*/)?{INDEX_VARIABLE}"] = (axis,)
        layouts[rf"(.*/)?{SCALAR_VARIABLE}"] = ()
        return layouts
    tables = find_tables(model)
    if not tables:
        raise ValueError(
            f"{model.name!r} has no keras_embedx tables: expected layers such as "
            "keras_embedx.layers.PretrainedEmbedding (any "
            "keras_embedx.layers.TableLayer). Call layout_map(mesh) without a "
            "model to get name patterns instead."
        )
    for table in tables:
        if not table.built or not table.variables:
            raise ValueError(
                f"The table {table.name!r} of {model.name!r} is not built yet, so "
                "its variables have no paths. Build the model first (call it on "
                "data or `model.build(...)`), or call layout_map(mesh) without a "
                "model to get name patterns."
            )
        for variable in table.variables:
            layout = variable_layout(variable.name, axis)
            # (`path in layouts` would match by regex: compare keys exactly.)
            if layout is not None and variable.path not in list(layouts):
                layouts[variable.path] = layout
    return layouts


def variable_layout(name, axis="model"):
    """The layout tuple of a table variable called `name`, or None."""
    if name in ROW_VARIABLES:
        return (axis, None)
    if name == INDEX_VARIABLE:
        return (axis,)
    if name == SCALAR_VARIABLE:
        return ()
    return None


def find_tables(root):
    """Every keras_embedx table reachable from a model or layer, once each.

    Tables come from the `embedding_tables()` of each `TableLayer` (nested
    layers and models included); a bare table used inside a custom layer
    counts too, unless it sits inside a `TableLayer`, which lists its tables
    itself (so a TokenAndPosition's position table is not included).
    """
    return [
        ref.table
        for _, ref in iter_tables(root, unlisted="outside")
        if isinstance(ref.table, EmbeddingTable)
    ]


def device_mesh(shards, batch=None, devices=None):
    """A `("batch", "model")` DeviceMesh with a clear error when it cannot fit.

    Args:
        shards: int, devices each table is split over (the `"model"` axis).
        batch: optional int, data-parallel replicas (the `"batch"` axis);
            defaults to the devices left: `len(devices) // shards`.
        devices: optional list of devices; defaults to
            `keras.distribution.list_devices()`.

    Returns:
        `keras.distribution.DeviceMesh((batch, shards), ("batch", "model"))`.

    Raises:
        ValueError: the sizes do not multiply to the number of devices.
    """
    if devices is None:
        devices = _available_devices()
        if devices is None:
            raise ValueError(
                f"keras.distribution is not implemented for the "
                f"{keras.config.backend()!r} backend in Keras {keras.__version__}: "
                "shard tables with the JAX backend (KERAS_BACKEND=jax), or pass "
                "`devices=` to build the mesh anyway."
            )
    devices = list(devices)
    count = len(devices)
    for name, value in (("shards", shards), ("batch", batch)):
        if value is None and name == "batch":
            continue
        check_positive_int(name, value)
    if batch is None:
        if count % shards:
            raise ValueError(
                f"Cannot split {count} device(s) into {shards} shards: {count} is "
                f"not a multiple of {shards}. Use one of {_divisors(count)}, or "
                "run with more devices."
            )
        batch = count // shards
    if batch * shards != count:
        raise ValueError(
            f"A mesh of batch={batch} x shards={shards} needs {batch * shards} "
            f"devices; this process has {count} ({devices[:4]}"
            f"{'...' if count > 4 else ''}). Pick sizes that multiply to {count}."
        )
    return keras.distribution.DeviceMesh(
        (batch, shards), ("batch", "model"), devices=devices
    )


def _check_mesh(mesh, axis):
    if not isinstance(mesh, keras.distribution.DeviceMesh):
        raise ValueError(
            "`mesh` must be a keras.distribution.DeviceMesh, e.g. "
            "keras_embedx.distribution.device_mesh(shards=8). Received: "
            f"mesh={mesh!r} of type {type(mesh).__name__}"
        )
    if axis not in mesh.axis_names:
        raise ValueError(
            f"The mesh has no {axis!r} axis to split the vocabulary over. "
            f"Received: a mesh with axes {tuple(mesh.axis_names)} and shape "
            f"{tuple(mesh.shape)}. Name one axis {axis!r} (or pass axis=...)."
        )
    have = _available_devices()
    if have is None:  # this backend cannot list devices (PyTorch)
        return
    have = set(have)
    wanted = [str(d) for d in mesh.devices.flatten()]
    missing = [d for d in wanted if d not in have]
    if missing:
        raise ValueError(
            f"The mesh of shape {tuple(mesh.shape)} names {len(wanted)} devices, "
            f"but {len(missing)} of them ({missing[:4]}) are not available here: "
            f"this process has {len(have)} device(s). Build the mesh from "
            "keras.distribution.list_devices() (keras_embedx.distribution."
            "device_mesh does)."
        )


def _available_devices():
    """The devices keras.distribution sees, as str; None if it cannot list them."""
    try:
        return [str(d) for d in keras.distribution.list_devices()]
    except (AttributeError, NotImplementedError):
        return None


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]
