"""Text vector files: GloVe (no header) and word2vec / fastText `.vec` (header).

One row per line: a word, then `dim` numbers, separated by single spaces
(fastText adds a trailing space). word2vec and fastText files start with a
header line `count dim`.

Reading is vectorised and chunked. When the words are kept as UTF-8 bytes
(no `vocabulary`, UTF-8 files) and pandas is installed, worker threads run
pandas' C reader on the numeric columns of the next blocks while NumPy finds
the words' bytes in the current one (`BlockParser.numbers` and `encoded`).
Otherwise, or for a block that path refuses, each block goes first to
pandas' C reader over every column, or to NumPy's `loadtxt`. A block that
path rejects is sorted line by line with NumPy: regular lines (exactly `dim`
single spaces) are parsed in bulk again, and only the rest, plus any line a
bulk parse still refuses (found by bisection), goes through a careful Python
parser. That parser accepts what real files contain: words with spaces (the
last `dim` fields are the vector, unless the field before them is a number
too: then the row is one of the wrong width), `\\r\\n` endings, a byte-order
mark, trailing or repeated blanks, and blank lines (ignored). It names the
line and the problem for anything else. A line longer than `MAX_ROW_BYTES`
is refused as soon as it is seen.
"""

import collections
import contextlib
import itertools
import os
import re
import warnings
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from keras_embedx.vectors._progress import Progress
from keras_embedx.vectors._rows import MAX_ROW_BYTES, KeyRows, RowCollector
from keras_embedx.vectors._source import check_encodable, open_for_writing
from keras_embedx.vectors._text_parser import BlockParser
from keras_embedx.vectors.errors import VectorFileError, VectorFileWarning

_FIRST_BLOCK = 1 << 20
_BLOCK = 1 << 20  # parser buffers scale with it: see docs/design/real-vectors-speed.md
# With one worker thread, the caller parses every third block's numbers itself:
# its own work per block (the words, the checks, the store) is under half of pandas'.
_CALLER_SHARE = 3
_BOM = b"\xef\xbb\xbf"
_HEADER = re.compile(rb"\s*(\d+)\s+(\d+)\s*")
_MAX_LISTED = 3
# A gzip stream expands at most ~1032:1 (deflate's limit); other compressors
# could do more, but a bound is only needed to size the first allocation.
_COMPRESSED_RATIO_GUESS = 4
_FORMAT_HINT = {
    True: "word2vec/fastText text format: a header line 'count dim', then "
    "one word and its numbers per line",
    False: "GloVe text format: one word and its numbers per line, no header",
}


