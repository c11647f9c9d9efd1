"""``scratchnn export``: a saved model as an ONNX file; and what ``scratchnn info`` says about one.

    scratchnn export --model runs/digits/model.npz --out digits.onnx
    scratchnn info --model digits.onnx

The work is the library's ``scratchnn.export``; this module parses options and prints.
"""

from __future__ import annotations

from pathlib import Path

from ..serialization import load_model_file
from ._common import UsageError, _say


def _add_export(commands, command):
    """Register the export subcommand (``command`` is cli's helper that adds --model)."""
    export = command(commands, "export", _cmd_export, "write a saved model as an ONNX file",
                     "Write a saved model, with its preprocessing, class names and target "
                     "scaling, as an ONNX file for onnxruntime and other ONNX runtimes. Needs "
                     'the onnx package: pip install "scratchnn[onnx]".')
    export.add_argument("--out", required=True, metavar="FILE", help="the .onnx file to write")
    export.add_argument("--opset", default="17", metavar="N",
                        help="ONNX opset (default 17; 19 or newer encodes text columns with "
                             "Equal instead of ONNX-ML's OneHotEncoder)")
    return export


def _require_onnx():
    """A missing onnx package as the CLI's one-line error, before any other work is done."""
    from ..export import _onnx

    try:
        _onnx()
    except ImportError as exc:
        raise ValueError(str(exc)) from None


def _cmd_export(args):
    try:
        opset = int(args.opset)
    except ValueError:
        raise UsageError(f"--opset must be a whole number, got {args.opset!r}.") from None
    out = Path(args.out)
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give the name of the .onnx file to write.")
    _require_onnx()
    from ..export import describe_onnx, export_onnx

    export_onnx(load_model_file(args.model), out, opset=opset)
    _say(f"wrote {out}")
    _say_onnx(describe_onnx(out))
    return 0


def _cmd_info_onnx(path):
    """``scratchnn info`` on an .onnx file: its inputs, outputs, opset and metadata."""
    _require_onnx()
    from ..export import describe_onnx

    if not Path(path).is_file():
        raise FileNotFoundError(2, "No such file", str(path))
    try:
        info = describe_onnx(path)
    except Exception as exc:  # onnx raises its own DecodeError for a file that is not ONNX
        raise ValueError(f"{path} is not a readable ONNX file ({type(exc).__name__}: "
                         f"{exc}).") from None
    _say(f"model: {path} (ONNX, IR version {info['ir_version']}, produced by "
         f"{info['producer'] or 'unknown'})")
    _say_onnx(info)
    return 0


def _say_onnx(info):
    opsets = ", ".join(f"{domain} {version}" for domain, version in info["opsets"].items())
    _say(f"opset: {opsets}")
    for part in ("inputs", "outputs"):
        _say(f"{part}:")
        for v in info[part]:
            shape = "?" if v["shape"] is None else "(" + ", ".join(map(str, v["shape"])) + (
                ",)" if len(v["shape"]) == 1 else ")")
            _say(f"  {v['name']}: {v['type']} {shape}")
    meta = info["metadata"]
    for key, label in (("task", "task"), ("class_names", "class names"),
                       ("numeric_columns", "numeric columns (X)"),
                       ("categorical_columns", "categorical columns")):
        if meta.get(key) and meta[key] != "[]":
            _say(f"{label}: {meta[key]}")
    _say(f"{info['n_nodes']} nodes, {info['n_weights']:,} constant values")
