"""`TokenAndPosition`: token plus position embeddings for Transformers."""

import math

import keras
import numpy as np
from keras import ops

from keras_embedx._checks import (
    check_bool,
    check_choice,
    check_float,
    check_positive_int,
    width_error,
)
from keras_embedx.layers._ids import check_ids, dense_ids, positions_along
from keras_embedx.layers._row_sparse import serialize_row_optimizer
from keras_embedx.layers._weights import TableOwner
from keras_embedx.layers.table import (
    OUT_OF_RANGE_MODES,
    EmbeddingTable,
    remap_out_of_range,
)
from keras_embedx.layers.table import is_concrete as _is_concrete

POSITION_MODES = ("learned", "sinusoidal", None)
FREEZE_MODES = ("none", "all")


def _clone_initializer(initializer):
    """A fresh copy of an initializer, so that each table draws its own values.

    Initializer objects are rebuilt from their config; a plain function
    (which Keras and keras-hub accept too) holds no state and is returned
    as is.
    """
    if not isinstance(initializer, keras.initializers.Initializer):
        return initializer
    return initializer.__class__.from_config(initializer.get_config())


@keras.saving.register_keras_serializable(package="keras_embedx")
class TokenAndPosition(TableOwner, keras.layers.Layer):
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
        if token_embedding is None:
            vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size)
            embedding_dim = check_positive_int("embedding_dim", embedding_dim)
            check_choice("freeze", freeze, FREEZE_MODES)
            check_choice("out_of_range", out_of_range, OUT_OF_RANGE_MODES)
            if mask_zero is None:
                mask_zero = True
        else:
            vocabulary_size = _nested_vocabulary_size(token_embedding, vocabulary_size)
            own_only = {
                "mask_zero": (mask_zero, None),
                "freeze": (freeze, "none"),
                "schedulable": (schedulable, False),
                "storage_dtype": (storage_dtype, "float32"),
                "out_of_range": (out_of_range, "oov"),
                "row_optimizer": (row_optimizer, None),
            }
            for name, (value, default) in own_only.items():
                if value != default:
                    raise ValueError(
                        f"`{name}` applies to the layer's own token table; with a "
                        "`token_embedding` set it on that layer instead. Received: "
                        f"{name}={value!r}"
                    )
            if embedding_dim is None:
                if token_projection:
                    raise ValueError(
                        "token_projection=True needs `embedding_dim`, the width "
                        "to project to. Received: embedding_dim=None"
                    )
                embedding_dim = getattr(token_embedding, "output_dim", None)
            if embedding_dim is not None:
                embedding_dim = check_positive_int("embedding_dim", embedding_dim)
                width = getattr(token_embedding, "output_dim", None)
                if not token_projection and width not in (None, embedding_dim):
                    raise _width_error(width, embedding_dim)
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
        self._owns_table = token_embedding is None
        self._reverse_mode = False
        if self._owns_table:
            token_embedding = EmbeddingTable(
                vocabulary_size,
                embedding_dim,
                num_frozen=vocabulary_size if freeze == "all" else 0,
                schedulable=schedulable,
                storage_dtype=storage_dtype,
                embeddings_initializer=_clone_initializer(self.embeddings_initializer),
                embeddings_regularizer=embeddings_regularizer,
                row_optimizer=row_optimizer,
                dtype=self.dtype_policy,
                name="token_embedding",
            )
        self.token_embedding = token_embedding
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
                embeddings_initializer=_clone_initializer(self.embeddings_initializer),
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
        required = ("token_embedding", "position_embedding", "sequence_length")
        if not all(hasattr(layer, name) for name in required):
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
        if getattr(token, "quantization_mode", None) is not None:
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
            "embeddings_initializer": _clone_initializer(layer.embeddings_initializer),
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
        token = self.token_embedding
        if self._owns_table:
            token.build()
            if token.num_frozen:
                # A frozen table starts from the initializer, not zeros.
                init = _clone_initializer(self.embeddings_initializer)
                shape = (token.num_rows, token.output_dim)
                token.set_table(ops.convert_to_numpy(init(shape, dtype="float32")))
            width = self.embedding_dim
        else:
            if not token.built:
                token.build(input_shape)
            width = None
            if input_shape is not None:
                width = self._token_output_shape(input_shape)[-1]
            if width is None:
                width = getattr(token, "output_dim", None)
            if width is None:
                raise ValueError(
                    f"Cannot tell the width of the vectors of {token.name!r}: "
                    "build the layer on an input shape, or pass `embedding_dim`."
                )
            if self.embedding_dim is None:
                self.embedding_dim = int(width)
        if input_shape is not None:
            self._check_static_length(self._token_output_shape(input_shape)[-2])
        if self.projection is not None:
            self.projection.build((None, width))
        elif width != self.embedding_dim:
            raise _width_error(width, self.embedding_dim)
        if self.position_embedding is not None:
            self.position_embedding.build()
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(
                name="reverse_embeddings",
                shape=(self.embedding_dim, self.vocabulary_size),
                initializer=_clone_initializer(self.embeddings_initializer),
                dtype="float32",
                trainable=True,
            )
        self.built = True

    def _token_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self._owns_table:
            return (*input_shape, self.embedding_dim)
        spec = self.token_embedding.compute_output_spec(
            keras.KerasTensor(input_shape, dtype="int32")
        )
        return tuple(spec.shape)

    # ---------------------------------------------------------------- call
    def __call__(self, inputs, *args, **kwargs):
        reverse = kwargs.get("reverse", args[2] if len(args) > 2 else False)
        if not reverse:
            inputs = self._checked_ids(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def _checked_ids(self, inputs):
        # Strings, and ids JAX would truncate, are only visible before Keras
        # converts the inputs (see `keras_embedx.layers._ids`); a nested
        # keras_embedx layer checks them for its own table.
        if self._owns_table:
            return check_ids(self, inputs, self.vocabulary_size, self.out_of_range)
        nested = getattr(self.token_embedding, "_checked_ids", None)
        return inputs if nested is None else nested(inputs)

    def call(self, inputs, start_index=0, positions=None, reverse=False, training=None):
        self._reverse_mode = bool(reverse)
        if reverse:
            if training and self.tie_weights and self._row_sparse_table():
                raise ValueError(
                    "The tied `reverse` projection reads every row of the token "
                    "table, which trains row-sparsely (row_optimizer="
                    f"{self.token_embedding.row_optimizer!r}): it would get no "
                    "gradient. Build the layer with tie_weights=False, or "
                    "row_optimizer=None."
                )
            return self._reverse(inputs)
        x = self._embed_tokens(dense_ids(inputs), training)
        if self.position is not None or self.sequence_length is not None:
            x = self._add_positions(x, start_index, positions)
        if self.dropout_layer is not None:
            x = self.dropout_layer(x, training=training)
        return x

    def _row_sparse_table(self):
        return getattr(self.token_embedding, "row_optimizer", None) is not None or (
            getattr(getattr(self.token_embedding, "table", None), "row_optimizer", None)
            is not None
        )

    def _embed_tokens(self, inputs, training=None):
        if self._owns_table:
            x = self.token_embedding.lookup(
                inputs,
                oov_id=min(1, self.vocabulary_size - 1),
                out_of_range=self.out_of_range,
                training=training,
            )
        else:
            x = ops.cast(self.token_embedding(inputs), self.compute_dtype)
        if self.projection is not None:
            x = self.projection(x)
        if self.scale_by_sqrt_dim:
            x = x * ops.cast(math.sqrt(self.embedding_dim), x.dtype)
        return x

    def _add_positions(self, x, start_index, positions):
        length = ops.shape(x)[-2]
        if positions is None:
            if isinstance(start_index, (bool, float, np.floating)) or (
                isinstance(start_index, (int, np.integer)) and start_index < 0
            ):
                raise ValueError(
                    "`start_index` must be an int >= 0 (the position of the "
                    f"first token). Received: start_index={start_index!r}"
                )
            if isinstance(start_index, (int, np.integer)):
                start_index = int(start_index)
            static = isinstance(length, int) and isinstance(start_index, int)
            if static:
                self._check_static_length(length + start_index, start_index)
            else:
                self._check_concrete_positions(start_index, length)
            if self.position is None:
                return x
            if static and self.position == "learned":
                # A run of rows known now: slice the table, as keras-hub does.
                table = self.position_embedding.dense_table()
                return x + ops.slice(
                    table, (start_index, 0), (length, self.embedding_dim)
                )
            ids = positions_along(x, -2)
            if not (isinstance(start_index, int) and start_index == 0):
                ids = ids + ops.cast(start_index, "int32")
        else:
            static = False
            self._check_positions_shape(ops.shape(positions), ops.shape(x))
            ids = ops.cast(positions, "int32")
            self._check_concrete_positions(ids, None)
            if self.position is None:
                return x
        bad = None
        if not static:
            # Only reached when the length or start is known at run time
            # inside a compiled function: mark positions past the end.
            ids, bad = remap_out_of_range(
                ids, self.sequence_length, oov_id=0, mode="error"
            )
        if self.position == "learned":
            encoding = self.position_embedding(ids)
        else:
            encoding = self._sinusoid(ids)
        if bad is not None:
            encoding = ops.where(ops.expand_dims(bad, -1), float("nan"), encoding)
        return x + encoding

    def _sinusoid(self, ids):
        """keras-hub's `SinePositionEncoding` for these positions, in float32.

        Dimensions `2k` and `2k + 1` share one angle (sine, then cosine), so
        each angle is computed once and each of sin/cos on half the columns:
        the same float32 values as keras-hub's layer at half the work.
        """
        dim = self.embedding_dim
        half = (dim + 1) // 2
        angles_at = ops.cast(ids, "float32")
        if len(angles_at.shape) == 1:
            angles_at = ops.expand_dims(angles_at, 0)
        min_freq = ops.cast(1 / self.max_wavelength, "float32")
        timescales = ops.power(
            min_freq,
            ops.cast(2 * np.arange(half), "float32") / ops.cast(dim, "float32"),
        )
        angles = ops.expand_dims(angles_at, -1) * timescales
        pairs = ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1)
        encoding = ops.reshape(pairs, (*ops.shape(angles)[:-1], 2 * half))
        if 2 * half != dim:
            encoding = encoding[..., :dim]
        return ops.cast(encoding, self.compute_dtype)

    def _check_static_length(self, end, start_index=0):
        if self.sequence_length is None or end is None or end <= self.sequence_length:
            return
        where = f" starting at start_index={start_index}" if start_index else ""
        raise ValueError(
            f"Layer {self.name!r} takes sequences of at most "
            f"sequence_length={self.sequence_length} tokens. Received a sequence "
            f"of {end - start_index} tokens{where}, which needs {end} positions. "
            "Truncate the inputs (e.g. Vocabulary.encode(..., sequence_length=N)) "
            "or build the layer with a larger `sequence_length`."
        )

    @staticmethod
    def _check_positions_shape(shape, x_shape):
        """`positions` must be `(length,)` or `(batch, length)` for the inputs."""
        batch, length = x_shape[0], x_shape[-2]
        fits = len(shape) in (1, 2) and shape[-1] in (length, None)
        if fits and len(shape) == 2 and None not in (shape[0], batch):
            fits = shape[0] in (1, batch)
        if not fits or (len(x_shape) != 3 and len(shape) == 2):
            raise ValueError(
                "`positions` must have shape (sequence_length,) or (batch_size, "
                f"sequence_length) matching the inputs' {tuple(x_shape[:-1])}. "
                f"Received: positions.shape={tuple(shape)}"
            )

    def _check_concrete_positions(self, start_or_ids, length):
        """Raise for out-of-range positions when their values are known."""
        if self.sequence_length is None or not _is_concrete(start_or_ids):
            return
        values = np.asarray(ops.convert_to_numpy(start_or_ids))
        if length is not None and values.size and values.min() < 0:
            raise ValueError(
                "`start_index` must be >= 0 (the position of the first token). "
                f"Received: start_index={values.tolist()}"
            )
        if length is not None:
            if isinstance(length, int):
                self._check_static_length(int(values) + length, int(values))
            return
        if values.size and (values.min() < 0 or values.max() >= self.sequence_length):
            raise ValueError(
                f"`positions` must lie in [0, {self.sequence_length}) "
                f"(sequence_length). Received values from {values.min()} to "
                f"{values.max()}."
            )

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
        table = ops.cast(self._tied_table(), dtype)
        return ops.matmul(hidden, ops.transpose(table))

    def _tied_table(self):
        token = self.token_embedding
        if self._owns_table:
            return token.dense_table()
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

    # -------------------------------------------------------------- shapes
    def compute_mask(self, inputs, mask=None):
        # Keras calls this right after `call`/`compute_output_spec`, which
        # record whether that was a `reverse` call (hidden states in, whose
        # mask passes through) or a forward one (ids in).
        reverse, self._reverse_mode = self._reverse_mode, False
        if reverse:
            return mask
        inputs = dense_ids(inputs)
        if self._owns_table:
            return ops.not_equal(inputs, 0) if self.mask_zero else mask
        token = self.token_embedding
        token_mask = token.compute_mask(inputs, None)
        if token_mask is None and getattr(token, "mask_zero", False):
            # keras.layers.ReversibleEmbedding masks in `call`, not here.
            token_mask = ops.not_equal(inputs, 0)
        return mask if token_mask is None else token_mask

    def compute_output_shape(self, input_shape, reverse=False):
        input_shape = tuple(input_shape)
        if reverse:
            return (*input_shape[:-1], self._logits_width())
        return (*self._token_output_shape(input_shape)[:-1], self.embedding_dim)

    def compute_output_spec(
        self, inputs, start_index=0, positions=None, reverse=False, training=None
    ):
        self._reverse_mode = bool(reverse)
        shape = self.compute_output_shape(inputs.shape, reverse=reverse)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def _logits_width(self):
        if self.vocabulary_size is not None:
            return self.vocabulary_size
        if self.tie_weights:
            return int(ops.shape(self._tied_table())[0])
        return None

    # ---------------------------------------------------------- inspection
    def embedding_tables(self):
        """The token tables: a list of `(name, EmbeddingTable, vocabulary)`.

        The own token table, or those of a nested keras_embedx layer (names
        prefixed with `"token_embedding/"`). Position tables are not listed:
        they have no vocabulary axis.
        """
        token = self.token_embedding
        if self._owns_table:
            return [("token_embedding", token, None)]
        if hasattr(token, "embedding_tables"):
            return [
                (f"token_embedding/{name}", table, vocabulary)
                for name, table, vocabulary in token.embedding_tables()
            ]
        return []

    def get_vocabulary(self):
        """The nested token layer's vocabulary (when it has one)."""
        if hasattr(self.token_embedding, "get_vocabulary"):
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
        token = self.token_embedding
        own = self._owns_table
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length,
                "embedding_dim": self.embedding_dim,
                "position": self.position,
                "token_embedding": (
                    None if own else keras.saving.serialize_keras_object(token)
                ),
                "token_projection": self.projection is not None,
                "scale_by_sqrt_dim": self.scale_by_sqrt_dim,
                "dropout": self.dropout,
                "tie_weights": self.tie_weights,
                "mask_zero": self.mask_zero,
                "max_wavelength": self.max_wavelength,
                "freeze": self.freeze,
                "schedulable": token.schedulable if own else False,
                "storage_dtype": token.storage_dtype if own else "float32",
                "out_of_range": self.out_of_range,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
                "embeddings_regularizer": keras.regularizers.serialize(
                    self.embeddings_regularizer
                ),
                "row_optimizer": serialize_row_optimizer(
                    token.row_optimizer if own else None
                ),
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


def _row_per_id_table(token):
    """The table a nested token layer indexes with its input ids, or None.

    Only layers that look ids up one row each qualify: those with an
    `input_dim` (the table's rows), i.e. `keras.layers.Embedding` (its
    `embeddings` variable) and `PretrainedEmbedding` (its `EmbeddingTable`).
    Layers that compose a vector from several rows (characters, n-grams)
    have no such table.
    """
    rows = getattr(token, "input_dim", None)
    if rows is None:
        return None
    if hasattr(token, "embedding_tables"):
        tables = [t for _, t, _ in token.embedding_tables() if t.num_rows == rows]
        return tables[0] if len(tables) == 1 else None
    embeddings = getattr(token, "embeddings", None)
    return embeddings if isinstance(embeddings, keras.Variable) else None


def _nested_vocabulary_size(token, vocabulary_size):
    """The rows of a nested token layer's table, checked against the argument."""
    rows = getattr(token, "input_dim", None)
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


def _width_error(width, embedding_dim):
    return width_error(
        "The token vectors",
        width,
        "embedding_dim",
        embedding_dim,
        "Pass token_projection=True to learn a projection, or "
        f"embedding_dim={width} (or None) to keep their width.",
    )
