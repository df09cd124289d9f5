"""PretrainedEmbedding: alignment, freezing, out-of-range ids, masks, saving."""

import contextlib
import json
import zipfile

import keras
import numpy as np
import pytest
from keras import ops

import keras_embedx
from keras_embedx.layers import PretrainedEmbedding
from keras_embedx.vectors import WordVectors
from tests.conftest import BACKEND


def _vocab(kv, extra=("zzqx-unseen", "blorptastic")):
    # Some words the vectors know, one capitalised, two they don't.
    words = kv.index_to_key[:40] + [kv.index_to_key[40].capitalize()] + list(extra)
    return keras_embedx.Vocabulary(words)


def _train(layer, optimizer, epochs=2, seq=6, rnn="lstm", jit="auto"):
    head = {
        "lstm": keras.layers.LSTM(4),
        "gru": keras.layers.GRU(4),
        "flatten": keras.layers.Flatten(),
    }[rnn]
    model = keras.Sequential(
        [keras.Input((seq,), dtype="int32"), layer, head, keras.layers.Dense(1)]
    )
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit)
    rng = np.random.default_rng(0)
    x = rng.integers(0, layer.input_dim, size=(32, seq))
    y = rng.normal(size=(32, 1))
    history = model.fit(x, y, epochs=epochs, batch_size=8, verbose=0)
    return model, history, x


def test_from_vectors_aligns_rows_to_gensim_vectors(kv, wv):
    vocab = _vocab(kv)
    layer = PretrainedEmbedding.from_vectors(wv, vocab, seed=0)
    table = layer.embeddings
    words = vocab.get_vocabulary()
    assert layer.get_vocabulary() == words
    assert table.shape == (len(words), kv.vector_size)
    for i, word in enumerate(words[2:42], start=2):
        np.testing.assert_array_equal(table[i], kv[word])
    # The capitalised word falls back to its lowercase vector.
    np.testing.assert_array_equal(table[42], kv[kv.index_to_key[40]])
    sources = layer.row_sources()
    assert sources[:2] == ["padding", "oov"]
    assert sources[42] == "lowercase" and sources[43:] == ["missing", "missing"]
    # Padding is zeros; rows without vectors follow the vectors' statistics.
    np.testing.assert_array_equal(table[0], 0)
    filled = table[[1, 43, 44]]
    assert np.abs(filled.mean() - kv.vectors.mean()) < 3 * kv.vectors.std()
    assert not np.allclose(filled[0], filled[1])


def test_vocabulary_none_uses_the_vectors_own_words(kv, wv):
    layer = PretrainedEmbedding.from_vectors(wv)
    assert layer.get_vocabulary()[2:] == kv.index_to_key
    np.testing.assert_array_equal(layer.embeddings[2:], kv.vectors)


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: keras.optimizers.Adam(0.05),
        lambda: keras.optimizers.AdamW(0.05, weight_decay=0.5),
        lambda: keras.optimizers.SGD(0.5, momentum=0.9),
    ],
    ids=["adam", "adamw", "sgd_momentum"],
)
def test_freeze_pretrained_keeps_pretrained_rows_bit_identical(kv, wv, optimizer):
    layer = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=0)
    before = layer.embeddings.copy()
    _train(layer, optimizer())
    after = layer.embeddings
    pretrained = np.isin(layer.row_sources(), ["pretrained", "lowercase"])
    np.testing.assert_array_equal(after[pretrained], before[pretrained])
    learned = np.isin(layer.row_sources(), ["missing", "oov"])
    assert np.all(np.any(after[learned] != before[learned], axis=1))


