"""UnfreezeSchedule: frozen rows learn on schedule during `fit`, on every backend."""

import json
import os

import keras
import numpy as np
import pytest

import keras_embedx
from keras_embedx.callbacks.unfreeze import UnfreezeSchedule
from keras_embedx.layers import PretrainedEmbedding
from tests._crossbackend import other_backend, run_in_backend

BACKEND = keras.config.backend()
# Words the toy vectors do not have: their rows (and the OOV row) train.
EXTRA = ["zorbling", "quux", "blorft", "snarf"]
SEQ = 6
OPTIMIZERS = {
    "adam": lambda: keras.optimizers.Adam(0.05),
    "adamw": lambda: keras.optimizers.AdamW(0.05, weight_decay=0.5),
    "sgd_momentum": lambda: keras.optimizers.SGD(0.1, momentum=0.9),
    "rmsprop": lambda: keras.optimizers.RMSprop(0.05),
}


class TraceCounter(keras.layers.Layer):
    """Identity; counts how often its Python `call` runs (once per trace)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.count = 0

    def call(self, x):
        self.count += 1
        return x


def build(wv, optimizer=None, jit=False, schedulable=True, seed=7, counter=True):
    keras.utils.set_random_seed(seed)
    vocab = keras_embedx.Vocabulary(wv.words + EXTRA)
    emb = PretrainedEmbedding.from_vectors(
        wv, vocab, freeze="pretrained", schedulable=schedulable, seed=seed, name="words"
    )
    inputs = keras.Input((SEQ,), dtype="int32")
    x = keras.layers.GlobalAveragePooling1D()(emb(inputs))
    if counter:
        x = TraceCounter(name="counter")(x)
    outputs = keras.layers.Dense(1, name="head")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=optimizer or keras.optimizers.SGD(0.1), loss="mse", jit_compile=jit
    )
    return model, emb, vocab


def data(vocab, n=16):
    rng = np.random.default_rng(0)
    x = rng.integers(1, len(vocab), (n, SEQ)).astype("int32")
    y = rng.normal(size=(n, 1)).astype("float32")
    return x, y


class Snapshots(keras.callbacks.Callback):
    """The effective table (and the trace count) at the end of every epoch."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer
        self.tables = []
        self.traces = []

    def on_epoch_end(self, epoch, logs=None):
        self.tables.append(self.layer.embeddings)
        counters = [la for la in self.model.layers if isinstance(la, TraceCounter)]
        self.traces.append(counters[0].count if counters else None)


def test_public_path():
    assert keras_embedx.callbacks.UnfreezeSchedule is UnfreezeSchedule


# --------------------------------------------------------------- behaviour
# Every optimizer once, jit_compile on and off in turn (on torch, jit_compile
# means torch.compile, which takes minutes: see test_torch_compile).
CASES = [(opt, i % 2 == 0 and BACKEND != "torch") for i, opt in enumerate(OPTIMIZERS)]


