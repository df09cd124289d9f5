"""The classic embedding mistakes fail loudly or do what they say.

A tokenizer's `{word: id}` mapping, `trainable` set either way, a width
that disagrees with the vectors, and a saved config asking for an
impossible table: on every backend, each gives the rows its ids name, the
training Keras promises, or a `ValueError` that says what to pass.
"""

import json
import warnings
import zipfile

import keras
import numpy as np
import pytest
from gensim.test.utils import datapath

import keras_embedx
from keras_embedx import Vocabulary
from keras_embedx.layers import (
    CharEmbedding,
    PretrainedEmbedding,
    SubwordEmbedding,
    TokenAndPosition,
)
from keras_embedx.layers.table import EmbeddingTable

# A mapping whose insertion order is not its id order, as a Tokenizer built
# with oov_token="[UNK]" numbers it (the OOV token at 1, words from 2).
# "gripping" has no vector in the fixture; the others do.
WORD_INDEX = {"film": 5, "[UNK]": 1, "moving": 4, "a": 2, "dull": 6, "gripping": 3}


@pytest.fixture(scope="module")
def cp1252_wv():
    # The shipped file is Windows-1252 text.
    return keras_embedx.load_vectors(
        datapath("pang_lee_polarity_fasttext.vec"), encoding="cp1252"
    )


def _rows(layer, ids):
    return keras.ops.convert_to_numpy(layer(np.asarray(ids, dtype="int32")))


# ------------------------------------------------------- {word: id} mappings
@pytest.mark.parametrize(
    "word_index",
    [WORD_INDEX, {w: i for w, i in WORD_INDEX.items() if w != "[UNK]"}],
    ids=["oov_token_at_1", "words_from_2"],
)
def test_mapping_ids_are_honoured(cp1252_wv, word_index):
    layer = PretrainedEmbedding.from_vectors(cp1252_wv, word_index)
    words = {i: w for w, i in word_index.items() if w != "[UNK]"}
    assert layer.input_dim == 7
    out = _rows(layer, [sorted(words)])[0]
    for position, i in enumerate(sorted(words)):
        if words[i] in cp1252_wv.key_to_index:
            np.testing.assert_array_equal(out[position], cp1252_wv[words[i]])
    sources = layer.row_sources()
    assert sources[:2] == ["padding", "oov"]
    assert sources[3] == "missing"  # "gripping", id 3, has no vector
    assert layer.get_vocabulary() == [
        "",
        "[UNK]",
        "a",
        "gripping",
        "moving",
        "film",
        "dull",
    ]
    vocab = Vocabulary(word_index)
    assert vocab.encode([["film", "a", "unseen"]]).tolist() == [[5, 2, 1]]
    # The constructor's `vocabulary=` reads a mapping the same way.
    labels = PretrainedEmbedding(7, 4, vocabulary=word_index).get_vocabulary()
    assert labels == layer.get_vocabulary()


def test_mapping_with_a_word_at_the_oov_id_is_refused_with_the_fix(cp1252_wv):
    word_index = {"a": 1, "gripping": 2, "moving": 3, "film": 4}
    with pytest.raises(ValueError, match=r"'a' id 1.*oov_token=\"\[UNK\]\""):
        PretrainedEmbedding.from_vectors(cp1252_wv, word_index)
    with pytest.raises(ValueError, match=r"sorted\(tokens, key=tokens.get\)"):
        Vocabulary(word_index)
    # The message's second way: the words as a list, encoded by the Vocabulary.
    vocab = Vocabulary(sorted(word_index, key=word_index.get))
    layer = PretrainedEmbedding.from_vectors(cp1252_wv, vocab)
    out = _rows(layer, vocab.encode([["film"]]))
    np.testing.assert_array_equal(out[0, 0], cp1252_wv["film"])


