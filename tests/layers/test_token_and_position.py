"""TokenAndPosition: keras-hub parity, positions, token parts, masks, saving."""

import json
import warnings

import keras
import keras_hub
import numpy as np
import pytest
from keras import ops

from keras_embedx.layers import PretrainedEmbedding
from keras_embedx.layers.token_and_position import TokenAndPosition
from keras_embedx.vectors import WordVectors
from tests._crossbackend import other_backend, run_in_backend
from tests.conftest import BACKEND


@pytest.fixture(scope="module")
def words(kv):
    """A PretrainedEmbedding factory over the first 60 words of the fixture."""

    def make(**kwargs):
        wv = WordVectors(kv.index_to_key[:60], kv.vectors[:60])
        return PretrainedEmbedding.from_vectors(wv, seed=0, **kwargs)

    return make


def np_(x):
    return ops.convert_to_numpy(x)


# One set of sizes throughout, so JAX compiles each eager op once.
V, S, D = 20, 8, 4


def _ids(rng, length=5, pad=2):
    ids = rng.integers(1, V, (2, length)).astype("int32")
    if pad:
        ids[:, length - pad :] = 0
    return ids


def _assert_same(position, got, want):
    # Learned positions are gathers and sums: exact. TensorFlow's sin/cos may
    # differ by one ulp between tensor shapes.
    if position == "sinusoidal":
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    else:
        np.testing.assert_array_equal(got, want)


def _mask_warnings(record):
    return [str(w.message) for w in record if "mask" in str(w.message)]


# ----------------------------------------------------------------- parity
@pytest.mark.filterwarnings("ignore:.*destroy the mask")  # keras-hub's false warning
@pytest.mark.parametrize(
    "tie_weights, mask_zero, dtype",
    [(True, True, "float32"), (False, False, "float32"), (True, True, "mixed_float16")],
)
def test_from_keras_hub_gives_identical_outputs(rng, tie_weights, mask_zero, dtype):
    hub = keras_hub.layers.TokenAndPositionEmbedding(
        V, S, D, tie_weights=tie_weights, mask_zero=mask_zero, dtype=dtype
    )
    ids = _ids(rng)
    hub(ids)
    # Random weights, not the initializer's small uniform values.
    for w in hub.weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))
    ours = TokenAndPosition.from_keras_hub(hub)
    assert ours.compute_dtype == hub.compute_dtype
    np.testing.assert_array_equal(np_(ours(ids)), np_(hub(ids)))
    np.testing.assert_array_equal(
        np_(ours(ids[:, 2:5], start_index=2)), np_(hub(ids[:, 2:5], start_index=2))
    )
    hidden = rng.normal(size=(2, 5, D)).astype("float32")
    np.testing.assert_array_equal(
        np_(ours.reverse(hidden)),
        np_(hub.token_embedding(ops.cast(hidden, hub.compute_dtype), reverse=True)),
    )
    mask = ours.compute_mask(ids)
    if mask_zero:
        np.testing.assert_array_equal(np_(mask), ids != 0)
    else:
        assert mask is None


def test_from_keras_hub_rejects_unbuilt_and_foreign_layers():
    with pytest.raises(ValueError, match="call it once"):
        TokenAndPosition.from_keras_hub(
            keras_hub.layers.TokenAndPositionEmbedding(10, 4, 2)
        )
    with pytest.raises(ValueError, match="TokenAndPositionEmbedding"):
        TokenAndPosition.from_keras_hub(keras.layers.Embedding(10, 4))