@pytest.mark.parametrize("opt, jit", CASES, ids=[f"{o}-jit{j}" for o, j in CASES])
def test_frozen_rows_bit_identical_until_unfrozen(toy_wv, toy_kv, opt, jit):
    model, emb, vocab = build(toy_wv, OPTIMIZERS[opt](), jit=jit)
    x, y = data(vocab)
    start = emb.embeddings
    frozen = emb.table.frozen_mask()
    words = vocab.get_vocabulary()
    pretrained = [i for i, w in enumerate(words) if w in toy_kv.key_to_index]
    assert frozen[pretrained].all() and not frozen[vocab.token_to_id("quux")]
    snaps = Snapshots(emb)
    history = model.fit(
        x,
        y,
        batch_size=4,
        epochs=4,
        shuffle=False,
        verbose=0,
        callbacks=[UnfreezeSchedule.step(2), snaps],
    )
    assert history.history["unfreeze_factor"] == [0.0, 0.0, 1.0, 1.0]
    # Epochs 0-1: the pretrained rows are gensim's vectors, bit for bit,
    # while the other rows learn.
    for table in snaps.tables[:2]:
        assert np.array_equal(
            table[pretrained],
            toy_kv.vectors[[toy_kv.key_to_index[words[i]] for i in pretrained]],
        )
        assert np.array_equal(table[frozen], start[frozen])
    assert not np.array_equal(snaps.tables[0][~frozen], start[~frozen])
    # Epochs 2-3, same `fit`: every frozen row the data uses has moved.
    used = np.zeros(len(words), dtype=bool)
    used[np.unique(x)] = True
    moved = np.any(snaps.tables[3] != start, axis=1)
    assert moved[frozen & used].all()
    if jit or BACKEND == "tensorflow":
        # The change needed no new trace of the train step.
        assert snaps.traces[0] == snaps.traces[-1]


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_factor_scales_the_update(toy_wv, opt):
    """One step at factor f moves frozen rows by f x the step of keras' Embedding."""
    make = {
        "sgd": lambda: keras.optimizers.SGD(0.5),
        "adam": lambda: keras.optimizers.Adam(0.01),
    }[opt]
    model, emb, vocab = build(toy_wv, make())
    x, y = data(vocab, n=4)
    start = emb.embeddings
    frozen = emb.table.frozen_mask()
    head = model.get_layer("head").get_weights()

    # Reference: keras' own Embedding, every row trainable, same weights.
    keras.utils.set_random_seed(7)
    ref_emb = keras.layers.Embedding(len(vocab), toy_wv.dim, mask_zero=True)
    inputs = keras.Input((SEQ,), dtype="int32")
    ref_head = keras.layers.Dense(1)
    ref = keras.Model(
        inputs, ref_head(keras.layers.GlobalAveragePooling1D()(ref_emb(inputs)))
    )
    ref_emb.set_weights([start])
    ref_head.set_weights(head)
    ref.compile(optimizer=make(), loss="mse")
    ref.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    full = ref_emb.get_weights()[0] - start
    assert np.abs(full[frozen]).max() > 1e-4

    model.fit(
        x,
        y,
        batch_size=4,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[UnfreezeSchedule({0: 0.5})],
    )
    moved = emb.embeddings - start
    np.testing.assert_allclose(moved[frozen], 0.5 * full[frozen], rtol=1e-5, atol=1e-7)
    # Trainable rows take the full step.
    np.testing.assert_allclose(moved[~frozen], full[~frozen], rtol=1e-5, atol=1e-7)


def test_step_schedule_takes_effect_mid_epoch(toy_wv):
    jit = BACKEND != "torch"
    model, emb, vocab = build(toy_wv, keras.optimizers.Adam(0.05), jit=jit)
    x, y = data(vocab)
    start = emb.embeddings
    frozen = emb.table.frozen_mask()
    # Four steps per epoch: frozen for steps 0-2, unfrozen for step 3 only.
    schedule = UnfreezeSchedule({0: 0.0, 3: 1.0}, per="step")
    model.fit(
        x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[schedule]
    )
    assert emb.table.factor == 1.0
    assert not np.array_equal(emb.embeddings[frozen], start[frozen])


def test_refreezing_keeps_what_was_learned(toy_wv):
    """Factor changes never make the table jump; back at 0 it is frozen again."""
    model, emb, vocab = build(toy_wv, keras.optimizers.SGD(0.1, momentum=0.9))
    x, y = data(vocab)
    start = emb.embeddings
    frozen = emb.table.frozen_mask()
    snaps = Snapshots(emb)
    model.fit(
        x,
        y,
        batch_size=4,
        epochs=4,
        shuffle=False,
        verbose=0,
        callbacks=[UnfreezeSchedule({0: 0.5, 1: 1.0, 2: 0.0}), snaps],
    )
    t0, t1, t2, t3 = snaps.tables
    assert not np.array_equal(t0[frozen], start[frozen])
    assert not np.array_equal(t1[frozen], t0[frozen])
    # Epochs 2-3 at factor 0: momentum still moves the trainable delta, yet
    # the frozen rows hold the values they had when the factor went to 0.
    assert np.array_equal(t3[frozen], t2[frozen])
    # Setting the factor by hand leaves the values (to float rounding).
    before = emb.embeddings
    for f in (0.3, 1.0, 0.0):
        emb.table.set_factor(f)
        np.testing.assert_allclose(emb.embeddings, before, rtol=0, atol=1e-6)
    out = keras.ops.convert_to_numpy(emb(np.arange(len(vocab))[None]))[0]
    np.testing.assert_allclose(out, before, rtol=0, atol=1e-6)