@pytest.mark.host_only
@pytest.mark.parametrize(
    ("mapping", "kwargs", "match"),
    [
        ({"a": 0, "b": 2}, {}, r"padding row.*tokens\['a'\]=0"),
        ({"a": 2, "b": 2}, {}, r"id 2 for both 'a' and 'b'"),
        ({"a": 2, "b": -1}, {}, r"non-negative int.*tokens\['b'\]=-1"),
        ({"a": 2, "b": 3.0}, {}, r"tokens\['b'\]=3.0 \(of type float\)"),
        ({"a": 2, "b": True}, {}, r"tokens\['b'\]=True \(of type bool\)"),
        ({"a": 2, "b": 5}, {}, r"ids 2 to 5 but none with id 3 \(and 1 more\)"),
        ({"a": 2, "b": 10**12}, {}, r"none with id 3 \(and 999,999,999,996 more"),
        ({"a": 2, "[UNK]": 3}, {}, r"'\[UNK\]'\]=3, after the first word's id 2"),
        ({"a": 3, "b": 4}, {"num_oov_indices": 1}, r"num_oov_indices=2\. Rec"),
        ({"a": 1, "b": 1, "c": 2}, {}, r"read as ids, not counts"),
    ],
)
def test_inconsistent_mappings_are_refused(mapping, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Vocabulary(mapping, **kwargs)


@pytest.mark.host_only
def test_skipped_oov_ids_are_oov_rows():
    vocab = Vocabulary({"b": 4, "a": 3}, counts=[7, 9])
    assert vocab.get_vocabulary() == ["", "[UNK]", "[UNK]", "a", "b"]
    assert vocab.num_oov_indices == 2
    assert vocab.counts.tolist() == [7, 9]
    assert vocab.token_to_id("a") == 3 and vocab.token_to_id("b") == 4
    with pytest.raises(ValueError, match="Pass it to `keras_embedx.Vocabulary`"):
        keras_embedx.vocabulary.token_list({"a": 2})


# ------------------------------------------------------------ trainable
def _classifier(layer, length):
    model = keras.Sequential(
        [
            keras.Input((length,), dtype="int32"),
            layer,
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.Adam(0.1), "mse")
    return model


def _fit(model, x):
    model.fit(x, np.ones(len(x)), epochs=3, batch_size=4, verbose=0)


def _layer_weights(layer):
    return [keras.ops.convert_to_numpy(v).copy() for v in layer.weights]


@pytest.mark.parametrize("build", ["from_vectors", "constructor"])
def test_trainable_false_trains_nothing(cp1252_wv, build):
    if build == "from_vectors":
        vocab = Vocabulary(["a", "gripping", "moving", "film"])
        layer = PretrainedEmbedding.from_vectors(cp1252_wv, vocab, trainable=False)
    else:
        layer = PretrainedEmbedding(6, 8, freeze="pretrained", trainable=False)
    model = _classifier(layer, 3)
    assert layer.trainable is False
    mine = {id(v) for v in layer.weights}
    assert not [v.path for v in model.trainable_weights if id(v) in mine]
    before = _layer_weights(layer), layer.embeddings
    dense = keras.ops.convert_to_numpy(model.layers[-1].kernel).copy()
    _fit(model, np.array([[2, 3, 1], [4, 5, 0]] * 4))
    assert np.abs(keras.ops.convert_to_numpy(model.layers[-1].kernel) - dense).max()
    np.testing.assert_array_equal(layer.embeddings, before[1])
    for old, new, v in zip(before[0], _layer_weights(layer), layer.weights):
        if v.name != "frozen_table":  # also a cache of trainable rows, see _table
            np.testing.assert_array_equal(old, new)


def test_other_layers_pass_trainable_false_to_their_sublayers():
    layers = {
        (None, 4): TokenAndPosition(
            vocabulary_size=20, sequence_length=4, embedding_dim=8, trainable=False
        ),
        (None, 3, 6): CharEmbedding(
            8, max_chars=6, filters=[[2, 4]], highway_layers=1, trainable=False
        ),
    }
    for shape, layer in layers.items():
        layer.build(shape)
        # What a model's `trainable_weights` collects from its layers.
        assert layer.weights and not [v.path for v in layer.weights if v.trainable]


def test_trainable_true_restores_freeze_mode_and_warns(cp1252_wv):
    vocab = Vocabulary(["a", "gripping", "moving", "film"])
    layer = PretrainedEmbedding.from_vectors(cp1252_wv, vocab)
    sources = np.array(layer.row_sources())
    model = _classifier(layer, 3)
    layer.trainable = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer.trainable = True
    messages = [str(w.message) for w in caught]
    assert any(
        "freeze=" in m and "keras_embedx.callbacks.UnfreezeSchedule" in m
        for m in messages
    ), messages
    before = layer.embeddings
    _fit(model, np.array([[2, 3, 1], [4, 5, 0]] * 4))
    after = layer.embeddings
    frozen = np.isin(sources, ("pretrained", "lowercase", "padding"))
    np.testing.assert_array_equal(after[frozen], before[frozen])
    assert np.abs(after[~frozen] - before[~frozen]).max() > 0  # oov, "gripping"


def test_trainable_true_without_frozen_rows_is_silent():
    layer = PretrainedEmbedding(6, 4, freeze="none")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer.trainable = False
        layer.trainable = True


# ------------------------------------------------------------- widths
def test_from_vectors_output_dim_that_disagrees_names_both_widths(cp1252_wv):
    vocab = Vocabulary(["a", "film"])
    with pytest.raises(ValueError, match=r"are 100 wide but output_dim=50\. Leave"):
        PretrainedEmbedding.from_vectors(cp1252_wv, vocab, output_dim=50)
    with pytest.raises(ValueError, match=r"input_dim.*4 rows.*input_dim=9"):
        PretrainedEmbedding.from_vectors(cp1252_wv, vocab, input_dim=9)
    layer = PretrainedEmbedding.from_vectors(
        cp1252_wv, vocab, output_dim=100, input_dim=4
    )
    assert (layer.input_dim, layer.output_dim) == (4, 100)


def test_constant_initializer_of_another_width_names_both(cp1252_wv):
    matrix = cp1252_wv.vectors[:11]
    init = keras.initializers.Constant(matrix)
    with pytest.raises(ValueError, match=r"100 wide but output_dim=50.*output_dim=100"):
        PretrainedEmbedding(11, 50, embeddings_initializer=init)
    with pytest.raises(ValueError, match=r"\[12, 100\].*shape \(11, 100\)"):
        PretrainedEmbedding(12, 100, embeddings_initializer=init)
    # The right shape sets every row, frozen ones included.
    for freeze in ("none", "pretrained", "all"):
        layer = PretrainedEmbedding(11, 100, freeze=freeze, embeddings_initializer=init)
        np.testing.assert_array_equal(_rows(layer, [np.arange(11)])[0], matrix)


# -------------------------------------------------- impossible sizes
HUGE = 10**12


def test_config_with_impossible_input_dim_is_refused_before_allocating():
    config = PretrainedEmbedding(11, 5).get_config()
    config["input_dim"] = HUGE
    with pytest.raises((ValueError, TypeError), match=r"1,000,000,000,000 rows.*bytes"):
        PretrainedEmbedding.from_config(config)
    config = TokenAndPosition(
        vocabulary_size=20, sequence_length=4, embedding_dim=8
    ).get_config()
    config["vocabulary_size"] = HUGE
    with pytest.raises((ValueError, TypeError), match=r"vocabulary_size.*output_dim"):
        TokenAndPosition.from_config(config)
    config = SubwordEmbedding(num_buckets=20, output_dim=4).get_config()
    config["num_buckets"] = HUGE
    with pytest.raises((ValueError, TypeError), match=r"num_buckets.*output_dim"):
        SubwordEmbedding.from_config(config)
    # A large legitimate table (2M x 300, frozen, schedulable) is accepted.
    table = EmbeddingTable(2_000_000, 300, num_frozen=1_999_000, schedulable=True)
    assert not table.built


def test_keras_file_with_impossible_input_dim_is_refused(tmp_path):
    x = keras.Input((3,), dtype="int32")
    model = keras.Model(x, PretrainedEmbedding(11, 5)(x))
    good = tmp_path / "good.keras"
    model.save(good)
    bad = tmp_path / "bad.keras"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "config.json":
                text = json.loads(data)
                layer = text["config"]["layers"][1]["config"]
                assert layer["input_dim"] == 11
                layer["input_dim"] = HUGE
                data = json.dumps(text).encode()
            dst.writestr(item, data)
    with pytest.raises((ValueError, TypeError), match=r"input_dim.*\d bytes"):
        keras.saving.load_model(bad)
