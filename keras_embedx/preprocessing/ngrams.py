"""fastText's character n-grams and their hash, in pure NumPy/Python.

fastText represents a word by the rows of its input matrix that belong to the
word itself (when it is in the vocabulary) and to the character n-grams of
`"<" + word + ">"`. This module reproduces that bookkeeping exactly, following
fastText's `Dictionary::computeSubwords` and `Dictionary::hash`
(facebookresearch/fastText, `src/dictionary.cc`):

- The word is bracketed, `"<" + word + ">"`, and encoded as UTF-8. fastText
  works on these **bytes**: a "character" is a byte that is not a UTF-8
  continuation byte (`0b10xxxxxx`) together with the continuation bytes that
  follow it, so n-gram lengths count code points for valid UTF-8, and a
  continuation byte never starts an n-gram.
- The n-grams are every run of `minn..maxn` characters, ordered by start
  position, then by length. A 1-gram at the very start (`"<"`) or the very
  end (`">"`) is skipped. The whole `"<word>"` is an n-gram when it is short
  enough. With `maxn == 0`, or `minn > maxn`, there are none.
- The hash is 32-bit FNV-1a over the n-gram's bytes, each byte sign-extended
  (read as `int8`) before the XOR. The n-gram's row is
  `nwords + hash % bucket`.
- The special end-of-sentence token `"</s>"` has no n-grams, only its own row.
- A word's vector is the mean of its rows, added one after another in
  float32 and multiplied by `float32(1 / n)` (`segment_mean`), which makes it
  bit-identical to fastText's `getWordVector`.

Nothing is normalised: words are used exactly as given (no Unicode
normalisation, no lower-casing, no stripping), so `"é"` written as one code
point and as `"e"` plus a combining accent hash differently, as in fastText.
Whitespace inside a word is an ordinary character. The empty word `""` becomes
`"<>"`, which has no n-gram of length 3 or more.

Words may be `str` (encoded as UTF-8; a string that cannot be encoded, such as
one holding a lone surrogate, raises `ValueError`) or `bytes`, which are used
as they are, like fastText does, even when they are not valid UTF-8.

Cost: a word of `L` characters has at most `(L + 2) * (maxn - minn + 1)`
n-grams, so the work is linear in its length. fastText itself enumerates all
of them; so does this module by default, and a 10,000-character word costs
about 40,000 n-grams with the default `minn=3, maxn=6`. Pass `max_word_chars`
to cut longer words to their first `max_word_chars` characters before the
brackets are added (the result is then fastText's for the cut word, no longer
for the original).

Reference:
    Bojanowski et al., "Enriching Word Vectors with Subword Information",
    TACL 2017; fastText `src/dictionary.cc`.
"""

import numpy as np

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

#: fastText's end-of-sentence token: it gets its own row and no n-grams.
EOS = "</s>"
#: 32-bit FNV-1a offset basis, the hash of the empty string.
FNV_OFFSET_BASIS = 2166136261
#: 32-bit FNV-1a prime.
FNV_PRIME = 16777619

_MASK32 = 0xFFFFFFFF
# Byte value -> the uint32 fastText XORs in: the byte read as int8, then
# sign-extended to 32 bits (0x80..0xFF become 0xFFFFFF80..0xFFFFFFFF).
_SIGN_EXTENDED = np.arange(256, dtype=np.uint8).view(np.int8).astype(np.int64)
_SIGN_EXTENDED = (_SIGN_EXTENDED & _MASK32).astype(np.uint32)


def fasttext_hash(data):
    """fastText's 32-bit FNV-1a hash of a string, as an int in `[0, 2**32)`.

    Each byte is sign-extended (read as `int8`) before it is XOR-ed in, as in
    fastText's `Dictionary::hash`, so bytes `>= 0x80` hash differently from
    textbook FNV-1a.

    Args:
        data: `bytes`, or a `str` (hashed as its UTF-8 encoding).

    Returns:
        int, the unsigned 32-bit hash.

    Example:

    >>> from keras_embedx.preprocessing.ngrams import fasttext_hash
    >>> fasttext_hash(b"")
    2166136261
    >>> fasttext_hash("<wh") % 2_000_000
    167652
    """
    h = FNV_OFFSET_BASIS
    for b in _to_bytes(data, "data"):
        h = ((h ^ int(_SIGN_EXTENDED[b])) * FNV_PRIME) & _MASK32
    return h


