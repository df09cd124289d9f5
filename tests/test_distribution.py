"""keras_embedx.distribution: vocabulary-sharded tables on keras.distribution.

The sharded runs need several devices, which only exist when XLA is told so
before JAX starts, so they run in a subprocess (JAX backend, 8 simulated CPU
devices; TensorFlow, 2 logical CPU devices) whatever backend runs the suite.
"""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_embedx
from keras_embedx.distribution import device_mesh, find_tables, layout_map
from keras_embedx.layers import PretrainedEmbedding
from tests._crossbackend import run_in_backend
from tests.conftest import BACKEND, POLARITY_VEC

ROW_VARIABLES = (
    "frozen_table",
    "frozen_scale",
    "frozen_live",
    "frozen_offset",
    "trainable_table",
)


def _first_device():
    """This process's first device, as keras.distribution names it.

    "gpu:0" on a GPU; "cpu:0" where the backend cannot list devices (PyTorch).
    """
    try:
        return keras.distribution.list_devices()[0]
    except (AttributeError, NotImplementedError):
        return "cpu:0"


def _mesh(shape=(1, 1), axes=("batch", "model")):
    return keras.distribution.DeviceMesh(shape, axes, devices=[_first_device()])


def _every_kind_of_table(wv, kv):
    """A model with tables holding every variable a table can have."""
    vocab = kv.index_to_key[:30] + ["zzqx-unseen", "blorptastic"]
    inputs = keras.Input((4,), dtype="int32")
    mixed = PretrainedEmbedding.from_vectors(
        wv, vocab, schedulable=True, storage_dtype="int8", name="mixed"
    )
    plain = PretrainedEmbedding(50, 8, name="plain")
    x = keras.layers.Concatenate()([mixed(inputs), plain(inputs)])
    return keras.Model(inputs, keras.layers.Dense(1, name="head")(x))


# ------------------------------------------------------------- layout maps
def test_patterns_match_every_table_variable_and_nothing_else(wv, kv):
    model = _every_kind_of_table(wv, kv)
    layouts = layout_map(_mesh())
    names = set()
    for variable in model.variables:
        name = variable.path.rsplit("/", 1)[-1]
        layout = layouts[variable.path]
        if "/table/" in variable.path:
            names.add(name)
            assert layout is not None, variable.path
            expected = {"row_index": ("model",), "unfreeze_factor": ()}
            assert layout.axes == expected.get(name, ("model", None)), variable.path
        else:
            assert layout is None, variable.path  # Dense kernels stay replicated
    assert names == {*ROW_VARIABLES, "row_index", "unfreeze_factor"}


def test_model_gives_exact_paths_of_nested_tables(wv, kv):
    class Wrapper(keras.layers.Layer):
        """A user layer holding a keras_embedx layer as an attribute."""

        def __init__(self, inner, **kwargs):
            super().__init__(**kwargs)
            self.inner = inner

        def call(self, x):
            return self.inner(x)

    inner = PretrainedEmbedding.from_vectors(wv, kv.index_to_key[:20], name="inner")
    inputs = keras.Input((3,), dtype="int32")
    model = keras.Model(inputs, Wrapper(inner)(inputs))
    layouts = layout_map(_mesh(), model)
    table_paths = {v.path for v in inner.table.variables}
    assert set(layouts) == table_paths
    for path in table_paths:
        assert path.startswith("inner/table/")  # exact paths, no patterns
        assert layouts[path].axes == (
            ("model",)
            if path.endswith("row_index")
            else ()
            if path.endswith("unfreeze_factor")
            else ("model", None)
        )
    assert find_tables(model) == [inner.table]


def test_position_table_is_not_listed_with_a_model():
    from keras_embedx.layers.token_and_position import TokenAndPosition

    layer = TokenAndPosition(100, 8, 4, name="tp")
    inputs = keras.Input((8,), dtype="int32")
    model = keras.Model(inputs, layer(inputs))
    paths = set(layout_map(_mesh(), model))
    assert paths and all("position" not in p for p in paths)


