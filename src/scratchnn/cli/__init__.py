"""The ``scratchnn`` command: train, evaluate, predict and inspect models from a shell.

    scratchnn train --data digits --hidden 64,32 --epochs 30 --out runs/digits
    scratchnn evaluate --model runs/digits/model.npz
    scratchnn predict --model runs/digits/model.npz --input digit.png
    scratchnn info --model runs/digits/model.npz
    scratchnn export --model runs/digits/model.npz --out digits.onnx

Training goes through ``MultiLayerNetwork.fit``; the model file (``scratchnn.save``) keeps the
preprocessing, so ``predict`` takes raw rows or images. Every error a user can cause ends the
command with one line on stderr and a non-zero exit code (2 for a misused option, 1 otherwise),
never a traceback; ``SCRATCHNN_DEBUG=1`` shows the traceback. The user guide is docs/cli.md.

The package: ``options`` (the train options and config files), ``data`` (data specs, raw rows
and images), ``commands`` (train, evaluate, predict, info), ``_common`` (errors and printing);
this module builds the parser and runs a command.
"""

from __future__ import annotations

import argparse
import os
import sys

from ._common import UsageError, _describe, _error
from .commands import _cmd_evaluate, _cmd_info, _cmd_predict, _cmd_train, _format_metrics
from .data import _image_row
from .export import _add_export
from .options import _TRAIN_OPTIONS

# Also importable from here, for the tests and for anyone scripting the command line.
__all__ = ["UsageError", "_TRAIN_OPTIONS", "_format_metrics", "_image_row", "build_parser",
           "main"]


# -- the command line ------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    commands = None  # on the top parser: {name: the subcommand's parser}

    def error(self, message):
        # One line, not argparse's usage block plus the message.
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):
        # argparse reports a subcommand's unknown options from the top parser ("scratchnn:
        # error"); the subcommand's own parser names the command and its --help.
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            parser = (self.commands or {}).get(getattr(parsed, "command", None), self)
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed


_DOCS = "The guide to every command and option: docs/cli.md in the scratchnn repository."
_TRAIN_EXAMPLES = f"""examples:
  scratchnn train --data digits --hidden 64,32 --epochs 30 --out runs/digits
  scratchnn train --data housing --hidden 64,64 --early-stopping 5
  scratchnn train --data mnist:data/mnist --layers 'conv 16 3 pad 1, relu, maxpool 2, flatten,
      dense 64, relu' --epochs 5
  scratchnn train --config run.toml --epochs 5   (a TOML file of these options)

{_DOCS}"""


def _command(commands, name, run, summary, description, *, takes_model=True, epilog=_DOCS):
    """A subcommand that calls ``run(args)``, with the --model option most of them share."""
    sub = commands.add_parser(name, help=summary, description=description, epilog=epilog,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub.set_defaults(run=run)
    if takes_model:
        sub.add_argument("--model", required=True, metavar="FILE", help="a model.npz")
    return sub


def build_parser():
    """The argparse parser of the ``scratchnn`` command and its subcommands."""
    from .. import __version__

    parser = _Parser(prog="scratchnn", description="Neural networks from scratch in NumPy: "
                     "train, evaluate, predict and inspect models.", epilog=_DOCS)
    parser.add_argument("--version", action="version", version=f"scratchnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)
    parser.commands = commands.choices

    train = _command(commands, "train", _cmd_train, "train a network and save it",
                     "Train a network; write model.npz, history.json and curves.png into --out.",
                     takes_model=False, epilog=_TRAIN_EXAMPLES)
    train.add_argument("--config", metavar="FILE",
                       help="TOML file of these options (the command line wins)")
    for name, (_, _, metavar, text) in _TRAIN_OPTIONS.items():
        train.add_argument(f"--{name}", metavar=metavar, help=text)
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    evaluate = _command(commands, "evaluate", _cmd_evaluate, "score a saved model on data",
                        "Metrics of a saved model; for a classifier also the confusion matrix "
                        "(printed and as a PNG).")
    evaluate.add_argument("--data", metavar="SPEC",
                          help="digits, mnist:DIR or csv:PATH (default: the data the model "
                               "was tested on in training)")
    evaluate.add_argument("--target", metavar="COLUMN",
                          help="target column of csv data (default: the model's)")
    evaluate.add_argument("--all-rows", action="store_true",
                          help="score every row, even those of the training part")
    evaluate.add_argument("--confusion-matrix", metavar="PNG",
                          help="where to write the confusion matrix (default: beside the model)")

    predict = _command(commands, "predict", _cmd_predict, "predict raw rows or images",
                       "Predictions for the rows of a CSV file (raw values: the saved "
                       "preprocessing is applied) or for images.")
    predict.add_argument("--input", required=True, nargs="+", metavar="FILE",
                         help="one CSV file, or image files (PNG, JPEG...) for image models")
    predict.add_argument("--output", metavar="CSV", help="write here instead of to stdout")

    _command(commands, "info", _cmd_info, "describe a saved model",
             "The architecture, parameter count and how a saved model was trained; for an "
             ".onnx file its inputs, outputs and opset.")
    _add_export(commands, _command)
    return parser


def main(argv=None):
    """Run the command line; returns the exit code (0 success, 1 error, 2 misused option)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or an error argparse has already reported
        return exc.code if isinstance(exc.code, int) else 1
    debug = os.environ.get("SCRATCHNN_DEBUG")
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"scratchnn {args.command}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        # The checks before allocating (image sizes, network sizes) should make this rare.
        if debug:
            raise
        _error(f"scratchnn {args.command}: error: out of memory; try smaller data, layers or "
               "--batch-size.")
        return 1
    except BrokenPipeError:
        # The reader of stdout has gone (`scratchnn predict ... | head`): stop quietly, and point
        # stdout at /dev/null so that flushing it at exit does not fail a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except UsageError as exc:
        if debug:
            raise
        _error(f"scratchnn {args.command}: error: {exc}")
        return 2
    except (ValueError, TypeError, OSError, ArithmeticError) as exc:
        # ArithmeticError: a diverged training run (TrainingDivergedError) says what to change.
        if debug:
            raise
        _error(f"scratchnn {args.command}: error: {_describe(exc)}")
        return 1