def read_text(
    src,
    *,
    header,
    errors="strict",
    limit=None,
    vocabulary=None,
    progress=True,
    encoding="utf-8",
):
    """Read a GloVe (`header=False`) or word2vec/fastText text file.

    Args:
        src: an open `Source`.
        header: bool, whether the first line is `count dim`.
        errors: `"strict"`, `"skip"` or `"replace"` (see `load_vectors`).
        limit: optional int, read only the first `limit` rows.
        vocabulary: optional set of str, keep only these words.
        progress: bool, show a progress bar for large files.
        encoding: str, the words' encoding, a name from `check_encoding`.

    Returns:
        `(words, vectors, index, info)` where `info` is a dict with `skipped`
        and `duplicates`; `words` is `Keys` (words kept encoded, `index`
        None) when no vocabulary filters them and they are UTF-8, else a
        list of str.
    """
    decode_errors = "replace" if errors == "replace" else "strict"
    parser = BlockParser(src.name, decode_errors, encoding)
    blocks = _line_blocks(src)
    block, ends = next(blocks, (None, ()))
    nlines = len(ends)
    if block is None or not block.strip():
        what = "empty" if block is None else "blank"
        raise VectorFileError(
            f"the file is {what}; expected {_FORMAT_HINT[bool(header)]}.", src.name
        )
    line_no = 1
    count = None
    if header:
        eol = block.index(b"\n")
        count, dim = _parse_header(block[:eol], src.name)
        block = block[eol + 1 :]
        ends = ends[1:] - (eol + 1)
        nlines -= 1
        line_no = 2
    else:
        dim = _infer_dim(block, src.name)

    row_bytes = 2 * dim + 2  # the shortest possible row: "w 0 0 ... 0\n"
    # What the first allocation may assume: the content of a plain file; for a
    # compressed one (whose sizes are not known, or only claimed) a guess
    # from the compressed size, grown with what is actually read.
    if src.compression is None:
        content = src.size
    else:
        content = src.raw_size * _COMPRESSED_RATIO_GUESS
        if src.size is not None:
            content = min(content, src.size)
    estimate = int(content / max(row_bytes, len(block) / max(1, nlines)) * 1.02) + 1
    if count is not None and src.size is not None:
        most = src.size // row_bytes + 1
        if count > most and (limit is None or limit > most):
            message = (
                f"the header says {count} rows of {dim} numbers, which needs at "
                f"least {count * row_bytes} bytes, but the file has only "
                f"{src.size}: the header is wrong or the file is truncated."
            )
            if errors != "skip":
                raise VectorFileError(message, src.name, 1)
            warnings.warn(f"{src.name}, line 1: {message}", VectorFileWarning, 3)
    capacity = min(
        x
        for x in (estimate, count, limit, len(vocabulary or ()) or None)
        if x is not None
    )
    parser.dim = dim
    if vocabulary is None and encoding == "utf-8":
        # The words stay UTF-8 bytes (lines were split on b"\n": none in a word).
        rows = KeyRows(dim, capacity)
    else:
        rows = RowCollector(dim, capacity, vocabulary)
    bar = Progress(f"Loading {src.name}", src.progress()[1], progress)

    seen = 0  # data rows so far, good or bad
    skipped = []
    n_skipped = 0
    overflow_line = None
    stopped = False
    fast = parser.fast and isinstance(rows, KeyRows)
    parsed = _parsed_blocks(parser, block, ends, blocks, line_no, fast)
    with contextlib.closing(parsed):
        for nlines, (words, vectors, lines, problems) in parsed:
            n_rows = len(words) + len(problems)
            order = None
            if limit is not None and seen + n_rows >= limit:
                order = np.sort(np.concatenate([lines, [p[0] for p in problems]]))
                cutoff = order[limit - seen - 1]
                if cutoff < order[-1]:
                    keep = lines <= cutoff
                    if not isinstance(words, list):
                        words = words.decode()
                    words = [w for w, k in zip(words, keep) if k]
                    vectors, lines = vectors[keep], lines[keep]
                    problems = [p for p in problems if p[0] <= cutoff]
                    n_rows = len(words) + len(problems)
                stopped = True
            if count is not None and overflow_line is None and seen + n_rows > count:
                if order is None:
                    order = np.sort(np.concatenate([lines, [p[0] for p in problems]]))
                overflow_line = int(order[count - seen])
                message = (
                    f"the header (line 1) says {count} rows, but there are more: row "
                    f"{count + 1} is on this line."
                )
                if errors != "skip":
                    raise VectorFileError(message, src.name, overflow_line)
            if problems:
                problems.sort()
                if errors != "skip":
                    line, message = problems[0]
                    raise VectorFileError(message, src.name, line)
                n_skipped += len(problems)
                skipped.extend(problems[: _MAX_LISTED - len(skipped)])
            rows.add(words, vectors, lines)
            seen += n_rows
            line_no += nlines
            bar.update(src.progress()[0])
            if stopped:
                break

    if count is not None and not stopped and seen < count:
        message = (
            f"the header (line 1) says {count} rows, but the file has only {seen}: "
            "it ends here. Is the file truncated?"
        )
        if errors != "skip":
            raise VectorFileError(message, src.name, line_no - 1)
        warnings.warn(f"{src.name}: {message}", VectorFileWarning, 3)
    if overflow_line is not None:
        warnings.warn(
            f"{src.name}: the header (line 1) says {count} rows, but the file has "
            f"{seen} (from line {overflow_line} on); all were read.",
            VectorFileWarning,
            3,
        )
    if n_skipped:
        listed = "; ".join(f"line {line}: {msg}" for line, msg in skipped)
        warnings.warn(
            f"{src.name}: skipped {n_skipped} malformed row"
            f"{'s' if n_skipped > 1 else ''} (errors='skip'). First: {listed}",
            VectorFileWarning,
            3,
        )
    words, vectors, index = rows.finish()
    rows.warn_duplicates(src.name)
    bar.close(f"{len(words)} words x {dim}")
    info = {"skipped": n_skipped, "duplicates": rows.duplicates}
    return words, vectors, index, info


