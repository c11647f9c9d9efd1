"""Data sets: scikit-learn's digits, MNIST-style files (IDX or CSV) and their download, user CSVs.

Every loader returns float32 features and int64 labels, ready for ``MultiLayerNetwork.fit``:

* ``load_digits()`` -- the 1,797 8x8 digits scikit-learn ships, so it needs no network.
* ``load_mnist(path)`` -- MNIST, Fashion-MNIST or KMNIST from the files users have: the four IDX
  files (gzipped or not) or the CSV files ``mnist_train.csv`` / ``mnist_test.csv``.
* ``download_mnist(dest)`` -- fetches the four IDX files once, checks their MD5 and caches them.
* ``load_csv(path, target=...)`` -- a user's own table with numeric and categorical columns.
* ``load_housing()`` -- the California housing table shipped with scratchnn (``HOUSING_CSV``),
  so the regression examples need no download.

Nothing here ever unpickles: IDX files are parsed from their documented header and CSV files by
pandas' text parser.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import math
import os
import re
import socket
import tempfile
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._files import remove_stale_temporaries
from ._validation import as_labels

try:
    import fcntl
except ImportError:  # Windows: stale download temporaries are not detected there
    fcntl = None

__all__ = [
    "HOUSING_CSV",
    "MNIST_FILES",
    "MNIST_SOURCES",
    "DataSplit",
    "DownloadError",
    "MnistData",
    "TabularData",
    "download_mnist",
    "load_csv",
    "load_digits",
    "load_housing",
    "load_mnist",
    "read_idx",
]


class DataSplit(NamedTuple):
    """Samples and their labels; unpacks as ``X, y = split``.

    X: (n, n_features) float32 in [0, 1] (or (n, rows, cols) when not flattened); y: (n,) int64.
    """

    X: np.ndarray
    y: np.ndarray


class MnistData(NamedTuple):
    """Training and test parts; unpacks as ``(X_train, y_train), (X_test, y_test) = data``."""

    train: DataSplit
    test: DataSplit


# -- scikit-learn's digits ------------------------------------------------------------------------
def load_digits(*, return_images=False):
    """The 1,797 handwritten digits bundled with scikit-learn (no network needed).

    Returns a ``DataSplit``: X (1797, 64) float32 pixels scaled from 0..16 to [0, 1], row-major
    8x8; y (1797,) int64 labels 0..9. With ``return_images=True`` X is (1797, 1, 8, 8) instead:
    one-channel images (batch, channels, height, width), as a ``Conv2D`` takes them.
    """
    table = _sklearn_digits_table()
    X = table[:, :64].astype(np.float32) / np.float32(16)
    if return_images:
        X = X.reshape(len(X), 1, 8, 8)
    return DataSplit(X, table[:, 64].astype(np.int64))


def _sklearn_digits_table():
    """scikit-learn's digits as (1797, 65) ints: 64 pixels, then the label. Read from the file
    scikit-learn ships, found without importing it (``import sklearn.datasets`` takes 1-2 s, which
    was most of ``scratchnn train --data digits``); through scikit-learn if the file moved."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    path = (Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
            if spec is not None and spec.origin else None)
    if path is not None and path.is_file():
        with gzip.open(path, "rt") as fh:
            table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
        if table.shape == (1797, 65):
            return table
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    return np.column_stack([bunch.data.astype(np.int64), bunch.target])


# -- files ----------------------------------------------------------------------------------------
def _existing_file(path, what="file"):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No {what} at {path}.")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; a {what} is needed here.")
    return path


def _is_gzip(path):
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _open_data(path):
    """``path`` opened for reading bytes, gunzipped when it is gzip -- told by its magic bytes,
    not its name."""
    return (gzip.open if _is_gzip(path) else open)(path, "rb")


_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def _damaged_gzip(path, exc):
    return ValueError(f"{path} is a damaged or truncated gzip file ({exc}).")


# -- IDX ------------------------------------------------------------------------------------------
# The third byte of an IDX magic number is the element type; big-endian, as the format specifies.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049  # unsigned bytes with 3 dimensions / with 1 dimension
_IDX_MAX_DIMS = 32  # the most NumPy takes everywhere; MNIST files have 1 or 3
_READ_CHUNK = 1 << 22
_EXTRA_SHOWN = 1 << 20  # how far past the announced data a gzip file is read to count the excess


def _idx_magic(data):
    return int.from_bytes(data[:4], "big") if len(data) >= 4 else None


