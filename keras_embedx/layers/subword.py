"""`SubwordEmbedding`: word vectors composed from subword units.

Two kinds of units:

- fastText's hashed character n-grams (`SubwordEmbedding(num_buckets=...)`,
  `SubwordEmbedding.from_fasttext(path)`), reproducing fastText's vectors
  exactly, for words it never saw too;
- the units of a keras-hub tokenizer (BPE, WordPiece, SentencePiece;
  `SubwordEmbedding.from_tokenizer(tokenizer)`), pooled to one vector per
  word or left as a unit sequence.

The n-gram bookkeeping is `keras_embedx.preprocessing.ngrams`; the `.bin` reader is
`keras_embedx.vectors.fasttext_bin`.
"""

import keras
import numpy as np
from keras import ops

from keras_embedx._checks import (
    check_bool,
    check_choice,
    check_positive_int,
)
from keras_embedx.layers._fast import compiled_when_eager, take_rows, torch_eager
from keras_embedx.layers._ids import (
    IdInputLayer,
    check_ids,
    dense_ids,
    own_encoder_hint,
)
from keras_embedx.layers._row_sparse import serialize_row_optimizer
from keras_embedx.layers._subword_units import NUM_RESERVED, OOV_ID, UNIT_KINDS
from keras_embedx.layers.base import TableLayer, TableRef
from keras_embedx.layers.table import (
    EmbeddingTable,
    embeddings_value,
    remap_out_of_range,
)
from keras_embedx.preprocessing import ngrams as subwords
from keras_embedx.preprocessing.units import split_batch as _split_batch
from keras_embedx.preprocessing.units import word_positions as _positions
from keras_embedx.vocabulary import token_list

UNITS = ("ngrams", "tokenizer")
FREEZE_MODES = ("none", "words", "all")
POOLINGS = ("mean", "sum", "first", "last", None)
HASHES = ("fasttext",)


