"""Every public layer, in each of its modes, through `tests.harness.check_layer`.

Tables are tiny (a dozen words of gensim's shipped vectors, fastText's toy
model) so that the whole file stays fast on each backend.
"""

import functools
import typing

import numpy as np
import pytest
from keras import ops

from keras_embedx.layers import (
    CharEmbedding,
    PretrainedEmbedding,
    SubwordEmbedding,
    TokenAndPosition,
)
from keras_embedx.vectors import WordVectors
from tests.harness import RowCheck, check_layer

# Eight words the polarity vectors have, and two they lack (their rows, and
# the OOV rows, train under freeze="pretrained").
KNOWN = ["the", "film", "a", "is", "and", "of", "movie", "story"]
MISSING = ["zzqx-unseen", "blorptastic"]
# The mask of a batch of two sentences of three words and one word.
THREE_AND_ONE = np.array([[True, True, True], [True, False, False]])


class Case(typing.NamedTuple):
    make: object  # make(**kwargs) -> a fresh layer
    inputs: np.ndarray
    shape: tuple  # of the output for `inputs`
    mask: object  # the expected mask, or None
    rows: RowCheck


def _embeddings(layer):
    return layer.embeddings


def _token_embeddings(layer):
    return layer.token_embedding.embeddings


def _tied_table(layer):
    """The token table through the tied projection: logits of the unit vectors."""
    dim = layer.embedding_dim
    return np.asarray(
        ops.convert_to_numpy(layer.reverse(np.eye(dim, dtype="float32")))
    ).T


def _rows_read(ids, num_rows):
    """Rows `ids` read (padding excluded), and the rows they do not read."""
    read = np.unique(ids[ids > 0])
    return read, np.setdiff1d(np.arange(num_rows), read)


def _pretrained_case(wv, num_oov=1, **options):
    vocabulary = KNOWN + MISSING
    make = functools.partial(
        PretrainedEmbedding.from_vectors,
        wv,
        vocabulary,
        num_oov_indices=num_oov,
        seed=0,
        name="words",
        **options,
    )
    rows = num_oov + 1 + len(vocabulary)
    first = num_oov + 1  # the first word's row
    missing = [first + vocabulary.index(w) for w in MISSING]
    ids = np.array(
        [
            [first, first + 1, missing[0], 1, 0],
            [missing[1], first + 3, num_oov, first + 7, 0],
            [first + 2, 0, 0, 0, 0],
        ],
        "int32",
    )
    read, unread = _rows_read(ids, rows)
    if options.get("freeze", "pretrained") == "pretrained":
        pretrained = np.arange(first, first + len(KNOWN))
        trained = np.setdiff1d(read, pretrained)
        unchanged = np.union1d(pretrained, unread)
    else:
        trained, unchanged = read, unread
    return Case(
        make,
        ids,
        (3, 5, wv.dim),
        ids != 0,
        RowCheck(_embeddings, trained=trained, unchanged=unchanged),
    )


def _trainable_table_case(make, ids, num_rows, dim, read):
    """A layer on word ids whose every row trains: the rows `ids` read move."""
    trained, unread = _rows_read(ids, num_rows)
    return Case(
        make,
        ids,
        (*ids.shape, dim),
        ids != 0,
        RowCheck(read, trained=trained, unchanged=unread),
    )


def _pretrained_plain_case(wv):
    # Built like keras.layers.Embedding, without vectors.
    make = functools.partial(PretrainedEmbedding, 12, 4, name="words")
    ids = np.array([[3, 5, 11, 0], [1, 2, 7, 0]], "int32")
    return _trainable_table_case(make, ids, 12, 4, _embeddings)


def _subword_hashed_case(wv):
    make = functools.partial(
        SubwordEmbedding, num_buckets=30, output_dim=6, minn=2, maxn=3, name="subwords"
    )
    ids = make().encode([["good", "great", "goody"], ["bad"]], max_ngrams=6)
    read, unread = _rows_read(ids, 2 + 30)
    rows = RowCheck(_embeddings, trained=read[read > 1], unchanged=unread)
    return Case(make, ids, (2, 3, 6), THREE_AND_ONE, rows)


def _subword_fasttext_case(wv, datapath, freeze):
    make = functools.partial(
        SubwordEmbedding.from_fasttext,
        datapath("toy-model.bin"),
        freeze=freeze,
        name="subwords",
    )
    probe = make()
    # "night" is a word of the model, "nightz" is not: n-gram rows only.
    ids = probe.encode([["night", "nightz"], ["the"]], max_ngrams=12)
    words = 2 + probe.num_words
    read, unread = _rows_read(ids, probe.num_rows)
    if freeze == "all":
        trained, unchanged = (), np.arange(probe.num_rows)
    else:
        trained = read[read >= words]
        unchanged = np.union1d(np.arange(words), unread)
    return Case(
        make,
        ids,
        (2, 2, probe.output_dim),
        np.array([[True, True], [True, False]]),
        RowCheck(_embeddings, trained=trained, unchanged=unchanged),
    )


