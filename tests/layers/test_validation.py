"""Bad arguments fail up front with a message naming them, on every backend;
never a silently different result or an error deep inside a backend."""

import re
import warnings

import keras
import numpy as np
import pytest

from keras_embedx import Vocabulary, WordVectors
from keras_embedx.callbacks import UnfreezeSchedule
from keras_embedx.layers import (
    CharEmbedding,
    PretrainedEmbedding,
    SubwordEmbedding,
    TokenAndPosition,
)

WV = WordVectors(["the", "cat", "bird"], np.eye(3, dtype="float32"))


def _token_and_position():
    return TokenAndPosition(10, 4, 4)


def _built_token_and_position():
    layer = _token_and_position()
    layer(np.ones((1, 3), "int32"))
    return layer


BAD_CALLS = {
    "vocabulary opens with more [UNK] than num_oov_indices": (
        lambda: Vocabulary(["", "[UNK]", "[UNK]", "a"], num_oov_indices=1),
        r"opens with 2 '\[UNK\]' entries",
    ),
    "vocabulary [UNK] before padding": (
        lambda: Vocabulary(["[UNK]", "", "a"]),
        "may only open the list",
    ),
    "vocabulary from one str": (
        lambda: Vocabulary.from_texts("the cat sat"),
        "not one str",
    ),
    "vocabulary of None": (lambda: Vocabulary(None), "tokens=None"),
    "vocabulary min_count as str": (
        lambda: Vocabulary.from_texts(["a"], min_count="2"),
        "min_count='2'",
    ),
    "vocabulary max_tokens as float": (
        lambda: Vocabulary.from_texts(["a"], max_tokens=3.5),
        "max_tokens=3.5",
    ),
    "vocabulary unknown split": (
        lambda: Vocabulary(["a"], split="comma"),
        "split='comma'",
    ),
    "encode ids instead of tokens": (
        lambda: Vocabulary(["a"], num_oov_indices=2).encode([[1, 2]]),
        r"texts_or_tokens\[0\]\[0\]=1",
    ),
    "layer vocabulary without the reserved rows": (
        lambda: PretrainedEmbedding(5, 2, vocabulary=["a", "b", "c", "d", "e"]),
        "must open with",
    ),
    "layer vocabulary with a repeated word": (
        lambda: PretrainedEmbedding(5, 2, vocabulary=["", "[UNK]", "a", "a", "b"]),
        "unique",
    ),
    "layer vocabulary as one str": (
        lambda: PretrainedEmbedding(5, 2, vocabulary="abcde"),
        "not one str",
    ),
    "freeze all with fewer frozen rows": (
        lambda: PretrainedEmbedding(5, 4, freeze="all", num_frozen=2),
        "num_frozen=2",
    ),
    "mask_zero as str": (
        lambda: PretrainedEmbedding(5, 4, mask_zero="no"),
        "mask_zero='no'",
    ),
    "from_vectors without vectors": (
        lambda: PretrainedEmbedding.from_vectors(None),
        "WordVectors",
    ),
    "from_vectors with zero OOV ids": (
        lambda: PretrainedEmbedding.from_vectors(WV, ["cat"], num_oov_indices=0),
        "num_oov_indices=0",
    ),
    "from_vectors vocabulary as one str": (
        lambda: PretrainedEmbedding.from_vectors(WV, "cat"),
        "not one str",
    ),
    "from_vectors negative seed": (
        lambda: PretrainedEmbedding.from_vectors(WV, ["cat"], seed=-1),
        "seed=-1",
    ),
    "char_dim zero": (lambda: CharEmbedding(8, char_dim=0), "char_dim=0"),
    "highway gate bias as str": (
        lambda: CharEmbedding(8, highway_gate_bias="x"),
        "highway_gate_bias='x'",
    ),
    "pooling with n-gram units": (
        lambda: SubwordEmbedding(10, 4, pooling="sum"),
        "pooling='sum'",
    ),
    "subword words repeated": (
        lambda: SubwordEmbedding(10, 4, num_words=2, vocabulary=["a", "a"]),
        "'a' more than once",
    ),
    "dropout as str": (lambda: TokenAndPosition(10, 8, 4, dropout="x"), "dropout='x'"),
    "max_wavelength None": (
        lambda: TokenAndPosition(10, 8, 4, max_wavelength=None),
        "max_wavelength=None",
    ),
    "negative start_index": (
        lambda: _token_and_position()(np.zeros((1, 3), "int32"), start_index=-1),
        "start_index=-1",
    ),
    "float start_index": (
        lambda: _token_and_position()(np.zeros((1, 3), "int32"), start_index=1.5),
        "start_index=1.5",
    ),
    "positions of another length": (
        lambda: _token_and_position()(
            np.ones((1, 3), "int32"), positions=np.array([0, 1])
        ),
        r"positions.shape=\(2,\)",
    ),
    "reverse of the wrong width": (
        lambda: _built_token_and_position().reverse(np.ones((1, 3, 5), "float32")),
        r"hidden.shape=\(1, 3, 5\)",
    ),
    "word vectors from one str": (
        lambda: WordVectors("ab", np.eye(2)),
        "not one str",
    ),
    "most_similar negative restrict_vocab": (
        lambda: WV.most_similar("cat", restrict_vocab=-1),
        "restrict_vocab=-1",
    ),
    "mmap as str": (lambda: WordVectors.load("any.kxv", mmap="no"), "mmap='no'"),
    "unfreeze verbose as str": (
        lambda: UnfreezeSchedule({0: 0.0}, verbose="x"),
        "verbose='x'",
    ),
    "most_similar fractional topn": (
        lambda: WV.most_similar("cat", topn=1.7),
        "topn=1.7",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_argument_is_named(case):
    call, message = BAD_CALLS[case]
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_reverse_before_build_still_says_build_first():
    layer = _token_and_position()
    with pytest.raises(ValueError, match="not built"):
        layer.reverse(np.ones((1, 3, 4), "float32"))


def test_vocabulary_with_two_oov_ids_round_trips_through_get_vocabulary():
    # The ids of the words must not shift when a layer is rebuilt from the
    # list `get_vocabulary()` returns (two "[UNK]" entries).
    first = PretrainedEmbedding.from_vectors(
        WV, Vocabulary(["the", "cat", "bird"], num_oov_indices=2)
    )
    listed = first.get_vocabulary()
    assert listed == ["", "[UNK]", "[UNK]", "the", "cat", "bird"]
    second = PretrainedEmbedding.from_vectors(WV, listed)
    assert second.num_oov_indices == 2 and second.get_vocabulary() == listed
    ids = Vocabulary(listed).encode([["bird", "cat", "zebra"]])
    np.testing.assert_array_equal(ids, [[5, 4, 1]])
    bird = keras.ops.convert_to_numpy(second(ids))[0, 0]
    np.testing.assert_array_equal(bird, WV["bird"])


def test_positions_of_each_accepted_shape_give_the_same_rows():
    layer = _token_and_position()
    ids = np.ones((2, 3), "int32")
    plain = keras.ops.convert_to_numpy(layer(ids))
    for positions in (np.arange(3), np.arange(3)[None], np.tile(np.arange(3), (2, 1))):
        got = keras.ops.convert_to_numpy(layer(ids, positions=positions))
        np.testing.assert_array_equal(got, plain)


def test_saving_into_a_missing_folder_names_the_folder(tmp_path):
    target = tmp_path / "no_such_folder" / "vectors.kxv"
    with pytest.raises(FileNotFoundError, match=re.escape(str(target.parent))):
        WV.save(target)
    assert not target.parent.exists()


def test_cli_errors_choices_are_the_loaders():
    from keras_embedx.cli import build_parser
    from keras_embedx.vectors.load import ERRORS

    parser = build_parser()
    for command in (["project", "f", "--log-dir", "d"], ["plot", "f", "--out", "o"]):
        for choice in ERRORS:
            args = parser.parse_args([*command, "--errors", choice])
            assert args.errors == choice


@pytest.mark.skipif(keras.config.backend() != "torch", reason="eager PyTorch path")
def test_schedulable_table_at_factor_zero_trains_without_a_missing_loss_warning():
    # At factor 0 eager PyTorch lookups do not read `frozen_live`, so it gets
    # no gradient; Keras' "did you forget to provide a loss" warning about it
    # alone would mislead.
    emb = PretrainedEmbedding.from_vectors(WV, ["the", "zebra"], schedulable=True)
    model = keras.Sequential(
        [
            keras.Input((2,), dtype="int32"),
            emb,
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    model.compile("adam", "mse")
    x, y = np.array([[3, 4]] * 4), np.zeros((4, 1))
    with warnings.catch_warnings(record=True) as caught:
        model.fit(x, y, epochs=2, verbose=0)
    missing = [w for w in caught if "Gradients do not exist" in str(w.message)]
    assert not missing, [str(w.message) for w in missing]


def test_numpy_ints_are_accepted_like_ints(datapath, tmp_path):
    from keras_embedx import callbacks, load_vectors, suggest_dim

    wv = load_vectors(datapath("test_glove.txt"), limit=np.int64(2))
    assert len(wv) == 2
    cb = callbacks.ProjectorCallback(str(tmp_path), every_n_epochs=np.int64(2))
    assert cb.every_n_epochs == 2 and type(cb.every_n_epochs) is int
    assert suggest_dim(np.int64(10_000)) == suggest_dim(10_000)
    assert Vocabulary(["a", "b"]).encode(
        ["a b"], sequence_length=np.int32(3)
    ).shape == (
        1,
        3,
    )


@pytest.mark.parametrize("pooling", ["first", "last"])
def test_first_and_last_pooling_skip_dropped_units(pooling):
    # Out-of-range ids become the OOV row, which never contributes: "first"
    # and "last" take the first or last unit actually used, wherever the
    # dropped ids and the padding sit.
    layer = SubwordEmbedding(10, 3, units="tokenizer", pooling=pooling, minn=0, maxn=0)
    layer.build()
    table = layer.embeddings
    x = np.array([[[5, 7, 0], [5, 99, 7], [-3, 5, 7], [0, 0, 0], [99, -3, 0]]])
    out = keras.ops.convert_to_numpy(layer(x.astype("int32")))[0]
    unit = {"first": 5, "last": 7}[pooling]
    for word in range(3):
        np.testing.assert_array_equal(out[word], table[unit])
    np.testing.assert_array_equal(out[3:], 0)


def test_unsigned_ids_past_int32_get_the_oov_row():
    layer = PretrainedEmbedding(10, 2)
    table = layer.embeddings
    x = np.array([[2**32 - 1, 3, 2**31 + 5]], "uint32")
    out = keras.ops.convert_to_numpy(layer(x))[0]
    np.testing.assert_array_equal(out, table[[1, 3, 1]])


def test_subword_layer_without_its_vocabulary_refuses_to_encode(datapath):
    layer = SubwordEmbedding.from_fasttext(datapath("toy-model.bin"))
    clone = SubwordEmbedding.from_config(layer.get_config())
    with pytest.raises(ValueError, match="no vocabulary"):
        clone.encode(["the"])
    clone.set_vocabulary(layer.get_vocabulary())
    np.testing.assert_array_equal(clone.encode(["the"]), layer.encode(["the"]))
