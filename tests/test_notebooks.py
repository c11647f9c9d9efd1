"""The notebooks run top to bottom in a fresh kernel, without an error."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import build_tutorial
import nbformat
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
               for out in c.get("outputs", [])) >= 12


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
    # The MNIST cell either trained or said plainly why it did not.
    mnist_trained = "test accuracy on all 10,000 test images" in printed
    assert mnist_trained or "NOTE: MNIST" in printed
    images = [out for cell in nb.cells for out in cell.get("outputs", [])
              if "image/png" in out.get("data", {})]
    # Without the MNIST files (a clean machine) that chapter draws no figure.
    assert len(images) >= (12 if mnist_trained else 11)
    assert_quiet(nb)


def test_tutorial_skips_mnist_with_a_note_when_there_are_no_files(tmp_path, monkeypatch):
    _single_threaded(monkeypatch)
    monkeypatch.setenv("SCRATCHNN_MNIST_DIR", str(tmp_path / "no-such-folder"))

    def setup_and_mnist_only(nb):
        nb.cells = [c for c in nb.cells if {"setup", "mnist"} & set(c.metadata.get("tags", []))]

    nb = run_notebook(TUTORIAL, edit=setup_and_mnist_only)
    assert len(nb.cells) == 3
    printed = "".join(output_text(cell) for cell in nb.cells)
    assert "NOTE: MNIST not found" in printed and "no-such-folder" in printed
    assert "NOTE: MNIST training skipped" in printed
    assert_quiet(nb)