def test_history_and_tensorboard(toy_wv, tmp_path):
    pytest.importorskip("tensorflow")  # keras.callbacks.TensorBoard writes with it
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util

    model, emb, vocab = build(toy_wv)
    x, y = data(vocab)
    log_dir = str(tmp_path / "logs")
    history = model.fit(
        x,
        y,
        batch_size=4,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[
            UnfreezeSchedule({1: 0.25, 2: 1.0}),
            keras.callbacks.TensorBoard(log_dir),
        ],
    )
    assert history.history["unfreeze_factor"] == [0.0, 0.25, 1.0]
    acc = event_accumulator.EventAccumulator(
        os.path.join(log_dir, "train"), size_guidance={"tensors": 0}
    )
    acc.Reload()
    assert "epoch_unfreeze_factor" in acc.Tags()["tensors"]
    events = acc.Tensors("epoch_unfreeze_factor")
    assert [e.step for e in events] == [0, 1, 2]
    values = [float(tensor_util.make_ndarray(e.tensor_proto)) for e in events]
    assert values == [0.0, 0.25, 1.0]


@pytest.mark.slow
def test_save_midway_and_resume(toy_wv, tmp_path):
    """A model saved mid-fit keeps its factor; `initial_epoch` resumes on schedule."""
    schedule = lambda: UnfreezeSchedule.linear(0, 2)  # noqa: E731 - 0, .5, 1, 1
    model, emb, vocab = build(toy_wv, counter=False)
    x, y = data(vocab)
    history = model.fit(
        x,
        y,
        batch_size=4,
        epochs=4,
        shuffle=False,
        verbose=0,
        callbacks=[schedule()],
    )
    assert history.history["unfreeze_factor"] == [0.0, 0.5, 1.0, 1.0]
    straight = emb.embeddings

    path = str(tmp_path / "mid.keras")
    model, emb, _ = build(toy_wv, counter=False)
    model.fit(
        x,
        y,
        batch_size=4,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[schedule(), keras.callbacks.ModelCheckpoint(path)],
    )
    saved = emb.embeddings
    loaded = keras.models.load_model(path)
    table = loaded.get_layer("words").table
    assert table.factor == 0.5
    assert np.array_equal(loaded.get_layer("words").embeddings, saved)
    config = loaded.get_layer("words").get_config()
    assert json.loads(json.dumps(config)) == config
    assert "0.5" not in json.dumps(config)

    history = loaded.fit(
        x,
        y,
        batch_size=4,
        epochs=4,
        initial_epoch=2,
        shuffle=False,
        verbose=0,
        callbacks=[schedule()],
    )
    assert history.history["unfreeze_factor"] == [1.0, 1.0]
    np.testing.assert_allclose(
        loaded.get_layer("words").embeddings, straight, rtol=1e-5, atol=1e-6
    )


@pytest.mark.slow
def test_saved_factor_loads_on_another_backend(toy_wv, tmp_path):
    model, emb, vocab = build(toy_wv, counter=False)
    table = emb.table
    table.set_factor(1.0)
    shape = tuple(table.frozen_live.shape)
    table.frozen_live.assign(np.full(shape, 0.25, "float32"))  # as if learned
    table.set_factor(0.5)  # the values stay; the live rows are rescaled
    path = str(tmp_path / "m.keras")
    model.save(path)
    np.save(path + ".npy", emb.embeddings)
    out = run_in_backend(
        other_backend(BACKEND),
        f"""
        import keras, numpy as np, keras_embedx
        layer = keras.models.load_model({path!r}).get_layer("words")
        assert np.array_equal(layer.embeddings, np.load({path!r} + ".npy"))
        print(layer.table.factor)
        """,
    )
    assert out.split()[-1] == "0.5"


# --------------------------------------------------------------- selection
def two_table_model(wv, schedulable=True):
    vocab = keras_embedx.Vocabulary(wv.words + EXTRA)
    a = PretrainedEmbedding.from_vectors(wv, vocab, schedulable=True, name="a")
    b = PretrainedEmbedding.from_vectors(wv, vocab, schedulable=schedulable, name="b")
    inner_in = keras.Input((SEQ,), dtype="int32")
    inner = keras.Model(inner_in, b(inner_in), name="inner")
    inputs = keras.Input((SEQ,), dtype="int32")
    merged = keras.layers.Add(name="add")([a(inputs), inner(inputs)])
    out = keras.layers.Dense(1, name="head")(
        keras.layers.GlobalAveragePooling1D()(merged)
    )
    return keras.Model(inputs, out), a, b


def start_epoch(callback, model, epoch=1, epochs=3):
    callback.set_model(model)
    callback.set_params({"epochs": epochs, "steps": 2, "verbose": 0})
    callback.on_train_begin()
    callback.on_epoch_begin(epoch)


def test_selects_every_table_including_nested_models(toy_wv):
    model, a, b = two_table_model(toy_wv)
    start_epoch(UnfreezeSchedule({1: 0.5}), model)
    assert (a.table.factor, b.table.factor) == (0.5, 0.5)


