"""Keras' weight habits on every table layer, `from_matrix`, and `quantize`.

References come from outside the layer under test: gensim's vectors, stock
`keras.layers.Embedding`, keras-hub's `TokenAndPositionEmbedding`, and for
int8 the bound a per-row abs-max scale guarantees (half a quantisation
step of each row, `max|row| / 254`).
"""

import warnings

import keras
import numpy as np
import pytest
from keras import ops

import keras_embedx
from keras_embedx.layers import (
    CharEmbedding,
    PretrainedEmbedding,
    SubwordEmbedding,
    TokenAndPosition,
)
from tests._crossbackend import other_backend, run_in_backend
from tests.conftest import BACKEND


def _words(kv):
    return kv.index_to_key[:50] + ["zzqx-unseen"]


def _half_step(matrix):
    """Largest error int8 per-row storage may make, per row."""
    return np.abs(matrix).max(axis=1, keepdims=True) / 254 + 1e-7


def _np(x):
    return ops.convert_to_numpy(x)


# ------------------------------------------------------------- get_weights
@pytest.mark.parametrize("storage_dtype", ["float32", "int8"])
def test_get_weights_is_the_full_table_of_a_mixed_layer(kv, wv, storage_dtype):
    layer = PretrainedEmbedding.from_vectors(
        wv, _words(kv), storage_dtype=storage_dtype, seed=0
    )
    weights = layer.get_weights()
    assert len(weights) == 1
    matrix = weights[0]
    assert matrix.shape == (layer.input_dim, layer.output_dim)
    assert matrix.dtype == np.float32
    gensim_rows = np.stack([kv[w] for w in kv.index_to_key[:50]])
    if storage_dtype == "float32":
        np.testing.assert_array_equal(matrix[2:52], gensim_rows)
    else:
        assert np.all(np.abs(matrix[2:52] - gensim_rows) <= _half_step(gensim_rows))
    # The trainable rows (OOV and the unseen word) are there too.
    np.testing.assert_array_equal(matrix, layer.embeddings)
    assert not np.allclose(matrix[1], 0) and not np.allclose(matrix[-1], 0)


def test_set_weights_writes_every_row_and_keeps_the_frozen_layout(kv, wv):
    layer = PretrainedEmbedding.from_vectors(wv, _words(kv), seed=0)
    frozen = layer.table.frozen_mask()
    new = np.random.default_rng(0).normal(size=layer.get_weights()[0].shape)
    layer.set_weights([new])
    np.testing.assert_array_equal(layer.get_weights()[0], new.astype("float32"))
    np.testing.assert_array_equal(layer.table.frozen_mask(), frozen)
    # The rows set on frozen rows stay frozen under training.
    model = keras.Sequential([keras.Input((4,), dtype="int32"), layer])
    model.compile(keras.optimizers.SGD(1.0), "mse")
    x = np.arange(layer.input_dim)[: 4 * 13].reshape(13, 4)
    model.fit(x, np.ones((13, 4, layer.output_dim)), epochs=1, verbose=0)
    after = layer.get_weights()[0]
    np.testing.assert_array_equal(after[frozen], new[frozen].astype("float32"))
    assert not np.allclose(after[~frozen], new[~frozen])


def test_set_weights_requantises_int8_rows(kv, wv):
    layer = PretrainedEmbedding.from_vectors(
        wv, _words(kv), storage_dtype="int8", seed=0
    )
    new = np.random.default_rng(1).normal(size=layer.get_weights()[0].shape)
    new = new.astype("float32")
    layer.set_weights([new])
    got = layer.get_weights()[0]
    assert np.all(np.abs(got - new) <= _half_step(new))
    frozen = layer.table.frozen_mask()
    assert not np.any(np.all(got[frozen] == new[frozen], axis=1))  # requantised
    np.testing.assert_array_equal(got[~frozen], new[~frozen])
    y = _np(layer(np.arange(layer.input_dim)[None]))[0]
    np.testing.assert_array_equal(y, got)


def test_set_weights_keeps_a_scheduled_table_consistent(kv, wv):
    layer = PretrainedEmbedding.from_vectors(wv, _words(kv), schedulable=True, seed=0)
    layer.table.set_factor(0.5)
    new = np.random.default_rng(2).normal(size=layer.get_weights()[0].shape)
    new = new.astype("float32")
    layer.set_weights([new])
    np.testing.assert_allclose(layer.get_weights()[0], new, rtol=1e-6)
    # Back to frozen: the written rows are what the frozen rows keep.
    layer.table.set_factor(0.0)
    np.testing.assert_allclose(layer.get_weights()[0], new, rtol=1e-6)