def _peek_magic(path):
    """The IDX magic number at the start of the (maybe gzipped) file, or None."""
    try:
        with _open_data(path) as f:
            return _idx_magic(f.read(4))
    except _GZIP_ERRORS as exc:
        raise _damaged_gzip(path, exc) from None


def _check_idx_magic(head, path):
    magic = _idx_magic(head)
    if magic is None or head[:2] != b"\0\0" or head[2] not in _IDX_DTYPES or head[3] == 0:
        shown = "too short to hold one" if magic is None else f"0x{magic:08x}"
        raise ValueError(
            f"{path} is not an IDX file: its magic number is {shown} (expected 0x0000TTDD, "
            "TT the element type, DD the number of dimensions)."
        )
    if head[3] > _IDX_MAX_DIMS:
        raise ValueError(
            f"{path} announces {head[3]} dimensions in its magic number 0x{magic:08x}; an IDX "
            f"file readable here has at most {_IDX_MAX_DIMS}."
        )


def _read_announced(f, nbytes):
    """Up to ``nbytes`` from ``f``, read in chunks: the memory taken grows with what the file
    really holds, never with what a (maybe lying) header announces."""
    data = bytearray()
    while len(data) < nbytes:
        chunk = f.read(min(_READ_CHUNK, nbytes - len(data)))
        if not chunk:
            break
        data += chunk
    return data


def _read_idx_file(path, check_magic=None):
    """Header first, then exactly the bytes it announces and never more: a gzip file that
    inflates to far more than its header says is refused after reading a little past it.

    ``check_magic(magic)`` runs before any data is read (the MNIST loaders check the kind).
    """
    try:
        with _open_data(path) as f:
            head = f.read(4)
            if check_magic is not None:
                check_magic(_idx_magic(head))
            _check_idx_magic(head, path)
            ndim = head[3]
            dims = f.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise ValueError(
                    f"{path} is truncated: it ends inside its {ndim}-dimension header."
                )
            shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
            dtype = np.dtype(_IDX_DTYPES[head[2]])
            expected = math.prod(shape) * dtype.itemsize
            data = _read_announced(f, expected)
            if len(data) < expected:
                raise ValueError(
                    f"{path} is truncated: its header announces shape {shape} ({expected} bytes "
                    f"of data) but only {len(data)} bytes follow. Download the file again."
                )
            extra = len(f.read(_EXTRA_SHOWN))
    except _GZIP_ERRORS as exc:
        raise _damaged_gzip(path, exc) from None
    if extra:
        more = f"at least {extra}" if extra == _EXTRA_SHOWN else str(extra)
        raise ValueError(
            f"{path} is damaged: it holds {more} bytes more than its header announces for "
            f"shape {shape}."
        )
    try:  # a zero-length dimension beside huge ones passes the size checks above
        array = np.frombuffer(data, dtype=dtype).reshape(shape)
    except ValueError as exc:
        raise ValueError(
            f"{path} announces shape {shape}, which NumPy cannot hold ({exc})."
        ) from None
    if not dtype.isnative:  # swapped in place: no second copy of a large file
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array


def read_idx(path):
    """Any IDX file (gzipped or not) as a native-endian ndarray of the shape in its header.

    The data is read in chunks up to the size its header announces, so a small gzip file that
    inflates to gigabytes costs no more than the announced size. Raises ValueError for a file
    that is not IDX, is truncated, or has bytes past its data.
    """
    return _read_idx_file(_existing_file(path, "IDX file"))


def _read_mnist_idx(path, kind):
    """An MNIST images (kind="images") or labels file, its magic number checked first."""
    expected, other = (
        (_IMAGES_MAGIC, "labels") if kind == "images" else (_LABELS_MAGIC, "images")
    )

    def check(magic):
        if magic != expected:
            hint = ""
            if magic == (_LABELS_MAGIC if kind == "images" else _IMAGES_MAGIC):
                hint = f" It is an IDX {other} file: were the file names swapped?"
            raise ValueError(
                f"{path} should be an IDX {kind} file with magic number {expected}, but its "
                f"magic number is {magic}.{hint}"
            )

    return _read_idx_file(path, check)


def _load_idx_pair(images_path, labels_path, flatten):
    images = _read_mnist_idx(images_path, "images")
    labels = _read_mnist_idx(labels_path, "labels")
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path.name} holds {len(images)} images but {labels_path.name} holds "
            f"{len(labels)} labels; they must match."
        )
    X = images.astype(np.float32) / np.float32(255)
    if flatten:
        X = X.reshape(len(X), -1)
    return DataSplit(X, labels.astype(np.int64))


