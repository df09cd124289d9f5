"""`keras_embedx.load_vectors` against gensim's own loaders on gensim's fixtures."""

import bz2
import gzip
import lzma
import shutil
import warnings
import zipfile

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.models.fasttext import load_facebook_vectors

import keras_embedx
from keras_embedx.vectors import (
    FORMATS,
    VectorFileError,
    VectorFileWarning,
    _progress,
    _text_parser,
    detect_format,
    load_vectors,
    text,
)
from keras_embedx.vocabulary import align_to_vectors

pytestmark = pytest.mark.host_only

# (fixture, gensim's load_word2vec_format kwargs, our kwargs, detected format)
TEXT_AND_BINARY = [
    ("test_glove.txt", {"no_header": True}, {}, "glove"),
    ("euclidean_vectors.bin", {"binary": True}, {}, "word2vec_binary"),
    ("crime-and-punishment.vec", {}, {}, "word2vec_text"),
    ("toy-model.vec", {}, {}, "word2vec_text"),
    (
        "pang_lee_polarity_fasttext.vec",
        {"unicode_errors": "replace"},
        {"errors": "replace"},
        "word2vec_text",
    ),
]
FASTTEXT_BIN = ["crime-and-punishment.bin", "toy-model.bin", "lee_fasttext_new.bin"]


def gensim_kv(datapath, name, **kwargs):
    return KeyedVectors.load_word2vec_format(datapath(name), **kwargs)


def assert_same(wv, kv):
    assert wv.words == kv.index_to_key
    assert wv.vectors.dtype == np.float32
    np.testing.assert_array_equal(wv.vectors, kv.vectors)


@pytest.mark.parametrize("name,gensim_kwargs,kwargs,fmt", TEXT_AND_BINARY)
def test_every_word_and_vector_equal_gensim(datapath, name, gensim_kwargs, kwargs, fmt):
    wv = load_vectors(datapath(name), **kwargs)
    assert_same(wv, gensim_kv(datapath, name, **gensim_kwargs))
    assert wv.format == fmt
    assert detect_format(datapath(name)) == fmt
    assert wv.source == datapath(name)
    assert wv.skipped == 0


@pytest.mark.parametrize("name,gensim_kwargs,kwargs,fmt", TEXT_AND_BINARY)
def test_explicit_format_equals_auto(datapath, name, gensim_kwargs, kwargs, fmt):
    wv = load_vectors(datapath(name), format=fmt.replace("_", "-"), **kwargs)
    assert_same(wv, gensim_kv(datapath, name, **gensim_kwargs))


def test_numpy_fallback_without_pandas(datapath, monkeypatch):
    # pandas is an optional extra: the NumPy path must give the same result.
    monkeypatch.setattr(_text_parser, "_pandas", lambda: None)
    for name, gensim_kwargs, kwargs, _ in TEXT_AND_BINARY:
        wv = load_vectors(datapath(name), **kwargs)
        assert_same(wv, gensim_kv(datapath, name, **gensim_kwargs))


@pytest.mark.parametrize("pandas", [True, False])
def test_many_small_blocks(datapath, monkeypatch, pandas):
    # Blocks of a few lines exercise every block boundary of a real file.
    monkeypatch.setattr(text, "_FIRST_BLOCK", 3000)
    monkeypatch.setattr(text, "_BLOCK", 20_000)
    if not pandas:
        monkeypatch.setattr(_text_parser, "_pandas", lambda: None)
    name = "pang_lee_polarity_fasttext.vec"
    wv = load_vectors(datapath(name), errors="replace")
    assert_same(wv, gensim_kv(datapath, name, unicode_errors="replace"))
    with pytest.raises(VectorFileError, match="line 150: the line is not valid UTF-8"):
        load_vectors(datapath(name))


@pytest.mark.parametrize("name", FASTTEXT_BIN)
def test_fasttext_bin_equals_gensim_facebook_vectors(datapath, name):
    wv = load_vectors(datapath(name))
    kv = load_facebook_vectors(datapath(name))
    assert wv.format == "fasttext_bin"
    assert wv.words == kv.index_to_key
    assert wv.counts.tolist() == [kv.get_vecattr(w, "count") for w in wv.words]
    for i, word in enumerate(wv.words):
        if word == "</s>":
            # fastText gives "</s>" its own row only; gensim also adds n-grams.
            np.testing.assert_array_equal(wv.vectors[i], kv.vectors_vocab[i])
        else:
            np.testing.assert_allclose(wv.vectors[i], kv[word], rtol=0, atol=1e-6)


