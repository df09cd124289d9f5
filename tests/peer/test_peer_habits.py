"""What users bring from stock Keras and keras-hub tutorials.

The forms the classic tutorials use with `keras.layers.Embedding` and
`keras_hub.layers.TokenAndPositionEmbedding`, tried on the keras_embedx
layers: the `weights=[matrix], trainable=False` constructor,
`embeddings_constraint`, moving a stock model's weights over, and plain
functions as initializers.
"""

import json

import keras
import keras_hub
import numpy as np
import pytest
from keras import ops

import keras_embedx
from keras_embedx.layers import PretrainedEmbedding, TokenAndPosition


def _numpy(x):
    return ops.convert_to_numpy(x)


def _fit_once(layer, ids, width, epochs=2):
    """A small classifier on `layer`, trained for `epochs` on ids."""
    inputs = keras.Input((ids.shape[1],), dtype="int32")
    hidden = keras.layers.GlobalAveragePooling1D()(layer(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1, name="head")(hidden))
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    target = np.linspace(-3.0, 3.0, len(ids)).astype("float32")
    model.fit(ids, target, epochs=epochs, batch_size=len(ids), verbose=0)
    return model


def _ids(num_rows, shape=(16, 5), seed=0):
    return np.random.default_rng(seed).integers(0, num_rows, size=shape)


# ---------------------------------------------- weights=[M], trainable=False
def test_tutorial_weights_trainable_false_freezes_every_row(matrix, tmp_path):
    rows, width = matrix.shape
    layer = PretrainedEmbedding(rows, width, weights=[matrix], trainable=False)
    ids = _ids(rows)
    np.testing.assert_array_equal(_numpy(layer(ids)), matrix[ids])
    assert layer.trainable_weights == []
    model = _fit_once(layer, ids, width)
    np.testing.assert_array_equal(layer.embeddings, matrix)

    # The matrix travels in the weights, never in the config.
    config = layer.get_config()
    assert "weights" not in config
    assert len(json.dumps(config)) < 2000
    model.save(tmp_path / "frozen.keras")
    loaded = keras.saving.load_model(tmp_path / "frozen.keras")
    np.testing.assert_array_equal(loaded.layers[1].embeddings, matrix)
    assert loaded.layers[1].trainable_weights == []


def test_tutorial_weights_trainable_rows_start_from_matrix(matrix):
    rows, width = matrix.shape
    layer = PretrainedEmbedding(rows, width, weights=matrix, mask_zero=False)
    np.testing.assert_array_equal(layer.embeddings, matrix)
    ids = _ids(rows)
    _fit_once(layer, ids, width)
    seen = np.unique(ids)
    assert not np.array_equal(layer.embeddings[seen], matrix[seen])


def test_tutorial_weights_wrong_shape_names_both_shapes(matrix):
    rows, width = matrix.shape
    with pytest.raises(
        ValueError, match=rf"\({rows + 1}, {width}\).*\({rows}, {width}\)"
    ):
        PretrainedEmbedding(rows + 1, width, weights=[matrix])
    with pytest.raises(ValueError, match=rf"\({rows}, {width}\).*list of 2 matrices"):
        PretrainedEmbedding(rows, width, weights=[matrix, matrix])


def test_factories_refuse_weights_that_they_would_overwrite(matrix, datapath):
    wv = keras_embedx.load_vectors(datapath("crime-and-punishment.vec"), limit=20)
    with pytest.raises(ValueError, match="come from the vectors"):
        PretrainedEmbedding.from_vectors(wv, weights=[matrix])


def test_input_length_is_accepted_with_keras_warning(matrix):
    # Keras 2 tutorials pass input_length=maxlen; Keras 3 warns and drops it.
    rows, width = matrix.shape
    with pytest.warns(UserWarning, match="`input_length` is deprecated"):
        layer = PretrainedEmbedding(rows, width, weights=[matrix], input_length=5)
    assert "input_length" not in layer.get_config()


