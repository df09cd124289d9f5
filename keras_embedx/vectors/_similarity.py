"""Similarity queries of `WordVectors`, under the names gensim's `KeyedVectors` uses.

Every query scores the whole vocabulary with one matrix product; Python
loops run only over the words of a query. The query vector, the scores and
the ranking follow gensim 4.4's arithmetic step by step (float32 sums with
float64 weights, BLAS `nrm2` norms, `argpartition` then `argsort`), so the
same vectors give the same words in the same order, ties included.
"""

import warnings

import numpy as np

from keras_embedx._checks import check_bool, check_float, check_int
from keras_embedx.vectors._evaluation import gensim_argsort_desc


def _nrm2(vector):
    """float64 L2 norm, as BLAS `dnrm2` (what gensim's `unitvec` uses)."""
    try:
        from scipy.linalg.blas import dnrm2
    except ImportError:  # pragma: no cover - scipy is usually there
        return float(np.linalg.norm(np.asarray(vector, np.float64)))
    return float(dnrm2(vector))


def _unitvec(vector):
    """`vector` scaled to unit length in float64, returned in its own dtype."""
    norm = _nrm2(vector)
    if norm > 0:
        return (np.asarray(vector, np.float64) * (1.0 / norm)).astype(vector.dtype)
    return vector


def _check_topn(topn):
    if topn is None:
        return None
    return check_int("topn", topn, low=0)


