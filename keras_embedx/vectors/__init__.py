"""Word vector files: readers, the in-memory `WordVectors`, the binary cache."""

from keras_embedx.vectors.load import load_vectors
from keras_embedx.vectors.word_vectors import WordVectors

__all__ = ["WordVectors", "load_vectors"]