def test_freeze_pretrained_keeps_pretrained_rows_bit_identical_compiled(kv, wv):
    # jit_compile=True: XLA on TensorFlow (a CPU's default is a plain graph),
    # torch.compile on PyTorch (default: eager); JAX compiles either way.
    layer = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=0, mask_zero=False)
    before = layer.embeddings.copy()
    optimizer = keras.optimizers.AdamW(0.05, weight_decay=0.5)
    _train(layer, optimizer, rnn="flatten", jit=True)
    after = layer.embeddings
    pretrained = np.isin(layer.row_sources(), ["pretrained", "lowercase"])
    np.testing.assert_array_equal(after[pretrained], before[pretrained])
    learned = np.isin(layer.row_sources(), ["missing", "oov"])
    assert np.all(np.any(after[learned] != before[learned], axis=1))


def test_freeze_none_trains_everything_and_all_trains_nothing(kv, wv):
    layer = PretrainedEmbedding.from_vectors(wv, _vocab(kv), freeze="none", seed=0)
    before = layer.embeddings.copy()
    _, _, x = _train(layer, keras.optimizers.Adam(0.05))
    seen = np.unique(x)
    seen = seen[seen != 0]
    assert np.all(np.any(layer.embeddings[seen] != before[seen], axis=1))

    frozen = PretrainedEmbedding.from_vectors(wv, _vocab(kv), freeze="all", seed=0)
    assert frozen.trainable_weights == []
    before = frozen.embeddings.copy()
    _train(frozen, keras.optimizers.Adam(0.05))
    np.testing.assert_array_equal(frozen.embeddings, before)


@pytest.mark.parametrize("rnn", ["gru", "flatten"])
def test_classic_tutorial_variants_train(kv, wv, rnn):
    # The classic Flatten model has fixed-length inputs and no mask.
    layer = PretrainedEmbedding.from_vectors(
        wv, _vocab(kv), seed=0, mask_zero=rnn != "flatten"
    )
    _, history, _ = _train(layer, "adam", epochs=2, rnn=rnn)
    assert np.all(np.isfinite(history.history["loss"]))


def test_mask_lets_lstm_skip_padding(kv, wv):
    layer = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=0)
    lstm = keras.layers.LSTM(3, seed=1)
    ids = np.array([[5, 9, 3]])
    padded = np.array([[5, 9, 3, 0, 0]])
    out = lstm(layer(ids), mask=layer.compute_mask(ids))
    out_padded = lstm(layer(padded), mask=layer.compute_mask(padded))
    np.testing.assert_allclose(
        ops.convert_to_numpy(out), ops.convert_to_numpy(out_padded), atol=1e-6
    )
    mask = ops.convert_to_numpy(layer.compute_mask(padded))
    assert mask.tolist() == [[True, True, True, False, False]]


@pytest.mark.parametrize("jit", [False, True])
def test_out_of_range_ids_map_to_the_oov_row(kv, wv, jit):
    layer = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=0)
    model = keras.Sequential([keras.Input((4,), dtype="int32"), layer])
    model.compile(jit_compile=jit)
    ids = np.array([[3, -1, layer.input_dim, 10**6]])
    out = model.predict(ids, verbose=0)
    oov = layer.embeddings[1]
    np.testing.assert_array_equal(out[0, 0], layer.embeddings[3])
    for k in (1, 2, 3):
        np.testing.assert_array_equal(out[0, k], oov)


def test_out_of_range_error_mode(kv, wv):
    layer = PretrainedEmbedding.from_vectors(
        wv, _vocab(kv), seed=0, out_of_range="error"
    )
    with pytest.raises(ValueError, match=r"Ids must lie in \[0, 45\).*-2"):
        layer(np.array([[3, -2]]))
    ok = ops.convert_to_numpy(layer(np.array([[3, 4]])))
    np.testing.assert_array_equal(ok[0, 0], layer.embeddings[3])


def test_float_inputs_are_cast(kv, wv):
    layer = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=0)
    out = ops.convert_to_numpy(layer(np.array([[3.0, 4.0]], dtype="float32")))
    np.testing.assert_array_equal(out[0, 1], layer.embeddings[4])


