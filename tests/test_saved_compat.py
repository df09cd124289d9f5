"""`.keras` files saved by this version keep loading, on every backend.

The files in `tests/data/saved/` were written by `make_saved.py` under each
of the three backends; every one is loaded here under the current backend
(so each backend reads the other two's files too) and must give the
predictions stored beside it when it was saved.
"""

import glob
import json
import os
import zipfile

import keras
import numpy as np
import pytest

import keras_embedx

HERE = os.path.join(os.path.dirname(__file__), "data", "saved")
FILES = sorted(glob.glob(os.path.join(HERE, "*.keras")))
CASES = sorted({os.path.basename(f).split(".")[0] for f in FILES})
# The cases saved mid-training, with a batch to train one more step on.
TRAINED = ("row_optimizer", "unfreeze_midway")
ATOL = 1e-6


def ids(path):
    return os.path.basename(path)[: -len(".keras")]


def stored(path):
    with np.load(path[: -len(".keras")] + ".npz", allow_pickle=False) as data:
        return dict(data)


def predict(model, x):
    # An eager call: no compiled predict function to build for one batch.
    return keras.ops.convert_to_numpy(model(x, training=False))


def table_layers(model):
    return [
        layer
        for layer in model.layers
        if type(layer).__module__.startswith("keras_embedx.")
    ]


@pytest.mark.host_only
def test_every_case_saved_on_every_backend():
    # A fixture missing for one backend would silently drop that backend's
    # files from the checks below.
    assert len(CASES) == 9
    expected = {f"{c}.{b}" for c in CASES for b in ("jax", "tensorflow", "torch")}
    assert {ids(f) for f in FILES} == expected
    total = sum(os.path.getsize(f) for f in glob.glob(os.path.join(HERE, "*")))
    assert total < 2 * 2**20


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_loads_with_the_saved_predictions(path):
    data = stored(path)
    model = keras.models.load_model(path)
    np.testing.assert_allclose(predict(model, data["x"]), data["y"], rtol=0, atol=ATOL)
    layers = table_layers(model)
    assert layers
    for layer in layers:
        config = layer.get_config()
        assert json.loads(json.dumps(config)) == config
        assert type(layer).from_config(config).get_config() == config


def saved_config(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def load_for_training(path):
    """The model with its optimizer, as a user continues training it.

    Keras (3.15) records the optimizer of a model compiled under PyTorch by
    its torch-only class (`keras.src.backend.torch.optimizers...`), which
    loads on another backend but fails in its first `fit`. There the model is
    loaded uncompiled and compiled with the same optimizer by its public
    name; the table's own state (row optimizer moments, unfreeze factor) is
    in the layer's variables either way.
    """
    saved_on = ids(path).split(".")[1]
    if saved_on != "torch" or keras.config.backend() == "torch":
        return keras.models.load_model(path)
    compiled = saved_config(path)["compile_config"]
    model = keras.models.load_model(path, compile=False)
    optimizer = compiled["optimizer"]
    model.compile(
        optimizer=keras.optimizers.deserialize(
            {"class_name": optimizer["class_name"], "config": optimizer["config"]}
        ),
        loss=compiled["loss"],
    )
    return model


@pytest.mark.parametrize(
    "path", [f for f in FILES if ids(f).split(".")[0] in TRAINED], ids=ids
)
def test_training_continues_from_the_saved_state(path):
    """One more step after loading equals the step the saving model took.

    Lost row optimizer state (LazyAdam's per-row moments and step count) or
    a lost unfreeze factor would move the rows differently.
    """
    data = stored(path)
    model = load_for_training(path)
    if ids(path).startswith("unfreeze_midway"):
        assert model.get_layer("words").table.factor == 0.5
    if keras.config.backend() == "torch":
        # A file saved under JAX asks for `jit_compile=True`, on PyTorch
        # `torch.compile`, about 30 s for this model; compiled row-sparse
        # training is tested in test_row_sparse.py.
        model.jit_compile = False
    x, target = data["x"], data["target"]
    model.fit(x, target, batch_size=len(x), epochs=1, verbose=0)
    after = predict(model, x)
    assert not np.allclose(after, data["y"], rtol=0, atol=ATOL)
    np.testing.assert_allclose(after, data["y_next"], rtol=0, atol=1e-5)


@pytest.mark.host_only
def test_fixtures_cover_the_public_layers():
    covered = set()
    for path in FILES:
        layers = saved_config(path)["config"]["layers"]
        covered |= {layer["class_name"] for layer in layers}
    # The table protocol's base class and parts are saved inside the layers.
    parts = {"EmbeddingTable", "TableLayer", "TableRef"}
    assert set(keras_embedx.layers.__all__) - parts <= covered
