"""Open a vector file for reading bytes: plain, gzip/bz2/xz, or inside a zip.

Compression is recognised by the file's first bytes, not its name. A member of
a zip archive is named like a file in a folder, `"glove.6B.zip/glove.6B.50d.txt"`;
an archive holding a single file needs no member name.

Also the checks on `encoding` shared by the readers and writers.
"""

import bz2
import codecs
import contextlib
import gzip
import lzma
import os
import zipfile
import zlib

from keras_embedx._atomic import Temporary, remove_stale_temporaries
from keras_embedx.vectors.errors import VectorFileError

_COMPRESSION_MAGICS = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PK\x03\x04", "zip"),
)
_OPENERS = {"gzip": gzip.GzipFile, "bz2": bz2.BZ2File, "xz": lzma.LZMAFile}
_PEEK_BYTES = 1 << 16
_FIRST_READ = 1 << 20
_ASCII = bytes(range(128))

#: What to do about words that do not decode, for the end of an error message.
DECODE_HINT = (
    "If the file is in another encoding, pass it: encoding='cp1252' (Windows "
    "text) or encoding='latin-1' (any byte is a character). Or pass "
    "errors='replace' to load such words with U+FFFD in place of the bad bytes, "
    "or errors='skip' to drop these rows."
)


def compression_of(path):
    """`"gzip"`, `"bz2"`, `"xz"`, `"zip"` or `None`, from the file's first bytes."""
    with open(path, "rb") as f:
        head = f.read(6)
    for magic, name in _COMPRESSION_MAGICS:
        if head.startswith(magic):
            return name
    return None


