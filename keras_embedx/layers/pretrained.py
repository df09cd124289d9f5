"""`PretrainedEmbedding`: a word table initialised from pretrained vectors."""

import collections.abc
import mmap
import warnings

import keras
import numpy as np
from keras import ops

from keras_embedx._checks import (
    check_bool,
    check_choice,
    check_positive_int,
    width_error,
)
from keras_embedx.layers._fast import compiled_when_eager
from keras_embedx.layers._ids import IdInputLayer, check_ids, dense_ids
from keras_embedx.layers._row_sparse import serialize_row_optimizer
from keras_embedx.layers.base import TableLayer, TableRef
from keras_embedx.layers.table import (
    OUT_OF_RANGE_MODES,
    EmbeddingTable,
    embeddings_value,
)
from keras_embedx.vectors.word_vectors import WordVectors
from keras_embedx.vocabulary import (
    Vocabulary,
    align_to_vectors,
    row_vocabulary,
    tokens_by_id,
)

FREEZE_MODES = ("none", "pretrained", "all")
ROW_SOURCES = ("padding", "oov", "pretrained", "lowercase", "missing", "new")
# Rows the "vector_stats" initialiser reads at most: the first ones, in one
# contiguous block, so a memory-mapped 2M-row file is not read whole (or
# page by page, with the kernel's read-around) for a mean and a std.
_STATS_SAMPLE_ROWS = 10_000


def _vector_stats_initializer(vectors, seed):
    """Rows drawn from N(mean, std) of the pretrained vectors, per dimension.

    The statistics come from the first `_STATS_SAMPLE_ROWS` rows (all of
    them in smaller files): the most frequent words of a frequency-sorted
    file.
    """
    vectors = vectors[:_STATS_SAMPLE_ROWS]
    mean = vectors.mean(axis=0, dtype=np.float64)
    std = vectors.std(axis=0, dtype=np.float64)
    rng = np.random.default_rng(seed)

    def draw(n):
        return (rng.standard_normal((n, vectors.shape[1])) * std + mean).astype(
            "float32"
        )

    return draw


def _take_rows(vectors, rows):
    """`vectors[rows]`, reading only those rows when `vectors` is memory-mapped.

    On a page fault in a memory-mapped file the kernel reads ahead around
    the page (up to megabytes), so gathering a few scattered rows of a big
    cache file would read most of it. For a sparse gather the mapping is
    advised random access (then normal again).
    """
    mapping = vectors
    while mapping is not None and not isinstance(mapping, mmap.mmap):
        mapping = getattr(mapping, "base", None)
    sparse = len(rows) * 16 < len(vectors)
    if mapping is None or not sparse or not hasattr(mmap, "MADV_RANDOM"):
        return vectors[rows]
    try:
        mapping.madvise(mmap.MADV_RANDOM)
    except (OSError, ValueError):
        return vectors[rows]
    try:
        return vectors[rows]
    finally:
        mapping.madvise(mmap.MADV_NORMAL)


def _initial_matrix(weights, input_dim, output_dim):
    """The `weights=` argument as a float32 `[input_dim, output_dim]` matrix.

    Accepts what `keras.layers.Embedding` accepts: the matrix, or a list
    holding it (the list `layer.get_weights()` returns).
    """
    if isinstance(weights, (list, tuple)) and len(weights) == 1:
        weights = weights[0]
    if isinstance(weights, (list, tuple)) and weights and not np.isscalar(weights[0]):
        if all(np.ndim(w) == 2 for w in weights):
            raise ValueError(
                "`weights` must be one matrix of shape (input_dim, output_dim) = "
                f"({input_dim}, {output_dim}), or a list holding it. Received: a "
                f"list of {len(weights)} matrices"
            )
    if not isinstance(weights, (np.ndarray, list, tuple)):
        weights = ops.convert_to_numpy(weights)
    matrix = np.asarray(weights, dtype="float32")
    if matrix.shape != (input_dim, output_dim):
        raise ValueError(
            "`weights` must be a matrix of shape (input_dim, output_dim) = "
            f"({input_dim}, {output_dim}). Received: a matrix of shape "
            f"{matrix.shape}"
        )
    return matrix


def _refuse_weights(kwargs, source):
    """A `ValueError` when a factory that sets the rows is also given `weights`."""
    if kwargs.get("weights") is not None:
        raise ValueError(
            f"The rows come from {source}, so `weights` cannot set them too. "
            "Leave `weights` out, or build the layer with "
            "PretrainedEmbedding(input_dim, output_dim, weights=[matrix])."
        )