@keras.saving.register_keras_serializable(package="keras_embedx")
class SubwordEmbedding(TableLayer, IdInputLayer):
    """Word vectors composed from subword units: fastText n-grams or tokenizer units.

    With fastText units (the default), a word's vector is the mean of its own
    row (when in the vocabulary) and the rows of its hashed character n-grams,
    as fastText computes it: `from_fasttext(path)` reproduces fastText's
    `get_word_vector` for every word, seen or not. With tokenizer units
    (`from_tokenizer(tokenizer)`), each word's keras-hub tokenizer units are
    pooled to one vector, or kept as a sequence with `pooling=None`. The layer
    takes the int array that `layer.encode(words)` makes; padding words are
    masked and give zeros.

    Example:

    >>> from gensim.test.utils import datapath
    >>> layer = keras_embedx.layers.SubwordEmbedding.from_fasttext(
    ...     datapath("toy-model.bin"))
    >>> x = layer.encode(["night", "nightz"])
    >>> tuple(layer(x).shape)
    (1, 2, 5)
    >>> layer.word_vectors(["nightz"]).shape
    (1, 5)

    Args:
        num_buckets: int, n-gram hash buckets (for tokenizer units: units).
        output_dim: int, width of the vectors.
        minn: int, shortest n-gram in characters. Defaults to 3.
        maxn: int, longest n-gram. Defaults to 6; 0 means words only.
        num_words: int, vocabulary word rows before the buckets.
        vocabulary: optional list of `num_words` words (or of unit strings).
        units: `"ngrams"` (default) or `"tokenizer"`.
        pooling: tokenizer units only: `"mean"` (default), `"sum"`,
            `"first"`, `"last"` or None (one vector per unit).
        tokenizer: tokenizer units only: the keras-hub tokenizer of `encode`.
        hash: `"fasttext"`, the n-gram hash (fastText's FNV-1a).
        max_word_chars: None (exact) or int: cut longer words first.
        freeze: `"none"` (default), `"words"` (n-gram rows train) or `"all"`.
        num_frozen: int, set by the constructors; leave it out.
        schedulable: bool, let `callbacks.UnfreezeSchedule` thaw frozen rows.
        storage_dtype: storage dtype of the frozen rows.
        mask_zero: bool, mask padding words. Defaults to `True`.
        embeddings_initializer: initializer of a fresh table.
        embeddings_regularizer: regularizer of the trainable rows.
        row_optimizer: None or a `keras_embedx.optimizers` optimizer that
            trains the rows row-sparsely inside `fit`.
        **kwargs: base layer keyword arguments such as `name` and `dtype`.

    Call arguments:
        inputs: int tensor from `encode`.
        training: bool, whether the call is a training step.

    Input shape:
        `(batch_size, words, 1 + max_ngrams)`; `(batch_size, units)` for
        tokenizer units with `pooling=None`.

    Output shape:
        `(batch_size, words, output_dim)` (or `(batch_size, units, output_dim)`).

    Reference:
        - [Bojanowski et al., 2017](https://arxiv.org/abs/1607.04606)
        - fastText, `src/dictionary.cc`, `src/fasttext.cc`
    """

    vocabulary_asset = "subword_vocabulary.json"

    def __init__(
        self,
        num_buckets,
        output_dim,
        minn=3,
        maxn=6,
        num_words=0,
        vocabulary=None,
        units="ngrams",
        pooling="mean",
        tokenizer=None,
        hash="fasttext",
        max_word_chars=None,
        freeze="none",
        num_frozen=None,
        schedulable=False,
        storage_dtype="float32",
        mask_zero=True,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        row_optimizer=None,
        **kwargs,
    ):
        num_buckets = check_positive_int("num_buckets", num_buckets)
        output_dim = check_positive_int("output_dim", output_dim)
        minn = check_positive_int("minn", minn, allow_zero=True)
        maxn = check_positive_int("maxn", maxn, allow_zero=True)
        num_words = check_positive_int("num_words", num_words, allow_zero=True)
        check_choice("units", units, UNITS)
        check_choice("pooling", pooling, POOLINGS)
        check_choice("hash", hash, HASHES)
        check_choice("freeze", freeze, FREEZE_MODES)
        if max_word_chars is not None:
            max_word_chars = check_positive_int("max_word_chars", max_word_chars)
        UNIT_KINDS[units].check_arguments(num_words, pooling, freeze)
        mask_zero = check_bool("mask_zero", mask_zero)
        schedulable = check_bool("schedulable", schedulable)
        num_rows = NUM_RESERVED + num_words + num_buckets
        default_frozen = {
            "none": 0,
            "words": NUM_RESERVED + num_words,
            "all": num_rows,
        }[freeze]
        if num_frozen is None:
            num_frozen = default_frozen
        if num_frozen != default_frozen:
            raise ValueError(
                f"freeze={freeze!r} freezes {default_frozen} rows. Received: "
                f"num_frozen={num_frozen}"
            )
        super().__init__(**kwargs)
        self.num_buckets = num_buckets
        self.output_dim = output_dim
        self.minn = minn
        self.maxn = maxn
        self.num_words = num_words
        self.units = units
        self.pooling = pooling
        self.hash = hash
        self.max_word_chars = max_word_chars
        self.freeze = freeze
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.autocast = False
        self.tokenizer = tokenizer
        self.table = EmbeddingTable(
            num_rows,
            output_dim,
            num_frozen=num_frozen,
            schedulable=schedulable,
            storage_dtype=storage_dtype,
            embeddings_initializer=embeddings_initializer,
            embeddings_regularizer=embeddings_regularizer,
            row_optimizer=row_optimizer,
            dtype="float32",
            name="table",
        )
        self._units = UNIT_KINDS[units](self)
        self._vocabulary = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)
        EmbeddingTable.follow_owner_trainable(self)

    @property
    def num_rows(self):
        return self.table.num_rows

    # ------------------------------------------------------------ building
    @classmethod
    def from_fasttext(
        cls, path, freeze="all", encoding="utf-8", row_optimizer=None, **kwargs
    ):
        """The layer of a fastText `.bin` model: its words and n-gram buckets.

        `layer.word_vectors(words)` and the layer's output then equal
        fastText's `get_word_vector` for any word.

        Args:
            path: a fastText `.bin` (unsupervised cbow/skipgram, format 11 or
                12); errors for other files come from
                `keras_embedx.vectors.fasttext_bin.read_fasttext_bin`.
            freeze: `"all"` (default: keep fastText's rows), `"words"` or
                `"none"`.
            encoding: text encoding of the words in the file.
            row_optimizer: None or a `keras_embedx.optimizers` optimizer
                that trains the rows row-sparsely (see the class docstring).
            **kwargs: passed to the constructor (`schedulable`,
                `storage_dtype`, `max_word_chars`, `name`, ...).
        """
        from keras_embedx.vectors.fasttext_bin import read_fasttext_bin

        model = read_fasttext_bin(path, encoding=encoding)
        if model.bucket == 0:
            raise ValueError(
                f"{model.path}: the model has no n-gram buckets (bucket=0), so "
                "it gives no vectors for unseen words. Load its word vectors "
                "with `keras_embedx.load_vectors` and PretrainedEmbedding."
            )
        layer = cls(
            num_buckets=model.bucket,
            output_dim=model.dim,
            minn=model.minn,
            maxn=model.maxn,
            num_words=model.nwords,
            vocabulary=model.words,
            freeze=freeze,
            row_optimizer=row_optimizer,
            **kwargs,
        )
        # Build the table straight from the file's matrix (no random draw).
        layer.table.build()
        matrix = np.zeros((layer.num_rows, model.dim), np.float32)
        matrix[NUM_RESERVED:] = model.matrix
        layer.table.set_table(matrix)
        layer.built = True
        return layer

    @classmethod
    def from_tokenizer(
        cls, tokenizer, vectors=None, output_dim=None, pooling="mean", **kwargs
    ):
        """A layer over the units of a keras-hub tokenizer.

        Args:
            tokenizer: a keras-hub (or keras_nlp) tokenizer with
                `get_vocabulary()`: `BytePairTokenizer`, `WordPieceTokenizer`,
                `SentencePieceTokenizer`, ...
            vectors: optional `keras_embedx.WordVectors` keyed by unit (e.g.
                BPEmb's word2vec-format files, loaded with
                `keras_embedx.load_vectors`); units found there get their
                vector, the others keep the initializer's values.
            output_dim: int; defaults to `vectors.dim`.
            pooling: `"mean"`, `"sum"`, `"first"`, `"last"` or None.
            **kwargs: passed to the constructor (`freeze`, ...).

        Returns:
            A built `SubwordEmbedding`; `layer.units_found` is how many units
            got a pretrained vector.
        """
        if not callable(getattr(tokenizer, "get_vocabulary", None)):
            raise TypeError(
                "`tokenizer` must be a keras-hub tokenizer with get_vocabulary(). "
                f"Received: {type(tokenizer).__name__}"
            )
        units = [str(u) for u in tokenizer.get_vocabulary()]
        if output_dim is None:
            if vectors is None:
                raise ValueError("Pass `output_dim` or `vectors`.")
            output_dim = vectors.dim
        elif vectors is not None and vectors.dim != output_dim:
            raise ValueError(
                f"`output_dim`={output_dim} disagrees with the vectors' dim "
                f"{vectors.dim}. Leave `output_dim` out."
            )
        layer = cls(
            num_buckets=len(units),
            output_dim=output_dim,
            minn=0,
            maxn=0,
            units="tokenizer",
            pooling=pooling,
            tokenizer=tokenizer,
            vocabulary=units,
            **kwargs,
        )
        layer.build()
        layer.units_found = 0
        if vectors is not None:
            matrix = layer.table.full_table()
            index = {w: i for i, w in reversed(list(enumerate(vectors.words)))}
            rows = np.array([index.get(u, -1) for u in units], np.int64)
            found = rows >= 0
            matrix[NUM_RESERVED:][found] = vectors.vectors[rows[found]]
            matrix[:NUM_RESERVED] = 0
            layer.table.set_table(matrix, layer.table.frozen_mask())
            layer.units_found = int(found.sum())
        return layer

    def build(self, input_shape=None):
        if self.built:
            return
        self.table.build()
        if self.table.num_frozen and self.table.num_trainable == 0:
            # A wholly frozen fresh table still needs values (loaded weights
            # or `from_fasttext` overwrite them).
            init = self.table.embeddings_initializer
            shape = (self.num_rows, self.output_dim)
            self.table.set_table(ops.convert_to_numpy(init(shape, dtype="float32")))
        self.built = True

    # ---------------------------------------------------------------- call
    def _checked_ids(self, inputs):
        return check_ids(self, inputs, self.num_rows, hint=own_encoder_hint(self))

    def call(self, inputs, training=None):
        if self.table.row_optimizer is not None:
            return self._embed(dense_ids(inputs), training)
        return compiled_when_eager(self, self._embed, dense_ids(inputs))

    def _embed(self, inputs, training=None):
        # Ids outside the table go to the OOV row, which never contributes.
        ids, _ = remap_out_of_range(inputs, self.num_rows, oov_id=OOV_ID)
        if ops.dtype(ids) != "int32":
            ids = ops.cast(ids, "int32")
        if self.pooling is None:
            used = ops.greater_equal(ids, NUM_RESERVED)
            out = self.table.lookup(ids, training=training) * ops.expand_dims(
                ops.cast(used, "float32"), -1
            )
            return ops.cast(out, self.compute_dtype)
        width = ids.shape[-1]
        if width is None:
            raise ValueError(
                "SubwordEmbedding needs a static last dimension (the bag size). "
                f"Received input shape {ids.shape}. Pass `max_ngrams` to encode()."
            )
        if width == 0:
            # Bags without a single unit: every word is a padding word.
            shape = (*ops.shape(ids)[:-1], self.output_dim)
            return ops.zeros(shape, self.compute_dtype)
        used = ops.cast(ops.greater_equal(ids, NUM_RESERVED), "float32")
        count = ops.sum(used, axis=-1)
        if self.pooling in ("first", "last"):
            # The first (last) position holding a unit, wherever padding or
            # dropped ids sit: the used position of highest rank, ranks
            # distinct so no backend's tie-breaking matters.
            rank = ops.arange(width, dtype="float32")
            if self.pooling == "first":
                rank = width - rank
            else:
                rank = rank + 1
            where = ops.argmax(used * rank, axis=-1)
            pick = ops.take_along_axis(ids, ops.expand_dims(where, -1), axis=-1)
            pick = ops.squeeze(pick, -1)
            keep = ops.cast(ops.greater_equal(pick, NUM_RESERVED), "float32")
            out = self.table.lookup(pick, training=training) * ops.expand_dims(keep, -1)
        else:
            # fastText's order: add the rows one after another in float32,
            # then multiply by float32(1 / n) (Vector::mul(1.0 / n)).
            if torch_eager() or self.table.row_optimizer is not None:
                # PyTorch gives every gather a dense gradient as large as the
                # table, so one gather per column would cost `width` of them
                # in the backward pass: gather the bag at once (freed after
                # the sum) and add its columns in the same order.
                # A row-sparse table, too: one lookup per training step.
                bag = self.table.lookup(ids, training=training)
                bag = bag * ops.expand_dims(used, -1)
                columns = (bag[..., j, :] for j in range(width))
            else:
                # Columns by `unstack` (static slices): JAX turns `ids[..., j]`
                # of a batch of unknown size into a dynamic gather, which
                # TensorFlow Lite cannot convert.
                columns = (
                    self.table.lookup(column) * ops.expand_dims(weight, -1)
                    for column, weight in zip(
                        ops.unstack(ids, axis=-1), ops.unstack(used, axis=-1)
                    )
                )
            out = None
            for rows in columns:
                out = rows if out is None else out + rows
            if self.pooling == "mean":
                inverse = np.zeros(width + 1, np.float32)
                inverse[1:] = (1.0 / np.arange(1, width + 1)).astype(np.float32)
                # `take_rows`, not `ops.take`: the counts lie in [0, width],
                # and PyTorch's ONNX exporter has no op for `ops.take`'s
                # flattening.
                scale = take_rows(
                    ops.convert_to_tensor(inverse), ops.cast(count, "int32")
                )
                out = out * ops.expand_dims(scale, -1)
        return ops.cast(out, self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        used = ops.not_equal(dense_ids(inputs), 0)
        return used if self.pooling is None else ops.any(used, axis=-1)

    def compute_output_shape(self, input_shape):
        if self.pooling is None:
            return (*input_shape, self.output_dim)
        return (*input_shape[:-1], self.output_dim)

    # ------------------------------------------------------------ encoding
    def encode(self, words_or_sentences, sequence_length=None, max_ngrams=None):
        """The int32 inputs of the layer, with NumPy only (no TensorFlow).

        A flat list of words is one sentence (batch of 1); a list of lists
        (or of str, each split on whitespace) is a batch, padded with
        padding words to the longest sentence or cut/padded to
        `sequence_length`. A str is one text split on whitespace. Words are
        str or bytes (bytes are hashed as they are, like fastText; a str
        that cannot be encoded as UTF-8 raises `ValueError`).

        For fastText units each word becomes its own row (1 when it is not
        in the vocabulary) then its n-gram rows; for tokenizer units its
        unit rows. With `pooling=None` (tokenizer units) each text becomes
        its unit rows, `[batch, units]`.

        Args:
            words_or_sentences: see above.
            sequence_length: int, words per row; None: the longest sentence.
            max_ngrams: int, n-gram (or unit) columns per word; None: as
                many as the batch needs (exact). A word with more loses the
                rest, and its vector differs from fastText's. Fix it for
                static shapes (tf.data, compiled models).

        Returns:
            int32 ndarray `[batch, words, 1 + max_ngrams]` for fastText
            units, `[batch, words, max_ngrams]` for pooled tokenizer units.
        """
        if self.pooling is None:
            return self._units.encode_texts(words_or_sentences, sequence_length)
        batch, _ = _split_batch(words_or_sentences)
        lengths = [len(s) for s in batch]
        seq = max(lengths, default=0) if sequence_length is None else sequence_length
        seq = check_positive_int("sequence_length", seq, allow_zero=True)
        flat = [w for s in batch for w in s[:seq]]
        rows = self._units.bags(flat, max_ngrams)
        out = np.zeros((len(batch), seq, rows.shape[1]), np.int32)
        kept = np.minimum(lengths, seq)
        out[np.repeat(np.arange(len(batch)), kept), _positions(kept)] = rows
        return out

    def encode_ids(self, word_ids, max_ngrams):
        """Bags for vocabulary ids, from a per-id cache (fastText units).

        `word_ids` use this layer's `get_vocabulary()` indices (0 padding,
        1 OOV, then the words), e.g. from `StringLookup` or a `Vocabulary`
        built on the same list. Each word's n-grams are hashed once and
        cached, so repeated batches cost only an array lookup.

        Args:
            word_ids: int array, any shape.
            max_ngrams: int, n-gram columns per word.

        Returns:
            int32 ndarray `[*word_ids.shape, 1 + max_ngrams]`.
        """
        return self._units.encode_ids(word_ids, max_ngrams)

    def tf_encode(self, words, max_ngrams):
        """`encode` for tf.data: a string tensor `[batch, words]` -> int32 ids.

        Wraps the NumPy path in `tf.numpy_function` with a fixed
        `max_ngrams`, so the result has a static last dimension. Needs
        TensorFlow; padding words are `""` (encoded as padding rows).
        """
        import tensorflow as tf

        max_ngrams = check_positive_int("max_ngrams", max_ngrams)
        width = self._units.bag_width(max_ngrams)

        def run(batch):
            batch = np.asarray(batch)
            flat = [w for w in batch.reshape(-1).tolist()]
            keep = np.array([len(w) > 0 for w in flat], bool)
            out = np.zeros((len(flat), width), np.int32)
            picked = [w for w, k in zip(flat, keep) if k]
            if picked:
                out[keep] = self.encode([picked], max_ngrams=max_ngrams)[0]
            return out.reshape(*batch.shape, width)

        out = tf.numpy_function(run, [words], tf.int32, stateful=False)
        out.set_shape([*words.shape, width])
        return out

    # ---------------------------------------------------------- NumPy access
    def word_vectors(self, words):
        """Vectors for any words, in NumPy: float32 `[len(words), output_dim]`.

        For fastText units, exactly fastText's `get_word_vector` with this
        layer's current table (bit-identical for `from_fasttext` layers):
        rows added in fastText's order, times float32(1 / n). For tokenizer
        units, the pooled units of each word, as the layer computes them.
        Only the rows the words use are read from the table.
        """
        if isinstance(words, (str, bytes)):
            raise TypeError(
                f"`words` must be a list of words. Received: {words!r:.60}. "
                "Wrap it in a list."
            )
        return self._units.word_vectors(list(words))

    def rows(self, ids):
        """Rows of the effective table (float32 NumPy) for int `ids`."""
        ids = np.asarray(ids, np.int32)
        if ids.size == 0:
            return np.zeros((*ids.shape, self.output_dim), np.float32)
        if not self.built:
            self.build()
        return np.asarray(ops.convert_to_numpy(self.table.lookup(ids)), np.float32)

    # ---------------------------------------------------------- inspection
    def get_vocabulary(self):
        """Labels of the rows: `""`, `"[UNK]"`, then words (or units).

        For fastText units the bucket rows are not labelled; the list has
        `2 + num_words` entries, so `StringLookup(mask_token="",
        vocabulary=layer.get_vocabulary())` gives the ids `encode_ids`
        takes.
        """
        words = self._vocabulary if self._vocabulary is not None else []
        return ["", "[UNK]", *words]

    def set_vocabulary(self, vocabulary):
        """Label the word rows (or, for tokenizer units, the unit rows)."""
        vocabulary = token_list(vocabulary, "vocabulary")
        if vocabulary[:NUM_RESERVED] == ["", "[UNK]"]:
            vocabulary = vocabulary[NUM_RESERVED:]
        expected = self._units.labelled_rows()
        if len(vocabulary) != expected:
            raise ValueError(
                f"The vocabulary must have {expected} entries (one per "
                f"{self._units.row_noun} row). Received: {len(vocabulary)} entries"
            )
        self._units.set_vocabulary(vocabulary)
        self._vocabulary = vocabulary

    def embedding_tables(self):
        """`[TableRef("subwords", table, labels)]`; labels cover every row."""
        labels = self._units.row_labels(self.get_vocabulary())
        return [TableRef("subwords", self.table, labels)]

    @property
    def embeddings(self):
        """The whole table `[num_rows, output_dim]`, read-only.

        As `PretrainedEmbedding.embeddings`: differentiable in a layer
        call, a NumPy copy elsewhere.
        """
        return embeddings_value(self.table)

    # -------------------------------------------------------------- saving
    def get_config(self):
        config = super().get_config()
        table = self.table
        config.update(
            {
                "num_buckets": self.num_buckets,
                "output_dim": self.output_dim,
                "minn": self.minn,
                "maxn": self.maxn,
                "num_words": self.num_words,
                "units": self.units,
                "pooling": self.pooling,
                "hash": self.hash,
                "max_word_chars": self.max_word_chars,
                "freeze": self.freeze,
                "num_frozen": table.num_frozen,
                "schedulable": table.schedulable,
                "storage_dtype": table.storage_dtype,
                "mask_zero": self.mask_zero,
                "embeddings_initializer": keras.initializers.serialize(
                    table.embeddings_initializer
                ),
                "embeddings_regularizer": keras.regularizers.serialize(
                    table.embeddings_regularizer
                ),
                "row_optimizer": serialize_row_optimizer(table.row_optimizer),
            }
        )
        if self.tokenizer is not None:
            config["tokenizer"] = keras.saving.serialize_keras_object(self.tokenizer)
        return self._with_quantized(config)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("tokenizer"), dict):
            config["tokenizer"] = keras.saving.deserialize_keras_object(
                config["tokenizer"]
            )
        return super().from_config(config)


