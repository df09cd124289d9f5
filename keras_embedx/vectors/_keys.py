"""The words of a `WordVectors`, stored compactly until they are needed.

A `Keys` holds either a list of str or the words' UTF-8 bytes joined by
`"\\n"` (one bytes object, no word holding a line break). The list and the
word -> row dict are built from the bytes the first time something asks for
them, so that opening a cache file or reading a text file creates no Python
object per word. Row counts (`len`) never need them.
"""

import zlib

import numpy as np

_MULTIPLIER = np.uint64(0x100000001B3)  # odd: every power is a unit mod 2**64
_HASH_WORDS = 1 << 16  # words hashed at a time: temporaries of a few MB


class Keys:
    """Words in row order: a list, or UTF-8 bytes decoded on first use.

    Args:
        words: optional list of str, the words (eager).
        index: optional dict, word -> row, for `words`.
        blob: optional bytes, the UTF-8 words joined by `"\\n"` (lazy);
            exactly one of `words` and `blob`.
        count: int, the number of words in `blob`.
        on_repeat: optional callable `(word, first_row, row)` called when
            the decoded words hold a repeat, to raise an error of its own;
            else a `ValueError` names the word.
    """

    __slots__ = ("_blob", "_count", "_words", "_index", "_on_repeat")

    def __init__(
        self, words=None, index=None, *, blob=None, count=None, on_repeat=None
    ):
        if (words is None) == (blob is None):
            raise ValueError("Keys take either `words` or `blob`.")
        self._words = words
        self._index = index
        self._blob = blob
        self._count = len(words) if words is not None else int(count)
        self._on_repeat = on_repeat

    def __len__(self):
        return self._count

    @property
    def decoded(self):
        """Whether the list of str exists already."""
        return self._words is not None

    @property
    def words(self):
        """list of str, in row order (decoded on first use)."""
        if self._words is None:
            words = self._blob.decode("utf-8").split("\n") if self._count else []
            if len(words) != self._count:
                raise ValueError(
                    f"{len(words)} words stored for {self._count} rows."
                )  # pragma: no cover - the readers check the count first
            self._words = words
        return self._words

    @property
    def index(self):
        """dict, word -> row (built on first use)."""
        if self._index is None:
            words = self.words
            index = dict(zip(words, range(len(words))))
            if len(index) != len(words):
                word, j, i = first_repeat(words)
                if self._on_repeat is not None:
                    self._on_repeat(word, j, i)
                raise ValueError(
                    f"the word {word!r} is listed twice, rows {j} and {i}."
                )
            self._index = index
        return self._index

    def rows(self, words, lowercase=False):
        """The row of each of `words` (a list of str), -1 for words not
        stored; with `lowercase=True`, the first row whose word's lowercase
        form equals the word (give it lowercase words).

        Decoded words answer from the index. Encoded ones are matched without
        decoding: a hash of every stored word's bytes (NumPy, a few MB at a
        time), a sort, and a byte comparison for each hash that matches.
        """
        if self._blob is None or (self._words is not None and not lowercase):
            if not lowercase:
                get = self.index.get
                return np.fromiter((get(w, -1) for w in words), np.int64, len(words))
            first = {}
            for k, w in enumerate(self.words):
                first.setdefault(w.lower(), k)
            return np.fromiter((first.get(w, -1) for w in words), np.int64, len(words))
        blob = self._blob
        if lowercase:
            blob = blob.lower() if blob.isascii() else blob.decode().lower().encode()
        return _match(blob, self._count, words)

    def utf8(self):
        """The words' UTF-8 bytes joined by `"\\n"`, or None when a word holds
        a line break."""
        if self._blob is not None:
            return self._blob
        encoded = [w.encode("utf-8") for w in self._words]
        if any(b"\n" in w for w in encoded):
            return None
        return b"\n".join(encoded)