@keras.saving.register_keras_serializable(package="keras_embedx")
class PretrainedEmbedding(TableLayer, IdInputLayer):
    """A word table initialised from pretrained vectors (GloVe, word2vec, fastText).

    Turns word ids into vectors, with Keras' lookup conventions: id 0 is
    padding, ids `1..num_oov_indices` are out-of-vocabulary rows, then the
    words. `from_vectors(wv, vocabulary)` aligns a vocabulary to the vectors
    and initialises words without a vector from the vectors' statistics.
    `freeze="pretrained"` keeps the rows that came from the file unchanged
    while the others learn. `layer.embeddings` is the merged table, usable
    for a tied output projection.

    Example:

    >>> from gensim.test.utils import datapath
    >>> wv = keras_embedx.load_vectors(
    ...     datapath("pang_lee_polarity_fasttext.vec"), encoding="cp1252"
    ... )
    >>> vocab = keras_embedx.Vocabulary.from_texts(["a fine film", "a dull film"])
    >>> layer = keras_embedx.layers.PretrainedEmbedding.from_vectors(wv, vocab)
    >>> tuple(layer(vocab.encode(["a fine film"])).shape)
    (1, 3, 100)

    Converting a `keras.layers.Embedding` (rows, sizes, masking and name):

    >>> stock = keras.layers.Embedding(5, 2, name="words")
    >>> stock.build()
    >>> layer = keras_embedx.layers.PretrainedEmbedding.from_embedding(stock)
    >>> bool(np.array_equal(layer.embeddings, stock.get_weights()[0]))
    True

    Args:
        input_dim: int, rows of the table, padding and OOV rows included.
        output_dim: int, width of the vectors.
        num_oov_indices: int, number of OOV rows after the padding row.
        mask_zero: bool, whether id 0 is padding to mask. Defaults to `True`.
        freeze: `"none"`, `"pretrained"` (`from_vectors`' default) or `"all"`.
        num_frozen: int, how many rows are frozen; set by `from_vectors`.
        schedulable: bool, let `callbacks.UnfreezeSchedule` thaw frozen rows.
        storage_dtype: `"float32"`, `"float16"`, `"bfloat16"` or `"int8"`,
            the storage of the frozen rows.
        out_of_range: `"oov"` (default, read the OOV row) or `"error"`.
        embeddings_initializer: initializer of a table built without vectors.
        embeddings_regularizer: regularizer of the trainable rows.
        embeddings_constraint: constraint of the trainable rows.
        vocabulary: optional list of str, one per row, or a `{word: id}` map.
        weights: optional initial matrix `[input_dim, output_dim]` (or `[matrix]`).
        row_optimizer: None or a `keras_embedx.optimizers` optimizer that
            trains the rows row-sparsely inside `fit`.
        **kwargs: base layer keyword arguments such as `name` and `dtype`.

    Call arguments:
        inputs: int tensor of word ids.
        training: bool, whether the call is a training step.

    Input shape:
        `(batch_size, sequence_length)` (any rank works).

    Output shape:
        `(batch_size, sequence_length, output_dim)`.

    Reference:
        - [Pennington et al., 2014](https://aclanthology.org/D14-1162/)
        - [Bojanowski et al., 2017](https://arxiv.org/abs/1607.04606)
    """

    vocabulary_asset = "vocabulary.json"

    def __init__(
        self,
        input_dim,
        output_dim,
        num_oov_indices=1,
        mask_zero=True,
        freeze="none",
        num_frozen=None,
        schedulable=False,
        storage_dtype="float32",
        out_of_range="oov",
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        vocabulary=None,
        weights=None,
        row_optimizer=None,
        **kwargs,
    ):
        input_dim = check_positive_int("input_dim", input_dim)
        output_dim = check_positive_int("output_dim", output_dim)
        if weights is not None:
            weights = _initial_matrix(weights, input_dim, output_dim)
        if kwargs.pop("input_length", None) is not None:
            warnings.warn(
                "Argument `input_length` is deprecated. Just remove it.",
                stacklevel=2,
            )
        num_oov_indices = check_positive_int("num_oov_indices", num_oov_indices)
        if num_oov_indices + 1 > input_dim:
            raise ValueError(
                "`input_dim` must leave room for the padding row and the "
                f"{num_oov_indices} OOV row(s). Received: input_dim={input_dim}"
            )
        check_choice("freeze", freeze, FREEZE_MODES)
        check_choice("out_of_range", out_of_range, OUT_OF_RANGE_MODES)
        if num_frozen is None:
            num_frozen = {"none": 0, "all": input_dim, "pretrained": 1}[freeze]
        num_frozen = check_positive_int("num_frozen", num_frozen, allow_zero=True)
        if freeze == "none" and num_frozen:
            raise ValueError(
                "freeze='none' trains every row, so `num_frozen` must be 0. "
                f"Received: num_frozen={num_frozen}"
            )
        if freeze == "all" and num_frozen != input_dim:
            raise ValueError(
                "freeze='all' freezes every row, so `num_frozen` must be "
                f"input_dim={input_dim} (or left out). Received: "
                f"num_frozen={num_frozen}"
            )
        mask_zero = check_bool("mask_zero", mask_zero)
        schedulable = check_bool("schedulable", schedulable)
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.num_oov_indices = num_oov_indices
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.freeze = freeze
        self.out_of_range = out_of_range
        self.autocast = False
        self.table = EmbeddingTable(
            input_dim,
            output_dim,
            num_frozen=num_frozen,
            schedulable=schedulable,
            storage_dtype=storage_dtype,
            embeddings_initializer=embeddings_initializer,
            embeddings_regularizer=embeddings_regularizer,
            embeddings_constraint=embeddings_constraint,
            row_optimizer=row_optimizer,
            dtype=self.dtype_policy,
            name="table",
        )
        EmbeddingTable.follow_owner_trainable(self)
        self._row_sources = None
        self._vocabulary = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)
        if weights is not None:
            self.build()
            self.table.set_table(weights)

    # ------------------------------------------------------------ building
    @classmethod
    def from_vectors(
        cls,
        wv,
        vocabulary=None,
        freeze="pretrained",
        num_oov_indices=None,
        lowercase_fallback=True,
        initializer="vector_stats",
        seed=None,
        row_optimizer=None,
        **kwargs,
    ):
        """Build the layer from pretrained vectors aligned to a vocabulary.

        Args:
            wv: a `keras_embedx.WordVectors`.
            vocabulary: a `keras_embedx.Vocabulary`, a list of words (the
                reserved `""`/`"[UNK]"` may open it), a mapping `{word: id}`
                whose ids are kept (row `i` holds the word with id `i`; ids
                `1..num_oov_indices` are OOV rows, so the words start at 2
                with one; see `keras_embedx.Vocabulary`), or None to use the
                vectors' own words in file order.
            freeze: `"pretrained"` (default), `"none"` or `"all"`.
            num_oov_indices: int; defaults to the Vocabulary's, else 1.
            lowercase_fallback: bool, give a word with no exact vector the
                vector of its lowercase form.
            initializer: `"vector_stats"` (default: draw from the vectors'
                per-dimension mean and std), `"zeros"`, or any Keras
                initializer, for OOV rows and words without a vector.
            seed: int seed for the initialiser.
            row_optimizer: None or a `keras_embedx.optimizers` optimizer
                that trains the rows row-sparsely (see the class docstring).
            **kwargs: passed to the constructor (`mask_zero`, `schedulable`,
                `storage_dtype`, `out_of_range`, `trainable`, `name`, `dtype`,
                ...). `input_dim` and `output_dim` come from the vocabulary
                and the vectors; given, they must agree.

        Returns:
            A built `PretrainedEmbedding`; `layer.row_sources()` says where
            each row came from.
        """
        if not isinstance(wv, WordVectors):
            raise ValueError(
                "`wv` must be a keras_embedx.WordVectors (from `load_vectors`, "
                "or `WordVectors.from_gensim` for gensim's KeyedVectors). "
                f"Received: wv of type {type(wv).__name__}"
            )
        check_choice("freeze", freeze, FREEZE_MODES)
        _refuse_weights(kwargs, "the vectors")
        lowercase_fallback = check_bool("lowercase_fallback", lowercase_fallback)
        output_dim = kwargs.pop("output_dim", wv.dim)
        if output_dim != wv.dim:
            raise width_error(
                f"The vectors of {wv!r}",
                wv.dim,
                "output_dim",
                output_dim,
                f"Leave output_dim out (or pass {wv.dim}): the table takes the "
                "vectors' width. For narrower outputs, project them with a "
                "Dense layer, or TokenAndPosition(token_projection=True).",
            )
        input_dim = kwargs.pop("input_dim", None)
        if seed is not None:
            seed = check_positive_int("seed", seed, allow_zero=True)
        if vocabulary is None:
            vocabulary = Vocabulary(wv.words, num_oov_indices=num_oov_indices)
        elif isinstance(vocabulary, collections.abc.Mapping):
            vocabulary = Vocabulary(
                tokens_by_id(vocabulary, num_oov_indices, "vocabulary")
            )
        elif not isinstance(vocabulary, Vocabulary):
            vocabulary = Vocabulary(vocabulary, num_oov_indices=num_oov_indices)
        elif (
            num_oov_indices is not None
            and num_oov_indices != vocabulary.num_oov_indices
        ):
            raise ValueError(
                f"`num_oov_indices`={num_oov_indices} disagrees with the "
                f"Vocabulary's {vocabulary.num_oov_indices}. Leave it out."
            )
        if input_dim is not None and input_dim != len(vocabulary):
            raise ValueError(
                f"`input_dim` is the vocabulary's size, {len(vocabulary)} rows "
                "(padding and OOV rows included). Leave it out. Received: "
                f"input_dim={input_dim!r}"
            )
        n_oov = vocabulary.num_oov_indices
        words = vocabulary.tokens
        rows, how = align_to_vectors(words, wv, lowercase=lowercase_fallback)
        size = len(vocabulary)
        matrix = np.zeros((size, wv.dim), dtype="float32")
        sources = np.empty(size, dtype=object)
        sources[0] = "padding"
        sources[1 : 1 + n_oov] = "oov"
        word_slice = slice(1 + n_oov, size)
        found = rows >= 0
        if len(words) and not found.any():
            raise ValueError(
                f"None of the {len(words)} vocabulary words has a vector in {wv!r} "
                f"(vocabulary e.g. {list(words[:3])}; vectors e.g. "
                f"{list(wv.words[:3])}). Check that both come from the same "
                "language, case and tokenisation, or build the layer without "
                "vectors: PretrainedEmbedding(input_dim, output_dim)."
            )
        word_matrix = matrix[word_slice]
        word_matrix[found] = _take_rows(wv.vectors, rows[found])
        sources[word_slice] = np.where(
            how == "exact",
            "pretrained",
            np.where(how == "lowercase", "lowercase", "missing"),
        )
        fill = np.flatnonzero(np.isin(sources, ("oov", "missing")))
        if len(fill):
            matrix[fill] = cls._initial_rows(initializer, wv.vectors, len(fill), seed)
        from_file = np.isin(sources, ("pretrained", "lowercase"))
        if freeze == "pretrained":
            frozen_mask = from_file | (sources == "padding")
        elif freeze == "all":
            frozen_mask = np.ones(size, dtype=bool)
        else:
            frozen_mask = np.zeros(size, dtype=bool)
        layer = cls(
            size,
            wv.dim,
            num_oov_indices=n_oov,
            freeze=freeze,
            num_frozen=int(frozen_mask.sum()),
            vocabulary=vocabulary.get_vocabulary(),
            row_optimizer=row_optimizer,
            **kwargs,
        )
        layer.build()
        layer.table.set_table(matrix, frozen_mask)
        layer._row_sources = [str(s) for s in sources]
        return layer

    @classmethod
    def from_embedding(cls, layer, freeze="none", **kwargs):
        """A `PretrainedEmbedding` with the rows of a `keras.layers.Embedding`.

        The migration path from a stock model: build it, `load_weights` its
        saved weights, then convert its embedding layer; the new layer
        gives the same output for every id in `[0, input_dim)`.

        Args:
            layer: a built `keras.layers.Embedding` (not quantized).
            freeze: `"none"` (default: every row trains, as in the stock
                layer), `"pretrained"` (every row but the OOV rows
                `1..num_oov_indices` frozen) or `"all"`.
            **kwargs: constructor arguments to add or override, e.g.
                `num_oov_indices`, `storage_dtype`, `vocabulary`, `name`.
                `input_dim`, `output_dim`, `mask_zero`, `name`, `dtype`,
                `trainable` and the initializer, regularizer and constraint
                are taken from `layer` unless given.

        Returns:
            A built `PretrainedEmbedding` holding `layer`'s rows.
        """
        if not isinstance(layer, keras.layers.Embedding):
            raise ValueError(
                "`layer` must be a keras.layers.Embedding. Received: "
                f"layer of type {type(layer).__name__}"
            )
        if not layer.built:
            raise ValueError(
                f"The Embedding layer {layer.name!r} has no weights yet: build "
                "it (or the model holding it, then `load_weights`) before "
                "converting."
            )
        if layer.quantization_mode is not None:
            raise ValueError(
                f"The Embedding layer {layer.name!r} is quantized "
                f"({layer.quantization_mode}); convert it before quantizing, or "
                "use storage_dtype='int8' on the converted layer's frozen rows."
            )
        check_choice("freeze", freeze, FREEZE_MODES)
        _refuse_weights(kwargs, f"{layer.name!r}")
        config = {
            "input_dim": layer.input_dim,
            "output_dim": layer.output_dim,
            "mask_zero": bool(layer.mask_zero),
            "name": layer.name,
            "dtype": layer.dtype_policy,
            "trainable": layer.trainable,
            "embeddings_initializer": layer.embeddings_initializer,
            "embeddings_regularizer": layer.embeddings_regularizer,
            "embeddings_constraint": layer.embeddings_constraint,
        }
        config.update(kwargs)
        size = config["input_dim"]
        if size != layer.input_dim or config["output_dim"] != layer.output_dim:
            raise ValueError(
                f"`input_dim` and `output_dim` come from {layer.name!r}, "
                f"({layer.input_dim}, {layer.output_dim}). Leave them out. "
                f"Received: input_dim={size}, output_dim={config['output_dim']}"
            )
        return cls._from_rows(ops.convert_to_numpy(layer.embeddings), freeze, config)

    @classmethod
    def from_matrix(cls, matrix, vocabulary=None, freeze="pretrained", **kwargs):
        """A `PretrainedEmbedding` holding a matrix built by hand.

        For an `embedding_matrix` filled row by row from pretrained vectors
        (row `i` for the word of id `i`, with Keras' layout: row 0 padding,
        rows `1..num_oov_indices` OOV, then the words). To let the layer
        align the vocabulary to the vectors itself, use `from_vectors`.

        Args:
            matrix: float array `[input_dim, output_dim]`.
            vocabulary: optional list of str, one per row (`""` and
                `"[UNK]"` first), a mapping `{word: id}` covering every row,
                or a `keras_embedx.Vocabulary` of `input_dim` rows.
            freeze: `"pretrained"` (default: every row but the OOV rows
                `1..num_oov_indices` frozen), `"none"` or `"all"`.
            **kwargs: constructor arguments (`num_oov_indices`,
                `mask_zero`, `storage_dtype`, `name`, ...); `input_dim` and
                `output_dim` come from `matrix`.

        Returns:
            A built `PretrainedEmbedding` whose `get_weights()[0]` equals
            `matrix` (up to `storage_dtype` rounding of frozen rows).

        Example:

        >>> matrix = np.random.default_rng(0).normal(size=(5, 3))
        >>> layer = keras_embedx.layers.PretrainedEmbedding.from_matrix(
        ...     matrix, vocabulary=["", "[UNK]", "good", "bad", "film"]
        ... )
        >>> bool(np.allclose(layer.get_weights()[0], matrix))
        True
        >>> layer.table.frozen_mask().tolist()
        [True, False, True, True, True]
        """
        check_choice("freeze", freeze, FREEZE_MODES)
        _refuse_weights(kwargs, "`matrix`")
        if not isinstance(matrix, (np.ndarray, list, tuple)):
            matrix = ops.convert_to_numpy(matrix)
        matrix = np.asarray(matrix, dtype="float32")
        if matrix.ndim != 2:
            raise ValueError(
                "`matrix` must be 2-D, [input_dim, output_dim]. Received: "
                f"matrix of shape {matrix.shape}"
            )
        for name, size in zip(("input_dim", "output_dim"), matrix.shape):
            if kwargs.pop(name, size) != size:
                raise ValueError(
                    f"`{name}` comes from `matrix` (shape {matrix.shape}). Leave "
                    "it out."
                )
        if isinstance(vocabulary, Vocabulary):
            vocabulary = vocabulary.get_vocabulary()
        config = {
            "input_dim": matrix.shape[0],
            "output_dim": matrix.shape[1],
            "vocabulary": vocabulary,
            **kwargs,
        }
        return cls._from_rows(matrix, freeze, config)

    @classmethod
    def _from_rows(cls, matrix, freeze, config):
        """A built layer of `config` holding `matrix`, frozen as `freeze` says."""
        size = config["input_dim"]
        n_oov = check_positive_int("num_oov_indices", config.get("num_oov_indices", 1))
        if freeze == "pretrained":
            frozen_mask = np.ones(size, dtype=bool)
            frozen_mask[1 : 1 + n_oov] = False
        else:
            frozen_mask = np.full(size, freeze == "all")
        new = cls(freeze=freeze, num_frozen=int(frozen_mask.sum()), **config)
        new.build()
        new.table.set_table(matrix, frozen_mask)
        return new

    @staticmethod
    def _initial_rows(initializer, vectors, n, seed):
        if isinstance(initializer, str) and initializer == "vector_stats":
            return _vector_stats_initializer(vectors, seed)(n)
        init = keras.initializers.get(initializer)
        if seed is not None and hasattr(init, "seed"):
            init.seed = seed
        return ops.convert_to_numpy(init((n, vectors.shape[1]), dtype="float32"))

    def build(self, input_shape=None):
        if self.built:
            return
        self.table.build()
        self.built = True

    # ---------------------------------------------------------------- call
    def _checked_ids(self, inputs):
        return check_ids(self, inputs, self.input_dim, self.out_of_range)

    def call(self, inputs, training=None):
        inputs = dense_ids(inputs)
        if self.out_of_range == "error" or self.table.row_optimizer is not None:
            return self._lookup(inputs, training)
        return compiled_when_eager(self, self._lookup, inputs)

    def _lookup(self, inputs, training=None):
        return self.table.lookup(
            inputs, oov_id=1, out_of_range=self.out_of_range, training=training
        )

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(dense_ids(inputs), 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def compute_output_spec(self, inputs):
        # Ragged ids give ragged rows (TensorFlow); sparse ids, dense rows.
        return keras.KerasTensor(
            self.compute_output_shape(inputs.shape),
            dtype=self.compute_dtype,
            ragged=bool(getattr(inputs, "ragged", False)),
        )

    # ---------------------------------------------------------- inspection
    def get_vocabulary(self):
        """The word of each row: `""`, `"[UNK]"` per OOV row, then the words.

        Accepted unchanged by `keras.layers.StringLookup(mask_token="",
        vocabulary=...)`, whose ids then index the same rows.
        """
        if self._vocabulary is None:
            raise ValueError(
                f"Layer {self.name!r} has no vocabulary: it was built without one. "
                "Use `from_vectors(...)` or pass `vocabulary=`."
            )
        return list(self._vocabulary)

    def set_vocabulary(self, vocabulary):
        """Label the rows: `""`, `"[UNK]"` per OOV row, then unique words."""
        self._vocabulary = row_vocabulary(
            vocabulary, self.num_oov_indices, self.input_dim
        )

    def row_sources(self):
        """Where each row came from.

        One str per row: `"padding"`, `"oov"`, `"pretrained"` (exact match),
        `"lowercase"` (vector of the lowercase form), `"missing"` (no vector,
        initialised) or `"new"` (a layer built without vectors).
        """
        if self._row_sources is None:
            return (
                ["padding"]
                + ["oov"] * self.num_oov_indices
                + ["new"] * (self.input_dim - 1 - self.num_oov_indices)
            )
        return list(self._row_sources)

    def embedding_tables(self):
        """The tables of this layer: `[TableRef("table", table, vocabulary)]`."""
        return [TableRef("table", self.table, self._vocabulary)]

    @property
    def embeddings(self):
        """The effective table `[input_dim, output_dim]`, read-only.

        A float32 tensor that carries gradients when read in a layer call
        (a tied output projection), a NumPy copy elsewhere; see
        `PretrainedEmbedding`'s docstring.
        """
        return embeddings_value(self.table)

    # -------------------------------------------------------------- saving
    def _asset_payload(self):
        return {**super()._asset_payload(), "row_sources": self._row_sources}

    def _load_asset_payload(self, payload):
        super()._load_asset_payload(payload)
        self._row_sources = payload.get("row_sources")

    def get_config(self):
        config = super().get_config()
        table = self.table
        config.update(
            {
                "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "num_oov_indices": self.num_oov_indices,
                "mask_zero": self.mask_zero,
                "freeze": self.freeze,
                "num_frozen": table.num_frozen,
                "schedulable": table.schedulable,
                "storage_dtype": table.storage_dtype,
                "out_of_range": self.out_of_range,
                "embeddings_initializer": keras.initializers.serialize(
                    table.embeddings_initializer
                ),
                "embeddings_regularizer": keras.regularizers.serialize(
                    table.embeddings_regularizer
                ),
                "embeddings_constraint": keras.constraints.serialize(
                    table.embeddings_constraint
                ),
                "row_optimizer": serialize_row_optimizer(table.row_optimizer),
            }
        )
        return self._with_quantized(config)
