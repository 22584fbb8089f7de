"""The contract every graded check keeps, for every topic (each topic's file lists ALL_CHECKS).

A correct implementation passes with one printed line and nothing on stderr (nbgrader scores any
stderr output as a failure), on the visible and the hidden seed; an unfinished stub fails with
its own NotImplementedError, so an untouched notebook shows nothing else.
"""

from __future__ import annotations

import pytest
from notebook_utils import topic_test_modules

CASES = [(check, fn, module.HIDDEN)
         for module in topic_test_modules() for check, fn in getattr(module, "ALL_CHECKS", [])]


def _id(value):
    return getattr(value, "__name__", str(value))


def test_the_topics_declare_their_checks():
    assert len({check.__module__ for check, _, _ in CASES}) >= 4


@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
@pytest.mark.parametrize(("check", "fn", "hidden_seed"), CASES, ids=_id)
def test_a_correct_implementation_passes_with_one_line(check, fn, hidden_seed, hidden, capsys):
    check(fn, seed=hidden_seed if hidden else 0)
    out = capsys.readouterr()
    assert out.out.count("\n") == 1 and out.out.rstrip().endswith(": OK"), out.out
    assert out.err == ""


@pytest.mark.parametrize(("check", "fn", "hidden_seed"), CASES, ids=_id)
def test_an_unfinished_stub_fails_only_with_not_implemented(check, fn, hidden_seed):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        check(stub)
