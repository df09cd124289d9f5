"""Compact frozen tables: `storage_dtype="float16" | "bfloat16" | "int8"`.

References are computed outside the package: NumPy's float16 and
ml_dtypes' bfloat16 roundings of gensim's vectors, and for int8 the bound a
per-row absmax scale guarantees (half a quantisation step).
"""

import zipfile

import keras
import ml_dtypes
import numpy as np
import pytest

from keras_embedx.layers import PretrainedEmbedding
from tests._crossbackend import other_backend, run_in_backend
from tests.conftest import BACKEND, POLARITY_VEC

COMPACT = ("float16", "bfloat16", "int8")
NUMPY_TYPE = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16}


def _words(kv, n=300):
    # Words the vectors know, then two they don't (trainable float32 rows).
    return kv.index_to_key[:n] + ["zzqx-unseen", "blorptastic"]


def _cosines(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def _assert_stored_as(rows, original, storage_dtype):
    """`rows` are `original` as `storage_dtype` keeps them, read back as float32."""
    if storage_dtype == "int8":
        step = np.abs(original).max(axis=1, keepdims=True) / 127.0
        assert np.all(np.abs(rows - original) <= step / 2 * (1 + 1e-5))
        assert np.allclose(rows / step, np.rint(rows / step), atol=1e-3)  # on the grid
    else:
        expected = original.astype(NUMPY_TYPE[storage_dtype]).astype(np.float32)
        np.testing.assert_array_equal(rows, expected)


def _model(layer, seq=5):
    return keras.Sequential(
        [
            keras.Input((seq,), dtype="int32"),
            layer,
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )


@pytest.mark.parametrize("storage_dtype", COMPACT)
def test_frozen_rows_are_stored_compactly_and_read_back_dequantised(
    kv, wv, storage_dtype
):
    layer = PretrainedEmbedding.from_vectors(
        wv, _words(kv), storage_dtype=storage_dtype, seed=0
    )
    rows = layer.embeddings[2:302]
    original = kv.vectors[:300]
    _assert_stored_as(rows, original, storage_dtype)
    assert _cosines(rows, original).mean() >= 0.999
    # Rows that train (unknown words) keep every float32 bit.
    matrix = layer.get_weights()[0]
    trainable = ~layer.table.frozen_mask()
    matrix[trainable] = np.float32(1 / 3)
    layer.set_weights([matrix])
    np.testing.assert_array_equal(layer.embeddings[trainable], matrix[trainable])
    # The lookup gives exactly the dequantised rows.
    ids = np.array([[2, 3, 301, 302, 303]])
    out = keras.ops.convert_to_numpy(layer(ids))[0]
    np.testing.assert_array_equal(out, layer.embeddings[[2, 3, 301, 302, 303]])


def _weights_bytes(path):
    with zipfile.ZipFile(path) as zf:
        return zf.getinfo("model.weights.h5").file_size


def test_saved_as_stored_the_file_shrinks_and_reloads_bit_identical(kv, wv, tmp_path):
    x = np.random.default_rng(0).integers(0, 1696, size=(8, 5))
    sizes = {}
    for storage_dtype in ("float32", *COMPACT):
        layer = PretrainedEmbedding.from_vectors(
            wv, kv.index_to_key, storage_dtype=storage_dtype, seed=0, name="words"
        )
        path = tmp_path / f"{storage_dtype}.keras"
        _model(layer).save(path)
        sizes[storage_dtype] = _weights_bytes(path)
        loaded = keras.models.load_model(path).get_layer("words")
        assert loaded.get_config()["storage_dtype"] == storage_dtype
        np.testing.assert_array_equal(loaded.embeddings, layer.embeddings)
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(layer(x))
        )
    # The file loses exactly the bytes the table saves: 1695 frozen rows of
    # 100 floats (the padding row and gensim's 1694 words) at 4 bytes, against
    # 2 bytes, or 1 byte plus a 4-byte scale per row.
    frozen = len(kv.index_to_key) + 1
    saved = {"float16": frozen * 200, "bfloat16": frozen * 200, "int8": frozen * 296}
    for storage_dtype, expected in saved.items():
        shrink = sizes["float32"] - sizes[storage_dtype]
        assert abs(shrink - expected) < 0.01 * expected, (storage_dtype, sizes)
    assert sizes["int8"] / sizes["float32"] < 0.3


@pytest.mark.slow
def test_compact_table_saved_on_another_backend_loads_here(kv, tmp_path):
    source = other_backend(BACKEND)
    path = str(tmp_path / "m.keras")
    run_in_backend(
        source,
        f"""
        import numpy as np, keras, keras_embedx
        from gensim.models import KeyedVectors
        from gensim.test.utils import datapath
        kv = KeyedVectors.load_word2vec_format(datapath({POLARITY_VEC!r}), encoding="latin-1")
        wv = keras_embedx.WordVectors(kv.index_to_key, kv.vectors)
        words = kv.index_to_key[:200] + ["qqq-missing"]
        inputs = keras.Input((5,), dtype="int32")
        a = keras_embedx.layers.PretrainedEmbedding.from_vectors(
            wv, words, storage_dtype="int8", seed=0, name="a")
        b = keras_embedx.layers.PretrainedEmbedding.from_vectors(
            wv, words, storage_dtype="bfloat16", seed=0, name="b")
        pooled = keras.layers.Concatenate()([a(inputs), b(inputs)])
        model = keras.Model(inputs, keras.layers.Dense(1)(pooled))
        model.save({path!r})
        x = np.arange(40).reshape(8, 5) * 5 % 203
        np.save({path!r} + ".x.npy", x)
        np.save({path!r} + ".y.npy", model.predict(x, verbose=0))
        np.save({path!r} + ".a.npy", a.embeddings)
        np.save({path!r} + ".b.npy", b.embeddings)
        """,
    )
    loaded = keras.models.load_model(path)
    for name, dtype in (("a", "int8"), ("b", "bfloat16")):
        layer = loaded.get_layer(name)
        assert layer.get_config()["storage_dtype"] == dtype
        np.testing.assert_array_equal(layer.embeddings, np.load(f"{path}.{name}.npy"))
    x = np.load(path + ".x.npy")
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), np.load(path + ".y.npy"), atol=1e-6
    )


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("storage_dtype", ["bfloat16", "int8"])
def test_mixed_precision_computes_in_half_and_stores_compact(
    kv, wv, policy, storage_dtype
):
    layer = PretrainedEmbedding.from_vectors(
        wv, _words(kv, 50), storage_dtype=storage_dtype, seed=0, dtype=policy
    )
    half = policy.split("_")[1]
    out = layer(np.array([[2, 3, 52, 0]]))
    assert keras.backend.standardize_dtype(out.dtype) == half
    _assert_stored_as(layer.embeddings[2:52], kv.vectors[:50], storage_dtype)
    expected = layer.embeddings[[2, 3, 52, 0]].astype(NUMPY_TYPE[half])
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(out)[0].astype(np.float32),
        expected.astype(np.float32),
    )
    model = _model(layer, seq=4)
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).integers(0, 54, size=(16, 4))
    history = model.fit(x, np.ones((16, 1)), epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_schedulable_int8_rows_stay_put_at_zero_and_learn_above(kv, wv, tmp_path):
    layer = PretrainedEmbedding.from_vectors(
        wv, _words(kv, 60), storage_dtype="int8", schedulable=True, seed=0, name="w"
    )
    model = _model(layer)
    # AdamW's weight decay would move a merely gated table: not this one.
    model.compile(optimizer=keras.optimizers.AdamW(0.05, weight_decay=0.5), loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 62, size=(32, 5)), rng.normal(size=(32, 1))
    stored = layer.embeddings.copy()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    frozen = layer.table.frozen_mask()
    np.testing.assert_array_equal(layer.embeddings[frozen], stored[frozen])
    assert not np.array_equal(layer.embeddings[~frozen], stored[~frozen])

    layer.table.set_factor(1.0)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    moved = np.abs(layer.embeddings[frozen] - stored[frozen]).max(axis=1)
    assert (moved[1:] > 1e-4).mean() > 0.5  # the pretrained rows learn
    # Frozen again, they keep what they learned, not rounded to int8.
    learned = layer.embeddings.copy()
    layer.table.set_factor(0.0)
    np.testing.assert_allclose(layer.embeddings, learned, rtol=1e-6, atol=1e-7)
    step = np.abs(stored[frozen]).max(axis=1, keepdims=True) / 127.0
    off_grid = np.abs(learned[frozen] / step - np.rint(learned[frozen] / step))
    assert (off_grid[1:].max(axis=1) > 0.01).mean() > 0.5

    path = tmp_path / "s.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.get_layer("w").embeddings, layer.embeddings)
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )


