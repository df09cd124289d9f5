"""Every vector-file reader against hostile sizes, malformed rows and fuzzing.

What a user may rely on, whatever the bytes: `load_vectors` either loads the
file exactly (each row equal to what was written; with damage, every row the
damage did not touch), drops malformed rows and counts them
(`errors="skip"`), or raises `VectorFileError` naming the file and the line,
row or byte offset. Never another exception, and never more memory than a
small multiple of the file, whatever sizes its header claims.

The fuzzers write files themselves (not with the package's writers), damage
them (truncation, byte flips, header counts, long lines, other encodings,
compression) and check each outcome against what was written. Run them long
with `make fuzz`; the outcome counts are printed at the end of the module
(`pytest -s`).
"""

import bz2
import collections
import gzip
import lzma
import os
import re
import struct
import subprocess
import sys
import time
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest
from gensim.test.utils import datapath
from hypothesis import given, note
from hypothesis import strategies as st

from keras_embedx import load_vectors
from keras_embedx.vectors.errors import VectorFileError, VectorFileWarning

pytestmark = pytest.mark.host_only

#: Outcomes per reader: "exact", "skip", "error", "damaged-load" (a damaged
#: file that is still valid, e.g. a digit changed, loads what it now says).
OUTCOMES = collections.defaultdict(collections.Counter)
# Peak traced memory of a load may be at most this, plus a multiple of the
# (decompressed) file: pandas, NumPy and the 1-4 MiB read buffers cost something
# even for a 20-byte file.
_BASE_BYTES = 8 << 20
_FACTOR = 32
_LOCATED = re.compile(r"byte|offset|empty|blank")
_FT_MAGIC = struct.pack("<ii", 793712314, 12)


@pytest.fixture(scope="module", autouse=True)
def outcome_counts():
    yield
    if OUTCOMES:
        print("\nreader fuzz outcomes (examples tried per reader):")
        for reader, counts in sorted(OUTCOMES.items()):
            total = sum(counts.values())
            print(f"  {reader}: {total} examples, {dict(sorted(counts.items()))}")


# -- running a load ------------------------------------------------------------


def attempt(path, errors="strict", content_bytes=None, **kwargs):
    """`load_vectors(path)`: the `WordVectors` or the `VectorFileError`,
    with its peak traced memory checked against the file's size."""
    size = content_bytes or os.path.getsize(path)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VectorFileWarning)
            result = load_vectors(path, errors=errors, progress=False, **kwargs)
    except VectorFileError as e:
        result = e
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak <= _BASE_BYTES + _FACTOR * size, (peak, size)
    if isinstance(result, VectorFileError):
        message = str(result)
        assert str(path) in message, message
        assert result.line is not None or _LOCATED.search(message), message
    else:
        vectors = np.asarray(result.vectors)
        assert vectors.shape == (len(result.words), result.dim)
        assert np.isfinite(vectors).all()
        assert len(set(result.words)) == len(result.words)
        text = result.format in ("glove", "word2vec_text", "fasttext_vec")
        for word in result.words:
            # Binary formats keep a word's bytes as they are; text strips blanks.
            assert word and "\0" not in word, word
            assert not text or word == word.strip(" \t"), word
    return result


def record(reader, result, exact):
    if isinstance(result, VectorFileError):
        outcome = "error"
    elif result.skipped:
        outcome = "skip"
    else:
        outcome = "exact" if exact else "damaged-load"
    OUTCOMES[reader][outcome] += 1
    return outcome


# -- files written by hand -------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzéß中"


def _number(x):
    return repr(float(x))


def text_rows(words, vectors, trailing=""):
    return [
        f"{w} {' '.join(map(_number, v))}{trailing}\n".encode()
        for w, v in zip(words, vectors)
    ]


def binary_rows(words, vectors):
    return [
        w.encode() + b" " + v.astype("<f4").tobytes() + b"\n"
        for w, v in zip(words, vectors)
    ]