# -- CSV ------------------------------------------------------------------------------------------
_MAX_CSV_LINE = 1 << 20  # an MNIST row is about 2 KB; a line of a megabyte is no table's


class _LineTooLong(ValueError):
    pass


class _LineLimited(io.RawIOBase):
    """The bytes of a (maybe gzipped) file, refusing a line longer than ``_MAX_CSV_LINE``: a
    gzip bomb without newlines would otherwise be inflated whole into one line by the reader."""

    def __init__(self, raw, path):
        self._raw, self._path, self._run = raw, path, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = self._raw.readinto(buffer)
        if n:
            last = bytes(memoryview(buffer)[:n]).rfind(b"\n")
            self._run = self._run + n if last < 0 else n - last - 1
            if self._run > _MAX_CSV_LINE:
                raise _LineTooLong(
                    f"{self._path} has a line longer than {_MAX_CSV_LINE} bytes, so it is not a "
                    "CSV table (or it is damaged)."
                )
        return n

    def close(self):
        self._raw.close()
        super().close()


def _open_csv(path):
    """``path`` for reading as bytes, gunzipped when it is gzip, lines at most a megabyte."""
    return io.BufferedReader(_LineLimited(_open_data(path), path), 1 << 16)


# -- MNIST CSV ------------------------------------------------------------------------------------
def _is_number(token):
    try:
        float(token)
    except ValueError:
        return False
    return True


def _could_be_digit_labels(column):
    return bool(np.all((column == np.round(column)) & (column >= 0) & (column <= 9)))


def _headerless_label_index(first, last, path):
    """0 or -1: which end column of a headerless table holds labels 0..9.

    The label column varies over the digits; the pixel at the other end (an image corner) is
    nearly always 0, so when both ends could be labels the one with more distinct values wins.
    """
    candidates = [i for i, column in ((0, first), (-1, last)) if _could_be_digit_labels(column)]
    if len(candidates) == 2:
        n_first, n_last = len(np.unique(first)), len(np.unique(last))
        if n_first == n_last:
            raise ValueError(
                f"Cannot tell whether the label is the first or the last column of {path}; "
                "pass label_column='first' or label_column='last'."
            )
        return 0 if n_first > n_last else -1
    if not candidates:
        raise ValueError(
            f"Neither the first nor the last column of {path} holds digit labels 0..9, so it is "
            "not a headerless MNIST-style CSV; give it a header with a 'label' column, or pass "
            "label_column='first' or 'last'."
        )
    return candidates[0]


def _numbers(column):
    """A column read as text -> int64 when every field is a whole number written as one (exact,
    however large), else float64 with NaN for what is not a number."""
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce")
    if values.dtype.kind not in "iuf":  # integers beyond 64 bits come back as objects
        values = pd.to_numeric(column.astype(str), errors="coerce").astype(np.float64)
    return values.to_numpy()