def test_compact_storage_needs_frozen_rows(wv, kv):
    with pytest.raises(ValueError, match="applies to frozen rows"):
        PretrainedEmbedding.from_vectors(
            wv, _words(kv, 10), freeze="none", storage_dtype="int8"
        )
    with pytest.raises(
        ValueError, match="storage_dtype.*Received: storage_dtype='fp8'"
    ):
        PretrainedEmbedding.from_vectors(wv, _words(kv, 10), storage_dtype="fp8")


@pytest.mark.parametrize("storage_dtype", ["bfloat16", "int8"])
def test_subword_buckets_stored_compactly(storage_dtype, tmp_path):
    from gensim.models.fasttext import load_facebook_model
    from gensim.test.utils import datapath

    from keras_embedx.layers import SubwordEmbedding

    path = datapath("lee_fasttext_new.bin")
    ft = load_facebook_model(path).wv
    layer = SubwordEmbedding.from_fasttext(path, storage_dtype=storage_dtype)
    assert layer.get_config()["storage_dtype"] == storage_dtype
    # Known words and words fastText never saw (their n-gram buckets only).
    words = ft.index_to_key[:20] + ["zzqxunseenword", "blorptastic"]
    ours = layer.word_vectors(words)
    expected = np.stack([ft.get_vector(w) for w in words])
    assert _cosines(ours, expected).min() >= 0.9999

    model = keras.Sequential([keras.Input((3, 40), dtype="int32"), layer])
    model.save(tmp_path / "s.keras")
    loaded = keras.models.load_model(tmp_path / "s.keras").layers[0]
    assert loaded.get_config()["storage_dtype"] == storage_dtype
    np.testing.assert_array_equal(loaded.word_vectors(words), ours)
