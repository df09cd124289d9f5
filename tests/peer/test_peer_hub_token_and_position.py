"""keras-hub's TokenAndPositionEmbedding tests, run against `TokenAndPosition`.

Ported from `keras_hub/src/layers/modeling/token_and_position_embedding_test.py`
of keras-hub 0.32: each case there has a test of the same name here and keeps
its assertions, run on `TokenAndPosition(vocabulary_size, sequence_length,
embedding_dim, position="learned")`, the configuration that should behave as
`keras_hub.layers.TokenAndPositionEmbedding`. The facts carry over; the code
is ours. `run_layer_test` is done with public API
(`tests/peer/_peer_layer_check.py`).

Design difference: `mask_zero` defaults to True here (id 0 is padding), to
False in keras-hub, so the layer supports masking with the upstream
arguments. The `_variant` tests compare against the keras-hub layer itself.
"""

import numpy as np
import pytest
from keras import ops

from keras_embedx.layers import TokenAndPosition
from tests.peer._peer_layer_check import check_layer

keras_hub = pytest.importorskip("keras_hub")


def test_layer_behaviors(tmp_path):
    init_kwargs = {
        "vocabulary_size": 5,
        "sequence_length": 4,
        "embedding_dim": 3,
        "embeddings_initializer": "ones",
    }
    layer = check_layer(
        TokenAndPosition,
        init_kwargs,
        input_shape=(2, 4),
        input_dtype="int32",
        expected_output_shape=(2, 4, 3),
        expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=0,
        supports_masking=True,  # mask_zero defaults to True here
        save_dir=tmp_path,
    )
    ids = np.random.default_rng(0).integers(0, 5, size=(2, 4))
    np.testing.assert_allclose(ops.convert_to_numpy(layer(ids)), np.ones((2, 4, 3)) * 2)


def test_mask_propagation():
    test_layer = TokenAndPosition(
        vocabulary_size=5,
        sequence_length=4,
        embedding_dim=3,
        mask_zero=True,
    )
    input_data = np.array([[1, 0], [1, 0]])
    mask = input_data != 0
    outputs = test_layer(input_data)
    np.testing.assert_array_equal(ops.convert_to_numpy(outputs._keras_mask), mask)


def _hub_layer(**kwargs):
    hub = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size=50, sequence_length=8, embedding_dim=6, **kwargs
    )
    hub(np.zeros((1, 8), "int32"))
    return hub


# keras-hub's own PositionEmbedding warns that it drops the mask it is given.
@pytest.mark.filterwarnings("ignore:Layer 'position_embedding'")
def test_layer_behaviors_variant():
    """From a keras-hub layer: the same outputs, mask and logits as it gives."""
    hub = _hub_layer(mask_zero=True)
    ours = TokenAndPosition.from_keras_hub(hub)
    ids = np.random.default_rng(1).integers(0, 50, size=(3, 8)).astype("int32")
    ids[:, -2:] = 0
    expected = hub(ids)
    outputs = ours(ids)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(outputs), ops.convert_to_numpy(expected)
    )
    np.testing.assert_array_equal(
        ops.convert_to_numpy(outputs._keras_mask),
        ops.convert_to_numpy(expected._keras_mask),
    )
    hidden = ops.convert_to_tensor(
        np.random.default_rng(2).normal(size=(3, 8, 6)).astype("float32")
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(ours.reverse(hidden)),
        ops.convert_to_numpy(hub.token_embedding(hidden, reverse=True)),
        rtol=1e-6,
        atol=1e-6,
    )


def test_callable_initializer_variant():
    """keras-hub accepts a plain function as initializer; so does the port."""

    def custom_init(shape, dtype=None):
        count = int(np.prod(shape))
        return ops.reshape(ops.arange(count, dtype=dtype) / count, shape)

    hub = _hub_layer(embeddings_initializer=custom_init)
    ours = TokenAndPosition.from_keras_hub(hub)
    ids = np.arange(16, dtype="int32").reshape(2, 8)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(ours(ids)), ops.convert_to_numpy(hub(ids))
    )
    fresh = TokenAndPosition(50, 8, 6, embeddings_initializer=custom_init)
    assert tuple(fresh(ids).shape) == (2, 8, 6)
