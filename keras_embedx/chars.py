"""Deprecated: `keras_embedx.preprocessing.chars` (removed in the next release)."""

import warnings

from keras_embedx._deprecated import moved_module
from keras_embedx.preprocessing.chars import (  # noqa: F401
    BOW_CHAR,
    BOW_ID,
    EOW_CHAR,
    EOW_ID,
    NUM_BYTES,
    NUM_RESERVED,
    OOV_CHAR,
    OOV_ID,
    PAD_CHAR,
    PAD_ID,
    RESERVED,
    CharInventory,
    normalize_chars,
)

moved_module("keras_embedx.chars", "keras_embedx.preprocessing.chars")


def polarity_demo(epochs=8, seed=0, max_chars=16, verbose=0):
    """Deprecated alias of `keras_embedx.demo.word_char_demo`.

    Emits a `DeprecationWarning` and runs `word_char_demo` with the same
    arguments; the alias is removed in the next release.
    """
    warnings.warn(
        "`keras_embedx.chars.polarity_demo` moved to "
        "`keras_embedx.demo.word_char_demo` (same arguments, same result); "
        "the old name is removed in the next release.",
        DeprecationWarning,
        stacklevel=2,
    )
    from keras_embedx.demo import word_char_demo

    return word_char_demo(
        epochs=epochs, seed=seed, max_chars=max_chars, verbose=verbose
    )
