"""A tiny, self-contained nbgrader assignment for the grading tests.

``00_warmup`` has a locked set-up cell (a stand-in for ``cnncourse.checks``: it captures the
student's warnings and output, and raises ``AssertionError("[tampered] ...")`` when numpy was
monkeypatched), two exercises with solution regions, and three graded test cells with hidden
tests (2 + 3 + 1 points; one of them uses plain asserts). The release is made by nbgrader's own
``generate_assignment``, as ``cnncourse release`` does.
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from cnncourse.grading.course import Course, tools_on_path

ASSIGNMENT = "00_warmup"
REPO = Path(__file__).resolve().parents[1]
POINTS = {"add_values": 2.0, "scale_values": 3.0, "scale_plain": 1.0}
MAX_TOTAL = sum(POINTS.values())

SETUP = '''\
import contextlib
import io
import warnings

import numpy as np

_ORIGINALS = {name: getattr(np, name) for name in ("allclose", "asarray", "add")}


def check(function, args, expected):
    """Call `function(*args)` quietly and compare the result with `expected`."""
    for name, original in _ORIGINALS.items():
        if getattr(np, name) is not original:
            raise AssertionError(f"[tampered] numpy.{name} was replaced by code in the notebook")
    with warnings.catch_warnings(record=True), contextlib.redirect_stdout(io.StringIO()), \\
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("always")
        actual = function(*args)
    if actual is None or not np.allclose(actual, expected):
        raise AssertionError(f"{function.__name__}{args!r} returned {actual!r}, "
                             f"expected {expected!r}")
    print(f"{function.__name__}: OK")
'''

ADD_SOURCE = '''\
def add(a, b):
    """Return the elementwise sum of a and b."""
    ### BEGIN SOLUTION
    return np.add(a, b)
    ### END SOLUTION
'''

SCALE_SOURCE = '''\
def scale(x, k):
    """Return the array x multiplied by the number k."""
    ### BEGIN SOLUTION
    return np.asarray(x) * k
    ### END SOLUTION
'''

TESTS = {
    "add_values": '''\
check(add, (1, 2), 3)
check(add, (np.arange(3), 1), [1, 2, 3])
### BEGIN HIDDEN TESTS
check(add, (-1.5, 1.5), 0.0)
### END HIDDEN TESTS
''',
    "scale_values": '''\
check(scale, ([1, 2], 3), [3, 6])
### BEGIN HIDDEN TESTS
check(scale, (np.ones((2, 2)), -1), -np.ones((2, 2)))
### END HIDDEN TESTS
''',
    "scale_plain": '''\
assert scale([0.5], 2)[0] == 1.0, "scale([0.5], 2) should start with 1.0"
### BEGIN HIDDEN TESTS
assert scale(np.zeros(3), 5).shape == (3,), "scale must keep the shape"
### END HIDDEN TESTS
''',
}

CORRECT = {
    "add_impl": 'def add(a, b):\n    """Return the elementwise sum of a and b."""\n'
                "    return np.add(a, b)\n",
    "scale_impl": 'def scale(x, k):\n    """Return the array x multiplied by the number k."""\n'
                  "    return np.asarray(x) * k\n",
}
WRONG_SCALE = "def scale(x, k):\n    return np.asarray(x) + k\n"


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=0):
    meta = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id,
            "schema_version": 3, "task": False}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def source_notebook():
    """The nbgrader source notebook of the fixture assignment."""
    cells = [
        new_markdown_cell("# Warm-up\nTwo tiny exercises to try the grader."),
        new_code_cell(SETUP, metadata=_meta("setup", locked=True)),
        new_markdown_cell("## Exercise 1: `add`"),
        new_code_cell(ADD_SOURCE, metadata=_meta("add_impl", solution=True)),
        new_code_cell(TESTS["add_values"],
                      metadata=_meta("add_values", grade=True, locked=True, points=2)),
        new_markdown_cell("## Exercise 2: `scale`"),
        new_code_cell(SCALE_SOURCE, metadata=_meta("scale_impl", solution=True)),
        new_code_cell(TESTS["scale_values"],
                      metadata=_meta("scale_values", grade=True, locked=True, points=3)),
        new_code_cell(TESTS["scale_plain"],
                      metadata=_meta("scale_plain", grade=True, locked=True, points=1)),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def release_with_nbgrader(source_dir: Path, release_dir: Path, assignment: str) -> None:
    """Make the student version with nbgrader's generate_assignment (a throwaway gradebook)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    tools_on_path()
    with tempfile.TemporaryDirectory() as tmp:
        config = Config()
        config.CourseDirectory.root = tmp
        config.CourseDirectory.source_directory = str(source_dir)
        config.CourseDirectory.release_directory = str(release_dir)
        config.CourseDirectory.db_url = f"sqlite:///{tmp}/release.db"
        outcome = NbGraderAPI(CourseDirectory(config=config), config=config).generate_assignment(
            assignment, force=True, create=True)
    assert outcome["success"], outcome.get("error") or outcome.get("log")


_RELEASED: dict[str, bytes] = {}  # nbgrader's release of the fixture, made once per process


def make_course(tmp_path: Path) -> Course:
    """A course in ``tmp_path`` with the fixture assignment, its release and nbgrader config."""
    source_dir, release_dir, root = tmp_path / "solutions", tmp_path / "notebooks", tmp_path / "autograder"
    (source_dir / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(source_notebook(), source_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    released_path = release_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    if ASSIGNMENT not in _RELEASED:
        release_with_nbgrader(source_dir, release_dir, ASSIGNMENT)
        _RELEASED[ASSIGNMENT] = released_path.read_bytes()
    released_path.parent.mkdir(parents=True, exist_ok=True)
    released_path.write_bytes(_RELEASED[ASSIGNMENT])
    root.mkdir()
    shutil.copy(REPO / "autograder" / "nbgrader_config.py", root / "nbgrader_config.py")
    return Course(root=root, source_dir=source_dir, release_dir=release_dir)


def released(course: Course):
    return nbformat.read(course.release_notebook(ASSIGNMENT), as_version=4)


def cell_by_id(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def student_notebook(course: Course, answers: dict[str, str] | None = None):
    """The released notebook with the solution cells ``answers`` ({grade_id: code}) filled in."""
    nb = copy.deepcopy(released(course))
    for grade_id, code in (answers or {}).items():
        cell_by_id(nb, grade_id).source = code
    return nb


def submit(course: Course, student: str, content=None, *, timestamp="2025-01-15 10:00:00 UTC"):
    """Write a submission; ``content`` is a notebook, raw text/bytes, or None (empty folder)."""
    folder = course.submission_dir(student, ASSIGNMENT)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "timestamp.txt").write_text(timestamp)
    target = folder / f"{ASSIGNMENT}.ipynb"
    if isinstance(content, bytes):
        target.write_bytes(content)
    elif isinstance(content, str):
        target.write_text(content)
    elif content is not None:
        nbformat.write(content, target)
    return folder


def file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (to prove submissions are never modified)."""
    return {os.path.relpath(p, folder): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}
