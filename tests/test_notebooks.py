"""The notebooks run top to bottom in a fresh kernel, without an error."""

from __future__ import annotations

import gzip
import importlib
import inspect
import struct
from pathlib import Path

import build_tutorial
import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE.parent / "notebooks"
EXERCISES = NOTEBOOKS / "exercises.ipynb"
# The worked solutions: exercise_solutions.py for chapters 1-10, one module per later chapter.
SOLUTIONS = [importlib.import_module(p.stem) for p in sorted(HERE.glob("exercise_solutions*.py"))]


def solution(name):
    """The source of the worked solution called ``name``, from the one module that defines it."""
    found = [module for module in SOLUTIONS if hasattr(module, name)]
    assert len(found) == 1, f"{name} is defined in {len(found)} solution modules: {found}"
    return inspect.getsource(getattr(found[0], name))


def run_notebook(path, edit=None, timeout=120):
    """Execute the notebook at ``path`` in a fresh python3 kernel started in its folder and
    return it with its outputs. The first cell that raises fails the test (nbclient's
    CellExecutionError names the cell and shows its traceback). ``edit(nb)``, if given, may
    change the cells first; the file itself is never written."""
    nb = nbformat.read(path, as_version=4)
    if edit is not None:
        edit(nb)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(Path(path).parent)}})
    client.execute()
    return nb


def output_text(cell, stream="stdout"):
    return "".join(out.get("text", "") for out in cell.get("outputs", [])
                   if out.get("output_type") == "stream" and out.get("name") == stream)


def tagged(nb, prefix):
    """(tag, cell) for every cell with a tag starting with ``prefix``."""
    return [(tag, cell) for cell in nb.cells for tag in cell.metadata.get("tags", [])
            if tag.startswith(prefix)]


def assert_quiet(nb):
    """No warnings or other stderr output in any cell."""
    noisy = [(cell.source, output_text(cell, "stderr")) for cell in nb.cells
             if cell.cell_type == "code" and output_text(cell, "stderr")]
    assert not noisy, noisy


def test_exercises_notebook_runs():
    nb = run_notebook(EXERCISES)
    checks = tagged(nb, "check")
    assert len(checks) == len(tagged(nb, "exercise-")) > 20
    for _, cell in checks:
        # With every blank unfilled, each checker reports it plainly instead of crashing.
        assert "NOT IMPLEMENTED YET" in output_text(cell), (cell.source, output_text(cell))
    assert_quiet(nb)


def test_exercises_notebook_with_the_solutions_passes_every_check():
    def solve(nb):
        for tag, cell in tagged(nb, "exercise-"):
            cell.source = solution(tag[len("exercise-"):])

    nb = run_notebook(EXERCISES, edit=solve)
    for _, cell in tagged(nb, "check"):
        text = output_text(cell)
        assert "PASSED" in text and "FAILED" not in text, (cell.source, text)
    printed = "".join(output_text(cell) for cell in nb.cells if cell.cell_type == "code")
    assert "Waiting" not in printed and "waiting" not in printed
    assert "test accuracy" in printed
    assert_quiet(nb)


# -- the tutorial ---------------------------------------------------------------------------------
TUTORIAL = NOTEBOOKS / "tutorial.ipynb"


def test_tutorial_notebook_matches_its_builder():
    # The .ipynb is generated: an edit made to only one of the two would be lost or unreviewed.
    built = build_tutorial.build()
    committed = nbformat.read(TUTORIAL, as_version=4)
    assert [(c.cell_type, c.source) for c in committed.cells] == [
        (c.cell_type, c.source) for c in built.cells
    ]
    # ... and it is committed with its outputs, plots included.
    assert all(c.get("outputs") for c in committed.cells if c.cell_type == "code")
    assert sum("image/png" in out.get("data", {}) for c in committed.cells
               for out in c.get("outputs", [])) >= 15


def _single_threaded(monkeypatch):
    # As the builder runs it: small matrices are much faster without BLAS threads on a busy machine.
    for name, value in build_tutorial.SINGLE_THREADED.items():
        monkeypatch.setenv(name, value)


def test_tutorial_notebook_runs(monkeypatch):
    _single_threaded(monkeypatch)
    nb = run_notebook(TUTORIAL)
    printed = "".join(output_text(cell) for cell in nb.cells if cell.cell_type == "code")
    # Every comparison of NumPy with the library prints True, and every gradient check passes.
    assert printed.count(": True") >= 15 and "False" not in printed, printed
    assert "gradcheck passed" in printed and "WRONG" not in printed
    assert "largest difference, hand loop vs fit: loss 0.0e+00, weights 0.0e+00" in printed
    assert "uniform(-1, 1)  diverged" in printed
    # The one progress bar shown went to stdout (assert_quiet below) and ran to the end.
    assert "epoch 3/3" in printed and "42/42" in printed
    # The MNIST cell either trained or said plainly why it did not.
    mnist_trained = "test accuracy on all" in printed
    assert mnist_trained or "NOTE: MNIST" in printed
    images = [out for cell in nb.cells for out in cell.get("outputs", [])
              if "image/png" in out.get("data", {})]
    # Without the MNIST files (a clean machine) that chapter draws none of its two figures.
    assert len(images) >= (17 if mnist_trained else 15)
    assert_quiet(nb)


