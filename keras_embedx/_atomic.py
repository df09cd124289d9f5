"""Atomic file writes, and the removal of what killed writers left.

A file is written to a temporary in its directory, flushed to disk and renamed
over its final name (`Temporary`): readers, and a writer killed at any moment,
see the previous file or the new one, never a part. Concurrent writers
(threads or processes) each write their own temporary; the last rename wins.

A temporary is named `.keras_embedx-tmp-HOST-PID-TOKEN` and holds an exclusive
`flock` for as long as its writer lives (the kernel releases it when the
writer dies, in whatever PID namespace or container it ran), so a temporary
whose lock is free belongs to a dead writer (`remove_stale_temporaries`).
Where `flock` is unavailable, a temporary counts as dead only when HOST names
this machine and no process PID exists. Standard library only.
"""

import contextlib
import os
import re
import secrets
import socket
import stat
import zlib

try:
    import fcntl
except ImportError:  # Windows: no flock; liveness by PID where it can be told.
    fcntl = None

TEMP_PREFIX = ".keras_embedx-tmp-"
TEMP_NAME = re.compile(
    r"\.keras_embedx-tmp-(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-[0-9a-f]{16}"
)
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def flock(fd, blocking):
    """`flock` `fd` exclusively: True when locked, False where unsupported.

    Raises `BlockingIOError` when `blocking=False` and another open file
    (another process or thread) holds the lock.
    """
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        raise
    except OSError:  # A file system without flock.
        return False
    return True


def pid_is_dead(pid):
    """True only when no process `pid` exists on this machine (POSIX)."""
    if os.name == "nt" or pid <= 0 or pid == os.getpid():
        return False  # Off POSIX, os.kill would end the process.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: another user's, alive.
        pass
    return False


def _host_tag():
    """8 hex digits naming this machine, so that a temporary in a shared
    (network) directory is never judged by the processes of another one."""
    return format(zlib.crc32(socket.gethostname().encode()), "08x")


def sync_directory(folder):
    """Make a rename in `folder` durable (POSIX; a no-op elsewhere)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Temporary:
    """A new temporary file in `directory`, locked while its writer lives.

    Write to `file` (or `write`), then `commit` it over the final path;
    `discard` (or leaving a `with` block) removes it unless committed.

    Args:
        directory: str, the directory of the final file.
    """

    def __init__(self, directory):
        prefix = f"{TEMP_PREFIX}{_host_tag()}-{os.getpid()}-"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | _BINARY
        while True:
            self.path = os.path.join(directory, prefix + secrets.token_hex(8))
            try:
                fd = os.open(self.path, flags, 0o666)
            except FileExistsError:
                continue
            self.file = os.fdopen(fd, "wb")
            if not flock(fd, blocking=True) or self._still_named():
                return
            self.file.close()  # Removed as stale before its lock: again.

    def _still_named(self):
        with contextlib.suppress(FileNotFoundError):
            st = os.stat(self.path, follow_symlinks=False)
            return os.path.samestat(st, os.fstat(self.file.fileno()))
        return False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.discard()

    def write(self, data=b""):
        """Write all of `data` and flush the file to disk."""
        self.file.write(data)
        self.file.flush()
        os.fsync(self.file.fileno())

    def commit(self, path):
        """Flush to disk and rename over `path`, with the mode of the file it
        replaces (else the default for new files), durably."""
        self.write()
        with contextlib.suppress(OSError):  # No file to replace yet.
            os.chmod(self.path, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(self.path, path)
        self.path = None
        self.file.close()  # The lock goes with the file until here.
        sync_directory(os.path.dirname(path) or ".")

    def discard(self):
        self.file.close()
        if self.path is not None:
            with contextlib.suppress(OSError):
                os.remove(self.path)
            self.path = None


class Directory:
    """A directory opened without following a link, for deleting inside it.

    Names are bare file names looked up relative to the directory's file
    descriptor, so nothing resolves through a link swapped in meanwhile.
    Where the OS has no `dir_fd`, paths are checked with `lstat` instead.

    Args:
        path: str, the directory.
        follow: bool, whether `path` itself may be a link.
        parent: a `Directory` that `path` is a name in, or `None`.
    """

    def __init__(self, path, follow=False, parent=None):
        self.path, self.fd = path, None
        if os.unlink in os.supports_dir_fd:
            flags = os.O_RDONLY | os.O_DIRECTORY | (0 if follow else NOFOLLOW)
            if parent is None:
                self.fd = os.open(path, flags)
            else:
                self.fd = os.open(os.path.basename(path), flags, dir_fd=parent.fd)
        elif not os.path.isdir(path) or (not follow and os.path.islink(path)):
            raise NotADirectoryError(f"{path} is not a directory")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)

    def _at(self, name):
        if self.fd is not None:
            return name, {"dir_fd": self.fd}
        return os.path.join(self.path, name), {}

    def names(self):
        return os.listdir(self.path if self.fd is None else self.fd)

    def lstat(self, name):
        path, kwargs = self._at(name)
        return os.stat(path, follow_symlinks=False, **kwargs)

    def open(self, name, flags=os.O_RDONLY):
        path, kwargs = self._at(name)
        return os.open(path, flags | NOFOLLOW, **kwargs)

    def sub(self, name):
        return Directory(os.path.join(self.path, name), parent=self)

    def remove_file(self, name):
        """Delete `name` if it is a regular file (a link is never followed)."""
        try:
            if stat.S_ISREG(self.lstat(name).st_mode):
                path, kwargs = self._at(name)
                os.unlink(path, **kwargs)
                return True
        except OSError:
            pass
        return False

    def remove_dir(self, name):
        path, kwargs = self._at(name)
        with contextlib.suppress(OSError):
            os.rmdir(path, **kwargs)


def remove_if_stale(directory, name):
    """Delete the temporary `name` in `directory` (a `Directory`) if its writer
    is dead. Returns whether it was deleted."""
    match = TEMP_NAME.fullmatch(name)
    try:
        st = directory.lstat(name)
        if match is None or not stat.S_ISREG(st.st_mode):
            return False
        fd = directory.open(name)
    except OSError:
        return False
    try:
        if not flock(fd, blocking=False):
            host, pid = match["host"], int(match["pid"])
            if host != _host_tag() or not pid_is_dead(pid):
                return False
        # Deleted while locked: a writer that locks it next sees it is gone.
        return os.path.samestat(st, os.fstat(fd)) and directory.remove_file(name)
    except OSError:  # Locked: its writer is alive.
        return False
    finally:
        os.close(fd)


def remove_stale_temporaries(path, follow=True, also=None):
    """Delete the temporaries that dead writers left in the directory `path`.

    Only regular files named like `Temporary`'s, whose writer is dead; a live
    writer's temporary is never touched.

    Args:
        path: str, the directory.
        follow: bool, whether `path` itself may be a link.
        also: `None`, or a callable `(directory, name) -> bool` that says
            which other files to delete (regular files only); `directory`
            is `path` as a `Directory`.

    Returns:
        The number of files deleted.
    """
    try:
        directory = Directory(path, follow=follow)
    except OSError:
        return 0
    removed = 0
    with directory:
        for name in directory.names():
            if name.startswith(TEMP_PREFIX):
                removed += remove_if_stale(directory, name)
            elif also is not None and also(directory, name):
                removed += directory.remove_file(name)
    return removed
