"""Graded checks: what the notebooks' nbgrader test cells call.

One module per notebook topic (``cnncourse.checks.convolution`` for ``01_convolution``, ...),
each built on :func:`run_exercise_check`. Topic modules are imported on first use, so
``from cnncourse import checks`` followed by ``checks.convolution.check_corr2d_values(corr2d)``
works without importing every topic.

Every check raises :class:`CheckFailure` (an ``AssertionError``) with a message for the student,
or :class:`TamperError` (message starting with "[tampered] ") when notebook code replaced numpy,
builtins, the checks or the reference implementations. ``NotImplementedError`` from an unfinished
exercise passes through unchanged. :func:`check_yourself` runs a topic's visible checks without
ever raising, for the ungraded last cell of a notebook.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import pkgutil
from collections.abc import Callable, Mapping, Sequence

from ._core import (
    Case,
    CheckFailure,
    Mistake,
    StudentCall,
    TamperError,
    call_student,
    compare,
    diagnose,
    protect,
    rng,
    run_exercise_check,
    verify_untampered,
    watch,
)

__all__ = [
    "Case",
    "CheckFailure",
    "Mistake",
    "StudentCall",
    "TamperError",
    "call_student",
    "check_yourself",
    "compare",
    "diagnose",
    "protect",
    "register",
    "rng",
    "run_exercise_check",
    "verify_untampered",
    "watch",
]

# topic -> [(exercise name, argument names looked up in the namespace, visible checks)]
_REGISTRY: dict[str, list[tuple[str, tuple[str, ...], list[Callable]]]] = {}


def register(topic: str, exercise: str, checks: Sequence[Callable], *,
             needs: Sequence[str] | None = None) -> None:
    """Declare the visible checks of one exercise for :func:`check_yourself`.

    Each check is called as ``check(*[namespace[n] for n in needs])``; `needs` defaults to
    ``(exercise,)``, i.e. the check receives the notebook function named like the exercise.
    """
    entries = _REGISTRY.setdefault(topic, [])
    entries[:] = [e for e in entries if e[0] != exercise]
    entries.append((exercise, tuple(needs or (exercise,)), list(checks)))


def _import_topic_modules() -> list[str]:
    """Import every topic module; a broken one is reported, not fatal for the others."""
    problems = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            try:
                importlib.import_module(f"{__name__}.{info.name}")
                protect(__name__, [info.name])  # `checks.<topic> = ...` is tampering too
            except Exception as exc:  # noqa: BLE001 - one broken topic must not hide the others
                problems.append(f"{info.name} ({type(exc).__name__}: {exc})")
    return problems


def _first_line(exc: BaseException, limit: int = 160) -> str:
    text = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_yourself(namespace: Mapping, topic: str, *, width: int = 28) -> None:
    """Run the visible checks of `topic` on the functions in `namespace`; print one line each.

    Ungraded and never raises: "corr2d ......... passed", "conv2d ......... NOT YET: <reason>".
    """
    problems = _import_topic_modules()
    exercises = _REGISTRY.get(topic)
    if not exercises:
        why = f" (could not load: {'; '.join(problems)})" if problems else ""
        print(f"check_yourself: no exercises registered for topic {topic!r}{why}")
        return
    for exercise, needs, checks in exercises:
        label = f"{exercise} ".ljust(width, ".")
        missing = [n for n in needs if n not in namespace]
        if missing:
            print(f"{label} NOT YET: {', '.join(missing)} is not defined (run its cell first)")
            continue
        status = "passed"
        for check in checks:
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    check(*[namespace[n] for n in needs])
            except NotImplementedError:
                status = "NOT YET: not implemented (replace `raise NotImplementedError()`)"
            except Exception as exc:  # noqa: BLE001 - report anything, raise nothing
                status = f"NOT YET: {_first_line(exc)}"
            if status != "passed":
                break
        print(f"{label} {status}")


def __getattr__(name: str):
    # topic modules load on first attribute access: `checks.convolution`
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


protect(__name__)
# Import the topic modules now, before any notebook code runs, so that their sys.modules entries
# are recorded as the real ones. A broken topic module does not stop the others: using it later
# (`checks.<topic>`) raises its import error then.
_import_topic_modules()
