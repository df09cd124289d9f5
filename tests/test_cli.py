"""The `keras-embedx` command line."""

import subprocess
import sys

import numpy as np

import keras_embedx
from keras_embedx.cli import main


def test_inspect_prints_size_and_neighbours(datapath, capsys):
    assert main(["inspect", datapath("test_glove.txt"), "--neighbours", "the"]) == 0
    out = capsys.readouterr().out
    assert "words: " in out and "dim: " in out and "nearest to 'the'" in out


def test_convert_to_cache_round_trips(datapath, tmp_path):
    src = datapath("euclidean_vectors.bin")
    out = tmp_path / "vectors.cache"
    assert main(["convert", src, str(out)]) == 0
    a, b = keras_embedx.load_vectors(src), keras_embedx.load_vectors(str(out))
    assert a.words == b.words
    np.testing.assert_array_equal(a.vectors, b.vectors)


def test_errors_are_reported_not_raised(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("word 1.0 2.0\nother 1.0\n")
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.txt" in err and "line 2" in err


def test_console_script_help():
    proc = subprocess.run(
        [sys.executable, "-m", "keras_embedx.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0
    for command in ("demo", "inspect", "convert"):
        assert command in proc.stdout
