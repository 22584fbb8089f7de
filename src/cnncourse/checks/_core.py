"""The machinery behind every graded check: call the student safely, compare, explain, guard.

A check is what an nbgrader test cell calls. It must

* fail only with :class:`CheckFailure` (an ``AssertionError``) whose message tells the student
  what to look at, or let ``NotImplementedError`` through unchanged, so an untouched notebook
  fails with nothing else;
* print nothing to stderr (nbgrader scores a graded cell that writes to stderr as 0), so the
  student's warnings and prints are captured and reported in the message instead;
* not be fooled: numpy functions, the checks themselves and the reference implementations are
  bound at import time and verified before every check (:class:`TamperError`), and a student
  function that only calls the reference, PyTorch or scipy's filters is recognised ("[reference]").
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import inspect
import io
import numbers
import sys
import types
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Case",
    "CheckFailure",
    "Mistake",
    "StudentCall",
    "TamperError",
    "call_student",
    "compare",
    "diagnose",
    "protect",
    "run_exercise_check",
    "verify_untampered",
    "watch",
]


class CheckFailure(AssertionError):
    """A graded check failed; the message is written for the student."""


class TamperError(CheckFailure):
    """Student code replaced something the checks rely on. The message starts with "[tampered] "."""

    def __init__(self, what: str):
        super().__init__(f"[tampered] {what}")


# ----------------------------------------------------------------------------------------------
# Bound at import time: the checks compare with these, whatever the notebook does to numpy later.
_allclose = np.allclose
_isclose = np.isclose
_array_equal = np.array_equal
_asarray = np.asarray
_abs = np.abs
_isnan = np.isnan
_argwhere = np.argwhere
_count_nonzero = np.count_nonzero
_ndarray = np.ndarray
_default_rng = np.random.default_rng

# numpy attributes a notebook might be tempted to patch so that "everything is close".
_NUMPY_WATCHED = (
    "allclose", "isclose", "array_equal", "array_equiv", "asarray", "asanyarray", "array",
    "abs", "absolute", "all", "any", "sum", "max", "min", "amax", "amin", "argmax", "argwhere",
    "isnan", "isfinite", "isinf", "count_nonzero", "nonzero", "where", "copy", "shape", "ndim",
    "zeros", "zeros_like", "ones", "empty", "full", "float32", "float64", "ndarray", "result_type",
    "flip", "rot90", "transpose", "moveaxis", "einsum", "tensordot", "dot", "matmul", "correlate",
    "convolve", "pad", "round", "errstate", "random", "testing", "lib",
)
_NUMPY_SUBMODULE_WATCHED = {
    "random": ("default_rng", "seed", "rand", "randn"),
    "testing": ("assert_allclose", "assert_array_equal", "assert_array_almost_equal"),
}
_BUILTINS_WATCHED = (
    "isinstance", "issubclass", "len", "abs", "sum", "max", "min", "print", "range", "type",
    "getattr", "setattr", "hasattr", "callable", "float", "int", "bool", "round", "repr", "str",
    "tuple", "list", "dict", "zip", "enumerate", "any", "all", "sorted", "id", "__import__",
    "AssertionError", "NotImplementedError", "Exception",
)

# (description, getter, expected object). Filled at import time and by `protect`/`watch`.
_WATCHED: dict[str, tuple[Callable[[], Any], Any]] = {}
# names of guarded module attributes: (module name, attribute) -> object
_GUARDED: dict[tuple[str, str], Any] = {}
# tampering noticed when it happened (e.g. an assignment to a guarded attribute)
_TAMPER_LOG: list[str] = []

_MISSING = object()


def _watch_attr(owner, owner_label: str, name: str) -> None:
    obj = getattr(owner, name, _MISSING)
    if obj is _MISSING:
        return
    _WATCHED[f"{owner_label}.{name}"] = (lambda o=owner, n=name: getattr(o, n, _MISSING), obj)


def _watch_sys_module(modname: str) -> None:
    mod = sys.modules.get(modname)
    if mod is not None:
        _WATCHED[f"sys.modules[{modname!r}]"] = (lambda n=modname: sys.modules.get(n), mod)


for _name in _NUMPY_WATCHED:
    _watch_attr(np, "numpy", _name)
for _sub, _names in _NUMPY_SUBMODULE_WATCHED.items():
    for _name in _names:
        _watch_attr(getattr(np, _sub), f"numpy.{_sub}", _name)
for _name in _BUILTINS_WATCHED:
    _watch_attr(builtins, "builtins", _name)
for _modname in ("numpy", "numpy.random", "numpy.testing", "builtins", "sys", __name__):
    _watch_sys_module(_modname)
_watch_attr(sys, "sys", "modules")
_watch_attr(sys, "sys", "setprofile")
_watch_attr(sys, "sys", "getprofile")


class _GuardedModule(types.ModuleType):
    """A module whose guarded attributes cannot be reassigned from a notebook."""

    def __setattr__(self, name, value):
        key = (self.__name__, name)
        if key in _GUARDED and value is not _GUARDED[key]:
            what = f"{self.__name__}.{name} was replaced by notebook code"
            _TAMPER_LOG.append(what)
            raise TamperError(what + "; the checks cannot be changed from the notebook")
        super().__setattr__(name, value)

    def __delattr__(self, name):
        if (self.__name__, name) in _GUARDED:
            what = f"{self.__name__}.{name} was deleted by notebook code"
            _TAMPER_LOG.append(what)
            raise TamperError(what)
        super().__delattr__(name)


def protect(module_name: str, names: Sequence[str] | None = None) -> None:
    """Guard a checks module: record its globals and refuse their reassignment.

    Call it on the LAST line of every ``cnncourse.checks`` topic module: ``protect(__name__)``.
    By default every global is guarded (the check functions, but also the bound references and
    helpers they use, e.g. ``_corr2d``), plus ``__getattr__`` and ``__all__``.
    """
    module = sys.modules[module_name]
    if names is None:
        names = [n for n in vars(module) if not n.startswith("__")
                 or n in ("__getattr__", "__all__")]
    for name in names:
        obj = getattr(module, name)
        _GUARDED[(module_name, name)] = obj
        _watch_attr(module, module_name, name)
    _watch_sys_module(module_name)
    if type(module) is types.ModuleType:
        module.__class__ = _GuardedModule


def watch(module: types.ModuleType, names: Sequence[str] | None = None) -> None:
    """Record the identity of a reference module's functions (e.g. ``cnncourse.ops.conv``)."""
    for name in names if names is not None else module.__all__:
        _watch_attr(module, module.__name__, name)
    _watch_sys_module(module.__name__)


