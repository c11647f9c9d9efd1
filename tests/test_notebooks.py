"""The notebooks run top to bottom in a fresh kernel, without an error."""

from __future__ import annotations

import inspect
from pathlib import Path

import exercise_solutions
import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
EXERCISES = NOTEBOOKS / "exercises.ipynb"


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
            cell.source = inspect.getsource(getattr(exercise_solutions, tag[len("exercise-"):]))

    nb = run_notebook(EXERCISES, edit=solve)
    for _, cell in tagged(nb, "check"):
        text = output_text(cell)
        assert "PASSED" in text and "FAILED" not in text, (cell.source, text)
    printed = "".join(output_text(cell) for cell in nb.cells if cell.cell_type == "code")
    assert "Waiting" not in printed and "waiting" not in printed
    assert "test accuracy" in printed
    assert_quiet(nb)
