"""Assertions on a checker's verdict (a ``scratchnn.exercises.CheckResult``), shared by the tests
of the exercise checkers."""

from __future__ import annotations

import pytest

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


class Attempts:
    """A catalogue of learners' attempts at the exercises, each registered with its verdict.

    ``attempts(checker, *args)`` registers a function or class that ``checker(attempt, *args)``
    must pass; ``attempts(checker, *args, hint=...)`` one it must fail, its messages containing
    every fragment of ``hint`` (a string or a tuple) and none of ``absent`` (hints that would
    mislead). ``correct`` and ``wrong`` are the two as decorators of their own. ``tests()``, called
    once every attempt is registered, gives the module its two test functions.
    """

    def __init__(self):
        self.params = {"correct": [], "wrong": []}

    def __call__(self, checker, *args, hint=None, absent=()):
        fragments = () if hint is None else hint if isinstance(hint, tuple) else (hint,)

        def register(attempt):
            kind = f"[{args[0]}]" if args else ""
            name = getattr(attempt, "__name__", type(attempt).__name__)
            self.params["wrong" if fragments else "correct"].append(pytest.param(
                checker, attempt, args, fragments, absent,
                id=f"{checker.__name__.removeprefix('check_')}{kind}-{name}"))
            return attempt
        return register

    def correct(self, checker, *args):
        return self(checker, *args)

    def wrong(self, checker, *args, hint, absent=()):
        return self(checker, *args, hint=hint, absent=absent)

    def tests(self):
        names = "checker, attempt, args, fragments, absent"

        @pytest.mark.parametrize(names, self.params["correct"])
        def test_a_correct_attempt_passes(checker, attempt, args, fragments, absent):
            assert_passes(checker(attempt, *args, verbose=False))

        @pytest.mark.parametrize(names, self.params["wrong"])
        def test_a_wrong_attempt_fails_and_names_its_mistake(checker, attempt, args, fragments,
                                                             absent):
            result = checker(attempt, *args, verbose=False)
            assert_fails_with(result, *fragments)
            for fragment in absent:
                assert fragment not in verdict(result), verdict(result)

        return test_a_correct_attempt_passes, test_a_wrong_attempt_fails_and_names_its_mistake