class EncodedWords:
    """The words of a block of rows as UTF-8 bytes joined by `"\\n"`.

    Args:
        blob: bytes, valid UTF-8, the words joined by `"\\n"` (none holds one).
        count: int, the number of words.
    """

    __slots__ = ("blob", "count")

    def __init__(self, blob, count):
        self.blob = blob
        self.count = int(count)

    def __len__(self):
        return self.count

    def decode(self):
        """list of str."""
        return self.blob.decode("utf-8").split("\n") if self.count else []


def word_hashes(blob, count):
    """A uint64 hash of the bytes of each of the `count` words of `blob`
    (equal words, equal hashes)."""
    if not count:
        return np.empty(0, np.uint64)
    return _hashes(blob, *_word_bounds(blob, count))


def words_checksum(blob):
    """The CRC-32 of the stored words, as the cache header records it."""
    return f"crc32:{zlib.crc32(blob):08x}"


def first_repeat(words):
    """`(word, first row, row)` of the first word listed twice, else None."""
    first = {}
    for i, word in enumerate(words):
        j = first.setdefault(word, i)
        if j != i:
            return word, j, i
    return None


def _word_bounds(blob, count):
    """`(starts, ends)` of the `"\\n"`-separated words of `blob`."""
    b = np.frombuffer(blob, np.uint8)
    breaks = np.flatnonzero(b == 10)
    if len(breaks) != count - 1:
        raise ValueError(f"{len(breaks) + 1} words stored for {count} rows.")
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(b)]])
    return starts, ends


def _hashes(blob, starts, ends):
    """A polynomial hash (mod 2**64) of the bytes of each word."""
    b = np.frombuffer(blob, np.uint8)
    out = np.empty(len(starts), np.uint64)
    longest = int((ends - starts).max()) + 1 if len(starts) else 1
    powers = np.ones(longest, np.uint64)
    powers[1:] = np.cumprod(np.full(longest - 1, _MULTIPLIER, np.uint64))
    for a in range(0, len(starts), _HASH_WORDS):
        s = starts[a : a + _HASH_WORDS]
        lo, hi = int(s[0]), int(ends[a : a + _HASH_WORDS][-1])
        x = b[lo:hi].astype(np.uint64) + np.uint64(1)
        x[b[lo:hi] == 10] = 0  # the separators add nothing
        x = np.append(x, np.uint64(0))  # so an empty last word has a slot
        spans = np.diff(np.append(s - lo, hi - lo + 1))
        pos = np.arange(hi - lo + 1) - np.repeat(s - lo, spans)
        out[a : a + len(s)] = np.add.reduceat(
            x * powers[np.minimum(pos, longest - 1)], s - lo
        )
    return out


def _match(blob, count, words):
    """Rows of `words` among the words of `blob`, the first of equal ones."""
    rows = np.full(len(words), -1, np.int64)
    if not count or not len(words):
        return rows
    starts, ends = _word_bounds(blob, count)
    stored = _hashes(blob, starts, ends)
    order = np.argsort(stored, kind="stable")  # equal hashes: rows ascending
    stored = stored[order]
    queries, ids = [], []
    for i, word in enumerate(words):
        try:
            encoded = word.encode("utf-8")
        except (AttributeError, UnicodeEncodeError):  # not str, lone surrogate
            continue
        if b"\n" not in encoded:  # no stored word holds a line break
            queries.append(encoded)
            ids.append(i)
    if not queries:
        return rows
    joined = b"\n".join(queries)
    q_starts, q_ends = _word_bounds(joined, len(queries))
    wanted = _hashes(joined, q_starts, q_ends)
    at = np.searchsorted(stored, wanted)
    for i, query, k, h in zip(ids, queries, at.tolist(), wanted.tolist()):
        while k < count and int(stored[k]) == h:
            row = int(order[k])
            if blob[starts[row] : ends[row]] == query:
                rows[i] = row
                break
            k += 1
    return rows
