"""The token part of `TokenAndPosition`: its own table, or a token layer it wraps.

`OwnTable` (no `token_embedding` given: the layer's `EmbeddingTable`) and
`NestedLayer` (any Keras layer mapping ids to vectors) share one
interface; the layer picks one when it is constructed:

- `check_arguments(...)` (before construction): the constructor arguments,
  completed (`vocabulary_size`, `embedding_dim`, `mask_zero`);
- `checked_ids(inputs)`, `build(input_shape)` (the width of the token
  vectors), `output_shape(input_shape)`, `embed(ids, training)`,
  `mask(ids, mask)`;
- `tied_table()` (the rows `reverse` projects onto), `row_sparse()`,
  `config()` (the config entries that describe the token part).
"""

import keras
import numpy as np
from keras import ops

from keras_embedx._checks import check_choice, check_positive_int, width_error
from keras_embedx.layers._ids import IdInputLayer, check_ids
from keras_embedx.layers._row_sparse import serialize_row_optimizer
from keras_embedx.layers.base import TableLayer
from keras_embedx.layers.table import OUT_OF_RANGE_MODES

FREEZE_MODES = ("none", "all")
# Constructor arguments that describe the own table, with their defaults.
OWN_TABLE_DEFAULTS = {
    "mask_zero": None,
    "freeze": "none",
    "schedulable": False,
    "storage_dtype": "float32",
    "out_of_range": "oov",
    "row_optimizer": None,
}


def clone_initializer(initializer):
    """A fresh copy of an initializer, so that each table draws its own values.

    Initializer objects are rebuilt from their config; a plain function
    (which Keras and keras-hub accept too) holds no state and is returned
    as is.
    """
    if not isinstance(initializer, keras.initializers.Initializer):
        return initializer
    return initializer.__class__.from_config(initializer.get_config())


def int_ids(ids):
    """Floating-point ids as int32, as the lookups read them.

    Ids then reach `TokenAndPosition.compute_mask` as ints, which tells
    them from the hidden states of a `reverse` call. Symbolic inputs are
    left as they are.
    """
    if keras.backend.is_keras_tensor(ids) or not (
        isinstance(ids, np.ndarray) or ops.is_tensor(ids)
    ):
        return ids
    if not keras.backend.is_float_dtype(ops.dtype(ids)):
        return ids
    return ops.cast(ids, "int32")


def token_width_error(width, embedding_dim):
    return width_error(
        "The token vectors",
        width,
        "embedding_dim",
        embedding_dim,
        "Pass token_projection=True to learn a projection, or "
        f"embedding_dim={width} (or None) to keep their width.",
    )


class OwnTable:
    """The layer's own `EmbeddingTable`, `layer.token_embedding`."""

    def __init__(self, layer):
        self.layer = layer

    @staticmethod
    def check_arguments(token, vocabulary_size, embedding_dim, projection, own):
        vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size)
        embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        check_choice("freeze", own["freeze"], FREEZE_MODES)
        check_choice("out_of_range", own["out_of_range"], OUT_OF_RANGE_MODES)
        mask_zero = True if own["mask_zero"] is None else own["mask_zero"]
        return vocabulary_size, embedding_dim, mask_zero

    def checked_ids(self, inputs):
        layer = self.layer
        inputs = check_ids(layer, inputs, layer.vocabulary_size, layer.out_of_range)
        return int_ids(inputs)

    def build(self, input_shape):
        layer = self.layer
        table = layer.token_embedding
        table.build()
        if table.num_frozen:
            # A frozen table starts from the initializer, not zeros.
            init = clone_initializer(layer.embeddings_initializer)
            shape = (table.num_rows, table.output_dim)
            table.set_table(ops.convert_to_numpy(init(shape, dtype="float32")))
        return layer.embedding_dim

    def output_shape(self, input_shape):
        return (*input_shape, self.layer.embedding_dim)

    def embed(self, ids, training):
        layer = self.layer
        return layer.token_embedding.lookup(
            ids,
            oov_id=min(1, layer.vocabulary_size - 1),
            out_of_range=layer.out_of_range,
            training=training,
        )

    def mask(self, ids, mask):
        return ops.not_equal(ids, 0) if self.layer.mask_zero else mask

    def tied_table(self):
        return self.layer.token_embedding.dense_table()

    def row_sparse(self):
        return self.layer.token_embedding.row_optimizer is not None

    def config(self):
        table = self.layer.token_embedding
        return {
            "token_embedding": None,
            "schedulable": table.schedulable,
            "storage_dtype": table.storage_dtype,
            "row_optimizer": serialize_row_optimizer(table.row_optimizer),
        }


