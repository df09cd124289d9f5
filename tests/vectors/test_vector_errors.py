"""Malformed vector files: each fails with a `VectorFileError` naming the file,
the line (or row) and what was expected; `errors="skip"` / `"replace"` recover."""

import gzip
import shutil
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from gensim.models import KeyedVectors

from keras_embedx.vectors import (
    VectorFileError,
    VectorFileWarning,
    _text_parser,
    load_vectors,
)
from keras_embedx.vectors import text as text_module

pytestmark = pytest.mark.host_only

GOOD = "the 0.1 0.2 0.3\nof 0.4 0.5 0.6\nand 0.7 0.8 0.9\n"


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def check(path, *fragments, **kwargs):
    """Load `path`, expect a VectorFileError whose message has the path and
    every fragment; return the error."""
    with pytest.raises(VectorFileError) as info:
        load_vectors(path, **kwargs)
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(info.value, ValueError)
    return info.value


def test_truncated_row(tmp_path):
    path = write(tmp_path, "v.txt", GOOD + "to 0.1 0.2\nin 0.3 0.4 0.5\n")
    err = check(
        path, "line 4", "expected a word followed by 3 numbers", "only 2 numbers"
    )
    assert err.line == 4


def test_row_of_the_wrong_width(tmp_path):
    path = write(tmp_path, "v.txt", GOOD + "to 0.1 0.2 0.3 0.4\n")
    check(path, "line 4", "expected a word followed by 3 numbers", "found 4 numbers")


def test_non_numeric_value(tmp_path):
    path = write(tmp_path, "v.txt", "the 0.1 0.2 0.3\nof 0.4 abc 0.6\n")
    check(path, "line 2", "expected a number in field 3", "'abc'")


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity", "1e999"])
def test_nan_or_infinity(tmp_path, value):
    path = write(tmp_path, "v.txt", GOOD + f"to 0.1 {value} 0.3\n")
    check(path, "line 4", "expected finite numbers", value)


def test_empty_file(tmp_path):
    path = write(tmp_path, "v.txt", b"")
    check(path, "the file is empty", "expected")


def test_blank_file(tmp_path):
    path = write(tmp_path, "v.txt", "\n\n  \n")
    check(path, "blank", "expected", format="glove")


def test_header_claims_more_rows_than_the_body(tmp_path):
    path = write(tmp_path, "v.vec", "5 3\n" + GOOD)
    err = check(path, "header (line 1) says 5 rows", "has only 3", "truncated")
    assert err.line == 4
    check(path, "header (line 1) says 5 rows", errors="replace")


def test_header_claims_fewer_rows_than_the_body(tmp_path):
    path = write(tmp_path, "v.vec", "2 3\n" + GOOD)
    check(path, "line 4", "header (line 1) says 2 rows, but there are more")


def test_header_count_mismatch_tolerated_with_skip(tmp_path):
    path = write(tmp_path, "v.vec", "2 3\n" + GOOD)
    with pytest.warns(VectorFileWarning, match="says 2 rows"):
        wv = load_vectors(path, errors="skip")
    assert wv.words == ["the", "of", "and"]


def test_header_that_is_not_two_integers(tmp_path):
    path = write(tmp_path, "v.vec", "3 three\n" + GOOD)
    check(path, "line 1", "expected a header 'count dim'", format="word2vec_text")


def test_header_with_a_different_width_than_the_rows(tmp_path):
    path = write(tmp_path, "v.vec", "3 4\n" + GOOD)
    check(path, "line 2", "expected a word followed by 4 numbers", "only 3")


def test_non_utf8_word(tmp_path):
    path = write(tmp_path, "v.txt", GOOD.encode() + b"caf\xe9 1 2 3\n")
    check(path, "line 4", "not valid UTF-8", "0xe9", "errors='replace'")


def test_non_utf8_word_with_errors_replace_equals_gensim(tmp_path):
    path = write(tmp_path, "v.txt", GOOD.encode() + b"caf\xe9 1 2 3\n")
    wv = load_vectors(path, errors="replace")
    kv = KeyedVectors.load_word2vec_format(
        path, no_header=True, unicode_errors="replace"
    )
    assert wv.words == kv.index_to_key == ["the", "of", "and", "caf\ufffd"]
    np.testing.assert_array_equal(wv.vectors, kv.vectors)


def test_byte_undefined_in_the_given_encoding(tmp_path):
    # 0x81 has no character in cp1252 (Latin-1 reads every byte).
    path = write(tmp_path, "v.txt", GOOD.encode() + b"caf\xe9\x81 1 2 3\n")
    check(
        path,
        "line 4",
        "not valid cp1252",
        "0x81",
        "errors='replace'",
        encoding="cp1252",
    )
    wv = load_vectors(path, encoding="cp1252", errors="replace")
    kv = KeyedVectors.load_word2vec_format(
        path, no_header=True, encoding="cp1252", unicode_errors="replace"
    )
    assert wv.words == kv.index_to_key == ["the", "of", "and", "caf\xe9\ufffd"]
    np.testing.assert_array_equal(wv.vectors, kv.vectors)
    assert load_vectors(path, encoding="latin-1").words[3] == "caf\xe9\x81"


