"""`keras_embedx.evaluation` against gensim's own evaluation, on gensim's fixtures."""

import sys

import keras
import numpy as np
import pytest

import keras_embedx
from keras_embedx import evaluation

# Fixture vectors that answer a non-trivial share of the shipped test sets:
# euclidean_vectors.bin answers 409 analogy questions (1 right) and 109
# WordSim353 pairs; lee_fasttext.vec 98 questions (3 right).
VECTORS = {
    "euclidean_vectors.bin": {"binary": True},
    "lee_fasttext.vec": {},
}


@pytest.fixture(scope="module", params=sorted(VECTORS))
def evaluated_kv(request):
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    return KeyedVectors.load_word2vec_format(
        datapath(request.param), **VECTORS[request.param]
    )


def wv_of(kv):
    return keras_embedx.WordVectors(kv.index_to_key, kv.vectors)


def path(name):
    from gensim.test.utils import datapath

    return datapath(name)


ANALOGY_OPTIONS = [
    # restrict_vocab, case_insensitive, dummy4unknown
    (300000, True, False),
    (500, True, False),
    (300000, False, False),
    (800, True, True),
]


def test_analogies_equal_gensim(evaluated_kv):
    wv = wv_of(evaluated_kv)
    for restrict_vocab, case_insensitive, dummy4unknown in ANALOGY_OPTIONS:
        options = dict(
            restrict_vocab=restrict_vocab,
            case_insensitive=case_insensitive,
            dummy4unknown=dummy4unknown,
        )
        score, sections = evaluated_kv.evaluate_word_analogies(
            path("questions-words.txt"), **options
        )
        result = evaluation.analogies(wv, path("questions-words.txt"), **options)
        assert result.accuracy == score, options
        # Every question filed as gensim files it, section by section.
        assert result.to_gensim()[1] == sections, options
        assert result.section_accuracy() == {
            s["section"]: len(s["correct"]) / (len(s["correct"]) + len(s["incorrect"]))
            if s["correct"] or s["incorrect"]
            else 0.0
            for s in sections[:-1]
        }
        assert result.total.total > 0


def test_analogies_break_exact_ties_as_gensim(tmp_path):
    # Duplicate vectors tie exactly; gensim's ranking decides who wins.
    from gensim.models import KeyedVectors

    rng = np.random.default_rng(7)
    base = rng.normal(size=(6, 4)).astype("float32")
    words = ["a", "b", "c", "d", "e", "f", "d2", "e2"]
    vectors = np.vstack([base, base[3:5]])
    kv = KeyedVectors(4)
    kv.add_vectors(words, vectors)
    lines = [": tie"] + [
        f"{x} {y} {z} {w}"
        for x in "abc"
        for y in "abc"
        for z in "abc"
        for w in ("d", "d2")
    ]
    file = tmp_path / "q.txt"
    file.write_text("\n".join(lines) + "\n")
    options = dict(case_insensitive=False)
    score, sections = kv.evaluate_word_analogies(str(file), **options)
    result = evaluation.analogies(
        keras_embedx.WordVectors(words, vectors), file, **options
    )
    assert result.accuracy == score
    assert result.to_gensim()[1] == sections


def test_word_pairs_equal_gensim(evaluated_kv):
    wv = wv_of(evaluated_kv)
    for pairs in ("wordsim353.tsv", "simlex999.txt"):
        for case_insensitive, dummy4unknown in (
            (True, False),
            (False, False),
            (True, True),
        ):
            options = dict(
                case_insensitive=case_insensitive, dummy4unknown=dummy4unknown
            )
            pearson, spearman, oov = evaluated_kv.evaluate_word_pairs(
                path(pairs), **options
            )
            result = evaluation.word_pairs(wv, path(pairs), **options)
            # gensim sums float32 similarities; ours differ in the last bits.
            assert result.pearson == pytest.approx(pearson.statistic, abs=1e-6)
            assert result.spearman == pytest.approx(spearman.statistic, abs=1e-6)
            assert result.oov_ratio == pytest.approx(oov, abs=1e-9)
            assert result.pearson_pvalue == pytest.approx(pearson.pvalue, rel=1e-4)
            assert result.spearman_pvalue == pytest.approx(spearman.pvalue, rel=1e-4)


