"""The package's own vector file: one file that opens in milliseconds.

Layout (all little-endian; no pickle anywhere):

```
bytes 0-7    magic b"\\x89KXVEC\\r\\n"
bytes 8-11   uint32 H, the length of the JSON header
12 .. 12+H   JSON header, space-padded so the data starts on a 64-byte boundary
then         vectors: count x dim float32, row-major
             counts:  count int64            (only when the vectors have counts)
             words:   UTF-8, joined by "\\n"  (or concatenated, with int64
                      offsets after them, when a word contains "\\n")
```

The JSON header holds `format`, `version`, `count`, `dim`, `dtype`, the
`[offset, nbytes]` of each part, `source` and the total `file_size`; files
written by this version add a `stamp` unique to each save, the `checksum`
(CRC-32 of the whole file, read with `crc32:00000000` in place of its own
value), the `words_checksum` (CRC-32 of the words part, when the words are
joined by "\\n") and, when the vectors came from a file, that file's size and
modification time (`source_file`).

Every load checks the header (sizes, bounds, parts in order and apart) and
the vocabulary, so a truncated or damaged file fails with a clear message
instead of giving wrong vectors; it warns when the source file changed since
the cache was written. When the words still match their `words_checksum`
they are as `save` wrote them (valid UTF-8, one per row, each once): they
stay bytes (`Keys`) and are decoded on first lookup, which still refuses a
word listed twice. Otherwise (files without it, or changed words) they are
decoded and checked at load: offsets increasing and in bounds, valid UTF-8,
one row per word, no word twice. `verify=True` also recomputes the checksum,
decodes and checks the words, and checks that every number is finite. The
file is opened once and mapped once, so a load racing a `save` to the same
path gets the old file or the new one, never a mix; the vectors are
memory-mapped read-only by default, so opening a file costs a few
milliseconds whatever its size.
"""

import collections
import json
import mmap as _mmap
import os
import secrets
import struct
import warnings
import weakref
import zlib

import numpy as np

from keras_embedx.vectors._keys import Keys, words_checksum
from keras_embedx.vectors._source import open_for_writing
from keras_embedx.vectors.errors import VectorFileError, VectorFileWarning

MAGIC = b"\x89KXVEC\r\n"
VERSION = 1
_ALIGN = 64
_MAX_HEADER = 1 << 20
_WRITE_ROWS_BYTES = 64 << 20
_CHECK_ROWS_BYTES = 16 << 20
_NO_CHECKSUM = "crc32:00000000"

#: What `read_cache` returns; `index` maps each word to its row, `checksum`
#: is the one the file records (None in files of earlier versions).
CacheContents = collections.namedtuple(
    "CacheContents", ["words", "vectors", "counts", "source", "index", "checksum"]
)