def test_fasttext_bin_and_vec_of_one_model_agree(datapath):
    # fastText wrote both files from one model; .vec has 5 significant digits.
    wv_bin = load_vectors(datapath("crime-and-punishment.bin"))
    wv_vec = load_vectors(datapath("crime-and-punishment.vec"))
    assert wv_bin.words == wv_vec.words
    np.testing.assert_allclose(wv_bin.vectors, wv_vec.vectors, atol=1e-4)


def _compress(src, dst, kind):
    if kind == "zip":
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(src, arcname="vectors.data")
        return
    opener = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}[kind]
    with open(src, "rb") as f, opener(dst, "wb") as out:
        shutil.copyfileobj(f, out)


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz", "zip"])
@pytest.mark.parametrize(
    "name", ["test_glove.txt", "euclidean_vectors.bin", "crime-and-punishment.vec"]
)
def test_compressed_files_load_transparently(datapath, tmp_path, name, kind):
    dst = tmp_path / f"{name}.{kind}"
    _compress(datapath(name), dst, kind)
    wv = load_vectors(dst)
    plain = load_vectors(datapath(name))
    assert wv.words == plain.words
    np.testing.assert_array_equal(wv.vectors, plain.vectors)
    assert wv.format == plain.format


@pytest.mark.parametrize("kind", ["gz", "xz"])
def test_compressed_fasttext_bin(datapath, tmp_path, kind):
    dst = tmp_path / f"model.bin.{kind}"
    _compress(datapath("toy-model.bin"), dst, kind)
    wv = load_vectors(dst)
    kv = load_facebook_vectors(datapath("toy-model.bin"))
    assert wv.words == kv.index_to_key
    np.testing.assert_allclose(wv.vectors, kv.vectors, atol=1e-6)


def test_compression_is_recognised_by_content_not_name(datapath, tmp_path):
    dst = tmp_path / "vectors.txt"  # gzip data behind a plain name
    _compress(datapath("test_glove.txt"), dst, "gz")
    kv = gensim_kv(datapath, "test_glove.txt", no_header=True)
    assert_same(load_vectors(dst), kv)


def test_zip_member_named_like_a_path(datapath, tmp_path):
    archive = tmp_path / "glove.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(datapath("test_glove.txt"), arcname="glove/test_glove.txt")
        z.write(datapath("crime-and-punishment.vec"), arcname="cp.vec")
    kv = gensim_kv(datapath, "test_glove.txt", no_header=True)
    assert_same(load_vectors(f"{archive}/glove/test_glove.txt"), kv)
    assert_same(
        load_vectors(f"{archive}/cp.vec"),
        gensim_kv(datapath, "crime-and-punishment.vec"),
    )
    with pytest.raises(VectorFileError, match="holds 2 files") as info:
        load_vectors(archive)
    assert "glove/test_glove.txt" in str(info.value)
    with pytest.raises(FileNotFoundError, match="nothing.txt"):
        load_vectors(f"{archive}/nothing.txt")


@pytest.mark.parametrize("name,gensim_kwargs,kwargs,fmt", TEXT_AND_BINARY)
def test_limit_equals_gensim_limit(datapath, name, gensim_kwargs, kwargs, fmt):
    for limit in (1, 7, 30):
        wv = load_vectors(datapath(name), limit=limit, **kwargs)
        assert_same(wv, gensim_kv(datapath, name, limit=limit, **gensim_kwargs))


def test_limit_on_fasttext_bin_keeps_the_first_words(datapath):
    full = load_vectors(datapath("lee_fasttext_new.bin"))
    wv = load_vectors(datapath("lee_fasttext_new.bin"), limit=25)
    assert wv.words == full.words[:25]
    np.testing.assert_array_equal(wv.vectors, full.vectors[:25])
    np.testing.assert_array_equal(wv.counts, full.counts[:25])


