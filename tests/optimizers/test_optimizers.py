"""keras_embedx.optimizers: row-sparse training of tables inside `fit`."""

import json

import keras
import numpy as np
import pytest
from keras import ops

import keras_embedx
from keras_embedx import optimizers
from keras_embedx.layers import PretrainedEmbedding

ROWS, DIM, BATCH, SEQ, STEPS = 40, 3, 4, 5, 6
# `torch.compile` takes about a minute per model on a 2-core machine.
JIT = [
    False,
    pytest.param(
        True,
        marks=pytest.mark.skipif(
            keras.config.backend() == "torch", reason="torch.compile time"
        ),
    ),
]


def _data(seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 12, (BATCH * STEPS, SEQ)).astype("int32")
    targets = rng.standard_normal((BATCH * STEPS, SEQ, DIM)).astype("float32")
    matrix = rng.standard_normal((ROWS, DIM)).astype("float32")
    return ids, targets, matrix


def _linear_loss(y_true, y_pred):
    # The gradient of a row is the sum of its positions' targets / BATCH.
    return ops.sum(y_true * y_pred, axis=(1, 2))


def _fit(layer, ids, targets, jit, optimizer=None):
    inputs = keras.Input((SEQ,), dtype="int32")
    model = keras.Model(inputs, layer(inputs))
    model.compile(
        optimizer=optimizer or keras.optimizers.SGD(0.0),
        loss=_linear_loss,
        jit_compile=jit,
    )
    model.fit(ids, targets, batch_size=BATCH, shuffle=False, verbose=0)
    return model


def _grads(ids, targets):
    """Per-step float64 row gradients of `_linear_loss`, from NumPy."""
    for step in range(STEPS):
        batch = slice(step * BATCH, (step + 1) * BATCH)
        grad = np.zeros((ROWS, DIM))
        np.add.at(grad, ids[batch].ravel(), targets[batch].reshape(-1, DIM) / BATCH)
        yield grad, np.unique(ids[batch])


def _lazy_adam(matrix, ids, targets, rate, b1, b2, eps, decay, trainable):
    table = matrix.astype("float64")
    m, v = np.zeros_like(table), np.zeros_like(table)
    for t, (grad, rows) in enumerate(_grads(ids, targets), start=1):
        rows = rows[trainable[rows]]
        lr = rate(t - 1)
        table[rows] -= lr * decay * table[rows]
        m[rows] = b1 * m[rows] + (1 - b1) * grad[rows]
        v[rows] = b2 * v[rows] + (1 - b2) * grad[rows] ** 2
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        table[rows] -= alpha * m[rows] / (np.sqrt(v[rows]) + eps)
    return table


def _adagrad(matrix, ids, targets, rate, initial, eps):
    table = matrix.astype("float64")
    acc = np.full_like(table, initial)
    for grad, rows in _grads(ids, targets):
        acc[rows] += grad[rows] ** 2
        table[rows] -= rate * grad[rows] / np.sqrt(acc[rows] + eps)
    return table


@pytest.mark.parametrize("jit", JIT)
def test_sgd_equals_stock_embedding(jit):
    ids, targets, matrix = _data()
    stock = keras.layers.Embedding(ROWS, DIM, weights=[matrix])
    _fit(stock, ids, targets, jit, keras.optimizers.SGD(0.5))
    layer = PretrainedEmbedding(
        ROWS, DIM, mask_zero=False, weights=matrix, row_optimizer=optimizers.SGD(0.5)
    )
    _fit(layer, ids, targets, jit)
    np.testing.assert_allclose(layer.embeddings, stock.get_weights()[0], atol=1e-6)
    assert not np.allclose(layer.embeddings, matrix)


@pytest.mark.parametrize("jit", JIT)
def test_lazy_adam_with_decay_and_schedule_matches_numpy(jit):
    ids, targets, matrix = _data(1)
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5)
    opt = optimizers.LazyAdam(schedule, 0.8, 0.9, 1e-3, weight_decay=0.1)
    trainable = np.zeros(ROWS, bool)
    trainable[[1, 3, 5, 7, 11]] = True
    layer = PretrainedEmbedding(
        ROWS,
        DIM,
        mask_zero=False,
        freeze="pretrained",
        num_frozen=ROWS - 5,
        row_optimizer=opt,
    )
    layer.build()
    layer.table.set_table(matrix, ~trainable)
    _fit(layer, ids, targets, jit)
    expected = _lazy_adam(
        matrix,
        ids,
        targets,
        lambda step: 0.1 * 0.5 ** (step / 2),
        0.8,
        0.9,
        1e-3,
        0.1,
        trainable,
    )
    got = layer.embeddings
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=2e-6)
    # Frozen rows never move, to the bit.
    np.testing.assert_array_equal(got[~trainable], matrix[~trainable])


