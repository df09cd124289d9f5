"""JAX's ONNX export (jax2onnx) of lengths unknown until the model runs.

`test_export.py` exports models whose inputs know every dimension but the
batch; here a sequence or a word's characters have no fixed length, so
jax2onnx traces them as symbolic dimensions, and ONNX Runtime serves
batches of two lengths from one file. (`test_export.py`'s
`char_unknown_words` case exports `[batch, words, chars]` ids with both
lengths unknown.)
"""

import keras
import numpy as np
import pytest

from keras_embedx.layers import CharEmbedding, TokenAndPosition
from keras_embedx.layers.char import word_char_model
from tests.conftest import BACKEND
from tests.export._cases import CASES
from tests.export.test_export import serve

pytestmark = pytest.mark.skipif(
    BACKEND != "jax", reason="jax2onnx; runs under KERAS_BACKEND=jax"
)

WORDS = [["night", "light"], ["sightless"], ["nightz", "night", "fight"]]


def _model(layer, shape):
    inputs = keras.Input(shape, dtype="int32")
    return keras.Model(inputs, layer(inputs))


def _exported(model, path):
    model(np.ones((1, *(n or 4 for n in model.inputs[0].shape[1:])), "int32"))
    model.export(str(path), format="onnx", verbose=False)
    return path


def _token_and_position(position):
    return TokenAndPosition(50, 16, 5, position=position)


@pytest.mark.parametrize("position", ["sinusoidal", "learned"])
def test_token_and_position_of_unknown_length(position, tmp_path):
    keras.utils.set_random_seed(0)
    model = _model(_token_and_position(position), (None,))
    path = _exported(model, tmp_path / "tap.onnx")
    rng = np.random.default_rng(0)
    for length in (3, 9):
        x = rng.integers(0, 50, (2, length)).astype("int32")
        got = serve("onnx", path, x)
        np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-5)


def test_char_embedding_of_unknown_word_length(tmp_path):
    keras.utils.set_random_seed(0)
    layer = CharEmbedding(5, char_dim=4, filters=[[1, 3], [2, 4], [3, 5]], max_chars=12)
    model = _model(layer, (3, None))
    path = _exported(model, tmp_path / "char.onnx")
    ids = layer.encode(WORDS)
    for chars in (2, 11):  # narrower, then wider, than the widest filter
        x = np.ascontiguousarray(ids[..., :chars])
        got = serve("onnx", path, x)
        np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-5)


def test_bilstm_encoder_fails_as_a_stock_backward_lstm(tmp_path):
    # jax2onnx has no reverse scan: a stock LSTM(go_backwards=True) fails
    # alike, so the BiLSTM encoder is out of scope on JAX ONNX.
    inputs = keras.Input((6,), dtype="int32")
    h = keras.layers.Embedding(50, 4)(inputs)
    stock = keras.Model(inputs, keras.layers.LSTM(3, go_backwards=True)(h))
    stock(np.ones((1, 6), "int32"))
    layer = CharEmbedding(5, encoder="bilstm", char_dim=4, lstm_units=3)
    model = _model(layer, (3, 12))
    model(np.ones((1, 3, 12), "int32"))
    for name, m in (("stock", stock), ("char", model)):
        with pytest.raises(NotImplementedError, match="Reverse scan is not supported"):
            m.export(str(tmp_path / f"{name}.onnx"), format="onnx", verbose=False)


def test_two_inputs_of_one_unknown_length_fail_as_stock_layers(tmp_path):
    # Keras' JAX exporter names each input's unknown lengths apart
    # ("dim_0_1", "dim_1_1"), so the concatenation cannot match the words of
    # two inputs: `word_char_model` fails as two stock Embeddings do.
    words = keras.Input((None,), dtype="int32", name="words")
    tags = keras.Input((None,), dtype="int32", name="tags")
    stock = keras.Model(
        {"words": words, "tags": tags},
        keras.layers.Concatenate()(
            [keras.layers.Embedding(50, 4)(words), keras.layers.Embedding(9, 3)(tags)]
        ),
    )
    stock({"words": np.ones((1, 2), "int32"), "tags": np.ones((1, 2), "int32")})
    model = word_char_model(CASES["mixed"][0](), CASES["char"][0]())
    model({"words": np.ones((1, 2), "int32"), "chars": np.ones((1, 2, 4), "int32")})
    for name, m in (("stock", stock), ("word_char", model)):
        with pytest.raises(ValueError, match="non-concatenated dimensions must match"):
            m.export(str(tmp_path / f"{name}.onnx"), format="onnx", verbose=False)