# ------------------------------------------------------ embeddings_constraint
def test_constraint_applies_to_the_rows_that_train(matrix, tmp_path):
    rows, width = matrix.shape
    stock = keras.layers.Embedding(rows, width, weights=[matrix])
    layer = PretrainedEmbedding.from_embedding(
        stock, freeze="pretrained", embeddings_constraint="non_neg"
    )
    trainable = ~layer.table.frozen_mask()
    assert trainable.tolist() == [False, True] + [False] * (rows - 2)
    ids = np.concatenate([_ids(rows), np.ones((16, 1), "int64")], axis=1)
    model = _fit_once(layer, ids, width)
    table = layer.embeddings
    assert (table[trainable] >= 0).all()
    assert not np.array_equal(table[trainable], np.maximum(matrix[trainable], 0))
    # Frozen rows keep their negative entries.
    np.testing.assert_array_equal(table[~trainable], matrix[~trainable])

    # Serialised as Keras serialises it, and restored from a .keras file.
    expected = keras.layers.Embedding(
        3, 2, embeddings_constraint="non_neg"
    ).get_config()["embeddings_constraint"]
    assert layer.get_config()["embeddings_constraint"] == expected
    model.save(tmp_path / "constrained.keras")
    loaded = keras.saving.load_model(tmp_path / "constrained.keras").layers[1]
    assert isinstance(loaded.table.embeddings_constraint, keras.constraints.NonNeg)
    assert isinstance(loaded.trainable_weights[0].constraint, keras.constraints.NonNeg)


def test_constraint_on_a_layer_of_trainable_rows():
    layer = PretrainedEmbedding(
        6,
        4,
        mask_zero=False,
        embeddings_constraint=keras.constraints.MaxNorm(0.01, axis=1),
    )
    ids = _ids(6)
    _fit_once(layer, ids, 4)
    norms = np.linalg.norm(layer.embeddings, axis=1)
    assert (norms <= 0.01 + 1e-6).all()


# ------------------------------------------------ migrating a stock model
def _stock_model(rows, width, embedding):
    inputs = keras.Input((5,), dtype="int32")
    hidden = keras.layers.GlobalAveragePooling1D()(embedding(inputs))
    return keras.Model(inputs, keras.layers.Dense(1, name="head")(hidden))


def test_stock_weights_file_migrates_through_from_embedding(matrix, tmp_path):
    rows, width = matrix.shape
    ids = _ids(rows)
    stock = _stock_model(
        rows, width, keras.layers.Embedding(rows, width, weights=[matrix], name="emb")
    )
    stock.compile(optimizer="sgd", loss="mse")
    stock.fit(ids, np.ones(len(ids)), verbose=0)
    path = tmp_path / "stock.weights.h5"
    stock.save_weights(path)
    expected = stock.predict(ids, verbose=0)

    # Swapping the layer in and loading the file fails loudly (the rows live
    # in other variables), never loads half of it silently.
    swapped = _stock_model(rows, width, PretrainedEmbedding(rows, width, name="emb"))
    with pytest.raises(ValueError, match="expected 1 variables"):
        swapped.load_weights(path)

    # The documented path: build the stock model, load, convert.
    again = _stock_model(rows, width, keras.layers.Embedding(rows, width, name="emb"))
    again.load_weights(path)
    layer = PretrainedEmbedding.from_embedding(again.get_layer("emb"))
    assert (layer.name, layer.input_dim, layer.output_dim) == ("emb", rows, width)
    assert layer.mask_zero is False and layer.freeze == "none"
    migrated = _stock_model(rows, width, layer)
    migrated.get_layer("head").set_weights(again.get_layer("head").get_weights())
    np.testing.assert_allclose(migrated.predict(ids, verbose=0), expected, atol=1e-6)

    # The migrated model saves and loads as any keras_embedx model.
    migrated.save(tmp_path / "migrated.keras")
    loaded = keras.saving.load_model(tmp_path / "migrated.keras")
    np.testing.assert_allclose(loaded.predict(ids, verbose=0), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("freeze", "trainable_rows"), [("none", 6), ("pretrained", 1), ("all", 0)]
)
def test_from_embedding_freeze_modes(freeze, trainable_rows):
    stock = keras.layers.Embedding(6, 3, mask_zero=True, name="words")
    stock.build()
    layer = PretrainedEmbedding.from_embedding(stock, freeze=freeze)
    assert layer.mask_zero is True and layer.name == "words"
    np.testing.assert_array_equal(layer.embeddings, _numpy(stock.embeddings))
    assert int((~layer.table.frozen_mask()).sum()) == trainable_rows
    frozen = keras.layers.Embedding(6, 3, trainable=False)
    frozen.build()
    assert PretrainedEmbedding.from_embedding(frozen).trainable_weights == []