def save_cache(path, words, vectors, counts=None, source=None, source_file=None):
    """Write `words`/`vectors` (and `counts`) to `path`, atomically.

    The file is written under a temporary name in the same directory and
    renamed over `path` (see `open_for_writing`): readers, concurrent savers
    and a kill at any moment leave `path` holding one complete save.

    Args:
        path: str or `os.PathLike`.
        words: list of str, one per row.
        vectors: float array `[len(words), dim]`, stored as float32.
        counts: optional int array of word frequencies.
        source: optional str naming where the vectors came from.
        source_file: optional dict `{"path", "size", "mtime_ns"}` of the file
            the vectors were read from, so that a load can tell when that
            file changed since.

    Returns:
        The path written (str).
    """
    path = os.fspath(path)
    vectors = np.asarray(vectors)
    n, dim = vectors.shape
    if len(words) != n:
        raise ValueError(f"{len(words)} words for {n} vectors.")
    keys = words if isinstance(words, Keys) else Keys(list(words))
    blob = keys.utf8()
    split = blob is None
    if split:
        encoded = [w.encode("utf-8") for w in keys.words]
        blob = b"".join(encoded)

    def layout(header_len):
        start = _round_up(len(MAGIC) + 4 + header_len)
        parts = {"vectors": [start, n * dim * 4]}
        at = start + n * dim * 4
        if counts is not None:
            parts["counts"] = [at, n * 8]
            at += n * 8
        parts["words"] = [at, len(blob)]
        at += len(blob)
        if split:
            parts["word_offsets"] = [at, (n + 1) * 8]
            at += (n + 1) * 8
        return start, parts, at

    header = {
        "format": "keras_embedx.word_vectors",
        "version": VERSION,
        "count": n,
        "dim": dim,
        "dtype": "<f4",
        "source": None if source is None else str(source),
        "stamp": secrets.token_hex(8),
        "checksum": _NO_CHECKSUM,
    }
    if not split:
        # Lets a load trust the words (unique, valid UTF-8, as they were
        # saved) after one CRC of their bytes, without decoding them.
        header["words_checksum"] = words_checksum(blob)
    if source_file is not None:
        header["source_file"] = dict(source_file)
    # The header's size depends on the offsets it lists: settle it in two passes.
    size_guess = 0
    for _ in range(3):
        start, parts, total = layout(size_guess)
        text = json.dumps({**header, **parts, "file_size": total}).encode()
        if len(text) <= size_guess:
            break
        size_guess = len(text) + 32
    text = text.ljust(start - len(MAGIC) - 4)
    checksum_at = len(MAGIC) + 4 + text.index(_NO_CHECKSUM.encode())

    with open_for_writing(path, compress=False) as f:
        head = MAGIC + struct.pack("<I", len(text)) + text
        f.write(head)
        crc = zlib.crc32(head)  # the header too, with the placeholder in it
        step = max(1, _WRITE_ROWS_BYTES // max(1, dim * 4))
        chunks = (
            np.ascontiguousarray(vectors[a : a + step], "<f4").tobytes()
            for a in range(0, n, step)
        )
        for chunk in chunks:
            f.write(chunk)
            crc = zlib.crc32(chunk, crc)
        tail = []
        if counts is not None:
            tail.append(np.ascontiguousarray(counts, "<i8").tobytes())
        tail.append(blob)
        if split:
            ends = np.cumsum([0] + [len(w) for w in encoded], dtype="<i8")
            tail.append(ends.tobytes())
        for chunk in tail:
            f.write(chunk)
            crc = zlib.crc32(chunk, crc)
        f.seek(checksum_at)
        f.write(f"crc32:{crc:08x}".encode())
    return path


def is_cache(head):
    """Whether bytes `head` begin a cache file."""
    return head[: len(MAGIC)] == MAGIC


def load_cache(src, mmap=True, verify=False):
    """Read a cache file. `src` is an open `Source`.

    Returns:
        `(words, vectors, counts, source)`; `vectors` is a read-only
        memory map when `mmap` and the file is a plain (uncompressed) file.
    """
    return tuple(read_cache(src, mmap=mmap, verify=verify)[:4])


def read_cache(src, mmap=True, verify=False):
    """Read and check a cache file. `src` is an open `Source`.

    The file is read through `src`'s own file descriptor, mapped once: what
    the header describes and what is read are the same file even when a save
    replaces `path` meanwhile.

    Args:
        src: an open `Source`.
        mmap: bool, keep the vectors memory-mapped read-only (plain files),
            else copy them into memory.
        verify: bool, also recompute the checksum of the file and check
            that every number is finite (reads the whole file); a file
            without a checksum (written by an earlier version) is refused.

    Returns:
        A `CacheContents`.

    Raises:
        VectorFileError: not a cache file, or damaged.
    """
    name = src.name
    if src.compression is not None:
        data = bytearray()
        while True:
            chunk = src.read(64 << 20)
            if not chunk:
                break
            data += chunk
        return _parse(name, np.frombuffer(data, np.uint8), verify, copy=False)
    raw = src._raw
    try:  # through the open file: no second open of the path
        buf = np.memmap(raw, dtype=np.uint8, mode="r")
    except (ValueError, OSError):  # empty, or a file system that cannot map
        raw.seek(0)
        return _parse(name, np.frombuffer(raw.read(), np.uint8), verify, copy=False)
    contents, header_end = _parse(name, buf, verify, copy=not mmap, with_end=True)
    if mmap and contents.words:
        header = bytes(buf[:header_end])
        _MAPPED[buf.base] = MappedFile(name, buf.base, header)
    return contents


def _parse(name, buf, verify, copy, with_end=False):
    def damaged(what):
        return VectorFileError(
            f"damaged keras_embedx cache file: {what}. Recreate it with "
            "`WordVectors.save(path)`.",
            name,
        )

    size = len(buf)  # what was mapped (or read), whatever the file is now
    head = bytes(buf[: len(MAGIC) + 4])
    if len(head) < len(MAGIC) or not is_cache(head):
        raise VectorFileError(
            f"not a keras_embedx cache file (it starts with {head[:8]!r}, expected "
            f"{MAGIC!r}). Load GloVe, word2vec or fastText files with "
            "`keras_embedx.load_vectors(path)`.",
            name,
        )
    if len(head) < len(MAGIC) + 4:
        raise damaged("the file ends inside the header")
    (header_len,) = struct.unpack("<I", head[len(MAGIC) :])
    if header_len > min(_MAX_HEADER, size - len(head)):
        raise damaged(
            f"the header claims {header_len} bytes but the file has {size} in all"
        )
    header_end = len(head) + header_len
    try:
        header = json.loads(bytes(buf[len(head) : header_end]))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise damaged("its JSON header does not parse") from None
    header = _check_header(header, size, header_end, name, damaged)
    count, dim, parts = header["count"], header["dim"], header["parts"]

    if verify:
        _verify_checksum(buf, header, header_end, damaged)
    if count == 0:
        vectors = np.zeros((0, dim), np.float32)
    else:
        vectors = _part(buf, parts["vectors"], "<f4").reshape(count, dim)
        vectors = vectors.copy() if copy else vectors.view(np.ndarray)
    counts = None
    if "counts" in parts:
        counts = _part(buf, parts["counts"], "<i8").astype(np.int64)
        if count and counts.min() < 0:
            raise damaged("it holds negative word counts")

    def repeated(word, j, i):
        raise damaged(f"the word {word!r} is listed twice, rows {j} and {i}")

    keys = _saved_words(buf, parts, count, header, repeated)
    if keys is None or verify:
        words = keys.words if keys is not None else _words(buf, parts, count, damaged)
        keys = Keys(words, on_repeat=repeated)
        keys.index  # noqa: B018  (builds the index: no word twice)
    if verify:
        _check_finite(vectors, keys.words, name)
    _check_source_file(header.get("source_file"), name)
    checksum = header.get("checksum")
    contents = CacheContents(
        keys, vectors, counts, header.get("source"), None, checksum
    )
    return (contents, header_end) if with_end else contents


def _check_header(header, size, header_end, name, damaged):
    """The header's fields, checked; `parts` maps each part to `[offset, n]`."""
    if not isinstance(header, dict) or header.get("format") != (
        "keras_embedx.word_vectors"
    ):
        raise damaged("its header is not a keras_embedx word-vectors header")
    version = header.get("version")
    if version != VERSION:
        raise VectorFileError(
            f"cache file format version {version!r}; this keras_embedx reads "
            f"version {VERSION}. Recreate the file with this version.",
            name,
        )
    count, dim = header.get("count"), header.get("dim")
    if not (_is_int(count) and count >= 0 and _is_int(dim) and dim >= 1):
        raise damaged(f"bad count/dim {count!r}/{dim!r} in the header")
    if header.get("dtype") != "<f4":
        raise damaged(f"unsupported dtype {header.get('dtype')!r}")
    if header.get("file_size") != size:
        raise damaged(
            f"the header says the file has {header.get('file_size')} bytes, but it "
            f"has {size} (truncated?)"
        )
    source = header.get("source")
    if source is not None and not isinstance(source, str):
        raise damaged(f"bad 'source' entry {source!r} in the header")
    for key in ("checksum", "words_checksum"):
        checksum = header.get(key)
        if checksum is not None and not (
            isinstance(checksum, str)
            and len(checksum) == len(_NO_CHECKSUM)
            and checksum.startswith("crc32:")
            and all(c in "0123456789abcdef" for c in checksum[6:])
        ):
            raise damaged(f"bad '{key}' entry {checksum!r} in the header")
    expected = {
        "vectors": count * dim * 4,
        "counts": count * 8,
        "word_offsets": (count + 1) * 8,
    }
    parts = {}
    for key in ("vectors", "counts", "words", "word_offsets"):
        part = header.get(key)
        if part is None:
            continue
        ok = (
            isinstance(part, list)
            and len(part) == 2
            and all(_is_int(x) and x >= 0 for x in part)
            and part[0] + part[1] <= size
            and part[1] == expected.get(key, part[1])
        )
        if not ok:
            raise damaged(f"bad '{key}' entry {part!r} in the header")
        parts[key] = part
    if "vectors" not in parts or "words" not in parts:
        raise damaged("the header lists no vectors or no words")
    if parts["vectors"][0] % 4:
        raise damaged(f"the vectors start at byte {parts['vectors'][0]}, unaligned")
    at = header_end
    for key, (offset, n) in sorted(parts.items(), key=lambda kv: kv[1]):
        if offset < at:
            raise damaged(f"its '{key}' part overlaps the header or another part")
        at = offset + n
    header["parts"] = parts
    return header


def _saved_words(buf, parts, count, header, repeated):
    """The words as `Keys` left encoded, when the file records the checksum
    of its words and they still match it (they are then as `save` wrote
    them: valid UTF-8, each once); else None (to be decoded and checked)."""
    recorded = header.get("words_checksum")
    if recorded is None or "word_offsets" in parts:
        return None
    a, n = parts["words"]
    blob = bytes(buf[a : a + n])
    if words_checksum(blob) != recorded:
        return None
    breaks = np.count_nonzero(np.frombuffer(blob, np.uint8) == 10)
    if (breaks + 1 if count else len(blob)) != count:
        return None
    return Keys(blob=blob, count=count, on_repeat=repeated)


def _words(buf, parts, count, damaged):
    a, n = parts["words"]
    blob = bytes(buf[a : a + n])
    try:
        if "word_offsets" not in parts:
            words = blob.decode("utf-8").split("\n") if count else []
            if len(words) != count:
                raise damaged(f"it holds {len(words)} words for {count} vectors")
            return words
        ends = _part(buf, parts["word_offsets"], "<i8")
        if ends[0] != 0 or ends[-1] != n or (count and np.diff(ends).min() < 0):
            raise damaged(
                f"its word offsets are not increasing from 0 to {n} (the size "
                "of its words)"
            )
        ends = ends.tolist()
        return [blob[a:b].decode("utf-8") for a, b in zip(ends[:-1], ends[1:])]
    except UnicodeDecodeError:
        raise damaged("its words are not valid UTF-8") from None


def _part(buf, part, dtype):
    """The `[offset, nbytes]` part of the uint8 array `buf`, viewed as `dtype`."""
    offset, n = part
    return buf[offset : offset + n].view(dtype)


def _verify_checksum(buf, header, header_end, damaged):
    checksum = header.get("checksum")
    if checksum is None:
        raise damaged(
            "it has no checksum to verify against (written by a keras_embedx "
            "before checksums, or its header is damaged); re-save it to verify it"
        )
    head = bytes(buf[:header_end]).replace(checksum.encode(), _NO_CHECKSUM.encode(), 1)
    crc = zlib.crc32(head)
    for a in range(header_end, len(buf), _CHECK_ROWS_BYTES):
        crc = zlib.crc32(buf[a : a + _CHECK_ROWS_BYTES], crc)
    if f"crc32:{crc:08x}" != checksum:
        raise damaged(
            f"its bytes do not match the checksum written with it "
            f"({checksum}, now crc32:{crc:08x}): the file was changed after the save"
        )


def _check_finite(vectors, words, name):
    dim = max(1, vectors.shape[1] if vectors.ndim == 2 else 1)
    step = max(1, _CHECK_ROWS_BYTES // (4 * dim))
    for a in range(0, len(vectors), step):
        finite = np.isfinite(vectors[a : a + step]).all(axis=1)
        if not finite.all():
            row = a + int(np.argmin(finite))
            raise VectorFileError(
                f"the word {words[row]!r} holds a NaN or infinite value; "
                "expected finite numbers. Recreate the file from its source.",
                name,
                line=row + 1,
                unit="row",
            )


def verify_vectors(path, wv):
    """The full value check of `keras-embedx inspect --verify`.

    Args:
        path: str, the file `wv` was loaded from.
        wv: the `WordVectors` loaded from it.

    Returns:
        str, what was checked.

    Raises:
        VectorFileError: a cache file without a checksum or whose bytes do
            not match it, or a NaN or infinite value.
    """
    if wv.format != "cache":
        _check_finite(wv.vectors, wv.words, path)
        return "all values finite"
    from keras_embedx.vectors._source import open_source

    with open_source(path) as src:
        checksum = read_cache(src, mmap=True, verify=True).checksum
    return f"checksum {checksum} and all values finite"


def file_stamp(path):
    """`{"path", "size", "mtime_ns"}` of the regular file at `path`, else None."""
    try:
        st = os.stat(path)
    except (OSError, ValueError, TypeError):
        return None
    if not os.path.isfile(path):
        return None
    return {
        "path": os.path.abspath(path),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
    }


def _check_source_file(recorded, name):
    """Warn when the file the cache was made from changed since."""
    if not isinstance(recorded, dict) or not isinstance(recorded.get("path"), str):
        return
    now = file_stamp(recorded["path"])
    if now is None:  # gone, or never on this machine: nothing to compare
        return
    if (now["size"], now["mtime_ns"]) != (
        recorded.get("size"),
        recorded.get("mtime_ns"),
    ):
        warnings.warn(
            f"{name}: the file these vectors were read from, "
            f"{recorded['path']!r}, changed after this cache was written (size "
            f"{recorded.get('size')} -> {now['size']} bytes, or its modification "
            "time): the cache may hold old vectors. Recreate it with "
            "`keras_embedx.load_vectors(source).save(path)`.",
            VectorFileWarning,
            stacklevel=5,
        )


class MappedFile:
    """A cache file whose vectors are memory-mapped: tells, cheaply, whether
    the file was rewritten in place since it was mapped.

    A save replaces the file (a new file under the same name), which leaves
    the mapping intact. Writing into the mapped file itself (`cp new old`, an
    editor, a writer that does not rename) changes the vectors under the old
    words, and shrinking it makes reading the lost pages kill the process
    (SIGBUS). `check` compares the file's size now (one `fstat`) and its
    header as the mapping shows it now (which holds a stamp unique to each
    save) with what they were when it was loaded.

    Args:
        name: str, the path for messages.
        mapping: the `mmap.mmap` of the whole file.
        header: bytes, the file's first bytes up to the end of the header.
    """

    def __init__(self, name, mapping, header):
        self.name = name
        self._mapping = weakref.ref(mapping)  # the arrays keep it alive
        self._size = len(mapping)
        self._header = header

    def check(self):
        """Raise `VectorFileError` if the file was rewritten in place."""
        mapping = self._mapping()
        if mapping is None or mapping.closed:
            return
        size = mapping.size()  # the file's size now, not the mapping's
        if size == self._size and mapping[: len(self._header)] == self._header:
            return
        raise VectorFileError(
            "the file was rewritten in place while its vectors were "
            f"memory-mapped (its size is now {size} bytes, was {self._size}, or "
            "its header changed): the vectors no longer match the words. Load "
            "it again. Replace cache files with `WordVectors.save(path)` (which "
            "writes a new file and renames it) rather than copying over them, "
            "or load with `mmap=False`.",
            self.name,
        )


_MAPPED = weakref.WeakKeyDictionary()


def mapped_file_of(array):
    """The `MappedFile` whose mapping `array` views, else None."""
    base = array
    while base is not None:
        if isinstance(base, memoryview):
            base = base.obj
        elif isinstance(base, _mmap.mmap):
            return _MAPPED.get(base)
        else:
            base = getattr(base, "base", None)
    return None


def _round_up(n):
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)
