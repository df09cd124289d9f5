"""Vector files under faults: kills mid-save, concurrent savers, racing readers,
caches rewritten in place or damaged.

Everything here runs real processes and threads on real files. Child processes
load only `keras_embedx.vectors` (see `_CHILD_PRELUDE`), so that each starts in
a fraction of a second instead of importing a Keras backend.
"""

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import keras_embedx
from keras_embedx.cli import main
from keras_embedx.vectors import (
    VectorFileError,
    VectorFileWarning,
    WordVectors,
    load_vectors,
)
from keras_embedx.vectors.cache import MAGIC

pytestmark = pytest.mark.host_only

# What every child process runs first: `keras_embedx` as a bare namespace (the
# package this process imported), so `keras_embedx.vectors` imports without
# the layers (and the Keras backend).
_CHILD_PRELUDE = f"""
import sys, types
package = types.ModuleType("keras_embedx")
package.__path__ = [{os.path.dirname(keras_embedx.__file__)!r}]
sys.modules["keras_embedx"] = package
import numpy as np
from keras_embedx.vectors import WordVectors
"""

# Saves `rows` x `dim` vectors of words "new0", "new1"... to `path`.
_SAVER = (
    _CHILD_PRELUDE
    + """
path, fmt, rows, dim = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
vectors = np.random.default_rng(1).normal(size=(rows, dim)).astype(np.float32)
wv = WordVectors([f"new{i}" for i in range(rows)], vectors)
print("saving", flush=True)
wv.save(path, format=fmt)
print("saved", flush=True)
"""
)

# Waits for the file `go`, then saves input number `k` (see `_input`) to `path`.
_RACER = (
    _CHILD_PRELUDE
    + """
import os, time
path, fmt, k, go, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:]
rows = int(rows)
wv = WordVectors([f"p{k}_{i}" for i in range(rows)], np.full((rows, 4), k, np.float32))
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.0005)
wv.save(path, format=fmt)
"""
)

# (format, file name, rows): enough rows that the save takes a while.
_KILL_CASES = [
    ("cache", "vectors.kxv", 250_000),
    ("glove", "vectors.txt", 40_000),
    ("word2vec_text", "vectors.vec", 40_000),
    ("word2vec_binary", "vectors.bin", 150_000),
    ("glove", "vectors.txt.gz", 40_000),
]


def _child(script, *args):
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        stdout=subprocess.PIPE,
        text=True,
    )


def _original():
    words = [f"old{i}" for i in range(200)]
    vectors = np.arange(200 * 16, dtype=np.float32).reshape(200, 16) / 7
    return words, vectors


def _kill_mid_save(folder, name, fmt, rows):
    """Start a save of `rows` rows over `folder/name` and SIGKILL it as soon
    as it has written something. Returns whether `name` still holds the
    original bytes (False: the save had finished)."""
    path = os.path.join(folder, name)
    before = open(path, "rb").read()
    stat = os.stat(path)
    proc = _child(_SAVER, path, fmt, rows, 50)
    try:
        assert proc.stdout.readline() == "saving\n"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            others = [e for e in os.scandir(folder) if e.name != name]
            now = os.stat(path)
            if any(e.stat().st_size > 0 for e in others) or (
                now.st_ino,
                now.st_size,
                now.st_mtime_ns,
            ) != (stat.st_ino, stat.st_size, stat.st_mtime_ns):
                break
            time.sleep(0.0005)
        else:
            pytest.fail(f"the {fmt} save wrote nothing visible in 20 s")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if open(path, "rb").read() == before:
        return True
    # Not the original: it must be the complete new file (the save finished
    # just before the kill), which then tests nothing: the caller retries.
    back = load_vectors(path)
    assert back.words[-1] == f"new{rows - 1}" and len(back) == rows
    return False