def ngrams(word, minn=3, maxn=6):
    """The character n-grams fastText uses for `word`, in fastText's order.

    Args:
        word: `str` or `bytes`. See the module docstring for how each is
            handled.
        minn: int >= 0, shortest n-gram in characters.
        maxn: int >= 0, longest n-gram in characters; 0 means none.

    Returns:
        A list of `str` when `word` is a `str`, a list of `bytes` when it is
        `bytes` (n-grams of invalid UTF-8 may not decode).

    Example:

    >>> from keras_embedx.preprocessing.ngrams import ngrams
    >>> ngrams("where", 3, 4)
    ['<wh', '<whe', 'whe', 'wher', 'her', 'here', 'ere', 'ere>', 're>']
    """
    if isinstance(word, str):
        pieces = ngrams(_encode_str(word, 0), minn, maxn)
        return [p.decode("utf-8") for p in pieces]
    data = _to_bytes(word, "word")
    minn, maxn = _check_lengths(minn, maxn)
    buf = b"<" + data + b">"
    spans = _spans(
        np.frombuffer(buf, np.uint8),
        np.zeros(1, np.int64),
        np.ones(1, np.int64),
        minn,
        maxn,
    )
    return [buf[s:e] for s, e in zip(spans[0].tolist(), spans[1].tolist())]


def ngram_hashes(words, minn=3, maxn=6, bucket=2_000_000, max_word_chars=None):
    """Hash the n-grams of many words at once, vectorised with NumPy.

    All words are encoded into one byte buffer; the n-gram byte spans are found
    with array arithmetic and FNV-1a runs over every n-gram at once, one byte
    position per step, so the Python-level work does not grow with the number
    of words.

    Args:
        words: a list (or other iterable, or 1-D array) of `str` / `bytes`.
            A single `str` is rejected: wrap it in a list.
        minn: int >= 0, shortest n-gram in characters (fastText default 3).
        maxn: int >= 0, longest n-gram in characters (default 6); 0 means no
            n-grams.
        bucket: positive int, the number of hash buckets: the result is
            `hash % bucket`. `None` returns the raw 32-bit hashes.
        max_word_chars: `None` (default, exact) or a positive int: longer
            words are cut to their first `max_word_chars` characters first.

    Returns:
        A tuple `(ids, row_splits)` of int64 arrays: the n-grams of word `i`
        are `ids[row_splits[i]:row_splits[i + 1]]`, in fastText's order, and
        `len(row_splits) == len(words) + 1`.

    Example:

    >>> from keras_embedx.preprocessing.ngrams import ngram_hashes
    >>> ids, splits = ngram_hashes(["a", "hi"], 3, 6, bucket=100)
    >>> splits.tolist()
    [0, 1, 4]
    """
    minn, maxn = _check_lengths(minn, maxn)
    if bucket is not None:
        if isinstance(bucket, bool) or not isinstance(bucket, (int, np.integer)):
            raise TypeError(
                f"`bucket` must be a positive int or None. Received: bucket={bucket!r}"
            )
        if bucket <= 0:
            raise ValueError(
                f"`bucket` must be a positive int or None. Received: bucket={bucket}"
            )
    encoded = _encode_all(words, max_word_chars)
    return _hash_encoded(encoded, minn, maxn, bucket)


