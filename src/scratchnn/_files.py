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
    writing removes the temporary file and leaves ``path`` as it was, or absent.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "xb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())  # the data is on disk before the name points at it
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
