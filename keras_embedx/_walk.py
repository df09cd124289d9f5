"""The one walk over a model's layers that finds keras_embedx tables.

`UnfreezeSchedule`, `ProjectorCallback` / `export_projector` and
`keras_embedx.distribution` all look for tables the same way: every layer
reachable from the model (nested models, and layers held as attributes of
other layers, keras_embedx layers included), each once, then each layer's
`embedding_tables()`. No Keras import here: a model is walked through its
own `layers` / `_flatten_layers`.
"""


def _children(layer):
    # `Model.layers` is the public list (a Sequential leaves out its
    # InputLayer); a plain Layer tracks the layers set as its attributes.
    children = getattr(layer, "layers", None)
    if children is None:
        flatten = getattr(layer, "_flatten_layers", None)
        children = flatten(include_self=False, recursive=False) if flatten else ()
    return list(children)


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
