"""Keras layers of keras_embedx, each registered for `keras.models.load_model`."""

from keras_embedx.layers.char import CharEmbedding
from keras_embedx.layers.pretrained import PretrainedEmbedding
from keras_embedx.layers.subword import SubwordEmbedding
from keras_embedx.layers.token_and_position import TokenAndPosition

__all__ = [
    "CharEmbedding",
    "PretrainedEmbedding",
    "SubwordEmbedding",
    "TokenAndPosition",
]
