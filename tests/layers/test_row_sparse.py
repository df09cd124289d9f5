"""Row-sparse training (`row_optimizer=`) against dense Keras and NumPy references.

The expected tables come from stock `keras.layers.Embedding` trained by
Keras' own optimizers, from the same layer without a row optimizer, or from
the NumPy references of `tests/_lazy_reference.py`; never from the code
under test. `keras_embedx.optimizers` is imported inside the tests, so this
file collects (and its reference checks run) wherever that module is
missing, and every other test fails there.
"""

import json

import keras
import numpy as np
import pytest

import keras_embedx
from keras_embedx.callbacks import UnfreezeSchedule
from keras_embedx.layers import (
    CharEmbedding,
    PretrainedEmbedding,
    SubwordEmbedding,
    TokenAndPosition,
)
from tests import _lazy_reference as reference

BACKEND = keras.config.backend()
ROWS, DIM, SEQ, BATCH, STEPS = 24, 4, 6, 4, 5
# The batches draw ids 1..IDS, so row 0 and the rows past IDS never occur.
IDS = 15
UNTOUCHED = np.r_[0, IDS + 1 : ROWS]
_RNG = np.random.default_rng(20)
TABLE = (_RNG.standard_normal((ROWS, DIM)) * 0.5).astype("float32")
KERNEL = (_RNG.standard_normal((DIM, 1)) * 0.5).astype("float32")
BIAS = np.array([0.1], "float32")
# jit_compile on PyTorch is torch.compile, which takes minutes here: the
# compiled cases run on TensorFlow (XLA) and JAX.
JIT = [False] if BACKEND == "torch" else [False, True]


def row_optimizers():
    """`keras_embedx.optimizers`, imported when a test runs."""
    from keras_embedx import optimizers

    return optimizers


def data(steps=STEPS, seed=0):
    """`steps` batches of ids in 1..IDS, each sample repeating an id."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, IDS + 1, (steps * BATCH, SEQ)).astype("int32")
    x[:, -1] = x[:, 0]
    y = rng.standard_normal((steps * BATCH, 1)).astype("float32")
    return x, y


def pooled_model(embedding, optimizer, jit=False, seq=(SEQ,), kernel=KERNEL):
    """`embedding -> GlobalAveragePooling1D -> Dense(1)`, mse.

    The head starts from `kernel` (and `BIAS`), or at random for None.
    """
    inputs = keras.Input(seq, dtype="int32")
    pooled = keras.layers.GlobalAveragePooling1D()(embedding(inputs))
    head = keras.layers.Dense(1, name="head")
    model = keras.Model(inputs, head(pooled))
    if kernel is not None:
        head.set_weights([kernel, BIAS])
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit)
    return model


def fit(model, x, y, **kwargs):
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, **kwargs)


def row_sparse(row_optimizer, **kwargs):
    """A fully trainable `PretrainedEmbedding` holding `TABLE`."""
    return PretrainedEmbedding(
        ROWS,
        DIM,
        mask_zero=False,
        freeze="none",
        weights=[TABLE],
        row_optimizer=row_optimizer,
        **kwargs,
    )


def stock_table(optimizer, x, y, jit=False):
    """`TABLE` after `fit` with stock `Embedding` and a Keras optimizer."""
    stock = keras.layers.Embedding(ROWS, DIM)
    model = pooled_model(stock, optimizer, jit)
    stock.set_weights([TABLE])
    fit(model, x, y)
    return stock.get_weights()[0], model.get_layer("head").get_weights()


def assert_close(actual, expected, atol=1e-6):
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=atol)


def assert_untouched(table, start, untouched=UNTOUCHED):
    """Rows no batch used are bit for bit what they were."""
    assert np.array_equal(table[untouched], start[untouched])


# ------------------------------------------------------ the references
@pytest.mark.host_only
def test_data_tells_lazy_from_dense():
    """Some row sits out a step after being used: lazy and dense Adam differ there."""
    x, _ = data()
    used = [set(np.unique(x[i : i + BATCH])) for i in range(0, len(x), BATCH)]
    assert any(used[i] - used[i + 1] for i in range(STEPS - 1))
    assert all(len(np.unique(x[i])) < SEQ for i in range(len(x)))
    assert not set(UNTOUCHED) & set(np.unique(x))


def _keras_optimizer_table(optimizer, grads):
    """A `[ROWS, DIM]` variable after Keras' optimizer applied `grads`."""
    variable = keras.Variable(TABLE)
    for grad in grads:
        optimizer.apply([keras.ops.convert_to_tensor(grad)], [variable])
    return keras.ops.convert_to_numpy(variable)


