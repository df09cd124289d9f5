"""`TokenAndPosition`: token plus position embeddings for Transformers."""

import math
import sys

import keras
from keras import ops

from keras_embedx._checks import (
    check_bool,
    check_choice,
    check_float,
    check_positive_int,
)
from keras_embedx.layers._ids import dense_ids
from keras_embedx.layers._positions import add_positions, check_static_length
from keras_embedx.layers._token_parts import (
    NestedLayer,
    OwnTable,
    clone_initializer,
    token_width_error,
)
from keras_embedx.layers.base import TableLayer, TableRef
from keras_embedx.layers.table import (
    EmbeddingTable,
)

POSITION_MODES = ("learned", "sinusoidal", None)


@keras.saving.register_keras_serializable(package="keras_embedx")
class TokenAndPosition(TableLayer):
    """Token plus position embeddings, the input layer of a Transformer.

    Maps token ids to `token_vector + position_vector`. The token part is the
    layer's own table or any layer passed as `token_embedding` (e.g. a
    `PretrainedEmbedding` started from GloVe vectors, a `SubwordEmbedding`,
    a `CharEmbedding` or a `keras.layers.Embedding`), saved as part of this
    one; `token_projection=True` maps its width to `embedding_dim`. Positions
    are `"learned"` (as keras-hub's `TokenAndPositionEmbedding`),
    `"sinusoidal"` (as `keras_hub.layers.SinePositionEncoding`) or None.
    `reverse(hidden)` gives logits over the vocabulary through the tied token
    table. Padding id 0 is masked for `MultiHeadAttention` and keras-hub's
    Transformer layers.

    Example:

    >>> layer = keras_embedx.layers.TokenAndPosition(
    ...     vocabulary_size=100, sequence_length=16, embedding_dim=8,
    ...     position="sinusoidal", scale_by_sqrt_dim=True)
    >>> ids = np.array([[5, 7, 9, 0]])
    >>> hidden = layer(ids)
    >>> tuple(hidden.shape)
    (1, 4, 8)
    >>> tuple(layer.reverse(hidden).shape)
    (1, 4, 100)

    Args:
        vocabulary_size: int, rows of the own token table, the width of the
            logits of `reverse`; None takes it from `token_embedding`.
        sequence_length: int, the longest sequence the layer accepts.
        embedding_dim: int, width of the output; None takes the token width.
        position: `"learned"` (default), `"sinusoidal"` or None.
        token_embedding: None (own table) or a Keras layer mapping ids to vectors.
        token_projection: bool, project token vectors to `embedding_dim`.
        scale_by_sqrt_dim: bool, multiply token vectors by `sqrt(embedding_dim)`.
        dropout: float in [0, 1), dropout rate on the output during training.
        tie_weights: bool, whether `reverse` uses the token table (default)
            or a separate `[embedding_dim, vocabulary_size]` matrix.
        mask_zero: bool, own table only: id 0 is padding. Defaults to `True`.
        max_wavelength: longest sinusoidal wavelength. Defaults to 10000.
        freeze: own table only: `"none"` (default) or `"all"`.
        schedulable: bool, let `callbacks.UnfreezeSchedule` thaw the own table.
        storage_dtype: own frozen table only: `"float32"`, `"float16"`,
            `"bfloat16"` or `"int8"`.
        out_of_range: own table only: `"oov"` (default) or `"error"`.
        embeddings_initializer: initializer of the tables. Defaults to `"uniform"`.
        embeddings_regularizer: regularizer of the own token table.
        row_optimizer: own table only: None or a `keras_embedx.optimizers`
            optimizer that trains its rows row-sparsely inside `fit`.
        **kwargs: base layer keyword arguments such as `name` and `dtype`.

    Call arguments:
        inputs: token ids, or hidden states `(..., embedding_dim)` when `reverse`.
        start_index: int or int scalar tensor, the first token's position.
        positions: optional int tensor of explicit positions.
        reverse: bool, return logits over the vocabulary for hidden states.
        training: bool, whether dropout applies.

    Input shape:
        `(batch_size, sequence_length)`, or what `token_embedding` takes.

    Output shape:
        `(batch_size, sequence_length, embedding_dim)`; with `reverse=True`,
        `(..., vocabulary_size)`.

    Reference:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
        - [Press and Wolf, 2017](https://arxiv.org/abs/1608.05859)
        - [Devlin et al., 2019](https://arxiv.org/abs/1810.04805)
    """

    def __init__(
        self,
        vocabulary_size,
        sequence_length,
        embedding_dim,
        position="learned",
        token_embedding=None,
        token_projection=False,
        scale_by_sqrt_dim=False,
        dropout=0.0,
        tie_weights=True,
        mask_zero=None,
        max_wavelength=10000,
        freeze="none",
        schedulable=False,
        storage_dtype="float32",
        out_of_range="oov",
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        row_optimizer=None,
        **kwargs,
    ):
        check_choice("position", position, POSITION_MODES)
        if position is not None or sequence_length is not None:
            sequence_length = check_positive_int("sequence_length", sequence_length)
        if token_embedding is not None and not isinstance(
            token_embedding, keras.layers.Layer
        ):
            raise ValueError(
                "`token_embedding` must be None or a Keras layer mapping ids to "
                "vectors (e.g. keras_embedx.layers.PretrainedEmbedding or "
                "keras.layers.Embedding). Received: "
                f"token_embedding={token_embedding!r}"
            )
        tokens = OwnTable if token_embedding is None else NestedLayer
        own_table = {
            "mask_zero": mask_zero,
            "freeze": freeze,
            "schedulable": schedulable,
            "storage_dtype": storage_dtype,
            "out_of_range": out_of_range,
            "row_optimizer": row_optimizer,
        }
        vocabulary_size, embedding_dim, mask_zero = tokens.check_arguments(
            token_embedding, vocabulary_size, embedding_dim, token_projection, own_table
        )
        if not 0.0 <= check_float("dropout", dropout) < 1.0:
            raise ValueError(
                f"`dropout` must be a float in [0, 1). Received: dropout={dropout!r}"
            )
        max_wavelength = check_float("max_wavelength", max_wavelength)
        if not max_wavelength > 0:
            raise ValueError(
                "`max_wavelength` must be a positive number. Received: "
                f"max_wavelength={max_wavelength!r}"
            )
        if mask_zero is not None:
            mask_zero = check_bool("mask_zero", mask_zero)
        for name, flag in (
            ("scale_by_sqrt_dim", scale_by_sqrt_dim),
            ("tie_weights", tie_weights),
            ("token_projection", token_projection),
        ):
            check_bool(name, flag)
        if not tie_weights and vocabulary_size is None:
            raise ValueError(
                "tie_weights=False needs `vocabulary_size` (the width of the "
                "logits of `reverse`), and the token layer does not tell it. "
                "Pass vocabulary_size=..."
            )
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.embedding_dim = embedding_dim
        self.position = position
        self.scale_by_sqrt_dim = bool(scale_by_sqrt_dim)
        self.dropout = float(dropout)
        self.tie_weights = bool(tie_weights)
        self.mask_zero = mask_zero
        self.max_wavelength = max_wavelength
        self.freeze = freeze
        self.out_of_range = out_of_range
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.embeddings_regularizer = keras.regularizers.get(embeddings_regularizer)
        self.autocast = False
        if token_embedding is None:
            token_embedding = EmbeddingTable(
                vocabulary_size,
                embedding_dim,
                num_frozen=vocabulary_size if freeze == "all" else 0,
                schedulable=schedulable,
                storage_dtype=storage_dtype,
                embeddings_initializer=clone_initializer(self.embeddings_initializer),
                embeddings_regularizer=embeddings_regularizer,
                row_optimizer=row_optimizer,
                dtype=self.dtype_policy,
                name="token_embedding",
            )
        self.token_embedding = token_embedding
        self._tokens = tokens(self)
        self.projection = None
        if token_projection:
            self.projection = keras.layers.Dense(
                embedding_dim,
                use_bias=False,
                dtype=self.dtype_policy,
                name="token_projection",
            )
        self.position_embedding = None
        if position == "learned":
            self.position_embedding = EmbeddingTable(
                sequence_length,
                embedding_dim,
                embeddings_initializer=clone_initializer(self.embeddings_initializer),
                dtype=self.dtype_policy,
                name="position_embedding",
            )
        self.dropout_layer = None
        if self.dropout > 0:
            self.dropout_layer = keras.layers.Dropout(
                self.dropout, dtype=self.dtype_policy, name="dropout"
            )
        EmbeddingTable.follow_owner_trainable(self)

    # ------------------------------------------------------------ building
    @classmethod
    def from_keras_hub(cls, layer, **kwargs):
        """A `TokenAndPosition` with the weights of a keras-hub layer.

        Args:
            layer: a built `keras_hub.layers.TokenAndPositionEmbedding`.
            **kwargs: constructor arguments to add or override (e.g.
                `freeze="all"`, `schedulable=True`, `dropout=0.1`, `name`).
                Overriding `mask_zero`, `tie_weights` or `dtype` changes
                outputs accordingly.

        Returns:
            A built `TokenAndPosition` whose outputs (and `reverse` logits)
            equal the keras-hub layer's for in-range ids.
        """
        hub = sys.modules.get("keras_hub")
        if hub is None or not isinstance(layer, hub.layers.TokenAndPositionEmbedding):
            raise ValueError(
                "Expected a keras_hub.layers.TokenAndPositionEmbedding. "
                f"Received: {type(layer).__name__}"
            )
        if not layer.built:
            raise ValueError(
                f"The keras-hub layer {layer.name!r} has no weights yet: call it "
                "once on token ids (or build it) before converting."
            )
        token = layer.token_embedding
        if token.quantization_mode is not None:
            raise ValueError(
                f"The keras-hub layer {layer.name!r} is quantized "
                f"({token.quantization_mode}); convert it before quantizing."
            )
        for name in ("position", "token_embedding"):
            if name in kwargs and kwargs[name] != {"position": "learned"}.get(name):
                raise ValueError(
                    f"`{name}` is fixed by the keras-hub layer. Received: "
                    f"{name}={kwargs[name]!r}"
                )
        config = {
            "vocabulary_size": layer.vocabulary_size,
            "sequence_length": layer.sequence_length,
            "embedding_dim": layer.embedding_dim,
            "tie_weights": token.tie_weights,
            "mask_zero": token.mask_zero,
            "embeddings_initializer": clone_initializer(layer.embeddings_initializer),
            "dtype": layer.dtype_policy,
        }
        config.update(kwargs)
        new = cls(**config)
        new.build()
        new.token_embedding.set_table(ops.convert_to_numpy(token.embeddings))
        new.position_embedding.set_table(
            ops.convert_to_numpy(layer.position_embedding.position_embeddings)
        )
        if not new.tie_weights:
            new.reverse_embeddings.assign(
                ops.convert_to_numpy(token.reverse_embeddings)
            )
        return new

    def build(self, input_shape=None):
        if self.built:
            return
        width = self._tokens.build(input_shape)
        if self.embedding_dim is None:
            self.embedding_dim = width
        if input_shape is not None:
            check_static_length(self, self._tokens.output_shape(input_shape)[-2])
        if self.projection is not None:
            self.projection.build((None, width))
        elif width != self.embedding_dim:
            raise token_width_error(width, self.embedding_dim)
        if self.position_embedding is not None:
            self.position_embedding.build()
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(
                name="reverse_embeddings",
                shape=(self.embedding_dim, self.vocabulary_size),
                initializer=clone_initializer(self.embeddings_initializer),
                dtype="float32",
                trainable=True,
            )
        self.built = True

    # ---------------------------------------------------------------- call
    def __call__(self, inputs, *args, **kwargs):
        reverse = kwargs.get("reverse", args[2] if len(args) > 2 else False)
        if not reverse:
            inputs = self._tokens.checked_ids(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, start_index=0, positions=None, reverse=False, training=None):
        if reverse:
            if training and self.tie_weights and self._tokens.row_sparse():
                raise ValueError(
                    "The tied `reverse` projection reads every row of the token "
                    "table, which trains row-sparsely (row_optimizer="
                    f"{self.token_embedding.row_optimizer!r}): it would get no "
                    "gradient. Build the layer with tie_weights=False, or "
                    "row_optimizer=None."
                )
            return self._reverse(inputs)
        x = self._tokens.embed(dense_ids(inputs), training)
        if self.projection is not None:
            x = self.projection(x)
        if self.scale_by_sqrt_dim:
            x = x * ops.cast(math.sqrt(self.embedding_dim), x.dtype)
        if self.position is not None or self.sequence_length is not None:
            x = add_positions(self, x, start_index, positions)
        if self.dropout_layer is not None:
            x = self.dropout_layer(x, training=training)
        return x

    # ------------------------------------------------------------- reverse
    def reverse(self, hidden):
        """Logits over the vocabulary for hidden states `[..., embedding_dim]`.

        With `tie_weights=True` this is `hidden @ P.T @ E.T` for the token
        table `E` and the token projection kernel `P` (when there is one),
        i.e. the transpose of how tokens enter the model; with
        `tie_weights=False` it is `hidden @ reverse_embeddings`. Works in
        functional models (it calls the layer with `reverse=True`).
        """
        if not self.built:
            raise ValueError(
                f"Layer {self.name!r} is not built: call it on token ids before "
                "`reverse`."
            )
        return self(hidden, reverse=True)

    def _reverse(self, hidden):
        width = ops.shape(hidden)[-1]
        if width is not None and width != self.embedding_dim:
            raise ValueError(
                f"`reverse` takes hidden states of width embedding_dim="
                f"{self.embedding_dim} (the last axis). Received: "
                f"hidden.shape={tuple(ops.shape(hidden))}"
            )
        dtype = self.compute_dtype
        hidden = ops.cast(hidden, dtype)
        if not self.tie_weights:
            return ops.matmul(hidden, ops.cast(self.reverse_embeddings, dtype))
        if self.projection is not None:
            kernel = ops.cast(self.projection.kernel, dtype)
            hidden = ops.matmul(hidden, ops.transpose(kernel))
        table = ops.cast(self._tokens.tied_table(), dtype)
        return ops.matmul(hidden, ops.transpose(table))

    # -------------------------------------------------------------- shapes
    def compute_mask(self, inputs, mask=None):
        if _hidden_states(inputs, self.embedding_dim):
            # A `reverse` call: the mask of the hidden states passes through.
            return mask
        return self._tokens.mask(dense_ids(inputs), mask)

    def compute_output_shape(self, input_shape, reverse=False):
        input_shape = tuple(input_shape)
        if reverse:
            return (*input_shape[:-1], self._logits_width())
        return (*self._tokens.output_shape(input_shape)[:-1], self.embedding_dim)

    def compute_output_spec(
        self, inputs, start_index=0, positions=None, reverse=False, training=None
    ):
        shape = self.compute_output_shape(inputs.shape, reverse=reverse)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def _logits_width(self):
        if self.vocabulary_size is not None:
            return self.vocabulary_size
        if self.tie_weights:
            return int(ops.shape(self._tokens.tied_table())[0])
        return None

    # ---------------------------------------------------------- inspection
    def embedding_tables(self):
        """The token tables: a list of `(name, EmbeddingTable, vocabulary)`.

        The own token table, or those of a nested keras_embedx layer (names
        prefixed with `"token_embedding/"`). Position tables are not listed:
        they have no vocabulary axis.
        """
        token = self.token_embedding
        if isinstance(self._tokens, OwnTable):
            return [TableRef("token_embedding", token, None)]
        if isinstance(token, TableLayer):
            return [
                TableRef(f"token_embedding/{name}", table, vocabulary)
                for name, table, vocabulary in token.embedding_tables()
            ]
        return []

    def get_vocabulary(self):
        """The nested token layer's vocabulary (when it has one)."""
        if isinstance(self.token_embedding, TableLayer):
            return self.token_embedding.get_vocabulary()
        raise ValueError(
            f"Layer {self.name!r} has no vocabulary: its token part "
            f"({type(self.token_embedding).__name__}) does not keep one."
        )

    # -------------------------------------------------------------- weights
    _layout_keys = {"token_embedding": ("freeze", "storage_dtype", "schedulable")}

    def _weight_parts(self):
        # keras-hub's order: the token table (and the untied output
        # projection), then the position table.
        return [
            self.token_embedding,
            None if self.tie_weights else self.reverse_embeddings,
            self.position_embedding,
        ]

    # -------------------------------------------------------------- saving
    def get_config(self):
        config = super().get_config()
        tokens = self._tokens.config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length,
                "embedding_dim": self.embedding_dim,
                "position": self.position,
                "token_embedding": tokens["token_embedding"],
                "token_projection": self.projection is not None,
                "scale_by_sqrt_dim": self.scale_by_sqrt_dim,
                "dropout": self.dropout,
                "tie_weights": self.tie_weights,
                "mask_zero": self.mask_zero,
                "max_wavelength": self.max_wavelength,
                "freeze": self.freeze,
                "schedulable": tokens["schedulable"],
                "storage_dtype": tokens["storage_dtype"],
                "out_of_range": self.out_of_range,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
                "embeddings_regularizer": keras.regularizers.serialize(
                    self.embeddings_regularizer
                ),
                "row_optimizer": tokens["row_optimizer"],
            }
        )
        return self._with_quantized(config)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        token = config.get("token_embedding")
        if isinstance(token, dict):
            config["token_embedding"] = keras.saving.deserialize_keras_object(token)
        return super().from_config(config)


def _hidden_states(inputs, embedding_dim):
    """Whether `inputs` are the hidden states of a `reverse` call, not ids.

    Ids of a token part that reads ids reach Keras as ints (`int_ids`), so
    floating-point inputs as wide as the vectors are hidden states.
    """
    return (
        keras.backend.is_float_dtype(ops.dtype(inputs))
        and inputs.shape[-1] == embedding_dim
    )