@pytest.mark.parametrize("jit", JIT)
def test_adagrad_matches_numpy_and_survives_save(jit, tmp_path):
    ids, targets, matrix = _data(2)
    layer = PretrainedEmbedding(
        ROWS,
        DIM,
        mask_zero=False,
        weights=matrix,
        row_optimizer=optimizers.Adagrad(0.3, initial_accumulator_value=0.2),
    )
    model = _fit(layer, ids, targets, jit)
    expected = _adagrad(matrix, ids, targets, 0.3, 0.2, 1e-7)
    np.testing.assert_allclose(layer.embeddings, expected, rtol=2e-5, atol=2e-6)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(
        path, custom_objects={"_linear_loss": _linear_loss}
    )
    table = loaded.layers[-1]
    assert isinstance(table.table.row_optimizer, optimizers.Adagrad)
    np.testing.assert_array_equal(table.embeddings, layer.embeddings)


def test_config_round_trip_is_json():
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([3], [0.1, 0.01])
    layer = PretrainedEmbedding(
        ROWS, DIM, row_optimizer=optimizers.LazyAdam(schedule, weight_decay=0.01)
    )
    config = json.loads(json.dumps(layer.get_config()))
    again = PretrainedEmbedding.from_config(config).table.row_optimizer
    assert isinstance(again, optimizers.LazyAdam)
    assert again.weight_decay == 0.01
    rate = again.learning_rate
    assert isinstance(rate, keras.optimizers.schedules.PiecewiseConstantDecay)
    assert float(ops.convert_to_numpy(rate(5))) == pytest.approx(0.01)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="row_optimizer"):
        PretrainedEmbedding(ROWS, DIM, row_optimizer=keras.optimizers.Adam())
    with pytest.raises(ValueError, match="beta_1"):
        optimizers.LazyAdam(beta_1=1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.SGD("fast")
    with pytest.raises(ValueError, match="regularizer"):
        PretrainedEmbedding(
            ROWS, DIM, embeddings_regularizer="l2", row_optimizer=optimizers.SGD()
        )


def test_too_many_rows_for_capacity_fails_clearly():
    ids, targets, matrix = _data()
    layer = PretrainedEmbedding(
        ROWS, DIM, mask_zero=False, row_optimizer=optimizers.SGD(0.1, capacity=2)
    )
    with pytest.raises(ValueError, match="capacity"):
        _fit(layer, ids, targets, jit=False)
        layer.embeddings  # noqa: B018 (compiled steps report on the next read)


REFUSED = {
    "LossScaleOptimizer": lambda: keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD()
    ),
    "gradient_accumulation_steps=2": lambda: keras.optimizers.SGD(
        gradient_accumulation_steps=2
    ),
}


@pytest.mark.parametrize("what", sorted(REFUSED))
def test_model_optimizers_that_withhold_gradients_are_refused(what):
    ids, targets, _ = _data()
    layer = PretrainedEmbedding(
        ROWS, DIM, mask_zero=False, row_optimizer=optimizers.SGD()
    )
    with pytest.raises(ValueError, match=what):
        _fit(layer, ids, targets, jit=False, optimizer=REFUSED[what]())


def test_public_path():
    assert keras_embedx.optimizers.LazyAdam is optimizers.LazyAdam


def _subword(row_optimizer):
    from gensim.test.utils import datapath

    return keras_embedx.layers.SubwordEmbedding.from_fasttext(
        datapath("toy-model.bin"), freeze="none", row_optimizer=row_optimizer
    )


def _char(row_optimizer):
    keras.utils.set_random_seed(3)
    return keras_embedx.layers.CharEmbedding(
        6, max_chars=8, char_dim=4, filters=[(2, 3)], row_optimizer=row_optimizer
    )


def _token(row_optimizer):
    keras.utils.set_random_seed(4)
    return keras_embedx.layers.TokenAndPosition(30, 5, 4, row_optimizer=row_optimizer)