def _reset_tamper_log() -> None:
    """For the test-suite only: forget tampering that a test provoked and then undid."""
    _TAMPER_LOG.clear()


def verify_untampered() -> None:
    """Raise TamperError naming everything that was replaced since the checks were imported."""
    __tracebackhide__ = True
    replaced = list(dict.fromkeys(_TAMPER_LOG))
    for label, (getter, expected) in _WATCHED.items():
        try:
            current = getter()
        except Exception:  # noqa: BLE001 - a getter that breaks means something was swapped
            current = _MISSING
        if current is not expected:
            replaced.append(f"{label} was replaced")
    if replaced:
        raise TamperError(
            "; ".join(replaced)
            + ". Graded checks only run against the original numpy, builtins and course code: "
            "remove the code that replaces them and restart the kernel."
        )


# ----------------------------------------------------------------------------------------------
# Calling student code


@dataclass
class Case:
    """One input for an exercise: ``fn(*args, **kwargs)``, with an optional human label."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    label: str = ""


@dataclass
class Mistake:
    """A known wrong implementation, described by what it would output.

    ``fn`` takes the case's arguments and returns the buggy output (or None when the mistake
    cannot be told apart on that case). ``name`` must appear in the message; ``hint`` says how
    to fix it.
    """

    name: str
    hint: str
    fn: Callable[..., Any]


@dataclass
class StudentCall:
    result: Any
    warnings: list[str]
    stdout: str
    stderr: str
    reference_calls: list[str]


# Calling any of these from the student's function means "I called the library".
REFERENCE_MODULES = ("cnncourse.ops", "cnncourse.arch", "cnncourse.nn", "torch", "scipy.signal",
                     "scipy.ndimage")
ALLOWED_MODULES = ("cnncourse.ops._validate",)


def _matches(modname: str, prefixes: Sequence[str]) -> bool:
    return any(modname == p or modname.startswith(p + ".") for p in prefixes)


def _c_function_module(func) -> str:
    mod = getattr(func, "__module__", None)
    if mod:
        return mod
    owner = getattr(func, "__self__", None)
    return type(owner).__module__ if owner is not None else ""


def _describe_value(value) -> str:
    if isinstance(value, _ndarray):
        return f"shape {tuple(value.shape)}"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"{type(value).__name__} of length {len(value)}"
    return repr(value)


def describe_case(reference_fn: Callable | None, case: Case) -> str:
    """'x: shape (5, 6), k: shape (3, 3)': argument names come from the reference's signature."""
    try:
        bound = inspect.signature(reference_fn).bind(*case.args, **case.kwargs)
        items = bound.arguments.items()
    except (TypeError, ValueError):
        items = [(f"arg{i}", a) for i, a in enumerate(case.args)] + list(case.kwargs.items())
    text = ", ".join(f"{k}: {_describe_value(v)}" for k, v in items)
    return f"the case '{case.label}' ({text})" if case.label else text


