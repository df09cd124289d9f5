"""`CharEmbedding`: word vectors built from characters (char CNN or char BiLSTM)."""

import keras
from keras import ops

from keras_embedx._checks import check_choice, check_float, check_positive_int
from keras_embedx.layers._fast import compiled_when_eager
from keras_embedx.layers._ids import (
    IdInputLayer,
    check_ids,
    dense_ids,
    own_encoder_hint,
    positions_along,
)
from keras_embedx.layers._row_sparse import serialize_row_optimizer
from keras_embedx.layers.base import TableLayer, TableRef
from keras_embedx.layers.table import (
    OUT_OF_RANGE_MODES,
    EmbeddingTable,
    embeddings_value,
    remap_out_of_range,
)
from keras_embedx.preprocessing.chars import NUM_RESERVED, OOV_ID, CharInventory

ENCODERS = ("cnn", "bilstm")
FREEZE_MODES = ("none", "all")
ELMO_FILTERS = [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]]
# Kim et al. 2016, Table 2: d = 15, widths 1..6 with 25*w filters (small) or
# 1..7 with min(200, 50*w) (large), tanh; highway layers 1 (small) / 2 (large)
# with ReLU. ELMo: AllenNLP's elmo_2x4096_512_2048cnn_2xhighway_options.json.
PRESETS = {
    "kim_small": {
        "encoder": "cnn",
        "char_dim": 15,
        "filters": [[w, 25 * w] for w in range(1, 7)],
        "activation": "tanh",
        "highway_layers": 1,
        "highway_activation": "relu",
        "highway_gate_bias": -2.0,
        "output_dim": None,
    },
    "kim_large": {
        "encoder": "cnn",
        "char_dim": 15,
        "filters": [[w, min(200, 50 * w)] for w in range(1, 8)],
        "activation": "tanh",
        "highway_layers": 2,
        "highway_activation": "relu",
        "highway_gate_bias": -2.0,
        "output_dim": None,
    },
    "elmo": {
        "encoder": "cnn",
        "char_dim": 16,
        "filters": ELMO_FILTERS,
        "activation": "relu",
        "highway_layers": 2,
        "highway_activation": "relu",
        "highway_gate_bias": -1.0,
        "max_chars": 50,
        "output_dim": 512,
    },
}
_DEFAULTS = {
    "cnn": {"char_dim": 15, "highway_layers": 1},
    "bilstm": {"char_dim": 50, "highway_layers": 0},
}


def _check_filters(filters):
    msg = (
        "`filters` must be a non-empty list of [width, count] pairs of positive "
        f"ints, e.g. [[1, 32], [2, 64]]. Received: filters={filters!r}"
    )
    if isinstance(filters, (str, bytes)) or not hasattr(filters, "__iter__"):
        raise ValueError(msg)
    out = []
    for pair in filters:
        if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__"):
            raise ValueError(msg)
        if len(pair) != 2:
            raise ValueError(msg)
        try:
            out.append([check_positive_int("width", w) for w in pair])
        except ValueError:
            raise ValueError(msg) from None
    if not out:
        raise ValueError(msg)
    return out