def build(fmt, words, vectors):
    """(file bytes, [(start, end) byte span of each row], header length)."""
    n, dim = vectors.shape
    header = b"" if fmt == "glove" else f"{n} {dim}\n".encode()
    if fmt == "word2vec_binary":
        rows = binary_rows(words, vectors)
    else:
        rows = text_rows(words, vectors, " " if fmt == "fasttext_vec" else "")
    spans, at = [], len(header)
    for row in rows:
        spans.append((at, at + len(row)))
        at += len(row)
    return header + b"".join(rows), spans, len(header)


def compress(data, how, tmp_path, name):
    """Write `data` as `name`, compressed `how`; the path to load, the content size."""
    path = tmp_path / name
    if how is None:
        path.write_bytes(data)
    elif how == "gzip":
        path.write_bytes(gzip.compress(data, 6))
    elif how == "bz2":
        path.write_bytes(bz2.compress(data, 1))
    elif how == "xz":
        path.write_bytes(lzma.compress(data))
    else:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("vectors", data)
    return path


@st.composite
def tables(draw):
    n = draw(st.integers(1, 10))
    dim = draw(st.integers(1, 5))
    words = draw(
        st.lists(
            st.text(_LETTERS, min_size=1, max_size=6),
            min_size=n,
            max_size=n,
            unique=True,
        )
    )
    eighths = draw(st.lists(st.integers(-512, 512), min_size=n * dim, max_size=n * dim))
    vectors = (np.array(eighths, np.float32) / 8).reshape(n, dim)
    return words, vectors


def check_rows(wv, words, vectors, damaged, shifts=False):
    """Every row the damage did not touch loaded as written; at most one new
    row per damaged one. With `shifts` (word2vec binary, where a damaged row
    puts the ones after it out of place), rows may be missing when skipped
    rows were counted."""
    got = dict(zip(wv.words, np.asarray(wv.vectors)))
    for i, (word, vector) in enumerate(zip(words, vectors)):
        if i in damaged:
            continue
        if shifts and wv.skipped and word not in got:
            continue
        assert word in got, (word, wv.words)
        np.testing.assert_array_equal(got[word], vector)
    new = len(set(wv.words) - set(words))
    assert new <= len(damaged), (wv.words, words, damaged)


# -- hostile sizes: each case of the issue ---------------------------------------


def test_header_width_of_a_billion_is_refused_before_anything_is_built(tmp_path):
    path = tmp_path / "w.txt"
    path.write_bytes(b"2 1000000000\nthe 0.1\nof 0.2\n")
    start = time.perf_counter()
    e = attempt(path)
    assert isinstance(e, VectorFileError) and e.line == 1
    assert "dim=1000000000" in str(e)
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize("how", ["gzip", "bz2", "zip"])
def test_compressed_word2vec_header_cannot_claim_gigabytes(tmp_path, how):
    # A 40-byte gzip header: 10,000 rows of 10^6 floats would be 37 GiB.
    path = compress(b"10000 1000000\nab " + b"\0" * 16, how, tmp_path, "h.bin")
    e = attempt(path, content_bytes=1)
    assert isinstance(e, VectorFileError) and e.line == 1, e
    # A width that is allowed, rows that are not there: grows with what is read.
    path = compress(b"10000 200000\nab " + b"\0" * 16, how, tmp_path, "g.bin")
    e = attempt(path, format="word2vec_binary", content_bytes=1)
    assert isinstance(e, VectorFileError) and "truncated" in str(e), e


def test_compressed_text_header_claims_nothing_up_front(tmp_path):
    path = compress(b"100000000 500000\nthe 1 2 3\n", "gzip", tmp_path, "t.vec")
    e = attempt(path, content_bytes=1)
    assert isinstance(e, VectorFileError) and e.line == 2, e


