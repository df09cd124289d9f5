"""What the layers do with bad or degenerate inputs, on every backend.

Strings instead of ids, ids past int32 (which JAX truncates when 64-bit
types are off), and empty batches, sequences, words and bags: each gets a
clear `ValueError` or the empty result of the right shape, never a
backend's error from deep inside, never a wrong row.
"""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_embedx.layers import (
    CharEmbedding,
    PretrainedEmbedding,
    SubwordEmbedding,
    TokenAndPosition,
)

BACKEND = keras.config.backend()
SMALL_CNN = {"char_dim": 4, "filters": [[1, 4], [3, 4]]}


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def make(kind, **kwargs):
    """A small layer of each kind, and the rank of the ids it takes."""
    if kind == "pretrained":
        return PretrainedEmbedding(10, 4, **kwargs), 2
    if kind == "subword":
        return SubwordEmbedding(20, 4, **kwargs), 3
    if kind == "char":
        return CharEmbedding(4, max_chars=8, **SMALL_CNN, **kwargs), 3
    return TokenAndPosition(10, 8, 4, **kwargs), 2


KINDS = ["pretrained", "subword", "char", "token_and_position"]
ENCODE_HINT = {
    "pretrained": "keras_embedx.Vocabulary.encode",
    "subword": "SubwordEmbedding.encode(words)",
    "char": "CharEmbedding.encode(words)",
    "token_and_position": "keras_embedx.Vocabulary.encode",
}


# ------------------------------------------------------------------ strings
def _words(rank):
    words = np.array([["a", "film"]])
    return words if rank == 2 else words[..., None]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("form", ["array", "ragged_list", "input"])
def test_strings_are_refused_with_how_to_encode_them(kind, form):
    layer, rank = make(kind)
    if form == "array":
        inputs = _words(rank)
    elif form == "ragged_list":
        inputs = [["a", "gripping", "film"], ["dull"]]
    else:
        inputs = keras.Input(shape=(None,) * (rank - 1), dtype="string")
    with pytest.raises(ValueError, match="takes int ids, not strings") as info:
        layer(inputs)
    message = str(info.value)
    assert repr(layer.name) in message and ENCODE_HINT[kind] in message
    if form == "input":
        assert "KerasTensor of dtype string" in message


@pytest.mark.parametrize("nested", ["char", "subword"])
def test_strings_into_a_nested_token_layer_name_its_encoder(nested):
    token, _ = make(nested)
    layer = TokenAndPosition(None, 8, 4, token_embedding=token)
    with pytest.raises(ValueError, match="not strings") as info:
        layer(_words(3))
    assert ENCODE_HINT[nested] in str(info.value)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="StringLookup needs TensorFlow")
def test_a_nested_layer_that_takes_strings_still_gets_them():
    lookup = keras.layers.StringLookup(vocabulary=["a", "film"], mask_token="")
    words = keras.Sequential([lookup, keras.layers.Embedding(4, 4)])
    words.build((None, None))
    layer = TokenAndPosition(4, 8, 4, token_embedding=words)
    assert tuple(layer(np.array([["a", "film"]])).shape) == (1, 2, 4)


# ------------------------------------------------------- ids past int32
# Ids no backend holds in int32; each must read what an out-of-range id
# reads on TensorFlow and PyTorch (the OOV row), never a wrapped real row.
PAST_INT32 = [2**32 + 2, -(2**63), 2**31, 2**32]


def _ids(rank, first, rest=(3,)):
    ids = np.array([[first, *rest]], dtype=np.int64)
    return ids if rank == 2 else np.stack([ids, np.full_like(ids, 5)], axis=-1)


@pytest.mark.parametrize("kind", KINDS)
def test_ids_past_int32_read_the_oov_row(kind):
    layer, rank = make(kind)
    oov = numpy(layer(_ids(rank, 1)))[0, 0]
    row2 = numpy(layer(_ids(rank, 2)))[0, 0]
    assert not np.allclose(oov, row2)
    for big in PAST_INT32:
        out = numpy(layer(_ids(rank, big)))[0, 0]
        np.testing.assert_array_equal(out, oov, err_msg=f"id {big}")
    unsigned = np.array(_ids(rank, 7), np.uint64)
    unsigned.reshape(-1)[0] = np.iinfo(np.uint64).max
    np.testing.assert_array_equal(numpy(layer(unsigned))[0, 0], oov)


@pytest.mark.parametrize("kind", ["pretrained", "char", "token_and_position"])
def test_ids_past_int32_raise_in_error_mode(kind):
    layer, rank = make(kind, out_of_range="error")
    layer(_ids(rank, 2))
    for big in PAST_INT32:
        with pytest.raises(ValueError, match=rf"Ids must lie in .*\[{big}\]"):
            layer(_ids(rank, big))


class MaskOf(keras.layers.Layer):
    """The mask Keras passes on with a layer's output."""

    def __init__(self):
        super().__init__()
        self.supports_masking = True

    def call(self, x, mask=None):
        return mask


def test_masks_see_ids_past_int32_as_ids():
    # The smallest int64 truncates to 0 on JAX, the padding id.
    layer, _ = make("pretrained")
    mask = MaskOf()(layer(np.array([[-(2**63), 0]])))
    np.testing.assert_array_equal(numpy(mask), [[True, False]])


