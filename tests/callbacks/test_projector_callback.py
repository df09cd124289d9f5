"""`ProjectorCallback` after a real `fit`, served by a real TensorBoard.

On every backend a tiny model with a `PretrainedEmbedding` (gensim's toy
vectors) and a plain `keras.layers.Embedding` nested inside a custom layer is
trained with the callback; one TensorBoard per module then serves the log
directory. Under the TensorFlow backend `keras.callbacks.TensorBoard` writes
to the same directory and TensorBoard runs with TensorFlow; under JAX and
PyTorch it runs without TensorFlow.
"""

import os

import keras
import numpy as np
import pytest
from keras import ops

import keras_embedx
from keras_embedx.callbacks.projector import ProjectorCallback
from tests import _servers  # noqa: E402

TEXTS = ["the anarchist society is", "what property of anarchism", "zzz qqq the term"]
SEQ = 4


class Tower(keras.layers.Layer):
    """A custom layer hiding plain Embeddings: positions, and a frozen all-zero
    table (its bytes decode as UTF-8, so it must be exported as TSV)."""

    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.positions = keras.layers.Embedding(SEQ, dim, name="positions")
        self.zeros = keras.layers.Embedding(
            SEQ, dim, embeddings_initializer="zeros", trainable=False, name="zeros"
        )

    def call(self, x):
        steps = ops.arange(SEQ)
        return x + self.positions(steps) + self.zeros(steps)


def toy_vectors():
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    kv = KeyedVectors.load_word2vec_format(datapath("toy-model.vec"))
    return kv, keras_embedx.WordVectors(kv.index_to_key, kv.vectors)


def build_model(wv, vocab):
    words = keras_embedx.layers.PretrainedEmbedding.from_vectors(
        wv, vocab, name="words", seed=1
    )
    inputs = keras.Input((SEQ,), dtype="int32")
    x = Tower(wv.dim, name="tower")(words(inputs))
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    model.compile(keras.optimizers.Adam(0.05), "mse")
    return model, words


def data(vocab):
    x = np.asarray(vocab.encode(TEXTS, sequence_length=SEQ), dtype="int32")
    return x, np.arange(len(x), dtype="float32")[:, None]


class Snapshot(keras.callbacks.Callback):
    """Record each table at every epoch end (after ProjectorCallback ran)."""

    def __init__(self, words):
        super().__init__()
        self.words, self.tables = words, {}

    def on_epoch_end(self, epoch, logs=None):
        tower = self.model.get_layer("tower")
        e = epoch + 1
        self.tables[f"words/epoch_{e}"] = self.words.table.full_table()
        for layer in (tower.positions, tower.zeros):
            table = ops.convert_to_numpy(layer.embeddings)
            self.tables[f"tower/{layer.name}/epoch_{e}"] = table


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    log_dir = str(tmp_path_factory.mktemp("callback_logs"))
    kv, wv = toy_vectors()
    vocab = keras_embedx.Vocabulary.from_texts(TEXTS)
    model, words = build_model(wv, vocab)
    callback = ProjectorCallback(log_dir)
    snap = Snapshot(words)
    callbacks = [callback, snap]
    with_tb_callback = keras.config.backend() == "tensorflow"
    if with_tb_callback:
        callbacks.append(keras.callbacks.TensorBoard(log_dir))
    x, y = data(vocab)
    model.fit(x, y, epochs=2, batch_size=3, callbacks=callbacks, verbose=0)
    with _servers.TensorBoard(log_dir) as tb:
        yield {
            "tb": tb,
            "log_dir": log_dir,
            "kv": kv,
            "model": model,
            "words": words,
            "callback": callback,
            "snap": snap,
            "xy": (x, y),
            "with_tb_callback": with_tb_callback,
        }