def test_word2vec_binary_word_undefined_in_the_given_encoding(tmp_path):
    row = struct.pack("<3f", 1, 2, 3)
    path = write(tmp_path, "v.bin", b"2 3\nthe " + row + b"caf\x81 " + row)
    check(path, "row 2", "not valid cp1252", "0x81", encoding="cp1252")
    wv = load_vectors(path, encoding="cp1252", errors="replace")
    kv = KeyedVectors.load_word2vec_format(
        path, binary=True, encoding="cp1252", unicode_errors="replace"
    )
    assert wv.words == kv.index_to_key == ["the", "caf\ufffd"]


def test_empty_word(tmp_path):
    path = write(tmp_path, "v.txt", GOOD + " 0.1 0.2 0.3\n")
    check(path, "line 4", "expected a word before the 3 numbers")


def test_line_of_numbers_only(tmp_path):
    path = write(tmp_path, "v.txt", GOOD + "0.1 0.2 0.3\n")
    check(path, "line 4", "expected a word followed by 3 numbers")


def test_truncated_word2vec_binary(datapath, tmp_path):
    data = open(datapath("euclidean_vectors.bin"), "rb").read()
    # header "2747 10\n" (8 bytes); each row: word, space, 40 bytes.
    path = write(tmp_path, "cut.bin", data[: len(data) - 30])
    check(path, "row 2747", "the file ends", "Is the file truncated?")


def test_word2vec_binary_with_nan(tmp_path):
    rows = b"".join(
        w + b" " + struct.pack("<3f", *v) + b"\n"
        for w, v in [(b"a", (1, 2, 3)), (b"b", (4, float("nan"), 6))]
    )
    path = write(tmp_path, "nan.bin", b"2 3\n" + rows)
    check(path, "row 2", "expected finite float32 values")
    with pytest.warns(VectorFileWarning, match="skipped 1 malformed row"):
        wv = load_vectors(path, errors="skip")
    assert wv.words == ["a"] and wv.skipped == 1


def test_word2vec_binary_with_trailing_data(datapath, tmp_path):
    data = open(datapath("euclidean_vectors.bin"), "rb").read()
    path = write(tmp_path, "more.bin", data + b"extra 12345678")
    check(path, "row 2748", "header (line 1) says 2747 rows")


def test_fasttext_bin_with_a_bad_magic_number(datapath, tmp_path):
    data = bytearray(open(datapath("crime-and-punishment.bin"), "rb").read())
    data[:4] = struct.pack("<i", 12345678)
    path = write(tmp_path, "model.bin", bytes(data))
    check(path, "bad magic number 12345678", "793712314", format="fasttext_bin")
    check(path, "not a recognised vector file", "793712314")  # format="auto"


def test_fasttext_bin_truncated(datapath, tmp_path):
    data = open(datapath("toy-model.bin"), "rb").read()
    path = write(tmp_path, "model.bin", data[:2000])
    check(path, "truncated")


def test_directory(tmp_path):
    check(tmp_path, "is a directory", "expected a vector file")


def test_missing_file(tmp_path):
    path = tmp_path / "nope" / "glove.txt"
    with pytest.raises(FileNotFoundError, match="glove.txt"):
        load_vectors(path)


def test_huge_claimed_size_fails_fast_without_allocating(tmp_path):
    path = write(tmp_path, "huge.vec", "1000000000000 300\n" + GOOD)
    tracemalloc.start()
    try:
        check(path, "line 1", "header says 1000000000000 rows", "the file has only")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20


def test_huge_claimed_size_in_word2vec_binary(tmp_path):
    path = write(tmp_path, "huge.bin", b"1000000000000 300\nthe " + b"\0" * 1200)
    check(path, "line 1", "header says 1000000000000 rows")


def test_huge_claimed_size_in_a_compressed_file(tmp_path):
    # The content size of a gzip stream is unknown: the reader must still not
    # allocate for the claimed rows, and then report the mismatch.
    path = tmp_path / "huge.vec.gz"
    with gzip.open(path, "wb") as f:
        f.write(b"1000000000000 3\n" + GOOD.encode())
    tracemalloc.start()
    try:
        check(path, "says 1000000000000 rows", "has only 3")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20


