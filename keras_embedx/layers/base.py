"""`TableLayer`: the base of every layer that owns keras_embedx tables.

A `TableLayer` lists its tables in `embedding_tables()`; that list is how
`UnfreezeSchedule`, `ProjectorCallback` / `export_projector`,
`keras_embedx.distribution.layout_map` and `keras_embedx.evaluation` find
them (through `keras_embedx._walk.iter_tables`). The base also gives the
layer Keras' weight habits for such tables: `get_weights()` lists each
table as its full matrix, `quantize("int8")` quantizes the tables, and a
quantized sublayer survives `get_config` / `from_config`.
"""

import json
import os
import warnings
from typing import NamedTuple

import keras
import numpy as np
from keras import ops

from keras_embedx.layers.table import EmbeddingTable

QUANTIZED_KEY = "quantized_sublayers"
# The config of a quantized own table: every row frozen, stored as int8.
_QUANTIZED_LAYOUT = {
    "freeze": "all",
    "storage_dtype": "int8",
    "schedulable": False,
}


class TableRef(NamedTuple):
    """One table a `TableLayer` lists in `embedding_tables()`.

    A named tuple, so `for name, table, vocabulary in layer.embedding_tables()`
    works as well as `ref.table`.

    Attributes:
        name: str, the table's name within its layer (the Projector shows
            `"<layer path>/<name>"` when a layer lists several tables).
        table: the `keras_embedx.layers.EmbeddingTable`.
        vocabulary: None, or one label (str) per row from row 0, e.g. the
            layer's `get_vocabulary()`: `""` for padding, `"[UNK]"` for each
            OOV row, then the words. The Projector labels the rows with it
            and `keras_embedx.evaluation` evaluates the words.
    """

    name: str
    table: EmbeddingTable
    vocabulary: list = None


def _children(layer):
    """The layers held directly by `layer` (Keras' own tracking)."""
    return list(layer._flatten_layers(include_self=False, recursive=False))


def _part_shapes(part):
    if isinstance(part, EmbeddingTable):
        return [(part.num_rows, part.output_dim)]
    if isinstance(part, keras.Variable):
        return [tuple(part.shape)]
    if isinstance(part, TableLayer):
        return part._weight_shapes()
    return [tuple(v.shape) for v in part.weights]


def _part_values(part):
    if isinstance(part, EmbeddingTable):
        return [part.full_table()]
    if isinstance(part, keras.Variable):
        return [ops.convert_to_numpy(part)]
    return part.get_weights()


def _set_part(part, values):
    if isinstance(part, EmbeddingTable):
        part.set_table(values[0], part.frozen_mask())
    elif isinstance(part, keras.Variable):
        part.assign(values[0])
    else:
        part.set_weights(values)


def _part_variables(part):
    if isinstance(part, keras.Variable):
        return [part]
    return part.weights


