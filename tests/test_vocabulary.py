"""Vocabulary: Keras index conventions, encode, coverage."""

import numpy as np
import pytest
from gensim.models import KeyedVectors

from keras_embedx import Vocabulary, WordVectors
from keras_embedx.vocabulary import standardize_text

TEXTS = [
    "The cat sat on the mat.",
    "The dog, the cat!",
    "A dog, a life?",
]


def test_from_texts_orders_by_frequency_and_reserves_ids():
    vocab = Vocabulary.from_texts(TEXTS)
    assert vocab.get_vocabulary()[:5] == ["", "[UNK]", "the", "cat", "dog"]
    assert len(vocab) == len(vocab.get_vocabulary())
    assert vocab.counts[:3].tolist() == [4, 2, 2]


def test_max_tokens_counts_reserved_ids_and_min_count_drops_rare():
    vocab = Vocabulary.from_texts(TEXTS, max_tokens=4)
    assert vocab.get_vocabulary() == ["", "[UNK]", "the", "cat"]
    assert Vocabulary.from_texts(TEXTS, min_count=2).tokens == [
        "the",
        "cat",
        "dog",
        "a",
    ]
    with pytest.raises(ValueError, match="max_tokens"):
        Vocabulary.from_texts(TEXTS, max_tokens=2)


def test_standardization_matches_text_vectorization():
    tf = pytest.importorskip("tensorflow")
    import keras

    layer = keras.layers.TextVectorization(output_mode="int")
    layer.adapt(tf.constant(TEXTS))
    text = "The dog's cat, on a MAT!"
    ours = standardize_text(text)
    theirs = tf.strings.regex_replace(
        tf.strings.lower(text), r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']', ""
    )
    assert ours == theirs.numpy().decode()
    vocab = Vocabulary(layer.get_vocabulary())
    expected = keras.ops.convert_to_numpy(layer(tf.constant([text])))
    np.testing.assert_array_equal(vocab.encode([text]), expected)


def test_encode_matches_string_lookup_ids():
    pytest.importorskip("tensorflow")
    import keras

    vocab = Vocabulary.from_texts(TEXTS)
    lookup = keras.layers.StringLookup(mask_token="", vocabulary=vocab.get_vocabulary())
    tokens = ["the", "zebra", "mat", "", "dog"]
    ids = keras.ops.convert_to_numpy(lookup(np.array(tokens)))
    assert vocab.encode([tokens])[0].tolist() == ids.tolist()


def test_get_vocabulary_accepted_by_text_vectorization():
    pytest.importorskip("tensorflow")
    import keras

    vocab = Vocabulary.from_texts(TEXTS)
    layer = keras.layers.TextVectorization(vocabulary=vocab.get_vocabulary())
    assert layer.get_vocabulary() == vocab.get_vocabulary()


def test_encode_pads_and_truncates_like_pad_sequences():
    import keras

    vocab = Vocabulary.from_texts(TEXTS)
    seqs = [vocab.encode([t])[0].tolist() for t in TEXTS]
    for padding in ("pre", "post"):
        for truncating in ("pre", "post"):
            expected = keras.utils.pad_sequences(
                seqs, maxlen=4, padding=padding, truncating=truncating
            )
            got = vocab.encode(
                TEXTS, sequence_length=4, padding=padding, truncating=truncating
            )
            np.testing.assert_array_equal(got, expected)
    assert vocab.encode("the cat").tolist() == [[2, 3]]
    assert vocab.encode([["the", "unknownword"]]).tolist() == [[2, 1]]


def test_reserved_tokens_and_duplicates_are_rejected():
    assert Vocabulary(["", "[UNK]", "a", "b"]).tokens == ["a", "b"]
    with pytest.raises(ValueError, match="unique.*'a'.*0 and 2"):
        Vocabulary(["a", "b", "a"])
    with pytest.raises(ValueError, match="reserved"):
        Vocabulary(["a", "[UNK]"])
    with pytest.raises(ValueError, match="num_oov_indices"):
        Vocabulary(["a"], num_oov_indices=0)
    with pytest.raises(ValueError, match="list of str"):
        Vocabulary("abc")


def test_several_oov_indices_hash_unknown_tokens():
    vocab = Vocabulary(["a", "b"], num_oov_indices=4)
    assert vocab.get_vocabulary() == ["", "[UNK]", "[UNK]", "[UNK]", "[UNK]", "a", "b"]
    ids = vocab.encode([[f"unknown{i}" for i in range(50)]])[0]
    assert set(ids.tolist()) == {1, 2, 3, 4}
    assert vocab.encode([["a", "b"]]).tolist() == [[5, 6]]


def test_coverage_against_shipped_vectors(datapath):
    kv = KeyedVectors.load_word2vec_format(
        datapath("pang_lee_polarity_fasttext.vec"), encoding="latin-1"
    )
    wv = WordVectors(kv.index_to_key, kv.vectors)
    known = kv.index_to_key[10:14]
    texts = [" ".join(known), known[0], known[0].upper() + " qqzx"]
    vocab = Vocabulary.from_texts(texts, standardize=None)
    cov = vocab.coverage(wv)
    # Types: 4 known + upper-case form + qqzx = 6; exact: 4.
    assert cov.types == pytest.approx(4 / 6)
    assert cov.types_with_fallback == pytest.approx(5 / 6)
    # Tokens: known[0] appears twice, so exact tokens are 5 of 7.
    assert cov.tokens == pytest.approx(5 / 7)
    assert cov.tokens_with_fallback == pytest.approx(6 / 7)
    assert cov.missing == ["qqzx"]