@pytest.mark.parametrize(
    "fmt, name, rows", _KILL_CASES, ids=[c[1] for c in _KILL_CASES]
)
def test_killed_save_leaves_previous_file_and_next_save_cleans_up(
    tmp_path, fmt, name, rows
):
    words, vectors = _original()
    path = tmp_path / name
    for _attempt in range(3):
        WordVectors(words, vectors).save(path, format=fmt)
        if _kill_mid_save(str(tmp_path), name, fmt, rows):
            break
    else:
        pytest.fail("the save finished before the kill three times")
    back = load_vectors(path)
    assert back.words == words
    np.testing.assert_allclose(back.vectors, vectors, rtol=1e-6)
    leftovers = set(os.listdir(tmp_path)) - {name}
    assert leftovers, "the kill came after the save: nothing was tested"

    WordVectors(words[:5], vectors[:5]).save(path, format=fmt)
    assert os.listdir(tmp_path) == [name], "the killed save's temporary stayed"
    assert load_vectors(path).words == words[:5]


def test_next_save_keeps_a_live_writers_temporary(tmp_path):
    """A writer that is alive (here: stopped mid-save) keeps its temporary
    file through another save into the directory, and finishes later."""
    path = tmp_path / "big.txt"
    proc = _child(_SAVER, path, "glove", 15_000, 50)
    try:
        assert proc.stdout.readline() == "saving\n"
        deadline = time.monotonic() + 20
        while not any(e.stat().st_size for e in os.scandir(tmp_path)):
            assert time.monotonic() < deadline, "the save wrote nothing in 20 s"
            time.sleep(0.0005)
        os.kill(proc.pid, signal.SIGSTOP)
        (temporary,) = os.listdir(tmp_path)
        WordVectors(["a"], np.ones((1, 3))).save(tmp_path / "small.txt", "glove")
        assert sorted(os.listdir(tmp_path)) == sorted([temporary, "small.txt"])
        os.kill(proc.pid, signal.SIGCONT)
        assert proc.stdout.readline() == "saved\n"
        assert proc.wait(30) == 0
    finally:
        os.kill(proc.pid, signal.SIGCONT) if proc.poll() is None else None
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
    assert sorted(os.listdir(tmp_path)) == ["big.txt", "small.txt"]
    assert len(load_vectors(path)) == 15_000


# Rows per input: text writers write 4096 rows at a time, so more rows than
# that interleave the writes of savers that share a file.
_ROWS = {"cache": 300, "glove": 5000}


def _input(k, rows, prefix="t"):
    words = [f"{prefix}{k}_{i}" for i in range(rows)]
    return words, np.full((rows, 4), k, np.float32)


def _assert_one_input(path, prefix, candidates, rows):
    back = load_vectors(path)
    k = int(back.words[0][len(prefix) :].split("_")[0])
    assert k in candidates
    words, vectors = _input(k, rows, prefix=prefix)
    assert back.words == words, f"the file mixes inputs (first word of input {k})"
    np.testing.assert_array_equal(back.vectors, vectors)


@pytest.mark.parametrize("fmt, name", [("cache", "t.kxv"), ("glove", "t.txt")])
def test_threads_saving_at_once_leave_exactly_one_input(tmp_path, fmt, name):
    path, threads = tmp_path / name, 8
    inputs = [WordVectors(*_input(k, _ROWS[fmt])) for k in range(threads)]
    for _round in range(5):
        barrier, errors = threading.Barrier(threads), []

        def save(wv, barrier=barrier, errors=errors):
            barrier.wait()
            try:
                wv.save(path, format=fmt)
            except Exception as e:  # reported below
                errors.append(e)

        workers = [threading.Thread(target=save, args=(wv,)) for wv in inputs]
        for w in workers:
            w.start()
        for w in workers:
            w.join(30)
        assert not errors, errors[:3]
        assert os.listdir(tmp_path) == [name]
        _assert_one_input(path, "t", range(threads), _ROWS[fmt])


