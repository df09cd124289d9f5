"""The Projector exporter under concurrent writers, kills, links and name collisions.

Real processes race and get killed (`fork`ed, so each starts at once with the
package already imported); every config is re-read with TensorBoard's own
protobuf parser and every table compared with the array the test made.
"""

import multiprocessing
import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest

from keras_embedx import projector as P
from keras_embedx._atomic import Temporary
from keras_embedx.projector import _files

pytestmark = [
    pytest.mark.host_only,
    # JAX warns on every fork once its threads run; the children here only
    # write files with NumPy and never touch JAX.
    pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning"),
    pytest.mark.skipif(
        "fork" not in multiprocessing.get_all_start_methods(),
        reason="needs the fork start method",
    ),
]

FORK = multiprocessing.get_context("fork")


def tb_config(log_dir):
    """Parse `projector_config.pbtxt` with TensorBoard's own proto parser."""
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    with open(os.path.join(log_dir, P.CONFIG_NAME)) as f:
        return text_format.Parse(f.read(), ProjectorConfig())


def table_of(seed, rows=40, dim=6):
    return np.random.default_rng(seed).uniform(1, 2, size=(rows, dim)).astype("f4")


def labels_of(seed, rows=40):
    return [f"w{seed}_{i}" for i in range(rows)]


def assert_entry(log_dir, name, table, labels):
    """The config lists `name`, and its files hold exactly `table` and `labels`."""
    [entry] = [e for e in tb_config(log_dir).embeddings if e.tensor_name == name]
    assert list(entry.tensor_shape) == list(table.shape)
    path = os.path.join(log_dir, entry.tensor_path)
    if path.endswith(".tsv"):  # Rows whose bytes would read as text.
        data = np.loadtxt(path, dtype=np.float64, delimiter="\t", ndmin=2)
        data = data.astype("f4")
    else:
        data = np.fromfile(path, dtype="<f4")
    np.testing.assert_array_equal(data.reshape(table.shape), table)
    with open(os.path.join(log_dir, entry.metadata_path), encoding="utf-8") as f:
        assert f.read().split("\n")[:-1] == labels
    return entry


def unnamed_files(log_dir):
    """Files that are neither the config nor named by it (nor the lock, the run
    marker)."""
    named = {P.CONFIG_NAME, P.RUN_MARKER, f"{P.DATA_DIR}/{P.LOCK_NAME}"}
    for entry in tb_config(log_dir).embeddings:
        named.update((entry.tensor_path, entry.metadata_path))
    found = []
    for root, _, files in os.walk(log_dir):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), log_dir).replace(
                os.sep, "/"
            )
            if rel not in named and not rel.startswith(P.REFRESH_DIR):
                found.append(rel)
    return sorted(found)


def temporaries(log_dir):
    """Temporaries of a writer, this version's or an earlier one's."""
    return [rel for rel in unnamed_files(log_dir) if "tmp" in rel.split("/")[-1]]


# -------------------------------------------------------- concurrent writers
def _export_at(log_dir, seed, go):
    go.wait()
    P.export_projector(
        log_dir, table_of(seed), metadata=labels_of(seed), name=f"run{seed}"
    )


def _race(log_dir, writers, rounds):
    for r in range(rounds):
        go = FORK.Event()
        seeds = [r * writers + w for w in range(writers)]
        procs = [FORK.Process(target=_export_at, args=(log_dir, s, go)) for s in seeds]
        for p in procs:
            p.start()
        time.sleep(0.05)
        go.set()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * writers
        names = [e.tensor_name for e in tb_config(log_dir).embeddings]
        assert sorted(names) == sorted(f"run{s}" for s in range(len(seeds) * (r + 1)))
        for s in range(len(seeds) * (r + 1)):
            assert_entry(log_dir, f"run{s}", table_of(s), labels_of(s))
        assert unnamed_files(log_dir) == []


def test_concurrent_processes_all_reach_the_config(tmp_path):
    _race(str(tmp_path), writers=4, rounds=3)


