"""A layer test in the spirit of Keras' `run_layer_test`, on public API only.

The peer ports (tests/peer/) call `check_layer` where the upstream test calls
`keras.src.testing.TestCase.run_layer_test`, which is private. It checks what
that harness checks, the way a user would see it:

- the config round trip (`get_config`, `from_config`, Keras serialisation);
- an eager call: output shape, weight counts, losses, seed generators, mask;
- a symbolic call on `keras.Input`: output shape (and raggedness);
- a `fit` step that moves the trainable weights;
- a `.keras` save and load that predicts the same.
"""

import json

import keras
import numpy as np
from keras import ops


def _seed_generators(layer):
    # A `keras.random.SeedGenerator` owns one variable, named this.
    return [v for v in layer.variables if v.name == "seed_generator_state"]


def _ids(rng, shape, high, dtype):
    return rng.integers(0, high, size=shape).astype(dtype)


def as_sparse(dense):
    """`dense` as the backend's sparse tensor, its zeros left out."""
    backend = keras.config.backend()
    index = np.argwhere(dense != 0)
    values = dense[tuple(index.T)]
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.SparseTensor(index, values, dense.shape)
    if backend == "jax":
        import jax.experimental.sparse as jax_sparse

        return jax_sparse.BCOO((values, index), shape=dense.shape)
    raise ValueError(f"No sparse tensors on {backend}")


def as_ragged(dense):
    """`dense` as a `tf.RaggedTensor`, row `i` cut to `len - i % 2` ids."""
    import tensorflow as tf

    rows = [list(row[: len(row) - i % 2]) for i, row in enumerate(dense)]
    return tf.ragged.constant(rows, dtype=dense.dtype)


def _assert_shape(shape, expected):
    """`shape` matches `expected`, where a None in `expected` matches any size
    (a ragged dimension, or a symbolic one), as in Keras' harness."""
    shape = tuple(shape)
    assert len(shape) == len(expected), (shape, expected)
    for size, want in zip(shape, expected):
        assert want is None or size == want, (shape, expected)


def check_layer(
    layer_cls,
    init_kwargs,
    input_shape,
    input_dtype,
    expected_output_shape,
    expected_num_trainable_weights,
    expected_num_non_trainable_weights,
    expected_num_seed_generators=0,
    expected_num_losses=0,
    supports_masking=False,
    input_sparse=False,
    input_ragged=False,
    expected_output_ragged=False,
    save_dir=None,
    seed=0,
):
    """Build `layer_cls(**init_kwargs)` and check it as described above.

    Ids are drawn in `[1, input_dim)` (`vocabulary_size` for layers that
    name it so). `save_dir` (a directory) enables the
    `.keras` round trip; sparse and ragged inputs skip `fit` and saving, as
    a model on them would need a sparse or ragged target.
    """
    rng = np.random.default_rng(seed)
    layer = layer_cls(**init_kwargs)

    # Config round trip, through JSON as a .keras file stores it.
    config = layer.get_config()
    assert layer_cls.from_config(config).get_config() == config
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is layer_cls
    assert revived.get_config() == config

    assert layer.supports_masking == supports_masking

    # Eager call.
    high = init_kwargs.get("input_dim", init_kwargs.get("vocabulary_size"))
    dense = _ids(rng, input_shape, high, input_dtype)
    dense[dense == 0] = 1
    if input_sparse:
        x = as_sparse(dense)
    elif input_ragged:
        x = as_ragged(dense)
    else:
        x = dense
    out = layer(x)
    if expected_output_ragged:
        import tensorflow as tf

        assert isinstance(out, tf.RaggedTensor)
        _assert_shape(out.shape.as_list(), expected_output_shape)
    else:
        _assert_shape(out.shape, expected_output_shape)
    assert len(layer.trainable_weights) == expected_num_trainable_weights
    assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights
    assert len(_seed_generators(layer)) == expected_num_seed_generators
    assert len(layer.losses) == expected_num_losses
    mask = layer.compute_mask(x)
    if supports_masking:
        assert tuple(mask.shape) == tuple(dense.shape)
    else:
        assert mask is None

    # Symbolic call on a fresh layer.
    symbolic = keras.Input(
        batch_shape=input_shape,
        dtype=input_dtype,
        sparse=input_sparse,
        ragged=input_ragged,
    )
    fresh = layer_cls(**init_kwargs)
    out_spec = fresh(symbolic)
    _assert_shape(out_spec.shape, expected_output_shape)
    assert bool(out_spec.ragged) == expected_output_ragged
    if input_sparse or input_ragged:
        return

    # One fit step moves the trainable weights.
    inputs = keras.Input(shape=input_shape[1:], dtype=input_dtype)
    trained = layer_cls(**init_kwargs)
    model = keras.Model(inputs, trained(inputs))
    before = [ops.convert_to_numpy(w).copy() for w in trained.trainable_weights]
    target = rng.normal(size=expected_output_shape).astype("float32")
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    model.fit(dense, target, epochs=1, batch_size=len(dense), verbose=0)
    for old, weight in zip(before, trained.trainable_weights):
        assert not np.array_equal(old, ops.convert_to_numpy(weight))

    # .keras round trip.
    if save_dir is not None:
        path = f"{save_dir}/check_layer.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_allclose(
            loaded.predict(dense, verbose=0), model.predict(dense, verbose=0)
        )
    return layer
