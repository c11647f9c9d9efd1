"""Assertions on a checker's verdict (a ``scratchnn.exercises.CheckResult``), shared by the tests
of the exercise checkers."""

from __future__ import annotations

from scratchnn.exercises import CheckResult


def verdict(result, notes=False):
    """The verdict's messages (and, with ``notes``, its notes) as one text."""
    assert isinstance(result, CheckResult)
    return "\n".join(result.messages + (result.notes if notes else []))


def assert_fails_with(result, *fragments, notes=False):
    """The check failed (not "not implemented") and its messages contain every fragment."""
    text = verdict(result, notes)
    assert result.status == "failed" and not result, text
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"


def assert_passes(result):
    assert result.status == "passed" and result, verdict(result, notes=True)


def assert_not_implemented(result):
    assert result.status == "not implemented yet" and not result, verdict(result)