def test_concurrent_processes_without_flock_use_a_lock_file(tmp_path, monkeypatch):
    # Where fcntl is missing (Windows), an exclusive lock file serialises them.
    monkeypatch.setattr(_files, "fcntl", None)
    _race(str(tmp_path), writers=3, rounds=2)
    assert not os.path.exists(tmp_path / P.DATA_DIR / f"{P.LOCK_NAME}-held")


def test_concurrent_threads_all_reach_the_config(tmp_path):
    go = threading.Event()
    errors = []

    def export(seed):
        go.wait()
        try:
            P.export_projector(
                tmp_path, table_of(seed), metadata=labels_of(seed), name=f"run{seed}"
            )
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=export, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(60)
    assert errors == []
    for s in range(6):
        assert_entry(tmp_path, f"run{s}", table_of(s), labels_of(s))
    assert unnamed_files(str(tmp_path)) == []


# ------------------------------------------------------------------- kills
def _wait_for(log_dir, trigger, deadline):
    """Return when the exporting child reaches `trigger`."""
    if trigger.startswith("delay:"):
        time.sleep(float(trigger[6:]))
        return
    data_dir = os.path.join(log_dir, P.DATA_DIR)
    while time.monotonic() < deadline:
        try:
            sizes = [
                os.path.getsize(os.path.join(data_dir, n))
                for n in os.listdir(data_dir)
                if "tmp" in n
            ]
        except OSError:
            continue
        if sizes and (trigger == "temporaries" or max(sizes) > trigger_size(trigger)):
            return
        time.sleep(0.0005)


def trigger_size(trigger):
    return int(trigger.split(":")[1]) if trigger.startswith("bytes:") else 0


BIG = (2000, 8192)  # 64 MB of float32: long enough a write to be caught.


@pytest.mark.parametrize("replace", [True, False], ids=["same-name", "new-name"])
def test_a_killed_export_leaves_the_previous_one_and_its_temporaries_go(
    tmp_path, replace
):
    log_dir = str(tmp_path)
    previous, labels = table_of(1, rows=30), labels_of(1, rows=30)
    P.export_projector(log_dir, previous, metadata=labels, name="big")
    big = np.random.default_rng(2).uniform(1, 2, size=BIG).astype("f4")
    name = "big" if replace else "other"
    triggers = ["delay:0", "temporaries", "bytes:1", f"bytes:{big.nbytes // 2}"]
    triggers += ["delay:0.05", "delay:0.15"]
    left = 0
    for trigger in triggers:
        child = FORK.Process(
            target=P.export_projector, args=(log_dir, big), kwargs={"name": name}
        )
        child.start()
        _wait_for(log_dir, trigger, time.monotonic() + 20)
        os.kill(child.pid, signal.SIGKILL)
        child.join(20)
        assert child.exitcode in (0, -signal.SIGKILL)
        # Each entry is the previous export or the new one, complete.
        names = [e.tensor_name for e in tb_config(log_dir).embeddings]
        assert sorted(set(names)) == sorted(names) and "big" in names
        assert set(names) <= {"big", name}
        for entry in names:
            try:
                assert_entry(log_dir, entry, previous, labels)
                assert entry == "big" and (child.exitcode != 0 or not replace)
            except AssertionError:
                assert entry == name
                assert_entry(log_dir, entry, big, [str(i) for i in range(len(big))])
        left += bool(temporaries(log_dir))
    assert left, "no kill landed while the temporaries were being written"

    P.export_projector(log_dir, table_of(3), metadata=labels_of(3), name="next")
    assert temporaries(log_dir) == []
    assert_entry(log_dir, "next", table_of(3), labels_of(3))
    if not replace:
        assert_entry(log_dir, "big", previous, labels)


def _hold_a_temporary(log_dir, ready):
    with _files.locked(log_dir):
        temp = Temporary(os.path.join(log_dir, P.DATA_DIR))
    temp.write(b"half a table")
    ready.set()
    time.sleep(60)


