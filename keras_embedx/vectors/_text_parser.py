"""The block parser behind `text.read_text`: bulk first, careful where needed.

`BlockParser.parse(block, first_line)` turns a block of whole lines into words,
a float32 matrix, their line numbers, and `(line, message)` for malformed
lines. Bulk parsers (pandas' C reader, else NumPy's `loadtxt`) take regular
lines; the rest, and any line a bulk parse refuses (found by bisection), go to
`parse_line`, which accepts words with spaces and names what is wrong with a
line in a message.

`numbers(block)` and `encoded(block, numbers)` are the fastest path, for a
block of GloVe-shaped lines whose words are kept as UTF-8 bytes: pandas
parses the numeric columns only (no Python object per word), NumPy finds
each word's bytes. `numbers` runs in worker threads while the caller works
on other blocks; a block either function refuses goes to `parse`.
"""

import io

import numpy as np

from keras_embedx.vectors._keys import EncodedWords
from keras_embedx.vectors._source import DECODE_HINT, encoding_label

_BISECT_MIN_LINES = 32
_PANDAS_MAX_COLUMNS = 1024
# Bytes searched for each line's first space at once (a longer word: `find`).
_WINDOW = np.arange(16, dtype=np.int32)
# First bytes of a word that may be all blank (`str.isspace`): ASCII blanks,
# and the lead bytes of U+0085, U+00A0, U+1680, U+2000-U+205F and U+3000.
_MAYBE_BLANK = np.zeros(256, np.bool_)
_MAYBE_BLANK[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 0xC2, 0xE1, 0xE2, 0xE3]] = True


class _RowProblem(Exception):
    """One malformed line (internal; becomes a VectorFileError or a skip)."""


def _pandas():
    try:
        import pandas
    except ImportError:
        return None
    return pandas


