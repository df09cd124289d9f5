"""The export directory: its lock, atomic writes, and which files may go."""

import contextlib
import functools
import os
import re
import time

from keras_embedx import _atomic
from keras_embedx._atomic import fcntl  # None off POSIX: `locked` uses a lock file.
from keras_embedx.projector._config import CONFIG_NAME

DATA_DIR = "projector"
LOCK_NAME = ".lock"

# Temporaries of earlier versions (`<final name>.tmp-<pid>-<token>`), unlocked.
_OLD_TEMP_RE = re.compile(r"(?P<final>.+)\.tmp-(?P<pid>[0-9]+)-[0-9a-f]{8}")
_OLD_TEMP_AGE = 60.0
# A data file after `<stem>-`: the key of the requested name, then a token.
_DATA_SUFFIX_RE = re.compile(
    r"(?:(?P<key>[0-9a-f]{8})-)?[0-9a-f]{6}\.(?:tensor\.bin|tensor\.tsv|metadata\.tsv)"
)
_DATA_FILE_RE = re.compile(r"[A-Za-z0-9_.-]+-" + _DATA_SUFFIX_RE.pattern)
_LOCK_WAIT = 60.0


def prepare_dir(log_dir):
    log_dir = os.fspath(log_dir)
    if os.path.exists(log_dir) and not os.path.isdir(log_dir):
        raise NotADirectoryError(
            f"`log_dir` must be a directory. Received: log_dir={log_dir!r}, which "
            "is a file."
        )
    try:
        os.makedirs(os.path.join(log_dir, DATA_DIR), exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        raise NotADirectoryError(
            f"Cannot create `log_dir`={log_dir!r}: {e.filename!r} is a file, not "
            "a directory."
        ) from None
    except OSError as e:
        raise PermissionError(
            f"Cannot write to `log_dir`={log_dir!r}: {e.strerror or e}. Choose a "
            "writable directory."
        ) from None


@contextlib.contextmanager
def locked(log_dir):
    """Hold `log_dir`'s export lock, across processes and threads.

    `flock` on `log_dir/projector/.lock` (released by the kernel when its
    holder dies); where `flock` is missing, a lock file created exclusively
    and removed on release.
    """
    path = os.path.join(log_dir, DATA_DIR, LOCK_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | _atomic.NOFOLLOW, 0o666)
    try:
        if fcntl is not None and _atomic.flock(fd, blocking=True):
            yield
        else:
            with _lock_file(f"{path}-held", log_dir):
                yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _lock_file(path, log_dir):
    deadline = time.monotonic() + _LOCK_WAIT
    while True:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{path} has been held for {_LOCK_WAIT:.0f} s: another export "
                    f"into {log_dir} is running, or one was killed while holding "
                    "it. Remove the file if no export is running."
                ) from None
            time.sleep(0.01)
    try:
        yield
    finally:
        os.remove(path)


def write_error(path, e):
    return PermissionError(
        f"Cannot write {path}: {e.strerror or e}. Choose a writable `log_dir`."
    )


def atomic_write(path, data):
    """Write `path` through a temporary renamed into place (call under `locked`)."""
    try:
        with _atomic.Temporary(os.path.dirname(path) or ".") as tmp:
            tmp.write(data)
            tmp.commit(path)
    except OSError as e:
        raise write_error(path, e) from None


def remove_stale_temporaries(log_dir):
    """Delete the temporaries killed exporters left (call under `locked`).

    Only names of the shapes this module writes, in `log_dir` and
    `log_dir/projector`, regular files, whose writer is dead (see
    `keras_embedx._atomic`); an unlocked temporary of an earlier version
    counts only when its process is gone and it is a minute old.
    """
    config = functools.partial(_old_and_dead, re.compile(re.escape(CONFIG_NAME)))
    _atomic.remove_stale_temporaries(log_dir, also=config)
    data = functools.partial(_old_and_dead, _DATA_FILE_RE)
    _atomic.remove_stale_temporaries(
        os.path.join(log_dir, DATA_DIR), follow=False, also=data
    )


def _old_and_dead(finals, directory, name):
    """True for a temporary of an earlier version for a name `finals` matches."""
    old = _OLD_TEMP_RE.fullmatch(name)
    if old is None or not finals.fullmatch(old["final"]):
        return False
    try:
        age = time.time() - directory.lstat(name).st_mtime
    except OSError:
        return False
    return age > _OLD_TEMP_AGE and _atomic.pid_is_dead(int(old["pid"]))


def own_file(tensor_name, rel):
    """`(file name, name key)` when the path `rel` of the entry `tensor_name`
    names a file this module wrote.

    That is `projector/<stem>-[<name key>-]<token>.<kind>`, with `<stem>` the
    tensor name (`/` as `_`); anything else (another tool's file, a
    subdirectory, `..`, an absolute path) gives None.
    """
    stem = tensor_name.replace("/", "_")
    prefix = f"{DATA_DIR}/{stem}-"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", stem) or not rel.startswith(prefix):
        return None
    match = _DATA_SUFFIX_RE.fullmatch(rel[len(prefix) :])
    if match is None:
        return None
    return rel[len(DATA_DIR) + 1 :], match["key"]


def remove_own_files(log_dir, entries, in_use):
    """Delete the files of the replaced `entries` (`EmbeddingInfo` protos)
    that this module wrote.

    A file goes only when its path has the shape this module writes for that
    entry's name (`projector/<stem>-...` with no other directory), no entry
    still names it, and it is a regular file reached without a link.
    """
    names = []
    for entry in entries:
        for rel in (entry.tensor_path, entry.metadata_path):
            own = own_file(entry.tensor_name, rel)
            if own is not None and rel not in in_use:
                names.append(own[0])
    if not names:
        return
    try:
        with _atomic.Directory(os.path.join(log_dir, DATA_DIR)) as directory:
            for name in names:
                directory.remove_file(name)
    except OSError:
        pass
