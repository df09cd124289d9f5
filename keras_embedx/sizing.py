"""Rules of thumb for choosing an embedding width."""

import math

from keras_embedx._checks import check_positive_int

_RULES = ("fourth_root", "fastai")


def suggest_dim(vocab_size, rule="fourth_root"):
    """Suggest an embedding width for a vocabulary of `vocab_size` rows.

    Two published rules of thumb are available:

    - `"fourth_root"` (default): `vocab_size ** 0.25`, the rule given in the
      Google Developers blog post "Introducing TensorFlow Feature Columns"
      (2017), rounded up to a multiple of 8 (kernels prefer aligned widths)
      and never below 8.
    - `"fastai"`: `round(1.6 * vocab_size ** 0.56)`, capped at 600, the rule
      of fast.ai's `emb_sz_rule` (fastai `tabular/model.py`). It gives wider
      tables, closer to the 100-300 widths of published word vectors.

    Both are starting points. With pretrained vectors, the width is the
    vectors' own.

    Args:
        vocab_size: int, the number of rows (words plus the reserved
            padding and OOV rows).
        rule: `"fourth_root"` or `"fastai"`.

    Returns:
        int, a suggested width.

    Example:

    >>> import keras_embedx
    >>> keras_embedx.suggest_dim(20_000)
    16
    >>> keras_embedx.suggest_dim(20_000, rule="fastai")
    410
    """
    vocab_size = check_positive_int("vocab_size", vocab_size)
    if rule == "fourth_root":
        return max(8, 8 * math.ceil(vocab_size**0.25 / 8))
    if rule == "fastai":
        return min(600, round(1.6 * vocab_size**0.56))
    raise ValueError(f"`rule` must be one of {_RULES}. Received: rule={rule!r}")
