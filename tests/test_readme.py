"""Every Python block of README.md runs as written, top to bottom in one namespace (as a reader
pastes them one after another), in a scratch folder."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


# The cluster snippet connects to "tcp://scheduler:8786"; here that is a local cluster of two
# worker processes, as tests/test_dask_search.py starts.
CLUSTER = 'Client("tcp://scheduler:8786")'
LOCAL = ('Client(__import__("dask.distributed").distributed.LocalCluster(n_workers=2, '
         'threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None))')


def test_the_readme_python_blocks_run(tmp_path, monkeypatch, capsys):
    blocks = python_blocks()
    assert len(blocks) >= 7 and sum(CLUSTER in block for block in blocks) == 1
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks:
        exec(compile(block.replace(CLUSTER, LOCAL), str(README), "exec"), namespace)  # noqa: S102
    namespace["client"].close()
    printed = capsys.readouterr().out
    assert "['setosa' 'setosa' 'setosa']" in printed
    assert (tmp_path / "iris.npz").exists() and (tmp_path / "iris.onnx").exists()
    assert "R^2 on the test set" in printed