KERAS_TWINS = {
    "sgd": (
        lambda lr: keras.optimizers.SGD(lr),
        lambda lr: reference.SGD(lr),
    ),
    "adagrad": (
        lambda lr: keras.optimizers.Adagrad(lr, 0.1, 1e-7),
        lambda lr: reference.Adagrad(lr, 0.1, 1e-7),
    ),
    "adam": (
        lambda lr: keras.optimizers.Adam(lr, 0.9, 0.999, 1e-7),
        lambda lr: reference.LazyAdam(lr, 0.9, 0.999, 1e-7),
    ),
    "adamw": (
        lambda lr: keras.optimizers.AdamW(lr, 0.5, 0.9, 0.999, 1e-7),
        lambda lr: reference.LazyAdam(lr, 0.9, 0.999, 1e-7, weight_decay=0.5),
    ),
}


@pytest.mark.host_only
@pytest.mark.parametrize("name", list(KERAS_TWINS))
@pytest.mark.parametrize("schedule", [False, True])
def test_reference_equals_keras_when_every_row_is_used(name, schedule):
    """Gradients on every row: the lazy references are Keras' dense optimizers."""
    lr = 0.05
    if schedule:
        lr = keras.optimizers.schedules.ExponentialDecay(0.05, 1, 0.5)
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal((ROWS, DIM)).astype("float32") for _ in range(4)]
    make_keras, make_reference = KERAS_TWINS[name]
    expected = _keras_optimizer_table(make_keras(lr), grads)
    optimizer, table = make_reference(lr), TABLE
    for grad in grads:
        table = optimizer.step(table, np.arange(ROWS), grad)
    assert_close(table, expected, atol=1e-6)