def test_covers_every_table_layer(toy_wv):
    """Char, subword and TokenAndPosition tables, and a nested pretrained table."""
    from keras_embedx.layers import CharEmbedding, SubwordEmbedding, TokenAndPosition

    vocab = keras_embedx.Vocabulary(toy_wv.words)
    chars = CharEmbedding(8, freeze="all", schedulable=True, name="chars")
    subwords = SubwordEmbedding(50, 5, freeze="all", schedulable=True, name="subs")
    own = TokenAndPosition(30, SEQ, 5, freeze="all", schedulable=True, name="own")
    inner = PretrainedEmbedding.from_vectors(
        toy_wv, vocab, schedulable=True, name="inner"
    )
    nested = TokenAndPosition(None, SEQ, None, token_embedding=inner, name="nested")
    words = keras.Input((SEQ,), dtype="int32")
    spelled = keras.Input((SEQ, 12), dtype="int32")
    bags = keras.Input((SEQ, 8), dtype="int32")
    parts = [chars(spelled), subwords(bags), own(words), nested(words)]
    model = keras.Model([words, spelled, bags], keras.layers.Concatenate()(parts))
    start_epoch(UnfreezeSchedule({1: 0.5}), model)
    tables = [chars.table, subwords.table, own.token_embedding, inner.table]
    assert [t.factor for t in tables] == [0.5, 0.5, 0.5, 0.5]
    start_epoch(UnfreezeSchedule({1: 1.0}, layers=["inner"]), model)
    assert [t.factor for t in tables] == [0.5, 0.5, 0.5, 1.0]


@pytest.mark.parametrize("pick", ["name", "object", "nested model"])
def test_selects_named_layers(toy_wv, pick):
    model, a, b = two_table_model(toy_wv)
    layers = {"name": "b", "object": [b], "nested model": "inner"}[pick]
    start_epoch(UnfreezeSchedule({1: 0.5}, layers=layers), model)
    assert (a.table.factor, b.table.factor) == (0.0, 0.5)


def test_bad_layer_selection(toy_wv):
    model, a, b = two_table_model(toy_wv)
    with pytest.raises(ValueError, match=r"No layer named 'c'.*\['a', 'b'\]"):
        start_epoch(UnfreezeSchedule({0: 1.0}, layers="c"), model)
    with pytest.raises(ValueError, match=r"'head' \(Dense\) has no keras_embedx"):
        start_epoch(UnfreezeSchedule({0: 1.0}, layers="head"), model)
    with pytest.raises(ValueError, match="has no keras_embedx embedding table"):
        start_epoch(UnfreezeSchedule({0: 1.0}, layers=model.get_layer("add")), model)
    stranger = PretrainedEmbedding.from_vectors(toy_wv, schedulable=True, name="z")
    with pytest.raises(ValueError, match="'z' is not part of model"):
        start_epoch(UnfreezeSchedule({0: 1.0}, layers=stranger), model)
    with pytest.raises(TypeError, match="layer names"):
        UnfreezeSchedule({0: 1.0}, layers=[3])
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="found no keras_embedx table"):
        start_epoch(UnfreezeSchedule({0: 1.0}), plain)
    trainable = PretrainedEmbedding.from_vectors(toy_wv, freeze="none", name="t")
    model_t = keras.Sequential([keras.Input((SEQ,), dtype="int32"), trainable])
    with pytest.raises(ValueError, match="'t' has no frozen rows"):
        start_epoch(UnfreezeSchedule({0: 1.0}, layers="t"), model_t)


def test_unschedulable_table_fails_before_training(toy_wv):
    model, a, b = two_table_model(toy_wv, schedulable=False)
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((4, SEQ), "int32")
    y = np.zeros((4, 1), "float32")
    weights = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"\['b/table'\].*schedulable=True"):
        model.fit(x, y, epochs=3, verbose=0, callbacks=[UnfreezeSchedule.step(1)])
    for w0, w1 in zip(weights, model.get_weights()):
        assert np.array_equal(w0, w1)
    # A schedule that never unfreezes is fine; so is selecting `a` alone.
    start_epoch(UnfreezeSchedule({0: 0.0}), model)
    start_epoch(UnfreezeSchedule({1: 1.0}, layers="a"), model)
    assert a.table.factor == 1.0


