"""Keras layers of keras_embedx, each registered for `keras.models.load_model`.

`TableLayer` is the base of every layer that owns `EmbeddingTable`s; a
third-party layer derived from it is found by `UnfreezeSchedule`,
`export_projector`, `keras_embedx.distribution` and
`keras_embedx.evaluation` as the layers below are.
"""

from keras_embedx.layers.base import TableLayer, TableRef
from keras_embedx.layers.char import CharEmbedding
from keras_embedx.layers.pretrained import PretrainedEmbedding
from keras_embedx.layers.subword import SubwordEmbedding
from keras_embedx.layers.table import EmbeddingTable
from keras_embedx.layers.token_and_position import TokenAndPosition

__all__ = [
    "CharEmbedding",
    "EmbeddingTable",
    "PretrainedEmbedding",
    "SubwordEmbedding",
    "TableLayer",
    "TableRef",
    "TokenAndPosition",
]