@pytest.mark.parametrize("dim, max_wavelength", [(D, 10000), (7, 500)])
def test_sinusoidal_equals_keras_hub_sine_position_encoding(
    rng, backend, dim, max_wavelength
):
    layer = TokenAndPosition(
        V, 64, dim, position="sinusoidal", max_wavelength=max_wavelength
    )
    layer.build()
    layer.token_embedding.set_table(np.zeros((V, dim), "float32"))
    sine = keras_hub.layers.SinePositionEncoding(max_wavelength=max_wavelength)
    ids = rng.integers(0, V, (2, 40))
    zeros = np.zeros((2, 40, dim), "float32")
    if backend == "tensorflow":
        # TensorFlow's sin/cos round the same angle differently (by one ulp)
        # depending on the tensor's shape, keras-hub's layer included.
        same = lambda a, b: np.testing.assert_array_max_ulp(a, b, maxulp=1)  # noqa: E731
    else:
        same = np.testing.assert_array_equal
    same(np_(layer(ids)), np_(sine(zeros)))
    same(
        np_(layer(ids[:, :3], start_index=17)), np_(sine(zeros[:, :3], start_index=17))
    )


# -------------------------------------------------------------- positions
@pytest.mark.parametrize("position", ["learned", "sinusoidal"])
def test_start_index_continues_the_sequence(rng, position):
    layer = TokenAndPosition(V, S, D, position=position)
    ids = rng.integers(1, V, (2, S))
    full = np_(layer(ids))
    for start in (0, 3):
        step = np_(layer(ids[:, start : start + 5], start_index=start))
        _assert_same(position, step, full[:, start : start + 5])
    # A tensor start index and explicit positions work the same way.
    tensor_start = np_(layer(ids[:, 3:], start_index=ops.convert_to_tensor(3)))
    _assert_same(position, tensor_start, full[:, 3:])
    explicit = np_(layer(ids[:, 3:], positions=np.arange(3, S)))
    _assert_same(position, explicit, full[:, 3:])


def test_positions_none_adds_nothing():
    layer = TokenAndPosition(V, None, D, position=None)
    table = np.arange(V * D, dtype="float32").reshape(V, D)
    layer.build()
    layer.token_embedding.set_table(table)
    ids = np.array([[1, 2, 3, 19] * 10])
    np.testing.assert_array_equal(np_(layer(ids)), table[ids])


def test_too_long_inputs_get_a_clear_error():
    layer = TokenAndPosition(V, S, D)
    with pytest.raises(ValueError, match="at most sequence_length=8"):
        layer(np.ones((2, 9), "int32"))
    with pytest.raises(ValueError, match="start_index=5, which needs 10"):
        layer(np.ones((2, 5), "int32"), start_index=5)
    with pytest.raises(ValueError, match="needs 10"):
        layer(np.ones((2, 5), "int32"), start_index=ops.convert_to_tensor(5))
    with pytest.raises(ValueError, match=r"`positions` must lie in \[0, 8\)"):
        layer(np.ones((2, 2), "int32"), positions=np.array([3, 8]))
    # Known at build time in a functional model.
    with pytest.raises(ValueError, match="at most sequence_length=8"):
        TokenAndPosition(V, S, D, position="sinusoidal")(keras.Input((9,)))


def test_compiled_unknown_start_marks_overflow_with_nan(backend):
    layer = TokenAndPosition(V, S, D, position="learned")
    ids = _ids(np.random.default_rng(0), pad=0)
    layer(ids)  # build outside the compiled function
    if backend == "jax":
        import jax

        step = jax.jit(lambda start: layer(ids, start_index=start))
    elif backend == "tensorflow":
        import tensorflow as tf

        step = tf.function(lambda start: layer(ids, start_index=start))
        step = (lambda f: lambda s: f(tf.constant(s)))(step)
    else:
        pytest.skip("torch runs eagerly: the error test covers it")
    np.testing.assert_array_equal(np_(step(2)), np_(layer(ids, start_index=2)))
    out = np_(step(5))  # positions 5..9 of 8
    assert np.isfinite(out[:, :3]).all() and np.isnan(out[:, 3:]).all()


