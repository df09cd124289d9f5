"""Deprecated: `keras_embedx.preprocessing.ngrams` (removed in the next release)."""

from keras_embedx._deprecated import moved_module
from keras_embedx.preprocessing import ngrams as _ngrams
from keras_embedx.preprocessing.ngrams import *  # noqa: F403

__all__ = _ngrams.__all__

moved_module("keras_embedx.subwords", "keras_embedx.preprocessing.ngrams")
