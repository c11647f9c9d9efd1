"""Writing files so that a failure never leaves a half-written one behind.

``atomic_write(path)`` writes a temporary file beside the target and renames it over the target;
``replaced_together()`` defers those renames so that several files (a training run's model,
history and curves) are replaced together or not at all.

Temporary files are named ``.{name}.{12 hex digits}.tmp`` and are locked (``flock``) while they
are written. A process killed during a save leaves its temporary behind; the next write to the
same target removes every such temporary of that target that is at least ``_STALE_AFTER``
seconds old and that no process holds locked. The lock, not a process id in the name, says
that a writer is alive: it is released by the kernel when the writer dies, whatever its pid
namespace or host (flock works over NFS on Linux). Where there is no ``fcntl`` (Windows), an
open file cannot be removed anyway, so age alone decides.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import re
import stat
import time
import uuid
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

_STALE_AFTER = 10.0  # seconds; a writer locks its temporary microseconds after creating it
_PENDING = contextvars.ContextVar("scratchnn_pending_replacements", default=None)


@contextlib.contextmanager
def atomic_write(path):
    """Open a new temporary file beside ``path`` for binary writing; on success it replaces
    ``path``.

    The new content appears all at once through ``os.replace``, which is atomic within one file
    system (hence the temporary file in the same folder rather than in /tmp). An exception while
    writing removes the temporary file and leaves ``path`` as it was, or absent. An OSError names
    ``path`` ("cannot write PATH: Is a directory"), never the temporary file.

    Only regular files are replaced. A symbolic link is followed: its target gets the new
    content and the link stays. A character device or a FIFO (``/dev/null``, a named pipe) is
    written straight into, without a temporary file: there is nothing to replace atomically. A
    directory, block device or socket is refused. Inside ``replaced_together()`` the rename
    waits for the end of that block.
    """
    path = Path(path)
    try:
        target = Path(os.path.realpath(path))  # follows every link, also a dangling one
        mode = _mode(target)
    except OSError as exc:
        raise _naming(exc, path) from None
    if mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        try:
            with open(target, "wb") as fh:
                yield fh
        except OSError as exc:
            raise _naming(exc, path) from None
        return
    if mode is not None and not stat.S_ISREG(mode):
        raise _not_a_file(path, mode)

    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    pending = _PENDING.get()
    fh = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target)
        fh = open(tmp, "xb")
        _lock(fh)
        yield fh
        fh.flush()
        os.fsync(fh.fileno())  # the data is on disk before the name points at it
        if pending is not None:
            pending.append((fh, tmp, target, path))  # still open: the lock says it is alive
            fh = None
        else:
            _replace(tmp, target, path)
    except BaseException as exc:
        if fh is not None:
            fh.close()
            fh = None
        # After a failed mkdir or open there is nothing to remove, maybe not even a folder.
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.strerror:
            raise _naming(exc, path) from None
        raise
    finally:
        if fh is not None:
            fh.close()


@contextlib.contextmanager
def replaced_together():
    """Within this block, every ``atomic_write`` writes its temporary file but replaces its
    target only when the block ends without an error, all of them one after the other; on an
    error, or Ctrl-C, no target is replaced and the temporaries are removed.

    Every file is complete and on disk before the first rename, so what remains that can fail
    between renames is the rename itself (within one folder: practically only a vanished disk).
    Writes into a device or FIFO happen at once, as outside the block. Nested blocks join the
    outer one.
    """
    if _PENDING.get() is not None:
        yield
        return
    pending = []
    token = _PENDING.set(pending)
    try:
        yield
    except BaseException:
        _discard(pending)
        raise
    finally:
        _PENDING.reset(token)
    try:
        while pending:
            fh, tmp, target, shown = pending[0]
            try:
                _replace(tmp, target, shown)
            except OSError as exc:
                raise _naming(exc, shown) from None
            pending.pop(0)
            fh.close()
    finally:
        _discard(pending)


def remove_stale_temporaries(target, pattern=None, min_age=_STALE_AFTER):
    """Remove the abandoned temporaries of ``target`` (see the module's docstring); returns
    how many. Only files named as ``atomic_write`` names them (or as ``pattern``, a compiled
    regular expression for names beside ``target``, says), never anything else. Downloads use
    it for their ``.part`` files with ``min_age=0``: their writer locks before writing."""
    target = Path(target)
    if pattern is None:
        pattern = re.compile(rf"\.{re.escape(target.name)}\.[0-9a-f]{{12}}\.tmp")
    removed = 0
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return 0
    for entry in entries:
        if pattern.fullmatch(entry.name) and _remove_if_stale(entry.path, min_age):
            removed += 1
    return removed


def _remove_if_stale(name, min_age):
    try:
        before = os.lstat(name)
        if not stat.S_ISREG(before.st_mode) or time.time() - before.st_mtime < min_age:
            return False
        if fcntl is None:
            if not min_age:
                return False  # without locks only age tells an abandoned file, and none was set
            os.unlink(name)
            return True
        # O_NOFOLLOW and O_NONBLOCK: a link or FIFO put there under that name is not opened.
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
            return False
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: a writer holds it
        os.unlink(name)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _lock(fh):
    if fcntl is not None:
        with contextlib.suppress(OSError):  # a file system without locks: age alone decides
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _replace(tmp, target, shown):
    mode = _mode(target)
    if mode is not None and not stat.S_ISREG(mode):  # it changed while we were writing
        raise _not_a_file(shown, mode)
    os.replace(tmp, target)


def _discard(pending):
    for fh, tmp, _, _ in pending:
        fh.close()
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    pending.clear()


def _mode(path):
    """``st_mode`` of ``path`` (links followed), or None if nothing is there."""
    try:
        return os.stat(path).st_mode
    except FileNotFoundError:
        return None


def _not_a_file(path, mode):
    if stat.S_ISDIR(mode):
        return IsADirectoryError(errno.EISDIR, f"cannot write {path}: Is a directory")
    kind = "a block device" if stat.S_ISBLK(mode) else (
        "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    return OSError(errno.EINVAL, f"cannot write {path}: it is {kind}, which is never replaced")


def _naming(exc, path):
    """The OSError ``exc`` naming ``path`` instead of a temporary name."""
    if not exc.strerror or str(path) in exc.strerror:
        return exc
    # OSError(errno, ...) builds the matching subclass (PermissionError...), without the
    # temporary name the original carries.
    return OSError(exc.errno, f"cannot write {path}: {exc.strerror}")
