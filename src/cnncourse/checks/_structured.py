"""Checks of functions whose output is a list or a tuple (shared by topic modules).

``run_exercise_check`` compares arrays and numbers. Here: :func:`run_exact` runs the same
protocol (untampered, student called safely, reference calls refused, one "OK" line) for
outputs compared exactly by a topic's own `compare` (layer lists, tables), and
:func:`check_components` checks a tuple one item at a time with ``run_exercise_check``, each
item with the known mistakes that show in it.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import numbers

import numpy as np

from . import _core
from ._core import CheckFailure, Mistake, describe_case, run_exercise_check

__all__ = ["check_components", "component", "named_mistake", "run_exact"]

_asarray = np.asarray
_ndarray = np.ndarray


def component(fn, index: int, *, arrays: bool = False):
    """fn's output, item `index` (a Mistake's variant may be None: not applicable).

    With `arrays`, a number becomes a 0-d array, so that a gradient summed down to a single
    number is compared (and its mistake named) like any other array. The wrapper keeps `fn`'s
    signature, so messages name the arguments ("dout: shape (2, 3, 4, 4), ...").
    """
    @functools.wraps(fn)
    def part(*args, **kwargs):
        out = fn(*args, **kwargs)
        if out is None:
            return None
        item = out[index]
        return _asarray(item) if arrays and isinstance(item, numbers.Number) else item
    return part


def check_components(fn, reference, cases, *, name: str, fields, order, mistakes,
                     arrays: bool = False, **options) -> None:
    """Check a function that returns a tuple, one item at a time (in `order`); print one line.

    Each Mistake's output is a whole tuple: only the item being checked is compared.
    """
    __tracebackhide__ = True
    _core.verify_untampered()
    text = describe_case(reference, cases[0])
    out = _core.call_student(fn, *cases[0].args, _name=name, _case=text,
                             **cases[0].kwargs).result
    if not (isinstance(out, (tuple, list)) and len(out) == len(fields)):
        shown = (f"an array of shape {out.shape}" if isinstance(out, _ndarray)
                 else f"{type(out).__name__} {out!r}"[:80])
        raise CheckFailure(f"{name}: return a tuple ({', '.join(fields)}); got {shown} for "
                           f"{text}.")
    notes = ""
    for index in order:
        with contextlib.redirect_stdout(io.StringIO()) as line:
            run_exercise_check(component(fn, index, arrays=arrays), component(reference, index),
                               cases, name=f"{name}: {fields[index]}",
                               mistakes=[Mistake(m.name, m.hint, component(m.fn, index))
                                         for m in mistakes], **options)
        notes = notes or line.getvalue().strip().partition(": OK")[2]
    print(f"{name}: OK{notes}")


def run_exact(student_fn, reference_fn, cases, *, name: str, compare, allow=()) -> None:
    """run_exercise_check for outputs that are lists (names, table rows): compared exactly."""
    __tracebackhide__ = True
    _core.run_exercise_check(student_fn, reference_fn, cases, name=name, allow=allow,
                             compare_outputs=compare)


def named_mistake(got, expected, mistakes, case, project=lambda v: v):
    """The first mistake whose (projected) output is the student's and not the right one."""
    for mistake in mistakes:
        try:
            variant = mistake.fn(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        except Exception:  # noqa: BLE001, S112 - the mistake does not apply to this case
            continue
        if variant is not None and project(variant) != project(expected) \
                and project(variant) == got:
            return mistake
    return None


_core.protect(__name__)
