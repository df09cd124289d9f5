"""The models every `model.export` test exports, and the batch they serve.

Each case is one keras_embedx layer in a small model (layer, average pooling,
Dense), plus `stock`, the same model around `keras.layers.Embedding`: where
Keras cannot export `stock`, the format is out of scope on that backend.
The model's input has the batch's shape, but for `char_unknown_words`, whose
rows hold any number of words of any length (`keras.Input((None, None))`, as
`word_char_model` builds).

Every case serves one batch of four rows holding padding (0), OOV ids (1),
and ids outside the table, negative and past its end. The expected outputs
are the Keras model's own predictions; `test_export.py` also checks, against
the tables themselves, that the layers read the OOV row for ids outside
them.
"""

import keras
import numpy as np

# Word-level ids relative to the table size `n`: row 0 plain words and
# padding, row 1 OOV ids, rows 2 and 3 ids outside the table on either side.
WORD_ROWS = (
    (5, 9, 2, 7, 0, 0),
    (1, 7, 1, 3, 0, 0),
    (-1, "n", 4, "n+100", 3, 0),
    ("-n", 2, "2n", 6, -7, 8),
)
WORDS = (["night", "light"], ["sight"], ["nightz", "night", "fight"], ["light"])
SEQ = len(WORD_ROWS[0])
DIM = 5  # crime-and-punishment.vec and toy-model.bin are 5-dimensional


def word_ids(n):
    """The word-level batch `[4, SEQ]` (int32) for a table of `n` rows."""
    resolve = {"n": n, "n+100": n + 100, "2n": 2 * n, "-n": -n}
    return np.array(
        [[resolve.get(v, v) for v in row] for row in WORD_ROWS], dtype="int32"
    )


def bag_ids(encoded, n):
    """`encoded` `[4, words, bag]` with padding, OOV and out-of-range ids.

    Row 1's second word becomes a padding word, its first word's first unit
    OOV; rows 2 and 3 get ids outside the `n` rows, negative and past the end.
    """
    x = np.array(encoded, dtype="int32")
    x[1, 1, :] = 0
    x[1, 0, 0] = 1
    x[2, 0, 0] = -1
    x[2, 1, 1] = n
    x[3, 0, 1] = n + 50
    x[3, 0, 2] = -n
    return x


def in_range(x, n, oov_id=1):
    """`x` with every id outside `[0, n)` replaced by `oov_id`."""
    return np.where((x < 0) | (x >= n), oov_id, x).astype(x.dtype)


def _model(layer, x, shape=None):
    inputs = keras.Input(x.shape[1:] if shape is None else shape, dtype="int32")
    h = layer(inputs)
    h = keras.layers.GlobalAveragePooling1D()(h)
    outputs = keras.layers.Dense(3, kernel_initializer="glorot_normal")(h)
    return keras.Model(inputs, outputs)


def _vectors():
    from gensim.test.utils import datapath

    import keras_embedx

    return keras_embedx.load_vectors(
        datapath("crime-and-punishment.vec"), progress=False
    )


def _vocabulary(wv):
    # Words the vectors know, then two they don't (trainable rows).
    return [*wv.words[:40], "zzqx-unseen", "blorptastic"]


def _mixed():
    from keras_embedx.layers import PretrainedEmbedding

    wv = _vectors()
    return PretrainedEmbedding.from_vectors(
        wv, _vocabulary(wv), freeze="pretrained", seed=0
    )


def _int8():
    from keras_embedx.layers import PretrainedEmbedding

    wv = _vectors()
    return PretrainedEmbedding.from_vectors(
        wv, _vocabulary(wv), freeze="all", storage_dtype="int8", seed=0
    )


def _subword():
    from gensim.test.utils import datapath

    from keras_embedx.layers import SubwordEmbedding

    return SubwordEmbedding.from_fasttext(datapath("toy-model.bin"))


def _char():
    from keras_embedx.layers import CharEmbedding

    return CharEmbedding(
        DIM, char_dim=4, filters=[[1, 3], [2, 4], [3, 5]], max_chars=12
    )


def _token_and_position():
    from keras_embedx.layers import TokenAndPosition

    return TokenAndPosition(50, SEQ, DIM)


def _token_and_position_sinusoidal():
    from keras_embedx.layers import TokenAndPosition

    return TokenAndPosition(50, SEQ, DIM, position="sinusoidal")


def _stock():
    return keras.layers.Embedding(50, DIM, mask_zero=True)


# name: (builder, kind of input); the input shape is the batch's but for
# the cases of `UNKNOWN_SHAPES`.
CASES = {
    "mixed": (_mixed, "words"),
    "int8": (_int8, "words"),
    "subword": (_subword, "bags"),
    "char": (_char, "bags"),
    "char_unknown_words": (_char, "bags"),
    "token_and_position": (_token_and_position, "words"),
    "token_and_position_sinusoidal": (_token_and_position_sinusoidal, "words"),
    "stock": (_stock, "words"),
}


# Inputs with lengths unknown until the model runs: `word_char_model`'s
# `[batch, words, chars]` with any number of words per row.
UNKNOWN_SHAPES = {"char_unknown_words": (None, None)}


def num_rows(layer):
    """Rows of the table `layer`'s ids index (ids outside read the OOV row)."""
    for attr in ("num_chars", "num_rows", "vocabulary_size", "input_dim"):
        if hasattr(layer, attr):
            return getattr(layer, attr)
    raise TypeError(type(layer).__name__)


def build(name):
    """`(model, layer, x)`: the case's model, its embedding layer, the batch.

    The `stock` case gets the batch with every id in range (stock
    `Embedding` gives each backend its own result for the others).
    """
    keras.utils.set_random_seed(0)
    builder, kind = CASES[name]
    layer = builder()
    n = num_rows(layer)
    if kind == "words":
        x = word_ids(n)
    else:
        x = bag_ids(layer.encode(list(WORDS)), n)
    if name == "stock":
        x = in_range(x, n)
    return _model(layer, x, UNKNOWN_SHAPES.get(name)), layer, x


def run_litert(x, model_path=None, model_content=None):
    """What the LiteRT interpreter predicts for `x` (batch resized to fit)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=model_path, model_content=model_content)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
