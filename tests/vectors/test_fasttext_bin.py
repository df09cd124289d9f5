"""The fastText .bin reader, checked against fastText's and gensim's own results."""

import gzip
import pathlib
import shutil
import struct

import numpy as np
import pytest
from gensim.models import _fasttext_bin as gensim_bin
from gensim.models.fasttext import load_facebook_vectors
from gensim.test.utils import datapath

from keras_embedx.preprocessing.ngrams import fasttext_hash
from keras_embedx.vectors.fasttext_bin import (
    FastTextFormatError,
    read_fasttext_bin,
)
from tests.preprocessing.test_ngrams import read_fb_ngrams

pytestmark = pytest.mark.host_only

FIXTURES = ["crime-and-punishment.bin", "toy-model.bin", "lee_fasttext_new.bin"]
UNSEEN = [
    "тестирование",  # Cyrillic
    "Раскольникова",
    "テスト",
    "試し",
    "café",
    "cafe\u0301",
    "naïveté",
    "🚑🚒🚓🚕",
    "q",
    "zq",
    "",
    " ",
    "at the",
    "nightz",
    "Governments",
    "x" * 300,
]
# Byte offsets in the header (fastText src/args.cc, src/dictionary.cc).
ARG_OFFSET = {"dim": 8, "model": 36, "bucket": 40}
DICT_SIZE, PRUNEIDX = 64, 84


@pytest.fixture(scope="module")
def gensim_models():
    out = {}
    for name in FIXTURES:
        with open(datapath(name), "rb") as f:
            raw = gensim_bin.load(f)
        out[name] = (raw, load_facebook_vectors(datapath(name)))
    return out


def layout(path):
    """Offsets of the matrix headers, found from the end with gensim's shapes."""
    with open(path, "rb") as f:
        raw = gensim_bin.load(f)
    size = pathlib.Path(path).stat().st_size
    out_header = size - raw.hidden_output.size * 4 - 17
    quant = out_header - raw.vectors_ngrams.size * 4 - 17
    return {"quant": quant, "rows": quant + 1, "matrix": quant + 17, "qout": out_header}


def patched(tmp_path, name, edits=(), cut=None, append=b""):
    data = bytearray(pathlib.Path(datapath(name)).read_bytes())
    for offset, fmt, *values in edits:
        struct.pack_into(fmt, data, offset, *values)
    if cut is not None:
        data = data[:cut]
    path = tmp_path / f"bad-{name}"
    path.write_bytes(bytes(data) + append)
    return path


@pytest.mark.parametrize("name", FIXTURES)
def test_header_vocabulary_and_matrix_equal_gensims_reader(name, gensim_models):
    raw, _ = gensim_models[name]
    model = read_fasttext_bin(datapath(name))
    assert model.version == (11 if name == "lee_fasttext_new.bin" else 12)
    expected_args = {
        "dim": raw.dim,
        "ws": raw.ws,
        "epoch": raw.epoch,
        "minCount": raw.min_count,
        "neg": raw.neg,
        "wordNgrams": raw.word_ngrams,
        "loss": raw.loss,
        "model": raw.model,
        "bucket": raw.bucket,
        "minn": raw.minn,
        "maxn": raw.maxn,
        "lrUpdateRate": raw.lr_update_rate,
        "t": raw.t,
    }
    assert model.args == expected_args
    assert model.words == list(raw.raw_vocab)
    assert model.counts.dtype == np.int64
    assert model.counts.tolist() == list(raw.raw_vocab.values())
    assert model.nwords == raw.nwords == len(model.words)
    assert model.ntokens == raw.ntokens
    assert model.entry_types.tolist() == [0] * model.nwords
    assert model.matrix.dtype == np.float32
    assert model.matrix.shape == (raw.nwords + raw.bucket, raw.dim)
    np.testing.assert_array_equal(model.matrix, raw.vectors_ngrams)