def fill_missing_rows(pretrained, subword, words=None):
    """Give the rows of a `PretrainedEmbedding` that had no vector a subword vector.

    For each vocabulary word of `pretrained` whose row is `"missing"` (no
    pretrained vector; see `row_sources()`), the row becomes
    `subword.word_vectors([word])`. Rows that came from the file are left
    alone. Frozen/trainable status does not change.

    Args:
        pretrained: a `keras_embedx.layers.PretrainedEmbedding` built with
            `from_vectors`.
        subword: a `SubwordEmbedding` with the same `output_dim`.
        words: optional subset of words to fill; default all missing ones.

    Returns:
        int, how many rows were filled.
    """
    if subword.output_dim != pretrained.output_dim:
        raise ValueError(
            f"The subword vectors have {subword.output_dim} dims but the table has "
            f"{pretrained.output_dim}. Use a SubwordEmbedding of the same width."
        )
    vocab = pretrained.get_vocabulary()
    sources = pretrained.row_sources()
    wanted = None if words is None else set(words)
    fill = [
        i
        for i, (w, s) in enumerate(zip(vocab, sources))
        if s == "missing" and (wanted is None or w in wanted)
    ]
    if not fill:
        return 0
    table = pretrained.table
    matrix = table.full_table()
    matrix[fill] = subword.word_vectors([vocab[i] for i in fill])
    table.set_table(matrix, table.frozen_mask())
    return len(fill)