def _setup_and_mnist_only(nb):
    nb.cells = [c for c in nb.cells if {"setup", "mnist"} & set(c.metadata.get("tags", []))]


def test_tutorial_skips_mnist_with_a_note_when_there_are_no_files(tmp_path, monkeypatch):
    _single_threaded(monkeypatch)
    monkeypatch.setenv("SCRATCHNN_MNIST_DIR", str(tmp_path / "no-such-folder"))

    nb = run_notebook(TUTORIAL, edit=_setup_and_mnist_only)
    assert len(nb.cells) == 3
    printed = "".join(output_text(cell) for cell in nb.cells)
    assert "NOTE: MNIST not found" in printed and "no-such-folder" in printed
    assert "NOTE: MNIST training skipped" in printed
    assert_quiet(nb)


def _write_idx(folder, prefix, n, rng):
    """Small MNIST-format files: ``prefix``-images-idx3-ubyte.gz (n random 28x28 images) and
    ``prefix``-labels-idx1-ubyte.gz (each digit n // 10 times)."""
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = np.arange(n, dtype=np.uint8) % 10
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28) + images.tobytes())
    with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + labels.tobytes())


def _mnist_cells_with(folder, monkeypatch):
    """The setup and MNIST cells, run with SCRATCHNN_MNIST_DIR=folder; their printed text."""
    _single_threaded(monkeypatch)
    monkeypatch.setenv("SCRATCHNN_MNIST_DIR", str(folder))
    nb = run_notebook(TUTORIAL, edit=_setup_and_mnist_only)
    assert_quiet(nb)
    images = [out for cell in nb.cells for out in cell.get("outputs", [])
              if "image/png" in out.get("data", {})]
    printed = "".join(output_text(cell) for cell in nb.cells)
    assert len(images) == 2, printed  # the misread digits and the first layer's weights
    return printed


def test_tutorial_trains_on_mnist_files_in_the_folder_named_by_the_environment(tmp_path,
                                                                              monkeypatch):
    rng = np.random.default_rng(0)
    _write_idx(tmp_path, "train", 100, rng)
    _write_idx(tmp_path, "t10k", 50, rng)
    printed = _mnist_cells_with(tmp_path, monkeypatch)
    assert "MNIST from the standard files" in printed
    assert "train (100, 784), test (50, 784)" in printed
    assert "test accuracy on all 50 test images" in printed


@pytest.mark.parametrize(("pointed_at", "files_used"), [
    ("mnist", "../mnist5k/mnist_5k.csv.gz and the test files"),
    (".", "mnist5k/mnist_5k.csv.gz and the test files in mnist/"),
])
def test_tutorial_finds_the_training_csv_beside_the_mnist_test_folder(tmp_path, monkeypatch,
                                                                    pointed_at, files_used):
    # The layout of ../shared/data: the t10k files in mnist/, mnist5k/mnist_5k.csv.gz beside it.
    # SCRATCHNN_MNIST_DIR may name the parent or the mnist/ folder itself (which once gave "No
    # MNIST folder").
    rng = np.random.default_rng(0)
    _write_idx(tmp_path / "mnist", "t10k", 40, rng)
    (tmp_path / "mnist5k").mkdir()
    rows = np.column_stack([rng.integers(0, 256, size=(80, 784)), np.arange(80) % 10])
    with gzip.open(tmp_path / "mnist5k" / "mnist_5k.csv.gz", "wt") as f:
        np.savetxt(f, rows, fmt="%d", delimiter=",")  # 784 pixels, then the label, no header
    printed = _mnist_cells_with(tmp_path / pointed_at, monkeypatch)
    assert f"MNIST from {files_used}:" in printed
    assert "train (80, 784), test (40, 784)" in printed
    assert "test accuracy on all 40 test images" in printed


def test_tutorial_splits_the_mnist_test_files_when_they_are_all_there_is(tmp_path, monkeypatch):
    # A folder of the t10k files alone, with no mnist5k/ folder beside it.
    _write_idx(tmp_path / "mnist", "t10k", 60, np.random.default_rng(0))
    printed = _mnist_cells_with(tmp_path / "mnist", monkeypatch)
    assert "MNIST from only the test files, split in two halves" in printed
    assert "train (30, 784), test (30, 784)" in printed
    assert "test accuracy on all 30 test images" in printed
