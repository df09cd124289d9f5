"""The `keras-embedx` command line."""

import re
import subprocess
import sys

import numpy as np
import pytest

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


@pytest.mark.slow
def test_demo_chars_prints_the_word_char_result(tmp_path, capsys, monkeypatch):
    # `keras-embedx demo --chars` runs the main demo (tested end to end in
    # test_demo.py; replaced here to keep this test short), then the word +
    # char model of keras_embedx.chars.polarity_demo, and prints its result.
    from keras_embedx import chars, demo

    calls, results = [], []
    real = chars.polarity_demo

    def record(**kwargs):
        results.append(real(**kwargs))
        return results[-1]

    monkeypatch.setattr(demo, "run", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(chars, "polarity_demo", record)
    out_dir = str(tmp_path / "out")
    argv = ["demo", "--chars", "--epochs", "3", "--output-dir", out_dir]
    assert main(argv) == 0
    assert calls and calls[0]["epochs"] == 3 and calls[0]["output_dir"] == out_dir
    out = capsys.readouterr().out
    found = re.search(
        r"word \+ char model \(PretrainedEmbedding \+ CharEmbedding CNN\): train "
        r"accuracy ([\d.]+)%, held-out accuracy ([\d.]+)%; ([\d.]+)% of held-out "
        r"words were never seen in training and got vectors from their characters",
        out,
    )
    assert found, out
    train, test, unseen = (float(g) / 100 for g in found.groups())
    (result,) = results
    assert len(result["history"]["loss"]) == 8  # the CLI trains 8 epochs
    assert train == pytest.approx(result["train_accuracy"], abs=1e-3)
    assert test == pytest.approx(result["test_accuracy"], abs=1e-3)
    assert unseen == pytest.approx(result["test_words_unseen"], abs=1e-3)
    # 8 epochs learn something of the 160 training sentences (61% with
    # TensorFlow, more elsewhere); the 40 held-out ones hold words never seen
    # in training, which the char encoder embeds.
    assert train > 0.55
    assert 0.0 <= test <= 1.0
    assert 0.1 < unseen < 0.6
    assert result["history"]["loss"][-1] < result["history"]["loss"][0]


def test_project_errors_skip_loads_the_good_rows(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("word 1.0 2.0\nother 1.0\nthird 3.0 4.0\n")
    log_dir = tmp_path / "logs"
    assert main(["project", str(bad), "--log-dir", str(log_dir)]) == 2
    assert "line 2" in capsys.readouterr().err
    assert (
        main(["project", str(bad), "--log-dir", str(log_dir), "--errors", "skip"]) == 0
    )
    metadata = list(log_dir.rglob("*metadata.tsv"))
    assert len(metadata) == 1
    assert metadata[0].read_text().split() == ["word", "third"]


def test_bench_runs_the_suite_of_the_checkout(capfd):
    # Forwarded to `python -m benchmarks` in this source checkout, whose own
    # argument parser rejects an unknown part (nothing is timed).
    assert main(["bench", "--only", "no_such_part"]) == 2
    assert "invalid choice: 'no_such_part'" in capfd.readouterr().err


@pytest.mark.host_only
def test_demo_options_reach_the_demo(monkeypatch, capsys):
    from keras_embedx import demo

    calls = []
    monkeypatch.setattr(demo, "run", lambda **kwargs: calls.append(kwargs))
    assert main(["demo"]) == 0
    assert calls[-1]["vectors"] == "glove"  # GloVe 6B 50d by default
    assert not {"folds", "repeats", "epochs"} & set(calls[-1])  # run's defaults
    argv = ["demo", "--vectors", "fasttext", "--folds", "5", "--repeats", "2"]
    assert main(argv) == 0
    assert calls[-1]["vectors"] == "fasttext"
    assert (calls[-1]["folds"], calls[-1]["repeats"]) == (5, 2)
    with pytest.raises(SystemExit):
        main(["demo", "--folds", "1"])
    assert "--folds" in capsys.readouterr().err