class BlockParser:
    """Parses blocks of whole lines into (words, vectors, line numbers, problems)."""

    def __init__(self, name, decode_errors, encoding="utf-8"):
        self.name = name
        self.decode_errors = decode_errors
        self.encoding = encoding
        self.pd = _pandas()
        self._dim = None

    @property
    def dim(self):
        return self._dim

    @dim.setter
    def dim(self, dim):
        self._dim = dim
        self._dtypes = None  # made for the first block pandas parses
        if dim > _PANDAS_MAX_COLUMNS:
            # A frame costs kilobytes a column: NumPy takes wide rows.
            self.pd = None
        else:
            self._numeric = list(range(1, dim + 1))

    @property
    def fast(self):
        """Whether `numbers` and `encoded` can parse blocks (pandas, UTF-8)."""
        return self.pd is not None and self.encoding == "utf-8"

    # -- the fastest path: numbers by pandas, words as bytes ---------------------

    def numbers(self, block):
        """The `[lines, dim]` float32 numbers of a block whose lines are all
        a word, then `dim` numbers, or None. Safe to call from worker
        threads (pandas releases the GIL while it tokenizes and converts).

        Only columns 1 to `dim` are converted, so pandas makes no Python
        object per word; `encoded` checks what `usecols` lets through (a
        line with more fields than the first one).
        """
        frame = self._read_csv(
            block,
            usecols=self._numeric,
            dtype=np.float64,  # one cast of the block beats one a column
            low_memory=False,  # one pass over the block, no chunks to join
        )
        if frame is None:
            return None
        with np.errstate(over="ignore"):  # found below: not finite
            vectors = frame.to_numpy(np.float32)
        if not np.isfinite(vectors).all():  # also float64 beyond float32's range
            return None
        return vectors

    def encoded(self, block, ends, vectors):
        """`(EncodedWords, vectors)` for a block whose lines end at `ends`
        (the offsets of its `\\n`s) and that `numbers` parsed into
        `vectors`, or None when a line needs `parse`.

        Every line must have exactly `dim` single spaces (`dim + 1` when
        each ends with one, as fastText writes them), a non-empty word in
        valid UTF-8 before the first, neither all blank nor tab-edged, and
        no NUL byte.
        """
        dim = self._dim
        nlines = len(ends)
        if not nlines or vectors is None or vectors.shape != (nlines, dim):
            return None
        if b"\0" in block:
            return None
        b = np.frombuffer(block, np.uint8)
        starts = np.empty_like(ends)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        trailing = bool((b[ends - 1] == 32).all())
        is_space = b == 32
        if np.count_nonzero(is_space) != nlines * (dim + trailing):
            return None
        # The first space of each line, looked for in a window of bytes; the
        # few longer words with `find`.
        window = np.add.outer(starts.astype(np.int32), _WINDOW)
        np.minimum(window, len(b) - 1, out=window)
        spaces = is_space[window]
        first = spaces.argmax(axis=1)
        for i in np.flatnonzero(~spaces.any(axis=1)).tolist():
            first[i] = block.find(b" ", starts[i]) - starts[i]
        word_ends = starts + first
        # A space beyond the line's end: the line has no word and numbers.
        if not (first > 0).all() or not (word_ends < ends).all():
            return None
        # pandas reads each "\r" as a line break: a line count that matches
        # means a "\r" only before a "\n", which the careful parser drops too.
        candidates = np.flatnonzero(
            _MAYBE_BLANK[b[starts]] | (b[word_ends - 1] == 9)
        ).tolist()
        for i in candidates:
            try:
                word = block[starts[i] : word_ends[i]].decode("utf-8")
            except UnicodeDecodeError:
                return None
            if word.isspace() or word[0] == "\t" or word[-1] == "\t":
                return None
        # The words' bytes, each followed by "\n" (the line's first space).
        lengths = first + 1
        offsets = np.cumsum(lengths)
        gather = np.repeat(starts - (offsets - lengths), lengths)
        gather += np.arange(len(gather))
        joined = b[gather]
        joined[offsets - 1] = 10
        blob = joined[:-1].tobytes()
        if not blob.isascii():
            try:
                blob.decode("utf-8")
            except UnicodeDecodeError:
                return None
        return EncodedWords(blob, nlines), vectors

    def parse(self, block, first_line, nlines=None):
        """All the rows of `block`, whose first line is line `first_line`.

        Returns:
            `(words, vectors, lines, problems)`: the good rows in line order
            (`lines` an int64 array of their line numbers) and a list of
            `(line, message)` for the malformed ones. Blank lines give neither.
        """
        if nlines is None:
            nlines = block.count(b"\n")
        if nlines == 0:
            return [], np.empty((0, self._dim), np.float32), np.empty(0, np.int64), []
        if self.pd is not None:
            # pandas makes as many columns as the first line has fields: a
            # first line wider than a row (or a block too short for rows of
            # `dim` numbers, a header's claim, say) goes line by line instead.
            trailing = block.endswith(b" \n") and block.count(b" \n") == nlines
            first = block[: block.find(b"\n")]
            clean = (
                len(block) >= nlines * (2 * self._dim + 1)
                and first.count(b" ") <= self._dim + 1
                and b"\0" not in block
            )
        else:
            # NumPy's loadtxt cannot tell us about odd lines: check the block
            # first. With exactly dim spaces per line on average and no doubled,
            # leading or trailing blank, a longer line implies a shorter one,
            # which loadtxt refuses.
            trailing = False
            clean = (
                block.count(b" ") == nlines * self._dim
                and not block.startswith(b" ")
                and all(
                    pattern not in block
                    for pattern in (b"  ", b" \n", b"\n ", b"\r", b"\0")
                )
            )
        if clean:
            got = self._bulk(block, nlines, trailing)
            if got is not None:
                words, vectors = got
                lines = np.arange(first_line, first_line + nlines, dtype=np.int64)
                if _bad_rows(words, vectors, tabs=b"\t" in block) is None:
                    return words, vectors, lines, []
        return self._sorted(block, first_line)

    # -- the bulk parsers: all lines regular, or None ---------------------------

    def _bulk(self, block, nlines, trailing=False):
        """`(words, vectors)` for a block of `nlines` regular lines, or None
        when the block is not regular (a field count, a value, the encoding)."""
        if self.pd is not None:
            return self._bulk_pandas(block, nlines, trailing)
        if trailing:
            return None
        return self._bulk_numpy(block, nlines)

    def _bulk_pandas(self, block, nlines, trailing):
        dim = self._dim
        if self._dtypes is None:
            # O(dim): only once a block with `dim` numbers a line is there.
            # float64 columns: pandas parses to float64 anyway, and casts each
            # float32 column on its own; one cast of the whole block is faster.
            self._dtypes = {0: object, **{i: np.float64 for i in range(1, dim + 1)}}
        options = {}
        if trailing:
            options.update(names=list(range(dim + 2)), usecols=list(range(dim + 1)))
        if self.encoding != "utf-8":  # pandas' default; options cost time
            options.update(encoding=self.encoding)
        if self.decode_errors != "strict":
            options.update(encoding_errors=self.decode_errors)
        frame = self._read_csv(block, dtype=self._dtypes, **options)
        if frame is None or frame.shape != (nlines, dim + 1):
            return None
        words = frame.pop(0).tolist()
        with np.errstate(over="ignore"):  # `_bad_rows` finds what overflowed
            return words, frame.to_numpy(np.float32)

    def _read_csv(self, block, **options):
        """pandas' C reader over a block of space-separated lines, or None
        when it refuses them."""
        try:
            return self.pd.read_csv(
                io.BytesIO(block),
                sep=" ",
                header=None,
                index_col=False,
                quoting=3,  # csv.QUOTE_NONE: quotes are part of words
                na_filter=False,  # "NA", "null", "nan" are words
                skip_blank_lines=False,
                engine="c",
                **options,
            )
        except (ValueError, TypeError, OverflowError, IndexError):
            return None

    def _bulk_numpy(self, block, nlines):
        dim = self._dim
        ends = np.flatnonzero(np.frombuffer(block, np.uint8) == 10)
        if len(ends) != nlines:
            return None
        starts = [0] + (ends[:-1] + 1).tolist()
        find = block.find
        try:
            # Every line has a space here (regular lines, or a checked block).
            words = [
                block[s : find(b" ", s)].decode(self.encoding, self.decode_errors)
                for s in starts
            ]
            vectors = np.loadtxt(
                io.BytesIO(block),
                dtype=np.float32,
                delimiter=" ",
                usecols=range(1, dim + 1),
                comments=None,
                quotechar=None,
                ndmin=2,
                encoding="latin-1",  # only the numeric columns are converted
            )
        except (ValueError, UnicodeDecodeError):
            return None
        if vectors.shape != (nlines, dim):
            return None
        return words, vectors

    # -- sorting a block line by line ------------------------------------------

    def _sorted(self, block, first_line):
        """Split a block into regular lines (bulk-parsed) and the rest."""
        dim = self._dim
        b = np.frombuffer(block, np.uint8)
        newlines = np.flatnonzero(b == 10)
        starts = np.concatenate([[0], newlines[:-1] + 1]).astype(np.int64)
        ends = newlines.copy()
        last = b[np.maximum(ends - 1, 0)]
        ends -= (ends > starts) & (last == 13)  # "\r\n"
        last = b[np.maximum(ends - 1, 0)]
        ends -= (ends > starts) & (last == 32)  # one trailing space (fastText)
        spaces = np.flatnonzero(b == 32)
        n_spaces = np.searchsorted(spaces, ends) - np.searchsorted(spaces, starts)
        doubled = spaces[:-1][np.diff(spaces) == 1]
        n_doubled = np.searchsorted(doubled, ends - 1) - np.searchsorted(
            doubled, starts
        )
        odd = np.flatnonzero((b == 13) | (b == 0))
        n_odd = np.searchsorted(odd, ends) - np.searchsorted(odd, starts)
        leading = b[np.minimum(starts, len(b) - 1)] == 32
        regular = (
            (ends > starts)
            & (n_spaces == dim)
            & (n_doubled == 0)
            & (n_odd == 0)
            & ~leading
        )
        line_numbers = np.arange(first_line, first_line + len(starts), dtype=np.int64)
        out_words, out_vectors, out_lines, problems = [], [], [], []

        regular_ids = np.flatnonzero(regular)
        if len(regular_ids):
            canon, canon_ends = _canonical(b, starts, ends, regular_ids)
            for ids, words, vectors in self._bisect(
                canon, canon_ends, 0, len(regular_ids)
            ):
                if words is not None:
                    out_words.append(words)
                    out_vectors.append(vectors)
                    out_lines.append(line_numbers[regular_ids[ids]])
                else:
                    self._slow_lines(
                        block,
                        starts,
                        newlines,
                        regular_ids[ids],
                        line_numbers,
                        out_words,
                        out_vectors,
                        out_lines,
                        problems,
                    )
        self._slow_lines(
            block,
            starts,
            newlines,
            np.flatnonzero(~regular),
            line_numbers,
            out_words,
            out_vectors,
            out_lines,
            problems,
        )
        return _merge(out_words, out_vectors, out_lines, dim) + (problems,)

    def _bisect(self, canon, canon_ends, lo, hi):
        """Yield `(ids, words, vectors)` over canonical lines `[lo, hi)`;
        `words` is None for ranges left to the careful parser."""
        start = 0 if lo == 0 else int(canon_ends[lo - 1]) + 1
        stop = int(canon_ends[hi - 1]) + 1
        got = self._bulk(canon[start:stop], hi - lo)
        if got is not None:
            bad = _bad_rows(*got)
            if bad is None:
                yield np.arange(lo, hi), got[0], got[1]
                return
            good = np.flatnonzero(~bad)
            yield (
                lo + good,
                [got[0][i] for i in good.tolist()],
                got[1][good],
            )
            yield lo + np.flatnonzero(bad), None, None
            return
        if hi - lo <= _BISECT_MIN_LINES:
            yield np.arange(lo, hi), None, None
            return
        mid = (lo + hi) // 2
        yield from self._bisect(canon, canon_ends, lo, mid)
        yield from self._bisect(canon, canon_ends, mid, hi)

    def _slow_lines(
        self,
        block,
        starts,
        newlines,
        ids,
        line_numbers,
        words,
        vectors,
        lines,
        problems,
    ):
        if not len(ids):
            return
        good_words, good_vectors, good_lines = [], [], []
        for i in ids.tolist():
            line = int(line_numbers[i])
            try:
                row = self.parse_line(block[starts[i] : newlines[i]])
            except _RowProblem as e:
                problems.append((line, str(e)))
                continue
            if row is not None:
                good_words.append(row[0])
                good_vectors.append(row[1])
                good_lines.append(line)
        if good_words:
            words.append(good_words)
            vectors.append(np.stack(good_vectors))
            lines.append(np.asarray(good_lines, np.int64))

    # -- the careful parser ------------------------------------------------------

    def parse_line(self, raw):
        """`(word, float32 vector)` for one line (bytes, no newline), None for a
        blank line; raises `_RowProblem` naming what is wrong."""
        dim = self._dim
        text = raw.rstrip()
        if not text.strip():
            return None
        try:
            text = text.decode(self.encoding, self.decode_errors)
        except UnicodeDecodeError as e:
            label = encoding_label(self.encoding)
            raise _RowProblem(
                f"the line is not valid {label} (byte {text[e.start]:#04x} at "
                f"column {e.start + 1}); expected {label} text. {DECODE_HINT}"
            ) from None
        fields = text.split()
        if len(fields) == dim and text[:1].isspace():
            raise _RowProblem(
                f"expected a word before the {dim} numbers, found none (the line "
                f"starts with a blank): {_shorten(text)!r}"
            )
        if len(fields) < dim + 1:
            found = len(fields) - 1
            numbers = f"only {found} number{'s' if found != 1 else ''}"
            if found <= 0:
                numbers = "no numbers"
            raise _RowProblem(
                f"expected a word followed by {dim} numbers, found {numbers} "
                f"(a truncated row?): {_shorten(text)!r}"
            )
        if "\0" in text:
            raise _RowProblem(
                f"expected text, found a NUL byte at column {text.index(chr(0)) + 1}"
                " (binary data in a text vector file?)."
            )
        parts = text.rsplit(" ", dim)
        if len(parts) != dim + 1 or not all(parts[1:]):
            parts = text.rsplit(None, dim)
        word, values = parts[0].strip(" \t"), parts[1:]
        if not word:
            raise _RowProblem(
                f"expected a word before the {dim} numbers, found none: "
                f"{_shorten(text)!r}"
            )
        _check_word_is_not_numbers(word, dim)
        vector = np.empty(dim, np.float32)
        for j, value in enumerate(values):
            number = _number(value)
            if number is None:
                raise _RowProblem(
                    f"expected a number in field {j + 2} (vector component "
                    f"{j + 1} of {dim}), found {_shorten(value)!r}."
                )
            with np.errstate(over="ignore"):  # refused below: not finite
                vector[j] = number
        if not np.isfinite(vector).all():
            j = int(np.flatnonzero(~np.isfinite(vector))[0])
            raise _RowProblem(
                f"expected finite numbers, found {values[j]!r} in field {j + 2} "
                f"(vector component {j + 1} of {dim}); NaN and infinity are not "
                "valid word vector values."
            )
        return word, vector


