"""Writing files so that a failure never leaves a half-written one behind."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path):
    """Open a new temporary file beside ``path`` for binary writing; on success it replaces
    ``path``.

    The new content appears all at once through ``os.replace``, which is atomic within one file
    system (hence the temporary file in the same folder rather than in /tmp). An exception while
    writing removes the temporary file and leaves ``path`` as it was, or absent. An OSError names
    ``path`` ("cannot write PATH: Is a directory"), never the temporary file.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())  # the data is on disk before the name points at it
        os.replace(tmp, path)
    except BaseException as exc:
        # After a failed mkdir or open there is nothing to remove, maybe not even a folder.
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.strerror:
            # OSError(errno, ...) builds the matching subclass (PermissionError...), without
            # the temporary name the original carries.
            raise OSError(exc.errno, f"cannot write {path}: {exc.strerror}") from None
        raise
