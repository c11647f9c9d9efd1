"""Issue 13, "the first hour" and the smaller library items: one test (or a few) per item.

13 targets beyond float32 and infinite targets named as such; ModelCheckpoint's pattern checked
   when it is made; the BLAS-thread condition of bit-identical runs documented with the seed.
14 ``import scratchnn`` loads none of matplotlib, scikit-learn, pandas, http.client, urllib.
15 verbose=1 into a pipe or a file prints one line per epoch, not a redrawn bar.
18 the notebook builders are deterministic and their needs are the ``dev`` extra;
   bench_mlp.py checks its contenders' imports before it runs anything; help(net.fit) shows
   fit's real signature.
(17, the doc snippets, is tests/test_docs.py and tests/test_readme.py.)
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import json
import os
import pydoc
import re
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest

from scratchnn import ModelCheckpoint, MultiLayerNetwork

ROOT = Path(__file__).resolve().parent.parent


def small_regression(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 3)).astype(np.float32), rng.random(n)


# -- 13: targets, checkpoint patterns, the seed's condition ---------------------------------------
def test_targets_beyond_float32_are_named_y_and_said_to_overflow_without_warnings():
    X, y = small_regression()
    y[:5] = 1e308  # finite in float64, infinite in the network's float32
    net = MultiLayerNetwork.from_sizes([3, 4, 1], rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning before the error
        with pytest.raises(ValueError, match=r"^y has 5 value\(s\) that overflow float32 \(up to "
                                             r"1e\+308; float32 holds at most 3\.4e\+38\)"):
            net.fit(X, y, loss="mse", epochs=1, verbose=0)
    # A float64 network holds them: the check is about the cast, not the size.
    net64 = MultiLayerNetwork.from_sizes([3, 4, 1], rng=0, dtype=np.float64)
    with pytest.raises(FloatingPointError, match="diverged"):
        net64.fit(X.astype(np.float64), y, loss="mse", epochs=1, verbose=0)


def test_an_infinite_target_is_called_infinite_and_a_nan_nan():
    X, y = small_regression()
    y[3] = np.inf
    net = MultiLayerNetwork.from_sizes([3, 4, 1], rng=0)
    with pytest.raises(ValueError, match=r"^y contains 1 NaN or infinite value\(s\) "
                                         r"\(1 infinite\)"):
        net.fit(X, y, loss="mse", epochs=1, verbose=0)
    y[4] = np.nan
    with pytest.raises(ValueError, match=r"\(1 NaN, 1 infinite\)"):
        net.fit(X, y, loss="mse", epochs=1, verbose=0)


@pytest.mark.parametrize("pattern, problem", [
    ("ck_{foo}.npz", "has {foo}; only {epoch}"),
    ("ck_{}.npz", "has {}; only {epoch}"),
    ("ck_{epoch.real}.npz", "has {epoch.real}"),
    ("ck_{.npz", "is not a valid pattern"),
    ("ck_{epoch:s}.npz", "cannot be filled in with an epoch number"),
])
def test_model_checkpoint_refuses_a_bad_pattern_when_it_is_made(pattern, problem):
    with pytest.raises(ValueError, match=f"^ModelCheckpoint path '.*' {re.escape(problem)}"):
        ModelCheckpoint(pattern)


def test_model_checkpoint_fills_in_the_epoch(tmp_path):
    X, y = small_regression()
    net = MultiLayerNetwork.from_sizes([3, 4, 1], rng=0)
    checkpoint = ModelCheckpoint(tmp_path / "ck_{epoch:03d}_{{x}}.npz")
    net.fit(X, y, loss="mse", epochs=2, verbose=0, callbacks=[checkpoint])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck_001_{x}.npz", "ck_002_{x}.npz"]


def test_bit_identical_runs_are_documented_as_needing_the_same_blas_threads():
    fit_doc = " ".join(MultiLayerNetwork.fit.__doc__.split())
    assert "bit-identical runs at the same number of BLAS threads" in fit_doc
    cli_doc = (ROOT / "docs" / "cli.md").read_text()
    seed_row = next(line for line in cli_doc.splitlines() if line.startswith("| `--seed N`"))
    assert "--threads" in seed_row


# -- 14: import scratchnn loads only what every use needs --------------------------------------
SLOW_OR_NETWORK = ["matplotlib", "sklearn", "pandas", "http.client", "urllib.request", "tqdm"]


def test_import_scratchnn_loads_no_plotting_tables_or_network_code():
    code = ("import sys, scratchnn; "
            f"print([m for m in {SLOW_OR_NETWORK!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_lazy_submodules_load_on_first_use():
    code = ("import sys, scratchnn; assert 'scratchnn.plots' not in sys.modules; "
            "from scratchnn import plots; import scratchnn.datasets as d; "
            "assert scratchnn.plots is plots and scratchnn.datasets is d; "
            "assert callable(scratchnn.preprocessing.Scaler); "
            "assert {'datasets', 'plots', 'preprocessing'} <= set(dir(scratchnn)); "
            "print('matplotlib.pyplot' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"  # plots itself imports pyplot only to draw


# -- 15: progress into a pipe or a file ------------------------------------------------------------
class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_verbose_1_into_a_pipe_prints_one_line_per_epoch(capsys):
    X, y = small_regression(200)
    net = MultiLayerNetwork.from_sizes([3, 4, 1], rng=0)
    net.fit(X, y, loss="mse", epochs=3, batch_size=8, verbose=1, validation_split=0.2, seed=0)
    captured = capsys.readouterr()
    assert "\r" not in captured.out and "it/s" not in captured.out and captured.err == ""
    lines = captured.out.splitlines()
    assert [line.split(" loss ")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all("mae" in line and "val_loss" in line for line in lines)


def test_verbose_1_on_a_terminal_still_draws_a_bar(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    X, y = small_regression(200)
    net = MultiLayerNetwork.from_sizes([3, 4, 1], rng=0)
    net.fit(X, y, loss="mse", epochs=2, batch_size=8, verbose=1)
    shown = terminal.getvalue()
    assert "\r" in shown and "25/25" in shown and "epoch 2/2" in shown


def test_the_cli_train_output_into_a_pipe_has_one_line_per_epoch(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "scratchnn", "train", "--data", "digits", "--epochs", "3",
         "--out", str(tmp_path / "run")], capture_output=True, text=True, check=True)
    epochs = [line for line in done.stdout.splitlines() if line.startswith("epoch")]
    assert len(epochs) == 3 and "\r" not in done.stdout, done.stdout


# -- 18: builders, benchmark, help ---------------------------------------------------------------
def _builder(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "notebooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["build_tutorial", "build_exercises"])
def test_notebook_builds_are_deterministic(name):
    import nbformat

    builder = _builder(name)
    first, second = nbformat.writes(builder.build()), nbformat.writes(builder.build())
    assert first == second
    ids = [cell["id"] for cell in json.loads(first)["cells"]]
    assert ids == [f"cell-{i}" for i in range(len(ids))]


@pytest.mark.parametrize("notebook", ["tutorial.ipynb", "exercises.ipynb"])
def test_committed_notebooks_carry_no_random_ids_or_timestamps(notebook):
    nb = json.loads((ROOT / "notebooks" / notebook).read_text())
    assert [cell["id"] for cell in nb["cells"]] == [f"cell-{i}" for i in range(len(nb["cells"]))]
    assert not any("execution" in cell["metadata"] for cell in nb["cells"])


def test_the_dev_extra_has_what_the_builders_need():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    dev = {req.split(">")[0].split("=")[0].split("[")[0] for req in extras["dev"]}
    assert {"nbformat", "nbclient", "ipykernel"} <= dev
    for name in ("build_tutorial", "build_exercises"):
        assert '".[dev]"' in (ROOT / "notebooks" / f"{name}.py").read_text()


def test_bench_mlp_without_a_contender_fails_at_once(tmp_path):
    # A "torch" that does not import stands for a machine without PyTorch.
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text("raise ImportError('No module named torch')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_mlp.py")],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode != 0
    assert "pytorch" in done.stderr and "--skip pytorch" in done.stderr, done.stderr
    assert done.stdout == ""  # nothing was started, not even the table's header
    # A contender that is not there at all is named too.
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_mlp.py"),
                           "--skip", "torch"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode != 0 and "'torch'" in done.stderr and "pytorch" in done.stderr


def test_help_of_net_fit_shows_the_real_signature():
    net = MultiLayerNetwork.from_sizes([3, 4, 1], rng=0)
    params = inspect.signature(net.fit).parameters
    assert list(params)[:2] == ["X", "y"] and "kwargs" not in params
    assert {"epochs", "batch_size", "seed", "validation_split", "callbacks", "verbose"} <= set(
        params)
    shown = pydoc.render_doc(net.fit, renderer=pydoc.plaintext)
    assert "fit(X, y, *, loss=None, optimizer='adam', lr=None, epochs=10, batch_size=32" in shown
    assert "Train ``network`` on (X, y) with minibatches" in shown