@pytest.mark.host_only
def test_lazy_adam_differs_from_adam_on_rows_a_step_skips():
    rng = np.random.default_rng(2)
    grads = [rng.standard_normal((ROWS, DIM)) for _ in range(3)]
    ids = [np.arange(ROWS), np.arange(ROWS // 2), np.arange(ROWS)]
    lazy, dense = reference.LazyAdam(0.05), reference.LazyAdam(0.05)
    lazy_table = dense_table = TABLE
    for step_ids, grad in zip(ids, grads):
        grad = grad.copy()
        grad[np.setdiff1d(np.arange(ROWS), step_ids)] = 0.0
        lazy_table = lazy.step(lazy_table, step_ids, grad)
        dense_table = dense.step(dense_table, np.arange(ROWS), grad)
    # Same rows where every step used them, not where step 2 skipped them.
    assert_close(lazy_table[: ROWS // 2], dense_table[: ROWS // 2])
    assert np.abs(lazy_table[ROWS // 2 :] - dense_table[ROWS // 2 :]).min() > 1e-3


@pytest.mark.skipif(BACKEND != "torch", reason="runs once, where torch is loaded")
def test_lazy_adam_reference_equals_torch_sparse_adam():
    """PyTorch's `SparseAdam` on sparse gradients with repeated, skipped rows."""
    import torch

    rng = np.random.default_rng(4)
    parameter = torch.nn.Parameter(torch.tensor(TABLE, dtype=torch.float64))
    sparse_adam = torch.optim.SparseAdam([parameter], lr=0.05, eps=1e-7)
    lazy, table = reference.LazyAdam(0.05, 0.9, 0.999, 1e-7), TABLE
    for step in range(5):
        ids = rng.integers(0, ROWS // 2 + 2 * step, 12)
        values = rng.standard_normal((len(ids), DIM))
        parameter.grad = torch.sparse_coo_tensor(
            torch.tensor(ids[None]),
            torch.tensor(values),
            (ROWS, DIM),
            check_invariants=True,
        )
        sparse_adam.step()
        grad = np.zeros((ROWS, DIM))
        np.add.at(grad, ids, values)
        table = lazy.step(table, ids, grad)
    expected = parameter.detach().numpy()
    assert_close(table, expected, atol=1e-12)
    assert np.array_equal(table[ROWS - 4 :], TABLE[ROWS - 4 :])


@pytest.mark.host_only
def test_numpy_model_equals_keras_with_sgd():
    """The NumPy forward/backward of the pooled model is Keras' (stock, SGD)."""
    x, y = data()
    expected, head = stock_table(keras.optimizers.SGD(0.5), x, y)
    model = reference.PooledRegression(TABLE, KERNEL, BIAS, reference.SGD(0.5), 0.5)
    assert_close(model.fit(x, y, BATCH), expected)
    assert_close(model.kernel, head[0])
    assert np.abs(expected - TABLE).max() > 1e-2


# ------------------------------------------------------------------ SGD
@pytest.mark.parametrize("jit", JIT)
def test_sgd_equals_stock_embedding(jit):
    """(a) Row-wise SGD in plain `fit` is dense SGD, repeated ids included."""
    x, y = data()
    layer = row_sparse(row_optimizers().SGD(0.5))
    model = pooled_model(layer, keras.optimizers.SGD(0.5), jit)
    fit(model, x, y)
    expected, head = stock_table(keras.optimizers.SGD(0.5), x, y, jit)
    assert np.abs(expected - TABLE).max() > 1e-2
    assert_close(layer.embeddings, expected)
    assert_untouched(layer.embeddings, TABLE)
    for got, want in zip(model.get_layer("head").get_weights(), head):
        assert_close(got, want)


# --------------------------------------------- Adagrad and lazy Adam(W)
ROW_CASES = {
    "adagrad": (
        lambda o, lr: o.Adagrad(lr, initial_accumulator_value=0.1, epsilon=1e-7),
        lambda lr: reference.Adagrad(lr, 0.1, 1e-7),
    ),
    "lazy_adam": (
        lambda o, lr: o.LazyAdam(lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
        lambda lr: reference.LazyAdam(lr, 0.9, 0.999, 1e-7),
    ),
    "lazy_adamw": (
        lambda o, lr: o.LazyAdam(
            lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.5
        ),
        lambda lr: reference.LazyAdam(lr, 0.9, 0.999, 1e-7, weight_decay=0.5),
    ),
}
# Once with Keras' default `jit_compile` ("auto"), else `jit_compile=False`
# (for models this small, faster than compiling).
CASES = [(name, "auto" if i == 1 else False) for i, name in enumerate(ROW_CASES)]


def _against_reference(name, lr, jit=False):
    make, make_reference = ROW_CASES[name]
    x, y = data()
    layer = row_sparse(make(row_optimizers(), lr))
    fit(pooled_model(layer, keras.optimizers.SGD(0.1), jit), x, y)
    expected = reference.PooledRegression(
        TABLE, KERNEL, BIAS, make_reference(lr), 0.1
    ).fit(x, y, BATCH)
    assert np.abs(expected - TABLE).max() > 1e-2
    assert_close(layer.embeddings, expected, atol=1e-5)
    assert_untouched(layer.embeddings, TABLE)


@pytest.mark.parametrize("name, jit", CASES, ids=[f"{n}-jit{j}" for n, j in CASES])
def test_row_optimizer_equals_numpy_reference(name, jit):
    """(b) The table after `STEPS` steps is the NumPy reference's.

    With weight decay, rows no batch used keep their values: dense AdamW
    would shrink them at every step.
    """
    _against_reference(name, 0.05, jit)


@pytest.mark.skipif(BACKEND != "torch", reason="TensorFlow and JAX compile above")
def test_torch_compile_equals_numpy_reference():
    """`jit_compile=True` on PyTorch (`torch.compile`): lazy Adam as above."""
    _against_reference("lazy_adam", 0.05, jit=True)


def test_learning_rate_schedule():
    """(c) A `LearningRateSchedule` sets each step's rate, as in Keras."""
    _against_reference(
        "lazy_adam", keras.optimizers.schedules.ExponentialDecay(0.05, 1, 0.5)
    )


def test_sgd_learning_rate_schedule_equals_stock():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.5, 1, 0.5)
    x, y = data()
    layer = row_sparse(row_optimizers().SGD(schedule))
    fit(pooled_model(layer, keras.optimizers.SGD(schedule)), x, y)
    expected, _ = stock_table(keras.optimizers.SGD(schedule), x, y)
    assert_close(layer.embeddings, expected)
    constant, _ = stock_table(keras.optimizers.SGD(0.5), x, y)
    assert np.abs(constant - expected).max() > 1e-3


# ------------------------------------------- frozen and scheduled rows
EXTRA = ["zorbling", "quux", "blorft", "snarf"]
TOY_KERNEL = (_RNG.standard_normal((5, 1)) * 0.5).astype("float32")


@pytest.fixture(scope="module")
def toy(toy_wv):
    """gensim's toy vectors and a vocabulary with words they lack."""
    wv = toy_wv
    vocab = keras_embedx.Vocabulary(wv.words[:12] + EXTRA)
    words = vocab.get_vocabulary()
    pretrained = np.array([w in wv for w in words])
    assert pretrained.sum() == 12 and len(words) == 18
    return wv, vocab, pretrained


def _toy_data(vocab, steps=STEPS):
    rng = np.random.default_rng(3)
    x = rng.integers(1, len(vocab), (steps * BATCH, SEQ)).astype("int32")
    y = rng.standard_normal((steps * BATCH, 1)).astype("float32")
    return x, y


def test_pretrained_rows_stay_bit_identical(toy):
    """(d) `freeze="pretrained"`: the file's rows never move, decay included."""
    wv, vocab, pretrained = toy
    optimizer = row_optimizers().LazyAdam(0.05, weight_decay=0.5)
    layer = PretrainedEmbedding.from_vectors(
        wv, vocab, freeze="pretrained", mask_zero=False, row_optimizer=optimizer
    )
    start = layer.embeddings
    x, y = _toy_data(vocab)
    fit(pooled_model(layer, keras.optimizers.SGD(0.1), kernel=TOY_KERNEL), x, y)
    table = layer.embeddings
    words = vocab.get_vocabulary()
    file_rows = np.stack([wv[words[i]] for i in np.flatnonzero(pretrained)])
    assert np.array_equal(table[pretrained], file_rows)
    learned = ~pretrained
    learned[0] = False  # padding: no batch uses id 0
    assert np.all(np.any(table[learned] != start[learned], axis=1))


def test_unfreeze_factor_scales_the_thawed_rows(toy):
    """(d) One SGD step at factor f moves thawed rows by f * lr * gradient."""
    wv, vocab, pretrained = toy
    layer = PretrainedEmbedding.from_vectors(
        wv,
        vocab,
        freeze="pretrained",
        schedulable=True,
        mask_zero=False,
        row_optimizer=row_optimizers().SGD(0.5),
    )
    start = layer.embeddings
    x, y = _toy_data(vocab, steps=1)
    model = pooled_model(layer, keras.optimizers.SGD(0.5), kernel=TOY_KERNEL)
    fit(model, x, y, callbacks=[UnfreezeSchedule({0: 0.25})])
    moved = layer.embeddings - start

    # The full step: stock Embedding, every row trainable, same weights.
    stock = keras.layers.Embedding(len(vocab), wv.dim)
    reference_model = pooled_model(stock, keras.optimizers.SGD(0.5), kernel=TOY_KERNEL)
    stock.set_weights([start])
    fit(reference_model, x, y)
    full = stock.get_weights()[0] - start
    used = np.zeros(len(vocab), bool)
    used[np.unique(x)] = True
    assert np.abs(full[pretrained & used]).max(axis=1).min() > 1e-4
    assert_close(moved[pretrained], 0.25 * full[pretrained], atol=1e-7)
    assert_close(moved[~pretrained], full[~pretrained], atol=1e-7)


# ---------------------------------------------------------- save, resume
def test_save_midway_and_resume(tmp_path):
    """(e) Saved mid-training, loaded, trained on: the uninterrupted table."""
    x, y = data(steps=2 * STEPS)
    half = STEPS * BATCH

    def build():
        layer = row_sparse(
            row_optimizers().LazyAdam(0.05, weight_decay=0.1), name="words"
        )
        return pooled_model(layer, keras.optimizers.Adam(0.05)), layer

    model, layer = build()
    fit(model, x, y)
    straight = layer.embeddings

    model, layer = build()
    fit(model, x[:half], y[:half])
    config = layer.get_config()
    assert json.loads(json.dumps(config)) == config
    path = str(tmp_path / "midway.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert np.array_equal(loaded.get_layer("words").embeddings, layer.embeddings)
    fit(loaded, x[half:], y[half:])
    assert_close(loaded.get_layer("words").embeddings, straight, atol=1e-6)
    assert_untouched(loaded.get_layer("words").embeddings, TABLE)


# ------------------------------------------------------ the other layers
def _subword(row_optimizer):
    from gensim.test.utils import datapath

    layer = SubwordEmbedding.from_fasttext(
        datapath("toy-model.bin"), freeze="none", row_optimizer=row_optimizer
    )
    sentences = [
        ["night", "anarchist", "society"],
        ["the", "blorft", "term"],
        ["nightly", "anarchism", "property"],
        ["zorbling", "the", "night"],
    ]
    return layer, layer.encode(sentences)


def _char(row_optimizer):
    layer = CharEmbedding(
        6,
        char_dim=4,
        filters=[[1, 3], [2, 4]],
        max_chars=12,
        row_optimizer=row_optimizer,
    )
    sentences = [["a", "hello"], ["x", "night"], ["hello", "a"], ["term", "hi"]]
    return layer, layer.encode(sentences)


def _token_and_position(row_optimizer):
    layer = TokenAndPosition(2 * ROWS, SEQ, DIM, row_optimizer=row_optimizer)
    return layer, data(steps=1)[0]


OTHER_LAYERS = {
    "subword": _subword,
    "char": _char,
    "token_and_position": _token_and_position,
}


def _other_model(kind, row_optimizer, optimizer):
    layer, x = OTHER_LAYERS[kind](row_optimizer)
    model = pooled_model(layer, optimizer, "auto", seq=x.shape[1:], kernel=None)
    return model, layer, x


@pytest.mark.parametrize("kind", list(OTHER_LAYERS))
def test_other_layers_train_row_sparsely(kind):
    """(f) The row optimizer's SGD step is the dense one; unused rows never move.

    The row optimizer's learning rate (0.5) is five times the model
    optimizer's (0.1), so the table matches the dense twin trained at 0.5
    only if the row optimizer, not the model's, updated it; the rest of the
    layer and the head move by a fifth of the twin's step.
    """
    model, layer, x = _other_model(
        kind, row_optimizers().SGD(0.5), keras.optimizers.SGD(0.1)
    )
    dense, twin, _ = _other_model(kind, None, keras.optimizers.SGD(0.5))
    twin.set_weights(layer.get_weights())
    dense.get_layer("head").set_weights(model.get_layer("head").get_weights())
    start = layer.get_weights()
    y = np.linspace(-1.0, 1.0, len(x), dtype="float32")[:, None]
    fit(model, x, y)
    fit(dense, x, y)
    got, expected = layer.get_weights(), twin.get_weights()
    assert np.abs(expected[0] - start[0]).max() > 1e-3
    assert_close(got[0], expected[0])
    for g, e, s0 in zip(got[1:], expected[1:], start[1:]):
        assert_close(g - s0, 0.2 * (e - s0), atol=1e-7)
    untouched = np.setdiff1d(np.arange(len(start[0])), np.unique(x))
    assert len(untouched) > 10
    assert_untouched(got[0], start[0], untouched)


# --------------------------------------------------------- no optimizer
def test_no_row_optimizer_keeps_dense_training():
    """(g) `row_optimizer=None`: the model's optimizer updates the whole table."""
    x, y = data()
    layer = row_sparse(None)
    fit(pooled_model(layer, keras.optimizers.AdamW(0.05, weight_decay=0.5)), x, y)
    expected, _ = stock_table(keras.optimizers.AdamW(0.05, weight_decay=0.5), x, y)
    assert_close(layer.embeddings, expected)
    # Dense AdamW shrinks the rows no batch used too.
    assert np.all(layer.embeddings[UNTOUCHED] != TABLE[UNTOUCHED])
    default = PretrainedEmbedding(ROWS, DIM, name="words")
    explicit = PretrainedEmbedding(ROWS, DIM, name="words", row_optimizer=None)
    assert default.get_config() == explicit.get_config()


def test_keras_optimizer_is_refused():
    """A Keras optimizer is not a row optimizer: a clear error, not a silent one."""
    with pytest.raises((TypeError, ValueError), match="keras_embedx.optimizers"):
        row_sparse(keras.optimizers.Adam(0.01))
