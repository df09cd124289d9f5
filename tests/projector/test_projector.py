"""`keras_embedx.export_projector`, checked against a real TensorBoard and Chromium.

One TensorBoard serves the whole module: every export it must show is written
before it starts (and one more while it runs, to check `refresh=True`). It runs
without TensorFlow (the reader a JAX/PyTorch user without TensorFlow gets, and
3 s to start instead of 15); test_callbacks_projector.py serves with
TensorFlow under the TensorFlow backend. Expected tables come from gensim's
own reader, and configs are re-read with TensorBoard's own protobuf parser.
"""

import json
import os
import stat
import sys

import numpy as np
import pytest

import keras_embedx
from keras_embedx import projector as P
from tests import _servers  # noqa: E402

CP_VEC = "crime-and-punishment.vec"
PANG_VEC = "pang_lee_polarity_fasttext.vec"


def gensim_kv(name, **kwargs):
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    return KeyedVectors.load_word2vec_format(datapath(name), **kwargs)


def as_word_vectors(kv, counts=None):
    return keras_embedx.WordVectors(kv.index_to_key, kv.vectors, counts=counts)


def tb_config(log_dir):
    """Parse `projector_config.pbtxt` with TensorBoard's own proto parser."""
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    with open(os.path.join(log_dir, P.CONFIG_NAME)) as f:
        return text_format.Parse(f.read(), ProjectorConfig())


def read_tensor(export):
    """The exported table, read in whichever format the exporter chose.

    A random table goes as TSV now and then (when its first line decodes as
    text), so tests of such tables must not assume raw float32.
    """
    if export.tensor_format == "binary":
        return np.fromfile(export.tensor_path, dtype="<f4").reshape(export.shape)
    table = np.loadtxt(export.tensor_path, dtype=np.float64, delimiter="\t", ndmin=2)
    assert table.shape == tuple(export.shape)
    return table.astype("<f4")