class TableLayer(keras.layers.Layer):
    """Base class of layers that own `EmbeddingTable`s.

    A layer joins keras_embedx's table protocol by deriving from
    `TableLayer` and listing its tables in `embedding_tables()`:
    `UnfreezeSchedule` then schedules their frozen rows,
    `export_projector` and `ProjectorCallback` export them with the
    vocabulary as labels, `keras_embedx.distribution.layout_map` shards
    them, and `keras_embedx.evaluation` evaluates the first one with a
    vocabulary, wherever the layer sits in a model (nested layers and
    models included, a table listed by several layers counted once). A
    layer that is not a `TableLayer` is not asked for tables, whatever
    methods it has. `PretrainedEmbedding`, `SubwordEmbedding`,
    `CharEmbedding` and `TokenAndPosition` are `TableLayer`s.

    Two attributes describe the layer's vectors to the layers that wrap it
    (`TokenAndPosition(token_embedding=...)`): `output_dim`, their width,
    and `input_dim`, the rows of a table indexed by one input id each (as
    `keras.layers.Embedding`'s); both default to None (not known up front,
    or vectors composed of several rows).

    The base also gives the layer Keras' weight habits: `get_weights()`
    lists each listed table as its full `[rows, output_dim]` matrix
    (frozen and trainable rows merged, int8 rows dequantised) followed by
    the layer's other weights, and `set_weights` takes the same list.

    It takes the arguments of `keras.layers.Layer` (`name`, `dtype`,
    `trainable`, ...).

    Example:

    >>> from keras_embedx.layers import EmbeddingTable, TableLayer, TableRef
    >>> class TagEmbedding(TableLayer):
    ...     def __init__(self, tags, output_dim, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.tags = ["", "[UNK]", *tags]
    ...         self.table = EmbeddingTable(
    ...             len(self.tags), output_dim, num_frozen=len(self.tags),
    ...             schedulable=True, name="table",
    ...         )
    ...     def call(self, ids):
    ...         return self.table(ids)
    ...     def embedding_tables(self):
    ...         return [TableRef("tags", self.table, self.tags)]
    >>> tags = TagEmbedding(["noun", "verb"], output_dim=4, name="tags")
    >>> model = keras.Sequential(
    ...     [keras.Input((3,), dtype="int32"), tags, keras.layers.Dense(1)]
    ... )
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> schedule = keras_embedx.callbacks.UnfreezeSchedule({0: 0.5})
    >>> x, y = np.array([[2, 3, 0]]), np.zeros((1, 3, 1))
    >>> _ = model.fit(x, y, callbacks=[schedule], verbose=0)
    >>> tags.table.factor
    0.5
    >>> out = keras_embedx.export_projector("logs", model)
    >>> out.name, out.shape
    ('tags', (4, 4))
    """

    input_dim = None
    output_dim = None

    def embedding_tables(self):
        """The tables of this layer, a list of `TableRef(name, table, vocabulary)`.

        Override it to list the layer's tables (its own, or those of layers
        nested in it under names of your choice). The base lists none.
        """
        return []

    def row_sources(self):
        """Where each row of the layer's only table came from, or None.

        One str per row (e.g. `"pretrained"`, `"missing"`), shown as a
        metadata column in the Projector. The base returns None.
        """
        return None

    def get_vocabulary(self):
        """The label of each row of the layer's table; the base has none.

        Raises:
            ValueError: the layer keeps no vocabulary.
        """
        raise ValueError(
            f"Layer {self.name!r} ({type(self).__name__}) keeps no vocabulary."
        )

    # -------------------------------------------------------------- assets
    # A layer whose vocabulary is too large for its config names a JSON file
    # here; it travels in the `.keras` file's assets, as StringLookup's does.
    vocabulary_asset = None

    def _asset_payload(self):
        return {"vocabulary": self._vocabulary}

    def _load_asset_payload(self, payload):
        if payload.get("vocabulary") is not None:
            self.set_vocabulary(payload["vocabulary"])

    def save_assets(self, dir_path):
        if self.vocabulary_asset is None:
            return
        path = os.path.join(dir_path, self.vocabulary_asset)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self._asset_payload(), f, ensure_ascii=False)

    def load_assets(self, dir_path):
        if self.vocabulary_asset is None:
            return
        path = os.path.join(dir_path, self.vocabulary_asset)
        if not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            self._load_asset_payload(json.load(f))

    # -------------------------------------------------------------- weights
    # Per own table attribute, the config keys that describe its layout
    # (rewritten by `_with_quantized` for a quantized table).
    _layout_keys = {"table": ("freeze", "num_frozen", "storage_dtype", "schedulable")}

    def _weight_parts(self):
        """The parts that open `get_weights()`: tables, layers or variables."""
        return [ref.table for ref in self.embedding_tables()]

    def _parts_and_rest(self):
        parts = [p for p in self._weight_parts() if p is not None]
        covered = {id(v) for part in parts for v in _part_variables(part)}
        rest = [v for v in self.weights if id(v) not in covered]
        return parts, rest

    def _weight_shapes(self):
        parts, rest = self._parts_and_rest()
        shapes = [s for part in parts for s in _part_shapes(part)]
        return shapes + [tuple(v.shape) for v in rest]

    def get_weights(self):
        """The layer's weights as NumPy arrays, each table as its full matrix.

        As on `keras.layers.Embedding`, `get_weights()[0]` is the whole
        `[input_dim, output_dim]` table: frozen and trainable rows in row
        order, int8 rows dequantised. The layer's other weights follow.
        `set_weights` accepts the same list.
        """
        if not self.built:
            return []
        parts, rest = self._parts_and_rest()
        values = [a for part in parts for a in _part_values(part)]
        return values + [ops.convert_to_numpy(v) for v in rest]

    def set_weights(self, weights):
        """Write weights in the order `get_weights()` returns them.

        Each table takes its full matrix: frozen rows are written too (and
        re-quantised when the table stores them as int8), which rows are
        frozen stays as it is, and a scheduled unfreezing continues from
        the new values.

        Args:
            weights: list of NumPy arrays, shaped as `get_weights()`.
        """
        if not self.built:
            self.build()
        parts, rest = self._parts_and_rest()
        shapes = self._weight_shapes()
        weights = list(weights)
        if len(weights) != len(shapes):
            raise ValueError(
                f"Layer '{self.name}' expects a list of {len(shapes)} weight "
                f"arrays (the order of `get_weights()`), of shapes {shapes}. "
                f"Received: a list of {len(weights)} arrays"
            )
        values = []
        for i, (value, shape) in enumerate(zip(weights, shapes)):
            value = np.asarray(value)
            if value.shape != tuple(shape):
                raise ValueError(
                    f"Weight {i} of layer '{self.name}' must have shape "
                    f"{tuple(shape)} (the order of `get_weights()`). "
                    f"Received: shape={value.shape}"
                )
            values.append(value)
        at = 0
        for part in parts:
            n = len(_part_shapes(part))
            _set_part(part, values[at : at + n])
            at += n
        for variable, value in zip(rest, values[at:]):
            variable.assign(value)

    # ------------------------------------------------------------ quantize
    def quantize(self, mode=None, type_check=True, config=None):
        """Quantize the layer's tables (and Keras sublayers that support it).

        Each table keeps its rows as int8 with a per-row float32 scale and
        stops training (see `EmbeddingTable.quantize`); `model.quantize`
        does the same for every table of a model. Only `"int8"` is
        supported; other modes raise `NotImplementedError`.

        Args:
            mode: `"int8"`.
            type_check: bool, refuse subclasses (as Keras' layers do).
            config: None or a `keras.quantizers.Int8QuantizationConfig`
                without a custom weight quantizer.
        """
        if type_check and not type(self).__module__.startswith("keras_embedx."):
            raise self._not_implemented_error(self.quantize)
        leaves = [
            layer
            for layer in self._flatten_layers(include_self=False)
            if not _children(layer) and layer.weights
        ]
        tables = [t for t in leaves if isinstance(t, EmbeddingTable)]
        for table in tables:
            if table.quantization_mode is not None:
                raise ValueError(
                    f"Layer '{self.name}' is already quantized: its table "
                    f"'{table.name}' has dtype_policy='{table.dtype_policy.name}'. "
                    f"Received: mode={mode}"
                )
            table._check_quantization_mode(mode)
        for leaf in leaves:
            try:
                leaf.quantize(mode, type_check=type_check, config=config)
            except NotImplementedError as e:
                if isinstance(leaf, EmbeddingTable):
                    raise
                warnings.warn(str(e), stacklevel=2)
        if keras.config.backend() == "torch":
            # As `Model.quantize` does: PyTorch modules list their
            # parameters once; the replaced ones must go.
            for layer in self._flatten_layers():
                layer._track_variables()

    def _int8_call(self, *args, **kwargs):
        # A layer built with an int8 dtype policy passes it to its tables,
        # which store int8 rows; the layer's own computation is unchanged.
        return self.call(*args, **kwargs)

    # --------------------------------------------------------------- config
    def _with_quantized(self, config):
        """`config` describing quantized sublayers (call from `get_config`)."""
        policies = {
            child.name: child.dtype_policy.name
            for child in _children(self)
            if child.quantization_mode is not None
        }
        if not policies:
            return config
        config[QUANTIZED_KEY] = policies
        for attribute, keys in self._layout_keys.items():
            # An attribute the class names in `_layout_keys` (not a probe).
            table = getattr(self, attribute)
            if not isinstance(table, EmbeddingTable) or table.name not in policies:
                continue
            for key in keys:
                if key == "num_frozen":
                    config[key] = table.num_rows
                elif key in _QUANTIZED_LAYOUT:
                    config[key] = _QUANTIZED_LAYOUT[key]
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        policies = config.pop(QUANTIZED_KEY, None) or {}
        layer = super().from_config(config)
        children = {child.name: child for child in _children(layer)}
        for name, policy in policies.items():
            if name not in children:
                raise ValueError(
                    f"`{QUANTIZED_KEY}` names a sublayer {name!r} that layer "
                    f"'{layer.name}' does not have (it has {sorted(children)}). "
                    "The config is damaged or was not written by keras_embedx."
                )
            # Before the sublayer is built: it builds quantized variables.
            children[name].dtype_policy = policy
        return layer