@keras.saving.register_keras_serializable(package="keras_embedx")
class CharEmbedding(TableLayer, IdInputLayer):
    """Word vectors built from characters: a char CNN with highway layers, or a char BiLSTM.

    Each word is a row of character ids (`layer.encode(words)` makes them,
    with NumPy only), looked up in a character table and encoded by a
    convolution per filter width with max over time and highway layers
    (`encoder="cnn"`, Kim et al.; ELMo's character encoder) or by a forward
    and a backward LSTM (`encoder="bilstm"`, Ling et al.), then projected to
    `output_dim`. Padding characters never change a word's vector; a word of
    padding only gives zeros and is masked. Presets:
    `CharEmbedding.from_preset("kim_small" | "kim_large" | "elmo")`; learned
    inventories: `CharEmbedding.from_texts(texts, output_dim)`.

    Example:

    >>> layer = keras_embedx.layers.CharEmbedding(32, max_chars=12)
    >>> ids = layer.encode([["unseen", "words"], ["work"]])
    >>> ids.shape
    (2, 2, 12)
    >>> tuple(layer(ids).shape)
    (2, 2, 32)
    >>> keras.ops.convert_to_numpy(layer.compute_mask(ids)).tolist()
    [[True, True], [True, False]]

    Args:
        output_dim: int or None, width of each word vector (None: no projection).
        encoder: `"cnn"` (default) or `"bilstm"`.
        max_chars: int, characters per word for `encode`, markers included.
            Defaults to 50.
        chars: None (UTF-8 bytes, default) or a str / list of single characters.
        word_boundaries: bool, whether `encode` wraps words in `[BOW]`/`[EOW]`.
        char_dim: int, width of the character vectors (15 CNN, 50 BiLSTM).
        filters: list of `[width, count]` (CNN); defaults to Kim et al.'s small.
        activation: activation after the max over time (CNN). Defaults to `"tanh"`.
        highway_layers: int, highway layers (default 1 for CNN, 0 for BiLSTM).
        highway_activation: activation of the highway transform (`"relu"`).
        highway_gate_bias: float, initial transform gate bias. Defaults to -2.
        lstm_units: int, units per direction (BiLSTM). Defaults to 150.
        freeze: `"none"` (default) or `"all"`: whether the character table trains.
        schedulable: bool, let `callbacks.UnfreezeSchedule` thaw a frozen table.
        out_of_range: `"oov"` (default, read `[UNK]`) or `"error"`.
        embeddings_initializer: initializer of the character table.
        embeddings_regularizer: regularizer of the character table.
        kernel_initializer: initializer of the convolution, LSTM, highway and
            projection kernels.
        row_optimizer: None or a `keras_embedx.optimizers` optimizer that
            trains the table's rows row-sparsely inside `fit`.
        **kwargs: base layer keyword arguments such as `name` and `dtype`.

    Call arguments:
        inputs: int tensor of character ids, the last axis one word's characters.
        training: bool, whether the call is a training step.

    Input shape:
        `(batch_size, words, chars)` (any rank >= 2).

    Output shape:
        `(batch_size, words, output_dim)`.

    Reference:
        - [Kim et al., 2016](https://arxiv.org/abs/1508.06615), Table 2.
        - [Ling et al., 2015](https://aclanthology.org/D15-1176/).
        - [Peters et al., 2018](https://aclanthology.org/N18-1202/) (ELMo).
        - [Srivastava et al., 2015](https://arxiv.org/abs/1505.00387)
          (highway networks).
    """

    def __init__(
        self,
        output_dim,
        encoder="cnn",
        max_chars=50,
        chars=None,
        word_boundaries=True,
        char_dim=None,
        filters=None,
        activation="tanh",
        highway_layers=None,
        highway_activation="relu",
        highway_gate_bias=-2.0,
        lstm_units=150,
        freeze="none",
        schedulable=False,
        out_of_range="oov",
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        kernel_initializer="glorot_uniform",
        row_optimizer=None,
        **kwargs,
    ):
        if output_dim is not None:
            output_dim = check_positive_int("output_dim", output_dim)
        check_choice("encoder", encoder, ENCODERS)
        check_choice("freeze", freeze, FREEZE_MODES)
        check_choice("out_of_range", out_of_range, OUT_OF_RANGE_MODES)
        defaults = _DEFAULTS[encoder]
        if char_dim is None:
            char_dim = defaults["char_dim"]
        char_dim = check_positive_int("char_dim", char_dim)
        if highway_layers is None:
            highway_layers = defaults["highway_layers"]
        highway_layers = check_positive_int(
            "highway_layers", highway_layers, allow_zero=True
        )
        lstm_units = check_positive_int("lstm_units", lstm_units)
        if encoder == "cnn":
            filters = _check_filters(
                filters if filters is not None else PRESETS["kim_small"]["filters"]
            )
        elif filters is not None:
            raise ValueError(
                "`filters` applies to encoder='cnn'. Received: filters="
                f"{filters!r} with encoder={encoder!r}"
            )
        # Validates max_chars, chars and word_boundaries.
        self.inventory = CharInventory(chars, max_chars, word_boundaries)
        super().__init__(**kwargs)
        self.output_dim = output_dim
        self.encoder = encoder
        self.char_dim = char_dim
        self.filters = filters
        self.activation = keras.activations.get(activation)
        self.highway_layers = highway_layers
        self.highway_activation = keras.activations.get(highway_activation)
        self.highway_gate_bias = check_float("highway_gate_bias", highway_gate_bias)
        self.lstm_units = lstm_units
        self.freeze = freeze
        self.out_of_range = out_of_range
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True
        self.autocast = False
        self.num_chars = len(self.inventory)
        self.table = EmbeddingTable(
            self.num_chars,
            char_dim,
            num_frozen=self.num_chars if freeze == "all" else 0,
            schedulable=schedulable,
            embeddings_initializer=embeddings_initializer,
            embeddings_regularizer=embeddings_regularizer,
            row_optimizer=row_optimizer,
            dtype=self.dtype_policy,
            name="char_table",
        )
        sub = {"dtype": self.dtype_policy, "kernel_initializer": kernel_initializer}
        if encoder == "cnn":
            self.convs = [
                keras.layers.Conv1D(count, width, name=f"conv_{i}", **sub)
                for i, (width, count) in enumerate(filters)
            ]
            self.encoder_dim = sum(count for _, count in filters)
        else:
            self.forward_lstm = keras.layers.LSTM(
                lstm_units, name="forward_lstm", **sub
            )
            self.backward_lstm = keras.layers.LSTM(
                lstm_units, go_backwards=True, name="backward_lstm", **sub
            )
            self.encoder_dim = 2 * lstm_units
        self.highways = [
            keras.layers.Dense(2 * self.encoder_dim, name=f"highway_{i}", **sub)
            for i in range(highway_layers)
        ]
        self.projection = (
            None
            if output_dim is None
            else keras.layers.Dense(output_dim, name="projection", **sub)
        )
        EmbeddingTable.follow_owner_trainable(self)

    # ------------------------------------------------------------ building
    @classmethod
    def from_preset(cls, preset, **kwargs):
        """A layer configured as a published model.

        Args:
            preset: `"kim_small"` or `"kim_large"` (Kim et al. 2016, Table 2:
                15-dim characters; widths 1-6 with `25 * w` filters, or 1-7
                with `min(200, 50 * w)`; tanh; 1 or 2 ReLU highway layers; no
                projection), or `"elmo"` (Peters et al. 2018: 16-dim
                characters, filters `[[1, 32], [2, 32], [3, 64], [4, 128],
                [5, 256], [6, 512], [7, 1024]]`, relu, 2 highway layers, 50
                characters per word, projection to 512).
            **kwargs: overrides (`output_dim`, `chars`, `max_chars`, ...).
        """
        check_choice("preset", preset, tuple(PRESETS))
        config = dict(PRESETS[preset])
        config.update(kwargs)
        return cls(**config)

    @classmethod
    def from_texts(cls, texts, output_dim, max_tokens=None, min_count=1, **kwargs):
        """A layer whose character inventory is learned from texts.

        Args:
            texts: iterable of str (split on whitespace) or of word lists.
            output_dim: int or None, see the class.
            max_tokens: int or None, inventory size including the 4 reserved
                ids; the most frequent characters are kept.
            min_count: int, drop characters seen fewer times.
            **kwargs: passed to the constructor.
        """
        inventory = CharInventory.from_texts(
            texts, max_tokens=max_tokens, min_count=min_count
        )
        return cls(output_dim, chars=inventory.chars, **kwargs)

    def build(self, input_shape=None):
        if self.built:
            return
        self.table.build()
        if self.table.num_frozen:
            # A frozen table still needs values: draw them once (weights loaded
            # later overwrite them).
            init = self.table.embeddings_initializer
            shape = (self.num_chars, self.char_dim)
            self.table.set_table(ops.convert_to_numpy(init(shape, dtype="float32")))
        if self.encoder == "cnn":
            width = max(w for w, _ in self.filters)
            chars = None if input_shape is None else input_shape[-1]
            steps = None if chars is None else max(chars, width)
            for conv in self.convs:
                conv.build((None, steps, self.char_dim))
        else:
            for lstm in (self.forward_lstm, self.backward_lstm):
                lstm.build((None, None, self.char_dim))
        dim = self.encoder_dim
        for dense in self.highways:
            dense.build((None, dim))
            bias = [0.0] * dim + [self.highway_gate_bias] * dim
            dense.bias.assign(ops.convert_to_tensor(bias, dtype=dense.bias.dtype))
        if self.projection is not None:
            self.projection.build((None, dim))
        self.built = True

    # ---------------------------------------------------------------- call
    def _checked_ids(self, inputs):
        return check_ids(
            self, inputs, self.num_chars, self.out_of_range, own_encoder_hint(self)
        )

    def call(self, inputs, training=None):
        inputs = dense_ids(inputs)
        shape = ops.shape(inputs)
        if any(isinstance(n, int) and n == 0 for n in shape):
            # No words, or words without a character: zeros, as for padding
            # words (the convolutions and LSTMs take no empty input).
            return ops.zeros((*shape[:-1], self._output_width()), self.compute_dtype)
        if self.out_of_range == "error" or self.table.row_optimizer is not None:
            return self._encode_words(inputs, training)
        return compiled_when_eager(self, self._encode_words, inputs)

    def _encode_words(self, inputs, training=None):
        ids, bad = remap_out_of_range(
            inputs, self.num_chars, oov_id=OOV_ID, mode=self.out_of_range
        )
        shape = ops.shape(ids)
        # One word per row, but for the CNN on `[batch, words, chars]` ids
        # whose number of words is unknown while tracing: exporters with
        # symbolic shapes (jax2onnx) cannot fold an unknown batch and an
        # unknown number of words into one axis, so it convolves them as
        # they are (docs/design/char-export.md).
        flat = (
            self.encoder != "cnn"
            or len(shape) != 3
            or all(isinstance(n, int) for n in shape[1:-1])
        )
        if flat:
            ids = ops.reshape(ids, (-1, shape[-1]))
            if bad is not None:
                bad = ops.reshape(bad, (-1, shape[-1]))
        char_mask = ops.not_equal(ids, 0)
        word_mask = ops.any(char_mask, axis=-1)
        x = self.table.lookup(ids, training=training)
        x = x * ops.cast(ops.expand_dims(char_mask, -1), x.dtype)
        if self.encoder == "cnn":
            h = self._cnn(x, char_mask)
        else:
            h = self._bilstm(x, char_mask)
        for dense in self.highways:
            transform, gate = ops.split(dense(h), 2, axis=-1)
            gate = ops.sigmoid(gate)
            h = h + gate * (self.highway_activation(transform) - h)
        if self.projection is not None:
            h = self.projection(h)
        keep = word_mask
        if bad is not None:
            keep = ops.logical_and(keep, ops.logical_not(ops.any(bad, axis=-1)))
        h = ops.where(ops.expand_dims(keep, -1), h, ops.zeros_like(h))
        if bad is not None:
            nan = ops.full_like(h, float("nan"))
            h = ops.where(ops.expand_dims(ops.any(bad, axis=-1), -1), nan, h)
        if flat:
            h = ops.reshape(h, _unflattened(shape, ops.shape(h)[-1]))
        return h

    def _cnn(self, x, char_mask):
        """Max over time of each convolution, then the activation.

        `x` is `[..., chars, char_dim]`, with one or more axes before the
        characters; the result is `[..., encoder_dim]`.
        """
        widest = max(w for w, _ in self.filters)
        steps = x.shape[-2]
        if not isinstance(steps, int) or steps < widest:
            x = ops.pad(x, [[0, 0]] * (len(x.shape) - 2) + [[0, widest - 1], [0, 0]])
        lengths = ops.expand_dims(ops.sum(ops.cast(char_mask, "int32"), axis=-1), -1)
        pooled = []
        for conv, (width, _) in zip(self.convs, self.filters):
            y = _conv_along_chars(conv, x)
            start = positions_along(y, -2)
            # Windows wholly on real characters, or the first one for words
            # shorter than the filter; the others get -inf, so they never win
            # the max (the first window always counts, so the max is finite).
            valid = ops.logical_or(
                ops.less_equal(start + width, lengths), ops.equal(start, 0)
            )
            zero = ops.zeros((), dtype=y.dtype)
            penalty = ops.where(valid, zero, ops.full((), float("-inf"), y.dtype))
            pooled.append(ops.max(y + ops.expand_dims(penalty, -1), axis=-2))
        h = pooled[0] if len(pooled) == 1 else ops.concatenate(pooled, axis=-1)
        return self.activation(h)

    def _bilstm(self, x, char_mask):
        # A padding word gets one (zero) step so no backend sees an empty
        # sequence; its output is zeroed afterwards.
        first = ops.equal(positions_along(x, 1), 0)
        mask = ops.logical_or(char_mask, first)
        forward = self.forward_lstm(x, mask=mask)
        backward = self.backward_lstm(x, mask=mask)
        return ops.concatenate([forward, backward], axis=-1)

    def compute_mask(self, inputs, mask=None):
        return ops.any(ops.not_equal(dense_ids(inputs), 0), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self._output_width())

    def _output_width(self):
        return self.output_dim if self.output_dim is not None else self.encoder_dim

    # ------------------------------------------------------------ encoding
    @property
    def max_chars(self):
        return self.inventory.max_chars

    def encode(
        self,
        words_or_sentences,
        sequence_length=None,
        padding="post",
        truncating="post",
        errors="replace",
    ):
        """Character ids for words, with NumPy only: int32 `[batch, words, max_chars]`.

        A flat list of words is one sentence (batch of 1); a list of lists is
        a batch, padded with padding words to the longest sentence (or to
        `sequence_length`); a str is one text split on whitespace. Words may
        be str or bytes. See `keras_embedx.preprocessing.chars.CharInventory.encode` for
        the arguments and for empty words, long words, unknown characters
        and invalid UTF-8.
        """
        return self.inventory.encode(
            words_or_sentences,
            sequence_length=sequence_length,
            padding=padding,
            truncating=truncating,
            errors=errors,
        )

    def get_vocabulary(self):
        """One label per character id: `""`, `"[UNK]"`, `"[BOW]"`, `"[EOW]"`, then units."""
        return self.inventory.get_vocabulary()

    def embedding_tables(self):
        """The tables of this layer: `[TableRef("chars", table, labels)]`."""
        return [TableRef("chars", self.table, self.get_vocabulary())]

    @property
    def embeddings(self):
        """The character table `[num_chars, char_dim]`, read-only.

        As `PretrainedEmbedding.embeddings`: differentiable in a layer
        call, a NumPy copy elsewhere.
        """
        return embeddings_value(self.table)

    _layout_keys = {"table": ("freeze", "schedulable")}

    def get_config(self):
        config = super().get_config()
        table = self.table
        config.update(
            {
                "output_dim": self.output_dim,
                "encoder": self.encoder,
                **self.inventory.get_config(),
                "char_dim": self.char_dim,
                "filters": None
                if self.filters is None
                else [list(p) for p in self.filters],
                "activation": keras.activations.serialize(self.activation),
                "highway_layers": self.highway_layers,
                "highway_activation": keras.activations.serialize(
                    self.highway_activation
                ),
                "highway_gate_bias": self.highway_gate_bias,
                "lstm_units": self.lstm_units,
                "freeze": self.freeze,
                "schedulable": table.schedulable,
                "out_of_range": self.out_of_range,
                "embeddings_initializer": keras.initializers.serialize(
                    table.embeddings_initializer
                ),
                "embeddings_regularizer": keras.regularizers.serialize(
                    table.embeddings_regularizer
                ),
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "row_optimizer": serialize_row_optimizer(table.row_optimizer),
            }
        )
        return self._with_quantized(config)


