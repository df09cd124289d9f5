"""`WordVectors`: lookup, neighbours as gensim ranks them, gensim interop, writers."""

import numpy as np
import pytest
from gensim.models import KeyedVectors, Word2Vec
from gensim.models.fasttext import load_facebook_vectors
from gensim.test.utils import common_texts

import keras_embedx
from keras_embedx.vectors import WordVectors, load_vectors

pytestmark = pytest.mark.host_only

FIXTURES = [
    ("test_glove.txt", {"no_header": True}, ["the", "of", "said", "his"]),
    ("euclidean_vectors.bin", {"binary": True}, ["the", "to", "in", "war"]),
    ("crime-and-punishment.vec", {}, ["и", "не", "он", "He"]),
]


def both(datapath, name, gensim_kwargs):
    wv = load_vectors(datapath(name))
    kv = KeyedVectors.load_word2vec_format(datapath(name), **gensim_kwargs)
    return wv, kv


def assert_same_neighbours(ours, theirs):
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose(
        [s for _, s in ours], [s for _, s in theirs], rtol=0, atol=1e-5
    )


@pytest.mark.parametrize("name,gensim_kwargs,queries", FIXTURES)
def test_most_similar_equals_gensim_top10(datapath, name, gensim_kwargs, queries):
    wv, kv = both(datapath, name, gensim_kwargs)
    for word in queries:
        assert word in wv
        assert_same_neighbours(wv.most_similar(word), kv.most_similar(word))
        assert_same_neighbours(
            wv.most_similar(word, topn=3), kv.most_similar(word, topn=3)
        )


@pytest.mark.parametrize("name,gensim_kwargs,queries", FIXTURES)
def test_most_similar_by_vector_list_and_negative(
    datapath, name, gensim_kwargs, queries
):
    wv, kv = both(datapath, name, gensim_kwargs)
    vector = wv[queries[0]] * 2.5 - wv[queries[1]]
    assert_same_neighbours(wv.most_similar(vector), kv.similar_by_vector(vector))
    assert_same_neighbours(
        wv.most_similar(queries[:2], negative=queries[2]),
        kv.most_similar(positive=queries[:2], negative=[queries[2]]),
    )
    assert_same_neighbours(
        wv.most_similar(queries[0], restrict_vocab=30),
        kv.most_similar(queries[0], restrict_vocab=30),
    )
    np.testing.assert_allclose(
        wv.most_similar(queries[3], topn=None),
        kv.most_similar(queries[3], topn=None),
        atol=1e-5,
    )


def test_similarity_and_unit_vectors_equal_gensim(datapath):
    wv, kv = both(datapath, "test_glove.txt", {"no_header": True})
    assert wv.similarity("the", "of") == pytest.approx(kv.similarity("the", "of"))
    unit = wv.unit_vectors()
    assert unit.dtype == np.float32 and unit is wv.unit_vectors()  # cached
    np.testing.assert_allclose(unit, kv.get_normed_vectors(), rtol=1e-6, atol=1e-7)
    normed = wv.normalized()
    assert normed.words == wv.words
    np.testing.assert_array_equal(normed.vectors, unit)


