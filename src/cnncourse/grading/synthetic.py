"""A synthetic class: realistic, broken and hostile submissions, packed as an LMS would pack them.

Every submission is made from the assignment's own notebooks: the released (student) notebook
with the source notebook's solutions filled in is a correct submission; a common mistake is made
by renaming the solution's function (``def corr2d`` -> ``def _correct_corr2d``) and appending a
``corr2d`` that calls it wrongly (kernel flipped, bias dropped, NHWC output, ...), which makes
exactly the outputs the real mistake makes. Mistakes whose function an assignment does not define
are skipped, so the class follows whatever notebooks exist.

The packing follows the LMS downloads :mod:`cnncourse.grading.collect` reads: a Canvas zip of
flat files (with a late upload and a re-upload ``-1``) and a folder of Moodle folders, plus a
roster CSV that maps the LMS ids to student ids.
"""

from __future__ import annotations

import copy
import csv
import itertools
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MISTAKES", "Mistake", "Profile", "SyntheticClass", "profiles", "synthesize_class"]

_NAMES = ["Ada Moreau", "Bilal Haddad", "Chen Wei", "Dara Okafor", "Elin Berg", "Farid Nasser",
          "Greta Lind", "Hugo Santos", "Ines Duarte", "Jonas Weber", "Kofi Mensah", "Lea Novak",
          "Mira Patel", "Nils Dahl", "Oona Virtanen", "Pablo Ruiz", "Qi Zhang", "Rosa Lopez",
          "Sami Aziz", "Tara Quinn", "Umar Farouk", "Vera Ivanova", "Wen Li", "Yara Haddad",
          "Zoe Adams", "Arno Keller", "Bea Costa", "Cyril Dupont"]


@dataclass(frozen=True)
class Mistake:
    """A common mistake in function `function`, written as a wrapper around the correct one.

    ``body`` is the wrapper's body: ``a`` holds the call's arguments by name (defaults filled
    in), ``names`` the parameter names in order, and ``_correct(**a)`` calls the correct
    function. ``requires`` names a parameter the exercise must have for the mistake to exist.
    """

    name: str
    function: str | tuple[str, ...]
    body: str
    requires: str = ""

    @property
    def functions(self) -> tuple[str, ...]:
        return (self.function,) if isinstance(self.function, str) else self.function


_FLIP = "a[names[1]] = np.asarray(a[names[1]])[::-1, ::-1]\nreturn _correct(**a)"

MISTAKES = [
    Mistake("flipped kernel", "corr2d", _FLIP),
    Mistake("output one row and column short", "corr2d", "return _correct(**a)[..., :-1, :-1]"),
    Mistake("kernel not flipped", "convolve2d", _FLIP),
    Mistake("stride ignored", "conv2d", "a['stride'] = 1\nreturn _correct(**a)", "stride"),
    Mistake("padding ignored", "conv2d", "a['padding'] = 0\nreturn _correct(**a)", "padding"),
    # numpy-ml's convention: dilation 0 means "no gaps"
    Mistake("dilation counted from 0", "conv2d",
            "d = a['dilation']\na['dilation'] = d + 1 if np.ndim(d) == 0 else "
            "tuple(v + 1 for v in d)\nreturn _correct(**a)", "dilation"),
    Mistake("bias missing", ("conv2d", "conv1x1"), "a['bias'] = None\nreturn _correct(**a)",
            "bias"),
    Mistake("NHWC output", ("conv2d", "conv1x1"), "return np.moveaxis(_correct(**a), 1, -1)"),
    Mistake("bias not counted", "conv_params", "a['bias'] = False\nreturn _correct(**a)", "bias"),
    Mistake("the + 1 forgotten", "conv_output_size", "return _correct(**a) - 1"),
    Mistake("padding written into the input", "pad2d",
            "out = _correct(**a)\nnp.asarray(a[names[0]])[..., :1, :] = 0\nreturn out"),
    Mistake("padded on one side only", "pad2d",
            "p = a[names[1]]\nph, pw = (p, p) if np.ndim(p) == 0 else p\n"
            "return _correct(**a)[..., ph:, pw:]"),
    Mistake("stride defaults to 1", ("max_pool2d", "avg_pool2d", "lp_pool2d"),
            "if a['stride'] is None:\n    a['stride'] = 1\nreturn _correct(**a)", "stride"),
    # `grad_input[window] = g` instead of `+=`: where windows overlap, the last window wins.
    Mistake("max-pool gradient assigned, not accumulated", "max_pool2d_backward",
            "go, out = np.asarray(a[names[0]]), None\n"
            "for idx in np.ndindex(go.shape):\n"
            "    one = np.zeros_like(go)\n"
            "    one[idx] = go[idx]\n"
            "    g = _correct(**{**a, names[0]: one})\n"
            "    out = np.where(g != 0, g, 0 * g if out is None else out)\n"
            "return out"),
    Mistake("p-th root forgotten", "lp_pool2d", "return _correct(**a) ** a['norm_type']",
            "norm_type"),
    Mistake("sum instead of mean", "global_avg_pool2d",
            "x = np.asarray(a[names[0]])\nreturn _correct(**a) * (x.shape[-1] * x.shape[-2])"),
    Mistake("count_include_pad ignored", "avg_pool2d",
            "a['count_include_pad'] = True\nreturn _correct(**a)", "count_include_pad"),
    Mistake("bias gradient of the first image only", "conv2d_backward",
            "dx, dweight, dbias = _correct(**a)\n"
            "return dx, dweight, np.asarray(a[names[0]])[0].sum(axis=(1, 2))"),
    Mistake("activation gradients not stored", "training_memory",
            "extra = a['batch_size'] * a[names[0]] * a['bytes_per_value']\n"
            "return _correct(**a) - extra", "bytes_per_value"),
    Mistake("pooling layer ignored", "expand_pattern", "a['pool'] = False\nreturn _correct(**a)",
            "pool"),
    Mistake("ReLU gradient passes negatives", "relu_backward", "return a[names[0]] * 1.0"),
]