def test_set_weights_refuses_wrong_shapes_like_keras():
    layer = PretrainedEmbedding(6, 3, freeze="pretrained", num_frozen=3)
    layer.build()
    with pytest.raises(ValueError, match=r"shape \(6, 3\).*Received: shape=\(5, 3\)"):
        layer.set_weights([np.zeros((5, 3))])
    with pytest.raises(
        ValueError, match="list of 1 weight arrays.*Received: a list of 4"
    ):
        layer.set_weights([np.zeros((6, 3))] * 4)


def test_weights_of_a_stock_embedding_load_with_set_weights():
    stock = keras.layers.Embedding(7, 4)
    stock.build()
    layer = PretrainedEmbedding(7, 4, freeze="pretrained", num_frozen=4)
    layer.set_weights(stock.get_weights())
    ids = np.arange(7)[None]
    np.testing.assert_array_equal(_np(layer(ids)), _np(stock(ids)))


def test_subword_get_weights_is_its_whole_table():
    layer = SubwordEmbedding(20, 4, num_words=3, freeze="words")
    layer.build()
    (matrix,) = layer.get_weights()
    assert matrix.shape == (2 + 3 + 20, 4)
    new = np.arange(matrix.size, dtype="float32").reshape(matrix.shape)
    layer.set_weights([new])
    np.testing.assert_array_equal(layer.embeddings, new)


def test_char_get_weights_opens_with_the_char_table():
    layer = CharEmbedding(6, freeze="all", filters=[[1, 4], [2, 4]])
    words = layer.encode(["abc", "de"])
    y = _np(layer(words))
    weights = layer.get_weights()
    assert weights[0].shape == (layer.num_chars, layer.char_dim)
    np.testing.assert_array_equal(weights[0], layer.embeddings)
    other = CharEmbedding(6, freeze="all", filters=[[1, 4], [2, 4]])
    other(words)
    other.set_weights(weights)
    np.testing.assert_array_equal(_np(other(words)), y)


