"""Data specs (digits, mnist:DIR, csv:PATH) read into training and test parts, and raw rows or
images read as a model takes them."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._common import _OWN_SPLIT, _SPLIT_SEED, _TEST_FRACTION, UsageError, _error


# -- data ------------------------------------------------------------------------------------------
@dataclass
class _Data:
    """A data set split into training and test parts, in raw form.

    Image data: X (n, pixels) arrays of raw pixel values 0..max_value, y int labels. Tables: X a
    DataFrame of the feature columns, y a Series of the target's own values.
    """

    spec: str
    name: str
    task: str
    X_train: object
    y_train: object
    X_test: object
    y_test: object
    split: str
    target: str | None = None
    image_shape: tuple | None = None
    max_value: float | None = None
    test_spec: str | None = None  # the --test-data the test rows came from

    @property
    def is_image(self):
        return self.max_value is not None

    @property
    def has_own_test_set(self):
        return self.split == _OWN_SPLIT

    @property
    def training_part(self):
        """The rows a model trained on this data alone would never see are the test part;
        with other test data, training takes every row but a test set of the files' own."""
        return "train" if self.has_own_test_set else "all"

    @property
    def held_out_part(self):
        """The rows to test on when this data is someone's test data."""
        return "test" if self.has_own_test_set else "all"

    def rows(self, part):
        if part == "test":
            return self.X_test, self.y_test
        if part == "train":
            return self.X_train, self.y_train
        return _concat(self.X_train, self.X_test), _concat(self.y_train, self.y_test)


def _concat(a, b):
    if isinstance(a, np.ndarray):
        return np.concatenate([a, b])
    import pandas as pd

    return pd.concat([a, b])


def _parse_data_spec(spec, option):
    """"digits" / "mnist:DIR" / "csv:PATH" / "housing" -> (kind, absolute path or None).

    "housing" is the table shipped with scratchnn, read as csv:PATH of that file."""
    kind, sep, rest = spec.partition(":")
    if spec == "digits":
        return "digits", None
    if spec == "housing":
        from ..datasets import HOUSING_CSV

        return "csv", HOUSING_CSV
    if kind in ("mnist", "csv") and sep and rest:
        return kind, Path(rest).expanduser().resolve()
    raise UsageError(f"{option} must be digits, mnist:DIR or csv:PATH (or housing, the table "
                     f"shipped with scratchnn); got {spec!r}.")


def _load_data(spec, target=None, task=None, option="--data"):
    kind, path = _parse_data_spec(spec, option)
    if path is not None:
        _check_regular(path, f"{option} {spec}")
    if spec == "housing" and target is None:  # as --target median_house_value --task regression
        target, task = "median_house_value", task or "regression"
    if kind != "csv":
        if target is not None:
            raise UsageError(f"--target applies to csv:PATH data, not to {spec}.")
        if task not in (None, "classification"):
            raise UsageError(f"{spec} is a classification data set; --task {task} does not fit.")
    if kind == "digits":
        return _digits_data()
    if kind == "mnist":
        return _mnist_data(path)
    return _csv_data(path, target, task)