def _src(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def correct_notebook(released: dict, source: dict) -> dict:
    """The released notebook with every solution cell replaced by the source's solution."""
    solutions = {_nbg(c)["grade_id"]: _src(c) for c in source["cells"]
                 if _nbg(c).get("solution") and "grade_id" in _nbg(c)}
    nb = copy.deepcopy(released)
    for cell in nb["cells"]:
        gid = _nbg(cell).get("grade_id")
        if _nbg(cell).get("solution") and gid in solutions:
            cell["source"] = "\n".join(line for line in solutions[gid].splitlines()
                                       if not re.match(r"\s*### (BEGIN|END) SOLUTION", line))
    return nb


def _defining_cell(nb: dict, function: str):
    pattern = re.compile(rf"^def {re.escape(function)}\((?P<params>[^)]*)\)", re.MULTILINE)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and _nbg(cell).get("solution"):
            match = pattern.search(_src(cell))
            if match:
                return cell, match["params"]
    return None, ""


def apply_mistake(nb: dict, mistake: Mistake) -> dict | None:
    """A copy of `nb` with `mistake` made, or None when the notebook has no such exercise."""
    nb = copy.deepcopy(nb)
    for fn in mistake.functions:
        cell, params = _defining_cell(nb, fn)
        if cell is not None:
            break
    if cell is None or (mistake.requires and mistake.requires not in params):
        return None
    correct = f"_correct_{fn}"
    source = re.sub(rf"^def {fn}\(", f"def {correct}(", _src(cell), count=1, flags=re.MULTILINE)
    body = "".join(f"\n    {line}" for line in mistake.body.replace("_correct", correct).split("\n"))
    cell["source"] = (
        f"{source}\n\n\nimport inspect\n\nimport numpy as np\n\n\n"
        f"def {fn}(*args, **kwargs):\n    # {mistake.name}\n"
        f"    bound = inspect.signature({correct}).bind(*args, **kwargs)\n"
        f"    bound.apply_defaults()\n    a, names = dict(bound.arguments), list(bound.arguments)"
        f"{body}\n\n\n{fn}.__signature__ = inspect.signature({correct})\n")
    return nb


def _edit_first(nb: dict, predicate: Callable, edit: Callable) -> dict:
    nb = copy.deepcopy(nb)
    for index, cell in enumerate(nb["cells"]):
        if predicate(cell):
            edit(nb, index, cell)
            break
    return nb


def _is_solution(cell) -> bool:
    return cell["cell_type"] == "code" and bool(_nbg(cell).get("solution"))


def _is_test(cell) -> bool:
    return cell["cell_type"] == "code" and bool(_nbg(cell).get("grade")) and \
        not _nbg(cell).get("solution")


def _prepend_to_solution(code: str) -> Callable[[dict], dict]:
    def edit(nb, index, cell):
        cell["source"] = code + "\n" + _src(cell)
    return lambda nb: _edit_first(nb, _is_solution, edit)


def _strip_metadata(nb: dict) -> dict:
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("nbgrader", None)
    return nb


def _edit_test(nb, index, cell):
    cell["source"] = "# this test was too strict\npass\n"


def _rename_test(nb, index, cell):
    cell["metadata"]["nbgrader"]["grade_id"] += "_renamed"


def _delete(nb, index, cell):
    del nb["cells"][index]


@dataclass(frozen=True)
class Profile:
    """One kind of submission: how to make its file, and the statuses grading may give it.

    ``make(notebook)`` returns the file's bytes, or None for "no notebook at all" (the student
    uploaded ``other_file`` instead).
    """

    name: str
    expect: frozenset[str]
    make: Callable[[dict], bytes | None]
    filename: str = ""
    other_file: str = ""


def _json(nb: dict) -> bytes:
    return (json.dumps(nb, indent=1) + "\n").encode()


def _profile(name: str, expect: str | tuple[str, ...],
             transform: Callable[[dict], dict] | None = None, **kw) -> Profile:
    statuses = frozenset([expect] if isinstance(expect, str) else expect)
    return Profile(name, statuses, lambda nb: _json(transform(nb) if transform else nb), **kw)


# A memory bomb that really touches its pages; the frame (and the memory) goes with the error.
_BOMB = """def _grab():
    hog = []
    while True:
        hog.append(b"x" * 50_000_000)


_grab()
"""

HOSTILE = [
    _profile("infinite loop", "timed out", _prepend_to_solution("while True:\n    pass\n")),
    _profile("KeyboardInterrupt swallower", "timed out", _prepend_to_solution(
        "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
        "    except KeyboardInterrupt:\n        pass\n")),
    _profile("os._exit", "kernel died", _prepend_to_solution("import os\nos._exit(3)\n")),
    _profile("memory bomb", ("graded", "kernel died"), _prepend_to_solution(_BOMB)),
    _profile("numpy monkeypatch", "tampered", _prepend_to_solution(
        "import numpy as np\nnp.allclose = lambda *args, **kwargs: True\n")),
    _profile("edited test cell", "graded", lambda nb: _edit_first(nb, _is_test, _edit_test)),
    _profile("deleted test cell", "graded", lambda nb: _edit_first(nb, _is_test, _delete)),
    _profile("renamed grade_id", "graded", lambda nb: _edit_first(nb, _is_test, _rename_test)),
    _profile("stripped metadata", "graded", _strip_metadata),
    _profile("warning printed", "graded", _prepend_to_solution(
        "import warnings\nwarnings.warn('this notebook was written in a hurry')\n"
        "print('debug: starting')\n")),
    _profile("misnamed notebook", "graded", filename="my homework (final).ipynb"),
    Profile("malformed .ipynb", frozenset(["invalid notebook"]), lambda nb: _json(nb)[:200]),
    Profile("empty file", frozenset(["invalid notebook"]), lambda nb: b""),
    Profile("uploaded a PDF", frozenset(["missing"]), lambda nb: None, other_file="notebook.pdf"),
]


def profiles(source: dict, released: dict, *, hostile: bool = True, n_correct: int = 3,
             max_mistakes: int | None = None) -> list[tuple[Profile, dict]]:
    """One assignment's class as (profile, notebook to make it from) pairs.

    `n_correct` correct ones, one per mistake the notebook's exercises allow (at most
    `max_mistakes`), a blank one (the released notebook as it was handed out) and, with
    `hostile`, the broken and hostile ones.
    """
    correct = correct_notebook(released, source)
    found = [(_profile("correct", "graded"), correct)] * n_correct
    by_function: dict[str, list] = {}
    for mistake in MISTAKES:
        wrong = apply_mistake(correct, mistake)
        if wrong is not None:
            by_function.setdefault(mistake.functions, []).append((mistake, wrong))
    # One mistake per exercise in turn, so a short list still covers every exercise.
    chosen = [pair for group in itertools.zip_longest(*by_function.values()) for pair in group
              if pair is not None][:max_mistakes]
    found += [(_profile(m.name, "graded"), nb) for m, nb in chosen]
    found.append((_profile("blank", "graded"), released))
    if hostile:
        found += [(p, correct) for p in HOSTILE]
    return found


@dataclass
class SyntheticClass:
    """What :func:`synthesize_class` wrote, and the status each submission should get."""

    roster: Path
    canvas: dict[str, Path] = field(default_factory=dict)
    moodle: dict[str, Path] = field(default_factory=dict)
    expected: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    kinds: dict[tuple[str, str], str] = field(default_factory=dict)


def _canvas_name(full: str, lms_id: int, sub: int, filename: str, late: bool) -> str:
    first, last = full.split(" ", 1)
    key = re.sub(r"[^a-z]", "", (last + first).lower())
    return f"{key}{'_LATE' if late else ''}_{lms_id}_{sub}_{filename}"


def _files(profile: Profile, nb: dict, assignment: str, released: dict, *,
           resubmit: bool) -> dict[str, bytes]:
    """The files one student uploads: {name: content}."""
    data = profile.make(nb)
    if data is None:
        return {profile.other_file: b"%PDF-1.4\n"}
    if resubmit:  # Canvas keeps both uploads of the same name; the later one is "-1"
        return {f"{assignment}.ipynb": _json(released), f"{assignment}-1.ipynb": data}
    return {profile.filename or f"{assignment}.ipynb": data}


def _upload(zf: zipfile.ZipFile, moodle: Path, student: tuple, index: int,
            files: dict[str, bytes]) -> None:
    """Pack one student's files as Canvas (most) or Moodle (every fourth) packs them."""
    _, full, lms_id = student
    if index % 4 == 3:
        folder = moodle / f"{full}_{lms_id}_assignsubmission_file_"
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (folder / name).write_bytes(content)
        return
    for name, content in files.items():
        zf.writestr(_canvas_name(full, lms_id, 5000 + index, name, late=index == 2), content)


def synthesize_class(course, out: str | Path, *, assignments: list[str] | None = None,
                     hostile: str | None = None, n_correct: int = 3,
                     others: tuple[int, int | None] = (1, 3),
                     only: set[str] | None = None) -> SyntheticClass:
    """Write a synthetic class for `assignments` into `out`.

    Parameters
    ----------
    course : Course
        Gives the source (``course.source_notebook``) and released notebooks.
    out : path-like
        Receives ``roster.csv``, ``canvas_<assignment>.zip`` and ``moodle_<assignment>/``.
    assignments : list of str, optional
        Default: every assignment of the course.
    hostile : str, optional
        The assignment that gets the broken and hostile submissions (default: the first).
    n_correct : int
        Correct submissions in the hostile assignment.
    others : (int, int or None)
        Correct submissions and the most mistakes of each other assignment (a smaller class
        keeps the demo short).
    only : set of str, optional
        Keep only the profiles with these names (a reduced class for quick runs).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(assignments or course.assignments())
    hostile = hostile or (names[0] if names else None)
    per_assignment, released = {}, {}
    for a in names:
        source = json.loads(Path(course.source_notebook(a)).read_text())
        released[a] = json.loads(Path(course.release_notebook(a)).read_text())
        size = {"n_correct": n_correct} if a == hostile else dict(
            zip(("n_correct", "max_mistakes"), others))
        found = profiles(source, released[a], hostile=a == hostile, **size)
        per_assignment[a] = [p for p in found if only is None or p[0].name in only]
    size = max([len(v) for v in per_assignment.values()] + [0]) + 1  # +1: never submits
    students = [(f"s{i + 1:02d}", _NAMES[i % len(_NAMES)], 1000 + i) for i in range(size)]
    result = SyntheticClass(out / "roster.csv")
    with open(result.roster, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student_id", "lms_id", "name"])
        writer.writerows([(sid, lms_id, full) for sid, full, lms_id in students])
    for a, subs in per_assignment.items():
        result.canvas[a], result.moodle[a] = out / f"canvas_{a}.zip", out / f"moodle_{a}"
        result.moodle[a].mkdir(exist_ok=True)
        with zipfile.ZipFile(result.canvas[a], "w", zipfile.ZIP_DEFLATED) as zf:
            for i, student in enumerate(students):
                key = (student[0], a)
                if i >= len(subs):
                    result.expected[key], result.kinds[key] = frozenset(["missing"]), \
                        "no submission"
                    continue
                profile, nb = subs[i]
                result.expected[key], result.kinds[key] = profile.expect, profile.name
                files = _files(profile, nb, a, released[a], resubmit=i == 1)
                _upload(zf, result.moodle[a], student, i, files)
    return result
