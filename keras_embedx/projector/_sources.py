"""The tables to export: from word vectors, arrays, layers and models."""

import dataclasses
import os

import keras
import numpy as np

from keras_embedx._walk import iter_layers, iter_tables
from keras_embedx.layers.base import TableLayer

PAD_LABEL = "<pad>"


@dataclasses.dataclass
class EmbeddingSource:
    """One table to export: its rows and per-row metadata columns."""

    name: str
    matrix: np.ndarray
    columns: dict
    counts: np.ndarray = None


def _layer_path(layer):
    return layer.path or layer.name


def _to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def _plain_embedding_matrix(layer):
    """Effective table of a `keras.layers.Embedding` (LoRA, quantization)."""
    if layer.quantization_mode is None:
        return _to_numpy(layer.embeddings)
    # Quantized tables: let the layer dequantize its own rows.
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

    Finds the tables that `TableLayer`s list in `embedding_tables()`, the
    other keras_embedx `EmbeddingTable`s, and plain `keras.layers.Embedding`
    layers, also when nested inside other layers or models. A table
    reachable from several layers is listed once.

    Args:
        root: a Keras layer or model.
        layers: optional list of layer names, paths or layer objects to keep;
            their nested tables are included.

    Returns:
        A list of `EmbeddingSource`.
    """
    found = [_source(layer, ref) for layer, ref in _table_refs(root, layers)]
    # Name tables relative to the model (Sequential puts its name in paths).
    prefix = f"{root.name}/"
    for source in found:
        if source.name.startswith(prefix):
            source.name = source.name[len(prefix) :]
    return found


def table_layers(root, layers=None):
    """The layers of `root` that hold embedding tables, without reading them.

    `TableLayer`s, bare `EmbeddingTable`s and `keras.layers.Embedding`, in
    model order; with `layers`, only those layers and their sublayers.
    Unbuilt layers count (a model is built on its first batch).
    """
    out = {}
    for layer, _ in _table_refs(root, layers):
        out.setdefault(id(layer), layer)
    return list(out.values())


def _table_refs(root, layers):
    """`(layer, TableRef)` of every table to export, each table once."""
    if layers is None:
        yield from iter_tables(root, unlisted="all")
        return
    chosen = {id(layer) for layer in _select_layers(root, layers)}
    seen = set()
    for layer in iter_layers(root):
        if id(layer) not in chosen:
            continue
        for owner, ref in iter_tables(layer, unlisted="all"):
            if id(ref.table) not in seen:
                seen.add(id(ref.table))
                yield owner, ref


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


def _source(layer, ref):
    """The `EmbeddingSource` of one `(layer, TableRef)` from `iter_tables`."""
    name = _layer_path(layer)
    if isinstance(ref.table, keras.layers.Embedding):
        matrix = _plain_embedding_matrix(ref.table)
        return EmbeddingSource(name, matrix, {"id": _ids(matrix)})
    matrix = np.asarray(ref.table.full_table())
    if not isinstance(layer, TableLayer):  # a bare EmbeddingTable
        return EmbeddingSource(name, matrix, {"id": _ids(matrix)})
    listed = layer.embedding_tables()
    if len(listed) > 1:
        name = f"{name}/{ref.name}"
    columns = {}
    if ref.vocabulary is not None:
        columns["word"] = _vocabulary_labels(ref.vocabulary, len(matrix))
    else:
        columns["id"] = _ids(matrix)
    sources = layer.row_sources() if len(listed) == 1 else None
    if sources is not None and len(sources) == len(matrix):
        columns["source"] = list(sources)
    return EmbeddingSource(name, matrix, columns)


def _ids(matrix):
    return [str(i) for i in range(len(matrix))]


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
        ids = _ids(matrix) if matrix.ndim == 2 else []
        return [EmbeddingSource("embedding", matrix, {"id": ids})]
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
        ids = _ids(matrix) if matrix.ndim == 2 else []
        name = getattr(source, "path", None) or "embedding"
        return [EmbeddingSource(name, matrix, {"id": ids})]
    raise TypeError(
        "`source` must be a keras_embedx.WordVectors, a Keras layer or model, or "
        f"a 2D array. Received: {type(source).__name__}"
    )
