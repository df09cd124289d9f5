"""CharEmbedding: char CNN / BiLSTM word vectors, masks, freezing, saving."""

import json
import weakref

import keras
import numpy as np
import pytest
from keras import ops

import keras_embedx
from keras_embedx.layers.char import CharEmbedding, word_char_model
from keras_embedx.layers.pretrained import PretrainedEmbedding
from tests.conftest import BACKEND

# "a" and "x" (3 ids with the markers) are shorter than the widest filter
# (5); "hello" and "héll" (2 bytes for "é") both take 7 ids.
WORDS = ["a", "hello", "héll", "x"]
SMALL = {"char_dim": 4, "filters": [[1, 3], [2, 4], [5, 5]], "max_chars": 16}


def np_(x):
    return ops.convert_to_numpy(x)


_MODELS = weakref.WeakKeyDictionary()


def run(layer_or_model, x):
    """Forward pass; compiled on JAX (op-by-op JAX recompiles for every shape)."""
    if BACKEND != "jax":
        return np_(layer_or_model(x))
    model = layer_or_model
    if not isinstance(model, keras.Model):
        model = _MODELS.get(layer_or_model)
        if model is None:
            inp = keras.Input((None,) * (x.ndim - 1), dtype=x.dtype)
            model = _MODELS[layer_or_model] = keras.Model(inp, layer_or_model(inp))
    return ops.convert_to_numpy(model.predict_on_batch(x))


# No keras.utils.set_random_seed: it imports TensorFlow under every backend.
# Expected values come from the layers' own weights, whatever they are.
def small_cnn(**kwargs):
    return CharEmbedding(6, **{**SMALL, **kwargs})


def small_bilstm(**kwargs):
    kwargs.setdefault("max_chars", 16)
    return CharEmbedding(6, encoder="bilstm", char_dim=4, lstm_units=5, **kwargs)


def stock(layers, dim):
    """A functional model of stock Keras layers over one unpadded word."""
    inp = keras.Input((None, dim))
    return keras.Model(inp, layers(inp))


def test_public_path():
    assert keras_embedx.layers.CharEmbedding is CharEmbedding


# ------------------------------------------------- against stock Keras
def test_cnn_equals_stock_keras_layers_on_each_unpadded_word():
    layer = small_cnn(highway_layers=1)
    ids = layer.encode(WORDS)
    out = run(layer, ids)[0]
    dim = sum(n for _, n in SMALL["filters"])
    convs = []
    for ours, (width, count) in zip(layer.convs, SMALL["filters"]):
        conv = keras.layers.Conv1D(count, width, activation="tanh")
        conv.build((None, None, 4))
        conv.set_weights(ours.get_weights())
        convs.append(conv)
    kernel, bias = layer.highways[0].get_weights()
    transform = keras.layers.Dense(dim, activation="relu")
    gate = keras.layers.Dense(dim, activation="sigmoid")
    projection = keras.layers.Dense(6)

    def layers(n):
        def apply(x):
            pooled = []
            for conv, (width, _) in zip(convs, SMALL["filters"]):
                # A word shorter than a filter: its one window, zero-padded.
                pad = keras.layers.ZeroPadding1D((0, max(0, width - n)))
                pooled.append(keras.layers.GlobalMaxPooling1D()(conv(pad(x))))
            h = keras.layers.Concatenate()(pooled)
            t = gate(h)
            return projection(t * transform(h) + (1 - t) * h)  # Kim et al.'s highway

        return apply

    transform.build((None, dim))
    gate.build((None, dim))
    projection.build((None, dim))
    transform.set_weights([kernel[:, :dim], bias[:dim]])
    gate.set_weights([kernel[:, dim:], bias[dim:]])
    projection.set_weights(layer.projection.get_weights())
    checked = 0
    for n, rows in _by_length(ids[0]).items():
        chars = layer.embeddings[ids[0, rows, :n]]  # [words, n, 4]: no padding
        expected = run(stock(layers(n), 4), chars)
        np.testing.assert_allclose(out[rows], expected, rtol=1e-5, atol=1e-6)
        checked += len(rows)
    assert checked == len(WORDS)
    # The same words as a batch of `[chars]` rows, one word each.
    words = keras.Input((None,), dtype="int32")
    per_word = run(keras.Model(words, layer(words)), ids[0])
    np.testing.assert_allclose(per_word, out, rtol=1e-6, atol=1e-7)


