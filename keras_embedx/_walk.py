"""The one walk over a model's layers that finds keras_embedx tables.

`UnfreezeSchedule`, `ProjectorCallback` / `export_projector`,
`keras_embedx.distribution` and `keras_embedx.evaluation` find tables with
`iter_tables`: every layer reachable from the model (nested models, and
layers held as attributes of other layers), each once, and the tables each
`TableLayer` lists in `embedding_tables()`.
"""

import keras

from keras_embedx.layers.base import TableLayer, TableRef
from keras_embedx.layers.table import EmbeddingTable

UNLISTED_CHOICES = (None, "outside", "all")


def _children(layer):
    # `Model.layers` is the public list (a Sequential leaves out its
    # InputLayer); a plain Layer tracks the layers set as its attributes.
    if isinstance(layer, keras.Model):
        return list(layer.layers)
    return list(layer._flatten_layers(include_self=False, recursive=False))


def iter_layers(root, include_self=True):
    """Every layer reachable from `root`, once each, in model order.

    Depth first: a layer comes before the layers nested in it, and those
    come before its next sibling. A layer reachable along several paths (a
    shared layer, a layer held by two others) is listed at its first.

    Args:
        root: a Keras layer or model.
        include_self: bool, list `root` itself first.

    Yields:
        Keras layers.
    """
    seen = {id(root)}
    if include_self:
        yield root
    stack = _children(root)[::-1]
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        yield layer
        stack.extend(_children(layer)[::-1])


def _listed(layer):
    """`layer.embedding_tables()`, each entry checked and made a `TableRef`."""
    refs = []
    for entry in layer.embedding_tables():
        ref = None
        if isinstance(entry, tuple) and len(entry) == len(TableRef._fields):
            ref = TableRef(*entry)
        if ref is None or not isinstance(ref.table, EmbeddingTable):
            raise TypeError(
                f"`embedding_tables()` of layer {layer.name!r} "
                f"({type(layer).__name__}) must return a list of "
                "keras_embedx.layers.TableRef(name, EmbeddingTable, vocabulary). "
                f"Received an entry {entry!r}"
            )
        refs.append(ref)
    return refs


def iter_tables(root, unlisted=None):
    """Every table reachable from `root`, once each, in model order.

    Yields `(layer, TableRef)` for the tables each `TableLayer` lists in
    `embedding_tables()`. A table listed by several layers (a nested
    `TableLayer`, a shared layer) comes once, with the first layer in model
    order that lists it: the outer one. Layers that are not `TableLayer`s
    are never asked for tables.

    Args:
        root: a Keras layer or model.
        unlisted: which tables that no `TableLayer` lists to add, each as
            `(table_layer, TableRef(table_layer.name, table_layer, None))`
            where `table_layer` is an `EmbeddingTable` or a
            `keras.layers.Embedding`: None (default) adds none; `"outside"`
            those outside every `TableLayer` (a bare table in a custom
            layer); `"all"` those inside `TableLayer`s too (such as
            `TokenAndPosition`'s position table, or a
            `keras.layers.Embedding` given as its `token_embedding`).

    Yields:
        `(layer, TableRef)` pairs.
    """
    if unlisted not in UNLISTED_CHOICES:
        raise ValueError(
            f"`unlisted` must be one of {UNLISTED_CHOICES}. Received: "
            f"unlisted={unlisted!r}"
        )
    seen, inside = set(), set()
    for layer in iter_layers(root):
        if isinstance(layer, TableLayer):
            for ref in _listed(layer):
                if id(ref.table) not in seen:
                    seen.add(id(ref.table))
                    yield layer, ref
            if unlisted == "outside":
                inside.update(id(s) for s in iter_layers(layer, include_self=False))
        elif (
            unlisted is not None
            and isinstance(layer, (EmbeddingTable, keras.layers.Embedding))
            and id(layer) not in seen
            and id(layer) not in inside
        ):
            seen.add(id(layer))
            yield layer, TableRef(layer.name, layer, None)