def _canonical(b, starts, ends, ids):
    """The bytes of lines `ids`, each cut to `[start, end)` and ended by `\\n`;
    and the offset of each `\\n` in them."""
    delta = np.zeros(len(b) + 1, np.int8)
    delta[starts[ids]] += 1
    delta[ends[ids]] -= 1
    keep = np.cumsum(delta[:-1], dtype=np.int8).view(np.bool_)
    out = np.empty(int(keep.sum()) + len(ids), np.uint8)
    lengths = ends[ids] - starts[ids]
    canon_ends = np.cumsum(lengths + 1) - 1
    mask = np.ones(len(out), np.bool_)
    mask[canon_ends] = False
    out[mask] = b[keep]
    out[canon_ends] = 10
    return out.tobytes(), canon_ends


def _bad_rows(words, vectors, tabs=True):
    """Mask of rows a bulk parse accepted but that need the careful parser
    (non-finite values, empty words, words with a tab at either end), or None
    when all are fine; `tabs=False` says the words hold no tab."""
    bad = ~np.isfinite(vectors).all(axis=1)
    # Blanks around a word are not part of it: the careful parser strips them.
    # `str.isspace` is False for "" and for any word with a non-blank: a word
    # needs a closer look only if one of these is true for it.
    if "" in words or any(map(str.isspace, words)) or (tabs and _has_tab_edge(words)):
        empty = [
            i
            for i, w in enumerate(words)
            if not w or w.isspace() or w[0] == "\t" or w[-1] == "\t"
        ]
        bad[empty] = True
    return bad if bad.any() else None