def read_metadata(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


# A float32 whose little-endian bytes are b"abc\n": written raw, TensorBoard
# would read the line "abc" as text and fail instead of falling back to binary.
TEXT_LOOKING = np.frombuffer(b"abc\n", dtype="<f4")[0]


# ------------------------------------------------------------- one server
@pytest.fixture(scope="module")
def served(tmp_path_factory):
    log_dir = str(tmp_path_factory.mktemp("projector_logs"))
    kv = gensim_kv(CP_VEC)
    rng = np.random.default_rng(0)
    exports = {
        "words": P.export_projector(log_dir, as_word_vectors(kv), name="crime/words"),
        "zeros": P.export_projector(log_dir, np.zeros((6, 3), "float32"), name="zeros"),
    }
    crafted = rng.normal(size=(4, 2)).astype("float32")
    crafted[0, 0] = TEXT_LOOKING
    exports["crafted"] = P.export_projector(log_dir, crafted, name="crafted")
    odd = ["", "tab\there", "new\nline", "  ", "ok"]
    exports["odd"] = P.export_projector(
        log_dir,
        rng.normal(size=(5, 3)).astype("float32"),
        metadata={"word": odd, "kind": ["a", "b", "c", "d", "e"]},
        name="odd labels",
    )
    exports["cli_out"] = run_cli(
        ["project", vec_path(PANG_VEC), "--log-dir", log_dir, "--errors", "replace"]
    )
    data = {
        "words": kv.vectors,
        "zeros": np.zeros((6, 3), "float32"),
        "crafted": crafted,
        "kv": kv,
        "odd": odd,
    }
    with _servers.TensorBoard(log_dir, tensorflow=False) as tb:
        yield tb, log_dir, exports, data


def vec_path(name):
    from gensim.test.utils import datapath

    return datapath(name)


def run_cli(argv):
    """`keras-embedx project ...` through the command line's parser."""
    import contextlib
    import io

    from keras_embedx_cli import build_parser

    args = build_parser().parse_args(argv)
    assert args.run == "keras_embedx.projector:run_project"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert P.run_project(args) == 0
    return out.getvalue()


@pytest.mark.server
def test_runs_and_info_list_every_export(served):
    tb, log_dir, exports, _ = served
    info = tb.wait_for_tensors(["crime/words", "zeros", "crafted", "odd_labels"])
    assert tb.projector_json("runs") == ["."]
    shapes = {e["tensorName"]: e["tensorShape"] for e in info["embeddings"]}
    assert shapes == {
        "crime/words": [291, 5],
        "zeros": [6, 3],
        "crafted": [4, 2],
        "odd_labels": [5, 3],
        PANG_VEC: [1694, 100],
    }


@pytest.mark.server
def test_tensor_bytes_equal_gensim_vectors(served):
    tb, _, exports, data = served
    assert exports["words"].tensor_format == "binary"
    status, body = tb.projector("tensor", run=".", name="crime/words")
    assert status == 200
    assert body == data["words"].astype("<f4").tobytes()


@pytest.mark.server
def test_metadata_is_the_word_list(served):
    tb, _, _, data = served
    status, body = tb.projector("metadata", run=".", name="crime/words")
    assert status == 200
    assert body.decode("utf-8").split("\n")[:-1] == data["kv"].index_to_key


@pytest.mark.server
@pytest.mark.parametrize("name", ["zeros", "crafted"])
def test_text_looking_tables_fall_back_to_tsv_and_round_trip(served, name):
    tb, _, exports, data = served
    assert exports[name].tensor_format == "tsv"
    status, body = tb.projector("tensor", run=".", name=name)
    assert status == 200, body[:300]
    assert body == data[name].astype("<f4").tobytes()
    np.testing.assert_array_equal(read_tensor(exports[name]), data[name])


@pytest.mark.server
def test_odd_labels_are_made_safe_with_a_header(served):
    tb, _, _, _ = served
    status, body = tb.projector("metadata", run=".", name="odd_labels")
    assert status == 200
    lines = body.decode("utf-8").split("\n")[:-1]
    assert lines == [
        "word\tkind",
        "<blank>\ta",
        "tab here\tb",
        "new line\tc",
        "<blank>\td",
        "ok\te",
    ]


@pytest.mark.server
def test_cli_export_is_served(served):
    tb, log_dir, exports, _ = served
    assert f"tensorboard --logdir {log_dir}" in exports["cli_out"]
    kv = gensim_kv(PANG_VEC, unicode_errors="replace")
    status, body = tb.projector("tensor", run=".", name=PANG_VEC)
    assert status == 200 and body == kv.vectors.astype("<f4").tobytes()
    status, body = tb.projector("metadata", run=".", name=PANG_VEC)
    assert body.decode("utf-8").split("\n")[:-1] == kv.index_to_key


@pytest.mark.server
def test_refresh_makes_a_running_tensorboard_show_a_new_export(served):
    tb, log_dir, _, _ = served
    table = np.random.default_rng(5).normal(size=(7, 4)).astype("float32")
    P.export_projector(log_dir, table, name="late", refresh=True)
    tb.wait_for_tensors(["late"])
    status, body = tb.projector("tensor", run=".", name="late")
    assert status == 200 and body == table.tobytes()


def only_in_the_jax_pass():
    import keras

    if keras.config.backend() != "jax":
        # Files and servers do not depend on the Keras backend: check them once.
        pytest.skip("backend-independent; runs in the KERAS_BACKEND=jax pass")


def assert_chromium_draws_points(tb, tmp_path):
    """Render the Projector page of `tb` and count the pixels of its points."""
    if _servers.chromium_executable() is None:
        message = (
            "!!! Chromium is NOT installed: the Projector browser test cannot run. "
            "Install it with `apt-get install -y chromium` (.ci/run does). !!!"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        print(message, file=sys.stderr)
        pytest.skip(message)
    tries = []
    for attempt in range(2):
        # A second try only when the first drew no points; both are reported.
        log = tmp_path / f"chromium-{attempt}.log"
        png = _servers.screenshot(
            tb.url + "/#projector",
            str(tmp_path / f"shot-{attempt}.png"),
            log_path=str(log),
        )
        webgl = [line for line in log.read_text().splitlines() if "WebGL" in line]
        tries.append((_servers.count_point_pixels(png), png, webgl[:5]))
        if tries[-1][0] > 3000:
            break
    assert tries[-1][0] > 3000, tries


@pytest.mark.server
@pytest.mark.browser
@pytest.mark.slow
def test_headless_chromium_renders_the_points(served, tmp_path):
    only_in_the_jax_pass()
    tb, _, _, _ = served
    assert_chromium_draws_points(tb, tmp_path)


# ------------------------------------ runs below the --logdir (logs/<run>)
def wait_for_runs(tb, runs, timeout=30):
    """Poll the Projector's `/runs` until it lists `runs`; return the list."""
    import time

    deadline = time.monotonic() + timeout
    listed = None
    while time.monotonic() < deadline:
        status, body = tb.projector("runs")
        if status == 200:
            listed = json.loads(body)
            if set(runs) <= set(listed):
                return listed
        time.sleep(0.3)
    raise AssertionError(f"/runs listed {listed}, not {sorted(runs)}, in {timeout} s")


def event_files(directory):
    return sorted(f for f in os.listdir(directory) if "tfevents" in f)


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    """`tensorboard --logdir logs` over exports into `logs/fit/run1`, `logs/vectors`."""
    only_in_the_jax_pass()
    logs = tmp_path_factory.mktemp("parent") / "logs"
    kv = gensim_kv(CP_VEC)
    table = np.random.default_rng(7).normal(size=(9, 4)).astype("float32")
    run1 = logs / "fit" / "run1"
    P.export_projector(run1, as_word_vectors(kv), name="crime")
    P.export_projector(run1, table[:3], name="small")
    P.export_projector(logs / "vectors", table, name="table")
    data = {("fit/run1", "crime"): kv.vectors, ("fit/run1", "small"): table[:3]}
    data[("vectors", "table")] = table
    with _servers.TensorBoard(logs, tensorflow=False) as tb:
        yield tb, logs, data, kv


@pytest.mark.server
def test_every_export_directory_is_a_run_of_a_parent_logdir(parent):
    tb, logs, data, kv = parent
    assert wait_for_runs(tb, ["fit/run1", "vectors"]) == ["fit/run1", "vectors"]
    for (run, name), table in data.items():
        tb.wait_for_tensors([name], run=run)
        status, body = tb.projector("tensor", run=run, name=name)
        assert status == 200, (run, name, body[:300])
        assert body == table.astype("<f4").tobytes(), (run, name)
    status, body = tb.projector("metadata", run="fit/run1", name="crime")
    assert body.decode("utf-8").split("\n")[:-1] == kv.index_to_key
    # One event file per directory, however many exports went there.
    assert event_files(logs / "fit" / "run1") == [P.RUN_MARKER]
    assert event_files(logs / "fit") == [] and event_files(logs) == []


@pytest.mark.server
def test_an_export_into_a_new_run_reaches_a_running_tensorboard(parent):
    tb, logs, _, _ = parent
    table = np.random.default_rng(8).normal(size=(5, 3)).astype("float32")
    P.export_projector(logs / "fit" / "run2", table, name="late")
    assert "fit/run2" in wait_for_runs(tb, ["fit/run2"])
    tb.wait_for_tensors(["late"], run="fit/run2")
    status, body = tb.projector("tensor", run="fit/run2", name="late")
    assert status == 200 and body == table.tobytes()


@pytest.mark.server
@pytest.mark.browser
@pytest.mark.slow
def test_headless_chromium_renders_a_run_below_the_logdir(parent, tmp_path):
    tb, _, _, _ = parent
    wait_for_runs(tb, ["fit/run1"])
    assert_chromium_draws_points(tb, tmp_path)


def append_scalar(path, step, value):
    """Append a `simple_value` scalar event with tensorboard's record writer."""
    import time

    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.record_writer import RecordWriter

    events = []
    if step == 0:
        events.append(Event(wall_time=time.time(), file_version="brain.Event:2"))
    summary = Summary(value=[Summary.Value(tag="loss", simple_value=value)])
    events.append(Event(wall_time=time.time(), step=step, summary=summary))
    with open(path, "ab") as f:
        for event in events:
            RecordWriter(f).write(event.SerializeToString())


@pytest.mark.server
def test_a_summary_writer_in_the_export_directory_keeps_every_step(tmp_path):
    # TensorBoard's Python reader reads a run's event files one at a time, in
    # name order, and never goes back: an event file of the exporter named
    # after a writer's would hide every step the writer adds afterwards.
    import time

    only_in_the_jax_pass()
    logs = tmp_path / "logs"
    run = logs / "run"
    run.mkdir(parents=True)
    writer = run / f"events.out.tfevents.{int(time.time()):010d}.host.{os.getpid()}.0"
    append_scalar(writer, 0, 1.0)
    table = np.random.default_rng(9).normal(size=(6, 3)).astype("float32")
    P.export_projector(run, table, name="beside")
    url = "/data/plugin/scalars/scalars?run=run&tag=loss"

    def steps():
        status, body = tb.get(url)
        return [s for _, s, _ in json.loads(body)] if status == 200 else None

    with _servers.TensorBoard(logs, tensorflow=False, args=["--load_fast=false"]) as tb:
        assert wait_for_runs(tb, ["run"]) == ["run"]
        tb.wait_for_tensors(["beside"], run="run")
        deadline = time.monotonic() + 20
        while steps() != [0] and time.monotonic() < deadline:
            time.sleep(0.3)
        assert steps() == [0]
        time.sleep(2)  # Two reloads: the reader is past the exporter's file.
        append_scalar(writer, 1, 0.5)
        append_scalar(writer, 2, 0.25)
        deadline = time.monotonic() + 20
        while steps() != [0, 1, 2] and time.monotonic() < deadline:
            time.sleep(0.3)
        assert steps() == [0, 1, 2]
        status, body = tb.projector("tensor", run="run", name="beside")
        assert status == 200 and body == table.tobytes()


# ------------------------------------------------------- files and config
def test_config_keeps_other_entries_and_parses_with_protobuf(tmp_path):
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    config = ProjectorConfig()
    other = config.embeddings.add()
    other.tensor_name = "layer_with_weights-0/embeddings/.ATTRIBUTES/VARIABLE_VALUE"
    other.metadata_path = "meta.tsv"
    other.sprite.image_path = "sprite.png"
    other.sprite.single_image_dim.extend([8, 8])
    config.model_checkpoint_path = "ckpt"
    original = "# written by another tool\n" + text_format.MessageToString(config)
    (tmp_path / P.CONFIG_NAME).write_text(original)

    table = np.arange(12, dtype="float32").reshape(4, 3) + 1
    P.export_projector(tmp_path, table, name="mine")
    parsed = tb_config(tmp_path)
    assert parsed.model_checkpoint_path == "ckpt"
    assert [e.tensor_name for e in parsed.embeddings] == [other.tensor_name, "mine"]
    assert parsed.embeddings[0] == other
    mine = parsed.embeddings[1]
    assert list(mine.tensor_shape) == [4, 3]
    raw = np.fromfile(tmp_path / mine.tensor_path, dtype="<f4")
    np.testing.assert_array_equal(raw.reshape(4, 3), table)
    assert (tmp_path / P.CONFIG_NAME).read_text().startswith(original)


@pytest.mark.host_only
def test_replacing_an_entry_keeps_the_rest_of_the_file_byte_for_byte(tmp_path):
    theirs = (
        "# written by another tool\n"
        'embeddings { tensor_name: "theirs" tensor_path: "theirs.tsv" }  # kept\n'
    )
    (tmp_path / P.CONFIG_NAME).write_text(theirs)
    first = P.export_projector(tmp_path, np.ones((3, 2), "float32") * 2, name="mine")
    P.export_projector(tmp_path, np.ones((4, 2), "float32") * 3, name="mine")
    assert (tmp_path / P.CONFIG_NAME).read_text().startswith(theirs)
    parsed = tb_config(tmp_path)
    assert [e.tensor_name for e in parsed.embeddings] == ["theirs", "mine"]
    assert list(parsed.embeddings[1].tensor_shape) == [4, 2]
    assert not os.path.exists(first.tensor_path)


@pytest.mark.host_only
def test_an_entry_laid_out_otherwise_is_replaced_with_its_files(tmp_path):
    # The same entries as another writer might lay them out: other field
    # order, `< >`, a list, one line each.
    first = P.export_projector(tmp_path, np.ones((3, 2), "float32") * 2, name="mine")
    P.export_projector(tmp_path, np.ones((5, 2), "float32") * 3, name="keep")
    before = tb_config(tmp_path)
    lines = [
        f'embeddings < tensor_path: "{e.tensor_path}" tensor_name: "{e.tensor_name}"'
        f' metadata_path: "{e.metadata_path}" tensor_shape: {list(e.tensor_shape)} >'
        for e in before.embeddings
    ]
    (tmp_path / P.CONFIG_NAME).write_text("\n".join(lines))
    assert tb_config(tmp_path) == before

    second = P.export_projector(tmp_path, np.ones((4, 2), "float32") * 4, name="mine")
    parsed = tb_config(tmp_path)
    assert [e.tensor_name for e in parsed.embeddings] == ["keep", "mine"]
    assert parsed.embeddings[0] == before.embeddings[1]
    assert parsed.embeddings[1].tensor_path == os.path.relpath(
        second.tensor_path, tmp_path
    )
    assert not os.path.exists(first.tensor_path)
    assert not os.path.exists(first.metadata_path)


def test_replace_keeps_one_entry_and_removes_its_old_files(tmp_path):
    first = P.export_projector(tmp_path, np.ones((3, 2), "float32") * 2, name="t")
    P.export_projector(tmp_path, np.ones((5, 2), "float32") * 3, name="other")
    second = P.export_projector(tmp_path, np.ones((4, 2), "float32") * 4, name="t")
    parsed = tb_config(tmp_path)
    assert sorted(e.tensor_name for e in parsed.embeddings) == ["other", "t"]
    [t] = [e for e in parsed.embeddings if e.tensor_name == "t"]
    assert list(t.tensor_shape) == [4, 2]
    assert not os.path.exists(first.tensor_path)
    assert not os.path.exists(first.metadata_path)
    assert os.path.exists(second.tensor_path)


def test_rename_and_error_when_the_name_exists(tmp_path):
    table = np.ones((3, 2), "float32") * 2
    P.export_projector(tmp_path, table, name="t")
    renamed = P.export_projector(tmp_path, table, name="t", if_exists="rename")
    assert renamed.name == "t-2"
    with pytest.raises(ValueError, match="already has an embedding named 't'"):
        P.export_projector(tmp_path, table, name="t", if_exists="error")
    assert [e.tensor_name for e in tb_config(tmp_path).embeddings] == ["t", "t-2"]


def test_names_are_url_safe():
    assert P.safe_name("my layer/emb?x=1&y") == "my_layer/emb_x_1_y"
    assert P.safe_name("../../etc/passwd") == "etc/passwd"
    assert P.safe_name("") == "embedding"
    assert P.safe_name("//a//b/") == "a/b"
    assert P.safe_name("a:0") == "a_0"


def test_max_rows_keeps_the_most_frequent_rows(tmp_path):
    kv = gensim_kv(CP_VEC)
    counts = np.random.default_rng(3).permutation(len(kv)) + 1
    wv = as_word_vectors(kv, counts=counts)
    out = P.export_projector(tmp_path, wv, name="top", max_rows=10)
    top = np.argsort(-counts)[:10]
    assert out.shape == (10, kv.vector_size)
    np.testing.assert_array_equal(read_tensor(out), kv.vectors[top])
    lines = read_metadata(out.metadata_path)
    assert lines[0] == "word\tcount"
    assert lines[1:] == [f"{kv.index_to_key[i]}\t{counts[i]}" for i in top]


def test_max_rows_without_counts_keeps_the_first_rows(tmp_path):
    kv = gensim_kv(CP_VEC)
    out = P.export_projector(tmp_path, as_word_vectors(kv), max_rows=7)
    assert out.shape == (7, kv.vector_size)
    assert read_metadata(out.metadata_path) == kv.index_to_key[:7]


def test_layer_source_is_labelled_with_vocabulary_and_row_sources(tmp_path):
    kv = gensim_kv("toy-model.vec")
    vocab = keras_embedx.Vocabulary.from_texts(["the human interface", "zzz unknown"])
    layer = keras_embedx.layers.PretrainedEmbedding.from_vectors(
        as_word_vectors(kv), vocab, name="words"
    )
    out = P.export_projector(tmp_path, layer)
    assert out.name == "words"
    lines = read_metadata(out.metadata_path)
    assert lines[0] == "word\tsource"
    rows = [line.split("\t") for line in lines[1:]]
    assert [r[0] for r in rows] == ["<pad>"] + layer.get_vocabulary()[1:]
    assert [r[1] for r in rows] == layer.row_sources()
    raw = read_tensor(out)
    assert raw.shape == (len(rows), kv.vector_size)
    for (word, source), row in zip(rows, raw):
        if source == "pretrained":
            np.testing.assert_array_equal(row, kv[word])


def test_plain_keras_embedding_is_labelled_by_id(tmp_path):
    import keras

    layer = keras.layers.Embedding(9, 4, name="plain")
    layer.build((None,))
    out = P.export_projector(tmp_path, layer)
    assert out.name == "plain"
    assert read_metadata(out.metadata_path) == [str(i) for i in range(9)]
    assert out.shape == (9, 4)
    np.testing.assert_array_equal(
        read_tensor(out), keras.ops.convert_to_numpy(layer.embeddings)
    )


# ------------------------------------------------------------- bad input
def snapshot(path):
    return {
        os.path.relpath(os.path.join(root, f), path): open(
            os.path.join(root, f), "rb"
        ).read()
        for root, _, files in os.walk(path)
        for f in files
    }


@pytest.fixture
def existing(tmp_path):
    """A log_dir with one valid export, and a snapshot of its files."""
    P.export_projector(tmp_path, np.ones((3, 2), "float32") * 2, name="keep")
    return tmp_path


def test_log_dir_that_is_a_file(tmp_path):
    path = tmp_path / "not_a_dir"
    path.write_text("hello")
    with pytest.raises(NotADirectoryError, match="must be a directory"):
        P.export_projector(path, np.ones((2, 2), "float32"))
    assert path.read_text() == "hello"
    with pytest.raises(NotADirectoryError, match="is a file"):
        P.export_projector(path / "sub", np.ones((2, 2), "float32"))


def test_read_only_log_dir(tmp_path):
    if os.geteuid() != 0:
        target = tmp_path / "ro"
        target.mkdir()
        target.chmod(stat.S_IRUSR | stat.S_IXUSR)
    else:
        # chmod does not stop root; sysfs refuses new files even to root.
        target = "/sys/kernel"
        if not os.path.isdir(target) or _can_create(target):
            pytest.skip("no directory here is read-only to root")
    try:
        with pytest.raises(PermissionError, match="Cannot write to `log_dir`"):
            P.export_projector(target, np.ones((2, 2), "float32"))
    finally:
        if os.geteuid() != 0:
            os.chmod(target, stat.S_IRWXU)


def _can_create(directory):
    try:
        fd = os.open(os.path.join(directory, ".probe"), os.O_CREAT | os.O_WRONLY)
    except OSError:
        return False
    os.close(fd)
    os.remove(os.path.join(directory, ".probe"))
    return True


def test_metadata_of_the_wrong_length(existing):
    before = snapshot(existing)
    with pytest.raises(ValueError, match=r"one entry per table row \(4 rows\).*3"):
        P.export_projector(
            existing, np.ones((4, 2), "float32"), metadata=["a", "b", "c"]
        )
    with pytest.raises(ValueError, match="column 'count'"):
        P.export_projector(
            existing,
            np.ones((4, 2), "float32"),
            metadata={"word": list("abcd"), "count": [1, 2]},
        )
    assert snapshot(existing) == before


def test_nan_rows_are_refused_with_their_labels(existing):
    before = snapshot(existing)
    table = np.ones((4, 2), "float32")
    table[2, 1] = np.nan
    table[3, 0] = np.inf
    with pytest.raises(ValueError, match=r"2 row\(s\) with NaN.*2 \('c'\), 3 \('d'\)"):
        P.export_projector(existing, table, metadata=list("abcd"))
    assert snapshot(existing) == before


@pytest.mark.parametrize(
    "text, where",
    [
        ("embeddings {\n  tensor_name: 'x'\n", 'line 2: Expected "}"'),
        ("embedings {\n}\n", 'line 1: .* has no field named "embedings"'),
        ("embeddings {\n  tensor_shape: -3\n}\n", "line 2: .*out of range: -3"),
        ("embeddings {\n  tensor_name: x\n}\n", "line 2: .*Expected string"),
        (
            "model_checkpoint_path: 'a'\nmodel_checkpoint_path: 'b'\n",
            'line 2: .*should not have multiple "model_checkpoint_path"',
        ),
    ],
)
def test_unparsable_config_is_left_untouched(tmp_path, text, where):
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    with pytest.raises(text_format.ParseError):  # TensorBoard would fail too.
        text_format.Parse(text, ProjectorConfig())
    (tmp_path / P.CONFIG_NAME).write_text(text)
    before = snapshot(tmp_path)
    with pytest.raises(P.ProjectorConfigError, match=where) as info:
        P.export_projector(tmp_path, np.ones((2, 2), "float32"))
    assert P.CONFIG_NAME in str(info.value) and "line " in str(info.value)
    assert snapshot(tmp_path) == before


def test_a_crash_while_writing_the_config_leaves_the_old_one(existing, monkeypatch):
    from keras_embedx import _atomic

    before = snapshot(existing)
    real = _atomic.Temporary.commit

    def crash_on_config(temporary, path):
        if path.endswith(P.CONFIG_NAME):
            raise KeyboardInterrupt("simulated crash")
        real(temporary, path)

    monkeypatch.setattr(_atomic.Temporary, "commit", crash_on_config)
    with pytest.raises(KeyboardInterrupt):
        P.export_projector(existing, np.ones((5, 2), "float32"), name="new")
    assert snapshot(existing) == before


def read_events(path):
    """The events of an event file, read by TensorBoard's TensorFlow-free reader
    (which checks each record's length and CRCs)."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.tensorflow_stub import errors
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import (
        PyRecordReader_New,
    )

    reader = PyRecordReader_New(os.fspath(path))
    events = []
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            return events
        events.append(Event.FromString(reader.record()))


def test_run_marker_is_one_data_less_event_written_once(tmp_path):
    import time

    before = time.time()
    P.export_projector(tmp_path, np.ones((3, 2), "float32") * 2, name="a")
    between = time.time()
    P.export_projector(tmp_path, np.ones((3, 2), "float32") * 3, name="b")
    [event] = read_events(tmp_path / P.RUN_MARKER)
    assert event.file_version == "brain.Event:2"
    assert before <= event.wall_time <= between  # Not rewritten by "b".
    assert not event.HasField("summary") and event.step == 0


@pytest.mark.host_only
def test_without_tensorboard_the_package_imports_and_exports_say_what_to_install(
    tmp_path,
):
    import re
    import subprocess

    # The extra the message names installs tensorboard.
    with open(
        os.path.join(os.path.dirname(__file__), "..", "..", "pyproject.toml")
    ) as f:
        extra = re.search(r"^projector = \[(.*)\]$", f.read(), re.MULTILINE)
    assert extra and '"tensorboard' in extra[1]
    code = """
import json, os, sys

class NoTensorBoard:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "tensorboard":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NoTensorBoard())
import numpy as np
import keras_embedx
from keras_embedx import projector
from keras_embedx.callbacks import ProjectorCallback

log_dir = sys.argv[1]
errors = {"name": projector.safe_name("a b")}
for what, call in [
    ("export", lambda: keras_embedx.export_projector(log_dir, np.ones((2, 2)))),
    ("callback", lambda: ProjectorCallback(log_dir)),
    ("read", lambda: projector.read_config(log_dir)),
]:
    try:
        call()
    except ImportError as e:
        errors[what] = str(e)
errors["files"] = os.listdir(log_dir)
print(json.dumps(errors))
"""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result.pop("name") == "a_b" and result.pop("files") == []
    assert sorted(result) == ["callback", "export", "read"]
    for message in result.values():
        assert "pip install keras-embedx[projector]" in message, message
        assert "No module named 'tensorboard" in message, message


def test_bad_source_and_arguments(tmp_path):
    with pytest.raises(ValueError, match="must be 2D"):
        P.export_projector(tmp_path, np.ones(5, "float32"))
    with pytest.raises(TypeError, match="`source` must be"):
        P.export_projector(tmp_path, object())
    with pytest.raises(ValueError, match="`max_rows` must be a positive int"):
        P.export_projector(tmp_path, np.ones((3, 2), "float32"), max_rows=0)
    with pytest.raises(ValueError, match="`if_exists` must be one of"):
        P.export_projector(tmp_path, np.ones((3, 2), "float32"), if_exists="keep")