@pytest.mark.parametrize("tie_weights", [True, False])
def test_token_and_position_takes_keras_hub_weights(tie_weights):
    keras_hub = pytest.importorskip("keras_hub")
    hub = keras_hub.layers.TokenAndPositionEmbedding(
        12, 5, 4, tie_weights=tie_weights, mask_zero=True
    )
    ids = np.array([[3, 1, 0, 11, 7]])
    expected = _np(hub(ids))
    ours = TokenAndPosition(12, 5, 4, tie_weights=tie_weights, freeze="all")
    ours.build()
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in hub.get_weights()]
    ours.set_weights(hub.get_weights())
    np.testing.assert_allclose(_np(ours(ids)), expected, rtol=1e-6)
    for got, want in zip(ours.get_weights(), hub.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_model_get_weights_round_trip_between_two_models(kv, wv):
    def build():
        inputs = keras.Input((4,), dtype="int32")
        words = PretrainedEmbedding.from_vectors(
            wv, _words(kv), storage_dtype="int8", schedulable=True, seed=0
        )
        positions = TokenAndPosition(words.input_dim, 4, 100)
        x = keras.layers.Add()([words(inputs), positions(inputs)])
        return keras.Model(inputs, keras.layers.Dense(1)(x))

    a, b = build(), build()
    x = np.arange(24).reshape(6, 4)
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(b.predict(x, verbose=0), a.predict(x, verbose=0))


# ------------------------------------------------------------- from_matrix
@pytest.mark.parametrize("freeze", ["pretrained", "none", "all"])
def test_from_matrix_matches_a_stock_embedding(freeze):
    matrix = np.random.default_rng(3).normal(size=(6, 3)).astype("float32")
    vocabulary = ["", "[UNK]", "good", "bad", "film", "plot"]
    layer = PretrainedEmbedding.from_matrix(
        matrix, vocabulary=keras_embedx.Vocabulary(vocabulary[2:]), freeze=freeze
    )
    stock = keras.layers.Embedding(6, 3, weights=[matrix])
    ids = np.array([[2, 3, 0, 5, 1]])
    np.testing.assert_array_equal(_np(layer(ids)), _np(stock(ids)))
    assert layer.get_vocabulary() == vocabulary
    trainable = {"pretrained": [1], "none": list(range(6)), "all": []}[freeze]
    assert np.flatnonzero(~layer.table.frozen_mask()).tolist() == trainable


def test_from_matrix_refuses_bad_input():
    with pytest.raises(ValueError, match="must be 2-D.*Received"):
        PretrainedEmbedding.from_matrix(np.zeros(5))
    with pytest.raises(ValueError, match="`input_dim` comes from `matrix`"):
        PretrainedEmbedding.from_matrix(np.zeros((5, 2)), input_dim=6)
    with pytest.raises(ValueError, match="freeze"):
        PretrainedEmbedding.from_matrix(np.zeros((5, 2)), freeze="some")


# ---------------------------------------------------------------- quantize
def _mixed_model(kv, wv):
    words = PretrainedEmbedding.from_vectors(wv, _words(kv), seed=0, name="words")
    size = words.input_dim
    inputs = keras.Input((4,), dtype="int32")
    bags = keras.Input((4, 5), dtype="int32")
    tokens = TokenAndPosition(size, 4, 100, token_projection=True, name="tokens")
    subwords = SubwordEmbedding(30, 100, num_words=5, freeze="words", name="sub")
    x = keras.layers.Concatenate()([words(inputs), tokens(inputs), subwords(bags)])
    return keras.Model([inputs, bags], x)


def _inputs(size):
    rng = np.random.default_rng(4)
    return [
        rng.integers(0, size + 3, size=(8, 4)).astype("int32"),
        rng.integers(0, 37, size=(8, 4, 5)).astype("int32"),
    ]


def test_model_quantize_int8_stores_every_table_as_int8(kv, wv, tmp_path):
    model = _mixed_model(kv, wv)
    words = model.get_layer("words")
    x = _inputs(words.input_dim)
    y_float = model.predict(x, verbose=0)
    tables = [layer.table for layer in (words, model.get_layer("sub"))]
    tables += [model.get_layer("tokens").token_embedding]
    floats = [t.full_table() for t in tables]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.quantize("int8")
    for table, before in zip(tables, floats):
        assert table.quantization_mode == "int8"
        assert not table.trainable_weights
        assert np.all(np.abs(table.full_table() - before) <= _half_step(before))
    # Lookups read the int8 rows: the words' own output is exactly them.
    ids = x[0]
    got = model.predict(x, verbose=0)
    np.testing.assert_allclose(
        got[..., :100],
        words.table.full_table()[np.where(ids < words.input_dim, ids, 1)],
    )
    # The whole model (a Dense projection quantized by Keras included)
    # stays close to the float one.
    assert float(np.mean((got - y_float) ** 2)) < 1e-3
    path = str(tmp_path / "q.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), got)
    for name in ("words", "sub"):
        assert loaded.get_layer(name).table.quantization_mode == "int8"
    with pytest.raises(ValueError, match="is already quantized"):
        loaded.get_layer("words").quantize("int8")


@pytest.mark.parametrize("mode", ["int4", "float8"])
def test_other_modes_are_refused_clearly(mode):
    layer = PretrainedEmbedding(10, 4, freeze="pretrained", num_frozen=3)
    layer.build()
    before = layer.get_weights()[0]
    with pytest.raises(NotImplementedError, match="support quantization mode 'int8'"):
        layer.quantize(mode)
    model = keras.Sequential([keras.Input((3,), dtype="int32"), layer])
    with pytest.warns(UserWarning, match="support quantization mode 'int8'"):
        model.quantize(mode)
    assert layer.table.quantization_mode is None
    np.testing.assert_array_equal(layer.get_weights()[0], before)


def test_quantized_char_embedding_survives_saving(tmp_path):
    layer = CharEmbedding(8, filters=[[1, 4], [2, 4]], name="chars")
    words = layer.encode(["hello", "world", "abc"])
    inputs = keras.Input(words.shape[1:], dtype="int32")
    model = keras.Model(inputs, layer(inputs))
    y_float = model.predict(words, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.quantize("int8")
    y = model.predict(words, verbose=0)
    assert float(np.mean((y - y_float) ** 2)) < 1e-3
    assert layer.table.quantization_mode == "int8"
    model.save(tmp_path / "c.keras")
    loaded = keras.saving.load_model(tmp_path / "c.keras")
    np.testing.assert_array_equal(loaded.predict(words, verbose=0), y)


@pytest.mark.slow
def test_quantized_model_saved_on_another_backend_loads_here(tmp_path):
    source = other_backend(BACKEND)
    path = str(tmp_path / "q.keras")
    run_in_backend(
        source,
        f"""
        import warnings
        import numpy as np, keras, keras_embedx
        from keras_embedx.layers import PretrainedEmbedding, TokenAndPosition
        rng = np.random.default_rng(0)
        inputs = keras.Input((4,), dtype="int32")
        words = PretrainedEmbedding(40, 8, freeze="pretrained", num_frozen=30,
                                    weights=[rng.normal(size=(40, 8))], name="w")
        tokens = TokenAndPosition(40, 4, 8, name="t")
        model = keras.Model(inputs, keras.layers.Add()([words(inputs), tokens(inputs)]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.quantize("int8")
        model.save({path!r})
        x = rng.integers(0, 45, size=(6, 4))
        np.save({path!r} + ".x.npy", x)
        np.save({path!r} + ".y.npy", model.predict(x, verbose=0))
        """,
    )
    loaded = keras.saving.load_model(path)
    assert loaded.get_layer("w").table.quantization_mode == "int8"
    x = np.load(path + ".x.npy")
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), np.load(path + ".y.npy"), rtol=1e-6, atol=1e-7
    )
