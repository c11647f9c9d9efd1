"""Every code block of docs/*.md and README.md runs as written (issue 13, item 17).

* Each ```python block of docs/*.md runs on its own, in a fresh namespace and a scratch folder: a
  reader may paste any one of them. (README.md's python blocks build on each other and run in
  tests/test_readme.py.)
* Each ```bash block of docs/cli.md and README.md is cut into commands (backslash continuations
  joined, `a && b` split); every command that starts with `scratchnn` runs through
  ``scratchnn.cli.main`` in one scratch folder per file, in the order of the file, so `evaluate`
  finds the model the `train` before it wrote. Blocks fenced without a language are usage
  synopses (`[--option]`), not commands.

What the test changes, to stay fast and to run on a fresh machine:

* ``--epochs N`` becomes ``--epochs 1``, and a `train` without it (one reading its epochs from a
  --config file) gets ``--epochs 1`` (what is checked is that the command runs, not what it
  learns);
* the files a reader is told to bring are made in the scratch folder first: ``digit.png``,
  ``one.png`` and ``two.jpg`` (digits drawn large), ``houses.csv`` (five rows of the shipped
  housing table), a ``housing.toml`` from the doc's ```toml block, and small random MNIST files
  in ``data/mnist5k`` (one headerless CSV, 784 pixels then the label) and ``data/mnist`` (the
  t10k IDX files);
* the commands in SKIPPED are not run, each for the reason given there.
"""

from __future__ import annotations

import gzip
import re
import shlex
import struct
from pathlib import Path

import numpy as np
import pytest

from scratchnn.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
COMMAND_DOCS = [ROOT / "docs" / "cli.md", ROOT / "README.md"]

# A command is skipped when one of its arguments contains a key here. Every key must still skip
# something (see test_every_skip_is_still_needed), so a fixed doc does not stay skipped.
SKIPPED = {}


def blocks(path, language):
    return re.findall(rf"^```{language}\n(.*?)^```", path.read_text(), flags=re.S | re.M)


def commands(path):
    """The `scratchnn ...` commands of ``path``'s bash blocks, as argument lists, in order."""
    found = []
    for block in blocks(path, "bash"):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                if words[:1] == ["scratchnn"]:
                    found.append(words[1:])
    return found


def skip_reason(argv):
    return next((why for key, why in SKIPPED.items() if any(key in a for a in argv)), None)


def fast(argv):
    """``argv`` with --epochs N set to 1 (and --epochs 1 added to a train without it)."""
    argv = list(argv)
    if "--epochs" in argv:
        argv[argv.index("--epochs") + 1] = "1"
    elif argv[:1] == ["train"]:
        argv += ["--epochs", "1"]
    return argv


# -- the files the docs say a reader has -----------------------------------------------------------
def write_digit_images(folder):
    from PIL import Image

    from scratchnn.datasets import load_digits

    images = load_digits(return_images=True).X[:3, 0]  # (3, 8, 8) in [0, 1]
    for image, name in zip(images, ["digit.png", "one.png", "two.jpg"], strict=True):
        pixels = np.kron(image, np.ones((4, 4))) * 255  # 32x32, light digit on black
        Image.fromarray(pixels.astype(np.uint8)).save(folder / name)


def write_houses(folder):
    import pandas as pd

    from scratchnn.datasets import HOUSING_CSV

    pd.read_csv(HOUSING_CSV).head(5).to_csv(folder / "houses.csv", index=False)


def write_mnist_like(folder, rng):
    train = folder / "data" / "mnist5k"
    test = folder / "data" / "mnist"
    train.mkdir(parents=True)
    test.mkdir(parents=True)
    pixels = rng.integers(0, 256, (200, 784))
    labels = np.arange(200) % 10
    rows = np.column_stack([pixels, labels])
    with gzip.open(train / "mnist_5k.csv.gz", "wt") as f:
        np.savetxt(f, rows, fmt="%d", delimiter=",")
    n = 50
    with gzip.open(test / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28))
        f.write(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8).tobytes())
    with gzip.open(test / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 0x801, n))
        f.write((np.arange(n) % 10).astype(np.uint8).tobytes())


def write_toml_files(path, folder):
    """Each ```toml block that starts with a `# NAME.toml` comment, as NAME.toml."""
    for block in blocks(path, "toml"):
        name = re.match(r"# (\S+\.toml)\n", block)
        if name:
            (folder / name.group(1)).write_text(block)


# -- the tests -------------------------------------------------------------------------------------
def test_the_docs_have_the_blocks_this_test_runs():
    assert sum(len(blocks(path, "python")) for path in DOCS) >= 1
    assert len(commands(ROOT / "docs" / "cli.md")) >= 12
    assert len(commands(ROOT / "README.md")) >= 5


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_python_block_of_the_docs_runs_alone(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for block in blocks(path, "python"):
        exec(compile(block, str(path), "exec"), {"__name__": "__doc_block__"})  # noqa: S102


@pytest.mark.parametrize("path", COMMAND_DOCS, ids=lambda p: p.name)
def test_every_scratchnn_command_of_the_docs_runs(path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_digit_images(tmp_path)
    write_houses(tmp_path)
    write_mnist_like(tmp_path, np.random.default_rng(0))
    write_toml_files(path, tmp_path)
    ran = 0
    for argv in commands(path):
        if skip_reason(argv):
            continue
        code = main(fast(argv))
        captured = capsys.readouterr()
        assert code == 0, (argv, captured.err[-2000:])
        ran += 1
    assert ran >= 4


def test_every_skip_is_still_needed():
    argvs = [argv for path in COMMAND_DOCS for argv in commands(path)]
    for key in SKIPPED:
        assert any(key in a for argv in argvs for a in argv), f"{key!r} skips nothing now"


def test_the_readme_checker_example_passes_on_scratchnns_own_layer(capsys):
    from scratchnn import LinearLayer
    from scratchnn.exercises import check_linear_layer

    assert "check_linear_layer(LinearLayer)" in (ROOT / "README.md").read_text()
    check_linear_layer(LinearLayer)
    assert "FAILED" not in capsys.readouterr().out