def _read_mnist_csv(path, label_column, flatten):
    """Pixels are read as float32; the columns that may hold the label (the two ends and one
    named ``label``) as text, so labels stay exact integers (float32 merges labels >= 2**24)."""
    import pandas as pd  # only the CSV paths need pandas

    try:
        with _open_csv(path) as f:
            first_line = f.readline().decode()
        has_header = not all(_is_number(t) for t in first_line.strip().split(","))
        with _open_csv(path) as f:
            names = list(pd.read_csv(f, header=0 if has_header else None,
                                     nrows=0 if has_header else 1).columns)
        n_columns = len(names)
        named = [i for i, n in enumerate(names) if str(n).strip().lower() == "label"]
        text_columns = {0, n_columns - 1, *named[:1]}
        with _open_csv(path) as f:
            table = pd.read_csv(
                f, header=None, skiprows=1 if has_header else 0, names=range(n_columns),
                dtype={i: str if i in text_columns else np.float32 for i in range(n_columns)},
            )
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty; an MNIST-style CSV needs rows of pixels.") from None
    except _LineTooLong as exc:
        raise ValueError(str(exc)) from None
    except (EOFError, OSError, zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path} could not be read as an MNIST-style CSV: {exc}") from None
    if table.shape[0] == 0 or table.shape[1] < 2:
        raise ValueError(
            f"{path} has {table.shape[0]} rows and {table.shape[1]} columns; an MNIST-style CSV "
            "needs a label column and pixel columns."
        )
    ends = {i: _numbers(table[i]) for i in sorted(text_columns)}
    if not all(np.isfinite(v.astype(np.float64)).all() for v in ends.values()) or not all(
        np.isfinite(table[i].to_numpy()).all() for i in table.columns if i not in text_columns
    ):
        raise ValueError(f"{path} has empty or non-numeric fields; each pixel and label is needed.")

    if label_column == "first":
        index = 0
    elif label_column == "last":
        index = n_columns - 1
    elif has_header:
        if not named:
            shown = ", ".join(map(str, names[:5]))
            raise ValueError(
                f"{path} has a header but no 'label' column (it starts with {shown}, ...); "
                "pass label_column='first' or 'last'."
            )
        index = named[0]
    else:
        index = _headerless_label_index(ends[0], ends[n_columns - 1], path) % n_columns

    labels = as_labels(ends[index], f"the label column of {path.name}")
    for i in text_columns - {index}:
        table[i] = ends[i].astype(np.float32)
    # Rows must be contiguous, or every minibatch gather in fit is many times slower; writable
    # for the scaling in place (one column comes back as a read-only view).
    pixels = np.require(table.drop(columns=index).to_numpy(dtype=np.float32), requirements="CW")
    if not np.all((pixels == np.round(pixels)) & (pixels >= 0) & (pixels <= 255)):
        raise ValueError(
            f"{path} has pixel values outside the whole numbers 0..255 (from {pixels.min()} to "
            f"{pixels.max()}); expected raw 8-bit pixels (already scaled data would be scaled "
            "twice)."
        )
    X = np.divide(pixels, np.float32(255), out=pixels)  # in place: a full MNIST CSV is large
    if not flatten:
        side = math.isqrt(X.shape[1])
        if side * side != X.shape[1]:
            raise ValueError(
                f"{path} has {X.shape[1]} pixel columns, not a square image; use flatten=True."
            )
        X = X.reshape(len(X), side, side)
    return DataSplit(X, labels)


# -- load_mnist -----------------------------------------------------------------------------------
_SPLIT_PREFIX = {"train": "train", "test": "t10k"}


def _idx_names(split, kind):
    """File names an IDX file of this split and kind goes by (Kaggle copies use a dot)."""
    prefix, dims = _SPLIT_PREFIX[split], 3 if kind == "images" else 1
    stems = (f"{prefix}-{kind}-idx{dims}-ubyte", f"{prefix}-{kind}.idx{dims}-ubyte")
    return [stem + ext for stem in stems for ext in ("", ".gz")]


def _find_csv(folder, split):
    """``mnist_train.csv``, ``fashion-mnist_test.csv.gz``, ``train.csv``... or None."""
    pattern = re.compile(rf"(.*[_-])?{split}\.csv(\.gz)?", re.IGNORECASE)
    matches = sorted(p for p in folder.iterdir() if p.is_file() and pattern.fullmatch(p.name))
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches)
        raise ValueError(
            f"{folder} holds several {split} CSV files ({names}); pass the one you mean as path."
        )
    return matches[0] if matches else None


def _find_split(folder, split):
    """(("idx", images, labels) or ("csv", file, None), None) for this split, or (None, why)."""
    found = {}
    for kind in ("images", "labels"):
        found[kind] = next((folder / n for n in _idx_names(split, kind) if (folder / n).is_file()),
                           None)
    if found["images"] and found["labels"]:
        return ("idx", found["images"], found["labels"]), None
    csv = _find_csv(folder, split)
    if csv is not None:
        return ("csv", csv, None), None
    prefix = _SPLIT_PREFIX[split]
    wanted = (
        f"the IDX files {prefix}-images-idx3-ubyte[.gz] and {prefix}-labels-idx1-ubyte[.gz], "
        f"or a CSV file mnist_{split}.csv[.gz]"
    )
    partial = [f"{kind} file {path.name}" for kind, path in found.items() if path is not None]
    if partial:
        wanted += f" (only the {partial[0]} is there)"
    return None, f"no {split} data: expected {wanted}"