def _fasttext_with(fixture, **fields):
    """The bytes of a gensim fixture with header fields replaced."""
    data = bytearray(open(datapath(fixture), "rb").read())
    offsets = {"dim": 8, "bucket": 8 + 4 * 8, "minn": 8 + 4 * 9, "maxn": 8 + 4 * 10}
    offsets.update(size=64, nwords=68)
    for name, value in fields.items():
        struct.pack_into("<i", data, offsets[name], value)
    return bytes(data)


@pytest.mark.parametrize("how", [None, "gzip"])
def test_fasttext_maxn_of_two_billion_is_refused(tmp_path, how):
    data = _fasttext_with("toy-model.bin", maxn=2**31 - 1)
    path = compress(data, how, tmp_path, "m.bin")
    e = attempt(path, content_bytes=len(data))
    assert isinstance(e, VectorFileError) and "maxn" in str(e), e


def test_one_long_line_is_refused_early(tmp_path):
    path = tmp_path / "long.txt"
    line = b"x" + b" 0.5" * (2 << 20)  # 8 MiB
    path.write_bytes(b"the 0.1 0.2\n" + line + b"\nof 0.3 0.4\n")
    start = time.perf_counter()
    e = attempt(path)
    assert isinstance(e, VectorFileError) and e.line == 2, e
    assert "longer than" in str(e)
    assert time.perf_counter() - start < 5


def test_a_wide_first_line_costs_no_more_than_its_bytes(tmp_path):
    # 150,000 numbers on line 1, then rows of 3: the width is that of most
    # rows, and the wide line is one malformed row (not 150,000 columns).
    path = tmp_path / "wide.txt"
    rows = b"the 1 2 3\nof 4 5 6\nand 7 8 9\n"
    path.write_bytes(b"w" + b" 1" * 150_000 + b"\n" + rows)
    e = attempt(path)
    assert isinstance(e, VectorFileError) and e.line == 1, e
    wv = attempt(path, errors="skip")
    assert wv.words == ["the", "of", "and"] and wv.skipped == 1


@pytest.mark.parametrize("how", ["zip", "bz2", "xz"])
def test_compressed_fasttext_is_read_as_it_decompresses(tmp_path, how):
    # A dictionary of 2^31 - 1 words claimed, then 64 MiB of zeros: refused
    # without reading the zeros (a zip claims its member's size; bz2 and xz
    # do not, and the first entry, an empty word, is refused), and nothing is
    # copied to disk.
    head = _fasttext_with("toy-model.bin", size=2**31 - 1, nwords=2**31 - 1)[:92]
    data = head + b"\0" * (64 << 20)
    path = compress(data, how, tmp_path, "bomb.bin")
    before = set(os.listdir(tmp_path.parent))
    start = time.perf_counter()
    e = attempt(path, format="fasttext_bin", content_bytes=1 << 20)
    assert isinstance(e, VectorFileError), e
    assert time.perf_counter() - start < 5
    assert set(os.listdir(tmp_path.parent)) == before


@pytest.mark.parametrize("fixture", ["toy-model.bin", "crime-and-punishment.bin"])
@pytest.mark.parametrize("how", ["gzip", "bz2", "zip"])
def test_compressed_fasttext_loads_as_the_plain_file(tmp_path, fixture, how):
    plain = load_vectors(datapath(fixture), progress=False)
    data = open(datapath(fixture), "rb").read()
    wv = attempt(compress(data, how, tmp_path, fixture), content_bytes=len(data))
    assert wv.words == plain.words
    np.testing.assert_array_equal(wv.vectors, plain.vectors)
    np.testing.assert_array_equal(wv.counts, plain.counts)


# -- malformed rows --------------------------------------------------------------


def test_glove_row_with_a_number_too_many_is_not_a_word_with_a_space(tmp_path):
    path = tmp_path / "wide.txt"
    path.write_bytes(b"the 1 2 3\nof 4 5 6 7\nand  8 9 10\nto 1 2 3\n")
    e = attempt(path)
    assert isinstance(e, VectorFileError) and e.line == 2, e
    assert "found 4 numbers" in str(e)
    wv = attempt(path, errors="skip")
    assert wv.words == ["the", "and", "to"] and wv.skipped == 1
    np.testing.assert_array_equal(wv["and"], np.float32([8, 9, 10]))