def test_bad_meshes_and_models_get_clear_errors(wv, kv):
    with pytest.raises(ValueError, match="DeviceMesh"):
        layout_map((2, 4))
    with pytest.raises(ValueError, match="no 'model' axis"):
        layout_map(_mesh((1,), ("data",)))
    too_many = keras.distribution.DeviceMesh(
        (1, 64), ("batch", "model"), devices=[f"cpu:{i}" for i in range(64)]
    )
    if BACKEND != "torch":  # (PyTorch cannot list devices to Keras)
        with pytest.raises(ValueError, match="not available here"):
            layout_map(too_many)
    else:
        with pytest.raises(ValueError, match="not implemented for the 'torch'"):
            device_mesh(8)
    devices = [f"cpu:{i}" for i in range(8)]
    with pytest.raises(ValueError, match="8 is not a multiple of 3"):
        device_mesh(3, devices=devices)
    with pytest.raises(ValueError, match="needs 16 devices"):
        device_mesh(8, batch=2, devices=devices)
    with pytest.raises(ValueError, match="positive int"):
        device_mesh(0, devices=devices)
    assert device_mesh(4, devices=devices).shape == (2, 4)

    dense_only = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no keras_embedx tables"):
        layout_map(_mesh(), dense_only)
    unbuilt = keras.Sequential([PretrainedEmbedding(10, 4)])
    with pytest.raises(ValueError, match="not built"):
        layout_map(_mesh(), unbuilt)


# ----------------------------------------------- 8 simulated JAX devices
_SHARDED = """
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
os.environ["JAX_PLATFORMS"] = "cpu"  # eight host devices, even beside a GPU
import json
import numpy as np, keras, jax
import keras_embedx
from keras_embedx.distribution import device_mesh, layout_map
from keras_embedx.layers import PretrainedEmbedding
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

OUT = {out!r}
assert len(jax.devices()) == 8, jax.devices()
kv = KeyedVectors.load_word2vec_format(datapath({vec!r}), encoding="latin-1")
wv = keras_embedx.WordVectors(kv.index_to_key, kv.vectors)
# 1 padding + 60 pretrained rows frozen (61, which 8 does not divide), 1 OOV +
# 3 unknown words trainable; a second table all frozen in int8 (53 rows;
# schedulable, so it has a float32 frozen_offset too, at factor 0); a third
# all trainable (40 rows).
vocab = kv.index_to_key[:60] + ["zzqx-a", "zzqx-b", "zzqx-c"]

def build():
    keras.utils.set_random_seed(0)
    ids = keras.Input((6,), dtype="int32")
    a = PretrainedEmbedding.from_vectors(wv, vocab, schedulable=True, seed=1,
                                          name="a")
    b = PretrainedEmbedding.from_vectors(wv, kv.index_to_key[100:151],
                                          freeze="all", storage_dtype="int8", seed=2,
                                          schedulable=True, name="b")
    c = PretrainedEmbedding(40, 100, name="c")
    pooled = [keras.layers.GlobalAveragePooling1D()(layer(ids))
              for layer in (a, b, c)]
    out = keras.layers.Dense(1, name="head")(keras.layers.Concatenate()(pooled))
    model = keras.Model(ids, out)
    a.table.set_factor(0.5)  # frozen rows learn at half rate (frozen_live)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    return model

rng = np.random.default_rng(0)
x = rng.integers(0, 40, size=(16, 6)).astype("int32")
y = rng.normal(size=(16, 1)).astype("float32")
res = {{}}

def tables(model, tag):
    for name in "abc":
        res[tag + "_table_" + name] = model.get_layer(name).embeddings

def run(model, tag):
    # The loss of the first step is the forward pass before the update.
    res[tag + "_loss"] = np.asarray(model.train_on_batch(x, y))
    res[tag + "_after"] = np.asarray(model.predict_on_batch(x))
    tables(model, tag)

run(build(), "plain")
keras.backend.clear_session()
mesh = device_mesh(8)
distribution = keras.distribution.ModelParallel(
    layout_map=layout_map(mesh), batch_dim_name="batch")
with distribution.scope():
    model = build()
shards = {{v.path: [list(v.shape), list(v.value.addressable_shards[0].data.shape),
                   [a for a in v.value.sharding.spec]]
          for v in model.variables + model.optimizer.variables}}
run(model, "sharded")
model.save(OUT + "/sharded.keras")

# The file loads with no distribution (compile=False: the optimizer state of
# padded tables keeps the padding) and on another mesh, by exact paths.
plain = keras.models.load_model(OUT + "/sharded.keras", compile=False)
tables(plain, "reload_plain")
mesh24 = device_mesh(4)
layouts = layout_map(mesh24, plain)
with keras.distribution.ModelParallel(
        layout_map=layouts, batch_dim_name="batch").scope():
    again = keras.models.load_model(OUT + "/sharded.keras", compile=False)
tables(again, "reload_mesh24")
shards24 = {{v.path: list(v.value.addressable_shards[0].data.shape)
            for v in again.variables}}

# Every other kind of table: a fastText model's word and n-gram rows, a
# character table, and a TokenAndPosition's token and position tables.
keras.backend.clear_session()
from keras_embedx.distribution import find_tables
from keras_embedx.layers import CharEmbedding, SubwordEmbedding, TokenAndPosition

sentences = [["anarchist", "anarchism", "zzqxunseen"], ["the", "of", "society"]]

def build_other():
    keras.utils.set_random_seed(0)
    sub = SubwordEmbedding.from_fasttext(datapath("toy-model.bin"), freeze="none",
                                         name="sub")
    char = CharEmbedding(16, max_chars=12, name="char")
    tp = TokenAndPosition(37, 6, 16, name="tp")
    xs = [sub.encode(sentences), char.encode(sentences),
          np.arange(12, dtype="int32").reshape(2, 6) * 3]
    inputs = [keras.Input(v.shape[1:], dtype="int32") for v in xs]
    pooled = [keras.layers.GlobalAveragePooling1D()(layer(i))
              for layer, i in zip((sub, char, tp), inputs)]
    out = keras.layers.Dense(1, name="head")(keras.layers.Concatenate()(pooled))
    model = keras.Model(inputs, out)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    return model, xs

def run_other(model, xs, tag, train=True):
    # (The step's loss is the forward pass; the tables after it, the update.)
    if train:
        res[tag + "_loss"] = np.asarray(model.train_on_batch(xs, y[:2]))
    for i, table in enumerate(find_tables(model)):
        res[f"{{tag}}_table_{{i}}"] = table.full_table()

model, xs = build_other()
run_other(model, xs, "other_plain")
keras.backend.clear_session()
with distribution.scope():
    model, xs = build_other()
other = {{v.path: [list(v.shape), list(v.value.addressable_shards[0].data.shape),
                  [a for a in v.value.sharding.spec]]
         for t in find_tables(model) for v in t.variables}}
run_other(model, xs, "other_sharded")
model.save(OUT + "/other.keras")
run_other(keras.models.load_model(OUT + "/other.keras", compile=False), xs,
          "other_reload", train=False)

np.savez(OUT + "/res.npz", x=x, **res)
with open(OUT + "/shards.json", "w") as f:
    json.dump({{"mesh8": shards, "mesh24": shards24, "other": other}}, f)
"""


