"""Small generated data files for the tests (no test needs /work/shared or the network).

Plain functions that write files and return what they wrote, so a test can compare a loader's
output with the truth. Import them with ``from fixtures import ...``: pytest puts tests/ on
sys.path because the test modules are not in a package.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

IDX_UBYTE = 0x08


def idx_bytes(array):
    """The IDX encoding of a uint8 array: magic 0x0000 08 ndim, big-endian dims, the data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, IDX_UBYTE, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def write_bytes(path, data, gz=False):
    """Write ``data`` to ``path``, gzipped when ``gz`` (mtime fixed, so the bytes are stable)."""
    path = Path(path)
    if gz:
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def mnist_like(n, seed=0, side=28):
    """(images (n, side, side) uint8, labels (n,) uint8 in 0..9) with a digit-dependent blob."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    images = rng.integers(0, 40, size=(n, side, side)).astype(np.uint8)
    for i, label in enumerate(labels):
        row = 2 + int(label) * (side - 6) // 10
        images[i, row : row + 3, 4 : side - 4] = 255
    # Corners stay 0, as in real MNIST, so the headerless CSV check sees a constant end column.
    images[:, 0, 0] = images[:, -1, -1] = 0
    return images, labels


def write_idx_mnist(folder, n_train=30, n_test=12, gz=True, seed=0):
    """The four MNIST IDX files in ``folder``; returns {"train": (images, labels), "test": ...}.

    ``n_train=0`` or ``n_test=0`` leaves that split's files out.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    written = {}
    for split, prefix, n, offset in (("train", "train", n_train, 0), ("test", "t10k", n_test, 1)):
        if n == 0:
            continue
        images, labels = mnist_like(n, seed=seed + offset)
        write_bytes(folder / f"{prefix}-images-idx3-ubyte{ext}", idx_bytes(images), gz)
        write_bytes(folder / f"{prefix}-labels-idx1-ubyte{ext}", idx_bytes(labels), gz)
        written[split] = (images, labels)
    return written


def write_mnist_csv(path, n=20, *, header=True, label_position="first", seed=0, gz=False):
    """An MNIST-style CSV; returns (pixels (n, 784) uint8, labels (n,) uint8).

    header=True writes ``label,1x1,...,28x28`` (label first, as the notebook's files);
    header=False writes bare rows with the label ``first`` or ``last``.
    """
    images, labels = mnist_like(n, seed=seed)
    pixels = images.reshape(n, -1)
    names = [f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)]
    if label_position == "first":
        table = pd.DataFrame(np.column_stack([labels, pixels]), columns=["label", *names])
    else:
        table = pd.DataFrame(np.column_stack([pixels, labels]), columns=[*names, "label"])
    text = table.to_csv(index=False, header=header).encode()
    write_bytes(path, text, gz)
    return pixels, labels


OCEAN = ("<1H OCEAN", "INLAND", "NEAR OCEAN", "NEAR BAY", "ISLAND")


def housing_like(n_rows=200, seed=0):
    """A housing-like table: 8 numeric columns (gaps in total_bedrooms), the categorical
    ocean_proximity and the numeric target median_house_value, which depends on the others."""
    rng = np.random.default_rng(seed)
    rooms = rng.integers(200, 8000, n_rows).astype(float)
    households = np.round(rooms / rng.uniform(4, 7, n_rows))
    income = rng.gamma(4.0, 1.0, n_rows).round(4)
    ocean = rng.choice(OCEAN[:4], n_rows, p=[0.45, 0.3, 0.15, 0.1])
    ocean[rng.integers(n_rows)] = OCEAN[4]  # a rare category, as ISLAND in the real data
    bedrooms = np.round(rooms * rng.uniform(0.15, 0.25, n_rows))
    bedrooms[rng.choice(n_rows, max(1, n_rows // 20), replace=False)] = np.nan
    premium = pd.Series(ocean).map(dict(zip(OCEAN, (60e3, -40e3, 70e3, 80e3, 150e3),
                                            strict=True))).to_numpy()
    value = 40e3 * income + premium + 20 * rooms / households + rng.normal(0, 15e3, n_rows)
    return pd.DataFrame({
        "longitude": rng.uniform(-124.3, -114.3, n_rows).round(2),
        "latitude": rng.uniform(32.5, 42.0, n_rows).round(2),
        "housing_median_age": rng.integers(1, 53, n_rows).astype(float),
        "total_rooms": rooms,
        "total_bedrooms": bedrooms,
        "population": np.round(households * rng.uniform(2, 4, n_rows)),
        "households": households,
        "median_income": income,
        "ocean_proximity": ocean,
        "median_house_value": np.clip(value, 15e3, 500e3).round(0),
    })


def write_housing_like_csv(path, n_rows=200, seed=0):
    """Write ``housing_like(n_rows, seed)`` as CSV (gaps as empty fields); returns the table."""
    table = housing_like(n_rows, seed)
    table.to_csv(path, index=False)
    return table