def test_get_vocabulary_indexes_the_same_rows_as_string_lookup(kv, wv):
    pytest.importorskip("tensorflow")
    vocab = _vocab(kv)
    layer = PretrainedEmbedding.from_vectors(wv, vocab, seed=0)
    lookup = keras.layers.StringLookup(mask_token="", vocabulary=layer.get_vocabulary())
    words = ["the", "", "zzqx-unseen", "never-seen-word", kv.index_to_key[7]]
    ids = ops.convert_to_numpy(lookup(np.array(words)))
    assert ids.tolist() == vocab.encode([words])[0].tolist()
    np.testing.assert_array_equal(
        ops.convert_to_numpy(layer(ids[None]))[0, 4], kv[kv.index_to_key[7]]
    )


def _model_for_saving(wv, kv):
    layer = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=0, name="words")
    model, _, x = _train(layer, "adam", epochs=1)
    return model, x


def test_save_load_bit_identical(kv, wv, tmp_path):
    model, x = _model_for_saving(wv, kv)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(
        model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    )
    layer = loaded.get_layer("words")
    assert layer.get_vocabulary() == model.get_layer("words").get_vocabulary()
    assert layer.row_sources() == model.get_layer("words").row_sources()
    config = json.dumps(layer.get_config())
    assert "[UNK]" not in config  # the vocabulary travels as an asset


def test_large_vocabulary_travels_as_asset(tmp_path):
    words = [f"w{i}" for i in range(100_000)]
    rng = np.random.default_rng(0)
    wv = WordVectors(words[::2], rng.normal(size=(50_000, 8)).astype("float32"))
    layer = PretrainedEmbedding.from_vectors(wv, words, seed=0)
    model = keras.Sequential([keras.Input((3,), dtype="int32"), layer])
    path = tmp_path / "big.keras"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        config_size = zf.getinfo("config.json").file_size
        names = zf.namelist()
    assert config_size < 64 * 1024
    assert any(n.endswith("vocabulary.json") for n in names)
    loaded = keras.models.load_model(path)
    assert loaded.layers[0].get_vocabulary()[-1] == "w99999"


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(kv, wv, policy):
    layer = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=0, dtype=policy)
    out = layer(np.array([[3, 4, 0]]))
    assert keras.backend.standardize_dtype(out.dtype) == policy.split("_")[1]
    assert all(
        keras.backend.standardize_dtype(w.dtype) in ("float32", "int32")
        for w in layer.weights
    )
    model, history, _ = _train(layer, "adam", epochs=1)
    assert np.isfinite(history.history["loss"][0])


def test_constructor_validates_arguments():
    with pytest.raises(ValueError, match="input_dim.*Received: input_dim=0"):
        PretrainedEmbedding(0, 4)
    with pytest.raises(ValueError, match="freeze.*Received: freeze='some'"):
        PretrainedEmbedding(10, 4, freeze="some")
    with pytest.raises(ValueError, match="out_of_range"):
        PretrainedEmbedding(10, 4, out_of_range="clip")
    with pytest.raises(ValueError, match="storage_dtype"):
        PretrainedEmbedding(10, 4, storage_dtype="int4")
    with pytest.raises(ValueError, match="one entry per row"):
        PretrainedEmbedding(10, 4, vocabulary=["", "[UNK]", "a"])


def test_vocabulary_with_no_vector_is_a_clear_error(wv):
    with pytest.raises(
        ValueError, match=r"None of the 2 vocabulary words has a vector"
    ):
        PretrainedEmbedding.from_vectors(wv, ["zzqx-unseen", "blorptastic"])


