"""Write the saved-file compatibility fixtures of this directory.

Run once per backend from the repository root:

    KERAS_BACKEND=jax python tests/data/saved/make_saved.py

Each case writes `<case>.<backend>.keras` (the model) and
`<case>.<backend>.npz` (`x`: the input batch, with padding, OOV and
out-of-range ids; `y`: the model's predictions on it; for the cases saved
mid-training, `target`: a batch to train one more step on and `y_next`: the
predictions after that step, taken from the model in memory, so that a file
which loses optimizer or schedule state gives other ones). `tests/test_saved_compat.py` loads every file under
every backend and compares. Regenerate only on purpose: the files are the
record of what earlier versions saved.
"""

import os
import sys

import keras
import numpy as np

import keras_embedx
from keras_embedx.layers import (
    CharEmbedding,
    PretrainedEmbedding,
    SubwordEmbedding,
    TokenAndPosition,
)

HERE = os.path.dirname(os.path.abspath(__file__))
BACKEND = keras.config.backend()
SEED = 20261208
SEQ = 6
DIM = 4

# 20 words with vectors; the vocabulary adds 8 words without, so a mixed
# table has frozen pretrained rows and trainable new rows.
WORDS = [f"w{i:02d}" for i in range(20)]
NEW = [f"new{i}" for i in range(8)]


def word_vectors():
    rng = np.random.default_rng(SEED)
    matrix = rng.normal(size=(len(WORDS), DIM)).astype("float32")
    return keras_embedx.WordVectors(WORDS, matrix)


def vocabulary():
    # Padding 0, OOV rows 1 and 2, then 26 words: 29 rows.
    return keras_embedx.Vocabulary(WORDS[:18] + NEW, num_oov_indices=2)


def word_ids(num_rows):
    """Ids with padding (0), OOV rows (1, 2), real rows and ids past the table."""
    return np.array(
        [
            [3, 4, 5, 0, 0, 0],
            [1, 2, num_rows - 1, 7, 0, 0],
            [num_rows, num_rows + 5, 10, 11, 12, 0],
            [20, 21, 22, 23, 24, 25],
        ],
        "int32",
    )


def sequence_model(layer, shape, dtype="int32"):
    inputs = keras.Input(shape, dtype=dtype)
    return keras.Model(inputs, layer(inputs))


def fit_steps(model, x, steps=2, optimizer=None):
    target = np.random.default_rng(SEED + 1).normal(size=tuple(model.output.shape[1:]))
    target = np.broadcast_to(target, (len(x),) + target.shape).astype("float32")
    model.compile(optimizer=optimizer or keras.optimizers.SGD(0.1), loss="mse")
    for _ in range(steps):
        model.fit(x, target, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return target


def case_mixed():
    layer = PretrainedEmbedding.from_vectors(
        word_vectors(), vocabulary(), freeze="pretrained", seed=SEED, name="words"
    )
    x = word_ids(layer.input_dim)
    return sequence_model(layer, (SEQ,)), x, None


def case_int8_frozen():
    layer = PretrainedEmbedding.from_vectors(
        word_vectors(),
        vocabulary(),
        freeze="all",
        storage_dtype="int8",
        seed=SEED,
        name="words",
    )
    x = word_ids(layer.input_dim)
    return sequence_model(layer, (SEQ,)), x, None


def case_row_optimizer():
    layer = PretrainedEmbedding.from_vectors(
        word_vectors(),
        vocabulary(),
        freeze="none",
        seed=SEED,
        row_optimizer=keras_embedx.optimizers.LazyAdam(0.05),
        name="words",
    )
    x = word_ids(layer.input_dim)
    model = sequence_model(layer, (SEQ,))
    target = fit_steps(model, x, steps=2, optimizer=keras.optimizers.Adam(0.05))
    return model, x, target


def case_unfreeze_midway():
    layer = PretrainedEmbedding.from_vectors(
        word_vectors(),
        vocabulary(),
        freeze="pretrained",
        schedulable=True,
        seed=SEED,
        name="words",
    )
    x = word_ids(layer.input_dim)
    model = sequence_model(layer, (SEQ,))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.predict(x, verbose=0)  # builds the table
    layer.table.set_factor(0.5)  # what UnfreezeSchedule does between steps
    target = fit_steps(model, x, steps=2)
    return model, x, target


def case_subword_fasttext():
    from gensim.test.utils import datapath

    layer = SubwordEmbedding.from_fasttext(datapath("toy-model.bin"), name="subwords")
    x = np.array(layer.encode([["night", "nightz", "quxxq"], ["the"]]))
    assert x[1, 0, -1] == 0  # a padding slot of the bag of "the"
    x[1, 0, -1] = 10**6  # a unit id past the table
    return sequence_model(layer, tuple(x.shape[1:])), x, None


def char_case(encoder, **kwargs):
    keras.utils.set_random_seed(SEED)
    layer = CharEmbedding(
        DIM, encoder=encoder, max_chars=8, char_dim=3, name="chars", **kwargs
    )
    x = layer.encode([["unseen", "wörds", "ünïcødé"], ["work", "", ""]])
    x = np.array(x)
    x[1, 2, 3] = 10_000  # a character id past the inventory
    return sequence_model(layer, tuple(x.shape[1:])), x, None


def case_char_cnn():
    return char_case("cnn", filters=[[1, 2], [2, 3]], highway_layers=1)


def case_char_bilstm():
    return char_case("bilstm", lstm_units=3)


def token_position_case(position):
    keras.utils.set_random_seed(SEED)
    layer = TokenAndPosition(30, 8, DIM, position=position, name="tokens")
    x = word_ids(30)
    return sequence_model(layer, (SEQ,)), x, None


def case_token_position_learned():
    return token_position_case("learned")


def case_token_position_sinusoidal():
    return token_position_case("sinusoidal")


CASES = {
    name[len("case_") :]: fn
    for name, fn in sorted(globals().items())
    if name.startswith("case_")
}


def main(names):
    for name in names or CASES:
        keras.utils.set_random_seed(SEED)
        model, x, target = CASES[name]()
        y = model.predict(x, verbose=0)
        stem = os.path.join(HERE, f"{name}.{BACKEND}")
        model.save(stem + ".keras")
        arrays = {"x": np.asarray(x), "y": np.asarray(y)}
        if target is not None:
            arrays["target"] = target
            model.fit(x, target, batch_size=len(x), epochs=1, verbose=0)
            arrays["y_next"] = model.predict(x, verbose=0)
        np.savez(stem + ".npz", **arrays)
        print(f"{stem}.keras  x{arrays['x'].shape}  y{arrays['y'].shape}")


if __name__ == "__main__":
    main(sys.argv[1:])