class SimilarityQueries:
    """Cosine queries over `self.words` / `self.vectors` (mixed into `WordVectors`)."""

    # -- rows and norms -------------------------------------------------------------

    def _unit_and_norms(self):
        """(unit vectors, norms), float32, computed once; zero rows keep norm 1."""
        if self._unit is None:
            vectors = self.vectors
            norms = np.linalg.norm(vectors, axis=1)
            norms[norms == 0] = 1.0
            unit = (vectors / norms[:, None]).astype(np.float32, copy=False)
            unit.setflags(write=False)
            self._unit = (unit, norms)
        return self._unit

    def unit_vectors(self):
        """The vectors scaled to unit L2 norm (float32, read-only, computed
        once and cached; all-zero rows stay zero).

        `get_normed_vectors` is the same matrix under gensim's name.
        """
        return self._unit_and_norms()[0]

    def get_normed_vectors(self):
        """The unit-length vectors, as gensim's `get_normed_vectors` (an alias
        of `unit_vectors`)."""
        return self.unit_vectors()

    def normalized(self):
        """A new `WordVectors` with the same words and unit-length vectors."""
        wv = type(self)._from_parts(
            self._keys, self.unit_vectors(), self.counts, self.source
        )
        wv.format = self.format
        return wv

    def _row(self, word):
        try:
            return self.key_to_index[word]
        except KeyError:
            raise KeyError(f"Word {word!r} has no vector in {self!r}.") from None
        except TypeError:
            raise TypeError(
                f"Look words up by str. Received: {word!r} of type "
                f"{type(word).__name__}"
            ) from None

    def get_index(self, key, default=None):
        """The row of `key` (gensim's `get_index`).

        Args:
            key: a word, or an int row number below `len(self)` (returned
                as is, as gensim does).
            default: returned for an unknown key instead of raising.

        Returns:
            int.

        Raises:
            KeyError: `key` is unknown and no `default` is given.
        """
        row = self.key_to_index.get(key, -1)
        if row >= 0:
            return row
        if (
            isinstance(key, (int, np.integer))
            and not isinstance(key, bool)
            and 0 <= key < len(self)
        ):
            return int(key)
        if default is not None:
            return default
        raise KeyError(f"Word {key!r} has no vector in {self!r}.")

    def has_index_for(self, key):
        """Whether `get_index(key)` finds a row (gensim's `has_index_for`)."""
        return self.get_index(key, -1) >= 0

    def get_vector(self, key, norm=False):
        """The vector of one word, read-only (gensim's `get_vector`).

        Args:
            key: a word (or a row number, see `get_index`).
            norm: bool, scale it to unit length. Defaults to `False`.

        Returns:
            float32 ndarray `[dim]`.
        """
        row = self.get_index(key)
        if check_bool("norm", norm):
            return self.unit_vectors()[row]
        vector = self.vectors[row]
        vector.setflags(write=False)
        return vector

    def get_vecattr(self, key, attr):
        """The count of a word (gensim's `get_vecattr(key, "count")`).

        Args:
            key: a word.
            attr: `"count"`, the only attribute these vectors keep.

        Raises:
            KeyError: unknown word, another `attr`, or vectors without
                counts (GloVe and word2vec files carry none; fastText
                `.bin` files, gensim models and `fvocab` files do).
        """
        row = self.get_index(key)
        if attr != "count":
            raise KeyError(
                f"No attribute {attr!r}: WordVectors keep only 'count'. "
                f"Received: attr={attr!r}"
            )
        if self.counts is None:
            raise KeyError(
                f"No 'count' for {key!r}: {self!r} carries no counts (text and "
                "word2vec files hold none; pass `fvocab=` to "
                "`load_word2vec_format`, or load a fastText .bin or gensim model)."
            )
        return int(self.counts[row])

    # -- query vectors --------------------------------------------------------------

    def _listed(self, items, name):
        """`items` as a list of query terms: None, one word, one vector, a 2D
        array (one vector per row) or a list of them."""
        if items is None:
            return []
        if isinstance(items, str):
            return [items]
        if isinstance(items, np.ndarray):
            if items.ndim == 1:
                return [items]
            if items.ndim == 2:
                return list(items)
        if isinstance(items, (int, float, np.number)) and not isinstance(items, bool):
            hint = (
                f" To ask for {items} results, pass topn={items}."
                if name == "negative"
                else ""
            )
            raise TypeError(
                f"`{name}` must be a word, a vector, or a list of words, vectors "
                f"and (word, weight) pairs. Received: {name}={items!r} of type "
                f"{type(items).__name__}.{hint}"
            )
        try:
            return list(items)
        except TypeError:
            raise TypeError(
                f"`{name}` must be a word, a vector, or a list of them. Received: "
                f"{name}={items!r} of type {type(items).__name__}"
            ) from None

    def _term(self, item, name):
        """A word's row (int) or a float vector `[dim]`."""
        if isinstance(item, str):
            return self._row(item)
        if isinstance(item, (int, np.integer, bool)):
            raise TypeError(
                f"`{name}` holds {item!r} of type {type(item).__name__}; expected "
                "words (str) or vectors. Look rows up by word: "
                "`wv.index_to_key[i]` names row i."
            )
        try:
            vector = np.asarray(item)
        except (TypeError, ValueError):
            vector = None
        if vector is not None and vector.dtype.kind in "iu":
            vector = vector.astype(np.float32)
        if vector is None or vector.dtype.kind != "f" or vector.shape != (self.dim,):
            shape = None if vector is None else vector.shape
            raise ValueError(
                f"A query vector in `{name}` must be a float array of shape "
                f"({self.dim},). Received: {item!r:.80} with shape {shape}"
            )
        return vector

    def _weighted_terms(self, positive, negative):
        """Terms and float64 weights of a `most_similar` query."""
        terms, weights = [], []
        for name, default in (("positive", 1.0), ("negative", -1.0)):
            for item in self._listed(positive if default > 0 else negative, name):
                weight = default
                if (
                    isinstance(item, (tuple, list))
                    and len(item) == 2
                    and isinstance(item[0], (str, np.ndarray))
                ):
                    item, weight = (
                        item[0],
                        check_float(f"weight of {item[0]!r}", item[1]),
                    )
                terms.append(self._term(item, name))
                weights.append(weight)
        if not terms:
            raise ValueError(
                "`positive` and `negative` name no word or vector: give at least "
                "one (e.g. `most_similar('king')`)."
            )
        return terms, np.asarray(weights, np.float64)

    def _mean(self, terms, weights, pre_normalize, post_normalize):
        """gensim's `get_mean_vector` over resolved terms."""
        source = self.unit_vectors() if pre_normalize else self.vectors
        mean = np.zeros(self.dim, np.float32)
        total = 0
        for term, weight in zip(terms, weights):
            mean += weight * (term if isinstance(term, np.ndarray) else source[term])
            total += abs(weight)
        if total > 0:
            mean = mean / total
        if post_normalize:
            mean = _unitvec(mean).astype(np.float32)
        return mean

    def get_mean_vector(
        self,
        keys,
        weights=None,
        pre_normalize=True,
        post_normalize=False,
        ignore_missing=True,
    ):
        """The weighted mean of the vectors of `keys` (gensim's `get_mean_vector`).

        Args:
            keys: list of words and/or vectors (a 2D array counts as one
                vector per row).
            weights: optional list or array of one weight per key (default
                1 each); the mean divides by the sum of their absolute values.
            pre_normalize: bool, use the words' unit vectors. Defaults to
                `True`. Vectors given as arrays are used as they are.
            post_normalize: bool, scale the mean to unit length.
            ignore_missing: bool, skip unknown words (default, as gensim) or
                raise `KeyError`.

        Returns:
            float32 ndarray `[dim]`.
        """
        if isinstance(keys, str):
            raise TypeError(
                f"`keys` must be a list of words or vectors, not one str. Received: "
                f"keys={keys!r}; pass [{keys!r}]"
            )
        keys = self._listed(keys, "keys")
        if not keys:
            raise ValueError("`keys` is empty: the mean of no vector is undefined.")
        if weights is None:
            weights = np.ones(len(keys), np.float32)
        elif isinstance(weights, (list, tuple)):
            weights = np.array(weights, np.float32)
        if np.ndim(weights) != 1 or len(weights) != len(keys):
            raise ValueError(
                "`weights` must hold one number per key. Received "
                f"{np.shape(weights)} weights for {len(keys)} keys"
            )
        ignore_missing = check_bool("ignore_missing", ignore_missing)
        terms, kept = [], []
        for i, key in enumerate(keys):
            if isinstance(key, str) and ignore_missing and key not in self.key_to_index:
                continue
            terms.append(self._term(key, "keys"))
            kept.append(i)
        return self._mean(
            terms,
            np.asarray(weights)[kept],
            check_bool("pre_normalize", pre_normalize),
            check_bool("post_normalize", post_normalize),
        )

    def _limit(self, restrict_vocab):
        if restrict_vocab is None:
            return len(self)
        return min(check_int("restrict_vocab", restrict_vocab), len(self))

    def _ranked(self, scores, topn, exclude):
        """gensim's `(word, score)` list: best first, `exclude` rows left out."""
        best = gensim_argsort_desc(scores, topn + len(exclude))
        ranked = [(self.words[i], float(scores[i])) for i in best if i not in exclude]
        return ranked[:topn]

    # -- neighbours -----------------------------------------------------------------

    def most_similar(
        self, positive=None, negative=None, topn=10, restrict_vocab=None, indexer=None
    ):
        """The `topn` words nearest a query by cosine similarity.

        The query is the weighted mean of the unit vectors of the words in
        `positive` (weight 1) and `negative` (weight -1), scaled to unit
        length, as gensim's `KeyedVectors.most_similar` builds it; vectors
        given as arrays enter as they are. Every word is scored against it,
        and the words of the query are left out of the answer.

        Args:
            positive: a word, a vector (1D array of length `dim`), a 2D
                array (one vector per row), or a list of words, vectors and
                `(word or vector, weight)` pairs (the weight replaces the
                default 1 or -1, also in `negative`, as in gensim).
            negative: the same, subtracted (analogies:
                `most_similar(["king", "woman"], ["man"])`).
            topn: int, how many neighbours (0 gives `[]`); `None` gives the
                similarity to every word as a float32 array `[len(self)]`
                instead (or `[restrict_vocab]`).
            restrict_vocab: optional int, search only the first N words.
            indexer: optional approximate-neighbour index with gensim's
                `most_similar(vector, topn)` method (e.g. gensim's
                `AnnoyIndexer` over `wv.to_gensim()`), asked instead of the
                exact search.

        Returns:
            list of `(word, similarity)`, most similar first.

        Raises:
            KeyError: a word of the query has no vector.
            TypeError: an int where a word or vector belongs (the second
                positional argument is `negative`: pass `topn=` by name).

        Example:

        >>> from gensim.test.utils import datapath
        >>> import keras_embedx
        >>> wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"))
        >>> [w for w, _ in wv.most_similar("president", topn=3)]
        ['bush', 'zinni', 'arafat']
        >>> [w for w, _ in wv.most_similar(positive=["war", "peace"], topn=2)]
        ['administration', 'conflict']
        """
        topn = _check_topn(topn)
        terms, weights = self._weighted_terms(positive, negative)
        limit = self._limit(restrict_vocab)
        query = self._mean(terms, weights, pre_normalize=True, post_normalize=True)
        if indexer is not None and topn is not None:
            return indexer.most_similar(query, topn)
        if topn == 0:
            return []
        scores = (self.vectors[:limit] @ query) / self._unit_and_norms()[1][:limit]
        if topn is None:
            return scores
        exclude = {t for t in terms if not isinstance(t, np.ndarray)}
        return self._ranked(scores, topn, exclude)

    def similar_by_word(self, word, topn=10, restrict_vocab=None):
        """The `topn` words nearest `word`: `most_similar(positive=[word])`
        (gensim's `similar_by_word`, also as `similar_by_key`).

        Args:
            word: str.
            topn: int, or `None` for every word's similarity as an array.
            restrict_vocab: optional int, search only the first N words.

        Returns:
            list of `(word, similarity)`, most similar first.

        Example:

        >>> from gensim.test.utils import datapath
        >>> import keras_embedx
        >>> wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"))
        >>> [w for w, _ in wv.similar_by_word("war", topn=2)]
        ['conflict', 'administration']
        """
        if not isinstance(word, str):
            raise TypeError(
                f"`word` must be a str. Received: {word!r} of type "
                f"{type(word).__name__}; for a vector use `similar_by_vector`"
            )
        return self.most_similar([word], topn=topn, restrict_vocab=restrict_vocab)

    similar_by_key = similar_by_word

    def similar_by_vector(self, vector, topn=10, restrict_vocab=None):
        """The `topn` words nearest a vector: `most_similar(positive=[vector])`
        (gensim's `similar_by_vector`); no word is left out of the answer.

        Args:
            vector: float array `[dim]`.
            topn: int, or `None` for every word's similarity as an array.
            restrict_vocab: optional int, search only the first N words.

        Returns:
            list of `(word, similarity)`, most similar first.

        Example:

        >>> from gensim.test.utils import datapath
        >>> import keras_embedx
        >>> wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"))
        >>> [w for w, _ in wv.similar_by_vector(wv["war"], topn=2)]
        ['war', 'conflict']
        """
        if isinstance(vector, str):
            raise TypeError(
                f"`vector` must be an array, not a str. Received: vector={vector!r}; "
                "for a word use `similar_by_word`"
            )
        return self.most_similar(
            [self._term(vector, "vector")], topn=topn, restrict_vocab=restrict_vocab
        )

    def most_similar_cosmul(
        self, positive=None, negative=None, topn=10, restrict_vocab=None
    ):
        """The `topn` words nearest a query by 3CosMul (Levy and Goldberg, 2014).

        Each word scores the product of its shifted cosine similarities
        `(1 + cos) / 2` to the `positive` terms divided by the product of
        those to the `negative` terms (plus 1e-6), as gensim's
        `most_similar_cosmul` computes it. Words are taken as unit vectors,
        arrays as they are; words of the query are left out of the answer.

        Args:
            positive: a word, a vector, or a list of them (at least one).
            negative: the same, optional.
            topn: int, or `None` for every word's score as an array.
            restrict_vocab: optional int, search only the first N words
                (gensim accepts and ignores it).

        Returns:
            list of `(word, score)`, best first.

        Example:

        >>> from gensim.test.utils import datapath
        >>> import keras_embedx
        >>> wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"))
        >>> wv.most_similar_cosmul(["war"], topn=1)[0][0]
        'conflict'
        """
        topn = _check_topn(topn)
        pos = [self._term(t, "positive") for t in self._listed(positive, "positive")]
        neg = [self._term(t, "negative") for t in self._listed(negative, "negative")]
        if not pos:
            raise ValueError(
                "`positive` names no word or vector: 3CosMul needs at least one."
            )
        limit = self._limit(restrict_vocab)
        if topn == 0:
            return []
        unit, norms = self._unit_and_norms()
        vectors, norms = self.vectors[:limit], norms[:limit]

        def shifted(terms):
            return [
                (1 + vectors @ (t if isinstance(t, np.ndarray) else unit[t]) / norms)
                / 2
                for t in terms
            ]

        scores = np.prod(shifted(pos), axis=0) / (np.prod(shifted(neg), axis=0) + 1e-6)
        if topn is None:
            return scores
        exclude = {t for t in pos + neg if not isinstance(t, np.ndarray)}
        return self._ranked(scores, topn, exclude)

    def rank_by_centrality(self, words, use_norm=True):
        """`(similarity, word)` pairs, most similar to the words' centroid
        first (gensim's `rank_by_centrality`); unknown words are left out
        with a warning."""
        if isinstance(words, str):
            raise TypeError(
                f"`words` must be a list of words, not one str. Received: {words!r}"
            )
        words = list(words)
        used = [w for w in words if w in self.key_to_index]
        if len(used) < len(words):
            missing = sorted({w for w in words if w not in self.key_to_index}, key=str)
            warnings.warn(
                f"Left out words with no vector: {missing[:10]}",
                UserWarning,
                stacklevel=3,
            )
        if not used:
            raise ValueError(
                f"None of `words` has a vector, so none can be ranked. Received: {words}"
            )
        rows = [self.key_to_index[w] for w in used]
        if check_bool("use_norm", use_norm):
            matrix = self.unit_vectors()[rows]
        else:
            matrix = np.asarray(self.vectors[rows], np.float32)
        mean = self._mean(list(matrix), np.ones(len(rows), np.float32), False, True)
        scores = matrix @ mean
        return sorted(zip(scores.tolist(), used), reverse=True)

    def doesnt_match(self, words):
        """The word of `words` furthest from their centroid (gensim's
        `doesnt_match`).

        Example:

        >>> from gensim.test.utils import datapath
        >>> import keras_embedx
        >>> wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"))
        >>> wv.doesnt_match(["war", "conflict", "terrorism", "sydney"])
        'sydney'
        """
        return self.rank_by_centrality(words)[-1][1]

    def most_similar_to_given(self, key1, keys_list):
        """The word of `keys_list` most similar to `key1` (gensim's
        `most_similar_to_given`)."""
        keys_list = list(keys_list)
        if not keys_list:
            raise ValueError("`keys_list` is empty: there is nothing to choose from.")
        return keys_list[int(np.argmax(self._similarities(key1, keys_list)))]

    def relative_cosine_similarity(self, wa, wb, topn=10):
        """`similarity(wa, wb)` over the summed similarities of the `topn`
        neighbours of `wa` (Leeuwenberg et al., 2016; gensim's
        `relative_cosine_similarity`)."""
        sims = self.similar_by_word(wa, topn)
        if not sims:
            raise ValueError(
                f"`topn` must be positive: relative cosine similarity divides by the "
                f"similarities of the top words. Received: topn={topn!r}"
            )
        return self.similarity(wa, wb) / sum(s for _, s in sims)

    # -- similarities and distances ---------------------------------------------------

    def _similarities(self, word, others):
        """float32 cosines of `word` with each of `others`, each vector scaled
        as gensim's `similarity` scales it."""
        first = _unitvec(self[word])
        rows = np.asarray(self.vectors[[self._row(w) for w in others]], np.float64)
        norms = np.sqrt(np.einsum("ij,ij->i", rows, rows))
        norms[norms == 0] = 1.0
        return (rows * (1.0 / norms)[:, None]).astype(np.float32) @ first

    def similarity(self, w1, w2):
        """Cosine similarity of two words, a float (as gensim's `similarity`)."""
        return float(np.dot(_unitvec(self[w1]), _unitvec(self[w2])))

    def distance(self, w1, w2):
        """Cosine distance of two words: `1 - similarity(w1, w2)`."""
        return 1.0 - self.similarity(w1, w2)

    def n_similarity(self, ws1, ws2):
        """Cosine similarity of the means of two lists of words (gensim's
        `n_similarity`); an unknown word raises `KeyError` (gensim skips it).

        Example:

        >>> from gensim.test.utils import datapath
        >>> import keras_embedx
        >>> wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"))
        >>> round(wv.n_similarity(["war", "peace"], ["conflict"]), 3)
        0.932
        """
        means = []
        for name, words in (("ws1", ws1), ("ws2", ws2)):
            if isinstance(words, str) or not len(words):
                raise ValueError(
                    f"`{name}` must be a non-empty list of words. Received: "
                    f"{name}={words!r}"
                )
            means.append(
                _unitvec(
                    self.get_mean_vector(
                        words, pre_normalize=False, ignore_missing=False
                    )
                )
            )
        return float(np.dot(*means))

    @staticmethod
    def cosine_similarities(vector_1, vectors_all):
        """Cosine of `vector_1` `[dim]` with each row of `vectors_all`
        `[n, dim]` (gensim's `cosine_similarities`)."""
        norm = np.linalg.norm(vector_1)
        all_norms = np.linalg.norm(vectors_all, axis=1)
        return (vectors_all @ vector_1) / (norm * all_norms)

    def distances(self, word_or_vector, other_words=()):
        """Cosine distances `1 - cos` from a word or vector to `other_words`,
        or to every word when it is empty (gensim's `distances`).

        Args:
            word_or_vector: a word or a float array `[dim]`.
            other_words: list of words; empty (default) for every word.

        Returns:
            float32 ndarray, one distance per other word (or per row).

        Example:

        >>> from gensim.test.utils import datapath
        >>> import keras_embedx
        >>> wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"))
        >>> [round(float(d), 3) for d in wv.distances("war", ["conflict", "peace"])]
        [0.067, 0.188]
        >>> wv.distances("war").shape
        (2747,)
        """
        if isinstance(other_words, str):
            raise TypeError(
                "`other_words` must be a list of words, not one str. Received: "
                f"other_words={other_words!r}; pass [{other_words!r}]"
            )
        if isinstance(word_or_vector, str):
            vector = self[word_or_vector]
        else:
            vector = self._term(word_or_vector, "word_or_vector")
        other_words = [] if other_words is None else list(other_words)
        if not other_words:
            others, norms = self.vectors, self._unit_and_norms()[1]
        else:
            others = self.vectors[[self._row(w) for w in other_words]]
            norms = np.linalg.norm(others, axis=1)
            norms[norms == 0] = 1.0
        return 1 - (others @ vector) / (np.linalg.norm(vector) * norms)

    def closer_than(self, key1, key2):
        """Words closer to `key1` than `key2` is, in vocabulary order
        (gensim's `closer_than`); `key1` itself is left out.

        Example:

        >>> from gensim.test.utils import datapath
        >>> import keras_embedx
        >>> wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"))
        >>> wv.closer_than("war", "terrorism"), wv.rank("war", "terrorism")
        (['administration', 'conflict'], 3)
        """
        distances = self.distances(key1)
        first, second = self._row(key1), self._row(key2)
        rows = np.flatnonzero(distances < distances[second])
        return [self.words[i] for i in rows.tolist() if i != first]

    def rank(self, key1, key2):
        """1 + the number of words closer to `key1` than `key2` is (gensim's
        `rank`)."""
        return len(self.closer_than(key1, key2)) + 1