def test_eager_calls_read_the_current_table(kv, wv):
    # Eager calls on JAX run as one compiled call; it must read the values
    # the variables hold at each call, not those of the first call.
    layer = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=0, schedulable=True)
    ids = np.array([[2, 3, 42, 0]])
    first = ops.convert_to_numpy(layer(ids))
    np.testing.assert_array_equal(first[0, :2], kv.vectors[:2])
    mask = layer.table.frozen_mask()
    new = np.random.default_rng(1).normal(size=layer.embeddings.shape)
    layer.table.set_table(new.astype("float32"), mask)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(layer(ids)), new[[2, 3, 42, 0]][None].astype("float32")
    )
    # Changing the factor does not move the table; a learned change then
    # shows at that factor.
    layer.table.set_factor(0.5)
    expected = new[[2, 3, 42, 0]][None].astype("float32")
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(ids)), expected)
    live = layer.table.frozen_live
    live.assign(ops.convert_to_numpy(live) + 1.0)
    shifted = ops.convert_to_numpy(layer(ids))[0]
    np.testing.assert_allclose(shifted[:2], expected[0, :2] + 0.5, rtol=1e-6)


def test_predict_reads_the_rows_as_trained_and_as_assigned(kv, wv):
    # `predict` reads every row's current value after each round of
    # training and after `set_weights` (on eager PyTorch it gathers once
    # from a copy of the trainable rows, refreshed when they change).
    layer = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=0)
    initial = layer.embeddings
    model, _, x = _train(layer, keras.optimizers.Adam(0.05), epochs=1)
    probe = keras.Sequential([keras.Input(x.shape[1:], dtype="int32"), layer])
    trained = layer.embeddings
    assert np.any(trained != initial)
    np.testing.assert_array_equal(probe.predict(x, verbose=0), trained[x])
    model.fit(x, np.zeros((len(x), 1)), epochs=1, verbose=0)
    again = layer.embeddings
    assert np.any(again != trained)
    np.testing.assert_array_equal(probe.predict(x, verbose=0), again[x])
    layer.table.set_table(initial, layer.table.frozen_mask())
    np.testing.assert_array_equal(probe.predict(x, verbose=0), initial[x])


def test_stateless_call_reads_the_values_it_is_given(kv, wv):
    # Values handed to `stateless_call` are read, never written to, and the
    # layer's own variables are left alone (on PyTorch also without
    # gradients, where a lookup may refresh its own variables' copies).
    layer = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=0)
    other = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=1)
    other.table.set_table(other.embeddings[::-1].copy(), layer.table.frozen_mask())
    moved = other.table.trainable_table
    moved.assign(ops.convert_to_numpy(moved) + 1.0)  # trained since set_table
    own = [ops.convert_to_numpy(v).copy() for v in layer.weights]
    given = {
        kind: [ops.convert_to_numpy(v).copy() for v in variables]
        for kind, variables in [
            ("trainable", other.trainable_weights),
            ("fixed", other.non_trainable_weights),
        ]
    }
    tensors = {k: [ops.convert_to_tensor(v) for v in vs] for k, vs in given.items()}
    ids = np.arange(layer.input_dim).reshape(1, -1)
    with _no_gradients():
        out, _ = layer.stateless_call(tensors["trainable"], tensors["fixed"], ids)
    np.testing.assert_array_equal(ops.convert_to_numpy(out)[0], other.embeddings)
    for kind in given:
        for before, after in zip(given[kind], tensors[kind]):
            np.testing.assert_array_equal(ops.convert_to_numpy(after), before)
    for before, v in zip(own, layer.weights):
        np.testing.assert_array_equal(ops.convert_to_numpy(v), before)


def _no_gradients():
    if BACKEND == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


torch_only = pytest.mark.skipif(BACKEND != "torch", reason="PyTorch training loops")


def _numpy(x):
    """A tensor's values in NumPy, from whatever device holds it."""
    return keras.ops.convert_to_numpy(x)


