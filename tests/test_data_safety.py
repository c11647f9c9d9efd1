"""Hostile data files (issue 13): bounded memory for IDX bombs, exact MNIST CSV labels, the
shipped housing table, and hypothesis fuzzing of the IDX and CSV readers under a memory limit.

The memory-bounded checks run in a child Python whose address space is capped
(``RLIMIT_AS``, Linux) a little above what it uses after its imports: an allocation of the
size a lying header announces fails there with MemoryError instead of passing unnoticed.
"""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
import tempfile
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pytest
from fixtures import idx_bytes, mnist_like, write_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scratchnn.datasets import HOUSING_CSV, load_csv, load_housing, load_mnist, read_idx

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
HEADROOM_MB = 512  # what the child may allocate beyond its size after importing

needs_rlimit = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                  reason="RLIMIT_AS and /proc/self/status are Linux's")


def limit_memory(headroom_mb=HEADROOM_MB):
    """Cap this process's address space at its present size plus ``headroom_mb``."""
    import resource

    status = Path("/proc/self/status").read_text()
    vm_kb = int(next(line.split()[1] for line in status.splitlines()
                     if line.startswith("VmSize:")))
    limit = vm_kb * 1024 + headroom_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def run_limited(body, timeout=120):
    """Run ``body`` in a child Python under ``limit_memory``; fail with its output unless it
    exits 0. The child has this module imported as ``t`` (fuzzers, helpers)."""
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import test_data_safety as t
        t.limit_memory()
    """) + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return done.stdout


def is_clean(exc, path):
    """A clean refusal: ValueError or FileNotFoundError, a sentence naming the file."""
    return (isinstance(exc, (ValueError, FileNotFoundError)) and Path(path).name in str(exc)
            and not str(exc).startswith("Traceback"))


# -- item 5: gzip IDX bombs are read only as far as the header announces --------------------------
def write_gzip_bomb(path, header_shape=(10, 28, 28), inflated_gib=3):
    """A gzip IDX file of about 1 MB per inflated GiB: the header announces ``header_shape``
    bytes and is followed by ``inflated_gib`` GiB of zeros (concatenated gzip members, which
    gzip reads as one stream)."""
    header = bytes([0, 0, 0x08, len(header_shape)])
    header += b"".join(int(d).to_bytes(4, "big") for d in header_shape)
    member = gzip.compress(bytes(1 << 20), compresslevel=9, mtime=0)
    with open(path, "wb") as f:
        f.write(gzip.compress(header, mtime=0))
        f.write(member * (inflated_gib * 1024))
    return path


@needs_rlimit
def test_a_gzip_bomb_is_refused_after_reading_a_little_past_its_announced_size(tmp_path):
    bomb = write_gzip_bomb(tmp_path / "train-images-idx3-ubyte.gz")
    assert bomb.stat().st_size < 4_000_000  # 3 MB on disk, 3 GiB inflated
    labels = idx_bytes(np.zeros(10, dtype=np.uint8))
    write_bytes(tmp_path / "train-labels-idx1-ubyte.gz", labels, gz=True)
    out = run_limited(f"""
        import time
        from pathlib import Path
        from scratchnn.datasets import load_mnist, read_idx
        bomb = Path({str(bomb)!r})
        for load in (read_idx, load_mnist):
            start = time.perf_counter()
            try:
                load(bomb)
            except ValueError as exc:
                assert "at least 1048576 bytes more than its header announces" in str(exc), exc
                assert str(bomb) in str(exc)
            else:
                raise AssertionError("the bomb was accepted")
            print(round(time.perf_counter() - start, 3))
    """)
    assert all(float(t) < 2 for t in out.split())


@needs_rlimit
def test_a_header_announcing_terabytes_costs_only_what_the_file_holds(tmp_path):
    header = bytes([0, 0, 0x0E, 3]) + b"".join(d.to_bytes(4, "big") for d in (2**31, 2**31, 9))
    path = write_bytes(tmp_path / "liar.idx.gz", header + bytes(5000), gz=True)
    run_limited(f"""
        from scratchnn.datasets import read_idx
        try:
            read_idx({str(path)!r})
        except ValueError as exc:
            assert "is truncated" in str(exc) and "5000 bytes follow" in str(exc), exc
        else:
            raise AssertionError("accepted")
    """)


def test_exact_excess_is_still_counted_for_a_small_overlong_gzip_file(tmp_path):
    data = idx_bytes(np.zeros((2, 3), dtype=np.uint8)) + b"extra"
    with pytest.raises(ValueError, match="it holds 5 bytes more than its header announces"):
        read_idx(write_bytes(tmp_path / "long.gz", data, gz=True))


def test_too_many_dimensions_is_a_sentence(tmp_path):
    path = write_bytes(tmp_path / "dims.idx", bytes([0, 0, 0x08, 200]) + bytes(800))
    with pytest.raises(ValueError, match="announces 200 dimensions"):
        read_idx(path)


# -- item 13 (part): MNIST CSV labels are read as integers ---------------------------------------
@pytest.mark.parametrize("header", [True, False])
def test_mnist_csv_labels_beyond_float32_stay_exact(tmp_path, header):
    labels = [2**24, 2**24 + 1, 2**40 + 1, 3]  # float32 would merge the first two
    lines = ["label," + ",".join(f"p{i}" for i in range(4))] if header else []
    lines += [f"{label},0,12,255,7" for label in labels]
    path = tmp_path / "mnist_train.csv"
    path.write_text("\n".join(lines) + "\n")
    X, y = load_mnist(path, label_column="first")
    assert y.dtype == np.int64 and y.tolist() == labels
    np.testing.assert_array_equal(X[0] * 255, np.float32([0, 12, 255, 7]))


def test_mnist_csv_labels_written_as_whole_floats_still_read(tmp_path):
    images, labels = mnist_like(6, seed=3)
    rows = [f"{float(lab)}," + ",".join(map(str, img.ravel())) for img, lab in zip(images, labels,
                                                                                   strict=True)]
    path = tmp_path / "mnist_test.csv"
    path.write_text("\n".join(rows) + "\n")
    X, y = load_mnist(path)
    np.testing.assert_array_equal(y, labels)


# -- item 16: the housing table ships with the package ---------------------------------------------
def test_load_housing_is_the_shipped_table_read_by_load_csv():
    data = load_housing()
    assert data.target == "median_house_value"
    assert data.X.shape == (16512, 9) and len(data.y) == 16512
    assert data.categorical == ["ocean_proximity"]
    assert int(data.X["total_bedrooms"].isna().sum()) == 168
    assert data.y.dtype == np.float64 and 14_000 < data.y.min() < data.y.max() <= 500_001
    again = load_csv(HOUSING_CSV, target="median_house_value")
    assert again.X.equals(data.X) and again.y.equals(data.y)


def test_the_shipped_housing_file_is_the_one_its_readme_describes():
    readme = (HOUSING_CSV.parent / "README.md").read_text()
    digest = hashlib.sha256(gzip.decompress(HOUSING_CSV.read_bytes())).hexdigest()
    assert digest in readme
    assert "Pace" in readme and "Géron" in readme and "Licence" in readme


def test_the_housing_file_is_declared_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["scratchnn"]
    relative = HOUSING_CSV.relative_to(HOUSING_CSV.parents[1]).as_posix()
    assert relative in patterns and "data/README.md" in patterns


def test_cli_trains_on_data_housing(tmp_path, capsys):
    from scratchnn.cli import main

    code = main(["train", "--data", "housing", "--hidden", "8", "--epochs", "1",
                 "--out", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "13209 training rows, 3303 test rows" in out
    assert "-> median_house_value (regression)" in out
    assert (tmp_path / "run" / "model.npz").is_file()


def test_cli_data_housing_with_another_target_infers_the_task(tmp_path, capsys):
    from scratchnn.cli import main

    code = main(["train", "--data", "housing", "--target", "ocean_proximity", "--hidden", "8",
                 "--epochs", "1", "--out", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "-> 5 classes" in out


# -- fuzzing: only clean errors, within a memory limit --------------------------------------------
FUZZ = settings(max_examples=50, deadline=3000, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_dims = st.one_of(st.integers(0, 6), st.integers(0, 2**32 - 1))


@st.composite
def idx_files(draw):
    """Bytes shaped like IDX: a valid-looking header (or not), data of about the announced
    size (or not), cut, flipped, padded or gzip bombs."""
    dtype_byte = draw(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0x42]))
    ndim = draw(st.one_of(st.integers(0, 4), st.sampled_from([33, 255])))
    dims = draw(st.lists(_dims, min_size=min(ndim, 6), max_size=min(ndim, 6)))
    head = bytes([0, 0, dtype_byte, ndim]) + b"".join(d.to_bytes(4, "big") for d in dims)
    itemsize = {0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}.get(dtype_byte, 1)
    announced = itemsize * int(np.prod(dims, dtype=object)) if dims else 0
    size = draw(st.one_of(st.just(min(announced, 1 << 16)), st.integers(0, 3000)))
    body = draw(st.binary(min_size=0, max_size=64)) * (size // 64 + 1)
    data = head + body[:size] + draw(st.sampled_from([b"", b"\0", b"x" * 7]))
    if draw(st.booleans()):
        data = bytearray(data)
        data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        data = bytes(data)
    data = data[: draw(st.integers(0, len(data)))] if draw(st.booleans()) else data
    how = draw(st.sampled_from(["plain", "gzip", "gzip-cut", "bomb"]))
    if how == "gzip":
        data = gzip.compress(data, mtime=0)
    elif how == "gzip-cut":
        data = gzip.compress(data, mtime=0)[: draw(st.integers(0, 40))]
    elif how == "bomb":  # up to 160 MiB of zeros after the header, ~0.16 MB on disk. A header
        # may announce that much: the data is then real, and the limit leaves room for it.
        member = gzip.compress(bytes(1 << 20), compresslevel=9, mtime=0)
        data = gzip.compress(data, mtime=0) + member * draw(st.integers(1, 160))
    return data


def _check_idx_result(result, path):
    assert isinstance(result, np.ndarray) and result.dtype.isnative, path


@FUZZ
@given(data=idx_files())
def fuzz_read_idx(data):
    with tempfile.TemporaryDirectory() as folder:
        path = write_bytes(Path(folder) / "f.idx", data)
        try:
            _check_idx_result(read_idx(path), path)
        except Exception as exc:  # noqa: BLE001 -- any other type is the finding
            assert is_clean(exc, path), repr(exc)


@FUZZ
@given(images=idx_files(), labels=idx_files(), valid_labels=st.booleans())
def fuzz_load_mnist_idx_files(images, labels, valid_labels):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        path = write_bytes(folder / "train-images-idx3-ubyte.gz", images)
        if valid_labels:
            labels = idx_bytes(np.arange(5, dtype=np.uint8) % 10)
        write_bytes(folder / "train-labels-idx1-ubyte.gz", labels)
        for load in (lambda: load_mnist(path), lambda: load_mnist(folder, "train")):
            try:
                X, y = load()
                assert X.dtype == np.float32 and y.dtype == np.int64 and len(X) == len(y)
            except Exception as exc:  # noqa: BLE001
                assert is_clean(exc, path) or is_clean(exc, folder), repr(exc)


_tokens = st.one_of(
    st.integers(-3, 300).map(str),
    st.sampled_from(["", "0", "9", "255", "1e308", "-1e400", "nan", "inf", "NA", "3.5",
                     str(2**24 + 1), str(2**70), "label", "x", '"7"', '"a,b"', " 4 ", "\t"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\0"), max_size=6),
)


@st.composite
def csv_files(draw):
    """CSV-like text: a header or not, ragged rows of numbers, words and odd tokens; sometimes
    gzipped or cut, sometimes plain binary."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    width = draw(st.integers(1, 6))
    header = draw(st.sampled_from([None, "label", "a"]))
    lines = []
    if header:
        lines.append(",".join([header, *(f"c{i}" for i in range(width - 1))]))
    for _ in range(draw(st.integers(0, 8))):
        n = width if draw(st.integers(0, 4)) else draw(st.integers(0, width + 2))
        lines.append(",".join(draw(st.lists(_tokens, min_size=n, max_size=n))))
    data = ("\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))).encode()
    how = draw(st.sampled_from(["plain", "plain", "gzip", "gzip-cut"]))
    if how == "gzip":
        data = gzip.compress(data, mtime=0)
    elif how == "gzip-cut":
        data = gzip.compress(data, mtime=0)[: draw(st.integers(0, 30))]
    return data


@FUZZ
@given(data=csv_files(), label_column=st.sampled_from(["auto", "first", "last"]))
def fuzz_load_mnist_csv(data, label_column):
    with tempfile.TemporaryDirectory() as folder:
        path = write_bytes(Path(folder) / "mnist_train.csv", data)
        try:
            X, y = load_mnist(path, label_column=label_column)
            assert X.dtype == np.float32 and y.dtype == np.int64 and len(X) == len(y)
        except Exception as exc:  # noqa: BLE001
            assert is_clean(exc, path), repr(exc)


@FUZZ
@given(data=csv_files(), target=st.sampled_from([None, "label", "c0", "nope"]))
def fuzz_load_csv(data, target):
    with tempfile.TemporaryDirectory() as folder:
        path = write_bytes(Path(folder) / "table.csv", data)
        try:
            table = load_csv(path, target=target)
            assert len(table.X) > 0 and (target is None or len(table.y) == len(table.X))
        except Exception as exc:  # noqa: BLE001
            assert is_clean(exc, path), repr(exc)


@needs_rlimit
@pytest.mark.parametrize("fuzzer", ["fuzz_read_idx", "fuzz_load_mnist_idx_files",
                                    "fuzz_load_mnist_csv", "fuzz_load_csv"])
def test_fuzzed_files_give_only_clean_errors_within_a_memory_limit(fuzzer):
    run_limited(f"t.{fuzzer}()", timeout=300)


# -- CSV bombs: a line longer than a megabyte is refused while reading -----------------------------
@pytest.mark.parametrize("reader", ["load_mnist", "load_csv"])
@needs_rlimit
def test_a_gzip_csv_without_newlines_is_refused_within_the_limit(tmp_path, reader):
    member = gzip.compress(bytes(1 << 20), compresslevel=9, mtime=0)
    path = tmp_path / "mnist_train.csv.gz"
    path.write_bytes(gzip.compress(b"label,p1\n1,2\n", mtime=0) + member * 2048)  # 2 GiB
    run_limited(f"""
        from scratchnn import datasets
        try:
            datasets.{reader}({str(path)!r})
        except ValueError as exc:
            assert "has a line longer than 1048576 bytes" in str(exc), exc
        else:
            raise AssertionError("accepted")
    """)


def test_a_one_pixel_mnist_csv_is_read(tmp_path):
    # pandas hands one column back as a read-only view; the pixels are scaled in place
    X, y = load_mnist(write_bytes(tmp_path / "tiny.csv", b"0,51\n1,255\n"), label_column="first")
    np.testing.assert_allclose(X, [[0.2], [1.0]])
    assert y.tolist() == [0, 1]