def _parsed_blocks(parser, block, ends, blocks, line_no, fast):
    """Yield `(nlines, (words, vectors, lines, problems))` for the block
    `block` whose lines end at `ends` and start at line `line_no`, then for
    each `(block, ends)` of `blocks`, in order (see `BlockParser.parse`).

    With `fast`, pandas parses the numbers of the next blocks in worker
    threads while this one's words are found (`BlockParser.numbers` and
    `encoded`); a block they refuse goes to `BlockParser.parse`. An error
    reading a block ahead is raised when that block's turn comes, after
    the rows before it.
    """
    source = itertools.chain([(block, ends)], blocks)
    if not fast:
        for block, ends in source:
            nlines = len(ends)
            yield nlines, parser.parse(block, line_no, nlines)
            line_no += nlines
        return
    workers = _worker_threads()
    executor = ThreadPoolExecutor(workers) if workers else None
    pending = collections.deque()  # (block, ends, future or numbers, error)
    reading = True
    read = 0
    share = _CALLER_SHARE if workers == 1 else 0
    try:
        while True:
            while reading and len(pending) <= workers:
                try:
                    block, ends = next(source)
                except StopIteration:
                    reading = False
                    break
                except VectorFileError as e:
                    pending.append((None, None, None, e))
                    reading = False
                    break
                read += 1
                if executor is None or (share and read % share == 0):
                    pending.append((block, ends, parser.numbers(block), None))
                else:
                    future = executor.submit(parser.numbers, block)
                    pending.append((block, ends, future, None))
            if not pending:
                return
            block, ends, numbers, error = pending.popleft()
            if error is not None:
                raise error
            if isinstance(numbers, Future):
                numbers = numbers.result()
            nlines = len(ends)
            got = parser.encoded(block, ends, numbers)
            if got is None:
                yield nlines, parser.parse(block, line_no, nlines)
            else:
                lines = np.arange(line_no, line_no + nlines, dtype=np.int64)
                yield nlines, (got[0], got[1], lines, [])
            line_no += nlines
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def _worker_threads():
    """Threads parsing blocks ahead: one a core besides the caller's, at most
    two; none on one core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return min(2, cores - 1)


def _line_blocks(src):
    """Yield `(block, ends)`: whole lines, each ending in `\\n`, and the
    offsets of those `\\n` (an int64 array); BOM removed.

    Raises `VectorFileError` naming the line as soon as a line is longer
    than `MAX_ROW_BYTES`, without reading the rest of it.
    """
    pending = b""
    size = _FIRST_BLOCK
    first = True
    line = 1  # the line `pending` starts
    while True:
        data = src.read(size)
        size = _BLOCK
        if first:
            first = False
            while len(data) < 3 and data == _BOM[: len(data)]:
                more = src.read(size)
                if not more:
                    break
                data += more
            if data.startswith(_BOM):
                data = data[3:]
        if not data:
            if pending:
                yield pending + b"\n", np.array([len(pending)], np.int64)
            return
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            pending += data
            if len(pending) > MAX_ROW_BYTES:
                raise _long_line(src.name, line, len(pending))
            continue
        if pending:
            block = b"".join([pending, memoryview(data)[:cut]])
        elif cut == len(data):
            block = data
        else:
            block = data[:cut]
        _check_line_lengths(block, src.name, line)
        ends = np.flatnonzero(np.frombuffer(block, np.uint8) == 10)
        line += len(ends)
        pending = data[cut:]
        if len(pending) > MAX_ROW_BYTES:
            raise _long_line(src.name, line, len(pending))
        yield block, ends


def _check_line_lengths(block, name, first_line):
    """Refuse a block holding a line longer than `MAX_ROW_BYTES`.

    Any such line covers a whole window of `MAX_ROW_BYTES // 2` bytes
    starting at a multiple of that, so only windows without a line break
    need a closer look: a few `find`s per block.
    """
    if len(block) <= MAX_ROW_BYTES:
        return
    step = MAX_ROW_BYTES // 2
    for start in range(0, len(block) - step + 1, step):
        if block.find(b"\n", start, start + step) >= 0:
            continue
        begin = block.rfind(b"\n", 0, start) + 1
        end = block.find(b"\n", start)
        if end - begin > MAX_ROW_BYTES:
            line = first_line + block.count(b"\n", 0, begin)
            raise _long_line(name, line, end - begin)


def _long_line(name, line, length):
    return VectorFileError(
        f"the line is longer than {MAX_ROW_BYTES:,} bytes ({length:,} bytes "
        "without a line break so far); expected rows of a word and its numbers, "
        "which are far shorter. Is this a text vector file?",
        name,
        line,
    )


def _parse_header(line, name):
    match = _HEADER.fullmatch(line)
    if match is None:
        shown = line[:80].decode("utf-8", "replace")
        raise VectorFileError(
            "expected a header 'count dim' (two integers, as word2vec and "
            f"fastText .vec files start with), found {shown!r}. If the file has "
            "no header, load it with format='glove'.",
            name,
            1,
        )
    count, dim = int(match[1]), int(match[2])
    if dim < 1 or 2 * dim + 1 > MAX_ROW_BYTES:
        raise VectorFileError(
            f"the header 'count dim' gives dim={dim}; expected a positive vector "
            f"width whose rows fit in a line of at most {MAX_ROW_BYTES:,} bytes "
            f"(dim <= {MAX_ROW_BYTES // 2 - 1:,}). Is the header damaged?",
            name,
            1,
        )
    return count, dim


def _infer_dim(block, name, sample=200):
    """The vector width of a headerless file: the most common number of
    fields on its first lines, less one (the word)."""
    widths = collections.Counter()
    first_line = None
    for i, raw in enumerate(block.split(b"\n", sample)[:sample]):
        line = raw.rstrip()
        if not line:
            continue
        if first_line is None:
            first_line = (i + 1, line)
        widths[len(line.split()) - 1] += 1
    if first_line is None:
        raise VectorFileError(
            f"no data rows; expected {_FORMAT_HINT[False]}.", name, None
        )
    dim = widths.most_common(1)[0][0]
    if dim < 1:
        shown = first_line[1][:80].decode("utf-8", "replace")
        raise VectorFileError(
            "expected a word followed by numbers, separated by spaces "
            f"({_FORMAT_HINT[False]}), found {shown!r}.",
            name,
            first_line[0],
        )
    return dim


# -- writing ---------------------------------------------------------------------


def write_text(path, words, vectors, *, header, precision=None, encoding="utf-8"):
    """Write GloVe (`header=False`) or word2vec text (`header=True`).

    Numbers are written in the shortest form that reads back to the same
    float32 (`precision=None`), or with `precision` significant digits.
    A path ending in `.gz`, `.bz2` or `.xz` is compressed. Words are written
    in `encoding` (checked by `check_encoding`).
    """
    vectors = np.asarray(vectors, np.float32)
    for word in words:
        if not word or "\n" in word or "\r" in word or word != word.strip():
            raise ValueError(
                f"Cannot write the word {word!r} to a text vector file: a word "
                "must be non-empty, without line breaks or leading/trailing "
                "blanks."
            )
        if header and " " in word:
            raise ValueError(
                f"Cannot write the word {word!r} in word2vec text format: words "
                "containing spaces cannot be read back by word2vec tools. Use "
                "format='glove' (this package reads such words back) or 'cache'."
            )
    check_encodable(words, encoding)
    with open_for_writing(path) as f:
        if header:
            f.write(f"{len(words)} {vectors.shape[1]}\n".encode())
        fmt = None if precision is None else f"%.{int(precision)}g"
        lines = []
        for word, row in zip(words, vectors):
            if fmt is None:
                numbers = " ".join(map(str, row))
            else:
                numbers = " ".join([fmt % x for x in row.tolist()])
            lines.append(f"{word} {numbers}\n")
            if len(lines) >= 4096:
                f.write("".join(lines).encode(encoding))
                lines = []
        f.write("".join(lines).encode(encoding))