@pytest.mark.skipif(BACKEND != "jax", reason="JAX's 64-bit setting")
def test_jax_enable_x64_keeps_model_inputs_out_of_range():
    """What the docs tell JAX users: an int64 Input with x64 enabled."""
    script = textwrap.dedent(
        """
        import jax

        jax.config.update("jax_enable_x64", True)
        import keras
        import numpy as np
        from keras_embedx.layers import PretrainedEmbedding

        inputs = keras.Input(shape=(None,), dtype="int64")
        layer = PretrainedEmbedding(10, 4)
        model = keras.Model(inputs, layer(inputs))
        x = np.array([[2**32 + 2, -(2**63), 1, 2]])
        out = model.predict(x, verbose=0)
        assert np.array_equal(out[0, 0], out[0, 2]), "2**32 + 2 is not OOV"
        assert np.array_equal(out[0, 1], out[0, 2]), "int64 min is not OOV"
        assert not np.array_equal(out[0, 2], out[0, 3])
        print("ok")
        """
    )
    env = dict(os.environ, KERAS_BACKEND="jax")
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]


# ----------------------------------------------------------------- empties
@pytest.mark.parametrize("kind", KINDS)
def test_an_empty_batch_or_sequence_gives_an_empty_output(kind):
    layer, rank = make(kind)
    embedding = keras.layers.Embedding(10, 4)
    for shape in [(0, 5), (2, 0), (0, 0)]:
        ids = np.zeros(shape if rank == 2 else (*shape, 3), "int32")
        out = layer(ids)
        assert tuple(out.shape) == tuple(embedding(np.zeros(shape, "int32")).shape)


@pytest.mark.parametrize("encoder", ["cnn", "bilstm"])
def test_words_without_characters_are_padding_words(encoder):
    extra = SMALL_CNN if encoder == "cnn" else {"lstm_units": 3}
    layer = CharEmbedding(4, encoder=encoder, max_chars=8, **extra)
    for shape in [(2, 3, 0), (0, 3, 8), (2, 0, 8)]:
        ids = np.zeros(shape, "int32")
        out = numpy(layer(ids))
        assert out.shape == (*shape[:-1], 4) and not out.any()
        assert numpy(layer.compute_mask(ids)).shape == shape[:-1]
    # The same words with character columns of padding: the same zeros.
    padded = numpy(layer(np.zeros((2, 3, 8), "int32")))
    np.testing.assert_array_equal(padded, np.zeros((2, 3, 4)))


def test_bags_without_units_are_padding_words():
    layer, _ = make("subword")
    ids = np.zeros((2, 3, 0), "int32")
    out = numpy(layer(ids))
    assert out.shape == (2, 3, 4) and not out.any()
    assert not numpy(layer.compute_mask(ids)).any()


@pytest.mark.parametrize("nested", ["char", "subword"])
def test_token_and_position_over_empty_words(nested):
    token, _ = make(nested)
    layer = TokenAndPosition(None, 8, 4, token_embedding=token)
    for shape in [(2, 3, 0), (0, 3, 5), (2, 0, 5)]:
        out = numpy(layer(np.zeros(shape, "int32")))
        assert out.shape == (*shape[:2], 4)


@pytest.mark.parametrize("words", ["", " ", [], [[]], [[], []]])
def test_subword_encode_of_no_words_is_an_empty_sequence(words):
    layer, _ = make("subword")
    ids = layer.encode(words)
    batch = 2 if words == [[], []] else 1
    assert ids.shape == (batch, 0, 1) and ids.dtype == np.int32
    assert numpy(layer(ids)).shape == (batch, 0, 4)
    assert layer.encode(["night"], sequence_length=0).shape == (1, 0, ids.shape[2])


def test_subword_encode_keeps_empty_sentences_and_words_as_padding():
    layer, _ = make("subword")
    ids = layer.encode([["night"], [], [""]])
    assert ids.shape[:2] == (3, 1)
    assert not ids[1].any()  # the empty sentence: a padding word
    assert ids[2, 0, 0] == 1 and not ids[2, 0, 1:].any()  # "": OOV, no n-grams
    out = numpy(layer(ids))
    assert not out[1:].any()
    np.testing.assert_array_equal(numpy(layer.compute_mask(ids)), [[1], [0], [1]])


def test_tokenizer_units_of_empty_words():
    import keras_hub

    vocab = ["[PAD]", "[UNK]", "the", "fox"]
    tok = keras_hub.tokenizers.WordPieceTokenizer(vocabulary=vocab)
    pooled = SubwordEmbedding.from_tokenizer(tok, output_dim=4)
    ids = pooled.encode(["", "fox"])
    assert ids.shape == (1, 2, 1) and ids[0, 0, 0] == 0
    out = numpy(pooled(ids))
    assert not out[0, 0].any() and out[0, 1].any()
    assert pooled.encode([]).shape == (1, 0, 1)
    with pytest.raises(ValueError, match="max_ngrams"):
        pooled.encode(["fox"], max_ngrams=0)
    units = SubwordEmbedding.from_tokenizer(tok, output_dim=4, pooling=None)
    assert units.encode([""]).shape == (1, 0)
    assert numpy(units(units.encode([]))).shape == (0, 0, 4)