# ------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    "schedule, error, match",
    [
        ({0: 1.5}, ValueError, r"in \[0, 1\].*1\.5 for epoch 0"),
        ({0: -0.1}, ValueError, r"in \[0, 1\]"),
        ({0: float("nan")}, ValueError, r"in \[0, 1\]"),
        ({0: "1"}, ValueError, r"in \[0, 1\]"),
        ({1.5: 1.0}, ValueError, "non-negative int epoch.*1.5"),
        ({-1: 1.0}, ValueError, "non-negative int epoch"),
        ({True: 1.0}, ValueError, "non-negative int epoch"),
        ({"2": 1.0}, ValueError, "non-negative int epoch"),
        ({}, ValueError, "empty dict"),
        (0.5, TypeError, "dict .* or a callable"),
    ],
)
def test_bad_schedules(schedule, error, match):
    with pytest.raises(error, match=match):
        UnfreezeSchedule(schedule)


def test_bad_arguments():
    with pytest.raises(ValueError, match="`per` must be one of"):
        UnfreezeSchedule({0: 1.0}, per="batch")
    with pytest.raises(ValueError, match="greater than `start_epoch`"):
        UnfreezeSchedule.linear(3, 3)
    with pytest.raises(ValueError, match="`at_epoch`"):
        UnfreezeSchedule.step(-1)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        UnfreezeSchedule.step(2, factor=2.0)
    with pytest.raises(TypeError, match="log_key"):
        UnfreezeSchedule({0: 1.0}, log_key=3)


def test_bad_callable_fails_before_training(toy_wv):
    model, a, b = two_table_model(toy_wv)
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((4, SEQ), "int32")
    y = np.zeros((4, 1), "float32")
    schedule = UnfreezeSchedule(lambda epoch: 0.5 * epoch)
    with pytest.raises(ValueError, match=r"in \[0, 1\].*1\.5 from the schedule .* 3"):
        model.fit(x, y, epochs=4, verbose=0, callbacks=[schedule])
    assert a.table.factor == 0.0


def test_shapes():
    assert UnfreezeSchedule.step(2).factors(4) == [0.0, 0.0, 1.0, 1.0]
    assert UnfreezeSchedule.step(0, factor=0.5).factors(2) == [0.5, 0.5]
    assert UnfreezeSchedule.linear(1, 5).factors(7) == [
        0.0,
        0.0,
        0.25,
        0.5,
        0.75,
        1.0,
        1.0,
    ]
    assert UnfreezeSchedule({2: 0.5, 4: 1.0}).factors(6) == [
        0.0,
        0.0,
        0.5,
        0.5,
        1.0,
        1.0,
    ]
    assert UnfreezeSchedule(lambda e: min(1.0, e / 4)).factor_at(2) == 0.5


@pytest.mark.slow
@pytest.mark.skipif(BACKEND != "torch", reason="torch.compile is torch's jit_compile")
def test_torch_compile(toy_wv):
    """`jit_compile=True` on torch (torch.compile): the factor is read, not baked in.

    `torch.compile` compiles the step once more the first time the factor
    leaves 0 (it specialises on the branch of `ops.cond`), and never again:
    not for another factor, nor back at 0.
    """
    from torch._dynamo.utils import counters

    model, emb, vocab = build(toy_wv, keras.optimizers.Adam(0.05), jit=True)
    x, y = data(vocab)
    start = emb.embeddings
    frozen = emb.table.frozen_mask()

    class Graphs(keras.callbacks.Callback):
        seen = []

        def on_epoch_end(self, epoch, logs=None):
            self.seen.append(counters["stats"]["unique_graphs"])

    snaps = Snapshots(emb)
    history = model.fit(
        x,
        y,
        batch_size=4,
        epochs=5,
        shuffle=False,
        verbose=0,
        callbacks=[UnfreezeSchedule({2: 0.5, 3: 1.0, 4: 0.0}), snaps, Graphs()],
    )
    assert history.history["unfreeze_factor"] == [0.0, 0.0, 0.5, 1.0, 0.0]
    assert np.array_equal(snaps.tables[1][frozen], start[frozen])
    assert not np.array_equal(snaps.tables[2][frozen], start[frozen])
    assert not np.array_equal(snaps.tables[3][frozen], snaps.tables[2][frozen])
    assert np.array_equal(snaps.tables[4][frozen], snaps.tables[3][frozen])
    assert not np.array_equal(snaps.tables[4][~frozen], snaps.tables[3][~frozen])
    # Compiled in the first epoch, at most once more when the factor left 0.
    assert Graphs.seen[0] == Graphs.seen[1] > 0
    assert Graphs.seen[2] == Graphs.seen[3] == Graphs.seen[4]
