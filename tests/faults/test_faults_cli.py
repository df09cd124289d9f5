"""The `keras-embedx` command line never answers a user's mistake with a traceback.

Each bad argument or file a user could type ends in one line on stderr that
names the flag or the file, and exit status 2, before any long work; Ctrl-C
is one line and 130. Most cases call `keras_embedx.cli.main` in this process
(the CLI imports Keras, so a process per case would be slow); a few run the
command in a real process, where stderr holds everything the user sees.
"""

import os
import signal
import struct
import subprocess
import sys
import time

import pytest

from keras_embedx.cli import main

pytestmark = pytest.mark.host_only

GLOVE = "test_glove.txt"


def run_main(argv, capsys):
    """`(exit status, stderr)` of `keras-embedx ARGV` run in this process."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    return code, capsys.readouterr().err


def assert_one_line_error(code, err, *names):
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert ": error: " in lines[0], err
    for name in names:
        assert str(name) in lines[0], (name, err)
    return lines[0]


def run_cli(argv, timeout=120, **kwargs):
    """The command run in a real process of this interpreter, from this tree."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "keras_embedx.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        **kwargs,
    )


# --------------------------------------------------------------------- plot
def test_plot_words_none_known_names_the_flag(datapath, tmp_path, capsys):
    out = tmp_path / "w.png"
    argv = ["plot", datapath(GLOVE), "--out", out, "--words", "zzzz", "qqqq"]
    line = assert_one_line_error(*run_main(argv, capsys), "--words", GLOVE)
    assert "'zzzz'" in line and "'qqqq'" in line
    assert not out.exists()


@pytest.mark.parametrize("words", ["", ",", "the"])
def test_plot_words_fewer_than_two_is_refused(words, datapath, tmp_path, capsys):
    # "" used to plot the first 100 words as if --words had not been given.
    argv = ["plot", datapath(GLOVE), "--out", tmp_path / "w.png", "--words", words]
    assert_one_line_error(*run_main(argv, capsys), "--words")


def test_plot_unknown_image_format_fails_before_loading(datapath, tmp_path, capsys):
    out = tmp_path / "w.xyz"
    assert_one_line_error(
        *run_main(["plot", datapath(GLOVE), "--out", out], capsys), "--out", ".xyz"
    )


@pytest.mark.parametrize(
    "where, names",
    [
        ("missing/w.png", ["--out", "missing"]),
        ("file/w.png", ["--out", "file"]),  # a folder that is a file
        (".", ["--out", "is a directory"]),
    ],
)
def test_plot_unwritable_out(where, names, datapath, tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    argv = ["plot", datapath(GLOVE), "--out", tmp_path / where]
    assert_one_line_error(*run_main(argv, capsys), *names)


@pytest.mark.parametrize("flag, value", [("--limit", "1"), ("--dpi", "0")])
def test_plot_bad_numbers(flag, value, datapath, tmp_path, capsys):
    argv = ["plot", datapath(GLOVE), "--out", tmp_path / "w.png", flag, value]
    assert_one_line_error(*run_main(argv, capsys), flag, value)


# --------------------------------------------------------------------- demo
@pytest.mark.parametrize(
    "argv, names",
    [
        (["--epochs", "0"], ["--epochs", "0"]),
        (["--epochs", "-1"], ["--epochs", "-1"]),
        (["--epochs", "two"], ["--epochs", "two"]),
        (["--seed", "-1"], ["--seed", "-1"]),
        (["--encoding", "no-such-codec"], ["--encoding", "no-such-codec"]),
        (["--encoding", "utf-16"], ["--encoding", "utf-16"]),
    ],
)
def test_demo_bad_arguments_fail_before_training(argv, names, capsys, monkeypatch):
    from keras_embedx import demo

    def train(**kwargs):
        raise AssertionError("the demo started with a bad argument")

    monkeypatch.setattr(demo, "run", train)
    assert_one_line_error(*run_main(["demo", *argv], capsys), *names)


def test_demo_run_refuses_zero_epochs_up_front(tmp_path):
    # It used to train both models for ~20 s, then fail on KeyError:
    # 'unfreeze_factor' (no epoch ever logged the factor).
    from keras_embedx import demo

    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"`epochs` must be a positive int"):
        demo.run(epochs=0, output_dir=str(tmp_path / "out"), log=lambda line: None)
    assert time.perf_counter() - start < 5
    assert not (tmp_path / "out").exists()


