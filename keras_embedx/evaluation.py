"""Intrinsic evaluation of word vectors: analogies, word-pair similarity, neighbours.

The numbers are the ones gensim's `KeyedVectors.evaluate_word_analogies`,
`evaluate_word_pairs` and `most_similar` report for the same vectors and
files (same skipping rules, same case folding, same tie-breaking), computed
with batched matrix products instead of one search per question. Every
function takes a `keras_embedx.WordVectors`, a gensim `KeyedVectors`, or a
Keras layer (its learned table and vocabulary).
"""

import keras
import numpy as np

from keras_embedx._walk import iter_tables
from keras_embedx.vectors import _evaluation
from keras_embedx.vectors._evaluation import (
    AnalogyResult,
    AnalogySection,
    WordPairsResult,
)

__all__ = [
    "AnalogyResult",
    "AnalogySection",
    "WordPairsResult",
    "analogies",
    "as_word_vectors",
    "neighbours",
    "word_pairs",
]


# ------------------------------------------------------------------ inputs
def as_word_vectors(source):
    """`(words, vectors)` of a `WordVectors`, `KeyedVectors` or layer.

    A layer contributes the first table with a vocabulary that a
    `keras_embedx.layers.TableLayer` in it lists, minus the padding and OOV
    rows, in vocabulary order.
    """
    if hasattr(source, "words") and hasattr(source, "vectors"):
        return list(source.words), np.asarray(source.vectors)
    if hasattr(source, "index_to_key") and hasattr(source, "vectors"):
        return list(source.index_to_key), np.asarray(source.vectors)
    if isinstance(source, keras.layers.Layer):
        for _, (_, table, vocabulary) in iter_tables(source):
            if vocabulary is None:
                continue
            words = [str(w) for w in vocabulary]
            matrix = np.asarray(table.full_table())
            if len(words) > len(matrix):
                raise ValueError(
                    f"The vocabulary has {len(words)} entries but the table "
                    f"only {len(matrix)} rows."
                )
            start = _reserved_rows(words)
            return words[start:], matrix[start : len(words)]
        raise ValueError(
            f"Layer {source.name!r} has no table with a vocabulary to evaluate: "
            "expected a keras_embedx layer built with one (e.g. "
            "`PretrainedEmbedding.from_vectors`)."
        )
    raise TypeError(
        "Expected a keras_embedx.WordVectors, a gensim KeyedVectors or a Keras "
        f"layer. Received: {type(source).__name__}"
    )


def _reserved_rows(words):
    """How many rows open `words` as padding (`""`) and OOV (`"[UNK]"`)."""
    if not words or words[0] != "":
        return 0
    start = 1
    while start < len(words) and words[start] == "[UNK]":
        start += 1
    return start


def _checked(source):
    return _evaluation.checked(*as_word_vectors(source))


def analogies(
    wv,
    path,
    restrict_vocab=300000,
    case_insensitive=True,
    dummy4unknown=False,
):
    """Accuracy on an analogy file in the Google format (`questions-words.txt`).

    Each line `a b c expected` asks for the word `d` with `a : b = c : d`,
    answered with 3CosAdd as in word2vec's `compute-accuracy` and gensim's
    `evaluate_word_analogies`: the word whose vector is most similar to
    `unit(b) + unit(c) - unit(a)`, skipping the three question words. Lines
    `: name` start a section. The numbers equal gensim's for the same vectors.

    Args:
        wv: a `keras_embedx.WordVectors`, a gensim `KeyedVectors`, or a Keras
            layer with a vocabulary (its current table is evaluated).
        path: the analogy file.
        restrict_vocab: int, only the first this many words are candidates;
            questions using other words are skipped. Defaults to 300000.
        case_insensitive: bool, compare upper-cased words (the first
            spelling of a word in file order provides its vector). Defaults to
            `True`.
        dummy4unknown: bool, count questions with unknown words as wrong
            instead of skipping them. Defaults to `False`.

    Returns:
        An `AnalogyResult`: `.accuracy`, `.sections` (each with `.accuracy`,
        `.correct`, `.incorrect`), `.section_accuracy()`, `.oov_ratio`.

    Example:

    >>> from gensim.test.utils import datapath
    >>> wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"))
    >>> result = keras_embedx.evaluation.analogies(wv, datapath("questions-words.txt"))
    >>> result.total.total, len(result.total.correct)
    (409, 1)

    Reference:
        - [Mikolov et al., 2013](https://arxiv.org/abs/1301.3781)
    """
    return _evaluation.analogies(
        *_checked(wv), path, restrict_vocab, case_insensitive, dummy4unknown
    )


def word_pairs(
    wv,
    path,
    delimiter="\t",
    restrict_vocab=300000,
    case_insensitive=True,
    dummy4unknown=False,
):
    """Correlation of cosine similarity with human scores (WordSim353, SimLex-999).

    Each line is `word1<delimiter>word2<delimiter>score`; lines starting with
    `#` and malformed lines are skipped, and so are pairs with a word outside
    the first `restrict_vocab` words. The numbers equal gensim's
    `evaluate_word_pairs` for the same vectors.

    Args:
        wv: a `keras_embedx.WordVectors`, a gensim `KeyedVectors`, or a Keras
            layer with a vocabulary.
        path: the word-pair file (`wordsim353.tsv`, `simlex999.txt`, ...).
        delimiter: str between the three fields. Defaults to a tab.
        restrict_vocab: int, only the first this many words count as known.
        case_insensitive: bool, compare upper-cased words. Defaults to `True`.
        dummy4unknown: bool, score pairs with unknown words as similarity 0
            instead of skipping them.

    Returns:
        A `WordPairsResult` with `.pearson`, `.spearman`, `.oov_ratio` (in
        percent) and the p-values.

    Raises:
        ValueError: no pair could be scored.

    Example:

    >>> from gensim.test.utils import datapath
    >>> wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"))
    >>> r = keras_embedx.evaluation.word_pairs(wv, datapath("wordsim353.tsv"))
    >>> round(r.spearman, 4), round(r.oov_ratio, 1)
    (0.2736, 69.1)
    """
    return _evaluation.word_pairs(
        *_checked(wv),
        path,
        delimiter,
        restrict_vocab,
        case_insensitive,
        dummy4unknown,
    )


# -------------------------------------------------------------- neighbours
def neighbours(wv, word, topn=10, restrict_vocab=None):
    """The `topn` words most similar to `word` by cosine, as gensim ranks them.

    Args:
        wv: a `keras_embedx.WordVectors` or a Keras layer with a vocabulary.
        word: a str (or a list of str: their mean is the query).
        topn: int, how many neighbours.
        restrict_vocab: optional int, search only the first N words.

    Returns:
        list of `(word, similarity)`, most similar first; the query words are
        left out.

    Example:

    >>> from gensim.test.utils import datapath
    >>> wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"))
    >>> [w for w, _ in keras_embedx.evaluation.neighbours(wv, "king", topn=3)]
    ['address', 'importance', 'dominant']
    """
    from keras_embedx.vectors import WordVectors

    if not isinstance(wv, WordVectors):
        wv = WordVectors(*_checked(wv))
    return wv.most_similar(word, topn=topn, restrict_vocab=restrict_vocab)