def test_a_live_writers_temporary_is_never_removed(tmp_path):
    log_dir = str(tmp_path)
    P.export_projector(log_dir, table_of(1), name="first")
    ready = FORK.Event()
    writer = FORK.Process(target=_hold_a_temporary, args=(log_dir, ready))
    writer.start()
    try:
        assert ready.wait(20)
        [held] = temporaries(log_dir)
        P.export_projector(log_dir, table_of(2), name="second")
        assert temporaries(log_dir) == [held]
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.join(20)
    P.export_projector(log_dir, table_of(3), name="third")
    assert temporaries(log_dir) == []


def test_temporaries_of_earlier_versions_go_once_their_writer_is_dead(tmp_path):
    log_dir = str(tmp_path)
    P.export_projector(log_dir, table_of(1), name="first")
    gone = FORK.Process(target=int)
    gone.start()
    gone.join()
    data_dir = tmp_path / P.DATA_DIR
    old = time.time() - 3600
    planted = {
        # (file, dead writer, an hour old): removed?
        f"{P.DATA_DIR}/t-abcdef.tensor.bin.tmp-{gone.pid}-0123abcd": True,
        f"{P.CONFIG_NAME}.tmp-{gone.pid}-0123abcd": True,
        f"{P.DATA_DIR}/t-abcdef.metadata.tsv.tmp-{os.getpid()}-0123abcd": False,
        f"{P.DATA_DIR}/notes.txt.tmp-{gone.pid}-0123abcd": False,
        f"t-abcdef.tensor.bin.tmp-{gone.pid}-0123abcd": False,  # Not in projector/.
    }
    for rel in planted:
        (tmp_path / rel).write_bytes(b"x" * 100)
        os.utime(tmp_path / rel, (old, old))
    fresh = data_dir / f"u-abcdef.tensor.tsv.tmp-{gone.pid}-0123abcd"
    fresh.write_bytes(b"x")
    P.export_projector(log_dir, table_of(2), name="second")
    for rel, removed in planted.items():
        assert os.path.exists(tmp_path / rel) != removed, rel
    assert fresh.exists()


# ------------------------------------------------------------------- links
def test_replacing_an_entry_never_deletes_through_links(tmp_path):
    log_dir, outside = tmp_path / "logs", tmp_path / "outside"
    (log_dir / P.DATA_DIR).mkdir(parents=True)
    outside.mkdir()
    files = ["secret.txt", "t-abcdef.tensor.bin", "t-abcdef.metadata.tsv"]
    for name in files:
        (outside / name).write_text("precious")
    (log_dir / P.DATA_DIR / "link").symlink_to(outside)
    (log_dir / P.DATA_DIR / "t-fedcba.tensor.bin").symlink_to(outside / "secret.txt")
    shared = log_dir / P.DATA_DIR / "t-012345.tensor.bin"
    shared.write_text("named by an entry that stays")
    # The files of an entry that stays must stay too.
    other = P.export_projector(log_dir, table_of(7), metadata=labels_of(7), name="o")
    planted = [
        ("projector/link/secret.txt", "projector/link/t-abcdef.metadata.tsv"),
        ("projector/t-fedcba.tensor.bin", str(outside / "secret.txt")),
        ("projector/../../outside/secret.txt", "projector/t-../../x.tensor.bin"),
        (os.path.relpath(other.tensor_path, log_dir), "projector/o-abcdef.tensor.bin"),
        ("projector/t-012345.tensor.bin", "projector/t-543210.metadata.tsv"),
    ]
    text = "".join(
        f'embeddings {{\n  tensor_name: "t"\n  tensor_path: "{tensor}"\n'
        f'  metadata_path: "{metadata}"\n}}\n'
        for tensor, metadata in planted
    )
    text += 'embeddings {\n  tensor_name: "keep"\n'
    text += '  tensor_path: "projector/t-012345.tensor.bin"\n}\n'
    with open(log_dir / P.CONFIG_NAME, "a") as f:
        f.write(text)

    P.export_projector(log_dir, table_of(8), metadata=labels_of(8), name="t")
    assert [e.tensor_name for e in tb_config(log_dir).embeddings] == ["o", "keep", "t"]
    assert shared.read_text() == "named by an entry that stays"
    for name in files:
        assert (outside / name).read_text() == "precious"
    assert (log_dir / P.DATA_DIR / "t-fedcba.tensor.bin").is_symlink()
    assert_entry(log_dir, "o", table_of(7), labels_of(7))
    assert_entry(log_dir, "t", table_of(8), labels_of(8))