def _conv_along_chars(conv, x):
    """`conv` (a built `Conv1D`) applied along axis -2 of `x`, of rank 3 or 4.

    `Conv1D` takes `[batch, steps, channels]`; for `[batch, words, chars,
    char_dim]` its kernel runs as a `[1, width]` 2-D kernel, so the words
    need no flattening into the batch. The layer's own variables are used,
    cast to its compute dtype as its call would.
    """
    dtype = conv.compute_dtype
    kernel = ops.cast(conv.kernel, dtype)
    for _ in range(len(x.shape) - 3):
        kernel = ops.expand_dims(kernel, 0)
    y = ops.conv(ops.cast(x, dtype), kernel, strides=1, padding="valid")
    if conv.use_bias:
        y = y + ops.cast(conv.bias, dtype)
    if conv.activation is not None:
        y = conv.activation(y)
    return y


def _unflattened(shape, width):
    """The shape `[*shape[:-1], width]`, as -1 for an unknown batch of known words.

    Exporters that trace a symbolic batch (jax2onnx) cannot map it through
    the flattened words; -1 leaves it to the reshape.
    """
    if isinstance(shape[0], int) or not all(isinstance(n, int) for n in shape[1:-1]):
        return (*shape[:-1], width)
    return (-1, *shape[1:-1], width)


def word_char_model(word_embedding, char_embedding, name="word_char"):
    """A model that embeds the same words by id and by characters, concatenated.

    The common "word + char" input: a `PretrainedEmbedding` (or any layer
    mapping word ids to vectors with a mask) and a `CharEmbedding` of the
    same words, joined by `keras.layers.Concatenate`, which keeps the mask
    (a position is masked when the word id is 0; the char ids of a padding
    word are all 0 too when both come from the same token lists).

    Args:
        word_embedding: layer mapping int ids `[batch, words]` to
            `[batch, words, d1]`.
        char_embedding: a `CharEmbedding`.
        name: model name.

    Returns:
        A functional `keras.Model` with inputs `{"words": [batch, words],
        "chars": [batch, words, chars]}` and output `[batch, words, d1 +
        d2]`, carrying the word mask.
    """
    words = keras.Input(shape=(None,), dtype="int32", name="words")
    chars = keras.Input(shape=(None, None), dtype="int32", name="chars")
    both = keras.layers.Concatenate(name="word_and_char")(
        [word_embedding(words), char_embedding(chars)]
    )
    return keras.Model({"words": words, "chars": chars}, both, name=name)


__all__ = ["CharEmbedding", "NUM_RESERVED", "PRESETS", "word_char_model"]