@pytest.mark.parametrize("fmt, name", [("cache", "p.kxv"), ("glove", "p.txt")])
def test_processes_saving_at_once_leave_exactly_one_input(tmp_path, fmt, name):
    path, go, n = tmp_path / "out" / name, tmp_path / "go", 4
    path.parent.mkdir()
    procs = [_child(_RACER, path, fmt, k, go, _ROWS[fmt]) for k in range(n)]
    try:
        for proc in procs:
            assert proc.stdout.readline() == "ready\n"
        go.touch()
        assert [proc.wait(30) for proc in procs] == [0] * n
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
    assert os.listdir(path.parent) == [name]
    _assert_one_input(path, "p", range(n), _ROWS[fmt])


def test_loads_racing_a_resaver_never_mix_two_saves(tmp_path):
    """Two saves of the same shape alternate under one name while other
    threads load it: each load holds the words and vectors of one save."""
    path, rows = tmp_path / "race.kxv", 20_000
    saves = {
        c: WordVectors([f"{c}{i:05d}" for i in range(rows)], np.full((rows, 4), v))
        for c, v in (("a", 1.0), ("b", 2.0))
    }
    saves["a"].save(path)
    stop, loads, mixed, errors = threading.Event(), [0], [], []

    def resave():
        while not stop.is_set():
            for wv in saves.values():
                wv.save(path)

    def load():
        while not stop.is_set():
            try:
                wv = WordVectors.load(path) if loads[0] % 2 else load_vectors(path)
            except VectorFileError as e:  # allowed: a clear error
                errors.append(e)
                continue
            loads[0] += 1
            expected = {"a": 1.0, "b": 2.0}[wv.words[0][0]]
            last = wv.words[-1][0]
            if last != wv.words[0][0] or not (wv.vectors == expected).all():
                mixed.append((wv.words[0], wv.words[-1], float(wv.vectors[0, 0])))

    threads = [threading.Thread(target=resave)]
    threads += [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(4)
    stop.set()
    for t in threads:
        t.join(30)
    assert loads[0] > 50
    assert not mixed, f"{len(mixed)} of {loads[0]} loads mixed two saves: {mixed[:3]}"
    assert not errors, errors[:3]


def _two_caches(tmp_path, rows=50):
    a = WordVectors([f"a{i}" for i in range(rows)], np.full((rows, 8), 1.0))
    b = WordVectors([f"b{i}" for i in range(rows)], np.full((rows, 8), 2.0))
    return a.save(tmp_path / "a.kxv"), b.save(tmp_path / "b.kxv")


def test_cache_rewritten_in_place_is_detected_on_access(tmp_path):
    a, b = _two_caches(tmp_path)
    wv = WordVectors.load(a)
    assert wv["a3"][0] == 1.0
    shutil.copyfile(b, a)  # in place: same file, new bytes
    with pytest.raises(VectorFileError, match="rewritten in place") as info:
        wv["a3"]
    assert "a.kxv" in str(info.value)
    with pytest.raises(VectorFileError, match="rewritten in place"):
        wv.most_similar("a3")


def test_cache_shrunk_in_place_raises_instead_of_sigbus(tmp_path):
    a, _ = _two_caches(tmp_path, rows=5000)
    small = WordVectors(["x"], np.ones((1, 8))).save(tmp_path / "small.kxv")
    wv = WordVectors.load(a)
    shutil.copyfile(small, a)
    with pytest.raises(VectorFileError, match="size is now"):
        len(wv.vectors)  # raises before any page is read


def test_cache_replaced_by_save_or_touched_stays_valid(tmp_path):
    a, b = _two_caches(tmp_path)
    wv, kept = WordVectors.load(a), WordVectors.load(a, mmap=False)
    os.utime(a, ns=(1, 1))  # a new modification time, the same bytes
    assert wv["a1"][0] == 1.0
    WordVectors.load(b).save(a)  # a save replaces the file: the map still holds
    assert wv["a1"][0] == 1.0 and (wv.vectors == 1.0).all()
    shutil.copyfile(b, a)  # mmap=False copied the vectors: immune
    assert kept["a1"][0] == 1.0


def _patched(path, old, new):
    data = open(path, "rb").read()
    assert data.count(old) == 1 and len(old) == len(new)
    open(path, "wb").write(data.replace(old, new))


def test_cache_with_a_duplicate_word_is_refused(tmp_path):
    path = WordVectors(["aa", "bb", "cc"], np.eye(3)).save(tmp_path / "d.kxv")
    _patched(path, b"aa\nbb\ncc", b"aa\nbb\naa")
    with pytest.raises(VectorFileError, match="'aa' is listed twice, rows 0 and 2"):
        WordVectors.load(path)
    with pytest.raises(VectorFileError, match="d.kxv"):
        load_vectors(path)


def test_cache_with_bad_word_offsets_is_refused(tmp_path):
    words = ["a\nb", "cc", "dd"]  # a line break: words stored with offsets
    path = WordVectors(words, np.eye(3)).save(tmp_path / "o.kxv")
    good = struct.pack("<4q", 0, 3, 5, 7)
    _patched(path, good, struct.pack("<4q", 0, 4, 2, 7))
    with pytest.raises(VectorFileError, match="word offsets are not increasing"):
        WordVectors.load(path)
    _patched(path, struct.pack("<4q", 0, 4, 2, 7), struct.pack("<4q", 0, 3, 5, 9))
    with pytest.raises(VectorFileError, match="o.kxv.*word offsets"):
        WordVectors.load(path)


def test_cache_with_a_deeply_nested_header_is_refused(tmp_path):
    nested = b"[" * 100_000 + b"]" * 100_000
    path = tmp_path / "n.kxv"
    path.write_bytes(MAGIC + struct.pack("<I", len(nested)) + nested + b" " * 64)
    with pytest.raises(VectorFileError, match="n.kxv.*header does not parse"):
        WordVectors.load(path)


def test_cache_with_overlapping_parts_is_refused(tmp_path):
    # The vectors' bytes spell two other words: a header pointing the words
    # into the vectors would load them silently.
    vectors = np.frombuffer(b"cc\ndd".ljust(16, b"\0"), np.float32).reshape(2, 2)
    path = WordVectors(["aa", "bb"], vectors).save(tmp_path / "p.kxv")
    data = open(path, "rb").read()
    vectors_at = data.index(b'"vectors": [') + len(b'"vectors": [')
    vectors_at = data[vectors_at : data.index(b",", vectors_at)]
    at = data.index(b'"words": [') + len(b'"words": [')
    words_at = data[at : data.index(b",", at)]
    _patched(
        path,
        b'"words": [' + words_at,
        b'"words": [' + vectors_at.rjust(len(words_at)),
    )
    with pytest.raises(
        VectorFileError, match="p.kxv.*part overlaps the header or another part"
    ):
        WordVectors.load(path)


def test_verify_catches_changed_bytes_a_plain_load_cannot(tmp_path):
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = WordVectors(["x", "y", "z"], vectors).save(tmp_path / "v.kxv")
    _patched(path, np.float32(5).tobytes(), np.float32(5.5).tobytes())
    assert WordVectors.load(path)["y"][1] == 5.5  # the structure is intact
    with pytest.raises(VectorFileError, match="v.kxv.*do not match the checksum"):
        WordVectors.load(path, verify=True)
    assert main(["inspect", str(path), "--verify"]) == 2


def test_verify_refuses_a_cache_without_checksum(tmp_path):
    """A cache as earlier versions wrote it (no stamp, no checksum) loads,
    but cannot be verified: a header that lost its checksum is not trusted."""
    path = tmp_path / "old.kxv"
    WordVectors(["x", "y"], np.eye(2)).save(path)
    data = open(path, "rb").read()
    (size,) = struct.unpack("<I", data[8:12])
    header = json.loads(data[12 : 12 + size])
    del header["stamp"], header["checksum"]
    text = json.dumps(header).encode().ljust(size)
    path.write_bytes(data[:12] + text + data[12 + size :])
    assert WordVectors.load(path).words == ["x", "y"]
    with pytest.raises(VectorFileError, match="old.kxv.*no checksum"):
        WordVectors.load(path, verify=True)


def test_verify_refuses_nan_and_infinity(tmp_path, capsys):
    vectors = np.ones((3, 4), np.float32)
    vectors[2, 1] = np.inf
    path = WordVectors(["x", "y", "z"], vectors).save(tmp_path / "inf.kxv")
    assert len(WordVectors.load(path)) == 3
    with pytest.raises(
        VectorFileError, match="inf.kxv, row 3: the word 'z' holds a NaN"
    ):
        WordVectors.load(path, verify=True)
    WordVectors(["x", "y"], np.ones((2, 4))).save(tmp_path / "ok.kxv")
    assert main(["inspect", str(tmp_path / "ok.kxv"), "--verify"]) == 0
    assert "verified: checksum crc32:" in capsys.readouterr().out
    assert main(["inspect", str(path), "--verify"]) == 2
    assert "the word 'z'" in capsys.readouterr().err
    text = tmp_path / "ok.txt"
    text.write_text("the 1 2\nof 3 4\n")
    assert main(["inspect", str(text), "--verify"]) == 0
    assert "verified: all values finite" in capsys.readouterr().out


def test_cache_warns_when_its_source_file_changed(tmp_path):
    source = tmp_path / "src.txt"
    source.write_text("the 1 2 3\nof 4 5 6\n")
    load_vectors(source).save(tmp_path / "c.kxv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert WordVectors.load(tmp_path / "c.kxv").words == ["the", "of"]
    source.write_text("the 1 2 3\nof 4 5 6\nand 7 8 9\n")
    with pytest.warns(VectorFileWarning, match="src.txt.*changed after this cache"):
        back = WordVectors.load(tmp_path / "c.kxv")
    assert back.words == ["the", "of"]


@pytest.fixture(scope="module")
def fuzz_cache(tmp_path_factory):
    words = ["the", "of", "a\nb", "été", ""]  # a line break: word offsets too
    vectors = np.arange(5 * 6, dtype=np.float32).reshape(5, 6) / 3
    folder = tmp_path_factory.mktemp("fuzz")
    path = WordVectors(words, vectors, counts=[5, 4, 3, 2, 1]).save(folder / "f.kxv")
    return words, vectors, open(path, "rb").read(), folder


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=st.data())
def test_damaged_cache_loads_exactly_or_fails_clearly(fuzz_cache, data):
    """Flipped bytes and truncations: a verified load gives the saved words
    and vectors exactly or a `VectorFileError` naming the file; a plain load
    never fails with another exception."""
    words, vectors, original, folder = fuzz_cache
    damaged = bytearray(original)
    if data.draw(st.booleans(), "truncate"):
        damaged = damaged[: data.draw(st.integers(0, len(original) - 1), "size")]
    for _ in range(data.draw(st.integers(1, 3), "flips")):
        if damaged:
            at = data.draw(st.integers(0, len(damaged) - 1), "at")
            damaged[at] ^= data.draw(st.integers(1, 255), "xor")
    path = folder / "damaged.kxv"
    path.write_bytes(bytes(damaged))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VectorFileWarning)
        try:
            back = WordVectors.load(path, verify=True)
        except VectorFileError as e:
            assert "damaged.kxv" in str(e)
        else:
            assert back.words == words
            np.testing.assert_array_equal(back.vectors, vectors)
        try:
            back = WordVectors.load(path)
        except VectorFileError as e:
            assert "damaged.kxv" in str(e)
        else:
            assert len(back.words) == len(set(back.words)) == len(back.vectors)
