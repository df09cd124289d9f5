"""keras-hub's SinePositionEncoding tests, run against `TokenAndPosition`.

Ported from `keras_hub/src/layers/modeling/sine_position_encoding_test.py` of
keras-hub 0.32: each case there has a test of the same name here and keeps
its assertions. The facts carry over; the code is ours.

How the cases map: `SinePositionEncoding` takes hidden states
`(..., sequence, hidden)` and returns the encoding alone. Its counterpart is
the position part of `TokenAndPosition(vocabulary_size, sequence_length,
embedding_dim, position="sinusoidal")`, which takes ids `(..., sequence)`:
with a zero token table (`embeddings_initializer="zeros"`) the output is the
encoding alone, and the tests compare it with keras-hub's layer itself.
`sequence_length` (the longest sequence) is an argument here; keras-hub's
encoding has no limit. The layer owns a trainable token table, hence one
trainable weight where keras-hub's layer has none.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_embedx.layers import TokenAndPosition
from tests.peer._peer_layer_check import check_layer

keras_hub = pytest.importorskip("keras_hub")


def _layer(sequence_length, embedding_dim, **kwargs):
    """The position part alone: a zero token table plus sine positions."""
    return TokenAndPosition(
        vocabulary_size=10,
        sequence_length=sequence_length,
        embedding_dim=embedding_dim,
        position="sinusoidal",
        embeddings_initializer="zeros",
        mask_zero=False,
        **kwargs,
    )


def _assert_equals_hub(layer, ids):
    hidden = np.zeros((*ids.shape, layer.embedding_dim), "float32")
    expected = keras_hub.layers.SinePositionEncoding(
        max_wavelength=layer.max_wavelength
    )(hidden)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(layer(ids)), ops.convert_to_numpy(expected)
    )


def _ids(shape):
    return np.random.default_rng(0).integers(1, 10, size=shape).astype("int32")


def _init_kwargs(sequence_length, embedding_dim):
    return {
        "vocabulary_size": 10,
        "sequence_length": sequence_length,
        "embedding_dim": embedding_dim,
        "position": "sinusoidal",
        "max_wavelength": 10000,
    }


def test_layer_behaviors():
    check_layer(
        TokenAndPosition,
        _init_kwargs(4, 6),
        input_shape=(2, 4),
        input_dtype="int32",
        expected_output_shape=(2, 4, 6),
        expected_num_trainable_weights=1,  # the token table
        expected_num_non_trainable_weights=0,
        supports_masking=True,  # mask_zero defaults to True here
    )
    _assert_equals_hub(_layer(4, 6), _ids((2, 4)))


def test_layer_behaviors_4d():
    check_layer(
        TokenAndPosition,
        _init_kwargs(4, 6),
        input_shape=(1, 2, 4),
        input_dtype="int32",
        expected_output_shape=(1, 2, 4, 6),
        expected_num_trainable_weights=1,
        expected_num_non_trainable_weights=0,
        supports_masking=True,  # mask_zero defaults to True here
    )
    _assert_equals_hub(_layer(4, 6), _ids((1, 2, 4)))


def test_static_layer_output_shape():
    seq_length = 100
    hidden_size = 32
    pos_encoding = _layer(seq_length, hidden_size)
    inputs = keras.Input(shape=(seq_length,), dtype="int32")
    outputs = pos_encoding(inputs)
    expected_output_shape = (None, seq_length, hidden_size)
    assert expected_output_shape == tuple(outputs.shape)


def test_dynamic_layer_output_shape():
    hidden_size = 32
    pos_encoding = _layer(100, hidden_size)
    inputs = keras.Input(shape=(None,), dtype="int32")
    outputs = pos_encoding(inputs)
    expected_output_shape = (None, None, hidden_size)
    assert expected_output_shape == tuple(outputs.shape)


def test_multi_dimension_layer_output_shape():
    seq_length = 100
    hidden_size = 32
    pos_encoding = _layer(seq_length, hidden_size)
    inputs = keras.Input(shape=(None, seq_length), dtype="int32")
    outputs = pos_encoding(inputs)
    expected_output_shape = (None, None, seq_length, hidden_size)
    assert expected_output_shape == tuple(outputs.shape)


def test_output_correct_values():
    pos_encoding = _layer(4, 6)
    model = keras.Sequential([keras.Input(shape=(4,), dtype="int32"), pos_encoding])
    ids = _ids((1, 4))
    output = ops.convert_to_numpy(model(ids))

    expected_0 = [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    expected_3 = [0.14112, -0.98999, 0.13879, 0.99032, 0.00646, 0.99997]
    np.testing.assert_allclose(output[0, 0, :], expected_0, atol=0.01, rtol=0.01)
    np.testing.assert_allclose(output[0, 3, :], expected_3, atol=0.01, rtol=0.01)
    _assert_equals_hub(pos_encoding, ids)


def test_start_index():
    batch_size, seq_length, feature_size = 2, 3, 4
    layer = TokenAndPosition(
        10, seq_length, feature_size, position="sinusoidal", mask_zero=False
    )
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


def test_odd_width_and_wavelength_variant():
    """Odd widths and another wavelength equal keras-hub's encoding too."""
    _assert_equals_hub(_layer(9, 7, max_wavelength=500), _ids((2, 9)))


def test_positions_variant():
    """Explicit `positions` give keras-hub's encoding at those positions."""
    layer = _layer(16, 6)
    ids = _ids((2, 4))
    positions = np.array([[3, 1, 15, 0], [7, 7, 2, 9]], "int32")
    hidden = np.zeros((2, 4, 6), "float32")
    expected = keras_hub.layers.SinePositionEncoding()(hidden, positions=positions)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(layer(ids, positions=positions)),
        ops.convert_to_numpy(expected),
    )