@pytest.mark.server
@pytest.mark.slow  # the module fixture trains and starts TensorBoard
def test_every_table_of_every_epoch_is_listed(trained):
    tb = trained["tb"]
    names = {e.name for e in trained["callback"].exports}
    info = tb.wait_for_tensors(names)
    assert "." in tb.projector_json("runs")
    shapes = {e["tensorName"]: e["tensorShape"] for e in info["embeddings"]}
    n = len(trained["words"].get_vocabulary())
    assert shapes == {
        "words/epoch_1": [n, 5],
        "words/epoch_2": [n, 5],
        "tower/positions/epoch_1": [SEQ, 5],
        "tower/positions/epoch_2": [SEQ, 5],
        "tower/zeros/epoch_1": [SEQ, 5],
        "tower/zeros/epoch_2": [SEQ, 5],
    }
    formats = {e.name: e.tensor_format for e in trained["callback"].exports}
    # All-zero rows read as text, so TensorBoard needs TSV for them.
    assert formats["tower/zeros/epoch_2"] == "tsv"
    # Random tables go as raw float32, unless their bytes happen to start
    # with a line that decodes as UTF-8 (then TSV is right: a run of this
    # suite has seen it for one table). The served values are checked
    # whatever the format (test_served_tensors_are_the_tables_at_each_epoch).
    random_tables = ["words/epoch_1", "words/epoch_2"]
    random_tables += ["tower/positions/epoch_1", "tower/positions/epoch_2"]
    assert "binary" in {formats[name] for name in random_tables}, formats


@pytest.mark.server
@pytest.mark.slow  # the module fixture trains and starts TensorBoard
def test_served_tensors_are_the_tables_at_each_epoch(trained):
    tb = trained["tb"]
    for name, table in trained["snap"].tables.items():
        status, body = tb.projector("tensor", run=".", name=name)
        assert status == 200, (name, body[:200])
        assert body == table.astype("<f4").tobytes(), name
    # Training moved the trainable rows between the two epochs.
    t = trained["snap"].tables
    assert not np.array_equal(t["words/epoch_1"], t["words/epoch_2"])


@pytest.mark.server
@pytest.mark.slow  # the module fixture trains and starts TensorBoard
def test_pretrained_rows_are_gensims_vectors(trained):
    tb, kv = trained["tb"], trained["kv"]
    status, body = tb.projector("metadata", run=".", name="words/epoch_2")
    assert status == 200
    lines = body.decode("utf-8").split("\n")[:-1]
    assert lines[0] == "word\tsource"
    rows = [line.split("\t") for line in lines[1:]]
    vocabulary = trained["words"].get_vocabulary()
    assert [w for w, _ in rows] == ["<pad>"] + vocabulary[1:]
    assert [s for _, s in rows] == trained["words"].row_sources()
    _, tensor = tb.projector("tensor", run=".", name="words/epoch_2")
    table = np.frombuffer(tensor, "<f4").reshape(len(rows), 5)
    pretrained = [i for i, (_, s) in enumerate(rows) if s == "pretrained"]
    assert len(pretrained) >= 5
    for i in pretrained:
        np.testing.assert_array_equal(table[i], kv[rows[i][0]])


@pytest.mark.server
@pytest.mark.slow  # the module fixture trains and starts TensorBoard
def test_plain_embedding_is_labelled_by_id(trained):
    status, body = trained["tb"].projector(
        "metadata", run=".", name="tower/positions/epoch_2"
    )
    assert status == 200
    assert body.decode("utf-8").split("\n")[:-1] == ["0", "1", "2", "3"]


@pytest.mark.server
@pytest.mark.slow  # the module fixture trains and starts TensorBoard
def test_beside_the_tensorboard_callback(trained):
    if not trained["with_tb_callback"]:
        pytest.skip("keras.callbacks.TensorBoard needs TensorFlow; checked there")
    log_dir = trained["log_dir"]
    assert any(
        f.startswith("events") for f in os.listdir(os.path.join(log_dir, "train"))
    )
    runs = trained["tb"].projector_json("runs")
    assert "." in runs


@pytest.mark.server
@pytest.mark.slow  # the module fixture trains and starts TensorBoard
def test_second_fit_reaches_the_running_tensorboard(trained):
    tb, callback = trained["tb"], trained["callback"]
    x, y = trained["xy"]
    trained["model"].fit(x, y, epochs=1, callbacks=[callback], verbose=0)
    expected = trained["words"].table.full_table()
    want = "words/fit_2/epoch_1"
    tb.wait_for_tensors([want])
    status, body = tb.projector("tensor", run=".", name=want)
    assert status == 200 and body == expected.astype("<f4").tobytes()
    assert {e.name for e in callback.exports[-3:]} == {
        want,
        "tower/positions/fit_2/epoch_1",
        "tower/zeros/fit_2/epoch_1",
    }


