"""The tables to export: from word vectors, arrays, layers and models."""

import dataclasses
import os

import numpy as np

from keras_embedx._walk import iter_layers

PAD_LABEL = "<pad>"


@dataclasses.dataclass
class EmbeddingSource:
    """One table to export: its rows and per-row metadata columns."""

    name: str
    matrix: np.ndarray
    columns: dict
    counts: np.ndarray = None


def _layer_path(layer):
    return getattr(layer, "path", None) or layer.name


def _to_numpy(value):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value))


def _plain_embedding_matrix(layer):
    """Effective table of a `keras.layers.Embedding` (LoRA, quantization)."""
    if getattr(layer, "quantization_mode", None) is None:
        return _to_numpy(layer.embeddings)
    # Quantized tables: let the layer dequantize its own rows.
    import keras

    rows = []
    for start in range(0, layer.input_dim, 8192):
        ids = np.arange(start, min(start + 8192, layer.input_dim), dtype="int32")
        rows.append(_to_numpy(layer(keras.ops.convert_to_tensor(ids))))
    return np.concatenate(rows, axis=0)


def _vocabulary_labels(vocabulary, rows):
    labels = [str(w) for w in vocabulary]
    if len(labels) > rows:
        raise ValueError(
            f"The vocabulary has {len(labels)} entries but the table only {rows} rows."
        )
    if labels and labels[0] == "":
        labels[0] = PAD_LABEL
    # Rows past the vocabulary (e.g. hashed buckets) are labelled by id.
    labels += [f"#{i}" for i in range(len(labels), rows)]
    return labels


def layer_sources(root, layers=None):
    """Every embedding table found in a layer or model, outermost first.

    Finds the tables of keras_embedx layers (through their
    `embedding_tables()`) and of plain `keras.layers.Embedding` layers, also
    when nested inside other layers or models. A table reachable from
    several layers is listed once.

    Args:
        root: a Keras layer or model.
        layers: optional list of layer names, paths or layer objects to keep;
            their nested tables are included.

    Returns:
        A list of `EmbeddingSource`.
    """
    import keras

    found, seen = [], set()
    for layer in table_layers(root, layers):
        found.extend(_tables_of(layer, seen, keras))
    # Name tables relative to the model (Sequential puts its name in paths).
    prefix = f"{root.name}/"
    for source in found:
        if source.name.startswith(prefix):
            source.name = source.name[len(prefix) :]
    return found


def table_layers(root, layers=None):
    """The layers of `root` that hold embedding tables, without reading them.

    keras_embedx layers, bare `EmbeddingTable`s and `keras.layers.Embedding`,
    in model order; with `layers`, only those layers and their sublayers.
    Unbuilt layers count (a model is built on its first batch).
    """
    import keras

    chosen = None if layers is None else _select_layers(root, layers)
    out, seen = [], set()
    for layer in iter_layers(root):
        if chosen is not None and not any(layer is c for c in chosen):
            continue
        for sub in iter_layers(layer) if chosen is not None else (layer,):
            holds_table = (
                callable(getattr(sub, "embedding_tables", None))
                or callable(getattr(sub, "full_table", None))
                or isinstance(sub, keras.layers.Embedding)
            )
            if holds_table and id(sub) not in seen:
                seen.add(id(sub))
                out.append(sub)
    return out


def _select_layers(root, layers):
    if isinstance(layers, str) or not hasattr(layers, "__iter__"):
        layers = [layers]
    all_layers = list(iter_layers(root))
    chosen = []
    for want in layers:
        if isinstance(want, str):
            match = [
                layer
                for layer in all_layers
                if want in (layer.name, _layer_path(layer))
            ]
            if not match:
                names = sorted({_layer_path(layer) for layer in all_layers})
                raise ValueError(
                    f"No layer named {want!r} in {root.name!r}. Layers: {names}"
                )
            chosen.extend(match[:1])
        elif any(want is layer for layer in all_layers):
            chosen.append(want)
        else:
            raise ValueError(
                f"`layers` must name layers of {root.name!r}. Received: {want!r}"
            )
    return chosen


def _tables_of(layer, seen, keras):
    out = []
    if callable(getattr(layer, "embedding_tables", None)):
        tables = list(layer.embedding_tables())
        sources = None
        if callable(getattr(layer, "row_sources", None)):
            sources = list(layer.row_sources())
        for table_name, table, vocabulary in tables:
            if id(table) in seen:
                continue
            seen.add(id(table))
            if callable(getattr(table, "full_table", None)):
                matrix = np.asarray(table.full_table())
            else:
                matrix = _to_numpy(table)
            name = _layer_path(layer)
            if len(tables) > 1:
                name = f"{name}/{table_name}"
            columns = {}
            if vocabulary is not None:
                columns["word"] = _vocabulary_labels(vocabulary, len(matrix))
            else:
                columns["id"] = [str(i) for i in range(len(matrix))]
            if len(tables) == 1 and sources is not None:
                if len(sources) == len(matrix):
                    columns["source"] = sources
            out.append(EmbeddingSource(name, matrix, columns))
    elif callable(getattr(layer, "full_table", None)):
        # A bare keras_embedx EmbeddingTable used inside a custom layer.
        if id(layer) not in seen:
            seen.add(id(layer))
            matrix = np.asarray(layer.full_table())
            ids = [str(i) for i in range(len(matrix))]
            out.append(EmbeddingSource(_layer_path(layer), matrix, {"id": ids}))
    elif isinstance(layer, keras.layers.Embedding) and id(layer) not in seen:
        seen.add(id(layer))
        matrix = _plain_embedding_matrix(layer)
        ids = [str(i) for i in range(len(matrix))]
        out.append(EmbeddingSource(_layer_path(layer), matrix, {"id": ids}))
    return out


def sources_of(source):
    """Resolve `source` into a list of `EmbeddingSource`."""
    if hasattr(source, "words") and hasattr(source, "vectors"):
        columns = {"word": list(source.words)}
        counts = getattr(source, "counts", None)
        if counts is not None:
            columns["count"] = [str(int(c)) for c in counts]
        name = "vectors"
        origin = getattr(source, "source", None)
        if isinstance(origin, str) and origin:
            name = os.path.basename(origin.rstrip("/\\")) or name
        return [EmbeddingSource(name, np.asarray(source.vectors), columns, counts)]
    if hasattr(source, "index_to_key") and hasattr(source, "vectors"):
        # gensim KeyedVectors
        words = list(source.index_to_key)
        return [EmbeddingSource("vectors", np.asarray(source.vectors), {"word": words})]
    if isinstance(source, np.ndarray) or isinstance(source, (list, tuple)):
        matrix = np.asarray(source)
        ids = [str(i) for i in range(len(matrix))] if matrix.ndim == 2 else []
        return [EmbeddingSource("embedding", matrix, {"id": ids})]
    import keras

    if isinstance(source, keras.layers.Layer):
        found = layer_sources(source)
        if not found:
            raise ValueError(
                f"Layer {source.name!r} has no embedding table: expected a "
                "keras_embedx layer, a `keras.layers.Embedding`, or a model "
                "containing one."
            )
        return found
    if isinstance(source, keras.Variable) or hasattr(source, "__array__"):
        matrix = _to_numpy(source)
        ids = [str(i) for i in range(len(matrix))] if matrix.ndim == 2 else []
        name = getattr(source, "path", None) or "embedding"
        return [EmbeddingSource(name, matrix, {"id": ids})]
    raise TypeError(
        "`source` must be a keras_embedx.WordVectors, a Keras layer or model, or "
        f"a 2D array. Received: {type(source).__name__}"
    )
