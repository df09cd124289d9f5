"""keras-hub's PositionEmbedding tests, run against `TokenAndPosition`.

Ported from `keras_hub/src/layers/modeling/position_embedding_test.py` of
keras-hub 0.32: each case there has a test of the same name here and keeps
its assertions. The facts carry over; the code is ours.

How the cases map: `PositionEmbedding` takes hidden states
`(..., sequence, hidden)` and returns the learned position vectors alone.
Its counterpart is the position part of `TokenAndPosition(vocabulary_size,
sequence_length, embedding_dim, position="learned")`, which takes ids
`(..., sequence)`. Where values matter, the token part is a frozen all-zero
`keras.layers.Embedding`, so the output is the position table alone (and the
one trainable weight is that table, as upstream); the layer-check cases use
the layer's own token table, a second trainable weight.

`test_layer_behaviors_hierarchical` comes from the upstream file after 0.32
(0.32's `PositionEmbedding` raises past its table too); it is kept as a
documented difference.

Design difference: a sequence longer than `sequence_length` raises a
`ValueError` naming both lengths; keras-hub's hierarchical position
embedding (vectors for positions past the table built from two rows) is not
offered.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_embedx.layers import TokenAndPosition
from tests.peer._peer_layer_check import check_layer

keras_hub = pytest.importorskip("keras_hub")

HIERARCHICAL = (
    "by design: no hierarchical position embedding; a sequence longer than "
    "sequence_length raises a ValueError"
)


def custom_init(shape, dtype=None):
    count = 1
    for length in shape:
        count *= length
    return ops.reshape(ops.arange(count, dtype=dtype), shape)


def _positions_only(sequence_length, feature_size, **kwargs):
    """The position part alone: a frozen zero token table plus learned positions."""
    zero = keras.layers.Embedding(
        10, feature_size, embeddings_initializer="zeros", trainable=False
    )
    return TokenAndPosition(
        None, sequence_length, feature_size, token_embedding=zero, **kwargs
    )


def _ids(shape):
    return np.random.default_rng(0).integers(1, 10, size=shape).astype("int32")


def _init_kwargs(sequence_length, embedding_dim):
    return {
        "vocabulary_size": 10,
        "sequence_length": sequence_length,
        "embedding_dim": embedding_dim,
    }


def test_layer_behaviors():
    check_layer(
        TokenAndPosition,
        _init_kwargs(21, 30),
        input_shape=(4, 21),
        input_dtype="int32",
        expected_output_shape=(4, 21, 30),
        expected_num_trainable_weights=2,  # the position and token tables
        expected_num_non_trainable_weights=0,
        supports_masking=True,  # mask_zero defaults to True here
    )
    layer = _positions_only(21, 30)
    assert tuple(layer(_ids((4, 21))).shape) == (4, 21, 30)
    assert len(layer.trainable_weights) == 1


def test_layer_behaviors_4d():
    check_layer(
        TokenAndPosition,
        _init_kwargs(21, 30),
        input_shape=(4, 5, 21),
        input_dtype="int32",
        expected_output_shape=(4, 5, 21, 30),
        expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=0,
        supports_masking=True,
    )
    layer = _positions_only(21, 30)
    assert tuple(layer(_ids((4, 5, 21))).shape) == (4, 5, 21, 30)
    assert len(layer.trainable_weights) == 1


@pytest.mark.skip(reason=HIERARCHICAL)
def test_layer_behaviors_hierarchical():
    pass


def test_layer_behaviors_hierarchical_variant():
    """Too long raises, naming the limit; a prefix gets the same positions."""
    layer = _positions_only(8, 30)
    with pytest.raises(ValueError, match="sequence_length=8"):
        layer(_ids((2, 16)))
    ids = _ids((2, 8))
    outputs1 = layer(ids[:, :4])
    outputs2 = layer(ids)
    np.testing.assert_allclose(
        ops.convert_to_numpy(outputs1),
        ops.convert_to_numpy(outputs2)[:, :4],
        rtol=1e-4,
        atol=1e-7,
    )


def test_float16_dtype():
    sequence_length = 21
    feature_size = 30
    test_layer = TokenAndPosition(10, sequence_length, feature_size, dtype="float16")
    input_tensor = keras.Input(shape=(sequence_length,), dtype="int32")
    output_tensor = test_layer(input_tensor)
    expected_output_shape = (None, sequence_length, feature_size)
    assert expected_output_shape == tuple(output_tensor.shape)
    assert "float16" == output_tensor.dtype


def test_dynamic_layer_output_shape():
    max_sequence_length = 40
    feature_size = 30
    test_layer = _positions_only(max_sequence_length, feature_size)
    input_tensor = keras.Input(shape=(None,), dtype="int32")
    output_tensor = test_layer(input_tensor)
    expected_output_shape = (None, None, feature_size)
    assert expected_output_shape == tuple(output_tensor.shape)


def test_more_than_3_dimensions_dynamic():
    max_sequence_length = 60
    feature_size = 30
    test_layer = _positions_only(max_sequence_length, feature_size)
    input_tensor = keras.Input(shape=(None, None), dtype="int32")
    output_tensor = test_layer(input_tensor)
    expected_output_shape = (None, None, None, feature_size)
    assert expected_output_shape == tuple(output_tensor.shape)


def test_dynamic_layer_slicing():
    max_sequence_length = 40
    feature_size = 30
    test_layer = _positions_only(max_sequence_length, feature_size)
    input_tensor = keras.Input(shape=(None,), dtype="int32")
    output_tensor = test_layer(input_tensor)
    model = keras.Model(input_tensor, output_tensor)
    input_length = 17
    input_data = np.ones(shape=[1, input_length], dtype="int32")
    output_data = model.predict(input_data, verbose=0)
    assert [1, input_length, feature_size] == list(output_data.shape)


def test_callable_initializer():
    max_sequence_length = 4
    feature_size = 3
    test_layer = _positions_only(
        max_sequence_length, feature_size, embeddings_initializer=custom_init
    )
    inputs = keras.Input(shape=(max_sequence_length,), dtype="int32")
    outputs = test_layer(inputs)
    model = keras.Model(inputs=inputs, outputs=outputs)

    batch_size = 2
    data = np.ones(shape=[batch_size, max_sequence_length], dtype="int32")
    model(data)
    model_output = model.predict(data, verbose=0)
    expected_output = np.broadcast_to(
        np.reshape(
            np.arange(max_sequence_length * feature_size),
            [max_sequence_length, feature_size],
        ),
        [batch_size, max_sequence_length, feature_size],
    )
    np.testing.assert_allclose(model_output, expected_output)
    hub = keras_hub.layers.PositionEmbedding(
        sequence_length=max_sequence_length, initializer=custom_init
    )
    expected = hub(np.zeros((batch_size, max_sequence_length, feature_size)))
    np.testing.assert_array_equal(model_output, ops.convert_to_numpy(expected))


def test_start_index():
    batch_size, seq_length, feature_size = 2, 3, 4
    layer = TokenAndPosition(10, seq_length, feature_size)
    data = _ids((batch_size, seq_length))
    full_output = layer(data)
    sequential_output = ops.zeros((batch_size, seq_length, feature_size))
    for i in range(seq_length):
        parial_output = layer(data[:, i : i + 1], start_index=i)
        sequential_output = ops.slice_update(
            sequential_output, (0, i, 0), parial_output
        )
    np.testing.assert_allclose(
        ops.convert_to_numpy(full_output),
        ops.convert_to_numpy(sequential_output),
        rtol=1e-6,
        atol=1e-6,
    )