def test_words_with_blanks_are_kept_when_no_number_precedes_the_vector(tmp_path):
    # The rule: the field just before the vector must not be a number.
    path = tmp_path / "spaces.txt"
    rows = b"the 0 0 0\nof 0 0 1\nand 0 1 0\n"
    path.write_bytes(
        rows + b"new york 1 2 3\n. . . 4 5 6\nroom 101 b 7 8 9\n\tin 1 1 1\n"
    )
    wv = attempt(path)
    assert wv.words[3:] == ["new york", ". . .", "room 101 b", "in"]
    np.testing.assert_array_equal(wv["room 101 b"], np.float32([7, 8, 9]))
    path.write_bytes(rows + b"new york 1 2 3\nboeing 747 4 5 6\n")
    e = attempt(path)
    assert isinstance(e, VectorFileError) and e.line == 5, e


def test_nul_byte_on_line_two_names_the_line_and_offset(tmp_path):
    path = tmp_path / "nul.txt"
    path.write_bytes(b"the 1 2 3\nof\0 4 5 6\n")
    e = attempt(path)
    assert isinstance(e, VectorFileError) and e.line == 2, e
    assert "byte offset 12" in str(e)
    e = attempt(path, format="glove")
    assert isinstance(e, VectorFileError) and e.line == 2, e
    path.write_bytes(b"the 1 2 3\n" * 200 + b"of\0 4 5 6\n")  # past what is sniffed
    e = attempt(path, errors="skip")
    assert e.words == ["the"] and e.skipped == 1


# -- fuzzing: hand-written files, damaged ---------------------------------------

TEXT_FORMATS = ["glove", "word2vec_text", "fasttext_vec", "word2vec_binary"]
COMPRESSIONS = [None, None, "gzip", "bz2", "zip"]
HOSTILE_COUNTS = ["0", "1", "-1", "999999999999", "2147483647", "18446744073709551617"]
HOSTILE_DIMS = ["0", "-3", "524288", "262145", "1000000000", "2147483647"]