@pytest.mark.slow
def test_sharded_on_eight_jax_devices(kv, tmp_path):
    run_in_backend(
        "jax", _SHARDED.format(out=str(tmp_path), vec=POLARITY_VEC), timeout=600
    )
    res = dict(np.load(tmp_path / "res.npz"))
    with open(tmp_path / "shards.json") as f:
        shards = json.load(f)

    # Shard shapes: every table variable split 8 ways along rows (padded up
    # to a multiple of 8), optimizer slots too; the rest replicated.
    rows = {"a": (61, 4, 65), "b": (53, 0, 53), "c": (0, 40, 40)}
    seen = set()
    for path, (shape, shard, spec) in shards["mesh8"].items():
        name = path.rsplit("/", 1)[-1]
        for suffix in ("_momentum", "_velocity"):
            if name.endswith(suffix):  # adam/a_table_frozen_live_momentum
                name = name[: -len(suffix)].split("_table_")[-1]
        layer = path.split("/")[0] if "/table/" in path else path.split("_")[0]
        if name in ROW_VARIABLES or name == "row_index":
            # Frozen variables are indexed by row id: every row has an entry.
            _, trainable, total = rows[layer[-1]]
            n = trainable if name == "trainable_table" else total
            padded = -(-n // 8) * 8
            assert shape[0] == padded and shard[0] == padded // 8, (path, shape, shard)
            assert spec[0] == "model", path
            seen.add(name)
        else:
            assert shard == shape, path  # replicated
    assert seen == {*ROW_VARIABLES, "row_index"}

    # The forward pass (the first step's loss) and one Adam step equal the
    # unsharded model's.
    np.testing.assert_allclose(res["sharded_loss"], res["plain_loss"], rtol=1e-6)
    np.testing.assert_allclose(res["sharded_after"], res["plain_after"], atol=1e-5)
    for name in "abc":
        np.testing.assert_allclose(
            res[f"sharded_table_{name}"], res[f"plain_table_{name}"], atol=1e-6
        )
    # The all-frozen int8 table holds gensim's vectors to int8 precision.
    table_b = res["sharded_table_b"][2:]
    expected_b = kv.vectors[100:151]
    step = np.abs(expected_b).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(table_b - expected_b) <= step / 2 + 1e-7)

    # Saved weights hold no padding: the file loads unsharded, on a 2 x 4
    # mesh, and on this process' backend, bit-identical (outputs up to the
    # order of the sums).
    for where in ("reload_plain", "reload_mesh24"):
        for name in "abc":
            np.testing.assert_array_equal(
                res[f"{where}_table_{name}"], res[f"sharded_table_{name}"]
            )
    assert shards["mesh24"]["a/table/frozen_table"] == [17, 100]  # 65 -> 68 / 4
    loaded = keras.models.load_model(tmp_path / "sharded.keras", compile=False)
    np.testing.assert_allclose(
        loaded.predict_on_batch(res["x"]), res["sharded_after"], atol=1e-6
    )
    assert loaded.get_layer("a").table.frozen_table.shape == (65, 100)

    # The other kinds of table shard the same way (rows padded to a multiple
    # of 8, e.g. 37 + 1 token rows to 40), compute the same step, and save
    # without padding.
    other = shards["other"]
    assert {p.split("/")[0] for p in other} >= {"char", "tp"}
    assert other["tp/token_embedding/trainable_table"][:2] == [[40, 16], [5, 16]]
    for path, (shape, shard, spec) in other.items():
        if path.endswith(("trainable_table", "frozen_table", "row_index")):
            assert spec[0] == "model" and shard[0] * 8 == shape[0], (path, shard)
    np.testing.assert_allclose(
        res["other_sharded_loss"], res["other_plain_loss"], rtol=1e-6
    )
    tables = sorted(k[len("other_plain_") :] for k in res if "other_plain_t" in k)
    assert len(tables) == 3  # subword buckets, characters, tokens
    for name in tables:
        np.testing.assert_allclose(
            res[f"other_sharded_{name}"], res[f"other_plain_{name}"], atol=1e-6
        )
        np.testing.assert_array_equal(
            res[f"other_reload_{name}"], res[f"other_sharded_{name}"]
        )


