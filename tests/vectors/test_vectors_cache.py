"""The package's cache file: `WordVectors.save` / `WordVectors.load`."""

import json
import struct

import numpy as np
import pytest
from gensim.models import KeyedVectors

from keras_embedx.vectors import VectorFileError, WordVectors, load_vectors
from keras_embedx.vectors.cache import MAGIC

pytestmark = pytest.mark.host_only


@pytest.mark.parametrize(
    "name", ["test_glove.txt", "euclidean_vectors.bin", "lee_fasttext_new.bin"]
)
def test_round_trip_memory_mapped(datapath, tmp_path, name):
    wv = load_vectors(datapath(name))
    path = wv.save(tmp_path / "vectors.kxv")
    back = WordVectors.load(path)
    assert back.words == wv.words
    np.testing.assert_array_equal(back.vectors, wv.vectors)
    assert back.vectors.dtype == np.float32 and back.vectors.shape == wv.vectors.shape
    assert not back.vectors.flags.writeable  # a read-only memory map
    assert isinstance(back.vectors.base, np.memmap)
    if wv.counts is None:
        assert back.counts is None
    else:
        np.testing.assert_array_equal(back.counts, wv.counts)
    assert back.source == str(path)
    assert back.format == "cache"
    assert back.most_similar(wv.words[3]) == wv.most_similar(wv.words[3])


def test_cache_equals_gensims_text_load(datapath, tmp_path):
    name = "pang_lee_polarity_fasttext.vec"
    load_vectors(datapath(name), errors="replace").save(tmp_path / "c.kxv")
    back = load_vectors(tmp_path / "c.kxv")  # auto-detected
    kv = KeyedVectors.load_word2vec_format(datapath(name), unicode_errors="replace")
    assert back.format == "cache"
    assert back.words == kv.index_to_key
    np.testing.assert_array_equal(back.vectors, kv.vectors)


def test_load_into_memory_is_writable(datapath, tmp_path):
    wv = load_vectors(datapath("test_glove.txt"))
    wv.save(tmp_path / "c.kxv")
    back = WordVectors.load(tmp_path / "c.kxv", mmap=False)
    assert back.vectors.flags.writeable
    back.vectors[0] = 0  # does not touch the file
    np.testing.assert_array_equal(
        WordVectors.load(tmp_path / "c.kxv")["the"], wv["the"]
    )


def test_limit_and_vocabulary_on_a_cache(datapath, tmp_path):
    wv = load_vectors(datapath("lee_fasttext_new.bin"))
    wv.save(tmp_path / "c.kxv")
    head = load_vectors(tmp_path / "c.kxv", limit=10)
    assert head.words == wv.words[:10]
    np.testing.assert_array_equal(head.counts, wv.counts[:10])
    some = load_vectors(tmp_path / "c.kxv", vocabulary=[wv.words[7], wv.words[2]])
    assert some.words == [wv.words[2], wv.words[7]]
    np.testing.assert_array_equal(some.vectors, wv.vectors[[2, 7]])


def test_any_word_survives(tmp_path):
    words = ["", "new\nline", "tab\there", "emoji 🙂", "ü", "\r", " "]
    vectors = np.arange(len(words) * 3, dtype=np.float32).reshape(-1, 3)
    WordVectors(words, vectors, counts=np.arange(7)).save(tmp_path / "odd.kxv")
    back = WordVectors.load(tmp_path / "odd.kxv")
    assert back.words == words
    np.testing.assert_array_equal(back.vectors, vectors)
    np.testing.assert_array_equal(back.counts, np.arange(7))


def test_empty_vectors_round_trip(tmp_path):
    WordVectors([], np.zeros((0, 5))).save(tmp_path / "empty.kxv")
    back = WordVectors.load(tmp_path / "empty.kxv")
    assert back.words == [] and back.vectors.shape == (0, 5)


def test_file_layout_is_documented_and_pickle_free(tmp_path):
    wv = WordVectors(["a", "b"], np.float32([[1, 2], [3, 4]]))
    wv.save(tmp_path / "c.kxv")
    data = (tmp_path / "c.kxv").read_bytes()
    assert data[:8] == MAGIC
    (header_len,) = struct.unpack("<I", data[8:12])
    header = json.loads(data[12 : 12 + header_len])
    assert (header["count"], header["dim"], header["dtype"]) == (2, 2, "<f4")
    start, nbytes = header["vectors"]
    assert start % 64 == 0 and nbytes == 16
    np.testing.assert_array_equal(
        np.frombuffer(data[start : start + nbytes], "<f4"), [1, 2, 3, 4]
    )
    start, nbytes = header["words"]
    assert data[start : start + nbytes] == b"a\nb"
    assert header["file_size"] == len(data)


def test_truncated_cache(datapath, tmp_path):
    load_vectors(datapath("test_glove.txt")).save(tmp_path / "c.kxv")
    data = (tmp_path / "c.kxv").read_bytes()
    (tmp_path / "cut.kxv").write_bytes(data[:-100])
    with pytest.raises(VectorFileError, match="cut.kxv.*damaged.*truncated"):
        WordVectors.load(tmp_path / "cut.kxv")
    (tmp_path / "tiny.kxv").write_bytes(data[:10])
    with pytest.raises(VectorFileError, match="tiny.kxv.*damaged"):
        load_vectors(tmp_path / "tiny.kxv")


def test_damaged_header(datapath, tmp_path):
    load_vectors(datapath("test_glove.txt")).save(tmp_path / "c.kxv")
    data = bytearray((tmp_path / "c.kxv").read_bytes())
    data[12:20] = b"garbage!"
    (tmp_path / "bad.kxv").write_bytes(bytes(data))
    with pytest.raises(VectorFileError, match="bad.kxv.*JSON header"):
        WordVectors.load(tmp_path / "bad.kxv")


def test_newer_version_is_refused(tmp_path):
    WordVectors(["a"], np.zeros((1, 2))).save(tmp_path / "c.kxv")
    data = (tmp_path / "c.kxv").read_bytes().replace(b'"version": 1', b'"version": 9')
    (tmp_path / "v9.kxv").write_bytes(data)
    with pytest.raises(VectorFileError, match="version 9"):
        WordVectors.load(tmp_path / "v9.kxv")


def test_load_of_a_non_cache_file_points_to_load_vectors(datapath):
    with pytest.raises(VectorFileError, match="not a keras_embedx cache.*load_vectors"):
        WordVectors.load(datapath("test_glove.txt"))


def test_compressed_cache(datapath, tmp_path):
    import gzip

    wv = load_vectors(datapath("test_glove.txt"))
    wv.save(tmp_path / "c.kxv")
    with gzip.open(tmp_path / "c.kxv.gz", "wb") as f:
        f.write((tmp_path / "c.kxv").read_bytes())
    back = load_vectors(tmp_path / "c.kxv.gz")
    assert back.words == wv.words
    np.testing.assert_array_equal(back.vectors, wv.vectors)


def test_save_replaces_atomically(tmp_path):
    path = tmp_path / "c.kxv"
    WordVectors(["a"], np.zeros((1, 2))).save(path)
    WordVectors(["b", "c"], np.ones((2, 2))).save(path)
    assert WordVectors.load(path).words == ["b", "c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.kxv"]
