"""`WordVectors`: words in file order and their float32 vectors."""

import os

import numpy as np

from keras_embedx._checks import check_bool, check_int, check_unique
from keras_embedx.vectors import cache

SAVE_FORMATS = ("cache", "glove", "word2vec_text", "word2vec_binary")


class WordVectors:
    """Words and their vectors, in file order.

    What `keras_embedx.load_vectors` returns, and what
    `keras_embedx.layers.PretrainedEmbedding.from_vectors` takes. Look words
    up with `wv[word]` and `word in wv`, find neighbours with
    `most_similar`, and save to the package's cache file (`save`), which
    `WordVectors.load` opens memory-mapped in milliseconds.

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
        if vectors.dtype != np.float32:
            vectors = vectors.astype(np.float32)
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
        self.words = words
        self.vectors = vectors
        self.counts = counts
        self.source = None if source is None else str(source)
        # The file the vectors came from as it is now, recorded by `save`.
        self._source_file = None if source is None else cache.file_stamp(source)
        self.format = None
        self.skipped = 0
        self.duplicates = 0
        self._index = index
        self._unit = None

    def __getstate__(self):
        # A copy holds the values, not the mapping of this process's file.
        return {**self.__dict__, "_mapped": None}

    @classmethod
    def _from_parts(cls, words, vectors, counts=None, source=None, index=None):
        """Build without copying or checking (for readers that already did)."""
        wv = cls.__new__(cls)
        if counts is not None:
            counts = np.asarray(counts, dtype=np.int64)
        wv._init(words, vectors, counts, source, index)
        return wv

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
        """int, the vector width."""
        return int(self.vectors.shape[1])

    @property
    def key_to_index(self):
        """dict, word -> row."""
        if self._index is None:
            self._index = dict(zip(self.words, range(len(self.words))))
        return self._index

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self.key_to_index

    def __iter__(self):
        return iter(self.words)

    def __getitem__(self, word):
        try:
            return self.vectors[self.key_to_index[word]]
        except KeyError:
            raise KeyError(f"Word {word!r} has no vector in {self!r}.") from None
        except TypeError:
            raise TypeError(
                f"Look words up by str. Received: {word!r} of type "
                f"{type(word).__name__}"
            ) from None

    def __repr__(self):
        src = f", source={self.source!r}" if self.source else ""
        return f"WordVectors(n={len(self)}, dim={self.dim}{src})"

    # -- similarity ----------------------------------------------------------------

    def unit_vectors(self):
        """The vectors scaled to unit L2 norm (float32, computed once and
        cached; all-zero rows stay zero)."""
        if self._unit is None:
            norms = np.linalg.norm(self.vectors, axis=1)
            norms[norms == 0] = 1.0
            self._unit = (self.vectors / norms[:, None]).astype(np.float32, copy=False)
        return self._unit

    def normalized(self):
        """A new `WordVectors` with the same words and unit-length vectors."""
        wv = WordVectors._from_parts(
            self.words, self.unit_vectors(), self.counts, self.source, self._index
        )
        wv.format = self.format
        return wv

    def similarity(self, word1, word2):
        """Cosine similarity of two words, a float."""
        unit = self.unit_vectors()
        return float(unit[self._row(word1)] @ unit[self._row(word2)])

    def most_similar(self, word, topn=10, *, negative=None, restrict_vocab=None):
        """The `topn` words nearest `word` by cosine similarity.

        Ranks as gensim's `KeyedVectors.most_similar` does: the query is the
        normalised mean of the unit vectors of `word` (and minus those of
        `negative`), scored against every unit vector; words of the query
        are left out of the answer.

        Args:
            word: a str, a vector (1D array of length `dim`), or a list of
                them (their mean is the query).
            topn: int, how many neighbours; `None` gives the similarity to
                every word as a float32 array instead.
            negative: optional str, vector, or list, subtracted from the
                query (analogies: `most_similar(["king", "woman"],
                negative="man")`).
            restrict_vocab: optional int, search only the first N words.

        Returns:
            list of `(word, similarity)`, most similar first.

        Example:

        >>> from gensim.test.utils import datapath
        >>> import keras_embedx
        >>> wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"))
        >>> [w for w, _ in wv.most_similar("president", topn=3)]
        ['bush', 'zinni', 'arafat']
        """
        positive = self._as_list(word, "word")
        negative = self._as_list(negative, "negative")
        if not positive and not negative:
            raise ValueError("`word` must name at least one word or vector.")
        if topn is not None:
            topn = check_int("topn", topn, low=0)
        unit = self.unit_vectors()
        if restrict_vocab is not None:
            unit = unit[: check_int("restrict_vocab", restrict_vocab)]
        query = np.zeros(self.dim, np.float32)
        exclude = set()
        for item, weight in [(p, 1.0) for p in positive] + [
            (n, -1.0) for n in negative
        ]:
            if isinstance(item, str):
                row = self._row(item)
                exclude.add(row)
                query += weight * self.unit_vectors()[row]
            else:
                vector = np.asarray(item, np.float32)
                if vector.shape != (self.dim,):
                    raise ValueError(
                        f"A query vector must have shape ({self.dim},). Received "
                        f"shape {vector.shape}"
                    )
                query += weight * vector
        query /= len(positive) + len(negative)
        norm = np.linalg.norm(query)
        if norm > 0:
            query = (query / norm).astype(np.float32)
        scores = unit @ query
        if topn is None:
            return scores
        want = min(len(scores), topn + len(exclude))
        if want <= 0:
            return []
        best = np.argpartition(-scores, want - 1)[:want]
        best = best[np.argsort(-scores[best], kind="stable")]
        out = [(self.words[i], float(scores[i])) for i in best if i not in exclude]
        return out[:topn]

    def _as_list(self, item, name):
        if item is None:
            return []
        if isinstance(item, str):
            return [item]
        if isinstance(item, np.ndarray) and item.ndim == 1:
            return [item]
        try:
            return list(item)
        except TypeError:
            raise TypeError(
                f"`{name}` must be a word, a vector or a list of them. Received: "
                f"{item!r} of type {type(item).__name__}"
            ) from None

    def _row(self, word):
        try:
            return self.key_to_index[word]
        except KeyError:
            raise KeyError(f"Word {word!r} has no vector in {self!r}.") from None

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
            format: `"cache"`, `"glove"`, `"word2vec_text"` or
                `"word2vec_binary"`.
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

        fmt = str(format).lower().replace("-", "_")
        if fmt not in SAVE_FORMATS:
            raise ValueError(
                f"`format` must be one of {SAVE_FORMATS}. Received: format={format!r}"
            )
        codec = check_encoding(encoding)
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(
                f"No such directory: {folder!r} (to write {path!r}). Create it first."
            )
        if fmt == "cache":
            source_file = self._source_file
            if source_file is not None and os.path.realpath(
                source_file["path"]
            ) == os.path.realpath(path):
                source_file = None  # re-saved onto itself: it is its own source
            return cache.save_cache(
                path,
                self.words,
                self.vectors,
                self.counts,
                self.source,
                source_file=source_file,
            )
        if fmt == "word2vec_binary":
            from keras_embedx.vectors.word2vec_binary import write_word2vec_binary

            write_word2vec_binary(path, self.words, self.vectors, codec)
            return path
        from keras_embedx.vectors.text import write_text

        write_text(
            path,
            self.words,
            self.vectors,
            header=fmt == "word2vec_text",
            precision=precision,
            encoding=codec,
        )
        return path

    @classmethod
    def load(cls, path, mmap=True, verify=False):
        """Open a file written by `save` (the cache format).

        Every load checks the file's structure: the header (sizes, bounds,
        the parts it lists), the word offsets, one row per word and no word
        twice; and warns (`VectorFileWarning`) when the file the vectors were
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