# -------------------------------------------------------------- token part
def test_own_table_options_scale_dropout_out_of_range():
    table = np.random.default_rng(0).normal(size=(V, D)).astype("float32")
    layer = TokenAndPosition(V, S, D, position=None, scale_by_sqrt_dim=True)
    layer.build()
    layer.token_embedding.set_table(table)
    ids = np.array([[3, 0, 22, -1, 19], [1, 2, 3, 4, 5]])
    # Out-of-range ids use the OOV row (id 1) on every backend.
    expected = table[[[3, 0, 1, 1, 19], [1, 2, 3, 4, 5]]] * 2.0  # sqrt(4)
    np.testing.assert_allclose(np_(layer(ids)), expected)
    strict = TokenAndPosition(V, S, D, out_of_range="error")
    with pytest.raises(ValueError, match=r"Ids must lie in \[0, 20\)"):
        strict(ids)
    drop = TokenAndPosition(V, S, D, dropout=0.5)
    x = np.ones((16, S), "int32")
    np.testing.assert_array_equal(np_(drop(x)), np_(drop(x, training=False)))
    trained = np_(drop(x, training=True))
    inference = np_(drop(x))
    zeroed = trained == 0
    assert 0.2 < zeroed.mean() < 0.8
    np.testing.assert_allclose(trained[~zeroed], 2 * inference[~zeroed], rtol=1e-6)


def test_pretrained_token_part_keeps_gensim_vectors(kv, words):
    pe = words()
    layer = TokenAndPosition(None, 12, None, token_embedding=pe, position=None)
    sentence = ["the", "film", "is"]
    ids = np.array([[pe.get_vocabulary().index(w) for w in sentence] + [0]])
    out = np_(layer(ids))
    assert layer.vocabulary_size == len(pe.get_vocabulary())
    assert layer.embedding_dim == kv.vector_size
    for i, word in enumerate(sentence):
        np.testing.assert_array_equal(out[0, i], kv[word])
    np.testing.assert_array_equal(np_(layer.compute_mask(ids)), ids != 0)
    names = [name for name, _, _ in layer.embedding_tables()]
    assert names == ["token_embedding/table"]
    assert layer.embedding_tables()[0][1] is pe.table
    assert layer.get_vocabulary() == pe.get_vocabulary()
    # Tied logits score hidden states against the word vectors.
    hidden = np.random.default_rng(1).normal(size=(1, 2, kv.vector_size))
    logits = np_(layer.reverse(hidden.astype("float32")))
    row = pe.get_vocabulary().index("film")
    np.testing.assert_allclose(
        logits[0, :, row], hidden[0] @ kv["film"], rtol=1e-4, atol=1e-4
    )


def test_width_mismatch_needs_a_projection(kv, words):
    with pytest.raises(ValueError, match="token_projection=True"):
        TokenAndPosition(None, 12, 16, token_embedding=words())
    with pytest.raises(ValueError, match="own token table"):
        TokenAndPosition(None, 12, None, token_embedding=words(), freeze="all")
    layer = TokenAndPosition(
        None, 12, 16, token_embedding=words(), token_projection=True, position=None
    )
    ids = np.array([[2, 3, 0]])
    out = np_(layer(ids))
    kernel = np_(layer.projection.kernel)
    assert kernel.shape == (kv.vector_size, 16)
    word = layer.get_vocabulary()[2]
    np.testing.assert_allclose(out[0, 0], kv[word] @ kernel, rtol=1e-5, atol=1e-6)
    # Tied through the projection: logits = hidden @ kernel.T @ table.T.
    hidden = np.random.default_rng(2).normal(size=(1, 1, 16)).astype("float32")
    logits = np_(layer.reverse(hidden))
    np.testing.assert_allclose(
        logits[0, 0, 2], hidden[0, 0] @ kernel.T @ kv[word], rtol=1e-4, atol=1e-4
    )


