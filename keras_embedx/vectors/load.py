"""`load_vectors`: one entry point for every vector file format."""

import dataclasses
import os
import re
import sys

import numpy as np

from keras_embedx._checks import check_positive_int
from keras_embedx.vectors import cache
from keras_embedx.vectors._rows import VocabularyFilter, vocabulary_set
from keras_embedx.vectors._source import check_encoding, open_source
from keras_embedx.vectors.errors import VectorFileError
from keras_embedx.vectors.formats import FORMATS, REGISTRY, check_format, get_format

__all__ = ["ERRORS", "FORMATS", "ReadOptions", "detect_format", "load_vectors"]

ERRORS = ("strict", "skip", "replace")
FASTTEXT_MAGIC = 793712314
_FASTTEXT_HEAD = FASTTEXT_MAGIC.to_bytes(4, "little")
_HEADER = re.compile(rb"\s*\d+\s+\d+\s*")
_TEXT_BYTES = frozenset(b"0123456789+-.eE \t\r\nnaifNAIFty")
_CONTROL = frozenset(range(32)) - {9, 10, 13}


def load_cli_vectors(args):
    """`load_vectors` of `args.path` with the options of a `keras-embedx` command.

    `args` holds `path`, `input_format`, `errors`, `encoding` and `progress`
    (`keras_embedx_cli.add_file_arguments`); a `progress` of None shows the
    bar when stderr is a terminal.
    """
    progress = args.progress
    if progress is None:
        progress = sys.stderr.isatty()
    return load_for_command(
        args.path,
        format=args.input_format,
        errors=args.errors,
        progress=progress,
        encoding=args.encoding,
    )


def load_for_command(path, **kwargs):
    """`load_vectors(path, **kwargs)` for a `keras-embedx` command.

    A file that exhausts memory or recursion while it is read (a damaged or
    hostile header) raises a `VectorFileError` naming it, as any other
    malformed file does, so the command reports it in one line.
    """
    try:
        return load_vectors(path, **kwargs)
    except MemoryError:
        problem = (
            "reading it ran out of memory: its header or rows ask for more than "
            "this machine has. Is the file damaged?"
        )
    except RecursionError:
        problem = (
            "reading it exceeded Python's recursion limit: it is nested too "
            "deeply to be a vector file. Is the file damaged?"
        )
    # Raised here, outside the handler, so that the frames of the failed read
    # (and whatever they allocated) are released first.
    raise VectorFileError(problem, os.fspath(path))


def check_not_input(out, path, flag):
    """A `ValueError` when the output `out` is the input file `path`.

    Writing a file over the one being read (or memory-mapped) would destroy
    it; `flag` names the output in the message.
    """
    same = os.path.abspath(out) == os.path.abspath(path)
    if not same and os.path.exists(out) and os.path.exists(path):
        same = os.path.samefile(out, path)
    if same:
        raise ValueError(
            f"{flag} {out!r} is the input file: writing it would destroy what "
            "is being read. Write to another path."
        )