def _check_regular(path, where):
    """Refuse a path that is neither a folder nor a regular file: a device (mnist:/dev/zero
    reads until memory runs out), a FIFO or a socket. Only what ``where`` names is checked;
    the readers take only regular files from inside a folder."""
    import stat

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return  # the reader says what it expected there
    except OSError as exc:
        raise OSError(exc.errno, f"cannot read {path}: {exc.strerror}") from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        kind = ("a character device" if stat.S_ISCHR(mode) else "a block device"
                if stat.S_ISBLK(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a socket"
                if stat.S_ISSOCK(mode) else "not a regular file")
        raise ValueError(f"{where}: {path} is {kind}; data is read only from regular files "
                         "and folders.")


def _with_test_data(data, spec):
    """``data`` to train on (every row but a test set of the files' own), the data ``spec``
    names to test on."""
    if (_parse_data_spec(spec, "--test-data")[0] == "csv") == data.is_image:
        raise UsageError(f"--test-data {spec} is not {'images' if data.is_image else 'a table'} "
                         f"like --data {data.spec}.")
    test = _load_data(spec, data.target, data.task, option="--test-data")
    width, test_width = data.X_train.shape[1], test.X_train.shape[1]
    if data.is_image and (width, data.max_value) != (test_width, test.max_value):
        raise UsageError(f"--test-data {test.spec} has {test_width} values per row, but --data "
                         f"{data.spec} has {width}; they must be the same kind of image.")
    X_train, y_train = data.rows(data.training_part)
    X_test, y_test = test.rows(test.held_out_part)
    rows = "the train set" if data.has_own_test_set else "every row"
    return dataclasses.replace(data, X_train=X_train, y_train=y_train, X_test=X_test,
                               y_test=y_test, split=f"{rows}; the test rows are {test.spec}",
                               test_spec=test.spec)


def _split(X, y, stratify):
    from ..preprocessing import train_test_split

    if stratify and np.min(np.unique(np.asarray(y), return_counts=True)[1]) < 2:
        stratify = False  # a class with one row cannot be on both sides
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=_TEST_FRACTION, seed=_SPLIT_SEED, stratify=stratify)
    how = "stratified " if stratify else ""
    return (X_train, y_train, X_test, y_test,
            f"{how}{1 - _TEST_FRACTION:.0%}/{_TEST_FRACTION:.0%} split with seed {_SPLIT_SEED}")


def _digits_data():
    from ..datasets import load_digits

    X, y = load_digits()
    # The raw pixels are 0..16; load_digits scales them to [0, 1] by a power of two, so this is
    # exact. The model file's preprocessing does the scaling, so it applies to users' rows too.
    raw = X * np.float32(16)
    return _Data("digits", "digits", "classification", *_split(raw, y, stratify=True),
                 image_shape=(8, 8), max_value=16.0)


def _mnist_data(path):
    from ..datasets import load_mnist

    try:
        loaded = load_mnist(path)
    except FileNotFoundError:
        loaded = _one_mnist_split(path)
        if loaded is None:
            raise
    spec = f"mnist:{path}"
    if hasattr(loaded, "train"):
        (X_train, y_train), (X_test, y_test) = loaded
        parts = (_raw_pixels(X_train), y_train, _raw_pixels(X_test), y_test, _OWN_SPLIT)
    else:
        parts = _split(_raw_pixels(loaded.X), loaded.y, stratify=True)
    side = math.isqrt(parts[0].shape[1])
    shape = (side, side) if side * side == parts[0].shape[1] else None
    return _Data(spec, "mnist", "classification", *parts, image_shape=shape, max_value=255.0)


def _one_mnist_split(path):
    """A folder with only one of the train/test sets, or only one CSV file: that, else None."""
    from ..datasets import load_mnist

    if not path.is_dir():
        return None
    for split in ("train", "test"):
        try:
            return load_mnist(path, split)
        except FileNotFoundError:
            continue
    csvs = [p for p in path.iterdir() if p.name.lower().endswith((".csv", ".csv.gz"))]
    return load_mnist(csvs[0]) if len(csvs) == 1 else None


def _raw_pixels(X):
    # load_mnist gives pixels / 255 in float32; rounding recovers the integer bytes exactly.
    return np.rint(X * np.float32(255)).astype(np.float32)


def _csv_data(path, target, task):
    from ..datasets import load_csv

    if target is None:
        columns = ", ".join(map(repr, load_csv(path).X.columns))
        raise UsageError(f"csv data needs --target COLUMN, the column to predict; {path.name} "
                         f"has {columns}.")
    table = load_csv(path, target)
    if task is None:
        from ..model import task_of_values

        task = "classification" if task_of_values(table.y) == "multiclass" else "regression"
    if task == "regression":
        import pandas as pd

        if not pd.api.types.is_numeric_dtype(table.y.dtype) or table.y.dtype == bool:
            raise UsageError(f"--task regression needs a numeric target; {target!r} holds "
                             f"values such as {table.y.iloc[0]!r}.")
    parts = _split(table.X, table.y, stratify=task == "classification")
    return _Data(f"csv:{path}", path.name.split(".")[0], task, *parts, target=target)


