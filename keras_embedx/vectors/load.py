"""`load_vectors`: one entry point for every vector file format."""

import os
import sys

from keras_embedx.vectors._read import ERRORS, ReadOptions, detect_format, read_parts
from keras_embedx.vectors.errors import VectorFileError
from keras_embedx.vectors.formats import FORMATS
from keras_embedx.vectors.word_vectors import WordVectors

__all__ = ["ERRORS", "FORMATS", "ReadOptions", "detect_format", "load_vectors"]


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
    return WordVectors._from_read(
        read_parts(
            path,
            format,
            limit,
            errors,
            progress,
            encoding=encoding,
            vocabulary=vocabulary,
            lowercase_fallback=lowercase_fallback,
            mmap=mmap,
        )
    )