def load_vectors(
    path,
    format="auto",
    limit=None,
    errors="strict",
    progress=True,
    *,
    encoding="utf-8",
    vocabulary=None,
    lowercase_fallback=True,
    mmap=True,
):
    """Load word vectors from a GloVe, word2vec, fastText or cache file.

    The format is recognised from the file's content (`format="auto"`):
    the cache magic, fastText's `.bin` magic number, a `count dim` header
    followed by text (word2vec / fastText `.vec`) or by raw floats (word2vec
    binary), else GloVe text. `.gz`, `.bz2`, `.xz` and `.zip` files are read
    transparently (by content, not name); a member of a zip archive holding
    several files is named like a file in a folder:
    `"glove.6B.zip/glove.6B.100d.txt"`.

    Text files are parsed in bulk by pandas' C reader when pandas is
    installed (`pip install keras-embedx[fast]`), else by NumPy, in blocks,
    into one float32 matrix that grows in place, so peak memory stays near
    the size of the result. Lines the bulk path rejects go to a careful
    parser that accepts words containing spaces (the last `dim` fields are
    the vector; when the field before them is a number too, the row has the
    wrong width instead: `"of 4 5 6 7"` in a 3-wide file is an error, not
    the word `"of 4"`), `\\r\\n` line ends, a byte-order mark, trailing
    blanks and blank lines, and names the file, line and problem for
    anything else.

    Sizes a file claims are checked before anything is allocated for them:
    a header's count against the file's size, its width against the longest
    row any reader accepts (1 MiB: a text line, or 262,144 float32 values),
    a fastText model's sizes against what is left of the file. Compressed
    content, whose size is unknown, is read in growing steps, never sized
    by its header.

    When a word occurs twice the first occurrence wins, with a
    `VectorFileWarning` that counts the repeats (as gensim keeps the first).

    Args:
        path: str or `os.PathLike`, the vector file.
        format: `"auto"` (default), `"glove"` (text, no header),
            `"word2vec_text"` / `"fasttext_vec"` (text with a `count dim`
            header), `"word2vec_binary"`, `"fasttext_bin"` (a fastText model:
            the vectors of its vocabulary words, as fastText computes them; for
            subwords of unseen words use
            `keras_embedx.layers.SubwordEmbedding.from_fasttext`), or
            `"cache"` (written by `WordVectors.save`): the names in
            `keras_embedx.vectors.formats.FORMATS`. Hyphens may stand for
            underscores.
        limit: optional positive int: read only the first `limit` rows (the
            most frequent words, in files sorted by frequency).
        errors: what to do with malformed rows. `"strict"` (default) raises
            `VectorFileError` naming the file, the line (or row) and the
            problem. `"skip"` drops bad rows, counts them in `wv.skipped` and
            warns; damage no row can be trusted after (a header or line too
            long, data after the last row of a word2vec binary file) still
            raises. `"replace"` loads words that do not decode (see
            `encoding`) with U+FFFD in place of the bad bytes (other problems
            still raise).
        progress: bool, show a progress bar on stderr for files over 8 MB.
        encoding: str, the encoding of the words in text and word2vec binary
            files: `"utf-8"` (default), or any ASCII-compatible encoding
            Python knows, such as `"cp1252"` (Windows text) or `"latin-1"`
            (every byte is a character); not UTF-16 or UTF-32. fastText
            `.bin` models store UTF-8 words and accept only `"utf-8"`; cache
            files always hold UTF-8 and ignore `encoding`.
        vocabulary: optional collection of words (or a `Vocabulary`): keep
            only these, so memory grows with the vocabulary, not the file.
            Raises a `ValueError` when none of them is in the file.
        lowercase_fallback: bool, with `vocabulary`: for a vocabulary word
            the file lacks, also keep the first word of the file equal to it
            ignoring case ("Paris" keeps "paris", "nasa" keeps "NASA"), the
            row `PretrainedEmbedding.from_vectors` falls back to, so the
            layer comes out the same as from a full load. Defaults to
            `True`; `False` keeps exact matches only.
        mmap: bool, for cache files: memory-map the vectors read-only
            (default) instead of reading them into memory.

    Returns:
        A `WordVectors`, in file order, with `.source`, `.format`,
        `.skipped` and `.duplicates` set (and `.counts` for fastText `.bin`).

    Raises:
        FileNotFoundError: nothing at `path`.
        ValueError: a bad argument, such as an `encoding` that is unknown or
            not ASCII-compatible, or a `vocabulary` with no word in the file.
        VectorFileError: (a `ValueError`) the file is malformed, truncated,
            a directory, or not a vector file.

    Example:

    >>> from gensim.test.utils import datapath
    >>> import keras_embedx
    >>> wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"))
    >>> len(wv), wv.dim, wv.format
    (2747, 10, 'word2vec_binary')
    >>> wv.most_similar("war", topn=1)[0][0]
    'conflict'
    """
    from keras_embedx.vectors.word_vectors import WordVectors

    format = check_format(format, auto=True)
    if limit is not None:
        limit = check_positive_int("limit", limit)
    if errors not in ERRORS:
        raise ValueError(
            f"`errors` must be one of {ERRORS}. Received: errors={errors!r}"
        )
    codec = check_encoding(encoding)
    options = ReadOptions(
        errors=errors,
        limit=limit,
        vocabulary=vocabulary_set(vocabulary, lowercase=bool(lowercase_fallback)),
        progress=progress,
        encoding=codec,
        mmap=mmap,
        encoding_argument=encoding,
    )
    with open_source(path) as src:
        if format == "auto":
            format = sniff(src.peek(), src.name)
        source_name = src.name
        words, vectors, counts, index, info = get_format(format).reader()(src, options)
    vocab = options.vocabulary
    if vocab is not None:
        words, vectors, counts, index = _check_vocabulary_rows(
            words, vectors, counts, index, vocab, source_name, limit
        )
    wv = WordVectors._from_parts(
        words, vectors, counts=counts, source=source_name, index=index
    )
    wv.format = format
    wv.skipped = info["skipped"]
    wv.duplicates = info["duplicates"]
    return wv


def detect_format(path):
    """The format `load_vectors(path)` would read `path` as (one of `FORMATS`)."""
    with open_source(path) as src:
        return sniff(src.peek(), src.name)