def _load_file(path, label_column, flatten):
    """One file given by path: a CSV, or an IDX images file whose labels file sits beside it."""
    magic = _peek_magic(path)
    if magic == _LABELS_MAGIC:
        raise ValueError(
            f"{path} is an IDX labels file; pass its images file, or the folder holding both."
        )
    if magic != _IMAGES_MAGIC:
        return _read_mnist_csv(path, label_column, flatten)
    labels_name = path.name.replace("images", "labels").replace("idx3", "idx1")
    labels_path = path.with_name(labels_name)
    if labels_name == path.name or not labels_path.is_file():
        raise FileNotFoundError(
            f"{path} is an IDX images file, but its labels file {labels_name} is not in "
            f"{path.parent}."
        )
    return _load_idx_pair(path, labels_path, flatten)


def load_mnist(path, split=None, *, flatten=True, images=False, label_column="auto"):
    """MNIST, Fashion-MNIST or KMNIST from local files: IDX or CSV, gzipped or not.

    Parameters
    ----------
    path : folder or file
        A folder holding ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
        ``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]`` (``train-images.idx3-
        ubyte`` works too), or CSV files ``mnist_train.csv[.gz]`` / ``mnist_test.csv[.gz]`` (any
        ``*_train.csv``/``*-train.csv`` name). IDX files win when both forms are there. Or one
        file: a CSV file, or an IDX images file with its labels file beside it.
    split : None, "both", "train" or "test"
        For a folder: which part to load; None means "both". Must be None for a file.
    flatten : bool
        True gives X (n, rows * cols); False gives the images (n, rows, cols).
    images : bool
        True gives one-channel images (n, 1, rows, cols), as a ``Conv2D`` takes them (``flatten``
        is then ignored).
    label_column : "auto", "first" or "last"
        Where the label is in a CSV. "auto": the column named ``label`` when the first line is a
        header; in a headerless CSV the end column holding digit labels 0..9 -- the label first
        (``label, pixel...``) or last (``pixel..., label``), the one with more distinct values.

    Returns
    -------
    For "train", "test" or a single file, a ``DataSplit(X, y)``; for "both", ``MnistData(train,
    test)``, which unpacks as ``(X_train, y_train), (X_test, y_test)``. X is float32 in [0, 1]
    (pixels / 255), y int64.

    Raises FileNotFoundError naming the missing file(s) and the folder searched -- with only the
    test files present, ask for ``split="test"`` -- and ValueError for a wrong magic number, a
    truncated file, a count of images that differs from the count of labels, or a CSV whose
    pixels are not 0..255.
    """
    if label_column not in ("auto", "first", "last"):
        raise ValueError(f"label_column must be 'auto', 'first' or 'last', got {label_column!r}.")
    if images:
        data = load_mnist(path, split, flatten=False, label_column=label_column)
        if isinstance(data, MnistData):
            return MnistData(*(DataSplit(X[:, None], y) for X, y in data))
        return DataSplit(data.X[:, None], data.y)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
    folder = Path(path)
    if not folder.exists():
        raise FileNotFoundError(f"No MNIST folder or file at {folder}.")
    if not folder.is_dir():
        if split is not None:
            raise ValueError(f"split applies to a folder, but {folder} is a file; leave it None.")
        return _load_file(folder, label_column, flatten)

    split = "both" if split is None else split
    if split not in ("both", "train", "test"):
        raise ValueError(f"split must be 'both', 'train' or 'test', got {split!r}.")
    wanted = ("train", "test") if split == "both" else (split,)
    found = {s: _find_split(folder, s) for s in wanted}
    problems = [reason for _, reason in found.values() if reason]
    if problems:
        hint = ""
        present = [s for s, (where, _) in found.items() if where]
        if present:
            hint = f" Only the {present[0]} data is there: use split={present[0]!r}."
        raise FileNotFoundError(f"In {folder}: {'; '.join(problems)}.{hint}")

    parts = {}
    for s, ((form, first, second), _) in found.items():
        if form == "idx":
            parts[s] = _load_idx_pair(first, second, flatten)
        else:
            parts[s] = _read_mnist_csv(first, label_column, flatten)
    return MnistData(parts["train"], parts["test"]) if split == "both" else parts[split]


# -- download_mnist -------------------------------------------------------------------------------
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

# Base URL and the published MD5 of each file (the ones torchvision checks).
MNIST_SOURCES = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        dict(zip(MNIST_FILES, (
            "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
            "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c",
        ), strict=True)),
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        dict(zip(MNIST_FILES, (
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
            "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310",
        ), strict=True)),
    ),
    "kmnist": (
        "https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        dict(zip(MNIST_FILES, (
            "bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344",
            "5c965bf0a639b31b8f53240b1b52f4d7", "7320c461ea6c1c855c0b718fb2a4b134",
        ), strict=True)),
    ),
}