# -- preparing data for the network ----------------------------------------------------------------
def _preprocessor(data):
    """The preprocessing of raw X, fitted on the training rows only."""
    from ..preprocessing import Preprocessor, Scaler

    if data.is_image:
        n_pixels = data.X_train.shape[1]
        # Fitting min-max scaling to the pixel range (not to the data) maps 0..max to [0, 1].
        return Scaler("minmax").fit(np.array([[0.0] * n_pixels, [data.max_value] * n_pixels]))
    return Preprocessor().fit(data.X_train)


def _class_list(data):
    """Every class name, from every row: a class absent from the training part is still a
    known (if never predicted) class when the test part is scored."""
    from ..preprocessing import LabelEncoder

    return LabelEncoder().fit(_concat(data.y_train, data.y_test)).classes_.tolist()


def _model_input(model, X_raw, source, command):
    """Raw rows through the model's preprocessing, checked against what the model takes; a
    note on stderr for each category the model never saw (it encodes it as none)."""
    want = model.metadata.get("input", {})
    if isinstance(X_raw, np.ndarray) and want.get("kind") == "table":
        raise ValueError(f"{source} gives pixel rows, but the model was trained on a table with "
                         f"columns {', '.join(want['columns'])}.")
    if not isinstance(X_raw, np.ndarray) and want.get("kind") == "image":
        raise ValueError(f"{source} is a table, but the model takes {_describe_image(want)}.")
    if isinstance(X_raw, np.ndarray) and X_raw.shape[1] != model.network.n_features:
        raise ValueError(f"{source} has {X_raw.shape[1]} values per row, but the model takes "
                         f"{_describe_image(want) if want else model.network.n_features}.")
    if want.get("kind") == "image":
        _check_pixel_range(X_raw, float(want["max_value"]), source, command)
    unseen = getattr(model.preprocessor, "unseen_categories", None)
    for column, counts in (unseen(X_raw) if unseen else {}).items():
        shown = ", ".join(f"{v!r} ({n} row{'s' if n > 1 else ''})"
                          for v, n in list(counts.items())[:5])
        plural = "values" if len(counts) > 1 else "a value"
        _error(f"scratchnn {command}: note: {column} has {shown}, {plural} not seen in "
               f"training; {'they are' if len(counts) > 1 else 'it is'} encoded as no category.")
    return model.transform(X_raw)


def _check_pixel_range(X_raw, max_value, source, command):
    """Pixels beyond the training range are an error; pixels all within 0..1 for a model that
    takes 0..16 or 0..255 were most likely scaled already, which predicts nonsense silently."""
    low, high = float(X_raw.min()), float(X_raw.max())
    if low < 0 or high > max_value:
        raise ValueError(f"{source} has pixel values {'down to' if low < 0 else 'up to'} "
                         f"{low if low < 0 else high:g}, but the model takes 0..{max_value:g}.")
    if 0 < high <= 1 < max_value:
        _error(f"scratchnn {command}: note: every value in {source} is within 0..1, but the "
               f"model takes pixel values 0..{max_value:g}; were they scaled already?")


def _describe_image(want):
    shape = want.get("shape")
    size = "x".join(map(str, shape)) + " " if shape else ""
    return f"{want.get('n_features')} {size}pixel values 0..{want.get('max_value', 1):g}"


