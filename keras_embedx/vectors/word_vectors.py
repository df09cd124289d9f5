"""`WordVectors`: words in file order and their float32 vectors."""

import codecs
import collections
import os

import numpy as np

from keras_embedx._checks import check_bool, check_unique
from keras_embedx.vectors import cache
from keras_embedx.vectors._keys import Keys
from keras_embedx.vectors._similarity import SimilarityQueries
from keras_embedx.vectors.formats import WRITE_FORMATS, check_format, get_format

#: The formats `WordVectors.save` writes: the registry's writable ones.
SAVE_FORMATS = WRITE_FORMATS


class Correlation(collections.namedtuple("Correlation", ["statistic", "pvalue"])):
    """A correlation and its two-sided p-value; unpacks as
    `(statistic, pvalue)`, as scipy's results do."""

    __slots__ = ()

    @property
    def correlation(self):
        """The statistic, under the name scipy's `spearmanr` result uses."""
        return self.statistic


class WordVectors(SimilarityQueries):
    """Words and their vectors, in file order.

    What `keras_embedx.load_vectors` returns, and what
    `keras_embedx.layers.PretrainedEmbedding.from_vectors` takes. Look words
    up with `wv[word]` and `word in wv`, find neighbours with
    `most_similar`, and save to the package's cache file (`save`), which
    `WordVectors.load` opens memory-mapped in milliseconds.

    It also answers gensim's `KeyedVectors` calls under gensim's names and
    with gensim's results (`index_to_key`, `vector_size`, `wv[[w1, w2]]`,
    `most_similar(positive=..., negative=...)`, `most_similar_cosmul`,
    `doesnt_match`, `distances`, `evaluate_word_analogies`,
    `save_word2vec_format`, `load_word2vec_format`, ...).

    Args:
        words: list of str, unique.
        vectors: float array `[len(words), dim]`; stored as float32.
        counts: optional int array of word frequencies (fastText `.bin`
            files carry them), used to keep the most frequent rows.
        source: optional str naming where the vectors came from.

    Attributes:
        words: list of str, in file order.
        vectors: float32 ndarray `[len(words), dim]` (read-only when
            memory-mapped from a cache file).
        counts: int64 ndarray `[len(words)]` or None.
        source: str or None, the file the vectors came from.
        format: str or None, the file format they were read from.
        skipped: int, malformed rows dropped with `errors="skip"`.
        duplicates: int, repeated words dropped (the first occurrence wins).

    Example:

    >>> import numpy as np
    >>> import keras_embedx
    >>> wv = keras_embedx.WordVectors(
    ...     ["king", "queen", "apple"],
    ...     np.array([[1.0, 0.1], [0.9, 0.2], [-0.1, 1.0]]),
    ... )
    >>> len(wv), wv.dim, "king" in wv
    (3, 2, True)
    >>> [w for w, _ in wv.most_similar("king", topn=2)]
    ['queen', 'apple']
    """

    def __init__(self, words, vectors, counts=None, source=None):
        if isinstance(words, (str, bytes)):
            raise TypeError(
                "`words` must be a list of str, not one str (which would be "
                f"split into characters). Received: words={words[:40]!r}"
            )
        words = list(words)
        vectors = np.asarray(vectors)
        if vectors.dtype != np.float32 or not vectors.flags.c_contiguous:
            # Rows contiguous: a row is one read, and sums over a row add up
            # in the same order as gensim's (a Fortran-order `.npy` differs).
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(
                "`vectors` must be a 2D array with one row per word. Received: "
                f"{len(words)} words and vectors of shape {vectors.shape}"
            )
        bad = next((w for w in words if not isinstance(w, str)), None)
        if bad is not None:
            raise TypeError(
                f"`words` must be str. Received an item {bad!r} of type "
                f"{type(bad).__name__}"
            )
        index = dict(zip(words, range(len(words))))
        if len(index) != len(words):
            check_unique("words", words)
        if counts is not None:
            counts = np.asarray(counts, dtype=np.int64)
            if counts.shape != (len(words),):
                raise ValueError(
                    "`counts` must hold one count per word. Received shape "
                    f"{counts.shape} for {len(words)} words"
                )
        self._init(words, vectors, counts, source, index)

    def _init(self, words, vectors, counts, source, index):
        self._keys = words if isinstance(words, Keys) else Keys(words, index)
        self.vectors = vectors
        self.counts = counts
        self.source = None if source is None else str(source)
        # The file the vectors came from as it is now, recorded by `save`.
        self._source_file = None if source is None else cache.file_stamp(source)
        self.format = None
        self.skipped = 0
        self.duplicates = 0
        self._unit = None

    def __getstate__(self):
        # A copy holds the values, not the mapping of this process's file.
        return {**self.__dict__, "_mapped": None}

    @classmethod
    def _from_parts(cls, words, vectors, counts=None, source=None, index=None):
        """Build without copying or checking (for readers that already did);
        `words` a list of str or `Keys`."""
        wv = cls.__new__(cls)
        if counts is not None:
            counts = np.asarray(counts, dtype=np.int64)
        wv._init(words, vectors, counts, source, index)
        return wv

    @classmethod
    def _from_read(cls, parts):
        """Build from the `Parts` a reader returned."""
        wv = cls._from_parts(
            parts.words,
            parts.vectors,
            counts=parts.counts,
            source=parts.source,
            index=parts.index,
        )
        wv.format = parts.format
        wv.skipped = parts.skipped
        wv.duplicates = parts.duplicates
        return wv

    @property
    def words(self):
        """list of str, the words in row order.

        Files read without a vocabulary keep their words encoded until the
        first lookup: the list (and the word -> row dict) is built then.
        """
        return self._keys.words

    @words.setter
    def words(self, value):
        self._keys = Keys(list(value))

    @property
    def vectors(self):
        """float32 ndarray `[len(words), dim]`.

        When memory-mapped from a cache file, each access first checks
        (one `fstat` and the header's bytes) that the file was not rewritten
        in place meanwhile, and raises `VectorFileError` if it was.
        """
        if self._mapped is not None:
            self._mapped.check()
        return self._vectors

    @vectors.setter
    def vectors(self, value):
        self._vectors = value
        self._mapped = cache.mapped_file_of(value)
        self._unit = None

    # -- lookup -------------------------------------------------------------------

    @property
    def dim(self):
        """int, the vector width (gensim: `vector_size`)."""
        return int(self.vectors.shape[1])

    @property
    def vector_size(self):
        """int, the vector width: gensim's name for `dim`."""
        return self.dim

    @property
    def index_to_key(self):
        """list of str, the words in row order: gensim's name for `words`."""
        return self.words

    @property
    def key_to_index(self):
        """dict, word -> row."""
        return self._keys.index

    def __len__(self):
        return len(self._keys)

    def _rows_of(self, words, lowercase=False):
        """The row of each of `words`, -1 if absent (see `Keys.rows`): a
        vocabulary is matched without decoding the words or building the
        index when they are still encoded."""
        return self._keys.rows(words, lowercase)

    def __contains__(self, word):
        return word in self.key_to_index

    def __iter__(self):
        return iter(self.words)

    def __getitem__(self, word):
        """`wv[word]`: the word's vector `[dim]`; `wv[[w1, w2, ...]]`: a
        float32 matrix `[len(words), dim]`, one row per word, as gensim's
        `KeyedVectors[...]` gives."""
        if isinstance(word, (list, tuple)) or (
            isinstance(word, np.ndarray) and word.ndim == 1
        ):
            rows = np.fromiter(map(self._row, word), np.int64, len(word))
            return self.vectors[rows]
        return self.vectors[self._row(word)]

    def __repr__(self):
        src = f", source={self.source!r}" if self.source else ""
        return f"WordVectors(n={len(self)}, dim={self.dim}{src})"

    # -- files ---------------------------------------------------------------------

    def save(self, path, format="cache", *, precision=None, encoding="utf-8"):
        """Write the vectors to `path`.

        The default, `format="cache"`, is the package's own file (see
        `keras_embedx.vectors.cache`): raw float32 plus the words and counts,
        read back by `WordVectors.load` (or `load_vectors`) memory-mapped in
        milliseconds. `"glove"`, `"word2vec_text"` and `"word2vec_binary"`
        write the standard formats for other tools (compressed when `path`
        ends in `.gz`, `.bz2` or `.xz`).

        Args:
            path: str or `os.PathLike`.
            format: a name in `keras_embedx.vectors.formats.WRITE_FORMATS`:
                `"cache"`, `"glove"`, `"word2vec_text"` or `"word2vec_binary"`.
            precision: text formats only: significant digits per number;
                `None` (default) writes the shortest text that reads back as
                the same float32.
            encoding: text and word2vec binary formats: the encoding of the
                words, `"utf-8"` (default) or another ASCII-compatible
                encoding (as `load_vectors` takes); a word it cannot write
                raises `ValueError` before anything is written. The cache
                always stores UTF-8 and ignores it.

        Returns:
            The path written (str).
        """
        from keras_embedx.vectors._source import check_encoding

        fmt = check_format(format, write=True)
        codec = check_encoding(encoding)
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(
                f"No such directory: {folder!r} (to write {path!r}). Create it first."
            )
        return get_format(fmt).writer()(self, path, precision=precision, encoding=codec)

    @classmethod
    def load(cls, path, mmap=True, verify=False):
        """Open a file written by `save` (the cache format).

        Every load checks the file's structure: the header (sizes, bounds,
        the parts it lists), the word offsets, one row per word and no word
        twice (words that still match the checksum `save` recorded for
        them are decoded on first lookup, and checked then); and warns (`VectorFileWarning`) when the file the vectors were
        read from changed since the cache was written. The file is opened
        once, so a load racing a `save` to the same path gets the old
        vectors or the new ones, never a mix.

        A memory-mapped file must not be rewritten in place while it is in
        use (`cp new.kxv old.kxv`, or any writer that does not replace the
        file by renaming): the operating system would show the new bytes
        under the old words, and reading past a shortened end kills the
        process (SIGBUS). `save` never does this. Each access to `.vectors`
        checks the file's size and header (with its stamp, unique to each
        save) and raises `VectorFileError` when they changed; a rewrite that
        happens between that check and the read cannot be caught. Load with
        `mmap=False` to be immune.

        Args:
            path: str or `os.PathLike`.
            mmap: bool: memory-map the vectors read-only (default), so
                opening is nearly free and pages load as rows are used; or
                read them into memory (writable).
            verify: bool: also read every byte to check it against the
                checksum written with the file and check that every number
                is finite (costs a full read of the file). Files written by
                versions before checksums are refused: re-save them.

        Returns:
            A `WordVectors`.

        Raises:
            VectorFileError: the file is not a cache file, is damaged, or
                (with `verify=True`) has no checksum, does not match it, or
                holds NaN or infinite values.
        """
        from keras_embedx.vectors._source import open_source

        mmap = check_bool("mmap", mmap)
        verify = check_bool("verify", verify)
        with open_source(path) as src:
            contents = cache.read_cache(src, mmap=mmap, verify=verify)
            wv = cls._from_parts(
                contents.words,
                contents.vectors,
                contents.counts,
                src.name,
                contents.index,
            )
        wv.format = "cache"
        return wv

    def save_word2vec_format(
        self,
        fname,
        fvocab=None,
        binary=False,
        total_vec=None,
        write_header=True,
        prefix="",
        append=False,
        sort_attr="count",
    ):
        """Write word2vec text or binary, or GloVe text (gensim's
        `save_word2vec_format`; `save` with a `format` is the same).

        Args:
            fname: str or `os.PathLike`, the vector file.
            fvocab: optional path: also write `word count` lines (needs
                counts).
            binary: bool, word2vec binary instead of text.
            total_vec: optional int, must equal `len(self)` (the header's
                count).
            write_header: bool; `False` writes GloVe text (no header).
            prefix: str put before every word.
            append: must be `False` (files are written whole).
            sort_attr: `"count"` (default): with counts, most frequent
                words first, as gensim orders them; `None`: row order.

        Returns:
            The path written (str).

        Example:

        >>> import os, tempfile
        >>> import numpy as np
        >>> import keras_embedx
        >>> wv = keras_embedx.WordVectors(["a", "b"], np.eye(2), counts=[1, 5])
        >>> path = os.path.join(tempfile.mkdtemp(), "v.txt")
        >>> _ = wv.save_word2vec_format(path)  # most frequent first, as gensim
        >>> print(open(path).read(), end="")
        2 2
        b 0.0 1.0
        a 1.0 0.0
        """
        binary = check_bool("binary", binary)
        if not check_bool("write_header", write_header) and binary:
            raise ValueError(
                "word2vec binary files always start with a header. Received: "
                "binary=True, write_header=False"
            )
        if check_bool("append", append):
            raise ValueError(
                "`append=True` is not supported: vector files are written whole. "
                "Received: append=True"
            )
        if total_vec is not None and total_vec != len(self):
            raise ValueError(
                f"`total_vec` must be the number of words, {len(self)}. Received: "
                f"total_vec={total_vec!r}"
            )
        if sort_attr not in ("count", None):
            raise ValueError(
                "`sort_attr` must be 'count' or None: counts are the only "
                f"attribute WordVectors keep. Received: sort_attr={sort_attr!r}"
            )
        if not isinstance(prefix, str):
            raise TypeError(f"`prefix` must be a str. Received: prefix={prefix!r}")
        if fvocab is not None and self.counts is None:
            raise ValueError(
                f"Cannot write `fvocab`: {self!r} carries no counts. Received: "
                f"fvocab={fvocab!r}"
            )
        out = self
        if sort_attr == "count" and self.counts is not None:
            order = np.argsort(-self.counts, kind="stable")
            if (order != np.arange(len(order))).any():
                out = WordVectors._from_parts(
                    [self.words[i] for i in order.tolist()],
                    self.vectors[order],
                    self.counts[order],
                )
        if prefix:
            out = WordVectors._from_parts(
                [prefix + w for w in out.words], out.vectors, out.counts
            )
        if binary:
            fmt = "word2vec_binary"
        else:
            fmt = "word2vec_text" if write_header else "glove"
        path = out.save(fname, format=fmt)
        if fvocab is not None:
            with open(fvocab, "w", encoding="utf-8", newline="\n") as f:
                f.writelines(
                    f"{w} {c}\n" for w, c in zip(out.words, out.counts.tolist())
                )
        return path

    @classmethod
    def load_word2vec_format(
        cls,
        fname,
        fvocab=None,
        binary=False,
        encoding="utf8",
        unicode_errors="strict",
        limit=None,
        datatype=np.float32,
        no_header=False,
    ):
        """Read a word2vec or GloVe file with gensim's arguments (gensim's
        `KeyedVectors.load_word2vec_format`).

        The same readers as `keras_embedx.load_vectors`, with the format
        named by `binary` and `no_header` instead of recognised.

        Args:
            fname: str or `os.PathLike`, the vector file (`.gz`/`.bz2`
                read transparently).
            fvocab: optional path to a word2vec `-save-vocab` file (`word
                count` lines): sets `counts` (0 for words it lacks, with a
                warning). Without it `counts` is None (gensim invents
                descending counts).
            binary: bool, word2vec binary.
            encoding: str, the encoding of the words (ASCII-compatible).
            unicode_errors: a Python decoding error handler for words that
                do not decode: `"strict"` (default) raises
                `VectorFileError` (a `ValueError`, as `UnicodeDecodeError`
                is), `"replace"`, `"ignore"` and the other handlers decode
                as `bytes.decode` would (the first of words that become
                equal wins).
            limit: optional positive int, read only the first `limit` rows.
            datatype: must be float32 (vectors are float32; a table layer's
                `storage_dtype` stores them smaller).
            no_header: bool, GloVe text (no `count dim` line).

        Returns:
            A `WordVectors`.

        Example:

        >>> from gensim.test.utils import datapath
        >>> from keras_embedx import WordVectors
        >>> wv = WordVectors.load_word2vec_format(
        ...     datapath("euclidean_vectors.bin"), binary=True, limit=100)
        >>> len(wv), wv.vector_size
        (100, 10)
        """
        from keras_embedx.vectors import _word2vec_format as w2v
        from keras_embedx.vectors._read import read_parts
        from keras_embedx.vectors._source import check_encoding

        def read(path, **kwargs):
            return cls._from_read(read_parts(path, **kwargs))

        fmt = w2v.word2vec_format(binary, no_header)
        unicode_errors = w2v.check_unicode_errors(unicode_errors)
        if np.dtype(datatype) != np.float32:
            raise ValueError(
                "`datatype` must be float32: WordVectors hold float32 (pass "
                "`storage_dtype` to a table layer for a smaller table). Received: "
                f"datatype={datatype!r}"
            )
        codec = check_encoding(encoding)
        if unicode_errors in ("strict", "replace"):
            wv = read(
                fname, format=fmt, limit=limit, errors=unicode_errors, encoding=codec
            )
        else:
            raw = read(fname, format=fmt, limit=limit, encoding="latin-1")
            words, keep = w2v.redecode(raw.words, codec, unicode_errors)
            vectors = raw.vectors if keep is None else raw.vectors[keep]
            wv = cls._from_parts(words, vectors, source=raw.source)
            wv.format, wv.skipped = fmt, raw.skipped
            wv.duplicates = raw.duplicates + (
                0 if keep is None else len(raw) - len(keep)
            )
        if fvocab is not None:
            wv.counts = w2v.read_vocab_counts(fvocab, wv.words, codec, unicode_errors)
        return wv

    def vectors_for_all(self, keys, allow_inference=True, copy_vecattrs=False):
        """A new `WordVectors` of the known words of `keys`, each once, in
        the order given (gensim's `vectors_for_all`).

        Args:
            keys: iterable of words; unknown ones are left out.
            allow_inference: accepted for gensim's signature (these vectors
                infer nothing for unknown words).
            copy_vecattrs: bool, keep the words' counts.

        Returns:
            A `WordVectors` (its vectors a copy).

        Example:

        >>> from gensim.test.utils import datapath
        >>> import keras_embedx
        >>> wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"))
        >>> wv.vectors_for_all(["war", "peace", "no such word", "war"]).words
        ['war', 'peace']
        """
        if isinstance(keys, str):
            raise TypeError(
                f"`keys` must be a list of words, not one str. Received: keys={keys!r}"
            )
        check_bool("allow_inference", allow_inference)
        index = self.key_to_index
        words = list(dict.fromkeys(k for k in keys if k in index))
        rows = np.fromiter(map(index.__getitem__, words), np.int64, len(words))
        counts = None
        if check_bool("copy_vecattrs", copy_vecattrs) and self.counts is not None:
            counts = self.counts[rows]
        vectors = np.array(self.vectors[rows], np.float32).reshape(len(rows), self.dim)
        return WordVectors._from_parts(words, vectors, counts, self.source)

    # -- evaluation ------------------------------------------------------------------

    def evaluate_word_analogies(
        self,
        analogies,
        restrict_vocab=300000,
        case_insensitive=True,
        dummy4unknown=False,
        similarity_function="most_similar",
    ):
        """Analogy accuracy as gensim's `evaluate_word_analogies` returns it:
        `(accuracy, sections)`, each section a dict with `"section"`,
        `"correct"` and `"incorrect"`, the last one `"Total accuracy"`.

        Computed by `keras_embedx.evaluation.analogies` (which returns a
        richer result), with the same arguments; `similarity_function` must
        be `"most_similar"` (3CosAdd).

        Example:

        >>> from gensim.test.utils import datapath
        >>> import keras_embedx
        >>> wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"))
        >>> score, sections = wv.evaluate_word_analogies(datapath("questions-words.txt"))
        >>> round(score, 4), sections[-1]["section"]
        (0.0024, 'Total accuracy')
        """
        from keras_embedx.vectors import _evaluation

        if similarity_function != "most_similar":
            raise ValueError(
                "`similarity_function` must be 'most_similar' (3CosAdd). Received: "
                f"similarity_function={similarity_function!r}"
            )
        return _evaluation.analogies(
            *_evaluation.checked(self.words, self.vectors),
            analogies,
            restrict_vocab=restrict_vocab,
            case_insensitive=case_insensitive,
            dummy4unknown=dummy4unknown,
        ).to_gensim()

    def evaluate_word_pairs(
        self,
        pairs,
        delimiter="\t",
        encoding="utf8",
        restrict_vocab=300000,
        case_insensitive=True,
        dummy4unknown=False,
    ):
        """Word-pair correlations as gensim's `evaluate_word_pairs` returns
        them: `(pearson, spearman, oov_ratio)`, the first two
        `Correlation(statistic, pvalue)` tuples (`.correlation` too, as
        scipy's results), `oov_ratio` in percent.

        Computed by `keras_embedx.evaluation.word_pairs` (which returns a
        richer result), with the same arguments; `pairs` must be UTF-8.

        Example:

        >>> from gensim.test.utils import datapath
        >>> import keras_embedx
        >>> wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"))
        >>> pearson, spearman, oov = wv.evaluate_word_pairs(datapath("wordsim353.tsv"))
        >>> round(spearman.correlation, 4), round(oov, 1)
        (0.2736, 69.1)
        """
        from keras_embedx.vectors import _evaluation

        try:
            utf8 = codecs.lookup(encoding).name == "utf-8"
        except (LookupError, TypeError):
            utf8 = False
        if not utf8:
            raise ValueError(
                "`encoding` must be UTF-8: word-pair files are read as UTF-8. "
                f"Received: encoding={encoding!r}"
            )
        result = _evaluation.word_pairs(
            *_evaluation.checked(self.words, self.vectors),
            pairs,
            delimiter=delimiter,
            restrict_vocab=restrict_vocab,
            case_insensitive=case_insensitive,
            dummy4unknown=dummy4unknown,
        )
        return (
            Correlation(result.pearson, result.pearson_pvalue),
            Correlation(result.spearman, result.spearman_pvalue),
            result.oov_ratio,
        )

    # -- gensim ----------------------------------------------------------------------

    @classmethod
    def from_gensim(cls, keyed_vectors):
        """Wrap gensim vectors: a `KeyedVectors`, `FastTextKeyedVectors`, or a
        model with `.wv` (`Word2Vec`, `FastText`).

        Words come in gensim's index order with their vectors (for fastText,
        the full vectors of the vocabulary words), and counts when gensim has
        them (`get_vecattr(word, "count")`).

        Example:

        >>> from gensim.models import KeyedVectors
        >>> from gensim.test.utils import datapath
        >>> import keras_embedx
        >>> kv = KeyedVectors.load_word2vec_format(datapath("euclidean_vectors.bin"),
        ...                                        binary=True)
        >>> wv = keras_embedx.WordVectors.from_gensim(kv)
        >>> wv.words[:3] == kv.index_to_key[:3]
        True
        """
        kv = getattr(keyed_vectors, "wv", keyed_vectors)
        if not (hasattr(kv, "index_to_key") and hasattr(kv, "vectors")):
            raise TypeError(
                "`keyed_vectors` must be gensim KeyedVectors (e.g. `model.wv`) "
                f"or a gensim model with `.wv`. Received: {type(keyed_vectors).__name__}"
            )
        words = [str(w) for w in kv.index_to_key]
        vectors = np.asarray(kv.vectors)[: len(words)]
        counts = None
        expandos = getattr(kv, "expandos", None) or {}
        raw = expandos.get("count")
        if raw is not None and len(raw) >= len(words):
            raw = np.asarray(raw)[: len(words)]
            if raw.dtype != object or all(c is not None for c in raw):
                counts = raw.astype(np.int64)
        wv = cls(words, vectors, counts=counts, source=f"gensim {type(kv).__name__}")
        wv.format = "gensim"
        return wv

    def to_gensim(self):
        """A gensim `KeyedVectors` with the same words, vectors and counts."""
        from gensim.models import KeyedVectors

        kv = KeyedVectors(self.dim, count=0, dtype=np.float32)
        kv.add_vectors(self.words, np.asarray(self.vectors, np.float32))
        if self.counts is not None:
            for word, count in zip(self.words, self.counts.tolist()):
                kv.set_vecattr(word, "count", count)
        return kv