def _torch_steps(layer, optimizer, clear_after_step):

    model = keras.Sequential(
        [
            keras.Input((5,), dtype="int32"),
            layer,
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    rng = np.random.default_rng(0)
    # On the device Keras places the model on (a GPU where there is one).
    x = keras.ops.convert_to_tensor(rng.integers(0, layer.input_dim, (32, 5)), "int32")
    y = keras.ops.convert_to_tensor(rng.normal(size=(32, 1)), "float32")
    opt = optimizer(model.parameters())
    for _ in range(3):
        if not clear_after_step:
            opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        yield
        opt.step()
        if clear_after_step:
            opt.zero_grad(set_to_none=True)
        yield


@torch_only
@pytest.mark.parametrize("clear_after_step", [False, True], ids=["clear", "clear_late"])
@pytest.mark.parametrize("fused", [False, True], ids=["adam", "fused_adam"])
def test_torch_loop_then_no_grad_reads_the_trained_rows(
    kv, wv, fused, clear_after_step
):
    # A PyTorch training loop on the Keras model, with lookups without
    # gradients after every backward pass and every step. A fused optimizer
    # writes the rows without PyTorch counting the write.
    import torch

    layer = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=0)
    ids = np.arange(layer.input_dim).reshape(1, -1)
    initial = layer.embeddings

    def adam(params):
        return torch.optim.Adam(params, lr=0.1, fused=fused)

    for _ in _torch_steps(layer, adam, clear_after_step):
        with torch.no_grad():
            np.testing.assert_array_equal(
                _numpy(layer(ids))[0], layer.table.full_table()
            )
    assert np.any(layer.embeddings != initial)


@torch_only
def test_torch_new_storage_and_inference_mode(kv, wv, tmp_path):
    import torch

    layer = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=0)
    ids = np.arange(layer.input_dim).reshape(1, -1)
    with torch.no_grad():
        layer(ids)
    train = layer.table.trainable_table.value
    train.data = train.data + 5.0  # new storage, write count unchanged
    with torch.no_grad():
        np.testing.assert_array_equal(_numpy(layer(ids))[0], layer.table.full_table())
    # Built or loaded under inference_mode (tensors without a write count).
    model = keras.Sequential([keras.Input((None,), dtype="int32"), layer])
    model.save(tmp_path / "m.keras")
    with torch.inference_mode():
        loaded = keras.models.load_model(tmp_path / "m.keras")
        np.testing.assert_array_equal(_numpy(loaded(ids)), _numpy(model(ids)))
        fresh = PretrainedEmbedding(7, 3, freeze="pretrained", num_frozen=4)
        assert tuple(fresh(ids[:, :7] % 7).shape) == (1, 7, 3)


@torch_only
def test_torch_partial_stateless_scope_leaves_own_variables_alone(kv, wv):
    import torch

    layer = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=0)
    table = layer.table
    own = [v.numpy().copy() for v in table.weights]
    moved = keras.ops.convert_to_tensor(table.trainable_table.numpy() + 100.0)
    ids = np.arange(layer.input_dim).reshape(1, -1)
    expected = table.full_table()
    trainable = ~table.frozen_mask()
    expected[trainable] += 100.0
    mapping = [(table.trainable_table, moved)]
    with torch.no_grad(), keras.StatelessScope(state_mapping=mapping):
        np.testing.assert_array_equal(_numpy(layer(ids))[0], expected)
    for before, v in zip(own, table.weights):
        np.testing.assert_array_equal(v.numpy(), before)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow graphs and XLA")