class Source:
    """A vector file opened for sequential reading of its (decompressed) bytes.

    Attributes:
        name: str, the path as the user gave it (used in messages).
        path: str, the file on disk (the archive, for a zip member).
        compression: `None`, `"gzip"`, `"bz2"`, `"xz"` or `"zip"`.
        size: int or None, the number of content bytes when known without
            decompressing (plain files and zip members).
        raw_size: int, the size of the file on disk.
    """

    def __init__(self, name, path, compression, stream, raw, size, raw_size):
        self.name = name
        self.path = path
        self.compression = compression
        self.size = size
        self.raw_size = raw_size
        self._stream = stream
        self._raw = raw
        self._head = b""
        self._consumed = 0
        self._pulled = 0  # bytes read from the stream, peeked ones included

    def peek(self, n=_PEEK_BYTES):
        """The first bytes of the content, without consuming them."""
        while len(self._head) < n:
            data = self._read(n - len(self._head))
            if not data:
                break
            self._head += data
        return self._head[:n]

    def read(self, n):
        """Up to `n` bytes; `b""` at the end."""
        if self._head:
            out, self._head = self._head[:n], self._head[n:]
            if len(out) < n:
                out += self._read(n - len(out))
        else:
            out = self._read(n)
        self._consumed += len(out)
        return out

    def _read(self, n):
        # A read allocates all `n` bytes first. Ask a plain file for what is
        # left (and one byte more, to see the end); a compressed stream, whose
        # size is unknown, for at most a few times what it gave so far.
        if self.compression is None:
            n = min(n, max(self.size - self._pulled, 0) + 1)
        else:
            n = min(n, max(_FIRST_READ, 4 * self._pulled))
        try:
            data = self._stream.read(n)
            self._pulled += len(data)
            return data
        except (EOFError, OSError, zlib.error, lzma.LZMAError, zipfile.BadZipFile) as e:
            if self.compression is None:
                raise
            raise VectorFileError(
                f"the {self.compression} data is damaged or truncated after "
                f"{self._consumed + len(self._head)} bytes of content ({e}).",
                self.name,
            ) from e

    def progress(self):
        """(bytes done, bytes in all): of the content if its size is known,
        else of the compressed file."""
        if self.size is not None:
            return self._consumed, self.size
        try:
            return self._raw.tell(), self.raw_size
        except (OSError, ValueError):
            return 0, self.raw_size

    def close(self):
        for f in (self._stream, self._raw):
            try:
                f.close()
            except Exception:  # closing twice, or a stream already closed
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_source(path):
    """Open `path` (str or os.PathLike) for reading, decompressing as needed.

    Raises:
        FileNotFoundError: nothing at `path` (the message names it).
        VectorFileError: `path` is a directory, or a zip archive that holds
            several files and none was named.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            "`path` must be a str or os.PathLike naming a vector file. "
            f"Received: {type(path).__name__}"
        )
    name = os.fspath(path)
    if os.path.isdir(name):
        raise VectorFileError(
            "is a directory; expected a vector file (GloVe or word2vec text, "
            "word2vec binary, fastText .vec/.bin, or a keras_embedx cache file).",
            name,
        )
    member = None
    if not os.path.exists(name):
        archive, member = _split_zip_member(name)
        if archive is None:
            raise FileNotFoundError(2, "No such vector file", name)
        file_path = archive
    else:
        file_path = name
    raw_size = os.path.getsize(file_path)
    compression = compression_of(file_path)
    if member is not None and compression != "zip":
        raise FileNotFoundError(2, "No such vector file", name)
    raw = open(file_path, "rb")
    try:
        if compression is None:
            return Source(name, file_path, None, raw, raw, raw_size, raw_size)
        if compression == "zip":
            return _open_zip_member(name, file_path, member, raw, raw_size)
        if compression == "gzip":
            stream = gzip.GzipFile(fileobj=raw, mode="rb")
        else:
            stream = _OPENERS[compression](raw, mode="rb")
        return Source(name, file_path, compression, stream, raw, None, raw_size)
    except BaseException:
        raw.close()
        raise


def _split_zip_member(name):
    """`("a.zip", "dir/f.txt")` for `"a.zip/dir/f.txt"` when a.zip is a file."""
    parts = name.replace(os.sep, "/").split("/")
    for i in range(len(parts) - 1, 0, -1):
        head = "/".join(parts[:i])
        if head and os.path.isfile(head):
            if zipfile.is_zipfile(head):
                return head, "/".join(parts[i:])
            return None, None
    return None, None


def _open_zip_member(name, file_path, member, raw, raw_size):
    try:
        archive = zipfile.ZipFile(raw)
    except zipfile.BadZipFile as e:
        raise VectorFileError(
            f"damaged zip archive ({e}); expected a zip file holding a vector file.",
            name,
        ) from e
    files = [
        info
        for info in archive.infolist()
        if not info.is_dir() and not info.filename.startswith("__MACOSX/")
    ]
    if member is None:
        if len(files) != 1:
            listed = ", ".join(repr(i.filename) for i in files[:10])
            more = f" and {len(files) - 10} more" if len(files) > 10 else ""
            example = files[0].filename if files else "file.txt"
            raise VectorFileError(
                f"the zip archive holds {len(files)} files ({listed}{more}); "
                "expected exactly one. Name the one to load like a file in a "
                f"folder: {os.path.join(name, example)!r}.",
                name,
            )
        info = files[0]
    else:
        try:
            info = archive.getinfo(member)
        except KeyError:
            listed = ", ".join(repr(i.filename) for i in files[:10])
            raise FileNotFoundError(
                2, f"No file {member!r} in the zip archive (it holds {listed})", name
            ) from None
    stream = archive.open(info)
    return Source(name, file_path, "zip", stream, raw, info.file_size, raw_size)


@contextlib.contextmanager
def open_for_writing(path, compress=True):
    """Write `path` atomically: a context manager yielding a binary file.

    The bytes go to a new temporary file in the same directory, which is
    flushed to disk and renamed over `path` only when the `with` block ends
    without an error (see `keras_embedx._atomic`). Readers and a writer
    killed at any moment therefore see the previous file or the new one,
    never a part; concurrent writers (threads or processes) each write their
    own temporary file, and the last rename wins. A symbolic link at `path`
    is written through (its target is replaced). Temporary files left by
    writers that were killed are removed first. The file gets the mode of the
    file it replaces, else the default for new files.

    Args:
        path: str or `os.PathLike`.
        compress: bool, compress when `path` ends in `.gz`, `.bz2` or `.xz`.
    """
    name = os.fspath(path)
    kind = os.path.splitext(name)[1] if compress else None
    path = os.path.realpath(name)
    folder, base = os.path.split(path)
    remove_stale_temporaries(folder)
    with Temporary(folder) as tmp:
        if kind == ".gz":  # the name in the gzip header: the final one
            with gzip.GzipFile(base, "wb", fileobj=tmp.file) as f:
                yield f
        elif kind in _WRITERS:
            with _WRITERS[kind](tmp.file, "wb") as f:
                yield f
        else:
            yield tmp.file
        tmp.commit(path)


_WRITERS = {".bz2": bz2.BZ2File, ".xz": lzma.LZMAFile}


def check_encoding(encoding):
    """The codec name of `encoding` (`"utf-8"`, `"cp1252"`, `"iso8859-1"`...).

    Vector files are split into lines and fields on the bytes of `"\\n"` and
    `" "` before words are decoded, so the encoding must be ASCII-compatible:
    bytes below 128 mean the ASCII characters (UTF-8, Latin-1, Windows code
    pages, Shift-JIS, GBK...; not UTF-16 or UTF-32). `"utf-8-sig"` gives
    `"utf-8"`: readers drop a leading byte-order mark anyway, and writers
    would otherwise put one before every word or block.
    """
    if not isinstance(encoding, str):
        raise TypeError(
            f"`encoding` must be a str. Received: encoding={encoding!r} of type "
            f"{type(encoding).__name__}"
        )
    try:
        name = codecs.lookup(encoding).name
        compatible = _ASCII.decode(name) == _ASCII.decode("ascii")
    except LookupError:
        raise ValueError(
            "`encoding` must name a text encoding Python knows, such as 'utf-8', "
            f"'latin-1' or 'cp1252'. Received: encoding={encoding!r}"
        ) from None
    except UnicodeError:  # UnicodeDecodeError, or idna's complaints
        compatible = False
    if not compatible:
        raise ValueError(
            "`encoding` must be ASCII-compatible, such as 'utf-8', 'latin-1', "
            "'cp1252', 'shift_jis' or 'gbk': vector files are split on the bytes "
            "of ' ' and '\\n' before words are decoded, which UTF-16, UTF-32 and "
            "the like do not allow. Convert the file to UTF-8 first (e.g. "
            f"`iconv -f {encoding} -t UTF-8`). Received: encoding={encoding!r}"
        )
    return "utf-8" if name == "utf-8-sig" else name


def encoding_label(encoding):
    """How messages name a codec: `"UTF-8"`, else its codec name."""
    return "UTF-8" if encoding == "utf-8" else encoding


def check_encodable(words, encoding):
    """Raise `ValueError` naming the first word `encoding` cannot write."""
    try:
        "".join(words).encode(encoding)
        return
    except UnicodeEncodeError:
        pass
    for word in words:
        try:
            word.encode(encoding)
        except UnicodeEncodeError as e:
            raise ValueError(
                f"Cannot write the word {word!r} in {encoding_label(encoding)}: "
                f"{word[e.start : e.end]!r} has no encoding there. Pass "
                "encoding='utf-8' (the default), which can write any word."
            ) from None