def damage(draw, data, spans, header_len, fmt):
    """Damage `data`; the bytes, the indices of rows hit, and what was done."""
    kinds = ["none", "truncate", "flip", "insert", "long_line", "encoding"]
    if header_len:
        kinds.append("header")
    kind = draw(st.sampled_from(kinds))

    def rows_at(lo, hi):
        # The rows the bytes [lo, hi) are in, and the row after each: damage
        # at the end of a row may take the next one with it.
        hit = {i for i, (s, e) in enumerate(spans) if s < hi and lo < e}
        return hit | {i + 1 for i in hit if i + 1 < len(spans)}

    if kind == "none":
        return data, set(), kind
    if kind == "truncate":
        cut = draw(st.integers(0, len(data) - 1))
        return data[:cut], rows_at(cut - 1, len(data)), f"truncate at {cut}"
    if kind == "flip":
        at = draw(st.integers(0, len(data) - 1))
        value = draw(st.integers(0, 255))
        out = data[:at] + bytes([value]) + data[at + 1 :]
        if at < header_len:
            return out, set(range(len(spans))), f"header byte {at} := {value}"
        return out, rows_at(at - 1, at + 2), f"byte {at} := {value}"
    if kind == "insert":
        at = draw(st.integers(0, len(data)))
        junk = draw(st.binary(min_size=1, max_size=8))
        if at <= header_len:
            hit = set(range(len(spans)))
        else:
            hit = rows_at(at - 1, at + 1)
        return data[:at] + junk + data[at:], hit, f"insert {junk!r} at {at}"
    if kind == "long_line":
        i = draw(st.integers(0, len(spans) - 1))
        length = draw(st.sampled_from([5_000, 300_000, (1 << 20) + 10]))
        line = b"w" + b" 1" * (length // 2) + b"\n"
        at = spans[i][0]
        return data[:at] + line + data[at:], set(range(len(spans))), "long line"
    if kind == "encoding":
        i = draw(st.integers(0, len(spans) - 1))
        s, e = spans[i]
        row = data[s:e]
        word = row[: row.index(b" ")]
        bad = word.decode().encode("latin-1", "replace") + b"\xff"
        return data[:s] + bad + row[len(word) :] + data[e:], {i}, "latin-1 word"
    count = draw(st.sampled_from(HOSTILE_COUNTS + [str(len(spans) + 1)]))
    dim = draw(st.sampled_from(HOSTILE_DIMS + ["1"]))
    head = f"{count} {dim}\n".encode()
    return head + data[header_len:], set(range(len(spans))), f"header {head!r}"


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
@given(table=tables(), data=st.data())
def test_fuzz_written_files(tmp_path_factory, fmt, table, data):
    words, vectors = table
    raw, spans, header_len = build(fmt, words, vectors)
    damaged_bytes, hit, what = damage(data.draw, raw, spans, header_len, fmt)
    how = data.draw(st.sampled_from(COMPRESSIONS))
    errors = data.draw(st.sampled_from(["strict", "skip"]))
    note(f"{fmt}, {what}, compression {how}, errors={errors}")
    path = compress(damaged_bytes, how, tmp_path_factory.mktemp("f"), "v")
    result = attempt(path, errors, content_bytes=len(damaged_bytes) or 1)
    reader = f"{fmt}{'' if how is None else '.' + how}"
    exact = False
    if not isinstance(result, VectorFileError):
        if not hit:
            assert result.words == words and result.skipped == 0, what
            np.testing.assert_array_equal(result.vectors, vectors)
            exact = True
        else:
            check_rows(result, words, vectors, hit, fmt == "word2vec_binary")
            exact = result.words == words and np.array_equal(result.vectors, vectors)
    else:
        assert hit, (what, result)
    record(reader, result, exact)


# -- fuzzing: real files as seeds ------------------------------------------------

SEEDS = [
    "test_glove.txt",
    "euclidean_vectors.bin",
    "crime-and-punishment.vec",
    "toy-model.bin",
    "crime-and-punishment.bin",
    "lee_fasttext_new.bin",
]
_PLAIN = {}


def plain(seed):
    if seed not in _PLAIN:
        _PLAIN[seed] = load_vectors(datapath(seed), progress=False)
    return _PLAIN[seed]


def seed_rows(seed):
    """The byte span of each row of a text or word2vec binary seed, and the
    length of its header (None for fastText models)."""
    data = open(datapath(seed), "rb").read()
    if data[:4] == _FT_MAGIC[:4]:
        return None, None
    header = data.index(b"\n") + 1 if not seed.endswith(".txt") else 0
    spans, at = [], header
    if seed.endswith(".bin"):  # word2vec binary: word, space, dim floats, newline
        dim = int(data[:header].split()[1])
        while at < len(data):
            end = data.index(b" ", at) + 1 + 4 * dim
            end += data[end : end + 1] == b"\n"
            spans.append((at, end))
            at = end
    else:
        for line in data[header:].splitlines(keepends=True):
            spans.append((at, at + len(line)))
            at += len(line)
    return spans, header


@st.composite
def seed_damage(draw, seed):
    """Damaged bytes of a seed, what was done, and the byte ranges changed."""
    data = open(datapath(seed), "rb").read()
    kind = draw(st.sampled_from(["truncate", "flip", "flips", "field"]))
    if kind == "truncate":
        cut = draw(st.integers(0, len(data) - 1))
        return data[:cut], f"truncate at {cut}", [(cut - 1, len(data))]
    if kind == "field" and seed.endswith(".bin") and data[:4] == _FT_MAGIC[:4]:
        # A fastText header or dictionary size: int32 fields 2..16.
        at = 4 * draw(st.integers(2, 17))
        value = draw(st.sampled_from([-1, 0, 1, 2**31 - 1, 2**30, 65, 7]))
        out = bytearray(data)
        struct.pack_into("<i", out, at, value)
        return bytes(out), f"int32 at {at} := {value}", [(at, at + 4)]
    flips = draw(st.integers(1, 1 if kind == "flip" else 8))
    out = bytearray(data)
    touched = []
    for _ in range(flips):
        # Headers and dictionaries are where damage matters: favour the start.
        at = draw(
            st.one_of(
                st.integers(0, min(len(data), 512) - 1),
                st.integers(0, len(data) - 1),
            )
        )
        out[at] = draw(st.integers(0, 255))
        touched.append((at - 1, at + 2))
    return bytes(out), f"{flips} flips", touched


@pytest.mark.parametrize("seed", SEEDS)
@given(data=st.data())
def test_fuzz_real_files(tmp_path_factory, seed, data):
    damaged_bytes, what, touched = data.draw(seed_damage(seed))
    how = data.draw(st.sampled_from([None, None, "gzip", "zip"]))
    errors = data.draw(st.sampled_from(["strict", "skip"]))
    note(f"{seed}: {what}, compression {how}, errors={errors}")
    path = compress(damaged_bytes, how, tmp_path_factory.mktemp("s"), "v")
    result = attempt(path, errors, content_bytes=len(damaged_bytes) or 1)
    exact = False
    if not isinstance(result, VectorFileError):
        reference = plain(seed)
        exact = result.words == reference.words and np.array_equal(
            result.vectors, reference.vectors
        )
        spans, header = seed_rows(seed)
        if spans is not None and not exact:
            # Rows away from the damage load as in the undamaged file. (A
            # fastText model's damaged floats are valid floats: no check.)
            hit = set()
            for lo, hi in touched:
                if lo < header:
                    hit = set(range(len(spans)))
                hit |= {k for k, (a, b) in enumerate(spans) if a < hi and lo < b}
            hit |= {k + 1 for k in hit if k + 1 < len(spans)}
            check_rows(
                result, reference.words, reference.vectors, hit, seed.endswith(".bin")
            )
    record(f"{seed}{'' if how is None else '.' + how}", result, exact)


_RSS_SCRIPT = """
import resource, sys
from keras_embedx import load_vectors
from keras_embedx.vectors.errors import VectorFileError

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

load_vectors(sys.argv[1], progress=False)  # warm: every import done
before = rss()
for path in sys.argv[2:]:
    try:
        load_vectors(path, progress=False)
    except VectorFileError:
        pass
    else:
        raise SystemExit(f"{path} loaded")
print(rss() - before)
"""


def test_hostile_files_leave_the_resident_memory_of_a_real_process_alone(tmp_path):
    # Pandas' and the decompressors' buffers are not traced by tracemalloc:
    # the high-water mark of a real process's resident memory is.
    paths = [tmp_path / "w.txt", tmp_path / "long.txt", tmp_path / "m.bin"]
    paths[0].write_bytes(b"2 1000000000\nthe 0.1\nof 0.2\n")
    paths[1].write_bytes(b"the 0.1 0.2\nx" + b" 0.5" * (2 << 20) + b"\n")
    paths[2].write_bytes(_fasttext_with("toy-model.bin", maxn=2**31 - 1))
    paths.append(compress(b"10000 200000\nab " + b"\0" * 16, "gzip", tmp_path, "g"))
    head = _fasttext_with("toy-model.bin", size=2**31 - 1, nwords=2**31 - 1)[:92]
    paths.append(compress(head + b"\0" * (64 << 20), "zip", tmp_path, "z.bin"))
    out = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, datapath("test_glove.txt"), *paths],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    grew = int(out.stdout.split()[-1])
    assert grew < 64 << 20, f"resident memory grew by {grew / 2**20:.0f} MiB"