def _arrays_in(args: tuple, kwargs: dict):
    for i, a in enumerate(args):
        yield f"argument {i + 1}", a
    for k, a in kwargs.items():
        yield f"argument {k!r}", a


def call_student(fn: Callable, *args, _name: str = "your function", _case: str = "",
                 _forbid: Sequence[str] = REFERENCE_MODULES, _allow: Sequence[str] = ALLOWED_MODULES,
                 **kwargs) -> StudentCall:
    """Call ``fn(*args, **kwargs)`` the way every check does.

    The function receives deep copies of the inputs, runs with its warnings recorded and its
    stdout/stderr captured, and under a profiler that notes every call into the reference
    modules (`_forbid`, minus `_allow`) that the student's own code makes (not those that an
    allowed reference function makes in its turn). Afterwards the copies are compared with the
    originals to catch in-place modification. ``NotImplementedError`` propagates unchanged; any other
    exception becomes a CheckFailure chained from it.
    """
    __tracebackhide__ = True
    call_args, call_kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
    hits: list[str] = []
    # module name -> (forbidden to call, part of the reference code)
    cache: dict[str, tuple[bool, bool]] = {}

    def kind(modname: str) -> tuple[bool, bool]:
        if modname not in cache:
            reference = _matches(modname, _forbid)
            cache[modname] = (reference and not _matches(modname, _allow), reference)
        return cache[modname]

    def called_by_reference(caller) -> bool:
        # Calls that reference code makes (an allowed function's own helpers) are not the
        # student's: only what the student's code calls itself counts.
        return caller is not None and kind(caller.f_globals.get("__name__") or "")[1]

    def profiler(frame, event, arg):
        if event == "call":
            modname = frame.f_globals.get("__name__") or ""
            if kind(modname)[0] and not called_by_reference(frame.f_back):
                hits.append(f"{modname}.{frame.f_code.co_name}")
        elif event == "c_call":
            modname = _c_function_module(arg)
            if kind(modname)[0] and not called_by_reference(frame):
                hits.append(f"{modname}.{getattr(arg, '__name__', '?')}")

    out, err = io.StringIO(), io.StringIO()
    previous = sys.getprofile()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                sys.setprofile(profiler)
                try:
                    result = fn(*call_args, **call_kwargs)
                finally:
                    sys.setprofile(previous)
        except NotImplementedError:
            raise
        except Exception as exc:
            where = f" for {_case}" if _case else ""
            raise CheckFailure(
                f"{_name}: your function raised {type(exc).__name__}: {exc}{where}. "
                "Read the traceback above this message to find the failing line."
            ) from exc
    notes = [f"{w.category.__name__}: {w.message}" for w in caught]
    for (label, original), (_, passed) in zip(_arrays_in(args, kwargs),
                                             _arrays_in(call_args, call_kwargs)):
        if isinstance(original, _ndarray) and not _same_array(original, passed):
            raise CheckFailure(
                f"{_name}: input modified in place: your function changed its {label} "
                f"(shape {tuple(original.shape)}). Never write into the arrays you are given "
                "(no `x += ...`, `x[...] = ...` on an input): build the result in a new array."
            )
    return StudentCall(result, notes, out.getvalue(), err.getvalue(), list(dict.fromkeys(hits)))


