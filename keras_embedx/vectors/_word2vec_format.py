"""The file arguments of gensim's `load_word2vec_format` / `save_word2vec_format`."""

import codecs
import os
import warnings

import numpy as np

from keras_embedx._checks import check_bool
from keras_embedx.vectors.errors import VectorFileError, VectorFileWarning


def check_unicode_errors(unicode_errors):
    """`unicode_errors` as the name of a Python decoding error handler."""
    if not isinstance(unicode_errors, str):
        raise TypeError(
            "`unicode_errors` must be a str such as 'strict', 'replace' or "
            f"'ignore'. Received: unicode_errors={unicode_errors!r}"
        )
    try:
        codecs.lookup_error(unicode_errors)
    except LookupError:
        raise ValueError(
            "`unicode_errors` must name a Python error handler such as 'strict', "
            f"'replace' or 'ignore'. Received: unicode_errors={unicode_errors!r}"
        ) from None
    return unicode_errors


def word2vec_format(binary, no_header):
    """The `load_vectors` format gensim's `binary=` / `no_header=` ask for."""
    binary = check_bool("binary", binary)
    no_header = check_bool("no_header", no_header)
    if binary and no_header:
        raise ValueError(
            "word2vec binary files always start with a `count dim` header; "
            "`no_header=True` reads GloVe text. Received: binary=True, "
            "no_header=True"
        )
    if binary:
        return "word2vec_binary"
    return "glove" if no_header else "word2vec_text"


def redecode(words, encoding, unicode_errors):
    """Words read as Latin-1 (one char per byte), decoded again in `encoding`
    with the error handler `unicode_errors`.

    Returns:
        `(words, keep)`: the decoded words, first occurrence of each, and
        the rows they come from (None when nothing collapsed).
    """
    decoded = [w.encode("latin-1").decode(encoding, unicode_errors) for w in words]
    index = {}
    for row, word in enumerate(decoded):
        index.setdefault(word, row)
    if len(index) == len(decoded):
        return decoded, None
    warnings.warn(
        f"{len(decoded) - len(index)} words became duplicates once decoded with "
        f"unicode_errors={unicode_errors!r}; kept the first occurrence of each.",
        VectorFileWarning,
        stacklevel=3,
    )
    keep = np.fromiter(index.values(), np.int64, len(index))
    return list(index), keep


def read_vocab_counts(fvocab, words, encoding, unicode_errors):
    """int64 counts of `words` from a word2vec `-save-vocab` file
    (`word count` lines); a word the file lacks counts 0, with a warning."""
    fvocab = os.fspath(fvocab)
    counts = {}
    with open(fvocab, "rb") as f:
        for number, line in enumerate(f, 1):
            fields = line.decode(encoding, unicode_errors).split()
            if not fields:
                continue
            if len(fields) != 2 or not fields[1].isdigit():
                raise VectorFileError(
                    f"expected `word count`. Received: {line[:80]!r}", fvocab, number
                )
            counts.setdefault(fields[0], int(fields[1]))
    found = np.fromiter((counts.get(w, -1) for w in words), np.int64, len(words))
    missing = int((found < 0).sum())
    if missing:
        first = words[int(np.flatnonzero(found < 0)[0])]
        warnings.warn(
            f"{fvocab}: {missing} words have no count (first: {first!r}); they "
            "count 0.",
            VectorFileWarning,
            stacklevel=3,
        )
        found[found < 0] = 0
    return found
