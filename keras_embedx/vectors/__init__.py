"""Word vector files: readers, the in-memory `WordVectors`, the binary cache."""

from keras_embedx.vectors.errors import VectorFileError, VectorFileWarning
from keras_embedx.vectors.load import FORMATS, detect_format, load_vectors
from keras_embedx.vectors.npy import load_glove_6b_50d, load_npy_vectors
from keras_embedx.vectors.word_vectors import WordVectors

__all__ = [
    "FORMATS",
    "VectorFileError",
    "VectorFileWarning",
    "WordVectors",
    "detect_format",
    "load_glove_6b_50d",
    "load_npy_vectors",
    "load_vectors",
]
