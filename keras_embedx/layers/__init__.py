"""Keras layers of keras_embedx, each registered for `keras.models.load_model`."""

from keras_embedx.layers.pretrained import PretrainedEmbedding
from keras_embedx.layers.subword import SubwordEmbedding

__all__ = ["PretrainedEmbedding", "SubwordEmbedding"]