def test_tensorflow_graph_runs_the_mixed_lookup_as_one_xla_cluster(kv, wv):
    # In a graph without XLA (how Keras runs `fit` and `predict` on a CPU)
    # the two-part lookup's ops are marked for one XLA cluster (and call no
    # compiled function, which graphs frozen for export cannot inline): it
    # must give the same rows as the table, for ids of any rank and size in
    # turn, and send each position's gradient to its trainable row.
    import tensorflow as tf

    layer = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=0)
    table = layer.table.full_table()
    graph = tf.function(lambda ids: layer(ids))
    signature = tf.TensorSpec([None, None], tf.int32)
    graph_def = graph.get_concrete_function(signature).graph.as_graph_def()
    marked = {node.op for node in graph_def.node if node.attr["_XlaCompile"].b}
    assert {"ResourceGather", "SelectV2"} <= marked
    assert not graph_def.library.function
    rng = np.random.default_rng(0)
    for shape in [(4, 6), (layer.input_dim,), (2, 3, 5), (1, 6), (4, 6)]:
        ids = rng.integers(0, layer.input_dim, size=shape).astype("int32")
        np.testing.assert_array_equal(graph(ids).numpy(), table[ids])
        np.testing.assert_array_equal(ops.convert_to_numpy(layer(ids)), table[ids])
    # Ragged ids (XLA takes dense tensors only) still give ragged rows.
    ragged = tf.ragged.constant([[2, 3, 42], [0]])
    rows = layer(ragged)
    assert isinstance(rows, tf.RaggedTensor)
    np.testing.assert_array_equal(rows.flat_values.numpy(), table[[2, 3, 42, 0]])

    ids = rng.integers(0, layer.input_dim, size=(8, 6)).astype("int32")
    weights = rng.normal(size=(8, 6, layer.output_dim)).astype("float32")
    gradient = _trainable_gradient(layer, ids, weights, compiled=True)
    expected = _expected_gradient(layer.table, ids, weights)
    np.testing.assert_allclose(gradient, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_gradient_reaches_each_trainable_row_from_its_positions_only(kv, wv, compiled):
    # The gradient of a mixed table's lookup, for any upstream gradient:
    # each trainable row gets the sum over the positions that read it (an
    # independent NumPy np.add.at), and nothing else, whichever way the
    # frozen positions are routed inside the lookup.
    layer = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=0)
    rng = np.random.default_rng(1)
    ids = rng.integers(0, layer.input_dim, size=(16, 9)).astype("int32")
    upstream = rng.normal(size=(16, 9, layer.output_dim)).astype("float32")
    gradient = _trainable_gradient(layer, ids, upstream, compiled)
    expected = _expected_gradient(layer.table, ids, upstream)
    np.testing.assert_allclose(gradient, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_a_table_saved_with_every_frozen_slot_at_minus_one_reads_the_same(
    kv, wv, compiled
):
    # Frozen rows' entries in `row_index` used to be -1 everywhere; they are
    # now spread over negative numbers. A model saved with the old values
    # must give the same rows and the same gradient.
    layer = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=0)
    old = PretrainedEmbedding.from_vectors(wv, _vocab(kv), seed=0)
    slots = ops.convert_to_numpy(old.table.row_index)
    assert len(np.unique(slots[slots < 0])) > 1
    old.table.row_index.assign(np.maximum(slots, -1))
    rng = np.random.default_rng(2)
    ids = rng.integers(0, layer.input_dim, size=(8, 7)).astype("int32")
    upstream = rng.normal(size=(8, 7, layer.output_dim)).astype("float32")
    np.testing.assert_array_equal(
        ops.convert_to_numpy(old(ids)), ops.convert_to_numpy(layer(ids))
    )
    np.testing.assert_allclose(
        _trainable_gradient(old, ids, upstream, compiled),
        _trainable_gradient(layer, ids, upstream, compiled),
        rtol=1e-6,
        atol=1e-6,
    )


def _expected_gradient(table, ids, upstream):
    """NumPy: each trainable slot's sum of `upstream` over its positions."""
    slots = ops.convert_to_numpy(table.row_index)[ids]
    assert (slots >= 0).any() and (slots < 0).any()
    expected = np.zeros(table.trainable_table.shape, "float32")
    np.add.at(expected, slots[slots >= 0], upstream[slots >= 0])
    return expected