def _by_length(word_ids):
    """Rows of the words with `n` ids, by `n` (one stock call per length)."""
    lengths = (word_ids != 0).sum(axis=-1)
    return {int(n): np.flatnonzero(lengths == n) for n in np.unique(lengths)}


def test_bilstm_equals_stock_lstms_on_each_unpadded_word():
    layer = small_bilstm()
    ids = layer.encode(WORDS)
    out = run(layer, ids)[0]
    fwd = keras.layers.LSTM(5)
    bwd = keras.layers.LSTM(5, go_backwards=True)
    projection = keras.layers.Dense(6)
    # Ling et al. 2015: e = D_f s_f + D_b s_b + b on the two final states.
    model = stock(lambda x: projection(keras.layers.Concatenate()([fwd(x), bwd(x)])), 4)
    fwd.set_weights(layer.forward_lstm.get_weights())
    bwd.set_weights(layer.backward_lstm.get_weights())
    projection.set_weights(layer.projection.get_weights())
    for n, rows in _by_length(ids[0]).items():
        expected = run(model, layer.embeddings[ids[0, rows, :n]])
        np.testing.assert_allclose(out[rows], expected, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------ padding
@pytest.mark.parametrize("make", [small_cnn, small_bilstm], ids=["cnn", "bilstm"])
def test_padding_characters_never_change_a_word(make):
    layer = make()
    ids = layer.encode([WORDS, WORDS[:1]])
    out = run(layer, ids)
    # More padding characters, or fewer (down to "a" alone: 3 ids, narrower
    # than the widest CNN filter), change nothing.
    longer = np.pad(ids, [(0, 0), (0, 0), (0, 9)])
    np.testing.assert_allclose(run(layer, longer), out, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        run(layer, ids[1:, :1, :3]), out[1:, :1], rtol=1e-6, atol=1e-7
    )
    # Whatever the padding row holds, nothing moves.
    table = layer.embeddings
    table[0] = 1e3
    layer.table.set_table(table)
    np.testing.assert_array_equal(run(layer, ids), out)


@pytest.mark.parametrize("make", [small_cnn, small_bilstm], ids=["cnn", "bilstm"])
def test_padding_words_are_zero_and_masked_and_an_lstm_skips_them(make):
    layer = make()
    short = layer.encode([WORDS[:3], WORDS[:1]], sequence_length=3)
    long = layer.encode([WORDS[:3], WORDS[:1]], sequence_length=8)
    mask = np_(layer.compute_mask(short))
    assert mask.tolist() == [[True, True, True], [True, False, False]]
    ids = keras.Input((None, None), dtype="int32")
    vectors = keras.Model(ids, layer(ids))
    assert (run(vectors, long)[1, 1:] == 0).all()
    model = keras.Model(ids, keras.layers.LSTM(4)(layer(ids)))
    np.testing.assert_allclose(run(model, short), run(model, long), atol=1e-6)


def test_out_of_range_ids_count_as_unknown_or_raise():
    layer = small_cnn()
    ids = layer.encode(["abc", "abc", "abc"])
    ids[0, 0, 2] = 10_000
    ids[0, 1, 2] = -3
    ids[0, 2, 2] = 1  # the [UNK] character
    out = run(layer, ids)[0]
    np.testing.assert_allclose(out[0], out[2], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(out[1], out[2], rtol=1e-6, atol=1e-8)
    strict = small_cnn(out_of_range="error")
    with pytest.raises(ValueError, match="outside"):
        strict(ids)


@pytest.mark.parametrize("make", [small_cnn, small_bilstm], ids=["cnn", "bilstm"])
def test_out_of_range_error_in_a_compiled_function_gives_nan_words(make):
    if BACKEND == "torch":
        pytest.skip("torch predicts eagerly, where the layer raises (test above)")
    layer = make(out_of_range="error")
    ids = layer.encode([["abc", "de"], ["fgh"]])
    ids[0, 1, 1] = 10_000
    inputs = keras.Input((None, None), dtype="int32")
    out = np_(keras.Model(inputs, layer(inputs)).predict(ids, verbose=0))
    # The word with the bad id is NaN, the padding word zeros, the rest finite.
    assert np.isnan(out[0, 1]).all()
    assert np.isfinite(out[0, 0]).all() and np.isfinite(out[1, 0]).all()
    assert (out[1, 1] == 0).all()


@pytest.mark.parametrize("chars", [None, "abcdefghijklmnopqrstuvwxyz"])
def test_bad_words_are_encoded_and_embedded_without_error(chars):
    layer = small_cnn(chars=chars)
    words = ["", "z" * 200, "日本語", b"bad\x97utf8", "caf\udce9", "A!"]
    ids = layer.encode(words)
    out = run(layer, ids)
    assert out.shape == (1, len(words), 6) and np.isfinite(out).all()
    assert np_(layer.compute_mask(ids)).tolist() == [[False] + [True] * 5]
    assert (out[0, 0] == 0).all() and (out[0, 1:] != 0).any(axis=-1).all()


# ---------------------------------------------------------- freezing
def test_freeze_all_keeps_the_char_table_until_unfreeze_schedule_thaws_it():
    from keras_embedx.callbacks.unfreeze import UnfreezeSchedule

    # Seeded: max-pooling sends gradient only to the characters in each
    # filter's winning window, and about one draw in 1,500 leaves a character
    # of "hello" outside every window, so its row would rightly not change.
    layer = small_cnn(
        freeze="all",
        schedulable=True,
        embeddings_initializer=keras.initializers.RandomUniform(-0.05, 0.05, seed=1),
        kernel_initializer=keras.initializers.GlorotUniform(seed=2),
    )
    ids = layer.encode([WORDS])
    inp = keras.Input((None, None), dtype="int32")
    model = keras.Model(inp, layer(inp))
    ((name, table, labels),) = layer.embedding_tables()
    assert name == "chars" and table is layer.table
    assert labels == layer.get_vocabulary() and len(labels) == table.num_rows
    before, conv_before = layer.embeddings, layer.convs[0].get_weights()[0]
    snaps = []
    snap = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snaps.append(layer.embeddings)
    )
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    model.fit(
        ids,
        np.ones((1, len(WORDS), 6), "float32"),
        epochs=2,
        verbose=0,
        callbacks=[UnfreezeSchedule({0: 0.0, 1: 1.0}), snap],
    )
    np.testing.assert_array_equal(snaps[0], before)  # epoch 0: frozen
    assert not np.array_equal(layer.convs[0].get_weights()[0], conv_before)
    changed = np.any(snaps[1] != before, axis=1)  # epoch 1: thawed
    used = np.unique(ids)
    assert changed[used[used > 0]].all() and not changed[0]


# ------------------------------------------------------- composition
def test_word_plus_char_concatenation_keeps_the_mask(datapath):
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(
        datapath("pang_lee_polarity_fasttext.vec"), encoding="latin-1"
    )
    wv = keras_embedx.WordVectors(kv.index_to_key, kv.vectors)
    sentences = [["a", "beautiful", "film"], ["dull"], ["unseenword", "film"]]
    vocab = keras_embedx.Vocabulary.from_texts(sentences)
    chars = small_cnn()
    embed = word_char_model(PretrainedEmbedding.from_vectors(wv, vocab), chars)
    inputs = {
        "words": keras.Input((None,), dtype="int32", name="words"),
        "chars": keras.Input((None, None), dtype="int32", name="chars"),
    }
    model = keras.Model(inputs, keras.layers.LSTM(3)(embed(inputs)))

    def feed(length):
        return {
            "words": vocab.encode(sentences, sequence_length=length),
            "chars": chars.encode(sentences, sequence_length=length),
        }

    both = run(embed, feed(3))
    assert both.shape == (3, 3, 100 + 6)
    np.testing.assert_array_equal(both[0, 1, :100], wv["beautiful"])
    # Concatenate keeps the mask: without it the LSTM would read the padding
    # words' vectors and the longer padding would change the result.
    np.testing.assert_allclose(run(model, feed(3)), run(model, feed(7)), atol=1e-6)


# ------------------------------------------------------------ saving
MODELS = """
import keras
from keras_embedx.layers.char import CharEmbedding
cnn = CharEmbedding.from_texts(
    ["the cat sat on the mat", "naïve café"], 6, char_dim=4,
    filters=[[1, 3], [2, 4], [5, 5]], max_chars=16, name="cnn",
)
bilstm = CharEmbedding(5, encoder="bilstm", char_dim=4, lstm_units=3, name="bi")
inp = keras.Input((None, None), dtype="int32")
model = keras.Model(inp, [cnn(inp), bilstm(inp)])
ids = cnn.encode([["the", "cats", "naïve"], ["zebra"]])
"""


def _models():
    scope = {}
    exec(MODELS, scope)
    return scope["model"], scope["cnn"], scope["ids"]


def test_save_load_is_bit_identical_and_config_is_json(tmp_path):
    model, cnn, ids = _models()
    before = [np_(o) for o in model.predict_on_batch(ids)]
    config = cnn.get_config()
    json.dumps(config)
    assert config["chars"][:3] == ["t", "a", "e"] and "filters" in config
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    for a, b in zip(before, loaded.predict_on_batch(ids)):
        np.testing.assert_array_equal(a, np_(b))
    np.testing.assert_array_equal(
        loaded.get_layer("cnn").encode(["naïve"]), cnn.encode(["naïve"])
    )
    clone = CharEmbedding.from_config(config)
    assert clone.get_vocabulary() == cnn.get_vocabulary()


# ------------------------------------------------------------ presets
def test_presets_have_the_published_architectures():
    small = CharEmbedding.from_preset("kim_small")
    assert small.char_dim == 15 and small.highway_layers == 1
    assert small.filters == [[1, 25], [2, 50], [3, 75], [4, 100], [5, 125], [6, 150]]
    assert keras.activations.serialize(small.activation) == "tanh"
    large = CharEmbedding.from_preset("kim_large")
    assert [c for _, c in large.filters] == [50, 100, 150, 200, 200, 200, 200]
    assert large.highway_layers == 2 and large.output_dim is None
    elmo = CharEmbedding.from_preset("elmo")
    assert elmo.filters == [
        [1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]
    ]  # fmt: skip
    assert (elmo.char_dim, elmo.highway_layers, elmo.max_chars) == (16, 2, 50)
    assert keras.activations.serialize(elmo.activation) == "relu"
    assert elmo.compute_output_shape((2, 3, 50)) == (2, 3, 512)
    # Parameter count of Kim-large's char encoder: table, convolutions, two
    # highway layers on 1100 features (each a transform and a gate).
    large = CharEmbedding.from_preset(
        "kim_large", embeddings_initializer="zeros", kernel_initializer="zeros"
    )  # zeros: nothing random to draw, cheap to build
    large.build((None, None, 30))
    d, feats = 15, 1100
    convs = sum(w * d * n + n for w, n in large.filters)
    assert large.count_params() == 260 * d + convs + 2 * 2 * (feats * feats + feats)
    assert large.compute_output_shape((2, 3, 30)) == (2, 3, 1100)


def test_argument_validation():
    cases = [
        ({"output_dim": -1}, "output_dim"),
        ({"output_dim": 4, "encoder": "gru"}, "encoder"),
        ({"output_dim": 4, "filters": [[0, 3]]}, "filters"),
        ({"output_dim": 4, "filters": "abc"}, "filters"),
        ({"output_dim": 4, "filters": []}, "filters"),
        ({"output_dim": 4, "encoder": "bilstm", "filters": [[1, 2]]}, "filters"),
        ({"output_dim": 4, "max_chars": 2}, "max_chars"),
        ({"output_dim": 4, "chars": ["ab"]}, "one character"),
        ({"output_dim": 4, "freeze": "pretrained"}, "freeze"),
        ({"output_dim": 4, "highway_layers": -1}, "highway_layers"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            CharEmbedding(**kwargs)
    with pytest.raises(ValueError, match="preset"):
        CharEmbedding.from_preset("kim_huge")


def test_encode_works_inside_tf_data():
    if BACKEND != "tensorflow":
        pytest.skip("tf.data is a TensorFlow pipeline")
    import tensorflow as tf

    layer = small_cnn()
    texts = tf.data.Dataset.from_tensor_slices(["a cat", "the cats sat"])
    ds = texts.map(
        lambda t: tf.numpy_function(
            lambda s: layer.encode(s.decode("utf-8"), sequence_length=4)[0],
            [t],
            tf.int32,
        )
    ).batch(2)
    batch = next(iter(ds)).numpy()
    expected = layer.encode([["a", "cat"], ["the", "cats", "sat"]], sequence_length=4)
    np.testing.assert_array_equal(batch, expected)