@pytest.mark.host_only
def test_word_pairs_without_scipy_says_to_install_it(monkeypatch):
    from gensim.test.utils import datapath

    wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"), progress=False)
    monkeypatch.setitem(sys.modules, "scipy", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install scipy"):
        evaluation.word_pairs(wv, path("wordsim353.tsv"))


def test_neighbours_equal_gensim_most_similar(evaluated_kv):
    wv = wv_of(evaluated_kv)
    for word in evaluated_kv.index_to_key[5:200:40]:
        theirs = evaluated_kv.most_similar(word, topn=8)
        ours = evaluation.neighbours(wv, word, topn=8)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose(
            [s for _, s in ours], [s for _, s in theirs], atol=1e-6
        )


def test_a_trained_layer_is_evaluated_on_its_table():
    # Train a PretrainedEmbedding a little, then give gensim the table it holds.
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(path("euclidean_vectors.bin"), binary=True)
    wv = wv_of(kv)
    layer = keras_embedx.layers.PretrainedEmbedding.from_vectors(wv, freeze="none")
    model = keras.Sequential([keras.Input((3,), dtype="int32"), layer])
    # A fixed table: cosines here and in gensim may differ by an ulp, so an
    # unlucky near-tie between two WordSim pairs could swap their ranks.
    seeded = keras.initializers.GlorotUniform(seed=0)
    model.add(keras.layers.Dense(1, kernel_initializer=seeded))
    model.compile(keras.optimizers.SGD(0.5), "mse")
    ids = np.random.default_rng(0).integers(2, len(wv) + 2, size=(64, 3))
    model.fit(ids, np.ones((64, 3, 1)), epochs=1, verbose=0, shuffle=False)
    table = layer.table.full_table()[2:]
    assert not np.array_equal(table, kv.vectors)  # it did learn
    learned = KeyedVectors(kv.vector_size)
    learned.add_vectors(kv.index_to_key, table)

    score, _ = learned.evaluate_word_analogies(path("questions-words.txt"))
    assert evaluation.analogies(layer, path("questions-words.txt")).accuracy == score
    pearson, spearman, _ = learned.evaluate_word_pairs(path("wordsim353.tsv"))
    result = evaluation.word_pairs(layer, path("wordsim353.tsv"))
    assert result.spearman == pytest.approx(spearman.statistic, abs=1e-6)
    word = kv.index_to_key[3]
    assert [w for w, _ in evaluation.neighbours(layer, word, 5)] == [
        w for w, _ in learned.most_similar(word, topn=5)
    ]


def test_bad_files(tmp_path):
    wv = keras_embedx.WordVectors(["a", "b"], np.eye(2, dtype="float32"))
    no_header = tmp_path / "q.txt"
    no_header.write_text("a b a b\n")
    with pytest.raises(ValueError, match=r"q.txt line 1: expected a ': section'"):
        evaluation.analogies(wv, no_header)
    latin1 = tmp_path / "p.txt"
    latin1.write_bytes(b"a\tb\t1.0\ncaf\xe9\tb\t2.0\n")
    with pytest.raises(ValueError, match=r"p.txt line 2: not UTF-8"):
        evaluation.word_pairs(wv, latin1)
    unknown = tmp_path / "u.txt"
    unknown.write_text("x\ty\t1.0\n")
    with pytest.raises(ValueError, match="No word pair in .*u.txt could be scored"):
        evaluation.word_pairs(wv, unknown)
    with pytest.raises(TypeError, match="Expected a keras_embedx.WordVectors"):
        evaluation.analogies(object(), no_header)