def _trainable_gradient(layer, ids, upstream, compiled):
    """d sum(layer(ids) * upstream) / d trainable_table, as NumPy.

    `compiled`: inside `jax.jit`, a `tf.function` or `torch.compile`.
    """
    train = layer.table.trainable_table
    if BACKEND == "jax":
        import jax

        def loss(values, ids):
            mapping = [(train, values)]
            with keras.StatelessScope(state_mapping=mapping):
                return (layer(ids) * upstream).sum()

        grad = jax.grad(loss)
        return np.asarray((jax.jit(grad) if compiled else grad)(train.value, ids))
    if BACKEND == "tensorflow":
        import tensorflow as tf

        def grad(ids):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(ids) * upstream)
            return tf.convert_to_tensor(tape.gradient(loss, train.value))

        return (tf.function(grad) if compiled else grad)(ids).numpy()
    import torch

    forward = torch.compile(layer) if compiled else layer

    def grad(ids):
        out = forward(keras.ops.convert_to_tensor(ids))
        weighted = out * keras.ops.convert_to_tensor(upstream)
        return torch.autograd.grad(weighted.sum(), train.value)

    return _numpy(grad(ids)[0])


class _TiedLogits(keras.layers.Layer):
    """Logits over the vocabulary through an embedding layer's own table:
    the tied output projection of keras-hub's ReversibleEmbedding pattern."""

    def __init__(self, embedding, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding

    def call(self, hidden):
        return ops.matmul(hidden, ops.transpose(self.embedding.embeddings))


def _tied_model(embedding, seq):
    inputs = keras.Input((seq,), dtype="int32")
    hidden = keras.layers.GlobalAveragePooling1D()(embedding(inputs))
    model = keras.Model(inputs, _TiedLogits(embedding)(hidden))
    model.compile(
        optimizer=keras.optimizers.SGD(0.5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


@pytest.mark.parametrize(
    "freeze, storage_dtype",
    [("none", "float32"), ("pretrained", "float32"), ("pretrained", "int8")],
)
def test_tied_projection_through_embeddings_trains_the_rows(
    kv, wv, freeze, storage_dtype
):
    """One `fit` step of a model whose output projection reads
    `layer.embeddings` in its `call` moves every trainable row as the same
    model on `keras.layers.Embedding` (same starting rows) moves it, rows
    the inputs never read included (only the projection reaches them);
    frozen rows stay bit-identical."""
    layer = PretrainedEmbedding.from_vectors(
        wv, _vocab(kv), freeze=freeze, storage_dtype=storage_dtype
    )
    initial = layer.embeddings
    assert isinstance(initial, np.ndarray)  # read outside any call: a copy
    stock = keras.layers.Embedding(*initial.shape, weights=[initial], mask_zero=True)
    rng = np.random.default_rng(0)
    x = rng.integers(2, 20, size=(8, 5))  # never the rows past 20
    y = rng.integers(0, layer.input_dim, size=(8,))
    for embedding in (layer, stock):
        _tied_model(embedding, 5).fit(x, y, batch_size=8, epochs=1, verbose=0)
    after = layer.embeddings
    trainable = ~layer.table.frozen_mask()
    assert trainable[20:].any()
    np.testing.assert_allclose(
        after[trainable], ops.convert_to_numpy(stock.embeddings)[trainable], atol=1e-6
    )
    assert np.all(np.any(after[trainable] != initial[trainable], axis=1))
    np.testing.assert_array_equal(after[~trainable], initial[~trainable])


@pytest.mark.parametrize("mask_zero", [True, False])
def test_conv_model_warns_of_a_destroyed_mask_unless_mask_zero_false(wv, kv, mask_zero):
    """The convolutional model of Keras' pretrained word embeddings example:
    the default mask makes Keras warn that Conv1D destroys it; the
    documented `mask_zero=False` gives no such warning."""
    import warnings

    vocab = _vocab(kv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inputs = keras.Input((None,), dtype="int32")
        x = PretrainedEmbedding.from_vectors(wv, vocab, mask_zero=mask_zero)(inputs)
        x = keras.layers.Conv1D(8, 3, activation="relu")(x)
        x = keras.layers.MaxPooling1D(2)(x)
        x = keras.layers.GlobalMaxPooling1D()(x)
        model = keras.Model(inputs, keras.layers.Dense(2)(x))
        model.predict(vocab.encode(["the film", "a dull one"], 8), verbose=0)
    destroyed = [w for w in caught if "destroy the mask" in str(w.message)]
    assert bool(destroyed) == mask_zero
