"""The words of a `WordVectors`, stored compactly until they are needed.

A `Keys` holds either a list of str or the words' UTF-8 bytes joined by
`"\\n"` (one bytes object, no word holding a line break). The list and the
word -> row dict are built from the bytes the first time something asks for
them, so that opening a cache file or reading a text file creates no Python
object per word. Row counts (`len`) never need them.
"""

import zlib


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

    def utf8(self):
        """The words' UTF-8 bytes joined by `"\\n"`, or None when a word holds
        a line break."""
        if self._blob is not None:
            return self._blob
        encoded = [w.encode("utf-8") for w in self._words]
        if any(b"\n" in w for w in encoded):
            return None
        return b"\n".join(encoded)


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
