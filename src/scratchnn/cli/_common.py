"""What every part of the command line shares: the usage error, printing, fixed settings."""

from __future__ import annotations

import sys

from ..layers import ACTIVATION_LAYERS

_TASKS = ("classification", "regression")
_ACTIVATIONS = sorted(set(ACTIVATION_LAYERS) - {"softmax", "identity", "linear"})
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_SPLIT_SEED = 0  # the train/test split never moves, whatever --seed, so runs compare fairly
_TEST_FRACTION = 0.2
_OWN_SPLIT = "the files' own train and test sets"


class UsageError(ValueError):
    """A bad option value: reported like argparse's own errors, with exit code 2."""


def _say(*parts):
    print(*parts, file=sys.stdout)


def _describe(exc):
    """The sentence of an error; an OSError's "[Errno 13] Permission denied: 'x'" in words."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc)


def _error(message):
    print(" ".join(str(message).split()), file=sys.stderr)
