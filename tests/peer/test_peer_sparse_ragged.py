"""Sparse and ragged ids, taken as `keras.layers.Embedding` takes them.

Sparse ids (`tf.SparseTensor`, JAX `BCOO`; the backends Keras gives sparse
tensors) read as their dense form, an unset entry being id 0, the padding
row: what the stock layer returns for them. Ragged ids (TensorFlow) give
ragged rows, eagerly and in the symbolic output spec. The stock layer on the
same rows is the reference; its out-of-range behaviour differs by design
(such ids read the OOV row here), so those cases compare with dense ids.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_embedx.layers import (
    CharEmbedding,
    PretrainedEmbedding,
    SubwordEmbedding,
    TokenAndPosition,
)
from tests.peer._peer_layer_check import as_ragged, as_sparse

BACKEND = keras.config.backend()
sparse_backends = pytest.mark.skipif(
    BACKEND not in ("tensorflow", "jax"), reason="Backend has no sparse tensors."
)
ragged_backends = pytest.mark.skipif(
    BACKEND != "tensorflow", reason="Backend has no ragged tensors."
)
# Ids with padding (unset when sparse) in every row but the first.
IDS = np.array([[3, 7, 19, 2, 11], [5, 0, 0, 8, 0], [0, 0, 0, 0, 4]], "int32")


def _numpy(x):
    return ops.convert_to_numpy(x)


def _stock(matrix, **kwargs):
    return keras.layers.Embedding(*matrix.shape, weights=[matrix], **kwargs)


@sparse_backends
@pytest.mark.parametrize("mask_zero", [False, True])
def test_sparse_ids_read_the_rows_stock_embedding_reads(matrix, mask_zero):
    """The stock layer's rows; with `mask_zero=True` (where the stock layer's
    mask fails on sparse ids) also the mask of the dense ids."""
    layer = PretrainedEmbedding(*matrix.shape, weights=[matrix], mask_zero=mask_zero)
    ids = as_sparse(IDS)
    out = _numpy(layer(ids))
    np.testing.assert_array_equal(out, _numpy(_stock(matrix)(ids)))
    np.testing.assert_array_equal(out, matrix[IDS])
    mask = layer.compute_mask(ids)
    if mask_zero:
        np.testing.assert_array_equal(_numpy(mask), IDS != 0)
    else:
        assert mask is None


@sparse_backends
@pytest.mark.parametrize("out_of_range", ["oov", "error"])
def test_sparse_out_of_range_ids_as_dense_ones(matrix, out_of_range):
    layer = PretrainedEmbedding(
        *matrix.shape, weights=[matrix], out_of_range=out_of_range
    )
    dense = IDS.copy()
    dense[0, :2] = [25, -3]
    if out_of_range == "error":
        with pytest.raises(ValueError, match=r"Ids must lie in \[0, 20\)"):
            layer(as_sparse(dense))
        return
    out = _numpy(layer(as_sparse(dense)))
    np.testing.assert_array_equal(out[0, :2], matrix[[1, 1]])
    np.testing.assert_array_equal(out, _numpy(layer(dense)))


@sparse_backends
def test_sparse_input_of_a_model_predicts_and_trains(matrix):
    """`keras.Input(sparse=True)`: the symbolic output is dense, `predict`
    matches the stock model, and `fit` moves exactly the rows the ids read
    (unset entries read padding, row 0)."""
    inputs = keras.Input((IDS.shape[1],), sparse=True, dtype="int32")
    layer = PretrainedEmbedding(*matrix.shape, weights=[matrix], mask_zero=False)
    out = layer(inputs)
    assert not out.sparse
    assert tuple(out.shape) == (None, IDS.shape[1], matrix.shape[1])
    model = keras.Model(inputs, keras.layers.Flatten()(out))
    stock_model = keras.Sequential(
        [keras.Input((IDS.shape[1],), sparse=True, dtype="int32"), _stock(matrix)]
    )
    ids = as_sparse(IDS)
    predicted = _numpy(model.predict(ids, verbose=0))
    expected = _numpy(stock_model.predict(ids, verbose=0))
    np.testing.assert_array_equal(predicted, expected.reshape(len(IDS), -1))

    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    target = np.zeros((len(IDS), IDS.shape[1] * matrix.shape[1]), "float32")
    model.fit(ids, target, batch_size=len(IDS), epochs=1, verbose=0)
    moved = np.flatnonzero(np.any(layer.embeddings != matrix, axis=1))
    assert moved.tolist() == np.unique(IDS).tolist()


def _char_layer():
    layer = CharEmbedding(
        6, char_dim=4, filters=[[1, 3], [2, 4]], max_chars=8, name="chars"
    )
    return layer, layer.encode([["a", "fine", "film"], ["dull"]])


def _subword_layer():
    layer = SubwordEmbedding(num_buckets=64, output_dim=4, minn=2, maxn=3)
    return layer, layer.encode([["good", "great"], ["bad"]])


def _token_and_position_layer():
    return TokenAndPosition(20, 5, 8), IDS


@sparse_backends
@pytest.mark.parametrize(
    "make", [_char_layer, _subword_layer, _token_and_position_layer]
)
def test_other_id_layers_read_sparse_ids_as_dense(make):
    layer, dense = make()
    assert (dense == 0).any()  # padding left unset in the sparse form
    sparse = as_sparse(dense)
    np.testing.assert_array_equal(_numpy(layer(sparse)), _numpy(layer(dense)))
    np.testing.assert_array_equal(
        _numpy(layer.compute_mask(sparse)), _numpy(layer.compute_mask(dense))
    )


@ragged_backends
def test_ragged_ids_in_a_model_as_stock_embedding(matrix):
    """`keras.Input(ragged=True)`: a ragged output spec, and the model's
    ragged rows and mask equal the stock layer's."""
    import tensorflow as tf

    inputs = keras.Input((None,), ragged=True, dtype="int32")
    layer = PretrainedEmbedding(*matrix.shape, weights=[matrix])
    out = layer(inputs)
    stock_out = _stock(matrix, mask_zero=True)(inputs)
    assert out.ragged and stock_out.ragged
    assert tuple(out.shape) == tuple(stock_out.shape)
    ids = as_ragged(IDS)
    rows = keras.Model(inputs, out)(ids)
    assert isinstance(rows, tf.RaggedTensor)
    stock_rows = keras.Model(inputs, stock_out)(ids)
    np.testing.assert_array_equal(rows.flat_values, stock_rows.flat_values)
    np.testing.assert_array_equal(rows.row_splits, stock_rows.row_splits)
    np.testing.assert_array_equal(
        layer.compute_mask(ids).flat_values, ids.flat_values != 0
    )