@pytest.mark.server
@pytest.mark.slow  # trains and starts TensorBoard
def test_the_tutorial_layout_beside_the_tensorboard_callback(tmp_path):
    # `tensorboard --logdir logs` started first, then both callbacks write to
    # logs/fit/run1, as in the Keras TensorBoard tutorial.
    import json
    import time

    if keras.config.backend() != "tensorflow":
        pytest.skip("keras.callbacks.TensorBoard needs TensorFlow; checked there")
    logs = tmp_path / "logs"
    run1 = logs / "fit" / "run1"
    model, x, y = small_model()
    projector = ProjectorCallback(run1)
    with _servers.TensorBoard(logs, tensorflow=False) as tb:
        history = model.fit(
            x,
            y,
            epochs=2,
            verbose=0,
            callbacks=[projector, keras.callbacks.TensorBoard(run1)],
        )
        table = ops.convert_to_numpy(model.get_layer("emb").embeddings)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            runs = tb.projector_json("runs")
            if "fit/run1" in runs:
                break
            time.sleep(0.3)
        assert "fit/run1" in runs
        tb.wait_for_tensors(["emb/epoch_1", "emb/epoch_2"], run="fit/run1")
        status, body = tb.projector("tensor", run="fit/run1", name="emb/epoch_2")
        assert status == 200 and body == table.astype("<f4").tobytes()
        # The scalars of the same fit, in the runs that callback writes.
        url = "/data/plugin/scalars/scalars?run=fit/run1/train&tag=epoch_loss"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, body = tb.get(url)
            if status == 200 and len(json.loads(body)) == 2:
                break
            time.sleep(0.3)
        assert status == 200, body[:300]
        points = json.loads(body)
        assert [step for _, step, _ in points] == [0, 1]
        np.testing.assert_allclose(
            [value for _, _, value in points], history.history["loss"], rtol=1e-6
        )
        _, body = tb.get("/data/plugin/scalars/tags")
        assert "epoch_loss" in json.loads(body)["fit/run1/train"]
    events = sorted(f for f in os.listdir(run1) if "tfevents" in f)
    assert events == ["events.out.tfevents.0.keras_embedx"]


# -------------------------------------------------------- without a server
def small_model():
    model = keras.Sequential(
        [keras.Input((3,), dtype="int32"), keras.layers.Embedding(10, 2, name="emb")]
    )
    model.add(keras.layers.Dense(1))
    model.compile("sgd", "mse")
    return model, np.ones((4, 3), "int32"), np.zeros((4, 3, 1), "float32")


def test_every_n_epochs_and_a_last_export_at_the_end(tmp_path):
    model, x, y = small_model()
    callback = ProjectorCallback(tmp_path, every_n_epochs=2)
    model.fit(x, y, epochs=3, callbacks=[callback], verbose=0)
    assert [e.name for e in callback.exports] == ["emb/epoch_2", "emb/epoch_3"]


def test_layers_selects_tables(tmp_path):
    _, wv = toy_vectors()
    vocab = keras_embedx.Vocabulary.from_texts(TEXTS)
    model, _ = build_model(wv, vocab)
    x, y = data(vocab)
    callback = ProjectorCallback(tmp_path, layers=["positions"])
    model.fit(x, y, epochs=1, callbacks=[callback], verbose=0)
    assert [e.name for e in callback.exports] == ["tower/positions/epoch_1"]
    with pytest.raises(ValueError, match="No layer named 'nope'.*words"):
        model.fit(
            x, y, epochs=1, verbose=0, callbacks=[ProjectorCallback(tmp_path, "nope")]
        )


def test_model_without_tables_is_an_error(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="found no embedding table"):
        model.fit(
            np.ones((2, 3)),
            np.ones((2, 1)),
            callbacks=[ProjectorCallback(tmp_path)],
            verbose=0,
        )


def test_bad_arguments(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(NotADirectoryError, match="must be a directory"):
        ProjectorCallback(path)
    with pytest.raises(ValueError, match="`every_n_epochs` must be a positive int"):
        ProjectorCallback(tmp_path, every_n_epochs=0)
    with pytest.raises(ValueError, match="`max_rows` must be a positive int"):
        ProjectorCallback(tmp_path, max_rows=-1)
