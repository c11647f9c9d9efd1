"""Loaders: digits, MNIST-style IDX and CSV files (generated here), and user CSV tables."""

import gzip

import numpy as np
import pandas as pd
import pytest
from fixtures import (
    housing_like,
    idx_bytes,
    mnist_like,
    write_bytes,
    write_housing_like_csv,
    write_idx_mnist,
    write_mnist_csv,
)

from scratchnn.datasets import DataSplit, MnistData, load_csv, load_digits, load_mnist, read_idx


def scaled(images):
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255)


# -- digits ---------------------------------------------------------------------------------------
def test_load_digits_scales_pixels_to_unit_range_as_float32():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    # digit pixels are 0..16, so every scaled value is a multiple of 1/16
    np.testing.assert_allclose(X * 16, np.round(X * 16), atol=1e-5)


def test_load_digits_images_are_the_rows_reshaped():
    X, y = load_digits()
    images, y2 = load_digits(return_images=True)
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32
    np.testing.assert_array_equal(images.reshape(1797, 64), X)
    np.testing.assert_array_equal(y, y2)


# -- read_idx -------------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trips_uint8_arrays(tmp_path, gz):
    array = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)
    path = write_bytes(tmp_path / "a.idx", idx_bytes(array), gz=gz)
    np.testing.assert_array_equal(read_idx(path), array)


def test_read_idx_reads_big_endian_floats_and_ints(tmp_path):
    floats = np.array([[1.5, -2.25], [3.0, 1e10]])
    header = bytes([0, 0, 0x0E, 2]) + (2).to_bytes(4, "big") + (2).to_bytes(4, "big")
    path = write_bytes(tmp_path / "f.idx", header + floats.astype(">f8").tobytes())
    out = read_idx(path)
    assert out.dtype == np.float64 and out.dtype.isnative
    np.testing.assert_array_equal(out, floats)

    ints = np.array([-70000, 5, 123456789], dtype=">i4")
    path = write_bytes(tmp_path / "i.idx", bytes([0, 0, 0x0C, 1]) + (3).to_bytes(4, "big")
                       + ints.tobytes())
    np.testing.assert_array_equal(read_idx(path), [-70000, 5, 123456789])


