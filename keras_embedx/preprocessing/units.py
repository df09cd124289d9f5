"""Words and their units as padded NumPy arrays, host-side (NumPy only).

The encoders of the subword layers turn text into ragged bags of unit ids
(a word's n-gram rows, or a word's tokenizer units) and pad them into the
rectangular int32 arrays a layer takes. These helpers do that bookkeeping
once, with array arithmetic, for any kind of unit.
"""

import numpy as np

__all__ = ["pad_bags", "split_batch", "word_positions"]


def split_batch(words_or_sentences):
    """A batch of sentences (lists of words) from what an `encode` accepts.

    A str is one text split on whitespace; a flat list of words is one
    sentence; a list of lists (or of str, each split on whitespace) is a
    batch. NumPy arrays are read as the lists they hold.

    Args:
        words_or_sentences: a str, a list of words, or a list of sentences.

    Returns:
        `(batch, single)`: a list of lists of words, and whether the input
        was one sentence.

    Example:

    >>> from keras_embedx.preprocessing.units import split_batch
    >>> split_batch(["a b", ["c"]])
    ([['a', 'b'], ['c']], False)
    """
    data = words_or_sentences
    if isinstance(data, np.ndarray):
        data = data.tolist()
    if isinstance(data, (str, bytes)):
        return [data.split()], True
    data = list(data)
    if all(isinstance(w, (str, bytes)) for w in data):
        return [data], True
    batch = []
    for i, sentence in enumerate(data):
        if isinstance(sentence, np.ndarray):
            sentence = sentence.tolist()
        if isinstance(sentence, (str, bytes)):
            sentence = sentence.split()
        elif not isinstance(sentence, (list, tuple)):
            raise TypeError(
                "Expected a str, a list of words or a list of sentences (lists "
                f"of words). Received at index {i}: {type(sentence).__name__}"
            )
        batch.append(list(sentence))
    return batch, False


def pad_bags(bags, counts, width):
    """Rows `[n, width]` from concatenated bags (`counts` entries each), 0-padded.

    A bag longer than `width` keeps its first `width` entries.

    Args:
        bags: int array, the bags back to back.
        counts: int array `[n]`, the length of each bag.
        width: int, columns of the result.

    Returns:
        int32 ndarray `[n, width]`.

    Example:

    >>> import numpy as np
    >>> from keras_embedx.preprocessing.units import pad_bags
    >>> pad_bags(np.array([5, 6, 7]), np.array([2, 1]), 3).tolist()
    [[5, 6, 0], [7, 0, 0]]
    """
    n = counts.shape[0]
    out = np.zeros((n, width), np.int32)
    keep = np.minimum(counts, width)
    starts = np.cumsum(counts) - counts
    word = np.repeat(np.arange(n), keep)
    pos = np.arange(word.shape[0]) - np.repeat(np.cumsum(keep) - keep, keep)
    out[word, pos] = bags[np.repeat(starts, keep) + pos]
    return out


def word_positions(kept):
    """Position within its sentence of each kept word.

    Args:
        kept: int array `[batch]`, words kept per sentence.

    Returns:
        int ndarray `[sum(kept)]`.

    Example:

    >>> from keras_embedx.preprocessing.units import word_positions
    >>> word_positions([2, 3]).tolist()
    [0, 1, 0, 1, 2]
    """
    total = int(np.sum(kept))
    return np.arange(total) - np.repeat(np.cumsum(kept) - kept, kept)