def test_limit_stops_before_a_bad_row(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("a 1 2\nb 3 4\nc oops 5\n")
    wv = load_vectors(path, limit=2)
    assert wv.words == ["a", "b"]
    np.testing.assert_array_equal(wv.vectors, [[1, 2], [3, 4]])


@pytest.mark.parametrize(
    "name", ["test_glove.txt", "euclidean_vectors.bin", "lee_fasttext_new.bin"]
)
def test_vocabulary_keeps_only_those_words_in_file_order(datapath, name):
    full = load_vectors(datapath(name))
    wanted = [full.words[i] for i in (9, 2, 5, 0)] + ["no-such-word"]
    wv = load_vectors(datapath(name), vocabulary=wanted)
    assert wv.words == [full.words[i] for i in (0, 2, 5, 9)]
    np.testing.assert_array_equal(wv.vectors, full.vectors[[0, 2, 5, 9]])


def test_vocabulary_accepts_a_vocabulary_object(datapath):
    vocab = keras_embedx.Vocabulary(["the", "of", "zzz-unknown"])
    wv = load_vectors(datapath("test_glove.txt"), vocabulary=vocab)
    assert wv.words == ["the", "of"]


def test_vocabulary_keeps_the_rows_the_lowercase_fallback_takes(datapath):
    # lee_fasttext.vec has "the" (row 0) and "The" (8), "Mr" and "Australian"
    # but no "mr" or "australian". A vocabulary word missing from the file
    # keeps the first word equal to it ignoring case, as
    # PretrainedEmbedding.from_vectors falls back to; nothing else is kept.
    kv = gensim_kv(datapath, "lee_fasttext.vec")
    vocab = ["the", "THE", "australian", "mr", "Mr", "no-such-word"]
    wv = load_vectors(datapath("lee_fasttext.vec"), vocabulary=vocab)
    assert wv.words == ["the", "Mr", "Australian"]
    np.testing.assert_array_equal(wv.vectors, kv[["the", "Mr", "Australian"]])
    exact = load_vectors(
        datapath("lee_fasttext.vec"), vocabulary=vocab, lowercase_fallback=False
    )
    assert exact.words == ["the", "Mr"]
    # Aligning the vocabulary to the restricted load finds gensim's rows for
    # the same words as aligning it to the whole file.
    full = load_vectors(datapath("lee_fasttext.vec"))
    for loaded in (wv, full):
        rows, how = align_to_vectors(vocab, loaded)
        fallback = ["exact", "lowercase", "lowercase", "lowercase", "exact"]
        assert list(how) == fallback + ["missing"]
        got = [loaded.words[r] for r in rows[:5]]
        assert got == ["the", "the", "Australian", "Mr", "Mr"]


def test_duplicate_words_first_wins_with_a_count(tmp_path, datapath):
    path = tmp_path / "dup.txt"
    path.write_text("a 1 2\nb 3 4\na 5 6\nc 7 8\nb 9 9\na 0 0\n")
    with pytest.warns(VectorFileWarning, match="3 duplicate words") as record:
        wv = load_vectors(path)
    assert "'a' at line 3" in str(record[0].message)
    assert wv.duplicates == 3
    kv = KeyedVectors.load_word2vec_format(path, no_header=True)
    assert wv.words == kv.index_to_key[:3] == ["a", "b", "c"]
    np.testing.assert_array_equal(wv.vectors, kv.vectors[:3])


def test_words_with_spaces_take_the_last_dim_fields(tmp_path):
    # glove.840B.300d has such words: the vector is the last `dim` fields.
    path = tmp_path / "spaces.txt"
    path.write_text(
        "the 0.1 0.2 0.3\nnew york 1 2 3\n. . . 4 5 6\nat\u00a0home 7 8 9\n"
    )
    wv = load_vectors(path)
    assert wv.words == ["the", "new york", ". . .", "at\u00a0home"]
    np.testing.assert_array_equal(wv["new york"], np.float32([1, 2, 3]))
    np.testing.assert_array_equal(wv[". . ."], np.float32([4, 5, 6]))


def test_words_that_look_like_numbers_or_na_stay_words(tmp_path):
    path = tmp_path / "odd.txt"
    path.write_text('007 1 2\nNaN 3 4\nnull 5 6\n"quoted 7 8\n# 9 10\n1e5 11 12\n')
    wv = load_vectors(path)
    assert wv.words == ["007", "NaN", "null", '"quoted', "#", "1e5"]
    np.testing.assert_array_equal(wv.vectors[:, 0], [1, 3, 5, 7, 9, 11])


@pytest.mark.parametrize(
    "variant",
    ["bom", "crlf", "trailing_space", "blank_lines", "no_final_newline", "tabs"],
)
def test_real_file_quirks_give_gensims_vectors(datapath, tmp_path, variant):
    original = open(datapath("test_glove.txt"), "rb").read()
    lines = original.rstrip(b"\n").split(b"\n")
    if variant == "bom":
        data = b"\xef\xbb\xbf" + original
    elif variant == "crlf":
        data = b"\r\n".join(lines) + b"\r\n"
    elif variant == "trailing_space":
        data = b" \n".join(lines) + b" \n"
    elif variant == "blank_lines":
        data = b"\n" + b"\n\n".join(lines) + b"\n\n\n"
    elif variant == "no_final_newline":
        data = b"\n".join(lines)
    else:  # a tab between the word and its numbers, double spaces between numbers
        data = b"\n".join(
            line.replace(b" ", b"\t", 1).replace(b" ", b"  ") for line in lines
        )
    path = tmp_path / f"{variant}.txt"
    path.write_bytes(data)
    wv = load_vectors(path)
    assert_same(wv, gensim_kv(datapath, "test_glove.txt", no_header=True))


def test_fasttext_vec_with_trailing_spaces_mixed_with_plain_rows(tmp_path):
    path = tmp_path / "mixed.vec"
    path.write_bytes(b"3 2\na 1 2 \nb 3 4\nc 5 6 \n")
    wv = load_vectors(path)
    assert wv.words == ["a", "b", "c"]
    np.testing.assert_array_equal(wv.vectors, [[1, 2], [3, 4], [5, 6]])


def test_header_only_file_gives_empty_vectors(tmp_path):
    path = tmp_path / "empty.vec"
    path.write_text("0 7\n")
    wv = load_vectors(path)
    assert len(wv) == 0 and wv.vectors.shape == (0, 7)


def test_progress_bar_only_when_asked_and_large(datapath, capsys, monkeypatch):
    load_vectors(datapath("test_glove.txt"))
    assert capsys.readouterr().err == ""  # small file: no bar
    monkeypatch.setattr(_progress, "MIN_BYTES", 0)
    load_vectors(datapath("test_glove.txt"), progress=False)
    assert capsys.readouterr().err == ""
    load_vectors(datapath("test_glove.txt"))
    err = capsys.readouterr().err
    assert "test_glove.txt" in err and "76 words x 50" in err


def test_formats_listed(datapath):
    assert set(FORMATS) >= {"glove", "word2vec_text", "word2vec_binary", "cache"}
    for name in FASTTEXT_BIN:
        assert detect_format(datapath(name)) == "fasttext_bin"


def test_load_vectors_is_the_top_level_function(datapath):
    assert keras_embedx.load_vectors is load_vectors
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wv = keras_embedx.load_vectors(datapath("test_glove.txt"))
    assert isinstance(wv, keras_embedx.WordVectors)


# -- encodings -----------------------------------------------------------------

PANG_LEE = "pang_lee_polarity_fasttext.vec"  # cp1252 text: 0x97 (a dash), 0xe9...


def gensim_words_and_vectors(kv):
    """gensim's words and vectors, without the `None` slots it leaves at the
    end of `index_to_key` when a file repeats words."""
    words = list(kv.index_to_key)
    while words and words[-1] is None:
        words.pop()
    assert None not in words
    return words, kv.vectors[: len(words)]


@pytest.mark.parametrize("pandas", [True, False])
@pytest.mark.parametrize("encoding", ["cp1252", "latin-1", "Windows-1252"])
def test_single_byte_encodings_equal_gensim(datapath, monkeypatch, encoding, pandas):
    if not pandas:
        monkeypatch.setattr(_text_parser, "_pandas", lambda: None)
    wv = load_vectors(datapath(PANG_LEE), encoding=encoding)
    kv = gensim_kv(datapath, PANG_LEE, encoding=encoding)
    words, vectors = gensim_words_and_vectors(kv)
    assert wv.words == words
    np.testing.assert_array_equal(wv.vectors, vectors)
    assert wv.skipped == 0 and wv.duplicates == 0
    # Line 150 is the byte 0x97 alone: an em dash in cp1252, a C1 control in
    # Latin-1. Both decode "clichés" from b"clich\xe9s".
    assert wv.words[148] == ("\x97" if encoding == "latin-1" else "\u2014")
    assert "clichés" in wv


@pytest.mark.parametrize("pandas", [True, False])
def test_bytes_that_are_also_valid_utf8_decode_in_the_given_encoding(
    tmp_path, monkeypatch, pandas
):
    # b"\xc3\xa9" is "é" in UTF-8 but "Ã©" in cp1252: every path must decode
    # with the encoding given, not only the careful one.
    if not pandas:
        monkeypatch.setattr(_text_parser, "_pandas", lambda: None)
    path = tmp_path / "v.txt"
    path.write_bytes(b"the 1 2\ncaf\xc3\xa9 3 4\n")
    wv = load_vectors(path, encoding="cp1252")
    kv = KeyedVectors.load_word2vec_format(path, no_header=True, encoding="cp1252")
    assert wv.words == kv.index_to_key == ["the", "caf\u00c3\u00a9"]
    np.testing.assert_array_equal(wv.vectors, kv.vectors)


def test_cp1252_vectors_match_the_words_of_the_corpus_beside_them(datapath):
    # The demo reads pang_lee_polarity.cor with encoding="cp1252": its
    # non-ASCII words must find their vectors.
    wv = load_vectors(datapath(PANG_LEE), encoding="cp1252")
    with open(datapath("pang_lee_polarity.cor"), encoding="cp1252") as f:
        tokens = set(f.read().split())
    non_ascii = {t for t in tokens if not t.isascii()}
    assert {"clichés", "\u2014"} <= non_ascii
    assert {"clichés", "\u2014"} <= {t for t in non_ascii if t in wv}
    assert not any("\ufffd" in w for w in wv.words)


def test_default_utf8_still_refuses_the_cp1252_file_and_says_how_to_load_it(
    datapath,
):
    with pytest.raises(VectorFileError, match="line 150") as info:
        load_vectors(datapath(PANG_LEE))
    message = str(info.value)
    assert "not valid UTF-8 (byte 0x97" in message
    assert "encoding='cp1252'" in message and "encoding='latin-1'" in message
    assert "errors='replace'" in message and "errors='skip'" in message


def test_word2vec_binary_in_cp1252_equals_gensim(datapath, tmp_path):
    # gensim writes binary words as UTF-8 only, so build the file by hand from
    # gensim's own cp1252 load of the shipped .vec.
    kv = gensim_kv(datapath, PANG_LEE, encoding="cp1252")
    words, vectors = gensim_words_and_vectors(kv)
    rows = [
        w.encode("cp1252") + b" " + v.astype("<f4").tobytes()
        for w, v in zip(words, vectors)
    ]
    path = tmp_path / "pang_lee.bin"
    path.write_bytes(f"{len(words)} {kv.vector_size}\n".encode() + b"".join(rows))
    wv = load_vectors(path, encoding="cp1252")
    assert wv.format == "word2vec_binary"
    again = KeyedVectors.load_word2vec_format(path, binary=True, encoding="cp1252")
    assert wv.words == again.index_to_key == words
    np.testing.assert_array_equal(wv.vectors, vectors)
    with pytest.raises(VectorFileError, match="row 149: .*not valid UTF-8"):
        load_vectors(path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "UTF-32", "utf-7"])
