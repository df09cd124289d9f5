"""Read fastText's binary `.bin` models: words, counts and the input matrix.

`read_fasttext_bin(path)` reads an unsupervised fastText model (`cbow` or
`skipgram`, file format versions 11 and 12, as written by fastText 0.1 to
0.9.x and by gensim's `save_facebook_model`) and gives the vocabulary, the
counts and the input matrix (word rows, then hash-bucket rows), from which
`FastTextModel.word_vectors` computes word vectors exactly as fastText's
`getWordVector` does, for words the model never saw too.

Not supported, each with a clear `FastTextFormatError`: supervised models
(classifiers with labels), quantised models (`.ftz`), and `.bin` files from
before format version 11 (no magic number; fastText before 2017).

File layout (little-endian; fastText `src/fasttext.cc`, `src/args.cc`,
`src/dictionary.cc`, `src/densematrix.cc`):

```
int32 magic (793712314), int32 version
int32 dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket, minn,
      maxn, lrUpdateRate; float64 t
int32 size, nwords, nlabels; int64 ntokens, pruneidx_size
size x (word bytes, NUL, int64 count, int8 type); pruneidx_size x int32 pair
bool quant_input; int64 m, n; m*n float32       (input matrix)
bool quant_output; int64 m, n; m*n float32      (output matrix)
```
"""

import array
import dataclasses
import gzip
import os
import struct

import numpy as np

from keras_embedx.preprocessing import ngrams as subwords

__all__ = [
    "FASTTEXT_MAGIC",
    "FastTextFormatError",
    "FastTextModel",
    "SUPPORTED_VERSIONS",
    "read_fasttext_bin",
    "read_fasttext_stream",
]

#: The int32 every fastText `.bin` file (format version 11 on) starts with.
FASTTEXT_MAGIC = 793712314
#: File format versions this reader understands.
SUPPORTED_VERSIONS = (11, 12)
#: The 12 int32 arguments stored in the header, in file order (then float64 `t`).
ARG_NAMES = (
    "dim",
    "ws",
    "epoch",
    "minCount",
    "neg",
    "wordNgrams",
    "loss",
    "model",
    "bucket",
    "minn",
    "maxn",
    "lrUpdateRate",
)
MODEL_NAMES = {1: "cbow", 2: "skipgram", 3: "supervised"}
LOSS_NAMES = {1: "hs", 2: "ns", 3: "softmax", 4: "ova"}

_GZIP_MAGIC = b"\x1f\x8b"
# Deflate expands at most ~1032:1, which bounds a gzip file's content size.
GZIP_MAX_RATIO = 1032
_CHUNK = 1 << 20
_MAX_WORD_BYTES = 1 << 20
_MMAP_MIN_BYTES = 64 << 20
# The longest character n-gram a model may ask for. fastText's default is 6;
# the n-grams of a word grow with `maxn`, so a damaged header cannot be taken
# at its word.
_MAX_NGRAM_CHARS = 64
_ENTRY = struct.Struct("<qb")
_UNSUPPORTED = (
    "keras_embedx reads unsupervised fastText models (cbow/skipgram, format "
    "versions 11-12) only"
)


class FastTextFormatError(ValueError):
    """A file is not a fastText `.bin` model this reader supports, or is damaged."""


