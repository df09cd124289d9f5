"""Exported models read padding, OOV and out-of-range ids as the layers do.

Each test exports a model holding a keras_embedx layer with
`model.export`, runs the artifact in its own runtime (ONNX Runtime,
`torch.export.load`, the LiteRT interpreter) and compares it with the Keras
model on a batch of three rows holding padding (0), the OOV id (1), ids past
the table and negative ids, which every layer reads as the OOV row.
"""

import numpy as np
import pytest

from keras_embedx.layers import PretrainedEmbedding, SubwordEmbedding, TokenAndPosition
from tests.conftest import BACKEND
from tests.export._cases import run_litert

SEQ = 6
UNSEEN = ["zzqx-unseen", "blorptastic"]

torch_only = pytest.mark.skipif(
    BACKEND != "torch",
    reason="PyTorch's exporters (torch.onnx tracing, torch.export); "
    "runs under KERAS_BACKEND=torch",
)
jax_only = pytest.mark.skipif(
    BACKEND != "jax",
    reason="a SavedModel exported from JAX (jax2tf) converted for LiteRT; "
    "runs under KERAS_BACKEND=jax",
)


def word_ids(num_rows):
    """Padding, the OOV id (row 1, column 0), and ids outside the table."""
    return np.array(
        [
            [2, 5, 0, 0, 0, 0],
            [1, num_rows + 3, 7, -1, 0, 0],
            [3, 10**6, -7, 4, 1, 2],
        ],
        "int32",
    )


def model_of(layer, shape):
    import keras

    inputs = keras.Input(shape, dtype="int32")
    return keras.Model(inputs, layer(inputs))


def word_layer(kind, wv):
    words = wv.words[:40] + UNSEEN
    if kind == "mixed":
        return PretrainedEmbedding.from_vectors(wv, words, seed=0)
    if kind == "int8":
        return PretrainedEmbedding.from_vectors(
            wv, words, seed=0, freeze="all", storage_dtype="int8"
        )
    return TokenAndPosition(30, SEQ, 8)


def rows_of(layer):
    if isinstance(layer, TokenAndPosition):
        return layer.vocabulary_size
    return layer.input_dim


def check_word_rows(got, model, x, layer, wv):
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=0, atol=1e-6)
    # Out-of-range ids read what the OOV id (1) reads at their positions.
    as_oov = np.where((x < 0) | (x >= rows_of(layer)), 1, x)
    np.testing.assert_allclose(got, model.predict(as_oov, verbose=0), atol=1e-6)
    if isinstance(layer, PretrainedEmbedding) and layer.freeze == "pretrained":
        # Pretrained rows hold the file's vectors, bit for bit.
        vocabulary = layer.get_vocabulary()
        np.testing.assert_array_equal(got[0, 0], wv[vocabulary[x[0, 0]]])
        np.testing.assert_array_equal(got[2, 3], wv[vocabulary[x[2, 3]]])


def run_onnx(model, x, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    path = str(tmp_path / "model.onnx")
    model.export(path, format="onnx", verbose=False)
    session = ort.InferenceSession(path)
    return session.run(None, {session.get_inputs()[0].name: x})[0]


@torch_only
@pytest.mark.parametrize("kind", ["mixed", "int8", "token_and_position"])
def test_torch_onnx_maps_out_of_range_ids_to_oov(kind, wv, tmp_path):
    layer = word_layer(kind, wv)
    x = word_ids(rows_of(layer))
    model = model_of(layer, (SEQ,))
    model.predict(x, verbose=0)  # Keras exports called models only
    check_word_rows(run_onnx(model, x, tmp_path), model, x, layer, wv)


@pytest.fixture(scope="module")
def subword():
    from gensim.test.utils import datapath

    layer = SubwordEmbedding.from_fasttext(datapath("toy-model.bin"))
    clean = layer.encode(
        [["night", "the"], ["zzqxunseen", "and", "of"], ["a", "", "b"]], max_ngrams=14
    )
    return layer, np.asarray(clean, "int32")


def dirty(layer, clean):
    """`clean` with out-of-range ids in padding slots of the bags."""
    x = clean.copy()
    spots = [tuple(p) for p in np.argwhere(x == 0)[::7][:4]]
    assert len(spots) == 4
    for spot, bad in zip(spots, [layer.num_rows, 10**6, -1, -5]):
        x[spot] = bad
    return x


@torch_only
def test_torch_onnx_subword_bags(subword, tmp_path):
    layer, clean = subword
    x = dirty(layer, clean)
    model = model_of(layer, x.shape[1:])
    expected = model.predict(x, verbose=0)
    got = run_onnx(model, x, tmp_path)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    # An out-of-range id in a bag reads the OOV row, which adds nothing:
    # every word keeps the vector of its clean bag.
    np.testing.assert_allclose(got, model.predict(clean, verbose=0), atol=1e-6)


@torch_only
def test_torch_export_schedulable_table(wv, tmp_path):
    import torch

    layer = PretrainedEmbedding.from_vectors(
        wv, wv.words[:40] + UNSEEN, seed=0, schedulable=True
    )
    layer.build()
    layer.table.set_factor(0.5)
    model = model_of(layer, (SEQ,))
    x = word_ids(layer.input_dim)
    path = str(tmp_path / "model.pt2")
    batch = torch.export.Dim("batch", min=1, max=64)
    model.export(path, format="torch", verbose=False, dynamic_shapes={0: batch})
    got = torch.export.load(path).module()(torch.as_tensor(x)).detach().numpy()
    check_word_rows(got, model, x, layer, wv)


def run_saved_model_in_litert(model, x, tmp_path):
    tf = pytest.importorskip("tensorflow")
    pytest.importorskip("ai_edge_litert.interpreter")
    path = str(tmp_path / "saved_model")
    model.export(path, format="tf_saved_model", verbose=False)
    flatbuffer = tf.lite.TFLiteConverter.from_saved_model(path).convert()
    return run_litert(x, model_content=flatbuffer)


@jax_only
def test_jax_saved_model_in_litert_mixed_table(wv, tmp_path):
    layer = word_layer("mixed", wv)
    x = word_ids(layer.input_dim)
    model = model_of(layer, (SEQ,))
    model.predict(x, verbose=0)  # Keras exports called models only
    got = run_saved_model_in_litert(model, x, tmp_path)
    check_word_rows(got, model, x, layer, wv)


@jax_only
def test_jax_saved_model_in_litert_subword_bags(subword, tmp_path):
    layer, clean = subword
    x = dirty(layer, clean)
    model = model_of(layer, x.shape[1:])
    expected = model.predict(x, verbose=0)
    got = run_saved_model_in_litert(model, x, tmp_path)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got, model.predict(clean, verbose=0), atol=1e-6)