def _read_rows(path, model):
    """Raw rows of a CSV file: a table for a table model, else rows of numbers."""
    import pandas as pd

    from ..datasets import load_csv

    if model.metadata.get("input", {}).get("kind") == "table":
        table = load_csv(path).X
        _refuse_empty_rows(table.isna().to_numpy().all(axis=1), path, header=True)
        return table
    if not path.is_file():
        raise FileNotFoundError(f"no input file at {path}.")
    try:
        frame = pd.read_csv(path, header=None)
        header = any(isinstance(v, str) and pd.isna(pd.to_numeric(v, errors="coerce"))
                     for v in frame.iloc[0])  # a word, not a number nor "nan" or empty
        if header:
            frame = pd.read_csv(path)  # the first line names the columns
            frame = frame.drop(columns=[c for c in frame.columns
                                        if str(c).strip().lower() == "label"])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} could not be read as CSV: {exc}") from None
    if frame.empty:
        raise ValueError(f"{path} has no rows to predict.")
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    missing = np.isnan(values)
    _refuse_empty_rows(missing.all(axis=1), path, header)
    if missing.any():
        row, column = np.argwhere(missing)[0]
        raise ValueError(f"line {row + 1 + header} of {path} has an empty or non-numeric value "
                         f"in column {column + 1}; each row must be numbers.")
    return values.astype(model.network.dtype)


def _refuse_empty_rows(empty, path, header):
    """A row whose every field is empty or NaN is not a row to predict, and says so."""
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise ValueError(f"line {row + 1 + header} of {path} has no values (every field is "
                         "empty or NaN); each row must be numbers.")


def _image_rows(paths, want):
    """Image files -> rows of raw pixel values, as the training images.

    Each image is made grayscale (a transparent background counts as white) and, if its border
    is light (mean brightness > 0.5), inverted, so the digit is light on dark as in the
    training data. It is then padded to a square with the background and resized to the
    model's input shape by averaging (8x8 for digits, 28x28 for MNIST), and scaled to the
    training range 0..max_value.
    """
    if want.get("kind") != "image" or not want.get("shape"):
        raise ValueError("this model was not trained on images, so it cannot read image files; "
                         "give a CSV file of rows.")
    rows = [_image_row(path, tuple(want["shape"]), float(want["max_value"])) for path in paths]
    return np.stack(rows).astype(np.float32)


# An image is padded to a square of its longer side (float32) before it is resized: 4096 is
# 64 MB; a 100000x1 strip would be 37 GB. An image more than 32 times as long as it is wide is
# no picture of a digit (or of anything a square model takes), whatever its size.
_MAX_IMAGE_SIDE = 4096
_MAX_IMAGE_RATIO = 32


def _check_image_size(path, width, height):
    """Refuse an oversized or degenerate image from the size in its header, before decoding."""
    size = f"{path} is {width}x{height} pixels"
    if width < 1 or height < 1:
        raise ValueError(f"{size}: it has no pixels.")
    if max(width, height) > _MAX_IMAGE_SIDE:
        raise ValueError(f"{size}; images up to {_MAX_IMAGE_SIDE} pixels on a side are read "
                         "(the model scales them down to its input anyway): scale it down first.")
    if max(width, height) > _MAX_IMAGE_RATIO * min(width, height):
        raise ValueError(f"{size}, a strip rather than a picture: an image is padded to a "
                         f"square, and one more than {_MAX_IMAGE_RATIO} times as long as it "
                         "is wide is refused; crop it to the digit.")


def _image_row(path, shape, max_value):
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow warns of a "decompression bomb" above 89 megapixels; the size check below
            # refuses far smaller images, so the warning would only add noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            _check_image_size(path, *img.size)  # from the header: nothing is decoded yet
            img.load()
            if "A" in img.getbands() or "transparency" in img.info:
                rgba = img.convert("RGBA")
                img = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
            gray = np.asarray(img.convert("L"), dtype=np.float32) / np.float32(255)
    except FileNotFoundError:
        raise FileNotFoundError(f"no image file at {path}.") from None
    except Image.DecompressionBombError:  # over 179 megapixels: Pillow refuses it at open
        raise ValueError(f"{path} is an image of more than {_MAX_IMAGE_SIDE} pixels on a "
                         "side, which is refused; scale it down first.") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{path} could not be read as an image ({exc}).") from None
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if border.mean() > 0.5:
        gray = 1 - gray
    h, w = gray.shape
    side = max(h, w)
    square = np.zeros((side, side), dtype=np.float32)
    square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = gray
    resized = Image.fromarray(square).resize(shape[::-1], Image.Resampling.BOX)
    return np.clip(np.asarray(resized, dtype=np.float32), 0, 1).reshape(-1) * max_value