def _same_array(a, b) -> bool:
    if not isinstance(b, _ndarray) or a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(_array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


# ----------------------------------------------------------------------------------------------
# Comparing and explaining


def _fmt(v) -> str:
    return f"{v:.6g}" if isinstance(v, (float, np.floating)) else repr(v)


def diagnose(student_out, expected, mistakes: Sequence[Mistake], case: Case, *,
             rtol: float, atol: float) -> Mistake | None:
    """The first mistake whose output equals the student's (and differs from the right answer)."""
    for mistake in mistakes:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                variant = mistake.fn(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        except Exception:  # noqa: BLE001, S112 - the mistake does not apply to this case
            continue
        if variant is None or _equal(variant, expected, rtol, atol):
            continue
        if _equal(student_out, variant, rtol, atol):
            return mistake
    return None


def _equal(a, b, rtol: float, atol: float) -> bool:
    if isinstance(b, numbers.Integral) and not isinstance(b, (bool, np.bool_)):
        return isinstance(a, numbers.Integral) and int(a) == int(b)  # counts: exact
    if isinstance(b, numbers.Number) and not isinstance(b, (bool, np.bool_)):
        return isinstance(a, numbers.Number) and bool(_isclose(a, b, rtol=rtol, atol=atol))
    if not isinstance(a, _ndarray) or not isinstance(b, _ndarray) or a.shape != b.shape:
        return False
    return bool(_allclose(a, b, rtol=rtol, atol=atol))


def compare(student_out, expected, *, name: str, rtol: float = 1e-6, atol: float = 1e-8,
            case_description: str = "", mistakes: Sequence[Mistake] = (), case: Case | None = None,
            values: bool = True) -> None:
    """Raise CheckFailure explaining how `student_out` differs from `expected`.

    Order: a recognised mistake (named, with its fix) wins over the generic report; then type,
    shape, dtype kind and (if `values`) the first wrong position with both numbers.
    """
    __tracebackhide__ = True
    where = f" for {case_description}" if case_description else ""
    if isinstance(expected, numbers.Real):
        _compare_scalar(student_out, expected, name, where, mistakes, case, rtol, atol)
        return
    if student_out is None:
        raise CheckFailure(f"{name}: your function returned None{where}: did you forget `return`?")
    if not isinstance(student_out, _ndarray):
        raise CheckFailure(
            f"{name}: expected a numpy array, got {type(student_out).__name__}{where}; "
            "build the result with numpy (e.g. np.zeros) and return it.")
    found = diagnose(student_out, expected, mistakes, case, rtol=rtol, atol=atol) if case else None
    if found is not None and (values or student_out.shape != expected.shape):
        raise CheckFailure(f"{name}: {found.name}{where}. {found.hint}")
    if student_out.shape != expected.shape:
        raise CheckFailure(
            f"{name}: wrong output shape{where}: expected {tuple(expected.shape)}, "
            f"got {tuple(student_out.shape)}.")
    if student_out.dtype.kind != "f":
        raise CheckFailure(
            f"{name}: expected a floating-point array, got dtype {student_out.dtype}{where}; "
            "create the output with a float dtype (np.zeros gives float64).")
    if not values:
        return
    wrong = ~_isclose(student_out, expected, rtol=rtol, atol=atol, equal_nan=False)
    if not wrong.any():
        return
    pos = tuple(int(i) for i in _argwhere(wrong)[0])
    got, want = student_out[pos], expected[pos]
    nan = " (your output contains NaN)" if _isnan(student_out).any() else ""
    raise CheckFailure(
        f"{name}: wrong values{where}: first wrong value at index {pos}: expected {_fmt(want)}, "
        f"got {_fmt(got)}; {int(_count_nonzero(wrong))} of {wrong.size} values differ{nan}.")


def _compare_scalar(student_out, expected, name, where, mistakes, case, rtol, atol) -> None:
    exact = isinstance(expected, numbers.Integral)
    if isinstance(student_out, (bool, np.bool_)) or not isinstance(student_out, numbers.Number):
        raise CheckFailure(f"{name}: expected a number, got {type(student_out).__name__}"
                           f" {student_out!r}{where}.")
    if exact and not isinstance(student_out, numbers.Integral):
        raise CheckFailure(f"{name}: expected an int, got {type(student_out).__name__} "
                           f"{student_out!r}{where}; a count is a whole number: return int(...).")
    same = student_out == expected if exact else bool(_isclose(student_out, expected,
                                                               rtol=rtol, atol=atol))
    if same:
        return
    found = diagnose(student_out, expected, mistakes, case, rtol=rtol, atol=atol) if case else None
    if found is not None:
        raise CheckFailure(f"{name}: {found.name}{where}: got {student_out}. {found.hint}")
    raise CheckFailure(f"{name}: wrong value{where}: expected {_fmt(expected)}, got "
                       f"{_fmt(student_out)}.")


# ----------------------------------------------------------------------------------------------
# The one-call check the topic modules build on


def run_exercise_check(student_fn: Callable, reference_fn: Callable, cases: Sequence[Case], *,
                       name: str, mistakes: Sequence[Mistake] = (), rtol: float = 1e-6,
                       atol: float = 1e-8, values: bool = True,
                       forbid: Sequence[str] = REFERENCE_MODULES,
                       allow: Sequence[str] = (),
                       compare_outputs: Callable | None = None) -> None:
    """Run `student_fn` on every case, compare with `reference_fn`, print one line if all pass.

    Parameters
    ----------
    student_fn : callable
        The notebook's function.
    reference_fn : callable
        Gives the right answer for a case (a cnncourse reference function, bound at import).
    cases : sequence of Case
        Built by a seeded generator; visible and hidden checks differ only by seed or case set.
    name : str
        Label used in every message, e.g. ``"corr2d values (visible cases)"``.
    mistakes : sequence of Mistake
        Known wrong implementations to recognise and name.
    values : bool
        False compares only type and shape (a "shape" check).
    forbid, allow : module-name prefixes
        Calling into `forbid` from the student's function fails with "[reference]", except
        for modules in `allow` and ``ALLOWED_MODULES`` (the shared argument checks).
    compare_outputs : callable, optional
        ``compare_outputs(student_result, expected, case, context)`` replaces the array
        comparison for outputs that are not arrays (lists of names, table rows); it raises
        CheckFailure, `context` being " for <case description>".
    """
    __tracebackhide__ = True
    verify_untampered()
    if not callable(student_fn):
        raise CheckFailure(f"{name}: expected a function, got {type(student_fn).__name__}; pass "
                           "the function itself (no parentheses).")
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # our own reference computations never reach stderr
        for case in cases:
            text = describe_case(reference_fn, case)
            call = call_student(student_fn, *case.args, _name=name, _case=text, _forbid=forbid,
                                _allow=(*ALLOWED_MODULES, *allow), **case.kwargs)
            verify_untampered()  # the student's function ran: did it patch anything?
            if call.reference_calls:
                raise CheckFailure(
                    f"[reference] {name}: your function calls {', '.join(call.reference_calls[:3])}. "
                    "Calling a library implementation earns nothing here: the exercise is to "
                    "implement the operation yourself with numpy.")
            expected = reference_fn(*case.args, **case.kwargs)
            try:
                if compare_outputs is not None:
                    compare_outputs(call.result, expected, case, f" for {text}")
                else:
                    compare(call.result, expected, name=name, rtol=rtol, atol=atol,
                            case_description=text, mistakes=mistakes, case=case, values=values)
            except CheckFailure as failure:
                if call.warnings:
                    raise CheckFailure(f"{failure} Your function also warned: "
                                       f"{'; '.join(dict.fromkeys(call.warnings))}") from None
                raise
            notes.extend(call.warnings)
    line = f"{name}: OK"
    if notes:
        line += f" (note: your function warned: {'; '.join(dict.fromkeys(notes))})"
    print(line)


def rng(seed: int) -> np.random.Generator:
    """The seeded generator checks build their cases with (bound at import time)."""
    return _default_rng(seed)


protect(__name__)  # _core's own helpers (bound numpy functions, the tamper log) included
