"""word2vec's binary format: a text header `count dim\\n`, then per row the
word's bytes (UTF-8 unless an `encoding` is given), a space, and `dim`
little-endian float32 values (word2vec.c writes a newline after each row;
gensim writes none; both are read).
"""

import re
import warnings

import numpy as np

from keras_embedx.vectors._progress import Progress
from keras_embedx.vectors._rows import MAX_ROW_BYTES, RowCollector
from keras_embedx.vectors._source import (
    DECODE_HINT,
    check_encodable,
    encoding_label,
    open_for_writing,
)
from keras_embedx.vectors.errors import VectorFileError, VectorFileWarning

_HEADER = re.compile(rb"\s*(\d+)\s+(\d+)\s*")
_READ = 4 << 20
_BATCH = 8192
_BATCH_BYTES = 16 << 20
_MAX_WORD_BYTES = 1 << 16
_COMPRESSED_RATIO_GUESS = 2


def read_word2vec_binary(
    src,
    *,
    errors="strict",
    limit=None,
    vocabulary=None,
    progress=True,
    encoding="utf-8",
):
    """Read a word2vec binary file. Same arguments and result as `read_text`."""
    name = src.name
    decode_errors = "replace" if errors == "replace" else "strict"
    head = src.read(256)
    if not head:
        raise VectorFileError(
            "the file is empty; expected word2vec binary: a header line "
            "'count dim', then for each row a word, a space and dim float32 "
            "values.",
            name,
        )
    eol = head.find(b"\n")
    match = _HEADER.fullmatch(head[:eol]) if eol >= 0 else None
    if match is None:
        shown = head[: eol if eol >= 0 else 60].decode("utf-8", "replace")
        raise VectorFileError(
            "expected a header 'count dim' (two integers) as word2vec binary "
            f"files start with, found {shown!r}.",
            name,
            1,
            "line",
        )
    count, dim = int(match[1]), int(match[2])
    if dim < 1 or 4 * dim > MAX_ROW_BYTES:
        raise VectorFileError(
            f"the header gives dim={dim}; expected a positive vector width whose "
            f"rows fit in {MAX_ROW_BYTES:,} bytes (dim <= {MAX_ROW_BYTES // 4:,}). "
            "Is the header damaged?",
            name,
            1,
        )
    row_bytes = 4 * dim
    header_bytes = eol + 1
    target = count if limit is None else min(count, limit)
    if src.size is not None:
        body = src.size - header_bytes
        most = body // (row_bytes + 2)
        if target > most:
            raise VectorFileError(
                f"the header says {count} rows of {dim} float32 values, which "
                f"needs at least {count * (row_bytes + 2)} bytes after it, but the "
                f"file has only {body}: the header is wrong or the file is "
                "truncated.",
                name,
                1,
            )
        capacity = target
    if src.compression is not None:
        # Compressed content has no known size (a zip member's is only
        # claimed): start from a guess, and let the matrix grow with the rows
        # actually read.
        guess = src.raw_size * _COMPRESSED_RATIO_GUESS // (row_bytes + 2) + 1
        capacity = min(target, guess)
    if vocabulary is not None:
        capacity = min(capacity, len(vocabulary))
    rows = RowCollector(dim, capacity, vocabulary)
    bar = Progress(f"Loading {name}", src.progress()[1], progress)

    buf = head[header_bytes:]
    pos = 0
    offset = header_bytes  # file offset of buf[0]
    eof = False
    done = 0
    n_skipped, skipped = 0, []
    words, where = [], []
    batch = max(1, min(_BATCH, _BATCH_BYTES // row_bytes, capacity))
    block = np.empty((batch, dim), np.float32)

    def flush():
        nonlocal words, where
        if words:
            vectors = block[: len(words)]
            finite = np.isfinite(vectors).all(axis=1)
            if not finite.all():
                bad = np.flatnonzero(~finite)
                message = "expected finite float32 values, found NaN or infinity."
                if errors != "skip":
                    raise VectorFileError(message, name, where[bad[0]], "row")
                _note(skipped, where, bad, message)
                keep = np.flatnonzero(finite)
                words = [words[i] for i in keep.tolist()]
                rows.add(words, vectors[keep], np.asarray(where)[keep])
                words, where = [], []
                return len(bad)
            rows.add(words, vectors, where)
            words, where = [], []
        return 0

    while done < target:
        # Make sure a whole row (word, space, floats) is in `buf` from `pos`.
        while True:
            while pos < len(buf) and buf[pos] == 10:  # "\n" after the last row
                pos += 1
            space = buf.find(b" ", pos, pos + _MAX_WORD_BYTES)
            if space >= 0 and len(buf) - space - 1 >= row_bytes:
                break
            if eof or (space < 0 and len(buf) - pos >= _MAX_WORD_BYTES):
                break
            more = src.read(_READ)
            if not more:
                eof = True
            offset += pos
            buf = buf[pos:] + more
            pos = 0
        row_start = offset + pos
        if space < 0 or len(buf) - space - 1 < row_bytes:
            if space < 0 and len(buf) - pos >= _MAX_WORD_BYTES:
                raise VectorFileError(
                    f"expected a word and a space, found {_MAX_WORD_BYTES} bytes "
                    "without a space: is this a word2vec binary file?",
                    name,
                    done + 1,
                    "row",
                )
            left = len(buf) - pos
            raise VectorFileError(
                f"the file ends {left} bytes into this row (byte offset "
                f"{row_start}), but a row needs the word, a space and {row_bytes} "
                f"bytes of float32 values; the header (line 1) says {count} rows. "
                "Is the file truncated?",
                name,
                done + 1,
                "row",
            )
        raw_word = buf[pos:space]
        pos = space + 1 + row_bytes
        try:
            word = raw_word.decode(encoding, decode_errors)
        except UnicodeDecodeError as e:
            word = None
            label = encoding_label(encoding)
            message = (
                f"the word at byte offset {row_start} is not valid {label} (byte "
                f"{raw_word[e.start]:#04x}); expected {label}. {DECODE_HINT}"
            )
        else:
            if not word:
                message = f"expected a word before the space at byte {row_start}."
                word = None
            elif "\n" in word or "\0" in word:
                at = row_start + raw_word.find(b"\n" if "\n" in word else b"\0")
                message = (
                    f"expected a word, found a {'line break' if chr(10) in word else 'NUL'}"
                    f" in it at byte offset {at}: the row is damaged, or the one "
                    "before it has the wrong length."
                )
                word = None
        if word is None:
            if errors != "skip":
                raise VectorFileError(message, name, done + 1, "row")
            n_skipped += 1
            _note(skipped, [done + 1], [0], message)
        else:
            block[len(words)] = np.frombuffer(buf, "<f4", dim, space + 1)
            words.append(word)
            where.append(done + 1)
            if len(words) == len(block):
                n_skipped += flush()
                bar.update(src.progress()[0])
        done += 1
    n_skipped += flush()

    if limit is None or limit >= count:
        rest = buf[pos:] + src.read(_READ)
        if rest.strip():
            message = (
                f"the header (line 1) says {count} rows, but {len(rest.strip())}+ "
                f"more bytes follow the last of them (byte offset {offset + pos}). "
                "Either the header's count is wrong or a row has the wrong length, "
                "which puts every row after it out of place: no row can be trusted, "
                "even with errors='skip'."
            )
            raise VectorFileError(message, name, count + 1, "row")
    if n_skipped:
        listed = "; ".join(f"row {r}: {m}" for r, m in skipped)
        warnings.warn(
            f"{name}: skipped {n_skipped} malformed row"
            f"{'s' if n_skipped > 1 else ''} (errors='skip'). First: {listed}",
            VectorFileWarning,
            3,
        )
    rows.warn_duplicates(name, "row")
    words, vectors, index = rows.finish()
    bar.close(f"{len(words)} words x {dim}")
    return words, vectors, index, {"skipped": n_skipped, "duplicates": rows.duplicates}


def _note(skipped, where, bad, message, most=3):
    for i in list(bad)[: most - len(skipped)]:
        skipped.append((where[i], message))


def write_word2vec_binary(path, words, vectors, encoding="utf-8"):
    """Write word2vec binary (as word2vec.c does: a newline after each row),
    words in `encoding` (checked by `check_encoding`)."""
    vectors = np.ascontiguousarray(vectors, dtype="<f4")
    for word in words:
        if not word or " " in word or "\n" in word:
            raise ValueError(
                f"Cannot write the word {word!r} in word2vec binary format: a word "
                "must be non-empty, without spaces or line breaks. Use "
                "format='cache' to keep any word."
            )
    check_encodable(words, encoding)
    with open_for_writing(path) as f:
        f.write(f"{len(words)} {vectors.shape[1]}\n".encode())
        parts = []
        for word, row in zip(words, vectors):
            parts.append(word.encode(encoding) + b" " + row.tobytes() + b"\n")
            if len(parts) >= 4096:
                f.write(b"".join(parts))
                parts = []
        f.write(b"".join(parts))