def test_keras_embedding_token_part_and_its_tied_logits():
    emb = keras.layers.Embedding(V, D, mask_zero=True)
    layer = TokenAndPosition(None, S, None, token_embedding=emb, position="learned")
    ids = _ids(np.random.default_rng(3))
    out = np_(layer(ids))
    table = np_(emb.embeddings)
    positions = np_(layer.position_embedding.dense_table())
    np.testing.assert_array_equal(out, table[ids] + positions[:5])
    np.testing.assert_array_equal(np_(layer.compute_mask(ids)), ids != 0)
    assert layer.embedding_tables() == []
    hidden = np.random.default_rng(3).normal(size=(2, 5, D)).astype("float32")
    np.testing.assert_allclose(
        np_(layer.reverse(hidden)), hidden @ table.T, rtol=1e-5, atol=1e-6
    )


def test_char_embedding_token_part():
    from keras_embedx.layers.char import CharEmbedding

    chars = CharEmbedding.from_texts(
        ["a fine film", "a dull film"], D, max_chars=8, filters=[[2, 4]], char_dim=4
    )
    layer = TokenAndPosition(None, S, None, token_embedding=chars)
    ids = chars.encode([["a", "fine", "film"], ["dull"]])  # [2 sentences, 3, chars]
    out = np_(layer(ids))
    positions = np_(layer.position_embedding.dense_table())[:3]
    np.testing.assert_allclose(out - positions, np_(chars(ids)), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(
        np_(layer.compute_mask(ids)), [[True, True, True], [True, False, False]]
    )
    assert [name for name, _, _ in layer.embedding_tables()] == [
        "token_embedding/chars"
    ]
    # Characters are not one row per word: no tied logits, and a clear reason.
    with pytest.raises(ValueError, match="one table row per input id"):
        layer.reverse(out)
    # Nested layers save and load as in test_save_load_is_bit_identical.
    config = keras.saving.serialize_keras_object(layer)
    assert config["config"]["token_embedding"]["class_name"] == "CharEmbedding"


def test_subword_embedding_token_part(tmp_path):
    from keras_embedx.layers import SubwordEmbedding

    sub = SubwordEmbedding(num_buckets=50, output_dim=D, minn=2, maxn=3)
    layer = TokenAndPosition(None, S, None, token_embedding=sub)
    ids = sub.encode([["a", "fine", "film"], ["dull"]], max_ngrams=6)
    out = np_(layer(ids))  # one vector per word, then its position
    positions = np_(layer.position_embedding.dense_table())[:3]
    np.testing.assert_allclose(out - positions, np_(sub(ids)), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(
        np_(layer.compute_mask(ids)), [[True, True, True], [True, False, False]]
    )
    assert [name for name, _, _ in layer.embedding_tables()] == [
        "token_embedding/subwords"
    ]
    model = keras.Sequential([keras.Input(ids.shape[1:], dtype="int32"), layer])
    path = str(tmp_path / "sub.keras")
    model.save(path)
    np.testing.assert_array_equal(
        np_(keras.models.load_model(path)(ids)), np_(model(ids))
    )


def test_frozen_table_stays_fixed_until_thawed():
    layer = TokenAndPosition(V, S, D, freeze="all", schedulable=True)
    model = keras.Sequential(
        [keras.Input((5,), dtype="int32"), layer, keras.layers.GlobalAveragePooling1D()]
    )
    model.compile(keras.optimizers.Adam(0.05), "mse")
    x = np.random.default_rng(0).integers(1, V, (16, 5))
    y = np.ones((16, D))
    ((_, table, _),) = layer.embedding_tables()
    before = table.full_table()
    assert np.abs(before).max() > 0  # drawn from the initializer, not zeros
    positions = np_(layer.position_embedding.dense_table())
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    np.testing.assert_array_equal(table.full_table(), before)
    assert not np.array_equal(np_(layer.position_embedding.dense_table()), positions)
    table.set_factor(1.0)  # what UnfreezeSchedule does
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(table.full_table(), before)


def test_mixed_precision_adds_positions_in_compute_dtype(rng):
    for position in ("learned", "sinusoidal"):
        options = {"position": position, "scale_by_sqrt_dim": True}
        full = TokenAndPosition(V, S, D, **options)
        mixed = TokenAndPosition(V, S, D, dtype="mixed_float16", **options)
        ids = _ids(rng)
        full(ids), mixed(ids)
        mixed.set_weights(full.get_weights())
        out = mixed(ids)
        assert ops.dtype(out) == "float16"
        assert all(w.dtype == "float32" for w in mixed.weights)
        np.testing.assert_allclose(np_(out), np_(full(ids)), atol=2e-3, rtol=2e-3)
        assert ops.dtype(mixed.reverse(out)) == "float16"


# ------------------------------------------------------------------ masks
@pytest.mark.parametrize(
    "token, consumer",
    [("own", "mha"), ("own", "encoder"), ("pretrained", "mha")],
)
def test_masks_reach_attention_without_false_warning(words, token, consumer):
    if token == "own":
        layer = TokenAndPosition(V, S, D)
    else:
        layer = TokenAndPosition(
            None, S, D, token_embedding=words(), token_projection=True
        )
    if consumer == "mha":
        attention = keras.layers.MultiHeadAttention(2, 4)
        attend = lambda h: attention(h, h)  # noqa: E731
    else:
        attend = keras_hub.layers.TransformerEncoder(16, 2)
    padded = np.array([[5, 9, 14, 0, 0]], "int32")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        inputs = keras.Input((None,), dtype="int32")
        model = keras.Model(inputs, attend(layer(inputs)))
        long, short = np_(model(padded)), np_(model(padded[:, :3]))
    assert _mask_warnings(record) == []
    # With the mask, padding does not change what the real tokens see. (Keras'
    # MultiHeadAttention strips the mask from the tensors it is given, so one
    # consumer per model.)
    np.testing.assert_allclose(long[:, :3], short, rtol=1e-5, atol=1e-5)


def test_keras_hub_layer_does_warn():
    # The warning the test above rules out is real for keras-hub's layer.
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        layer = keras_hub.layers.TokenAndPositionEmbedding(V, S, D, mask_zero=True)
        layer(_ids(np.random.default_rng(0)))
    assert any("destroy the mask" in m for m in _mask_warnings(record))


def test_mask_follows_the_inputs_of_each_call():
    layer = TokenAndPosition(V, S, D)
    ids = np.array([[5, 9, 0, 0]], "int32")
    hidden = layer(ids)
    # A symbolic `reverse` call leaves nothing behind for the next forward one.
    layer.compute_output_spec(keras.KerasTensor((1, 4, D)), reverse=True)
    np.testing.assert_array_equal(np_(layer.compute_mask(ids)), ids != 0)
    # Hidden states (a `reverse` call) keep the mask they carry.
    np.testing.assert_array_equal(
        np_(layer.compute_mask(hidden, mask=ids != 0)), ids != 0
    )


@pytest.mark.parametrize("token", ["own", "embedding"])
def test_float_ids_as_wide_as_the_vectors_are_masked_as_ids(token):
    # Float ids whose last axis happens to be `embedding_dim` wide are still
    # ids: masked pooling skips their padding as for int ids.
    if token == "own":
        layer = TokenAndPosition(V, S, D)
    else:
        embedding = keras.layers.Embedding(V, D, mask_zero=True)
        layer = TokenAndPosition(None, S, D, token_embedding=embedding)
    pool = keras.layers.GlobalAveragePooling1D()
    ids = np.array([[5, 9, 0, 0]], "int32")
    want = np_(layer(ids))[:, :2].mean(axis=1)
    np.testing.assert_allclose(np_(pool(layer(ids))), want, rtol=1e-6)
    np.testing.assert_allclose(np_(pool(layer(ids.astype("float32")))), want, rtol=1e-6)


def test_a_token_layer_taking_floats_gets_them_unchanged(rng):
    dense = keras.layers.Dense(D)
    layer = TokenAndPosition(None, S, D, token_embedding=dense)
    x = rng.normal(size=(1, 4, 3)).astype("float32")
    out = np_(layer(x))
    positions = np_(layer.position_embedding.dense_table())[:4]
    np.testing.assert_allclose(out, np_(dense(x)) + positions, rtol=1e-6)


# ------------------------------------------------------------------ saving
_BUILD = """
import keras, numpy as np
from keras_embedx.layers import PretrainedEmbedding
from keras_embedx.layers.token_and_position import TokenAndPosition
from keras_embedx.vectors import WordVectors


def build_model():
    rng = np.random.default_rng(7)
    wv = WordVectors([f"w{i}" for i in range(20)],
                     rng.normal(size=(20, 5)).astype("float32"))
    pe = PretrainedEmbedding.from_vectors(wv, seed=0)
    ids = keras.Input((6,), dtype="int32")
    own = TokenAndPosition(22, 8, 4, scale_by_sqrt_dim=True, dropout=0.1,
                           name="own")
    nested = TokenAndPosition(None, 8, 4, token_embedding=pe,
                              token_projection=True, position="sinusoidal",
                              tie_weights=False, name="nested")
    frozen = TokenAndPosition(22, 8, 4, freeze="all", schedulable=True,
                              storage_dtype="int8", name="frozen")
    a, b, c = own(ids), nested(ids), frozen(ids)
    model = keras.Model(ids, [a, own.reverse(a), b, nested.reverse(b), c])
    x = rng.integers(0, 22, (3, 6)).astype("int32")
    x[:, 4:] = 0
    return model, x
"""


def _build_model():
    namespace = {}
    exec(_BUILD, namespace)  # noqa: S102 - test-local builder shared with a subprocess
    return namespace["build_model"]()


def test_save_load_is_bit_identical(tmp_path):
    model, x = _build_model()
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    for got, want in zip(loaded(x), model(x)):
        np.testing.assert_array_equal(np_(got), np_(want))
    for got, want in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)
    nested = loaded.get_layer("nested")
    assert nested.get_vocabulary()[:3] == ["", "[UNK]", "w0"]
    config = json.loads(json.dumps(model.get_layer("nested").get_config()))
    assert config["token_embedding"]["class_name"] == "PretrainedEmbedding"
    assert len(json.dumps(config)) < 5000  # no weights in the config


@pytest.mark.slow
def test_saved_on_another_backend_loads_here(tmp_path):
    source = other_backend(BACKEND)
    path = str(tmp_path / "m.keras")
    run_in_backend(
        source,
        _BUILD
        + f"""
model, x = build_model()
model.save({path!r})
np.save({path!r} + ".x.npy", x)
for i, out in enumerate(model(x)):
    np.save({path!r} + f".{{i}}.npy", keras.ops.convert_to_numpy(out))
""",
    )
    loaded = keras.models.load_model(path)
    x = np.load(path + ".x.npy")
    outs = [np_(o) for o in loaded(x)]
    want = [np.load(path + f".{i}.npy") for i in range(len(outs))]
    # Gathers and sums are exact on every backend; matmuls and sin/cos may
    # round differently.
    np.testing.assert_array_equal(outs[0], want[0])
    np.testing.assert_array_equal(outs[4], want[4])
    for i in (1, 2, 3):
        np.testing.assert_allclose(outs[i], want[i], rtol=1e-5, atol=1e-5)


# -------------------------------------------------------------- arguments
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"vocabulary_size": -1}, "`vocabulary_size` must be a positive int"),
        ({"sequence_length": None}, "`sequence_length` must be a positive int"),
        ({"position": "rotary"}, "`position` must be one of"),
        ({"dropout": 1.0}, r"`dropout` must be a float in \[0, 1\)"),
        ({"freeze": "pretrained"}, "`freeze` must be one of"),
        ({"token_embedding": "glove"}, "`token_embedding` must be None or a Keras"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    args = {"vocabulary_size": V, "sequence_length": S, "embedding_dim": D}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        TokenAndPosition(**args)