def test_read_idx_refuses_truncated_padded_and_foreign_files(tmp_path):
    data = idx_bytes(np.zeros((4, 28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"truncated.*\(4, 28, 28\)"):
        read_idx(write_bytes(tmp_path / "short", data[:-10]))
    with pytest.raises(ValueError, match="truncated: it ends inside"):
        read_idx(write_bytes(tmp_path / "header", data[:9]))
    with pytest.raises(ValueError, match="3 bytes more"):
        read_idx(write_bytes(tmp_path / "long", data + b"abc"))
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(write_bytes(tmp_path / "text", b"label,1x1\n3,0\n"))
    with pytest.raises(ValueError, match="damaged or truncated gzip"):
        read_idx(write_bytes(tmp_path / "cut.gz", gzip.compress(data)[:-20]))
    with pytest.raises(FileNotFoundError, match="No IDX file"):
        read_idx(tmp_path / "absent")


# -- load_mnist: IDX ------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_idx_both_splits(tmp_path, gz):
    truth = write_idx_mnist(tmp_path, n_train=30, n_test=12, gz=gz)
    data = load_mnist(tmp_path)
    assert isinstance(data, MnistData)
    (X_train, y_train), (X_test, y_test) = data
    for (X, y), (images, labels) in ((data.train, truth["train"]), (data.test, truth["test"])):
        assert X.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(X, scaled(images))
        np.testing.assert_array_equal(y, labels)
    assert X_train.shape == (30, 784) and X_test.shape == (12, 784)
    assert y_train.shape == (30,) and y_test.shape == (12,)


def test_load_mnist_single_split_and_images(tmp_path):
    truth = write_idx_mnist(tmp_path, n_train=5, n_test=7)
    test = load_mnist(tmp_path, split="test", flatten=False)
    assert isinstance(test, DataSplit)
    assert test.X.shape == (7, 28, 28)
    np.testing.assert_array_equal(test.X * 255, truth["test"][0].astype(np.float32))
    train = load_mnist(str(tmp_path), split="train")
    np.testing.assert_array_equal(train.y, truth["train"][1])


def test_load_mnist_images_for_a_convolution(tmp_path):
    truth = write_idx_mnist(tmp_path, n_train=5, n_test=7)
    (X_train, y_train), (X_test, _) = load_mnist(tmp_path, images=True)
    assert X_train.shape == (5, 1, 28, 28) and X_test.shape == (7, 1, 28, 28)
    np.testing.assert_array_equal(X_test[:, 0] * 255, truth["test"][0].astype(np.float32))
    np.testing.assert_array_equal(y_train, truth["train"][1])
    single = load_mnist(tmp_path, split="test", images=True)
    assert single.X.shape == (7, 1, 28, 28) and single.X.dtype == np.float32
    csv = tmp_path / "csv"
    csv.mkdir()
    write_mnist_csv(csv / "mnist_test.csv", n=4)
    assert load_mnist(csv / "mnist_test.csv", images=True).X.shape == (4, 1, 28, 28)


def test_only_test_files_present_names_the_missing_train_files(tmp_path):
    write_idx_mnist(tmp_path, n_train=0, n_test=6)
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message
    assert "train-images-idx3-ubyte" in message and "train-labels-idx1-ubyte" in message
    assert "split='test'" in message
    X, y = load_mnist(tmp_path, split="test")
    assert X.shape == (6, 784)


def test_missing_labels_file_is_named_and_the_images_file_found_is_said(tmp_path):
    write_idx_mnist(tmp_path, n_train=5, n_test=5)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError,
                       match=r"no test data.*t10k-labels-idx1-ubyte.*only the images file "
                             r"t10k-images-idx3-ubyte.gz is there"):
        load_mnist(tmp_path, split="test")


def test_kaggle_dotted_idx_names_are_found(tmp_path):
    images, labels = mnist_like(4)
    write_bytes(tmp_path / "train-images.idx3-ubyte", idx_bytes(images))
    write_bytes(tmp_path / "train-labels.idx1-ubyte", idx_bytes(labels))
    X, y = load_mnist(tmp_path, split="train")
    np.testing.assert_array_equal(X, scaled(images))


def test_swapped_files_fail_on_the_magic_number(tmp_path):
    images, labels = mnist_like(4)
    write_bytes(tmp_path / "train-images-idx3-ubyte", idx_bytes(labels))
    write_bytes(tmp_path / "train-labels-idx1-ubyte", idx_bytes(images))
    with pytest.raises(ValueError, match=r"magic number 2051.*is 2049.*swapped"):
        load_mnist(tmp_path, split="train")


def test_image_and_label_counts_must_match(tmp_path):
    images, labels = mnist_like(10)
    write_bytes(tmp_path / "t10k-images-idx3-ubyte.gz", idx_bytes(images), gz=True)
    write_bytes(tmp_path / "t10k-labels-idx1-ubyte.gz", idx_bytes(labels[:9]), gz=True)
    with pytest.raises(ValueError, match="10 images but .* 9 labels"):
        load_mnist(tmp_path, split="test")


def test_truncated_idx_files_are_refused(tmp_path):
    write_idx_mnist(tmp_path, n_train=0, n_test=5, gz=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte is truncated"):
        load_mnist(tmp_path, split="test")
    write_idx_mnist(tmp_path, n_train=0, n_test=5, gz=True)
    gz_path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.unlink()
    gz_path.write_bytes(gz_path.read_bytes()[:-30])
    with pytest.raises(ValueError, match="truncated"):
        load_mnist(tmp_path, split="test")


def test_an_images_file_as_path_finds_its_labels_beside_it(tmp_path):
    truth = write_idx_mnist(tmp_path, n_train=0, n_test=5)
    X, y = load_mnist(tmp_path / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(y, truth["test"][1])
    with pytest.raises(ValueError, match="is an IDX labels file; pass its images file"):
        load_mnist(tmp_path / "t10k-labels-idx1-ubyte.gz")
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.gz is not in"):
        load_mnist(tmp_path / "t10k-images-idx3-ubyte.gz")


def test_bad_arguments(tmp_path):
    write_idx_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="No MNIST folder or file"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="split must be"):
        load_mnist(tmp_path, split="validation")
    with pytest.raises(ValueError, match="split applies to a folder"):
        load_mnist(tmp_path / "t10k-images-idx3-ubyte.gz", split="test")
    with pytest.raises(ValueError, match="label_column"):
        load_mnist(tmp_path, label_column=0)
    with pytest.raises(TypeError, match="path must be"):
        load_mnist(None)


# -- load_mnist: CSV ------------------------------------------------------------------------------
def test_csv_folder_with_header_label_first(tmp_path):
    train_pixels, train_labels = write_mnist_csv(tmp_path / "mnist_train.csv", n=15, seed=1)
    test_pixels, test_labels = write_mnist_csv(tmp_path / "mnist_test.csv", n=8, seed=2)
    (X_train, y_train), (X_test, y_test) = load_mnist(tmp_path)
    np.testing.assert_array_equal(X_train, scaled(train_pixels))
    np.testing.assert_array_equal(y_train, train_labels)
    np.testing.assert_array_equal(X_test, scaled(test_pixels))
    assert X_test.dtype == np.float32 and y_test.dtype == np.int64


def test_csv_header_with_label_last_is_found_by_name(tmp_path):
    path = tmp_path / "fashion-mnist_test.csv"
    pixels, labels = write_mnist_csv(path, n=6, label_position="last")
    X, y = load_mnist(tmp_path, split="test", flatten=False)
    assert X.shape == (6, 28, 28)
    np.testing.assert_array_equal(y, labels)


@pytest.mark.parametrize("position", ["first", "last"])
def test_headerless_csv_label_column_is_detected(tmp_path, position):
    path = tmp_path / "mnist_5k.csv.gz"
    pixels, labels = write_mnist_csv(path, n=40, header=False, label_position=position, gz=True)
    X, y = load_mnist(path)
    np.testing.assert_array_equal(X, scaled(pixels))
    np.testing.assert_array_equal(y, labels)
    X2, y2 = load_mnist(path, label_column=position)
    np.testing.assert_array_equal(y2, labels)


def test_headerless_csv_that_cannot_be_told_apart_asks_for_label_column(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text(",".join(["0"] * 785) + "\n")
    with pytest.raises(ValueError, match="label_column='first' or label_column='last'"):
        load_mnist(path)
    X, y = load_mnist(path, label_column="last")
    assert X.shape == (1, 784) and y.tolist() == [0]


def test_csv_content_checks(tmp_path):
    pixels, labels = mnist_like(3)
    rows = np.column_stack([labels, pixels.reshape(3, -1)]).astype(float)
    pixel_names = ",".join(f"p{i}" for i in range(784))

    def write(name, array, header="label," + pixel_names):
        path = tmp_path / name
        pd.DataFrame(array).to_csv(path, index=False, header=header.split(","))
        return path

    too_bright = rows.copy()
    too_bright[1, 100] = 300
    with pytest.raises(ValueError, match="outside the whole numbers 0..255"):
        load_mnist(write("bright.csv", too_bright))
    prescaled = rows.copy()
    prescaled[:, 1:] /= 255
    with pytest.raises(ValueError, match="scaled twice"):
        load_mnist(write("scaled.csv", prescaled))
    with pytest.raises(ValueError, match="no 'label' column"):
        load_mnist(write("nolabel.csv", rows, "digit," + pixel_names))
    bad_label = rows.copy()
    bad_label[0, 0] = 2.5
    with pytest.raises(ValueError, match="whole-number class labels"):
        load_mnist(write("badlabel.csv", bad_label))
    gap = rows.copy()
    gap[2, 5] = np.nan
    with pytest.raises(ValueError, match="empty or non-numeric fields"):
        load_mnist(write("gap.csv", gap))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("label,a,b\n1,0,0\n2,0,0,7\n")
    with pytest.raises(ValueError, match="ragged.csv could not be read"):
        load_mnist(ragged)
    with pytest.raises(ValueError, match="not a square image"):
        load_mnist(write("small.csv", rows[:, :11], "label," + ",".join("abcdefghij")),
                   flatten=False)


def test_idx_wins_over_csv_and_several_csvs_are_ambiguous(tmp_path):
    truth = write_idx_mnist(tmp_path, n_train=4, n_test=4)
    write_mnist_csv(tmp_path / "mnist_train.csv", n=9)
    np.testing.assert_array_equal(load_mnist(tmp_path, split="train").y, truth["train"][1])
    write_mnist_csv(tmp_path / "a_test.csv", n=3)
    write_mnist_csv(tmp_path / "b_test.csv", n=3)
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(ValueError, match="several test CSV files .*a_test.csv, b_test.csv"):
        load_mnist(tmp_path, split="test")


# -- load_csv -------------------------------------------------------------------------------------
def test_load_csv_splits_features_target_and_kinds(tmp_path):
    path = tmp_path / "housing.csv"
    table = write_housing_like_csv(path, n_rows=50, seed=3)
    data = load_csv(path, target="median_house_value")
    assert "median_house_value" not in data.X.columns
    assert data.X.shape == (50, 9) and data.target == "median_house_value"
    assert data.categorical == ["ocean_proximity"]
    assert data.numeric == [c for c in table.columns[:-1] if c != "ocean_proximity"]
    np.testing.assert_allclose(data.y.to_numpy(), table["median_house_value"].to_numpy())
    assert data.X["total_bedrooms"].isna().sum() == table["total_bedrooms"].isna().sum() > 0
    assert load_csv(path).y is None


def test_load_csv_errors(tmp_path):
    path = tmp_path / "housing.csv"
    write_housing_like_csv(path, n_rows=10)
    with pytest.raises(ValueError, match=r"no column 'price'.*'longitude'.*'median_house_value'"):
        load_csv(path, target="price")
    with pytest.raises(FileNotFoundError, match="No CSV file at"):
        load_csv(tmp_path / "absent.csv", target="y")
    with pytest.raises(ValueError, match="is a folder"):
        load_csv(tmp_path)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="empty"):
        load_csv(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="no rows"):
        load_csv(tmp_path / "header.csv")
    gappy = housing_like(10)
    gappy.loc[3, "median_house_value"] = np.nan
    gappy.to_csv(tmp_path / "gappy.csv", index=False)
    with pytest.raises(ValueError, match="1 missing value"):
        load_csv(tmp_path / "gappy.csv", target="median_house_value")


def test_load_csv_refuses_a_number_column_with_a_stray_word(tmp_path):
    # One "?" among numbers would otherwise make the column categorical: thousands of one-hot
    # columns, and a model that trains without a word of warning.
    table = housing_like(30)
    table["total_rooms"] = table["total_rooms"].astype(object)
    table.loc[4, "total_rooms"] = "?"
    table.to_csv(tmp_path / "stray.csv", index=False)
    with pytest.raises(ValueError, match=r"'total_rooms' .* numbers but also '\?' on line 6"):
        load_csv(tmp_path / "stray.csv", target="median_house_value")
    # A text column that happens to hold a few numbers is still categorical.
    codes = pd.DataFrame({"code": ["A1", "B2", "7", "C3", "D4"], "y": [1.0, 2, 3, 4, 5]})
    codes.to_csv(tmp_path / "codes.csv", index=False)
    assert load_csv(tmp_path / "codes.csv", target="y").categorical == ["code"]
