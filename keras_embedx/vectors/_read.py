"""Read any vector file into its parts: the readers behind `load_vectors`."""

import dataclasses
import re
from typing import NamedTuple

import numpy as np

from keras_embedx._checks import check_positive_int
from keras_embedx.vectors import cache
from keras_embedx.vectors._rows import VocabularyFilter, vocabulary_set
from keras_embedx.vectors._source import check_encoding, open_source
from keras_embedx.vectors.errors import VectorFileError
from keras_embedx.vectors.formats import REGISTRY, check_format, get_format

ERRORS = ("strict", "skip", "replace")
FASTTEXT_MAGIC = 793712314
_FASTTEXT_HEAD = FASTTEXT_MAGIC.to_bytes(4, "little")
_HEADER = re.compile(rb"\s*\d+\s+\d+\s*")
_TEXT_BYTES = frozenset(b"0123456789+-.eE \t\r\nnaifNAIFty")
_CONTROL = frozenset(range(32)) - {9, 10, 13}


class Parts(NamedTuple):
    """What a vector file holds, before it becomes a `WordVectors`."""

    words: list
    vectors: np.ndarray
    counts: object
    index: object
    source: str
    format: str
    skipped: int
    duplicates: int


def read_parts(
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
    """The parts of a vector file, read as `load_vectors` reads it.

    Takes `load_vectors`' arguments; returns a `Parts`.
    """

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
    return Parts(
        words,
        vectors,
        counts,
        index,
        source_name,
        format,
        info["skipped"],
        info["duplicates"],
    )


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
