"""The `keras-embedx` command line."""

import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import keras_embedx
from keras_embedx.cli import main

pytestmark = pytest.mark.host_only
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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


def child(code, cwd=None):
    """Run `code` in a fresh interpreter with this tree first on its path."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, *sys.path]))
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_help_and_version_import_neither_keras_nor_a_backend():
    # What the console script runs (`keras_embedx_cli:main`), in a process
    # that has imported nothing yet.
    proc = child(
        "import sys, contextlib, io\n"
        "from keras_embedx_cli import main\n"
        "for argv in (['--help'], ['--version'], ['inspect', '--help'],\n"
        "             ['demo', '--help'], ['bench', '--help'], ['plot', '--help']):\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        try:\n"
        "            main(argv)\n"
        "        except SystemExit as e:\n"
        "            assert e.code == 0, (argv, e.code)\n"
        "    assert out.getvalue(), argv\n"
        "heavy = {'keras', 'tensorflow', 'jax', 'torch', 'numpy', 'keras_embedx'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    assert proc.stdout.strip() == "[]"
    assert proc.stderr == ""


def test_console_script_help_lists_every_command():
    proc = child("from keras_embedx_cli import main; main(['--help'])")
    for command in ("demo", "inspect", "convert", "project", "plot", "bench"):
        assert f"    {command} " in proc.stdout
    assert "--version" in proc.stdout


def test_version_is_the_packages():
    proc = child("from keras_embedx_cli import main; main(['--version'])")
    assert proc.stdout.strip() == f"keras-embedx {keras_embedx.__version__}"


def test_every_option_has_help():
    from keras_embedx_cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    missing = [
        f"{name} {action.option_strings or action.dest}"
        for name, command in sub.choices.items()
        for action in command._actions
        if not action.help
    ]
    assert missing == []


def test_the_parsers_choices_are_the_librarys():
    import keras_embedx_cli as front
    from keras_embedx import plot, projector
    from keras_embedx.vectors import load, word_vectors

    assert front.FORMATS == load.FORMATS
    assert front.ERRORS == load.ERRORS
    assert set(front.WRITE_FORMATS) == set(word_vectors.SAVE_FORMATS)
    assert front.PLOT_METHODS == plot.METHODS
    assert front.MAX_POINTS == projector.MAX_POINTS


def test_lists_are_space_separated_and_commas_are_deprecated(capsys):
    from keras_embedx_cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["plot", "f", "--out", "o.png", "--words", "a", "b"])
    assert args.words == ["a", "b"]
    assert capsys.readouterr().err == ""
    args = parser.parse_args(["plot", "f", "--out", "o.png", "--words", "a,b"])
    assert args.words == ["a", "b"]
    err = capsys.readouterr().err
    assert "--words a,b is deprecated" in err and "--words a b" in err
    # The word "," stays a word; --neighbours never took commas.
    args = parser.parse_args(["plot", "f", "--out", "o.png", "--words", ",", "."])
    assert args.words == [",", "."]
    args = parser.parse_args(["inspect", "f", "--neighbours", "1,000", "the"])
    assert args.neighbours == ["1,000", "the"]
    args = parser.parse_args(["bench", "--backends", "jax", "torch"])
    assert args.backends == ["jax", "torch"]
    assert capsys.readouterr().err == ""


def test_errors_name_the_flags_not_python_arguments(tmp_path, capsys):
    path = tmp_path / "cp1252.txt"
    path.write_bytes("caf\u00e9 1.0 2.0\n".encode("cp1252"))
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert "--encoding cp1252" in err and "--errors replace" in err
    assert "encoding=" not in err and "errors=" not in err
    assert main(["inspect", str(path), "--encoding", "cp1252"]) == 0
    assert "caf\u00e9" in capsys.readouterr().out


@pytest.fixture(scope="module")
def big_glove(tmp_path_factory):
    """A GloVe text file over the 8 MB from which loads show progress."""
    from keras_embedx.vectors._progress import MIN_BYTES

    path = tmp_path_factory.mktemp("big") / "big.txt"
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(20_000)])[:, None]
    rows = np.hstack([words, rng.normal(size=(20_000, 50)).round(6).astype(str)])
    np.savetxt(path, rows, fmt="%s")
    assert path.stat().st_size > MIN_BYTES
    return str(path)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_shows_on_a_terminal_or_when_asked(big_glove, capsys, monkeypatch):
    assert main(["inspect", big_glove, "--show", "1"]) == 0
    assert capsys.readouterr().err == ""  # not a terminal, not asked
    assert main(["inspect", big_glove, "--show", "1", "--progress"]) == 0
    done = f"Loading {big_glove}: 20000 words x 50 in "
    assert done in capsys.readouterr().err
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["inspect", big_glove, "--show", "1"]) == 0
    assert done in terminal.getvalue()
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["inspect", big_glove, "--show", "1", "--no-progress"]) == 0
    assert terminal.getvalue() == ""


@pytest.mark.slow
def test_demo_chars_prints_the_word_char_result(tmp_path, capsys, monkeypatch):
    # `keras-embedx demo --chars` runs the main demo (tested end to end in
    # test_demo.py; replaced here to keep this test short), then the word +
    # char model of keras_embedx.demo.word_char_demo, and prints its result.
    from keras_embedx import demo

    calls, results = [], []
    real = demo.word_char_demo

    def record(**kwargs):
        results.append(real(**kwargs))
        return results[-1]

    monkeypatch.setattr(demo, "run", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(demo, "word_char_demo", record)
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
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning.startswith("keras-embedx project: warning: ")
    assert "skipped 1 malformed row (--errors skip)" in warning
    metadata = list(log_dir.rglob("*metadata.tsv"))
    assert len(metadata) == 1
    assert metadata[0].read_text().split() == ["word", "third"]


def test_bench_runs_the_checkouts_suite_not_the_working_directorys(tmp_path):
    # A `benchmarks` package in the working directory must not run: the
    # suite is the one beside keras_embedx. Its results go to --output, and
    # no tracked file (docs/benchmarks.md, benchmarks/results) changes.
    planted = tmp_path / "elsewhere" / "benchmarks"
    planted.mkdir(parents=True)
    marker = tmp_path / "planted-ran"
    (planted / "__init__.py").write_text("")
    (planted / "__main__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")

    def status():
        return subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    before = status()
    out = tmp_path / "results"
    proc = child(
        "import sys\nfrom keras_embedx_cli import main\n"
        "sys.exit(main(['bench', '--smoke', '--only', 'load_vectors', "
        f"'--output', {str(out)!r}]))",
        cwd=planted.parent,
    )
    assert not marker.exists()
    assert f"benchmarks of {ROOT}" in proc.stdout
    assert sorted(p.name for p in out.glob("*.json")) == ["load_vectors.json"]
    assert status() == before


def test_bench_outside_a_checkout_says_it_needs_one(capsys, monkeypatch):
    import keras_embedx.cli.bench as bench

    monkeypatch.setattr(bench, "checkout_root", lambda: None)
    assert main(["bench", "--only", "lookup"]) == 2
    err = capsys.readouterr().err
    assert "source repository" in err and "pip install -e ." in err


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


def test_demo_backend_is_jax_unless_one_is_chosen(capsys):
    import keras

    # In a process where Keras already runs, the demo keeps its backend and
    # refuses another one in one line.
    other = next(
        b for b in ("tensorflow", "jax", "torch") if b != keras.config.backend()
    )
    assert main(["demo", "--backend", other]) == 2
    assert "--backend" in capsys.readouterr().err
    # A fresh `keras-embedx demo` with no KERAS_BACKEND runs on JAX. Its first
    # line names the backend; the child is stopped there.
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    child = subprocess.Popen(
        [sys.executable, "-m", "keras_embedx_cli", "demo", "--epochs", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        first = child.stdout.readline()
    finally:
        child.kill()
        child.wait()
    assert "backend jax" in first