def sniff(head, name):
    """The format of a file whose (decompressed) content starts with `head`.

    The one format of `REGISTRY` whose content check accepts `head`; a
    `VectorFileError` naming the file when none does.
    """
    if not head:
        kinds = ", ".join(f.description for f in REGISTRY if f.sniff is not None)
        raise VectorFileError(
            f"the file is empty; expected a vector file: one of {kinds}.", name
        )
    for fmt in REGISTRY:
        check = fmt.sniffer()
        if check is not None and check(head):
            return fmt.name
    text = _strip_bom(head)
    control = _first_control(text)
    magic = int.from_bytes(head[:4].ljust(4, b"\0"), "little")
    offset = control + len(head) - len(text)
    line = text.count(b"\n", 0, control) + 1
    raise VectorFileError(
        f"not a recognised vector file: byte {text[control]:#04x} at byte "
        f"offset {offset} is a control character, which text vector files "
        f"do not hold; it starts with bytes {head[:8]!r} (as a little-endian "
        f"int32: {magic}), which is neither fastText's .bin magic number "
        f"{FASTTEXT_MAGIC}, a keras_embedx cache, nor a word2vec header "
        "'count dim'. Is the file damaged, or in another format?",
        name,
        line,
    )


# Content checks (`VectorFormat.sniff`) -----------------------------------------


def _strip_bom(head):
    return head[3:] if head.startswith(b"\xef\xbb\xbf") else head


def _first_control(text):
    """Offset of the first control byte in the first KiB of `text`, or None."""
    return next((i for i, b in enumerate(text[:1024]) if b in _CONTROL), None)