class NestedLayer:
    """A Keras layer passed as `token_embedding`, saved as part of the layer."""

    def __init__(self, layer):
        self.layer = layer

    @staticmethod
    def check_arguments(token, vocabulary_size, embedding_dim, projection, own):
        vocabulary_size = _nested_vocabulary_size(token, vocabulary_size)
        for name, value in own.items():
            if value != OWN_TABLE_DEFAULTS[name]:
                raise ValueError(
                    f"`{name}` applies to the layer's own token table; with a "
                    "`token_embedding` set it on that layer instead. Received: "
                    f"{name}={value!r}"
                )
        if embedding_dim is None:
            if projection:
                raise ValueError(
                    "token_projection=True needs `embedding_dim`, the width "
                    "to project to. Received: embedding_dim=None"
                )
            embedding_dim = _token_width(token)
        if embedding_dim is not None:
            embedding_dim = check_positive_int("embedding_dim", embedding_dim)
            width = _token_width(token)
            if not projection and width not in (None, embedding_dim):
                raise token_width_error(width, embedding_dim)
        return vocabulary_size, embedding_dim, None

    def checked_ids(self, inputs):
        # Strings, and ids JAX would truncate, are only visible before Keras
        # converts the inputs (see `keras_embedx.layers._ids`); a nested
        # keras_embedx layer checks them for its own table.
        token = self.layer.token_embedding
        if isinstance(token, (IdInputLayer, type(self.layer))):
            return int_ids(token._checked_ids(inputs))
        # Other layers may take floating-point inputs; Keras' Embedding
        # reads them as int32 ids, as `int_ids` does.
        if isinstance(token, keras.layers.Embedding):
            return int_ids(inputs)
        return inputs

    def build(self, input_shape):
        layer = self.layer
        token = layer.token_embedding
        if not token.built:
            token.build(input_shape)
        width = None
        if input_shape is not None:
            width = self.output_shape(input_shape)[-1]
        if width is None:
            width = _token_width(token)
        if width is None:
            raise ValueError(
                f"Cannot tell the width of the vectors of {token.name!r}: "
                "build the layer on an input shape, or pass `embedding_dim`."
            )
        return int(width)

    def output_shape(self, input_shape):
        spec = self.layer.token_embedding.compute_output_spec(
            keras.KerasTensor(tuple(input_shape), dtype="int32")
        )
        return tuple(spec.shape)

    def embed(self, ids, training):
        layer = self.layer
        return ops.cast(layer.token_embedding(ids), layer.compute_dtype)

    def mask(self, ids, mask):
        token = self.layer.token_embedding
        token_mask = token.compute_mask(ids, None)
        if (
            token_mask is None
            and isinstance(token, keras.layers.Embedding)
            and token.mask_zero
        ):
            # keras.layers.ReversibleEmbedding masks in `call`, not here.
            token_mask = ops.not_equal(ids, 0)
        return mask if token_mask is None else token_mask

    def tied_table(self):
        token = self.layer.token_embedding
        table = _row_per_id_table(token)
        if table is None:
            raise ValueError(
                f"Cannot tie the output projection to {token.name!r} "
                f"({type(token).__name__}): tying needs a token layer with one "
                "table row per input id (the layer's own table, a "
                "PretrainedEmbedding or a keras.layers.Embedding), and this one "
                "builds each vector from several rows. Build the layer with "
                "tie_weights=False and vocabulary_size=... instead."
            )
        return table if isinstance(table, keras.Variable) else table.dense_table()

    def row_sparse(self):
        tables = self.layer.embedding_tables()
        return any(ref.table.row_optimizer is not None for ref in tables)

    def config(self):
        token = self.layer.token_embedding
        return {
            "token_embedding": keras.saving.serialize_keras_object(token),
            "schedulable": False,
            "storage_dtype": "float32",
            "row_optimizer": serialize_row_optimizer(None),
        }


def _row_per_id_table(token):
    """The table a nested token layer indexes with its input ids, or None.

    Only layers that look ids up one row each qualify: those with an
    `input_dim` (the table's rows), i.e. `keras.layers.Embedding` (its
    `embeddings` variable) and `PretrainedEmbedding` (its `EmbeddingTable`).
    Layers that compose a vector from several rows (characters, n-grams)
    have no such table.
    """
    rows = _token_rows(token)
    if rows is None:
        return None
    if isinstance(token, TableLayer):
        tables = [t for _, t, _ in token.embedding_tables() if t.num_rows == rows]
        return tables[0] if len(tables) == 1 else None
    embeddings = token.embeddings
    return embeddings if isinstance(embeddings, keras.Variable) else None


def _nested_vocabulary_size(token, vocabulary_size):
    """The rows of a nested token layer's table, checked against the argument."""
    rows = _token_rows(token)
    if vocabulary_size is None:
        return rows
    vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size)
    if rows is not None and rows != vocabulary_size:
        raise ValueError(
            f"`vocabulary_size`={vocabulary_size} disagrees with the "
            f"{rows} rows of `token_embedding` {token.name!r}. Pass "
            "vocabulary_size=None to use the token layer's."
        )
    return vocabulary_size


def _token_rows(token):
    """The rows a token layer indexes one per id (`input_dim`), or None."""
    if isinstance(token, (keras.layers.Embedding, TableLayer)):
        return token.input_dim
    return None


def _token_width(token):
    """The width of a token layer's vectors (`output_dim`), or None."""
    if isinstance(token, (keras.layers.Embedding, TableLayer)):
        return token.output_dim
    return None