# Writers (`keras_embedx.vectors.formats.VectorFormat.write`) ----------------------


def write_cache(wv, path, *, precision=None, encoding="utf-8"):
    """The cache file: raw float32, words and counts (`precision` and
    `encoding` do not apply: it always holds float32 and UTF-8)."""
    source_file = wv._source_file
    if source_file is not None and os.path.realpath(
        source_file["path"]
    ) == os.path.realpath(path):
        source_file = None  # re-saved onto itself: it is its own source
    return cache.save_cache(
        path, wv._keys, wv.vectors, wv.counts, wv.source, source_file=source_file
    )


def write_word2vec_binary(wv, path, *, precision=None, encoding="utf-8"):
    """word2vec binary (`precision` does not apply: rows are raw float32)."""
    from keras_embedx.vectors.word2vec_binary import write_word2vec_binary as write

    write(path, wv.words, wv.vectors, encoding)
    return path


def _write_text(wv, path, header, precision, encoding):
    from keras_embedx.vectors.text import write_text

    write_text(
        path,
        wv.words,
        wv.vectors,
        header=header,
        precision=precision,
        encoding=encoding,
    )
    return path


def write_glove(wv, path, *, precision=None, encoding="utf-8"):
    """GloVe text: a word and its numbers a line, no header."""
    return _write_text(wv, path, False, precision, encoding)


def write_word2vec_text(wv, path, *, precision=None, encoding="utf-8"):
    """word2vec text: a `count dim` header, then GloVe-like rows."""
    return _write_text(wv, path, True, precision, encoding)
