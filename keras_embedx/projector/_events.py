"""The event files that make an export directory a TensorBoard run."""

import io
import os
import re
import secrets
import stat
import time

from keras_embedx import _atomic
from keras_embedx.projector import _files
from keras_embedx.projector._tensorboard import require

REFRESH_DIR = ".projector-refresh"
# The event file that makes `log_dir` a run. The `0` sorts it before every
# event file a summary writer names by its start time, so TensorBoard's
# Python reader (one file at a time, in name order) never leaves a writer's
# file for it.
RUN_MARKER = "events.out.tfevents.0.keras_embedx"
_REFRESH_RUN_RE = re.compile(r"[0-9a-f]{8}")
_EVENT_FILE_RE = re.compile(r"events\.out\.tfevents\.[0-9]+\.keras_embedx")


def event_file_bytes(wall_time=None):
    """A TensorBoard event file holding one `Event{wall_time, file_version}`.

    The event is tensorboard's `Event` proto, framed by tensorboard's
    `RecordWriter` (the TFRecord framing its `EventFileWriter` uses); neither
    imports TensorFlow.
    """
    tb = require()
    wall_time = time.time() if wall_time is None else float(wall_time)
    event = tb.Event(wall_time=wall_time, file_version="brain.Event:2")
    out = io.BytesIO()
    tb.RecordWriter(out).write(event.SerializeToString())
    return out.getvalue()


def mark_run(log_dir):
    """Make `log_dir` a run TensorBoard finds from any parent `--logdir`.

    TensorBoard lists a directory as a run only when it holds a non-empty
    event file, and reads projector configs of runs (and of the `--logdir`
    root) only. This writes `RUN_MARKER`, one data-less event, once per
    directory, and leaves every other file alone. Call it after the exports:
    a TensorBoard that sees the new run then sees all of its entries.
    """
    path = os.path.join(log_dir, RUN_MARKER)
    data = event_file_bytes()
    try:
        with _files.locked(log_dir):
            try:
                st = os.stat(path, follow_symlinks=False)
                if stat.S_ISREG(st.st_mode) and st.st_size == len(data):
                    return
            except FileNotFoundError:
                pass
            _files.atomic_write(path, data)
    except OSError as e:
        if e.errno is None:  # Already says what failed.
            raise
        raise _files.write_error(e.filename or path, e) from None


def signal_refresh(log_dir):
    """Make a running TensorBoard re-read `projector_config.pbtxt`.

    The Projector re-reads configs only when the set of runs changes, so
    this replaces the run `.projector-refresh/<token>` (one event file, no
    data) by a new one. Best effort: failures are ignored. Only runs of the
    shape written here are removed, never through a link.
    """
    base = os.path.join(log_dir, REFRESH_DIR)
    try:
        with _files.locked(log_dir):
            os.makedirs(base, exist_ok=True)
            with _atomic.Directory(base) as runs:
                old = [n for n in runs.names() if _REFRESH_RUN_RE.fullmatch(n)]
                run = os.path.join(base, secrets.token_hex(4))
                os.makedirs(run)
                stamp = time.time()
                path = os.path.join(
                    run, f"events.out.tfevents.{int(stamp)}.keras_embedx"
                )
                _files.atomic_write(path, event_file_bytes(stamp))
                for name in old:
                    _remove_refresh_run(runs, name)
    except OSError:
        pass


def _remove_refresh_run(runs, name):
    """Delete the run `name` if it holds only files written here."""
    try:
        run = runs.sub(name)
    except OSError:
        return
    with run:
        names = run.names()
        if not all(
            _EVENT_FILE_RE.fullmatch(n) or _atomic.TEMP_NAME.fullmatch(n) for n in names
        ):
            return
        for n in names:
            if _EVENT_FILE_RE.fullmatch(n):
                run.remove_file(n)
            else:
                _atomic.remove_if_stale(run, n)
    runs.remove_dir(name)