class DownloadError(OSError):
    """A file could not be fetched, arrived incomplete, or failed its checksum."""


def _md5(path):
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_checksums(checksums):
    if not isinstance(checksums, dict):
        raise TypeError(f"checksums must be a dict from file name to MD5, got {checksums!r}.")
    missing = [name for name in MNIST_FILES if name not in checksums]
    if missing:
        raise ValueError(f"checksums has no MD5 for {', '.join(missing)}.")
    for name in MNIST_FILES:
        value = checksums[name]
        if not (isinstance(value, str) and re.fullmatch(r"[0-9a-fA-F]{32}", value)):
            raise ValueError(f"checksums[{name!r}] must be 32 hex digits, got {value!r}.")
    return {name: checksums[name].lower() for name in MNIST_FILES}


# The most bytes each file may have. The published ones are at most 26.4 MB (Fashion-MNIST's
# training images), 4.4 MB, 29.5 KB and 5.1 KB; a server sending more is refused at this size,
# so an endless or oversized body cannot fill the disk.
_MAX_DOWNLOAD_BYTES = dict(zip(MNIST_FILES, (32 << 20, 64 << 10, 8 << 20, 16 << 10), strict=True))
_STALL_SECONDS = 30.0  # the longest wait for a server's next byte (connect, headers, body)


class _Deadline:
    """Shuts the sockets of one download at a fixed time, so the timeout bounds the whole file:
    a server trickling a byte now and then never lets a read time out, but cannot pass this.

    Use ``with _Deadline(seconds) as deadline`` and open URLs with ``deadline.opener()``.
    """

    def __init__(self, seconds):
        self.seconds = seconds
        self.expired = False
        self._sockets = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()

    def _expire(self):
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def _watch(self, sock):
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def opener(self):
        """A urllib opener whose connections this deadline watches (redirects included)."""
        import http.client
        import urllib.request

        deadline = self

        def watched(connection_class):
            class Watched(connection_class):
                def connect(self):
                    super().connect()
                    deadline._watch(self.sock)

            return Watched

        class HTTPHandler(urllib.request.HTTPHandler):
            def http_open(self, req):
                return self.do_open(watched(http.client.HTTPConnection), req)

        class HTTPSHandler(urllib.request.HTTPSHandler):
            def https_open(self, req):  # the default context: certificates are verified
                return self.do_open(watched(http.client.HTTPSConnection), req)

        return urllib.request.build_opener(HTTPHandler, HTTPSHandler)


def _shut(sock):
    # shutdown, not close: it wakes a thread blocked reading the socket.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _fetch(url, out, timeout, max_bytes, by_hand):
    """Stream ``url`` into the open file ``out``; return the MD5 hex digest of what came.

    At most ``max_bytes`` are accepted, and the whole file must arrive within ``timeout``
    seconds; a server silent for ``_STALL_SECONDS`` (or ``timeout``, if shorter) fails sooner.
    """
    import http.client
    import urllib.error
    import urllib.request

    digest, received, announced = hashlib.md5(usedforsecurity=False), 0, None
    timed_out = (
        f"Could not download {url}: timed out (the file did not arrive within {timeout:g} s; "
        f"pass a larger timeout for a slow connection). {by_hand}"
    )
    request = urllib.request.Request(url, headers={"User-Agent": "scratchnn"})
    try:
        with _Deadline(timeout) as deadline:
            try:
                stall = min(timeout, _STALL_SECONDS)
                with deadline.opener().open(request, timeout=stall) as response:
                    announced = response.headers.get("Content-Length")
                    if announced is not None and announced.isdigit() and (
                        int(announced) > max_bytes
                    ):
                        raise DownloadError(
                            f"{url} announces {announced} bytes, but that file is at most "
                            f"{max_bytes} bytes; nothing was kept. {by_hand}"
                        )
                    while chunk := response.read(min(1 << 16, max_bytes + 1 - received)):
                        out.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        if received > max_bytes:
                            raise DownloadError(
                                f"{url} sent more than {max_bytes} bytes, the most that file "
                                f"can be, so the download was stopped; nothing was kept. "
                                f"{by_hand}"
                            )
            except (OSError, http.client.HTTPException) as exc:
                if isinstance(exc, DownloadError):
                    raise
                if deadline.expired:
                    raise DownloadError(timed_out) from exc
                if isinstance(exc, urllib.error.HTTPError):
                    reason = f"HTTP error {exc.code} {exc.reason}"
                else:
                    reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
                raise DownloadError(f"Could not download {url}: {reason}. {by_hand}") from exc
            if deadline.expired:  # the shut socket may read as the end of the body
                raise DownloadError(timed_out)
    finally:
        out.flush()
    # A connection closed early can end the body silently, so compare with what was announced.
    if announced is not None and announced.isdigit() and received != int(announced):
        raise DownloadError(
            f"The download of {url} stopped after {received} of {announced} bytes (the connection "
            f"closed early). {by_hand}"
        )
    return digest.hexdigest()