def test_encodings_that_are_not_ascii_compatible_are_refused_up_front(
    tmp_path, encoding
):
    # Up front: before the file is even looked for.
    with pytest.raises(ValueError, match=f"Received: encoding='{encoding}'") as info:
        load_vectors(tmp_path / "missing.txt", encoding=encoding)
    assert "ASCII-compatible" in str(info.value)


def test_unknown_or_non_text_encodings_are_refused(tmp_path):
    for encoding in ["klingon", "hex"]:
        with pytest.raises(ValueError, match="text encoding Python knows"):
            load_vectors(tmp_path / "missing.txt", encoding=encoding)
    with pytest.raises(TypeError, match="`encoding` must be a str"):
        load_vectors(tmp_path / "missing.txt", encoding=None)


def test_fasttext_bin_accepts_only_utf8_and_the_cache_ignores_encoding(
    datapath, tmp_path
):
    name = "toy-model.bin"
    with pytest.raises(ValueError, match="store their words in UTF-8") as info:
        load_vectors(datapath(name), encoding="latin-1")
    assert "Received: encoding='latin-1'" in str(info.value)
    assert load_vectors(datapath(name), encoding="UTF8").words == (
        load_facebook_vectors(datapath(name)).index_to_key
    )
    source = load_vectors(datapath(PANG_LEE), encoding="cp1252")
    source.save(tmp_path / "c.kxv")
    for encoding in ["utf-8", "latin-1"]:
        assert load_vectors(tmp_path / "c.kxv", encoding=encoding).words == (
            source.words
        )