# --------------------------------- tf.distribute on 2 logical CPU devices
_MIRRORED = """
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, keras_embedx
from keras_embedx.layers import PretrainedEmbedding
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

kv = KeyedVectors.load_word2vec_format(datapath({vec!r}), encoding="latin-1")
wv = keras_embedx.WordVectors(kv.index_to_key, kv.vectors)
vocab = kv.index_to_key[:40] + ["zzqx-a", "zzqx-b"]
rng = np.random.default_rng(0)
x = rng.integers(0, 44, size=(16, 5)).astype("int32")
y = rng.normal(size=(16, 1)).astype("float32")

def build(**table_args):
    keras.utils.set_random_seed(0)
    layer = PretrainedEmbedding.from_vectors(
        wv, vocab, seed=1, name="words", **table_args)
    model = keras.Sequential([keras.Input((5,), dtype="int32"), layer,
                              keras.layers.GlobalAveragePooling1D(),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    return model

def fit(model, factor):
    # Two steps; with a factor, the frozen rows learn at that rate meanwhile.
    table = model.get_layer("words").table
    if factor:
        table.set_factor(factor)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    if factor:
        table.set_factor(0.0)
    return model.get_layer("words").embeddings, model.layers[-1].get_weights()

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
# A gated int8 table thawed to half rate, and the default mixed table (whose
# lookup runs as one XLA cluster on TensorFlow).
for table_args, factor in [(dict(schedulable=True, storage_dtype="int8"), 0.5),
                           (dict(), 0.0)]:
    single = fit(build(**table_args), factor)
    with strategy.scope():
        model = build(**table_args)
    table = model.get_layer("words").table
    assert isinstance(table.frozen_table.value, tf.distribute.DistributedValues)
    initial = model.get_layer("words").embeddings
    mirrored = fit(model, factor)
    np.testing.assert_allclose(mirrored[0], single[0], atol=1e-6)
    for a, b in zip(mirrored[1], single[1]):
        np.testing.assert_allclose(a, b, atol=1e-6)
    if factor:  # the pretrained rows learned
        assert np.abs(mirrored[0][2:42] - kv.vectors[:40]).max() > 1e-3
    else:  # they did not, and the rows without a vector did
        np.testing.assert_array_equal(mirrored[0][2:42], kv.vectors[:40])
        assert np.abs(mirrored[0][42:] - initial[42:]).min() > 0
print("OK", float(np.abs(mirrored[0] - single[0]).max()))
"""


