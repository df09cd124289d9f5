"""The shared atomic writer: which temporaries a cleanup removes, and which never.

Real files, real processes and threads; liveness is what the kernel says
(a free `flock`, or no process with that PID).
"""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from keras_embedx import _atomic

pytestmark = pytest.mark.host_only


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_cleanup_removes_a_dead_writers_temporary_and_keeps_a_live_ones(tmp_path):
    live = _atomic.Temporary(str(tmp_path))
    live.write(b"being written")
    dead = _atomic.Temporary(str(tmp_path))
    dead.write(b"left by a killed writer")
    dead_name = os.path.basename(dead.path)
    dead.file.close()  # Its lock goes: as if the writer died.
    (tmp_path / "notes.keras_embedx-tmp").write_text("not a temporary")
    try:
        assert _atomic.remove_stale_temporaries(str(tmp_path)) == 1
        names = sorted(os.listdir(tmp_path))
        assert dead_name not in names
        assert names == sorted([os.path.basename(live.path), "notes.keras_embedx-tmp"])
        live.commit(str(tmp_path / "final"))
        assert (tmp_path / "final").read_bytes() == b"being written"
    finally:
        live.discard()


def test_without_flock_the_writers_pid_on_this_host_decides(tmp_path, monkeypatch):
    monkeypatch.setattr(_atomic, "fcntl", None)
    host, dead = _atomic._host_tag(), _dead_pid()
    other_host = format(int(host, 16) ^ 1, "08x")
    planted = {
        # name: removed?
        f".keras_embedx-tmp-{host}-{dead}-{'0' * 16}": True,
        f".keras_embedx-tmp-{host}-{os.getpid()}-{'1' * 16}": False,
        f".keras_embedx-tmp-{host}-{os.getppid()}-{'2' * 16}": False,
        f".keras_embedx-tmp-{other_host}-{dead}-{'3' * 16}": False,
    }
    for name in planted:
        (tmp_path / name).write_bytes(b"x")
    os.symlink(
        tmp_path / "elsewhere", tmp_path / f".keras_embedx-tmp-{host}-{dead}-{'4' * 16}"
    )
    assert _atomic.remove_stale_temporaries(str(tmp_path)) == 1
    for name, removed in planted.items():
        assert (tmp_path / name).exists() != removed, name
    assert os.path.islink(tmp_path / f".keras_embedx-tmp-{host}-{dead}-{'4' * 16}")


def test_a_temporary_is_never_lost_to_a_cleanup_racing_its_creation(tmp_path):
    """A cleanup that catches a temporary between its creation and its lock
    may delete it; the writer then makes another, which no cleanup removes."""
    folder, stop, lost = str(tmp_path), threading.Event(), []

    def clean():
        while not stop.is_set():
            _atomic.remove_stale_temporaries(folder)

    cleaners = [threading.Thread(target=clean) for _ in range(2)]
    for c in cleaners:
        c.start()
    try:
        for _ in range(3000):
            with _atomic.Temporary(folder) as tmp:
                tmp.file.write(b"x")
                if not os.path.exists(tmp.path):
                    lost.append(tmp.path)
    finally:
        stop.set()
        for c in cleaners:
            c.join(30)
    assert lost == []
    assert os.listdir(folder) == []


def test_a_save_under_the_longest_file_names_works(tmp_path):
    # A temporary's name has a fixed length, whatever the final name's.
    from keras_embedx.vectors import WordVectors, load_vectors

    path = tmp_path / ("v" * 251 + ".txt")
    WordVectors(["a"], np.ones((1, 3))).save(path, format="glove")
    assert os.listdir(tmp_path) == [path.name]
    assert load_vectors(path).words == ["a"]
