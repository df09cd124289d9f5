"""Deprecated: `keras_embedx.preprocessing.ngrams` (removed in the next release)."""

from keras_embedx._deprecated import moved_module
from keras_embedx.preprocessing.ngrams import (  # noqa: F401
    EOS,
    FNV_OFFSET_BASIS,
    FNV_PRIME,
    fasttext_hash,
    ngram_hashes,
    ngrams,
    segment_mean,
    subword_rows,
)

moved_module("keras_embedx.subwords", "keras_embedx.preprocessing.ngrams")

__all__ = [
    "EOS",
    "FNV_OFFSET_BASIS",
    "FNV_PRIME",
    "fasttext_hash",
    "ngram_hashes",
    "ngrams",
    "segment_mean",
    "subword_rows",
]
