"""The cells the notebook builders write: markdown, code, and the exercises' blanks and checks.

Chapters are lists of these cells. The tutorial's and the exercises' first ten chapters live in
build_tutorial.py and build_exercises.py; each later chapter has a module of its own in
chapters/, holding its ``TUTORIAL`` and ``EXERCISES`` cells side by side.
"""

from __future__ import annotations

from textwrap import dedent

from nbformat.v4 import new_code_cell, new_markdown_cell


def md(text):
    return new_markdown_cell(dedent(text).strip())


def code(text, tags=()):
    cell = new_code_cell(dedent(text).strip())
    if isinstance(tags, str):
        tags = [tags]
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def exercise(name, text):
    """A blank to fill: the cell that defines ``name``. The notebook tests fill it with the
    function or class of that name from the worked solutions (tests/exercise_solutions*.py)."""
    return code(text, f"exercise-{name}")


def check(text):
    """The checker call after a blank."""
    return code(text, "check")