def test_zero_rows_stay_zero_in_unit_vectors():
    wv = WordVectors(["a", "zero"], [[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_array_equal(wv.unit_vectors(), np.float32([[0.6, 0.8], [0, 0]]))
    assert wv.most_similar("a") == [("zero", 0.0)]


def test_lookup_basics():
    wv = WordVectors(["a", "b"], np.array([[1, 2], [3, 4]], np.float64), source="x")
    assert wv.vectors.dtype == np.float32
    assert len(wv) == 2 and wv.dim == 2 and list(wv) == ["a", "b"]
    assert "a" in wv and "c" not in wv
    np.testing.assert_array_equal(wv["b"], [3, 4])
    assert wv.key_to_index == {"a": 0, "b": 1}
    assert repr(wv) == "WordVectors(n=2, dim=2, source='x')"
    with pytest.raises(KeyError, match="'c' has no vector"):
        wv["c"]
    with pytest.raises(KeyError, match="'c' has no vector"):
        wv.most_similar("c")


def test_constructor_validation():
    with pytest.raises(ValueError, match="must be unique.*'a'"):
        WordVectors(["a", "b", "a"], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="one row per word"):
        WordVectors(["a"], np.zeros((2, 2)))
    with pytest.raises(ValueError, match="one count per word"):
        WordVectors(["a"], np.zeros((1, 2)), counts=[1, 2])
    with pytest.raises(TypeError, match="`words` must be str"):
        WordVectors([b"a"], np.zeros((1, 2)))
    wv = WordVectors(["a"], np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        wv.most_similar(np.zeros(3))


def test_from_gensim_keyed_vectors(datapath):
    kv = KeyedVectors.load_word2vec_format(
        datapath("euclidean_vectors.bin"), binary=True
    )
    wv = WordVectors.from_gensim(kv)
    assert wv.words == kv.index_to_key
    np.testing.assert_array_equal(wv.vectors, kv.vectors)
    assert wv.counts.tolist() == [kv.get_vecattr(w, "count") for w in wv.words]


def test_from_gensim_fasttext_keyed_vectors(datapath):
    kv = load_facebook_vectors(datapath("lee_fasttext_new.bin"))
    wv = WordVectors.from_gensim(kv)
    assert wv.words == kv.index_to_key
    np.testing.assert_array_equal(wv.vectors, kv.vectors)
    assert wv.counts.tolist() == [kv.get_vecattr(w, "count") for w in wv.words]
    np.testing.assert_array_equal(wv["night"], kv["night"])


def test_from_gensim_model_uses_its_wv():
    model = Word2Vec(common_texts, vector_size=8, min_count=1, seed=1, workers=1)
    wv = WordVectors.from_gensim(model)
    assert wv.words == model.wv.index_to_key
    np.testing.assert_array_equal(wv.vectors, model.wv.vectors)
    assert wv.counts.tolist() == [model.wv.get_vecattr(w, "count") for w in wv.words]
    with pytest.raises(TypeError, match="gensim KeyedVectors"):
        WordVectors.from_gensim(np.zeros(3))


def test_to_gensim_round_trip(datapath):
    wv = load_vectors(datapath("lee_fasttext_new.bin"))
    kv = wv.to_gensim()
    assert kv.index_to_key == wv.words
    np.testing.assert_array_equal(kv.vectors, wv.vectors)
    assert [kv.get_vecattr(w, "count") for w in wv.words] == wv.counts.tolist()
    assert_same_neighbours(wv.most_similar("night"), kv.most_similar("night"))


@pytest.mark.parametrize(
    "fmt,gensim_kwargs",
    [
        ("glove", {"no_header": True}),
        ("word2vec_text", {}),
        ("word2vec_binary", {"binary": True}),
    ],
)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_writers_read_back_exactly_by_gensim(
    datapath, tmp_path, fmt, gensim_kwargs, suffix
):
    source = load_vectors(datapath("pang_lee_polarity_fasttext.vec"), errors="replace")
    path = tmp_path / f"out.{fmt}{suffix}"
    source.save(path, format=fmt)
    kv = KeyedVectors.load_word2vec_format(str(path), **gensim_kwargs)
    assert kv.index_to_key == source.words
    np.testing.assert_array_equal(kv.vectors, source.vectors)
    again = load_vectors(path)
    assert again.words == source.words
    np.testing.assert_array_equal(again.vectors, source.vectors)


def test_writer_precision_and_shortest_form(tmp_path):
    wv = WordVectors(["a"], np.float32([[0.1, 1 / 3]]))
    wv.save(tmp_path / "short.txt", format="glove")
    assert (tmp_path / "short.txt").read_text() == "a 0.1 0.33333334\n"
    wv.save(tmp_path / "p3.txt", format="glove", precision=3)
    assert (tmp_path / "p3.txt").read_text() == "a 0.1 0.333\n"


def test_writers_refuse_words_they_cannot_hold(tmp_path):
    wv = WordVectors(["the", "new york"], np.zeros((2, 2)))
    with pytest.raises(ValueError, match="containing spaces"):
        wv.save(tmp_path / "w.vec", format="word2vec_text")
    with pytest.raises(ValueError, match="without spaces"):
        wv.save(tmp_path / "w.bin", format="word2vec_binary")
    wv.save(tmp_path / "w.txt", format="glove")  # read back by the last-dim rule
    assert load_vectors(tmp_path / "w.txt").words == ["the", "new york"]
    with pytest.raises(ValueError, match="`format` must be one of"):
        wv.save(tmp_path / "w.x", format="npy")


@pytest.mark.parametrize(
    "fmt,gensim_kwargs",
    [
        ("glove", {"no_header": True}),
        ("word2vec_text", {}),
        ("word2vec_binary", {"binary": True}),
    ],
)
def test_writers_in_cp1252_read_back_by_gensim(datapath, tmp_path, fmt, gensim_kwargs):
    source = load_vectors(datapath("pang_lee_polarity_fasttext.vec"), encoding="cp1252")
    path = tmp_path / f"out.{fmt}"
    source.save(path, format=fmt, encoding="cp1252")
    assert b"clich\xe9s " in path.read_bytes()
    kv = KeyedVectors.load_word2vec_format(path, encoding="cp1252", **gensim_kwargs)
    assert kv.index_to_key == source.words
    np.testing.assert_array_equal(kv.vectors, source.vectors)
    again = load_vectors(path, encoding="cp1252")
    assert again.words == source.words


@pytest.mark.parametrize("fmt", ["glove", "word2vec_text", "word2vec_binary"])
def test_writers_refuse_words_the_encoding_cannot_hold(tmp_path, fmt):
    wv = WordVectors(["the", "caf\u00e9", "\u6771\u4eac"], np.zeros((3, 2)))
    path = tmp_path / "w.out"
    with pytest.raises(
        ValueError, match="Cannot write the word '\u6771\u4eac' in cp1252"
    ):
        wv.save(path, format=fmt, encoding="cp1252")
    assert not path.exists()
    with pytest.raises(ValueError, match="Received: encoding='utf-16'"):
        wv.save(path, format=fmt, encoding="utf-16")


def test_cache_always_stores_utf8_whatever_the_encoding(tmp_path):
    words = ["the", "\u6771\u4eac"]  # not Latin-1
    WordVectors(words, np.zeros((2, 2))).save(tmp_path / "c.kxv", encoding="latin-1")
    assert WordVectors.load(tmp_path / "c.kxv").words == words


def test_top_level_export():
    assert keras_embedx.WordVectors is WordVectors