@pytest.mark.parametrize("name", FIXTURES)
def test_vocabulary_word_vectors_equal_gensim(name, gensim_models):
    raw, kv = gensim_models[name]
    model = read_fasttext_bin(datapath(name))
    vectors = model.word_vectors()
    assert vectors.shape == (model.nwords, model.dim)
    assert vectors.dtype == np.float32
    for i, word in enumerate(model.words):
        if word == "</s>":
            # fastText gives "</s>" its own row only; gensim also adds n-grams.
            np.testing.assert_array_equal(vectors[i], raw.vectors_ngrams[i])
        else:
            np.testing.assert_allclose(vectors[i], kv[word], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(model.word_vector(model.words[5]), vectors[5])


@pytest.mark.parametrize("name", FIXTURES)
def test_unseen_word_vectors_equal_gensim(name, gensim_models):
    _, kv = gensim_models[name]
    model = read_fasttext_bin(datapath(name))
    for word in UNSEEN:
        assert word not in model
    ours = model.word_vectors(UNSEEN)
    expected = np.stack([kv[w] for w in UNSEEN])
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(ours[UNSEEN.index("")], 0)
    for i, word in enumerate(UNSEEN):
        np.testing.assert_array_equal(model.word_vector(word), ours[i])


def test_ngram_rows_equal_vectors_printed_by_fasttext():
    # fb-ngrams.txt is `fasttext print-ngrams crime-and-punishment.bin WORD`.
    model = read_fasttext_bin(datapath("crime-and-punishment.bin"))
    for word, grams, printed in read_fb_ngrams(datapath("fb-ngrams.txt")):
        assert word not in model
        rows = [model.nwords + fasttext_hash(g) % model.bucket for g in grams]
        np.testing.assert_allclose(model.matrix[rows], printed, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(
            model.word_vector(word), printed.mean(axis=0), rtol=1e-3, atol=1e-5
        )


@pytest.mark.parametrize("name", FIXTURES)
def test_bit_identical_to_fasttext_itself(name):
    fasttext = pytest.importorskip("fasttext")
    reference = fasttext.load_model(datapath(name))
    model = read_fasttext_bin(datapath(name))
    assert model.words == reference.words
    expected = np.stack([reference.get_word_vector(w) for w in model.words])
    np.testing.assert_array_equal(model.word_vectors(), expected)
    unseen = UNSEEN + [b"\xe9t\xe9", b"\x80\x80ab", b"caf\xc3"]  # invalid UTF-8
    expected = np.stack([reference.get_word_vector(w) for w in unseen])
    np.testing.assert_array_equal(model.word_vectors(unseen), expected)


def test_paths_memory_mapping_and_gzip(tmp_path):
    source = datapath("lee_fasttext_new.bin")
    in_ram = read_fasttext_bin(source, mmap=False)
    mapped = read_fasttext_bin(pathlib.Path(source), mmap=True)
    assert isinstance(mapped.matrix, np.memmap) and not mapped.matrix.flags.writeable
    assert not isinstance(in_ram.matrix, np.memmap)
    np.testing.assert_array_equal(mapped.matrix, in_ram.matrix)
    np.testing.assert_array_equal(mapped.word_vectors(), in_ram.word_vectors())
    packed = tmp_path / "model.bin.gz"
    with open(source, "rb") as f, gzip.open(packed, "wb") as g:
        shutil.copyfileobj(f, g)
    unpacked = read_fasttext_bin(packed)
    assert unpacked.words == in_ram.words
    np.testing.assert_array_equal(unpacked.matrix, in_ram.matrix)


def test_lookup_by_str_and_bytes():
    model = read_fasttext_bin(datapath("crime-and-punishment.bin"))
    word = "раздражительном"
    i = model.words.index(word)
    assert model.get_index(word) == model.get_index(word.encode("utf-8")) == i
    assert word in model and "not-a-word" not in model and len(model) == 291
    np.testing.assert_array_equal(
        model.word_vector(word.encode("utf-8")), model.word_vector(word)
    )
    assert "crime-and-punishment.bin" in repr(model)
    with pytest.raises(TypeError, match="str or bytes"):
        model.get_index(3)
    with pytest.raises(TypeError, match="not a single str"):
        model.word_vectors("word")


def test_error_is_a_value_error():
    assert issubclass(FastTextFormatError, ValueError)


@pytest.mark.parametrize("where", [3, 30, 70, 200, "matrix", "qout", -1])
def test_truncated_file_names_file_and_offset(tmp_path, where):
    spots = layout(datapath("crime-and-punishment.bin"))
    cut = {"matrix": spots["matrix"] + 40, "qout": spots["qout"] + 5}.get(where, where)
    if cut == -1:
        cut = pathlib.Path(datapath("crime-and-punishment.bin")).stat().st_size - 1
    path = patched(tmp_path, "crime-and-punishment.bin", cut=cut)
    with pytest.raises(FastTextFormatError, match="truncated") as info:
        read_fasttext_bin(path, mmap=False)
    message = str(info.value)
    assert str(path) in message and "byte offset" in message
    assert f"ends at byte {cut}" in message or "remain" in message


def test_truncated_gzip_file(tmp_path):
    data = pathlib.Path(datapath("toy-model.bin")).read_bytes()
    path = tmp_path / "toy.bin.gz"
    path.write_bytes(gzip.compress(data[:2000]))
    with pytest.raises(FastTextFormatError, match="truncated"):
        read_fasttext_bin(path)


def test_wrong_magic(tmp_path):
    path = patched(tmp_path, "toy-model.bin", [(0, "<i", 12345678)])
    with pytest.raises(
        FastTextFormatError, match="expected magic number 793712314"
    ) as e:
        read_fasttext_bin(path)
    assert "received 12345678" in str(e.value) and str(path) in str(e.value)


def test_text_file_and_pre_2017_binary_get_a_hint():
    with pytest.raises(FastTextFormatError, match="looks like text"):
        read_fasttext_bin(datapath("crime-and-punishment.vec"))
    with pytest.raises(FastTextFormatError, match="before format version 11"):
        read_fasttext_bin(datapath("lee_fasttext.bin"))


def test_unknown_version(tmp_path):
    path = patched(tmp_path, "toy-model.bin", [(4, "<i", 13)])
    with pytest.raises(FastTextFormatError, match="version 13 .newer"):
        read_fasttext_bin(path)


def test_bucket_count_disagreeing_with_matrix(tmp_path):
    path = patched(tmp_path, "toy-model.bin", [(ARG_OFFSET["bucket"], "<i", 99)])
    with pytest.raises(FastTextFormatError, match="bucket count .*disagrees") as info:
        read_fasttext_bin(path)
    assert "22 + 99 = 121" in str(info.value)


def test_dim_disagreeing_with_matrix(tmp_path):
    path = patched(tmp_path, "toy-model.bin", [(ARG_OFFSET["dim"], "<i", 6)])
    with pytest.raises(
        FastTextFormatError, match="5 columns but the header says dim=6"
    ):
        read_fasttext_bin(path)
    path = patched(tmp_path, "toy-model.bin", [(ARG_OFFSET["dim"], "<i", -5)])
    with pytest.raises(FastTextFormatError, match="`dim` must be positive"):
        read_fasttext_bin(path)


def test_supervised_models_are_rejected(tmp_path):
    with pytest.raises(FastTextFormatError, match="supervised") as info:
        read_fasttext_bin(datapath("pang_lee_polarity_fasttext.bin"))
    assert "unsupervised" in str(info.value)
    path = patched(tmp_path, "toy-model.bin", [(ARG_OFFSET["model"], "<i", 3)])
    with pytest.raises(FastTextFormatError, match="supervised fastText model"):
        read_fasttext_bin(path)


def test_quantised_models_are_rejected(tmp_path):
    spots = layout(datapath("toy-model.bin"))
    path = patched(tmp_path, "toy-model.bin", [(spots["quant"], "<B", 1)])
    with pytest.raises(FastTextFormatError, match=r"quantised fastText model \(.ftz"):
        read_fasttext_bin(path)
    path = patched(tmp_path, "toy-model.bin", [(PRUNEIDX, "<q", 0)])
    with pytest.raises(FastTextFormatError, match="quantised.*pruned"):
        read_fasttext_bin(path)
    path = patched(tmp_path, "toy-model.bin", [(spots["qout"], "<B", 1)])
    with pytest.raises(FastTextFormatError, match="output matrix is quantised"):
        read_fasttext_bin(path)


def test_absurd_sizes_fail_fast_without_allocating(tmp_path):
    huge = 2_000_000_000
    path = patched(tmp_path, "toy-model.bin", [(DICT_SIZE, "<2i", huge, huge)])
    with pytest.raises(FastTextFormatError, match="dictionary of 2,000,000,000") as e:
        read_fasttext_bin(path)
    assert "only" in str(e.value) and "remain" in str(e.value)
    spots = layout(datapath("toy-model.bin"))
    path = patched(
        tmp_path,
        "toy-model.bin",
        [(ARG_OFFSET["bucket"], "<i", huge), (spots["rows"], "<q", 22 + huge)],
    )
    with pytest.raises(
        FastTextFormatError, match="input matrix .*needs 40,000,000,440"
    ):
        read_fasttext_bin(path)


def test_trailing_data_is_rejected(tmp_path):
    path = patched(tmp_path, "toy-model.bin", append=b"\0junk")
    with pytest.raises(FastTextFormatError, match="unexpected data after the end"):
        read_fasttext_bin(path)