def fit_to_vectors(
    wv,
    num_buckets=100_000,
    minn=3,
    maxn=6,
    max_iterations=200,
    tolerance=1e-3,
    max_word_chars=None,
):
    """A fresh `SubwordEmbedding` whose n-gram rows reproduce pretrained vectors.

    For vectors that come with no subword information (a `.vec`/GloVe file,
    or a supervised fastText model, which has no n-gram buckets): finds the
    bucket rows so that each known word's vector, computed as fastText does
    (the mean of the rows of its character n-grams, `word_vectors`),
    approaches its pretrained vector. This is a linear least-squares
    problem; it is solved by conjugate gradients over a `scipy.sparse`
    matrix (CGLS, one column of the table at a time, all columns together)
    starting from zeros, which converges to the smallest table (least
    Frobenius norm) that fits, so buckets no known word uses stay zero. The model is fastText's n-gram
    bag, in the spirit of Pinter et al. 2017 ("Mimicking Word Embeddings
    using Subword RNNs"). The result gives vectors of the same width to
    words the file lacks, through the n-grams they share with known words;
    they are approximations learned from the file, not fastText's.

    The same on every backend (no Keras training), and memory-bounded:
    about `num_buckets * dim` floats plus a few times the n-gram count of
    the vocabulary. Words with no n-gram (`"</s>"`) are ignored.

    Args:
        wv: a `keras_embedx.WordVectors`.
        num_buckets: int, hash buckets of the new layer.
        minn: int, shortest n-gram in characters.
        maxn: int, longest n-gram in characters.
        max_iterations: int, most conjugate-gradient iterations.
        tolerance: float, stop when the residual of every column is below
            `tolerance` times that column's norm (or stops improving).
        max_word_chars: None or int, as for `SubwordEmbedding`.

    Returns:
        A `SubwordEmbedding` with `num_words=0`, `output_dim=wv.dim`,
        `freeze="none"` (it can be trained further).

    Example:

    >>> from gensim.test.utils import datapath
    >>> wv = keras_embedx.load_vectors(datapath("lee_fasttext.vec"), progress=False)
    >>> sub = keras_embedx.layers.subword.fit_to_vectors(wv, num_buckets=20_000)
    >>> sub.word_vectors(["governments"]).shape
    (1, 10)
    """
    try:
        from scipy import sparse
    except ImportError:
        raise ImportError(
            "fit_to_vectors solves a sparse least-squares problem with "
            "scipy.sparse, which is not installed. Install it with "
            "`pip install scipy` (gensim, jax and scikit-learn bring it too)."
        ) from None
    max_iterations = check_positive_int("max_iterations", max_iterations)
    if not 0.0 < float(tolerance) < 1.0:
        raise ValueError(
            f"`tolerance` must lie in (0, 1). Received: tolerance={tolerance!r}"
        )
    layer = SubwordEmbedding(
        num_buckets=num_buckets,
        output_dim=wv.dim,
        minn=minn,
        maxn=maxn,
        max_word_chars=max_word_chars,
        embeddings_initializer="zeros",
    )
    rows, splits = subwords.subword_rows(
        list(wv.words), 0, minn, maxn, num_buckets, max_word_chars=max_word_chars
    )
    counts = np.diff(splits)
    has = counts > 0
    if not has.any():
        raise ValueError(
            f"None of the {len(wv)} words has a character n-gram of {minn}..{maxn} "
            f"characters (words e.g. {list(wv.words[:3])}), so there is nothing "
            "to fit. Check `minn` and `maxn`."
        )
    # A: [words, used buckets], A[w, b] = (times b occurs in w) / n_w; the
    # n-grams of a word are one run of `rows`, so `splits` is A's row pointer.
    used, col = np.unique(rows, return_inverse=True)
    weight = (1.0 / np.repeat(counts[has], counts[has])).astype(np.float32)
    splits = np.concatenate([[0], np.cumsum(counts[has])])
    a = sparse.csr_matrix(
        (weight, col.reshape(-1), splits), shape=(int(has.sum()), len(used))
    )
    a_transposed = a.T.tocsr()
    dim = wv.dim

    def sq(x):  # squared norm of each column, in float64
        return np.einsum("ij,ij->j", x, x, dtype=np.float64)

    target = np.asarray(wv.vectors, np.float32)[has]
    x = np.zeros((len(used), dim), np.float32)
    r = target.copy()
    s = a_transposed @ r
    p = s.copy()
    gamma = sq(s)
    limit_r = float(tolerance) ** 2 * sq(target)
    # Past float32's rounding floor (|A^T r| near eps times its start) the
    # iterations only add noise, and can diverge.
    floor = float(np.finfo(np.float32).eps) ** 2
    limit_s = max(float(tolerance) ** 4, floor) * gamma
    for _ in range(max_iterations):
        if np.all((sq(r) <= limit_r) | (gamma <= limit_s)):
            break
        q = a @ p
        delta = sq(q)
        alpha = np.divide(gamma, delta, out=np.zeros_like(gamma), where=delta > 0)
        x += p * alpha.astype(np.float32)
        r -= q * alpha.astype(np.float32)
        s = a_transposed @ r
        new = sq(s)
        beta = np.divide(new, gamma, out=np.zeros_like(new), where=gamma > 0)
        p = s + p * beta.astype(np.float32)
        gamma = new
    layer.build()
    table = np.zeros((layer.num_rows, dim), np.float32)
    table[used + NUM_RESERVED] = x
    layer.table.set_table(table)
    return layer