def test_from_embedding_refuses_what_it_cannot_convert():
    with pytest.raises(ValueError, match="has no weights yet"):
        PretrainedEmbedding.from_embedding(keras.layers.Embedding(6, 3))
    with pytest.raises(ValueError, match="must be a keras.layers.Embedding"):
        PretrainedEmbedding.from_embedding(keras.layers.Dense(3))
    stock = keras.layers.Embedding(6, 3)
    stock.build()
    with pytest.raises(ValueError, match="come from 'embedding"):
        PretrainedEmbedding.from_embedding(stock, input_dim=7)
    with pytest.raises(ValueError, match="`freeze` must be one of"):
        PretrainedEmbedding.from_embedding(stock, freeze="some")
    with pytest.raises(ValueError, match="`weights` cannot set them too"):
        PretrainedEmbedding.from_embedding(stock, weights=[np.ones((6, 3))])
    stock.quantize("int8")
    with pytest.raises(ValueError, match="is quantized"):
        PretrainedEmbedding.from_embedding(stock)


# ------------------------------------------ plain functions as initializers
def halves(shape, dtype=None):
    return ops.full(shape, 0.5, dtype=dtype)


@keras.saving.register_keras_serializable(package="peer_habits")
def quarters(shape, dtype=None):
    return ops.full(shape, 0.25, dtype=dtype)


def test_token_and_position_takes_a_plain_function_initializer():
    layer = TokenAndPosition(10, 4, 3, embeddings_initializer=halves, mask_zero=False)
    out = _numpy(layer(np.array([[1, 2, 3]])))
    np.testing.assert_array_equal(out, np.ones((1, 3, 3)))
    # Keras' own serialisation of a plain function, as Embedding's config has.
    expected = keras.layers.Embedding(3, 2, embeddings_initializer=halves).get_config()[
        "embeddings_initializer"
    ]
    assert layer.get_config()["embeddings_initializer"] == expected


def test_token_and_position_registered_function_round_trips(tmp_path):
    layer = TokenAndPosition(
        10, 4, 3, embeddings_initializer=quarters, tie_weights=False, freeze="all"
    )
    layer.build()
    np.testing.assert_array_equal(
        layer.token_embedding.full_table(), np.full((10, 3), 0.25)
    )
    np.testing.assert_array_equal(_numpy(layer.reverse_embeddings), 0.25)
    revived = TokenAndPosition.from_config(layer.get_config())
    assert revived.embeddings_initializer is quarters


def test_from_keras_hub_of_a_layer_with_a_function_initializer():
    hub = keras_hub.layers.TokenAndPositionEmbedding(
        10, 4, 3, embeddings_initializer=halves
    )
    ids = np.array([[1, 2, 3], [4, 5, 0]])
    expected = _numpy(hub(ids))
    ours = TokenAndPosition.from_keras_hub(hub)
    np.testing.assert_array_equal(_numpy(ours(ids)), expected)
    assert ours.embeddings_initializer is halves