_PART_SUFFIX = ".part"


def _lock(fileobj):
    """Hold an exclusive lock on a download's temporary file while it is written, so that
    another process tells it from one a killed download left behind. False where there is no
    ``flock``."""
    if fcntl is None:
        return False
    fcntl.flock(fileobj.fileno(), fcntl.LOCK_EX)  # a cleaner holds it only for a moment
    return True


def _remove_stale_parts(target):
    """Remove the temporary files killed downloads of ``target`` left beside it: our own names
    (``.NAME.XXXXXXXX.part``, as ``_download_one`` makes them) that nobody holds a lock on (a
    download running in another process keeps its lock until its file has taken its name).
    Where ``flock`` is missing, nothing is removed."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}{re.escape(_PART_SUFFIX)}")
    remove_stale_temporaries(target, pattern, min_age=0)


def _download_one(url, target, md5, timeout, by_hand):
    """Download to a hidden temp file beside ``target``; only a verified file takes its name."""
    _remove_stale_parts(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=_PART_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            locked = _lock(out)
            got = _fetch(url, out, timeout, _MAX_DOWNLOAD_BYTES[target.name], by_hand)
            if got != md5:
                raise DownloadError(
                    f"{url} arrived with MD5 {got}, not the published {md5}: the file is corrupt "
                    f"or not the expected one, so it was not kept. {by_hand}"
                )
            os.fsync(out.fileno())
            if locked:  # renamed while still locked; elsewhere an open file cannot be renamed
                os.replace(tmp, target)
        if not locked:
            os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def download_mnist(dest, *, dataset="mnist", base_url=None, checksums=None, timeout=300.0):
    """Fetch the four IDX files into the folder ``dest`` (a cache), then return ``dest``.

    Each file is streamed to a temporary file in ``dest``, its MD5 compared with the published
    one, and only then renamed into place, so ``dest`` never holds a partial or corrupt file.
    A server may send no more than the file can be (32 MB for the training images, less for the
    others); temporary files a killed download left are removed by the next download. A
    file already in ``dest`` with the right MD5 is not downloaded again; one with a wrong MD5 is
    deleted and fetched anew. Load the result with ``load_mnist(dest)``.

    Parameters
    ----------
    dest : folder, created if needed.
    dataset : "mnist", "fashion-mnist" or "kmnist" -- picks the default URL and checksums.
    base_url : str, optional
        Where the files are (``base_url + "train-images-idx3-ubyte.gz"``...), for a mirror.
    checksums : dict, optional
        File name -> MD5 hex digest for each of ``MNIST_FILES``; defaults to the published ones.
    timeout : float
        Seconds each file may take, from the request to its last byte: a deadline, so a server
        sending a byte now and then cannot hold the download open. A server that sends nothing
        fails sooner, after 30 s (or ``timeout``, if shorter) without a byte; an unreachable
        host fails at once. 300 s fetches the largest file (26 MB) at 90 KB/s.

    Raises DownloadError (an OSError) naming the URL that failed and saying how to place the
    files by hand.
    """
    if dataset not in MNIST_SOURCES:
        raise ValueError(
            f"dataset must be one of {', '.join(map(repr, MNIST_SOURCES))}, got {dataset!r}."
        )
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}.")
    default_url, default_md5 = MNIST_SOURCES[dataset]
    base_url = default_url if base_url is None else base_url
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must be an http:// or https:// URL, got {base_url!r}.")
    checksums = _check_checksums(default_md5 if checksums is None else checksums)
    if not isinstance(dest, (str, os.PathLike)):
        raise TypeError(f"dest must be a str or os.PathLike, got {type(dest).__name__}.")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)

    by_hand = (
        f"If this machine is offline or the server keeps failing, fetch {', '.join(MNIST_FILES)} "
        f"from {base_url} elsewhere "
        f"and copy them into {dest}; then load_mnist({str(dest)!r}) reads them."
    )
    for name in MNIST_FILES:
        target = dest / name
        if target.is_file():
            if _md5(target) == checksums[name]:
                continue
            target.unlink()  # corrupt or from another data set: never leave it in the cache
        url = base_url.rstrip("/") + "/" + name
        _download_one(url, target, checksums[name], timeout, by_hand)
    return dest


# -- load_csv -------------------------------------------------------------------------------------
def _refuse_stray_words(table, path):
    """A column of numbers with a few words in it is a mistake in the file, not a category.

    pandas reads such a column as text, so it would become categorical (a one-hot column per
    distinct number) and the model would train on it without a word. Missing values that pandas
    knows (an empty field, NA, n/a, NaN...) are not words.
    """
    import pandas as pd

    for name in table.columns:
        column = table[name]
        if pd.api.types.is_numeric_dtype(column.dtype):
            continue
        given = column.dropna()
        is_word = pd.to_numeric(given, errors="coerce").isna()
        if is_word.any() and is_word.sum() < len(given) / 2:
            row = is_word.idxmax()  # the first word; line 1 is the header
            raise ValueError(
                f"column {name!r} of {path} holds numbers but also {given[row]!r} on line "
                f"{table.index.get_loc(row) + 2}; leave a missing number empty (or write NA) "
                "and fix the others."
            )


@dataclass
class TabularData:
    """A user's table split into features and target.

    X: DataFrame (n, n_columns) of the feature columns; y: Series (n,) of the target, or None
    when no target was asked for; numeric and categorical: the feature column names by kind
    (numbers vs anything else), in table order.
    """

    X: object
    y: object
    numeric: list = field(default_factory=list)
    categorical: list = field(default_factory=list)
    target: str | None = None


def load_csv(path, target=None, *, sep=","):
    """A CSV file with a header row as features and (optionally) a target column.

    Numeric columns stay numbers (empty fields become NaN, for ``Preprocessor`` to impute); any
    other column is categorical. Raises FileNotFoundError for a missing file and ValueError for
    an unreadable or empty table, an unknown ``target`` (the message lists the columns there
    are) or a target with missing values.
    """
    import pandas as pd  # only this loader needs pandas

    from .preprocessing import column_kinds

    path = _existing_file(path, "CSV file")
    try:
        with _open_csv(path) as f:
            table = pd.read_csv(f, sep=sep)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty; a header row is needed.") from None
    except _LineTooLong as exc:
        raise ValueError(str(exc)) from None
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError, zlib.error) as exc:
        raise ValueError(f"{path} could not be read as CSV: {exc}") from None
    if len(table) == 0:
        raise ValueError(f"{path} has a header but no rows of data.")
    _refuse_stray_words(table, path)

    y = None
    if target is not None:
        if target not in table.columns:
            available = ", ".join(map(repr, table.columns))
            raise ValueError(
                f"{path} has no column {target!r}; the columns are: {available}."
            )
        y = table.pop(target)
        n_missing = int(y.isna().sum())
        if n_missing:
            raise ValueError(
                f"The target column {target!r} of {path} has {n_missing} missing value(s); drop "
                "those rows first."
            )
    numeric, categorical = column_kinds(table)
    return TabularData(table, y, numeric, categorical, target)


# -- the shipped housing table --------------------------------------------------------------------
HOUSING_CSV = Path(__file__).resolve().parent / "data" / "housing.csv.gz"
"""California housing, 1990 census (Pace & Barry 1997, with Géron's ``ocean_proximity``):
16,512 districts, gzip-compressed CSV. Source and licence: ``data/README.md`` beside it."""


def load_housing():
    """The California housing table shipped with scratchnn, as ``load_csv`` reads it.

    16,512 districts (census block groups) of the 1990 U.S. census: eight numeric columns
    (``total_bedrooms`` has 168 gaps), the categorical ``ocean_proximity`` and the target
    ``median_house_value`` in dollars. The same as ``load_csv(HOUSING_CSV,
    target="median_house_value")``; ``scratchnn train --data housing`` trains on it. Source and
    licence: ``scratchnn/data/README.md``.
    """
    return load_csv(HOUSING_CSV, target="median_house_value")