def _has_tab_edge(words):
    joined = "\n".join(words)
    return "\t" in joined and (
        joined.startswith("\t")
        or joined.endswith("\t")
        or "\t\n" in joined
        or "\n\t" in joined
    )


def _merge(words, vectors, lines, dim):
    if not words:
        return [], np.empty((0, dim), np.float32), np.empty(0, np.int64)
    if len(words) == 1:
        return words[0], vectors[0], lines[0]
    all_lines = np.concatenate(lines)
    order = np.argsort(all_lines, kind="stable")
    flat = [w for ws in words for w in ws]
    return (
        [flat[i] for i in order.tolist()],
        np.concatenate(vectors)[order],
        all_lines[order],
    )


def _number(text):
    if not text.isascii() or "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _check_word_is_not_numbers(word, dim):
    """Tell a word with spaces from a row with numbers too many.

    The last `dim` fields are the vector; what comes before is the word,
    which may contain blanks (`"new york"`, `". . ."`). When the field just
    before the vector is itself a number (`"of 4"` before 3 numbers), the row
    is read as one of the wrong width instead.
    """
    tokens = word.split()
    extra = 0
    while extra < len(tokens) - 1 and _number(tokens[-1 - extra]) is not None:
        extra += 1
    if extra:
        raise _RowProblem(
            f"expected a word followed by {dim} numbers, found {dim + extra} "
            f"numbers after the word {' '.join(tokens[: len(tokens) - extra])!r} "
            "(a row of the wrong width?). A word may contain blanks, but the "
            "field before its vector must not be a number."
        )


def _shorten(text, n=60):
    return text if len(text) <= n else text[: n - 3] + "..."