WORDS = [["the", "night", "zyx"], ["night", "of", "the"]]
OWNERS = {
    "subword": (_subword, lambda layer: layer.encode(WORDS)),
    "char": (_char, lambda layer: layer.encode(WORDS)),
    "token": (_token, lambda layer: np.array([[1, 2, 3, 2, 9], [4, 4, 0, 7, 8]])),
}


def _rows(layer):
    table = getattr(layer, "table", None) or layer.token_embedding
    return table.full_table()


@pytest.mark.parametrize("owner", sorted(OWNERS))
def test_every_table_layer_trains_row_sparsely_like_dense_sgd(owner):
    make, encode = OWNERS[owner]
    tables = []
    for row_optimizer in (None, optimizers.SGD(0.5)):
        layer = make(row_optimizer)
        ids = encode(layer)
        inputs = keras.Input(ids.shape[1:], dtype="int32")
        model = keras.Model(inputs, layer(inputs))
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
        before = _rows(layer)
        target = np.ones(model.output_shape[1:], "float32")[None].repeat(len(ids), 0)
        model.fit(ids, target, batch_size=len(ids), epochs=2, verbose=0)
        tables.append((before, _rows(layer)))
    (dense_before, dense), (sparse_before, sparse) = tables
    np.testing.assert_array_equal(dense_before, sparse_before)
    assert not np.allclose(dense, dense_before)
    np.testing.assert_allclose(sparse, dense, atol=1e-6)


@pytest.mark.parametrize("jit", JIT)
def test_unfreeze_schedule_scales_thawed_rows_like_dense_sgd(jit):
    ids, targets, matrix = _data(5)
    frozen = np.ones(ROWS, bool)
    frozen[[2, 4, 6]] = False
    tables = []
    for row_optimizer in (None, optimizers.SGD(0.5)):
        layer = PretrainedEmbedding(
            ROWS,
            DIM,
            mask_zero=False,
            freeze="pretrained",
            num_frozen=ROWS - 3,
            schedulable=True,
            row_optimizer=row_optimizer,
        )
        layer.build()
        layer.table.set_table(matrix, frozen)
        inputs = keras.Input((SEQ,), dtype="int32")
        model = keras.Model(inputs, layer(inputs))
        model.compile(
            optimizer=keras.optimizers.SGD(0.5), loss=_linear_loss, jit_compile=jit
        )
        schedule = keras_embedx.callbacks.UnfreezeSchedule({1: 0.25, 2: 1.0})
        model.fit(
            ids,
            targets,
            batch_size=BATCH,
            epochs=3,
            shuffle=False,
            verbose=0,
            callbacks=[schedule],
        )
        tables.append(layer.embeddings)
    dense, sparse = tables
    np.testing.assert_allclose(sparse, dense, atol=1e-6)
    touched = np.unique(ids)
    untouched = np.setdiff1d(np.arange(ROWS), touched)
    np.testing.assert_array_equal(sparse[untouched], matrix[untouched])
    assert not np.allclose(sparse[touched], matrix[touched])


def test_mixed_bfloat16_matches_dense_sgd():
    ids, targets, matrix = _data(7)
    tables = []
    for row_optimizer, rate in ((None, 0.5), (optimizers.SGD(0.5), 0.0)):
        layer = PretrainedEmbedding(
            ROWS,
            DIM,
            mask_zero=False,
            weights=matrix,
            dtype="mixed_bfloat16",
            row_optimizer=row_optimizer,
        )
        _fit(layer, ids, targets, jit=False, optimizer=keras.optimizers.SGD(rate))
        tables.append(layer.embeddings)
    assert not np.allclose(tables[1], matrix)
    np.testing.assert_allclose(tables[1], tables[0], atol=1e-6)


@pytest.mark.skipif(keras.config.backend() != "jax", reason="JAX's compile cache")
def test_training_steps_after_the_first_compile_nothing_on_jax():
    """The row-sparse state keeps its types, so `fit` compiles its step once."""
    import jax

    ids, targets, matrix = _data()
    layer = PretrainedEmbedding(
        ROWS,
        DIM,
        weights=[matrix],
        mask_zero=False,
        freeze="none",
        row_optimizer=optimizers.LazyAdam(0.01),
    )
    model = _fit(layer, ids[:BATCH], targets[:BATCH], jit=True)
    compiles = []

    def listen(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        model.fit(ids, targets, batch_size=BATCH, shuffle=False, verbose=0)
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    assert compiles == []