def subword_rows(words, nwords, minn, maxn, bucket, word_ids=None, max_word_chars=None):
    """Rows of a fastText input matrix whose mean is each word's vector.

    For each word: its own row `word_ids[i]` when that is `>= 0` (the word is
    in the vocabulary), then `nwords + hash % bucket` for each of its n-grams
    (none for `"</s>"`, none when `bucket == 0`), as in fastText's
    `Dictionary::getSubwords`. A word with no rows gets the zero vector.

    Args:
        words: list of `str` / `bytes`, as for `ngram_hashes`.
        nwords: int, the number of word rows before the bucket rows.
        minn: int, shortest n-gram.
        maxn: int, longest n-gram (0: none).
        bucket: int >= 0, the number of bucket rows.
        word_ids: optional int array `[len(words)]` of vocabulary ids, `-1`
            for words not in the vocabulary. `None`: no word is.
        max_word_chars: as for `ngram_hashes`.

    Returns:
        `(rows, row_splits)`, int64 arrays as in `ngram_hashes`.
    """
    encoded = _encode_all(words, max_word_chars)
    n = len(encoded)
    if word_ids is None:
        own = np.full(n, -1, np.int64)
    else:
        own = np.asarray(word_ids, dtype=np.int64).reshape(-1)
        if own.shape[0] != n:
            raise ValueError(
                f"`word_ids` must have one id per word: expected {n}, "
                f"received {own.shape[0]}"
            )
    minn, maxn = _check_lengths(minn, maxn)
    if bucket > 0 and maxn > 0:
        eos = EOS.encode("utf-8")
        ids, splits = _hash_encoded(encoded, minn, maxn, bucket)
        counts = np.diff(splits)
        is_eos = np.fromiter((w == eos for w in encoded), bool, n)
        counts[is_eos] = 0
        keep = np.repeat(~is_eos, np.diff(splits))
        ids = ids[keep] + nwords
    else:
        ids = np.zeros(0, np.int64)
        counts = np.zeros(n, np.int64)
    has_own = own >= 0
    totals = counts + has_own
    row_splits = np.zeros(n + 1, np.int64)
    np.cumsum(totals, out=row_splits[1:])
    rows = np.empty(int(row_splits[-1]), np.int64)
    rows[row_splits[:-1][has_own]] = own[has_own]
    # The n-grams of word w go right after its own row.
    first = row_splits[:-1] + has_own
    starts = np.repeat(first - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    rows[starts + np.arange(ids.shape[0])] = ids
    return rows, row_splits


def segment_mean(matrix, rows, row_splits, max_piece_bytes=64 << 20):
    """Mean of `matrix[rows[s:e]]` for each segment, exactly as fastText does it.

    Each segment's rows are added one after another in float32, then the sum
    is multiplied by `float32(1 / n)` (fastText's `Vector::mul(1.0 / n)`), so
    the result is bit-identical to fastText's `getWordVector`. An empty
    segment gives zeros. The work is vectorised across segments (one step per
    position within a segment), in pieces of at most `max_piece_bytes` of
    output.

    Args:
        matrix: float32 array `[rows, dim]` (a memmap is fine).
        rows: int array of row ids.
        row_splits: int array `[n + 1]`, segment boundaries into `rows`.
        max_piece_bytes: int, memory bound of one piece.

    Returns:
        float32 ndarray `[n, dim]`.
    """
    rows = np.asarray(rows, np.int64)
    row_splits = np.asarray(row_splits, np.int64)
    n = row_splits.shape[0] - 1
    dim = matrix.shape[1]
    out = np.zeros((n, dim), np.float32)
    per_piece = max(1, max_piece_bytes // (4 * max(dim, 1)))
    for w0 in range(0, n, per_piece):
        counts = np.diff(row_splits[w0 : w0 + per_piece + 1])
        order = np.argsort(-counts, kind="stable")
        starts = row_splits[w0:][order]
        longest = int(counts[order[0]])
        # active[t]: how many segments have more than t rows (a prefix of order).
        active = np.searchsorted(-counts[order], -np.arange(longest), "left")
        acc = np.zeros((order.shape[0], dim), np.float32)
        for t in range(longest):
            m = int(active[t])
            # Fancy indexing, not np.take: take() first copies a memmap whose
            # data is not 4-byte aligned (the matrix offset in a .bin is odd).
            acc[:m] += matrix[rows[starts[:m] + t]]
        nonempty = counts[order] > 0
        scale = (1.0 / counts[order][nonempty]).astype(np.float32)
        acc[nonempty] *= scale[:, None]
        out[w0 + order] = acc
    return out


# Internals -------------------------------------------------------------------


def _check_lengths(minn, maxn):
    for name, value in (("minn", minn), ("maxn", maxn)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"`{name}` must be an int >= 0. Received: {name}={value!r}")
        if value < 0:
            raise ValueError(f"`{name}` must be an int >= 0. Received: {name}={value}")
    return int(minn), int(maxn)


def _to_bytes(value, name):
    if isinstance(value, str):
        return _encode_str(value, None)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(
        f"`{name}` must be a str or bytes. Received: {type(value).__name__} {value!r}"
    )


def _encode_str(word, index):
    try:
        return word.encode("utf-8")
    except UnicodeEncodeError as err:
        where = "" if index is None else f" at index {index}"
        raise ValueError(
            f"Word{where} cannot be encoded as UTF-8 ({err.reason} at "
            f"character {err.start}): {word!r}. Pass valid text, or the raw "
            "bytes fastText should see."
        ) from None


def _encode_all(words, max_word_chars):
    if isinstance(words, (str, bytes, bytearray)):
        raise TypeError(
            "`words` must be a list of words, not a single "
            f"{type(words).__name__}. Received: {words!r:.60}. Wrap it in a list."
        )
    if max_word_chars is not None and (
        isinstance(max_word_chars, bool)
        or not isinstance(max_word_chars, (int, np.integer))
        or max_word_chars < 1
    ):
        raise ValueError(
            "`max_word_chars` must be None or a positive int. "
            f"Received: max_word_chars={max_word_chars!r}"
        )
    out = []
    for i, word in enumerate(words):
        if isinstance(word, str):
            if max_word_chars is not None and len(word) > max_word_chars:
                word = word[:max_word_chars]
            out.append(_encode_str(word, i))
        elif isinstance(word, (bytes, bytearray, memoryview)):
            data = bytes(word)
            if max_word_chars is not None and len(data) > max_word_chars:
                data = _cut_bytes(data, max_word_chars)
            out.append(data)
        else:
            raise TypeError(
                f"Each word must be a str or bytes. Received at index {i}: "
                f"{type(word).__name__} {word!r:.60}"
            )
    return out


def _cut_bytes(data, max_chars):
    arr = np.frombuffer(data, np.uint8)
    starts = np.flatnonzero((arr & 0xC0) != 0x80)
    # Leading continuation bytes belong to the "<" that precedes the word.
    if starts.shape[0] <= max_chars:
        return data
    return data[: int(starts[max_chars])]


def _spans(buf, word_start, word_len, minn, maxn):
    """Byte spans `(start, end, word)` of all n-grams, in fastText's order.

    `buf` holds the bracketed words back to back; word `w` occupies
    `buf[word_start[w]:word_start[w] + word_len[w]]` and starts with `<`.
    """
    lo = max(minn, 1)
    empty = np.zeros(0, np.int64)
    if maxn < lo or buf.shape[0] == 0:
        return empty, empty, empty
    is_start = (buf & 0xC0) != 0x80
    char_start = np.flatnonzero(is_start)
    char_end = np.empty_like(char_start)
    char_end[:-1] = char_start[1:]
    char_end[-1] = buf.shape[0]
    nchars = np.add.reduceat(is_start.astype(np.int64), word_start)
    char_word = np.repeat(np.arange(word_start.shape[0]), nchars)
    first_char = np.cumsum(nchars) - nchars
    pos = np.arange(char_start.shape[0]) - first_char[char_word]
    left = nchars[char_word] - pos  # characters from here to the word's end
    lengths = np.arange(lo, maxn + 1)
    valid = lengths[None, :] <= left[:, None]
    if lo == 1:
        valid[:, 0] &= (pos != 0) & (left != 1)
    k, j = np.nonzero(valid)
    n = lengths[j]
    return char_start[k], char_end[k + n - 1], char_word[k]


def _hash_spans(buf, start, end):
    """FNV-1a (fastText's sign-extended variant) of `buf[start:end]` for all."""
    size = end - start
    count = start.shape[0]
    hashes = np.full(count, FNV_OFFSET_BASIS, np.uint32)
    if count == 0:
        return hashes
    order = np.argsort(-size, kind="stable")
    size_sorted = size[order]
    pos = start[order]
    ext = _SIGN_EXTENDED[buf]
    prime = np.uint32(FNV_PRIME)
    # active[t] = how many n-grams are longer than t bytes (a prefix of `order`).
    active = np.searchsorted(-size_sorted, -np.arange(int(size_sorted[0])), "left")
    for t in range(int(size_sorted[0])):
        head = hashes[: int(active[t])]
        head ^= ext[pos[: head.shape[0]] + t]
        head *= prime
    out = np.empty(count, np.uint32)
    out[order] = hashes
    return out


def _hash_encoded(encoded, minn, maxn, bucket):
    n = len(encoded)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(1, np.int64)
    buf = np.frombuffer(b"<" + b"><".join(encoded) + b">", np.uint8)
    word_len = np.fromiter(map(len, encoded), np.int64, n) + 2
    word_start = np.cumsum(word_len) - word_len
    start, end, word = _spans(buf, word_start, word_len, minn, maxn)
    hashes = _hash_spans(buf, start, end).astype(np.int64)
    if bucket is not None:
        hashes %= bucket
    splits = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(word, minlength=n), out=splits[1:])
    return hashes, splits