@dataclasses.dataclass(eq=False, repr=False)
class FastTextModel:
    """The parts of a fastText `.bin` model that give word vectors.

    Made by `read_fasttext_bin`. The vector of a word is the mean of the input
    matrix rows listed by `keras_embedx.preprocessing.ngrams.subword_rows`: its own row
    when it is in the vocabulary, plus one bucket row per character n-gram.

    Attributes:
        path: str, the file read.
        version: int, the file format version (11 or 12).
        args: dict of the training arguments stored in the file, under
            fastText's names: `dim, ws, epoch, minCount, neg, wordNgrams,
            loss, model, bucket, minn, maxn, lrUpdateRate` (ints) and `t`.
        words: list of str, the vocabulary in file order (most frequent
            first). Bytes that do not decode with `encoding` appear as
            backslash escapes; their vectors still use the stored bytes.
        counts: int64 ndarray `[nwords]`, each word's frequency.
        entry_types: int8 ndarray `[nwords]`, fastText's entry types (0 =
            word; models with labels, type 1, are rejected).
        nwords: int, the number of words.
        ntokens: int, the number of tokens the model was trained on.
        matrix: float32 ndarray `[nwords + bucket, dim]`, the input matrix; a
            read-only `np.memmap` when the file was memory-mapped.
        encoding: str, the text encoding of the words (fastText hashes bytes;
            words passed as `str` are encoded with it).
        word_bytes: list of bytes, the words exactly as stored.
    """

    path: str
    version: int
    args: dict
    words: list
    counts: np.ndarray
    entry_types: np.ndarray
    nwords: int
    ntokens: int
    matrix: np.ndarray
    encoding: str = "utf-8"
    word_bytes: list = None
    _index: dict = dataclasses.field(default=None, init=False)

    @property
    def dim(self):
        """int, the vector width."""
        return self.args["dim"]

    @property
    def bucket(self):
        """int, the number of hash-bucket rows after the word rows."""
        return self.args["bucket"]

    @property
    def minn(self):
        """int, the shortest character n-gram."""
        return self.args["minn"]

    @property
    def maxn(self):
        """int, the longest character n-gram (0: none)."""
        return self.args["maxn"]

    @property
    def model_name(self):
        """str, `"cbow"` or `"skipgram"`."""
        return MODEL_NAMES[self.args["model"]]

    def __len__(self):
        return self.nwords

    def __contains__(self, word):
        return self.get_index(word) >= 0

    def __repr__(self):
        return (
            f"FastTextModel(path={self.path!r}, version={self.version}, "
            f"model={self.model_name!r}, nwords={self.nwords}, dim={self.dim}, "
            f"bucket={self.bucket}, minn={self.minn}, maxn={self.maxn})"
        )

    def get_index(self, word):
        """The vocabulary id of `word` (`str` or `bytes`), or -1 if unknown."""
        if self._index is None:
            index = {}
            for i, w in enumerate(self.words):
                index.setdefault(w, i)
            self._index = index
        if isinstance(word, (bytes, bytearray)):
            try:
                i = self._index.get(bytes(word).decode(self.encoding), -1)
            except UnicodeDecodeError:
                i = -1
            if i >= 0 and self._stored(i) != bytes(word):
                # Undecodable words are listed escaped; match their real bytes.
                i = -1
            return i
        if isinstance(word, str):
            return self._index.get(word, -1)
        raise TypeError(
            f"A word must be a str or bytes. Received: {type(word).__name__} "
            f"{word!r:.60}"
        )

    def word_vector(self, word):
        """fastText's vector for one word, in the vocabulary or not.

        Args:
            word: `str` (encoded with `self.encoding`) or `bytes`.

        Returns:
            float32 ndarray `[dim]`. Zeros when the word has no row at all
            (not in the vocabulary and no n-gram, e.g. `""`).
        """
        return self.word_vectors([word])[0]

    def word_vectors(self, words=None):
        """fastText's vectors for many words at once, vectorised.

        Each vector is the mean of the word's own row (when in the
        vocabulary) and its character n-gram rows, as fastText's
        `getWordVector` and gensim's `load_facebook_vectors(path)[word]` give
        it (gensim also adds n-gram rows to `"</s>"`; fastText does not, nor
        does this).

        Args:
            words: `None` for every vocabulary word in file order (the rows
                of `self.words`), or a list of `str` / `bytes`.

        Returns:
            float32 ndarray `[len(words), dim]`.
        """
        if words is None:
            ids = np.arange(self.nwords, dtype=np.int64)
            encoded = [self._stored(i) for i in range(self.nwords)]
        else:
            if isinstance(words, (str, bytes, bytearray)):
                raise TypeError(
                    "`words` must be a list of words, not a single "
                    f"{type(words).__name__}. Received: {words!r:.60}. Use "
                    "word_vector() for one word, or wrap it in a list."
                )
            words = list(words)
            ids = np.fromiter(map(self.get_index, words), np.int64, len(words))
            encoded = [
                self._stored(i) if i >= 0 else self._encode(w, k)
                for k, (w, i) in enumerate(zip(words, ids.tolist()))
            ]
        out = np.zeros((len(encoded), self.dim), np.float32)
        step = 1 << 15
        for a in range(0, len(encoded), step):
            rows, splits = subwords.subword_rows(
                encoded[a : a + step],
                self.nwords,
                self.minn,
                self.maxn,
                self.bucket,
                word_ids=ids[a : a + step],
            )
            out[a : a + step] = subwords.segment_mean(self.matrix, rows, splits)
        return out

    def _stored(self, i):
        if self.word_bytes is not None:
            return self.word_bytes[i]
        return self.words[i].encode(self.encoding)

    def _encode(self, word, position):
        if isinstance(word, (bytes, bytearray)):
            return bytes(word)
        try:
            return word.encode(self.encoding)
        except UnicodeEncodeError as err:
            raise ValueError(
                f"Word at index {position} cannot be encoded with the model's "
                f"encoding {self.encoding!r} ({err.reason}): {word!r:.60}"
            ) from None