def _header_rows(head):
    """`"text"` or `"binary"` when `head` opens with a `count dim` header, else None."""
    text = _strip_bom(head)
    eol = text.find(b"\n")
    first = text[:eol] if eol >= 0 else text
    if not _HEADER.fullmatch(first):
        return None
    dim = int(first.split()[1])
    rest = text[eol + 1 :].lstrip(b"\n")
    space = rest.find(b" ")
    if space < 0:
        return "text"  # a header and nothing else, or damage
    # Text numbers, or raw float32 bytes, up to the end of the first row?
    # A damaged byte in a text row (a NUL, say) must not make it binary:
    # float32 values give a byte outside the text ones nearly every time.
    sample = rest[space + 1 : space + 1 + min(4 * dim, 512)].split(b"\n")[0]
    odd = sum(b not in _TEXT_BYTES for b in sample)
    if sample and odd <= max(1, len(sample) // 16):
        return "text"
    return "binary"


def is_fasttext_bin(head):
    """Whether `head` begins with fastText's `.bin` magic number."""
    return head[:4] == _FASTTEXT_HEAD


def is_word2vec_text(head):
    """Whether `head` is a `count dim` header followed by text rows."""
    return _header_rows(head) == "text"


def is_word2vec_binary(head):
    """Whether `head` is a `count dim` header followed by raw float32 rows."""
    return _header_rows(head) == "binary"


def is_glove(head):
    """Whether `head` is text with no header (and no cache magic)."""
    return (
        not cache.is_cache(head)
        and _header_rows(head) is None
        and _first_control(_strip_bom(head)) is None
    )


# Readers (`VectorFormat.read`) ---------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ReadOptions:
    """What `load_vectors` asks of a reader, checked and normalised."""

    errors: str
    limit: int | None
    vocabulary: object
    progress: bool
    encoding: str
    mmap: bool
    # As the caller wrote it, for messages.
    encoding_argument: str = "utf-8"


def _row_options(options):
    """The keyword arguments of the text and word2vec binary readers."""
    return {
        "errors": options.errors,
        "limit": options.limit,
        "vocabulary": options.vocabulary,
        "progress": options.progress,
        "encoding": options.encoding,
    }


def _text_rows(src, options, header):
    from keras_embedx.vectors.text import read_text

    words, vectors, index, info = read_text(src, header=header, **_row_options(options))
    return words, vectors, None, index, info


def read_glove(src, options):
    """GloVe text: rows with no header."""
    return _text_rows(src, options, header=False)


def read_word2vec_text(src, options):
    """word2vec text (and fastText .vec): a `count dim` header, then rows."""
    return _text_rows(src, options, header=True)


def read_word2vec_binary(src, options):
    """word2vec binary: a header, then words and raw float32 rows."""
    from keras_embedx.vectors.word2vec_binary import read_word2vec_binary as read

    words, vectors, index, info = read(src, **_row_options(options))
    return words, vectors, None, index, info


def read_fasttext_bin(src, options):
    """A fastText `.bin` model: its vocabulary words and their vectors."""
    if options.encoding != "utf-8":
        raise ValueError(
            "fastText .bin models store their words in UTF-8; `encoding` "
            "applies to text and word2vec binary files. Load "
            f"{src.name!r} without `encoding`. Received: "
            f"encoding={options.encoding_argument!r}"
        )
    words, vectors, counts, index = _read_fasttext_bin(
        src, src.peek(), options.limit, options.vocabulary
    )
    return words, vectors, counts, index, _CLEAN


def read_cache(src, options):
    """A keras_embedx cache file (`WordVectors.save`)."""
    words, vectors, counts, _ = cache.load_cache(src, mmap=options.mmap)
    index = None
    if options.limit is not None or options.vocabulary is not None:
        words, vectors, counts, index = _select(
            words.words, vectors, counts, options.limit, options.vocabulary
        )
    return words, vectors, counts, index, _CLEAN


_CLEAN = {"skipped": 0, "duplicates": 0}


def _read_fasttext_bin(src, head, limit, vocab):
    """fastText `.bin`: the vocabulary words and their vectors (fastText's
    `getWordVector`: the word's row averaged with its n-gram rows)."""
    if head[:4] != _FASTTEXT_HEAD:
        magic = int.from_bytes(head[:4].ljust(4, b"\0"), "little")
        raise VectorFileError(
            f"bad magic number {magic} (bytes {head[:4]!r}) at byte 0: expected "
            f"fastText's {FASTTEXT_MAGIC} ({_FASTTEXT_HEAD!r}). This is not a "
            "fastText .bin model.",
            src.name,
        )
    from keras_embedx.vectors import fasttext_bin

    try:
        if src.compression is None:
            model = fasttext_bin.read_fasttext_bin(src.path)
        else:
            # Read as it decompresses: nothing is written to disk, and arrays
            # grow with the bytes actually there, not with the header's sizes.
            bound = src.size
            if src.compression == "gzip":
                bound = src.raw_size * fasttext_bin.GZIP_MAX_RATIO
            model = fasttext_bin.read_fasttext_stream(src, src.name, bound=bound)
    except fasttext_bin.FastTextFormatError as e:
        message = str(e)
        if src.path != src.name and message.startswith(src.path):
            message = src.name + message[len(src.path) :]
        raise VectorFileError(message) from e
    words = list(model.words)
    take = len(words) if limit is None else min(limit, len(words))
    ids = list(range(take))
    if vocab is not None:
        ids = [i for i in ids if words[i] in vocab]
    if len(ids) == len(words):
        with np.errstate(invalid="ignore", over="ignore"):  # refused below
            vectors = model.word_vectors()
        counts = model.counts
    else:
        with np.errstate(invalid="ignore", over="ignore"):  # refused below
            vectors = model.word_vectors([words[i] for i in ids])
        counts = model.counts[ids]
        words = [words[i] for i in ids]
    index = dict(zip(words, range(len(words))))
    if len(index) != len(words):
        seen = set()
        row = next(i for i, w in enumerate(words) if w in seen or seen.add(w))
        raise VectorFileError(
            f"the model's vocabulary repeats the word {words[row]!r} (first at "
            f"row {words.index(words[row]) + 1}); expected each word once.",
            src.name,
            row + 1,
            "row",
        )
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise VectorFileError(
            f"the vector of the word {words[row]!r} holds NaN or infinity: its "
            "rows of the input matrix are damaged; expected finite values.",
            src.name,
            row + 1,
            "row",
        )
    return words, vectors, counts, index


def _check_vocabulary_rows(words, vectors, counts, index, vocab, name, limit):
    """Refuse a vocabulary load that matched nothing; drop unneeded case variants."""
    if not words:
        where = f"its first {limit} rows" if limit is not None else "the file"
        how = (
            " (exactly or ignoring case)" if isinstance(vocab, VocabularyFilter) else ""
        )
        some = sorted(vocab)[:5]
        raise ValueError(
            f"{name}: none of the {len(vocab)} word(s) of `vocabulary` (e.g. "
            f"{some}) is in {where}{how}, so no vector would be loaded. "
            "Check that the vocabulary and the vectors share language, case "
            "and tokenisation, or load without `vocabulary=`."
        )
    if isinstance(vocab, VocabularyFilter):
        keep = vocab.keep_needed(words)
        if len(keep) < len(words):
            words = [words[i] for i in keep]
            vectors = vectors[keep]
            counts = None if counts is None else counts[keep]
            index = None
    return words, vectors, counts, index


def _select(words, vectors, counts, limit, vocab):
    ids = range(len(words) if limit is None else min(limit, len(words)))
    if vocab is not None:
        ids = [i for i in ids if words[i] in vocab]
        vectors = vectors[ids]
        counts = None if counts is None else counts[ids]
    else:
        vectors = vectors[: len(ids)]
        counts = None if counts is None else counts[: len(ids)]
    words = [words[i] for i in ids]
    return words, vectors, counts, None
