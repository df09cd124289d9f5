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
`[offset, nbytes]` of each part, `source` and the total `file_size`, which
`load_cache` checks, so a truncated or damaged file fails with a clear message
instead of giving wrong vectors. The vectors are memory-mapped read-only by
default: opening a 200,000 x 300 file costs about as much as reading its words.
"""

import json
import os
import struct

import numpy as np

from keras_embedx.vectors.errors import VectorFileError

MAGIC = b"\x89KXVEC\r\n"
VERSION = 1
_ALIGN = 64
_MAX_HEADER = 1 << 20
_WRITE_ROWS_BYTES = 64 << 20


def save_cache(path, words, vectors, counts=None, source=None):
    """Write `words`/`vectors` (and `counts`) to `path`, atomically."""
    path = os.fspath(path)
    vectors = np.asarray(vectors)
    n, dim = vectors.shape
    encoded = [w.encode("utf-8") for w in words]
    if len(encoded) != n:
        raise ValueError(f"{len(encoded)} words for {n} vectors.")
    split = any(b"\n" in w for w in encoded)
    blob = b"".join(encoded) if split else b"\n".join(encoded)

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
    }
    # The header's size depends on the offsets it lists: settle it in two passes.
    size_guess = 0
    for _ in range(3):
        start, parts, total = layout(size_guess)
        text = json.dumps({**header, **parts, "file_size": total}).encode()
        if len(text) <= size_guess:
            break
        size_guess = len(text) + 32
    text = text.ljust(start - len(MAGIC) - 4)

    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(MAGIC + struct.pack("<I", len(text)) + text)
            step = max(1, _WRITE_ROWS_BYTES // max(1, dim * 4))
            for a in range(0, n, step):
                f.write(np.ascontiguousarray(vectors[a : a + step], "<f4").tobytes())
            if counts is not None:
                f.write(np.ascontiguousarray(counts, "<i8").tobytes())
            f.write(blob)
            if split:
                ends = np.cumsum([0] + [len(w) for w in encoded], dtype="<i8")
                f.write(ends.tobytes())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def is_cache(head):
    """Whether bytes `head` begin a cache file."""
    return head[: len(MAGIC)] == MAGIC


def load_cache(src, mmap=True):
    """Read a cache file. `src` is an open `Source`.

    Returns:
        `(words, vectors, counts, source)`; `vectors` is a read-only
        memory map when `mmap` and the file is a plain (uncompressed) file.
    """
    name = src.name
    if src.compression is None:
        with open(src.path, "rb") as f:
            return _parse(name, f, src.size, mmap, src.path)
    import io

    data = bytearray()
    while True:
        chunk = src.read(64 << 20)
        if not chunk:
            break
        data += chunk
    return _parse(name, io.BytesIO(data), len(data), False, None, data)


def _parse(name, f, size, mmap, path, data=None):
    def damaged(what):
        return VectorFileError(
            f"damaged keras_embedx cache file: {what}. Recreate it with "
            "`WordVectors.save(path)`.",
            name,
        )

    head = f.read(len(MAGIC) + 4)
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
    try:
        header = json.loads(f.read(header_len))
    except (UnicodeDecodeError, ValueError):
        raise damaged("its JSON header does not parse") from None
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

    offset = parts["vectors"][0]
    if mmap and path is not None and count > 0:
        vectors = np.memmap(
            path, dtype="<f4", mode="r", offset=offset, shape=(count, dim)
        ).view(np.ndarray)
    elif data is not None:
        vectors = np.frombuffer(data, "<f4", count * dim, offset).reshape(count, dim)
    else:
        f.seek(offset)
        vectors = np.fromfile(f, "<f4", count * dim).reshape(count, dim)
    counts = None
    if "counts" in parts:
        f.seek(parts["counts"][0])
        counts = np.frombuffer(f.read(parts["counts"][1]), "<i8").astype(np.int64)
    f.seek(parts["words"][0])
    blob = f.read(parts["words"][1])
    try:
        if "word_offsets" in parts:
            f.seek(parts["word_offsets"][0])
            ends = np.frombuffer(f.read(parts["word_offsets"][1]), "<i8").tolist()
            words = [blob[a:b].decode("utf-8") for a, b in zip(ends[:-1], ends[1:])]
        else:
            words = blob.decode("utf-8").split("\n") if count else []
    except UnicodeDecodeError:
        raise damaged("its words are not valid UTF-8") from None
    if len(words) != count:
        raise damaged(f"it holds {len(words)} words for {count} vectors")
    return words, vectors, counts, header.get("source")


def _round_up(n):
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)
