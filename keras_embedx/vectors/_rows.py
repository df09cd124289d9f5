"""Collect parsed rows into one float32 matrix, as every reader does.

Rows arrive in blocks. The collector keeps the first occurrence of each word,
optionally only the words of a vocabulary, and grows one preallocated matrix in
place (`ndarray.resize`, a `realloc`), so the peak memory of a load stays close
to the size of the final matrix instead of twice it.
"""

import warnings

import numpy as np

from keras_embedx.vectors._keys import EncodedWords, Keys, word_hashes
from keras_embedx.vectors.errors import VectorFileWarning

_GROWTH = 1.25

#: The longest row any reader accepts, in bytes: a text line (a 65,536-wide
#: row at 15 characters a number) or a binary row (262,144 float32 values).
#: Longer rows, and headers announcing them, are refused before anything is
#: allocated for them.
MAX_ROW_BYTES = 1 << 20


def vocabulary_set(vocabulary, lowercase=False):
    """The words to keep: a set of str from a list of words, a set, or a
    `Vocabulary`; with `lowercase=True` a `VocabularyFilter` that also keeps
    words equal to one of them ignoring case."""
    if vocabulary is None:
        return None
    if hasattr(vocabulary, "get_vocabulary"):
        # A keras_embedx Vocabulary lists its words without the reserved ones.
        tokens = getattr(vocabulary, "tokens", None)
        vocabulary = vocabulary.get_vocabulary() if tokens is None else tokens
    if isinstance(vocabulary, (str, bytes)):
        raise TypeError(
            "`vocabulary` must be a collection of words, not a single "
            f"{type(vocabulary).__name__}. Received: {vocabulary!r:.60}"
        )
    words = set(vocabulary)
    bad = next((w for w in words if not isinstance(w, str)), None)
    if bad is not None:
        raise TypeError(
            f"`vocabulary` must hold str words. Received an item {bad!r} of type "
            f"{type(bad).__name__}"
        )
    if not words:
        raise ValueError(
            "`vocabulary` is empty: pass the words to keep, or "
            "vocabulary=None to load every word."
        )
    return VocabularyFilter(words) if lowercase else words


class VocabularyFilter:
    """Vocabulary words, and any word equal to one of them ignoring case.

    `word in filter` is true for the vocabulary's own words and for words
    whose lowercase form is a vocabulary word's lowercase form: the rows
    `keras_embedx.vocabulary.align_to_vectors(..., lowercase=True)` may fall
    back to. `keep_needed` then drops the ones no vocabulary word needs.

    Args:
        words: set of str, the vocabulary.
    """

    def __init__(self, words):
        self.words = words
        self.lower = {w.lower() for w in words}

    def __contains__(self, word):
        return word in self.words or word.lower() in self.lower

    def __len__(self):
        return len(self.words)

    def __iter__(self):
        return iter(self.words)

    def keep_needed(self, words):
        """Positions in `words` (file order) that alignment can use.

        A vocabulary word itself is always kept. A word that is not in the
        vocabulary is kept only when it is the first word of the file whose
        lowercase form equals that of a vocabulary word missing from the file:
        the row the lowercase fallback takes.
        """
        present = self.words.intersection(words)
        wanted = {w.lower() for w in self.words - present}
        keep, first = [], set()
        for i, word in enumerate(words):
            lower = word.lower()
            if word in present or (lower in wanted and lower not in first):
                keep.append(i)
            first.add(lower)
        return keep