def read_fasttext_bin(path, encoding="utf-8", mmap=None):
    """Read an unsupervised fastText `.bin` model.

    Every field is checked as it is read: the magic number and version, the
    arguments, that each size fits in what is left of the file (so a damaged
    header fails at once instead of allocating a huge array), that the matrix
    has `nwords + bucket` rows of `dim` floats, and that the file ends where
    the model does. A gzip-compressed file (by content, whatever its name) is
    read through `gzip`.

    Args:
        path: str or `os.PathLike`, the `.bin` file.
        encoding: str, the encoding of the words in the file (fastText writes
            the bytes of its training text, normally UTF-8).
        mmap: `None` (default: memory-map the input matrix when it is 64 MiB
            or more), `True` (always) or `False` (read it into memory). A
            memory-mapped matrix is read-only, and usually not 4-byte aligned
            (it starts wherever the dictionary ends): gather rows with
            `matrix[ids]`, not `np.take`, which first copies an unaligned
            array whole. Compressed files are always read into memory.

    Returns:
        A `FastTextModel`.

    Raises:
        FastTextFormatError: (a `ValueError`) the file is not a fastText
            model, is damaged or truncated, or is a kind not supported
            (supervised, quantised `.ftz`, format older than version 11). The
            message names the file and, for damage, the byte offset.

    Example:

    >>> from gensim.test.utils import datapath
    >>> from keras_embedx.vectors.fasttext_bin import read_fasttext_bin
    >>> model = read_fasttext_bin(datapath("toy-model.bin"))
    >>> model.nwords, model.dim, model.matrix.shape
    (22, 5, (122, 5))
    >>> model.word_vectors(["nights", "nightz"]).shape
    (2, 5)

    Reference:
        fastText, `src/fasttext.cc` (`FastText::loadModel`,
        `FastText::getWordVector`) and `src/dictionary.cc`.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"`path` must be a str or os.PathLike. Received: {type(path).__name__}"
        )
    path = os.fspath(path)
    size = os.path.getsize(path)
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if compressed:
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                return read_fasttext_stream(f, path, encoding, size * GZIP_MAX_RATIO)
        stream = _Stream(raw, path, size, size)
        if mmap is None:
            mmap = "auto"
        return _read(stream, encoding, mmap)


def read_fasttext_stream(f, name, encoding="utf-8", bound=None):
    """Read an unsupervised fastText model from a stream of its bytes.

    For decompressed content, whose size is not known: nothing is
    allocated for a size the header claims; arrays grow with the bytes
    actually read.

    Args:
        f: a binary file object (only `read` is used).
        name: str, the file's name, for messages and `FastTextModel.path`.
        encoding: str, as for `read_fasttext_bin`.
        bound: optional int, an upper bound on the number of bytes `f` can
            give (a gzip file's size times deflate's largest ratio).

    Returns:
        A `FastTextModel`, its matrix in memory.

    Raises:
        FastTextFormatError: as `read_fasttext_bin`.
    """
    return _read(_Stream(f, name, None, bound), encoding, False)


# Internals -------------------------------------------------------------------


class _Stream:
    """A buffered reader that knows its byte offset and names what it reads."""

    def __init__(self, f, path, size, bound):
        self.f = f
        self.path = path
        self.size = size  # exact size, or None for a compressed stream
        self.bound = bound  # an upper bound on the content size
        self._buf = b""
        self._i = 0
        self._base = 0  # file offset of self._buf[0]

    @property
    def pos(self):
        return self._base + self._i

    def error(self, message, at=None):
        """A `FastTextFormatError` naming the file and, with `at`, the offset."""
        where = "" if at is None else f", byte offset {at}"
        return FastTextFormatError(f"{self.path}{where}: {message}")

    def _fill(self, need):
        """Make `need` bytes available from `pos`; False at end of file."""
        while len(self._buf) - self._i < need:
            chunk = self.f.read(max(_CHUNK, need - (len(self._buf) - self._i)))
            if not chunk:
                return False
            self._base += self._i
            self._buf = self._buf[self._i :] + chunk
            self._i = 0
        return True

    def truncated(self, what, start, need):
        self._fill(need)  # read what is left, to name where the file ends
        end = self._base + len(self._buf)
        return self.error(
            f"truncated file: reading {what} needs {need} bytes from byte offset "
            f"{start}, but the file ends at byte {end}."
        )

    def read(self, n, what):
        if not self._fill(n):
            raise self.truncated(what, self.pos, n)
        out = self._buf[self._i : self._i + n]
        self._i += n
        return out

    def unpack(self, fmt, what):
        return struct.unpack(fmt, self.read(struct.calcsize(fmt), what))

    def require(self, nbytes, what):
        """Fail fast when `what` cannot fit in what is left of the file."""
        if self.bound is None:
            return
        left = self.bound - self.pos
        if nbytes > left:
            if self.size is not None:
                where = f"only {left:,} bytes remain (the file has {self.size:,})"
            else:
                where = f"the compressed file holds at most {self.bound:,} bytes"
            raise self.error(
                f"{what} needs {nbytes:,} bytes from byte offset {self.pos:,}, but "
                f"{where}: the file is truncated or corrupt."
            )

    def read_entries(self, count):
        """Read `count` dictionary entries: word bytes, NUL, int64, int8."""
        words = []
        # Grown entry by entry: `count` is only what the header claims.
        counts = array.array("q")
        types = array.array("b")
        add_count, add_type = counts.append, types.append
        unpack = _ENTRY.unpack_from
        buf, i, k = self._buf, self._i, 0
        while k < count:
            j = buf.find(b"\0", i)
            if j < 0 or j + 1 + _ENTRY.size > len(buf):
                self._i = i
                need = len(buf) - i + 1 if j < 0 else j + 1 + _ENTRY.size - i
                if need > _MAX_WORD_BYTES:
                    raise self.error(
                        f"dictionary entry {k} of {count} (byte offset {self.pos}) "
                        f"has no NUL terminator within {_MAX_WORD_BYTES:,} bytes: "
                        "the file is corrupt."
                    )
                if not self._fill(need):
                    raise self.truncated(
                        f"dictionary entry {k} of {count}", self.pos, need
                    )
                buf, i = self._buf, self._i
                continue
            if j == i:
                raise self.error(
                    f"dictionary entry {k} of {count} is an empty word; fastText "
                    "writes none: the file is corrupt.",
                    self._base + i,
                )
            words.append(buf[i:j])
            n, kind = unpack(buf, j + 1)
            add_count(n)
            add_type(kind)
            i = j + 1 + _ENTRY.size
            k += 1
        self._i = i
        return (
            words,
            np.frombuffer(counts, np.int64).copy(),
            np.frombuffer(types, np.int8).copy(),
        )

    def read_floats(self, count, what, mmap):
        nbytes = 4 * count
        self.require(nbytes, what)
        start = self.pos
        if mmap and count:
            matrix = np.memmap(self.path, np.dtype("<f4"), "r", start, (count,))
            self.skip(nbytes, what)
            return matrix
        if self.size is None:
            return self._read_growing(nbytes, what).view("<f4")
        matrix = np.empty(count, np.dtype("<f4"))
        view = memoryview(matrix).cast("B")
        have = min(nbytes, len(self._buf) - self._i)
        view[:have] = self._buf[self._i : self._i + have]
        self._i += have
        done = have
        while done < nbytes:
            got = self.f.readinto(view[done:])
            if not got:
                raise self.error(
                    f"truncated file: reading {what} needs {nbytes} bytes from byte "
                    f"offset {start}, but the file ends at byte {start + done}."
                )
            done += got
        self._base += done - have
        return matrix

    def _read_growing(self, nbytes, what):
        """`nbytes` bytes as a uint8 array that grows with what is read."""
        start = self.pos
        data = np.empty(min(nbytes, _CHUNK), np.uint8)
        done = 0
        while done < nbytes:
            if self._i == len(self._buf) and not self._fill(1):
                raise self.error(
                    f"truncated file: reading {what} needs {nbytes} bytes from byte "
                    f"offset {start}, but the file ends at byte {start + done}."
                )
            take = min(nbytes - done, len(self._buf) - self._i)
            if done + take > data.shape[0]:
                grown = min(nbytes, max(done + take, 2 * data.shape[0]))
                data.resize(grown, refcheck=False)
            data[done : done + take] = np.frombuffer(self._buf, np.uint8, take, self._i)
            self._i += take
            done += take
        return data

    def skip(self, nbytes, what):
        start = self.pos
        have = min(nbytes, len(self._buf) - self._i)
        self._i += have
        left = nbytes - have
        if left == 0:
            return
        if self.size is not None:
            # `require` already checked that the bytes are there.
            self._base += self._i + left
            self._buf, self._i = b"", 0
            self.f.seek(self._base)
            return
        while left:
            chunk = self.f.read(min(left, _CHUNK))
            if not chunk:
                raise self.error(
                    f"truncated file: reading {what} needs {nbytes} bytes from byte "
                    f"offset {start}, but the file ends at byte "
                    f"{start + nbytes - left}."
                )
            left -= len(chunk)
            self._base += len(chunk)

    def at_end(self):
        return not self._fill(1)


def _unsupported(stream, what, advice, at=None):
    return stream.error(f"{what}. {_UNSUPPORTED}; {advice}", at)


def _check_magic(stream, magic, version):
    if magic != FASTTEXT_MAGIC:
        if 0 < magic <= 100_000 and 0 < version <= 1_000:
            raise stream.error(
                f"no fastText magic number: expected {FASTTEXT_MAGIC} at byte 0, "
                f"received {magic}. This looks like a .bin from fastText before "
                "format version 11 (2017, header starting dim="
                f"{magic}, ws={version}), which is not supported (nor by current "
                "fastText): load it with gensim's "
                "`gensim.models.fasttext.load_facebook_vectors` and pass the "
                "result to `keras_embedx.WordVectors.from_gensim`.",
                0,
            )
        head = struct.pack("<ii", magic, version)
        hint = ""
        if head[:1].isdigit() or head[:1] in b"-.":
            hint = (
                " It looks like text: for a fastText .vec file use "
                "`load_vectors(path, format='fasttext_vec')`."
            )
        raise stream.error(
            "not a fastText .bin model: expected magic number "
            f"{FASTTEXT_MAGIC} at byte 0, received {magic} (bytes {head!r}).{hint}",
            0,
        )
    if version not in SUPPORTED_VERSIONS:
        newer = " (newer than this reader)" if version > max(SUPPORTED_VERSIONS) else ""
        raise stream.error(
            f"unsupported fastText file format version {version}{newer}: "
            f"expected one of {SUPPORTED_VERSIONS}.",
            4,
        )


def _arg_offset(name):
    return 8 + 4 * ARG_NAMES.index(name)


def _check_args(stream, args):
    for name in ("dim", "bucket", "minn", "maxn"):
        if args[name] < 0 or (name == "dim" and args[name] == 0):
            kind = "positive" if name == "dim" else ">= 0"
            raise stream.error(
                f"the header's `{name}` must be {kind}; received {args[name]}: the "
                "file is corrupt.",
                _arg_offset(name),
            )
    if args["maxn"] > _MAX_NGRAM_CHARS:
        raise stream.error(
            f"the header's `maxn` (the longest character n-gram) is "
            f"{args['maxn']}; expected at most {_MAX_NGRAM_CHARS} (fastText's "
            "default is 6): the file is corrupt.",
            _arg_offset("maxn"),
        )
    if args["model"] == 3:
        raise _unsupported(
            stream,
            "this is a supervised fastText model (a classifier, model=3)",
            "export its word vectors with `fasttext print-word-vectors` or as a "
            ".vec file and load those.",
            _arg_offset("model"),
        )
    if args["model"] not in MODEL_NAMES:
        raise stream.error(
            f"the header's `model` must be 1 (cbow) or 2 (skipgram); received "
            f"{args['model']}: the file is corrupt.",
            _arg_offset("model"),
        )


def _quantised(stream, flag, at):
    return _unsupported(
        stream,
        f"this is a quantised fastText model (.ftz; {flag})",
        "use the full-precision .bin the .ftz was made from.",
        at,
    )


def _entry_offset(start, word_bytes, k):
    """The byte offset of dictionary entry `k`: word, NUL, int64, int8 each."""
    return start + sum(len(w) for w in word_bytes[:k]) + k * (1 + _ENTRY.size)


def _read_bool(stream, what):
    (value,) = stream.unpack("<B", what)
    if value > 1:
        raise stream.error(
            f"{what} at byte offset {stream.pos - 1} must be 0 or 1; received "
            f"{value}: the file is corrupt."
        )
    return bool(value)


def _read(stream, encoding, mmap):
    magic, version = stream.unpack("<ii", "the magic number and version")
    _check_magic(stream, magic, version)
    values = stream.unpack("<12id", "the model arguments")
    args = dict(zip(ARG_NAMES, values[:12]))
    args["t"] = values[12]
    _check_args(stream, args)

    sizes_at = stream.pos
    size, nwords, nlabels = stream.unpack("<3i", "the dictionary sizes")
    ntokens, pruneidx_size = stream.unpack("<2q", "the dictionary sizes")
    prune_at = stream.pos - 8
    if min(size, nwords, nlabels) < 0 or nwords + nlabels != size:
        raise stream.error(
            f"inconsistent dictionary sizes (size={size}, nwords={nwords}, "
            f"nlabels={nlabels}; expected size = nwords + nlabels >= 0): the file "
            "is corrupt.",
            sizes_at,
        )
    if nlabels:
        raise _unsupported(
            stream,
            f"this is a supervised fastText model (a classifier with {nlabels} labels)",
            "export its word vectors with `fasttext print-word-vectors` or as a "
            ".vec file and load those.",
            sizes_at + 8,
        )
    if pruneidx_size >= 0:
        raise _quantised(
            stream, f"its dictionary is pruned, {pruneidx_size} entries", prune_at
        )
    if pruneidx_size != -1:
        raise stream.error(
            f"the dictionary's pruneidx_size must be -1 or >= 0; received "
            f"{pruneidx_size}: the file is corrupt.",
            prune_at,
        )
    stream.require(size * (2 + _ENTRY.size), f"a dictionary of {size:,} entries")
    entries_at = stream.pos
    word_bytes, counts, types = stream.read_entries(size)
    bad = np.flatnonzero(types != 0)
    if bad.size:
        k = int(bad[0])
        raise stream.error(
            f"dictionary entry {k} ({word_bytes[k]!r}) has type "
            f"{types[k]}; expected 0 (a word): the file is corrupt.",
            _entry_offset(entries_at, word_bytes, k),
        )
    bad = np.flatnonzero(counts < 0)
    if bad.size:
        k = int(bad[0])
        raise stream.error(
            f"dictionary entry {k} ({word_bytes[k]!r}) has a negative "
            f"count {counts[k]}: the file is corrupt.",
            _entry_offset(entries_at, word_bytes, k),
        )

    if _read_bool(stream, "the input matrix's quantisation flag"):
        raise _quantised(stream, "the input matrix is quantised", stream.pos - 1)
    shape_at = stream.pos
    rows, cols = stream.unpack("<2q", "the input matrix shape")
    dim, bucket = args["dim"], args["bucket"]
    if cols != dim:
        raise stream.error(
            f"the input matrix has {cols} columns but the header says dim={dim}: "
            "the file is corrupt.",
            shape_at + 8,
        )
    if rows != nwords + bucket:
        raise stream.error(
            f"the input matrix has {rows} rows, expected nwords + bucket = "
            f"{nwords} + {bucket} = {nwords + bucket}: the header's bucket count "
            "disagrees with the matrix; the file is corrupt.",
            shape_at,
        )
    what = f"the input matrix ({rows} x {cols} float32)"
    if mmap == "auto":
        mmap = 4 * rows * cols >= _MMAP_MIN_BYTES
    matrix = stream.read_floats(rows * cols, what, mmap).reshape(rows, cols)

    if _read_bool(stream, "the output matrix's quantisation flag"):
        raise _quantised(stream, "the output matrix is quantised", stream.pos - 1)
    shape_at = stream.pos
    out_rows, out_cols = stream.unpack("<2q", "the output matrix shape")
    if out_rows < 0 or out_cols != dim:
        raise stream.error(
            f"the output matrix is {out_rows} x {out_cols}, expected n x dim={dim}: "
            "the file is corrupt.",
            shape_at,
        )
    what = f"the output matrix ({out_rows} x {out_cols} float32)"
    stream.require(4 * out_rows * out_cols, what)
    stream.skip(4 * out_rows * out_cols, what)
    if not stream.at_end():
        end = stream.pos
        raise stream.error(
            f"unexpected data after the end of the model at byte offset {end}: the "
            "file is corrupt or not a single fastText model."
        )

    words = []
    for raw in word_bytes:
        try:
            words.append(raw.decode(encoding))
        except UnicodeDecodeError:
            words.append(raw.decode(encoding, "backslashreplace"))
    return FastTextModel(
        path=stream.path,
        version=version,
        args=args,
        words=words,
        counts=counts,
        entry_types=types,
        nwords=nwords,
        ntokens=ntokens,
        matrix=matrix,
        encoding=encoding,
        word_bytes=word_bytes,
    )