def test_demo_output_dir_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("a file")
    argv = ["demo", "--output-dir", target]
    assert_one_line_error(*run_main(argv, capsys), "--output-dir", target)


def test_demo_corpus_with_bad_bytes_names_file_and_line(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(b"pos a good film\nneg a dull \xff film\n")
    argv = ["demo", "--corpus", corpus, "--output-dir", tmp_path / "out"]
    line = assert_one_line_error(*run_main(argv, capsys), corpus, "line 2")
    assert "0xff" in line


def test_demo_missing_corpus_is_named_in_a_real_process(tmp_path):
    # It used to load the shipped vectors as UTF-8 (they are Windows-1252)
    # and report a UTF-8 problem on line 150 of the vectors file.
    missing = tmp_path / "no-such-corpus.txt"
    proc = run_cli(["demo", "--corpus", missing, "--output-dir", tmp_path / "out"])
    line = assert_one_line_error(proc.returncode, proc.stderr, missing)
    assert "UTF-8" not in line and "fasttext.vec" not in line
    assert proc.stdout.count("\n") <= 1  # the banner, nothing trained


# ------------------------------------------------------------------ inspect
@pytest.fixture
def nested_cache(tmp_path):
    """A cache file whose JSON header nests 100,000 lists deep."""
    path = tmp_path / "nested.kxv"
    header = b"[" * 100_000 + b"]" * 100_000
    path.write_bytes(b"\x89KXVEC\r\n" + struct.pack("<I", len(header)) + header)
    return path


@pytest.mark.parametrize("command", ["inspect", "demo"])
def test_hostile_nested_header(command, nested_cache, tmp_path, capsys):
    # Used to end in RecursionError from inside json.
    if command == "inspect":
        argv = ["inspect", nested_cache]
    else:
        argv = ["demo", "--vectors", nested_cache, "--output-dir", tmp_path / "out"]
    assert_one_line_error(*run_main(argv, capsys), nested_cache)


def test_inspect_hostile_header_count_out_of_memory(tmp_path):
    # 29 bytes that claim 10**9 columns per row: without a size check the
    # reader allocates until memory runs out. Under a memory limit, a real
    # process ends with one line naming the file, not a bare MemoryError.
    if not sys.platform.startswith("linux"):
        pytest.skip("RLIMIT_AS is enforced on Linux")
    hostile = tmp_path / "hostile.txt"
    hostile.write_text("2 1000000000\na 1 2\nb 3 4\n")
    script = (
        "import resource, sys\n"
        "from keras_embedx.cli import main\n"
        "pages = int(open('/proc/self/statm').read().split()[0])\n"
        "limit = pages * resource.getpagesize() + (512 << 20)\n"
        "resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "inspect", str(hostile)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert_one_line_error(proc.returncode, proc.stderr, hostile)


@pytest.mark.parametrize(
    "argv, names",
    [
        (["{missing}"], ["{missing}"]),
        (["{dir}"], ["{dir}", "directory"]),
        (["{glove}", "--show", "-1"], ["--show", "-1"]),
        (["{glove}", "--neighbours"], ["--neighbours"]),
        (["{glove}", "--encoding", "utf-32"], ["--encoding", "utf-32"]),
        (["{glove}", "--format", "glove2"], ["--format", "glove2"]),
    ],
)
def test_inspect_bad_arguments(argv, names, datapath, tmp_path, capsys):
    paths = {
        "missing": str(tmp_path / "none.txt"),
        "dir": str(tmp_path),
        "glove": datapath(GLOVE),
    }
    argv = [a.format(**paths) for a in argv]
    names = [n.format(**paths) for n in names]
    assert_one_line_error(*run_main(["inspect", *argv], capsys), *names)


def test_inspect_of_a_file_with_no_rows(tmp_path, capsys):
    # A `0 5` header used to end in NumPy's "zero-size array to reduction
    # operation minimum which has no identity".
    empty = tmp_path / "empty.vec"
    empty.write_text("0 5\n")
    assert main(["inspect", str(empty)]) == 0
    out = capsys.readouterr().out
    assert "words: 0" in out and "dim: 5" in out


@pytest.mark.parametrize("command", ["plot", "project"])
def test_a_file_with_too_few_rows_is_named(command, tmp_path, capsys):
    one = tmp_path / "one.vec"
    one.write_text("1 3\nword 1 2 3\n" if command == "plot" else "0 3\n")
    out = ["--out", tmp_path / "w.png"] if command == "plot" else []
    log_dir = [] if out else ["--log-dir", tmp_path / "logs"]
    argv = [command, one, *out, *log_dir]
    assert_one_line_error(*run_main(argv, capsys), one)


# ------------------------------------------------------------------ convert
@pytest.mark.parametrize("fmt", ["cache", "glove"])
def test_convert_onto_its_input_is_refused(fmt, datapath, tmp_path, capsys):
    src = tmp_path / "v.txt"
    src.write_bytes(open(datapath(GLOVE), "rb").read())
    before = src.read_bytes()
    link = tmp_path / "same.txt"
    link.symlink_to(src)
    for out in (src, link):
        argv = ["convert", src, out, "--format", fmt]
        assert_one_line_error(*run_main(argv, capsys), out, "input")
    assert src.read_bytes() == before


@pytest.mark.parametrize(
    "out, names",
    [
        ("missing/v.kxv", ["out", "missing"]),
        ("file/v.kxv", ["out", "file"]),
        (".", ["out", "is a directory"]),
    ],
)
def test_convert_unwritable_output(out, names, datapath, tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    argv = ["convert", datapath(GLOVE), tmp_path / out]
    assert_one_line_error(*run_main(argv, capsys), *names)


# ------------------------------------------------------------------ project
@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_project_bad_max_rows(value, datapath, tmp_path, capsys):
    # 0 used to exit with status 1 through SystemExit.
    argv = ["project", datapath(GLOVE), "--log-dir", tmp_path, "--max-rows", value]
    assert_one_line_error(*run_main(argv, capsys), "--max-rows", value)
    assert not list(tmp_path.iterdir())


def test_project_log_dir_that_is_a_file(datapath, tmp_path, capsys):
    target = tmp_path / "logs"
    target.write_text("a file")
    argv = ["project", datapath(GLOVE), "--log-dir", target]
    assert_one_line_error(*run_main(argv, capsys), "--log-dir", target)


# -------------------------------------------------------------------- bench
def test_bench_with_no_part(capsys):
    assert_one_line_error(*run_main(["bench", "--only"], capsys), "--only")


@pytest.mark.parametrize(
    "values, bad",
    [([""], ""), ([","], ","), (["jax", "tensorflw"], "tensorflw"), (["jax,tf"], "tf")],
)
def test_bench_unknown_backend_is_refused_before_running(
    values, bad, capsys, monkeypatch
):
    # An unknown name used to start the suite, each backend's part failing
    # in its own process with a traceback.
    monkeypatch.setattr(subprocess, "call", lambda *a, **k: pytest.fail("ran"))
    argv = ["bench", "--only", "lookup", "--backends", *values]
    assert_one_line_error(*run_main(argv, capsys), "--backends", repr(bad))


# ------------------------------------------------------------ the safety net
def test_a_bug_still_shows_its_traceback(datapath, monkeypatch):
    # Only the package's own errors become one line; anything else is a bug
    # and must stay visible.
    import keras_embedx.cli.inspect as inspect_command

    def broken(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(inspect_command, "load_cli_vectors", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["inspect", datapath(GLOVE)])


def _wait_until_blocked_on_fifo(pid, timeout=60.0):
    """Until the process waits for a writer on a named pipe (Linux tells it in
    /proc), so the interrupt lands in the read and not in an import on a
    busy machine; elsewhere, a second."""
    wchan = f"/proc/{pid}/wchan"
    if not os.path.exists(wchan):
        time.sleep(1.0)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(wchan) as f:
            if f.read().strip() == "wait_for_partner":
                return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} never blocked on the named pipe")


def test_ctrl_c_is_one_line_and_status_130(tmp_path):
    # A named pipe with no writer: `inspect` blocks opening it until the
    # interrupt arrives.
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs named pipes")
    fifo = tmp_path / "pipe.vec"
    os.mkfifo(fifo)
    # A job started in the background of a script (as `make test` starts each
    # backend's run) inherits SIGINT ignored; a terminal's foreground process
    # gets Python's own handler, which this child puts back.
    script = (
        "import signal, sys\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from keras_embedx.cli import main\n"
        "print('ready', flush=True)\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "inspect", str(fifo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    try:
        assert proc.stdout.readline() == "ready\n"
        _wait_until_blocked_on_fifo(proc.pid)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines() == ["keras-embedx inspect: interrupted"]