@pytest.mark.slow
@pytest.mark.skipif(
    BACKEND != "tensorflow", reason="a TensorFlow feature: runs in the TF suite"
)
def test_mirrored_strategy_on_two_tensorflow_devices():
    out = run_in_backend("tensorflow", _MIRRORED.format(vec=POLARITY_VEC), timeout=600)
    assert "OK" in out


# ------------------------------- PyTorch DDP in 2 processes (gloo backend)
def _ddp_model():
    """A model with an int8 frozen table and trainable rows; `(model, layer)`."""
    from gensim.test.utils import datapath

    wv = keras_embedx.load_vectors(datapath(POLARITY_VEC), limit=40, encoding="latin-1")
    keras.utils.set_random_seed(0)
    layer = PretrainedEmbedding.from_vectors(
        wv, wv.words + ["zzqx-a", "zzqx-b"], storage_dtype="int8", seed=1
    )
    model = keras.Sequential(
        [
            keras.Input((5,), dtype="int32"),
            layer,
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    return model, layer


def _sgd_step(module, model, rows):
    """One SGD step of `module` (the model or its DDP wrapper) on `rows` of a
    fixed batch of 16."""
    import torch

    rng = np.random.default_rng(0)
    # On the device Keras places the model on (a GPU where there is one).
    x = keras.ops.convert_to_tensor(rng.integers(0, 44, size=(16, 5))[rows], "int32")
    y = keras.ops.convert_to_tensor(rng.normal(size=(16, 1))[rows], "float32")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.5)
    optimizer.zero_grad()
    torch.nn.functional.mse_loss(module(x), y).backward()
    optimizer.step()


_DDP_WORKER = """
import sys
import numpy as np, torch, torch.distributed as dist
from tests.test_distribution import _ddp_model, _sgd_step

rank, out = int(sys.argv[1]), sys.argv[2]
dist.init_process_group("gloo", init_method=f"file://{out}/rendezvous",
                        rank=rank, world_size=2)
model, layer = _ddp_model()
ddp = torch.nn.parallel.DistributedDataParallel(model)
_sgd_step(ddp, model, slice(8 * rank, 8 * rank + 8))  # half the batch each
np.save(f"{out}/rank{rank}.npy", layer.embeddings)
dist.destroy_process_group()
"""


@pytest.mark.slow
@pytest.mark.skipif(BACKEND != "torch", reason="a PyTorch feature: runs there")
def test_torch_ddp_on_two_processes_equals_one_process(tmp_path):
    # docs/scaling.md: a keras_embedx model is a torch.nn.Module that
    # DistributedDataParallel wraps as it is; the int8 frozen table is a
    # parameter without gradient that DDP leaves alone.
    root = pathlib.Path(__file__).resolve().parents[1]
    env = dict(os.environ, KERAS_BACKEND="torch", TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(root), env.get("PYTHONPATH")])
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _DDP_WORKER, str(rank), str(tmp_path)],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=300)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, output in zip(procs, outputs):
        assert proc.returncode == 0, output[-3000:]

    model, layer = _ddp_model()
    before = np.asarray(layer.embeddings)
    assert str(layer.table.frozen_table.dtype) == "int8"
    _sgd_step(model, model, slice(0, 16))  # the whole batch in one process
    single = np.asarray(layer.embeddings)
    ranks = [np.load(tmp_path / f"rank{r}.npy") for r in (0, 1)]
    np.testing.assert_array_equal(ranks[0], ranks[1])
    np.testing.assert_allclose(ranks[0], single, atol=1e-6)
    moved = np.abs(single - before).max(axis=1) > 0
    frozen = np.asarray(layer.table.frozen_mask())
    assert moved.any() and not moved[frozen].any()