def _subword_units_case(wv):
    keras_hub = pytest.importorskip("keras_hub")
    tokenizer = keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=["[PAD]", "[UNK]", "the", "qu", "##ick", "fox", "##es"],
        lowercase=True,
    )
    make = functools.partial(
        SubwordEmbedding.from_tokenizer,
        tokenizer,
        output_dim=4,
        pooling="mean",
        name="units",
    )
    ids = make().encode([["quick", "foxes", "the"], ["fox"]])
    read, unread = _rows_read(ids, 2 + 7)
    rows = RowCheck(_embeddings, trained=read, unchanged=unread)
    return Case(make, ids, (2, 3, 4), THREE_AND_ONE, rows)


def _char_case(wv, encoder):
    options = {"encoder": encoder, "char_dim": 4, "max_chars": 10, "name": "chars"}
    if encoder == "cnn":
        options.update(filters=[[1, 3], [2, 4], [3, 2]], highway_layers=1)
    else:
        options.update(lstm_units=3)
    make = functools.partial(
        CharEmbedding.from_texts, ["a fine film", "a dull one"], 5, **options
    )
    probe = make()
    ids = probe.encode([["a", "fine", "zebra"], ["dull"]])
    read, unread = _rows_read(ids, len(probe.get_vocabulary()))
    # Max-pooling routes a gradient to the winning windows only, so a read
    # row need not move under the CNN; under the BiLSTM each does.
    trained = read if encoder == "bilstm" else ()
    mask = THREE_AND_ONE
    rows = RowCheck(_embeddings, trained=trained, unchanged=unread)
    return Case(make, ids, (2, 3, 5), mask, rows)


def _token_and_position_case(wv, position):
    make = functools.partial(
        TokenAndPosition, 12, 6, 4, position=position, name="token_and_position"
    )
    ids = np.array([[3, 5, 11, 0, 0], [1, 2, 7, 9, 4]], "int32")
    return _trainable_table_case(make, ids, 12, 4, _tied_table)


def _token_and_position_pretrained_case(wv):
    small = WordVectors(KNOWN, np.stack([wv[w] for w in KNOWN]))

    def make(**kwargs):
        words = PretrainedEmbedding.from_vectors(small, KNOWN + MISSING, seed=0)
        return TokenAndPosition(
            None,
            6,
            None,
            token_embedding=words,
            position="learned",
            name="token_and_position",
            **kwargs,
        )

    ids = np.array([[2, 10, 3, 0], [11, 1, 9, 5]], "int32")
    read, unread = _rows_read(ids, 12)
    pretrained = np.arange(2, 2 + len(KNOWN))
    rows = RowCheck(
        _token_embeddings,
        trained=np.setdiff1d(read, pretrained),
        unchanged=np.union1d(pretrained, unread),
    )
    return Case(make, ids, (2, 4, wv.dim), ids != 0, rows)


CASES = {
    "pretrained-trainable": lambda wv, dp: _pretrained_case(wv, freeze="none"),
    "pretrained-mixed": lambda wv, dp: _pretrained_case(wv),
    "pretrained-hashed-oov": lambda wv, dp: _pretrained_case(wv, num_oov=3),
    "pretrained-int8": lambda wv, dp: _pretrained_case(wv, storage_dtype="int8"),
    "pretrained-plain": lambda wv, dp: _pretrained_plain_case(wv),
    "subword-hashed": lambda wv, dp: _subword_hashed_case(wv),
    "subword-fasttext-frozen": lambda wv, dp: _subword_fasttext_case(wv, dp, "all"),
    "subword-fasttext-words": lambda wv, dp: _subword_fasttext_case(wv, dp, "words"),
    "subword-units": lambda wv, dp: _subword_units_case(wv),
    "char-cnn": lambda wv, dp: _char_case(wv, "cnn"),
    "char-bilstm": lambda wv, dp: _char_case(wv, "bilstm"),
    "tp-learned": lambda wv, dp: _token_and_position_case(wv, "learned"),
    "tp-sinusoidal": lambda wv, dp: _token_and_position_case(wv, "sinusoidal"),
    "tp-pretrained": lambda wv, dp: _token_and_position_pretrained_case(wv),
}


@pytest.mark.parametrize("case", list(CASES))
def test_layer(case, wv, datapath, tmp_path, cross_backend):
    spec = CASES[case](wv, datapath)
    check_layer(
        spec.make,
        spec.inputs,
        spec.shape,
        expected_mask=spec.mask,
        rows=spec.rows,
        save_path=str(tmp_path / f"{case}.keras"),
        loader=cross_backend,
    )