@pytest.mark.parametrize(
    "name", ["test_glove.txt", "euclidean_vectors.bin", "lee_fasttext_new.bin"]
)
@pytest.mark.parametrize("fallback", [True, False])
def test_vocabulary_with_no_word_in_the_file(datapath, tmp_path, name, fallback):
    # Not an empty result that fails later: an error naming the file, the size
    # of the vocabulary and that no word matched.
    vocab = ["zzqx-unseen", "Blorptastic", "qwxz"]
    with pytest.raises(ValueError) as info:
        load_vectors(datapath(name), vocabulary=vocab, lowercase_fallback=fallback)
    message = str(info.value)
    assert datapath(name) in message
    assert "none of the 3 word(s) of `vocabulary`" in message
    assert "'zzqx-unseen'" in message
    assert ("ignoring case" in message) == fallback
    # The same on the cache, and within `limit` rows of a file that has the
    # words further down.
    cache = tmp_path / "v.kxv"
    load_vectors(datapath(name)).save(cache)
    with pytest.raises(ValueError, match="none of the 3 word"):
        load_vectors(cache, vocabulary=vocab)
    words = load_vectors(datapath(name)).words
    with pytest.raises(ValueError, match="is in its first 5 rows"):
        load_vectors(datapath(name), vocabulary=words[5:8], limit=5)


def test_binary_garbage_is_not_a_vector_file(tmp_path):
    path = write(tmp_path, "noise.dat", bytes(range(256)) * 8)
    check(path, "not a recognised vector file")


def test_errors_skip_loads_the_good_rows_and_counts_the_bad(tmp_path):
    data = (
        "the 0.1 0.2 0.3\n"
        "bad 0.1 0.2\n"  # truncated
        "of 0.4 0.5 0.6\n"
        "worse 0.1 x 0.3\n"  # not a number
        "and 0.7 0.8 0.9\n"
        "nan 0.1 nan 0.3\n"  # NaN value (the word "nan" itself is fine)
    )
    path = write(tmp_path, "v.txt", data)
    with pytest.warns(VectorFileWarning, match="skipped 3 malformed rows") as record:
        wv = load_vectors(path, errors="skip")
    assert "line 2" in str(record[0].message)
    assert wv.skipped == 3
    assert wv.words == ["the", "of", "and"]
    np.testing.assert_array_equal(wv["and"], np.float32([0.7, 0.8, 0.9]))


def test_error_line_numbers_are_right_in_later_blocks(datapath, tmp_path, monkeypatch):
    monkeypatch.setattr(text_module, "_FIRST_BLOCK", 4096)
    monkeypatch.setattr(text_module, "_BLOCK", 10_000)
    lines = open(datapath("test_glove.txt")).read().splitlines()
    lines[60] = lines[60].rsplit(" ", 1)[0]  # line 61 loses a number
    path = write(tmp_path, "v.txt", "\n".join(lines) + "\n")
    check(path, "line 61", "only 49 numbers")
    for pandas in (True, False):
        if not pandas:
            monkeypatch.setattr(_text_parser, "_pandas", lambda: None)
        with pytest.warns(VectorFileWarning, match="line 61"):
            wv = load_vectors(path, errors="skip")
        assert len(wv) == 75 and lines[60].split()[0] not in wv


def test_bad_arguments(datapath):
    with pytest.raises(ValueError, match="`format` must be"):
        load_vectors(datapath("test_glove.txt"), format="csv")
    with pytest.raises(ValueError, match="`errors` must be"):
        load_vectors(datapath("test_glove.txt"), errors="ignore")
    with pytest.raises(ValueError, match="`limit` must be a positive int"):
        load_vectors(datapath("test_glove.txt"), limit=0)
    with pytest.raises(TypeError, match="`path` must be"):
        load_vectors(123)
    with pytest.raises(TypeError, match="`vocabulary` must be"):
        load_vectors(datapath("test_glove.txt"), vocabulary="the")
    with pytest.raises(ValueError, match="`vocabulary` is empty"):
        load_vectors(datapath("test_glove.txt"), vocabulary=[])


def test_compressed_truncated_file(datapath, tmp_path):
    full = tmp_path / "full.gz"
    with open(datapath("test_glove.txt"), "rb") as f, gzip.open(full, "wb") as out:
        shutil.copyfileobj(f, out)
    data = open(full, "rb").read()
    path = write(tmp_path, "cut.gz", data[: len(data) // 2])
    check(path, "gzip data is damaged or truncated")


@pytest.mark.parametrize("pandas", [True, False])
def test_long_and_short_rows_that_balance_out(tmp_path, monkeypatch, pandas):
    # As many spaces in all as regular rows would have: still caught.
    if not pandas:
        monkeypatch.setattr(_text_parser, "_pandas", lambda: None)
    path = write(tmp_path, "v.txt", "the 1 2 3\nof 0.1 0.2 0.3 0.4\nand 1 2\n")
    check(path, "line 2", "found 4 numbers")
    with pytest.warns(VectorFileWarning, match="skipped 2 malformed rows"):
        wv = load_vectors(path, errors="skip")
    assert wv.words == ["the"]


def test_damaged_zip_archive(datapath, tmp_path):
    full = tmp_path / "full.zip"
    with zipfile.ZipFile(full, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(datapath("test_glove.txt"), arcname="glove.txt")
    data = full.read_bytes()
    path = write(tmp_path, "cut.zip", data[: len(data) - 60])  # no central directory
    check(path, "damaged zip archive")