class RowCollector:
    """Accumulates `(word, vector)` rows; first occurrence of a word wins.

    Args:
        dim: int, the vector width.
        capacity: int, the expected number of kept rows (a hint: the matrix
            grows past it when needed and is trimmed to size at the end).
        vocabulary: optional set of str; rows for other words are dropped.
    """

    def __init__(self, dim, capacity, vocabulary=None):
        self.dim = int(dim)
        self.capacity = max(1, int(capacity))
        self.vocabulary = vocabulary
        self.words = []
        self.index = {}
        self.n = 0
        self.duplicates = 0
        self.first_duplicate = None  # (word, where)
        self._matrix = None

    def add(self, words, vectors, wheres):
        """Add a block: `words` (list of str), `vectors` `[len(words), dim]`,
        `wheres` (the line or row number of each, for messages)."""
        if not words:
            return
        if self.vocabulary is not None:
            vocab = self.vocabulary
            keep = [i for i, w in enumerate(words) if w in vocab]
            if len(keep) < len(words):
                words = [words[i] for i in keep]
                vectors = vectors[keep]
                wheres = np.asarray(wheres)[keep]
            if not words:
                return
        start = self.n
        # Two passes over the words when the block brings only new ones: a
        # repeat inside the block shows as fewer new entries than rows.
        size = len(self.index)
        if self.index.keys().isdisjoint(words):
            self.index.update(zip(words, range(start, start + len(words))))
            if len(self.index) == size + len(words):
                self.words.extend(words)
                self._store(vectors, start)
                return
            for w in words:  # every word of the block is new: undo them all
                self.index.pop(w, None)
        keep = []
        for i, w in enumerate(words):
            if w in self.index:
                self.duplicates += 1
                if self.first_duplicate is None:
                    self.first_duplicate = (w, int(wheres[i]))
                continue
            self.index[w] = start + len(keep)
            self.words.append(w)
            keep.append(i)
        self._store(vectors[keep], start)

    def _store(self, rows, start):
        count = len(rows)
        self._reserve(start + count)
        self._matrix[start : start + count] = rows
        self.n = start + count

    def _reserve(self, need):
        if self._matrix is None:
            self._matrix = np.empty((max(need, self.capacity), self.dim), np.float32)
        elif need > self._matrix.shape[0]:
            grown = max(need, int(self._matrix.shape[0] * _GROWTH) + 1)
            self._matrix.resize((grown, self.dim), refcheck=False)

    def finish(self):
        """`(words, vectors, index)`, the matrix trimmed to the rows kept."""
        if self._matrix is None:
            matrix = np.empty((0, self.dim), np.float32)
        else:
            matrix = self._matrix
            self._matrix = None
            if matrix.shape[0] != self.n:
                matrix.resize((self.n, self.dim), refcheck=False)
        return self.words, matrix, self.index

    def _compact(self, keep):
        """Keep only rows `keep` (increasing) of the first `self.n`, in place:
        each kept row moves down, never up, so chunks copy safely."""
        step = max(1, (4 << 20) // max(1, 4 * self.dim))
        for a in range(0, len(keep), step):
            ids = keep[a : a + step]
            self._matrix[a : a + len(ids)] = self._matrix[ids]
        self.n = len(keep)

    def warn_duplicates(self, name, unit="line"):
        if self.duplicates:
            word, where = self.first_duplicate
            warnings.warn(
                f"{name}: {self.duplicates} duplicate word"
                f"{'s' if self.duplicates > 1 else ''}; kept the first occurrence "
                f"of each (first repeat: {word!r} at {unit} {where}).",
                VectorFileWarning,
                stacklevel=4,
            )


class KeyRows(RowCollector):
    """A `RowCollector` that keeps the words encoded (`Keys` from UTF-8
    bytes) instead of a list of str and a dict.

    Each block's words arrive as `EncodedWords`, or as a list of str that is
    joined and encoded once, and a hash of each word's bytes is kept (NumPy,
    see `_keys`). Repeated words are found at the end by sorting the hashes,
    and only words whose hashes are equal are compared as str. So a load creates no lasting Python
    object per word: the list and the index are built on first use (see
    `Keys`).

    Args:
        dim: int, the vector width.
        capacity: int, the expected number of rows (a hint).
    """

    def __init__(self, dim, capacity):
        super().__init__(dim, capacity)
        self._parts = []
        self._hashes = []
        self._wheres = []

    def add(self, words, vectors, wheres):
        if not len(words):
            return
        if isinstance(words, EncodedWords):
            blob = words.blob
        else:
            blob = "\n".join(words).encode("utf-8")
        self._parts.append(blob)
        # Hashed a block at a time: NumPy's temporaries stay small.
        self._hashes.append(word_hashes(blob, len(words)))
        wheres = np.asarray(wheres, np.int64)
        if wheres[-1] - wheres[0] == len(wheres) - 1:
            wheres = (int(wheres[0]), len(wheres))  # consecutive lines
        self._wheres.append(wheres)
        self._store(vectors, self.n)

    def finish(self):
        """`(Keys, vectors, None)`, repeated words dropped (the first wins)."""
        blob = b"\n".join(self._parts)
        self._parts = []
        keys = Keys(blob=blob, count=self.n)
        if self.n > 1:
            hashes = np.concatenate(self._hashes)
            hashes.sort()
            if (hashes[1:] == hashes[:-1]).any():
                keys = self._drop_repeats(keys.words)
        self._hashes = []
        _, matrix, _ = super().finish()
        return keys, matrix, None

    def _drop_repeats(self, words):
        """Drop every repeat of a word (a hash collision alone keeps both)."""
        index = {}
        keep = []
        for i, word in enumerate(words):
            if index.setdefault(word, len(keep)) == len(keep):
                keep.append(i)
        self.duplicates = len(words) - len(keep)
        if not self.duplicates:
            return Keys(words, index)
        wheres = np.concatenate(
            [
                w if isinstance(w, np.ndarray) else np.arange(w[0], w[0] + w[1])
                for w in self._wheres
            ]
        )
        dropped = np.setdiff1d(np.arange(len(words)), keep)
        first = int(dropped[0])
        self.first_duplicate = (words[first], int(wheres[first]))
        self._compact(np.asarray(keep, np.int64))
        return Keys([words[i] for i in keep], index)