def test_a_linked_data_directory_is_never_deleted_from(tmp_path):
    log_dir, outside = tmp_path / "logs", tmp_path / "outside"
    log_dir.mkdir()
    outside.mkdir()
    (log_dir / P.DATA_DIR).symlink_to(outside)
    first = P.export_projector(log_dir, table_of(1), name="t")
    P.export_projector(log_dir, table_of(2), name="t")
    # The first export's files are reached only through the link: kept.
    assert os.path.exists(first.tensor_path)
    assert os.path.exists(first.metadata_path)


def test_refresh_never_deletes_through_a_link(tmp_path):
    log_dir, outside = tmp_path / "logs", tmp_path / "outside"
    log_dir.mkdir()
    (outside / "abcdef12").mkdir(parents=True)
    (outside / "abcdef12" / "events.out.tfevents.1.keras_embedx").write_text("x")
    (log_dir / P.REFRESH_DIR).symlink_to(outside)
    P.export_projector(log_dir, table_of(1), name="t", refresh=True)
    assert (outside / "abcdef12" / "events.out.tfevents.1.keras_embedx").exists()
    # In a real refresh directory, a run holding anything else stays too.
    (log_dir / P.REFRESH_DIR).unlink()
    (log_dir / P.REFRESH_DIR / "abcdef12").mkdir(parents=True)
    (log_dir / P.REFRESH_DIR / "abcdef12" / "notes.txt").write_text("mine")
    P.export_projector(log_dir, table_of(1), name="t", refresh=True)
    P.export_projector(log_dir, table_of(1), name="t", refresh=True)
    runs = sorted(os.listdir(log_dir / P.REFRESH_DIR))
    assert len(runs) == 2 and "abcdef12" in runs
    assert (log_dir / P.REFRESH_DIR / "abcdef12" / "notes.txt").read_text() == "mine"


# ---------------------------------------------------------- name collisions
@pytest.mark.parametrize(
    "first, second, third, tensor_name",
    [
        ("my model", "my_model", "my\tmodel", "my_model"),
        ("日本語", "中文", "한국어", "_"),
    ],
)
def test_names_that_map_to_one_tensor_name_are_both_kept(
    tmp_path, first, second, third, tensor_name
):
    a = P.export_projector(tmp_path, table_of(1), metadata=labels_of(1), name=first)
    with pytest.warns(UserWarning, match=f"Exported `name={second!r}` as") as seen:
        b = P.export_projector(
            tmp_path, table_of(2), metadata=labels_of(2), name=second
        )
    assert seen[0].filename == __file__  # The warning names the caller's line.
    assert (a.name, b.name) == (tensor_name, f"{tensor_name}-2")
    assert_entry(tmp_path, a.name, table_of(1), labels_of(1))
    assert_entry(tmp_path, b.name, table_of(2), labels_of(2))

    # A re-export of the same name still replaces its own entry, silently.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a2 = P.export_projector(
            tmp_path, table_of(3), metadata=labels_of(3), name=first
        )
        b2 = P.export_projector(
            tmp_path, table_of(4), metadata=labels_of(4), name=second
        )
    assert (a2.name, b2.name) == (a.name, b.name)
    assert len(tb_config(tmp_path).embeddings) == 2
    assert_entry(tmp_path, a.name, table_of(3), labels_of(3))
    assert_entry(tmp_path, b.name, table_of(4), labels_of(4))
    for gone in (a, b):
        assert not os.path.exists(gone.tensor_path)
        assert not os.path.exists(gone.metadata_path)

    with pytest.raises(ValueError, match="under another name than"):
        P.export_projector(tmp_path, table_of(5), name=third, if_exists="error")
    with pytest.raises(ValueError, match="already has an embedding named"):
        P.export_projector(tmp_path, table_of(5), name=second, if_exists="error")
