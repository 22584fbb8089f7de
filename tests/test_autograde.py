"""Does our grading agree with nbgrader's, restore what students broke, and never grade twice?"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest
from grading_fixtures import (
    ASSIGNMENT,
    CORRECT,
    MAX_TOTAL,
    POINTS,
    WRONG_SCALE,
    cell_by_id,
    make_course,
    released,
    source_notebook,
    student_notebook,
    submit,
)
from nbformat.v4 import new_code_cell

from cnncourse.grading.autograde import (
    SubmissionResult,
    grade_all,
    grade_submission,
    load_results,
)
from cnncourse.grading.course import Course, reference_versions
from cnncourse.grading.restore import restore, scan_for_tampering


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("course"))


def _ids(nb):
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


# -- restoring (no kernel) ---------------------------------------------------------------------

def test_reference_student_version_is_what_nbgrader_released(course):
    _, student = reference_versions(source_notebook())
    release = released(course)
    assert [c.source for c in student.cells] == [c.source for c in release.cells]
    assert [c.metadata for c in student.cells] == [c.metadata for c in release.cells]


def test_untouched_and_answered_notebooks_raise_no_flag(course):
    instructor, _ = reference_versions(source_notebook())
    for answers in ({}, CORRECT, {"add_impl": "def add(a, b):\n    return a - b\n"}):
        assert restore(student_notebook(course, answers), released(course), instructor).flags == []


def test_locked_cells_come_back_with_their_hidden_tests(course):
    instructor, _ = reference_versions(source_notebook())
    nb = student_notebook(course, CORRECT)
    cell_by_id(nb, "scale_plain").source = "pass"
    rebuilt = restore(nb, released(course), instructor).nb
    assert "### BEGIN HIDDEN TESTS" in cell_by_id(rebuilt, "scale_plain").source
    assert cell_by_id(rebuilt, "scale_plain").source == cell_by_id(instructor, "scale_plain").source
    assert cell_by_id(rebuilt, "add_impl").source == CORRECT["add_impl"]


def test_deleted_test_cell_is_reinserted_at_its_place(course):
    instructor, _ = reference_versions(source_notebook())
    nb = student_notebook(course, CORRECT)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "add_values"]
    nb.cells.insert(4, new_code_cell("print('a cell the student added')"))
    rebuilt = restore(nb, released(course), instructor)
    ids = _ids(rebuilt.nb)
    assert ids.index("add_values") == ids.index("add_impl") + 1
    assert rebuilt.flags == ["test cell add_values was deleted; re-inserted and graded"]


def test_stripped_metadata_is_matched_by_position_and_similarity(course):
    instructor, _ = reference_versions(source_notebook())
    nb = student_notebook(course, {"add_impl": "def add(x, y):\n    return x + y\n"})
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    rebuilt = restore(nb, released(course), instructor)
    assert _ids(rebuilt.nb) == _ids(instructor)
    assert rebuilt.flags == ["nbgrader metadata was stripped from 6 cells; restored by matching"]


def test_duplicated_test_cell_keeps_the_last_copy_like_nbgrader(course):
    instructor, _ = reference_versions(source_notebook())
    nb = student_notebook(course, CORRECT)
    nb.cells.insert(2, copy.deepcopy(cell_by_id(nb, "add_values")))
    rebuilt = restore(nb, released(course), instructor)
    assert _ids(rebuilt.nb).count("add_values") == 1
    assert rebuilt.flags == ["cell add_values appears 2 times; only the last copy is graded"]


# -- the static scan ---------------------------------------------------------------------------

LOCKED = ("import numpy as np\nfrom cnncourse import checks\nfrom cnncourse.checks import check_x\n"
          "import matplotlib.pyplot as plt\ndef check(f):\n    pass\n")


@pytest.mark.parametrize("code", [
    "np.allclose = lambda *a, **k: True",
    "import numpy\nnumpy.testing.assert_allclose = print",
    "setattr(np, 'allclose', abs)",
    "object.__setattr__(np, 'allclose', abs)",
    "import sys\nsys.modules['numpy'] = None",
    "import sys\nsys.modules.pop('cnncourse.checks')",
    "import builtins\nbuiltins.abs = len",
    "__builtins__.abs = len",
    "import importlib\nimportlib.reload(np)",
    "checks.convolution.check_corr2d = print",
    "check_x = lambda f: None",
    "checks = None",
    "def check(f):\n    return True",
    "def helper():\n    global check\n    check = None",
    "globals()['check'] = print",
    "__import__('numpy').allclose = abs",
    "vars(np)['allclose'] = abs",
    "np.__dict__.update(allclose=abs)",
    "from unittest import mock\nmock.patch('numpy.allclose', abs).start()",
    "mock.patch.object(np, 'allclose', abs).start()",
    "import fake_numpy as np",
    "del np.allclose",
    "%matplotlib inline\nnp.allclose = abs\nnp.zeros?",
    "%%time\nnp.allclose = abs",
    "%time np.allclose = abs",
    "def broken(:\n    pass\nnp.allclose = abs",
])
def test_scan_finds_monkeypatching(code):
    nb = nbformat.v4.new_notebook(cells=[new_code_cell(LOCKED), new_code_cell(code)])
    findings = scan_for_tampering(nb, editable=[1])
    assert len(findings) == 1 and findings[0].startswith("cell 2 ")


@pytest.mark.parametrize("code", [
    "import numpy as np\nfrom numpy import pad\nx = np.zeros(3)\nx[0] = 1",
    "np.random.seed(0)\nplt.rcParams['figure.figsize'] = (3, 3)",
    "def corr2d(x, k):\n    out = np.zeros((2, 2))\n    out[0, 0] = 1\n    return out",
    "def f():\n    check = 3\n    return check",
    "checks.convolution.check_corr2d_shape(corr2d)",
    "%matplotlib inline\n!ls\nresult = np.allclose(1, 1)",
    "def broken(:\n    pass",
])
def test_scan_leaves_ordinary_code_alone(code):
    nb = nbformat.v4.new_notebook(cells=[new_code_cell(LOCKED), new_code_cell(code)])
    assert scan_for_tampering(nb, editable=[1]) == []


def test_scan_ignores_the_instructors_cells():
    nb = nbformat.v4.new_notebook(cells=[new_code_cell(LOCKED + "np.allclose = np.allclose")])
    assert scan_for_tampering(nb, editable=[]) == []


# -- results, invalid submissions, the gradebook (no kernel) -----------------------------------

def test_submission_result_round_trips_through_json():
    result = SubmissionResult("ann", ASSIGNMENT, "timed out", "cell 3 did not finish",
                              ["a flag"], {"add_values": [2.0, 2.0], "m": [None, 1.0]},
                              {"add_values": "add: OK"}, 2.0, 3.0, 1.5, {"add_impl": ""}, "abc")
    text = result.to_json()
    assert SubmissionResult.from_json(text) == result
    assert SubmissionResult.from_json(json.loads(text)) == result
    assert SubmissionResult.from_json({**json.loads(text), "added_later": 1}) == result


@pytest.mark.parametrize("content, reason", [
    ('{"cells": [', "the file is not valid JSON (Expecting value: line 1 column 12"),
    ('{"hello": "world"}', "the file is JSON but not a Jupyter notebook"),
    (b"\xff\xfe garbage", "the file is not valid JSON"),
])
def test_not_a_notebook_is_invalid_with_the_reason(course, content, reason):
    folder = submit(course, "broken", content)
    before = (folder / f"{ASSIGNMENT}.ipynb").read_bytes()
    result = grade_submission(folder, ASSIGNMENT, "broken", course, timeout=5)
    assert result.status == "invalid notebook"
    assert result.reason.startswith(f"{ASSIGNMENT}.ipynb: {reason}")
    assert result.total == 0.0 and result.max_total == MAX_TOTAL
    assert (folder / f"{ASSIGNMENT}.ipynb").read_bytes() == before
    assert SubmissionResult.from_json(course.result_path("broken", ASSIGNMENT).read_text()) == result
    shutil.rmtree(folder.parent)
    shutil.rmtree(course.autograded_path("broken", ASSIGNMENT).parent)


def test_gradebook_registration_matches_the_source_and_is_done_once(tmp_path):
    from nbgrader.api import Gradebook

    course = make_course(tmp_path)
    assert course.ensure_gradebook() == [ASSIGNMENT]
    with Gradebook(course.db_url, course.course_id) as gb:
        notebook = gb.find_notebook(ASSIGNMENT, ASSIGNMENT)
        assert {c.name: c.max_score for c in notebook.grade_cells} == POINTS
        assert {c.name for c in notebook.solution_cells} == {"add_impl", "scale_impl"}
    assert Course(course.root, course.source_dir, course.release_dir).ensure_gradebook() == []
    nb = source_notebook()
    cell_by_id(nb, "scale_plain").metadata.nbgrader["points"] = 4
    nbformat.write(nb, course.source_notebook(ASSIGNMENT))
    assert Course(course.root, course.source_dir, course.release_dir).ensure_gradebook() == [ASSIGNMENT]


# -- against nbgrader itself (kernels) ---------------------------------------------------------

def _class(course):
    edited = student_notebook(course, {**CORRECT, "scale_impl": WRONG_SCALE})
    cell_by_id(edited, "scale_values").source = "print('scale: OK')"
    return {
        "correct": student_notebook(course, CORRECT),
        "blank": student_notebook(course),
        "partial": student_notebook(course, {**CORRECT, "scale_impl": WRONG_SCALE}),
        "edits_test": edited,
        "raises": student_notebook(course, {"add_impl": "raise ValueError('boom')\n",
                                            "scale_impl": CORRECT["scale_impl"]}),
        "prints_stderr": student_notebook(
            course, {**CORRECT, "scale_impl": CORRECT["scale_impl"] +
                     "import sys\nprint('debug', file=sys.stderr)\n"}),
    }


def _nbgrader_scores(root, students):
    """Run the real `nbgrader autograde` in ``root`` and read its gradebook."""
    from nbgrader.api import Gradebook

    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(root / ".jupyter-empty"),
               PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    done = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "cnncourse") as gb:
        return {s: {g.name: g.auto_score for nb in gb.find_submission(ASSIGNMENT, s).notebooks
                    for g in nb.grades} for s in students}


@pytest.fixture(scope="module")
def graded_class(course, tmp_path_factory):
    students = _class(course)
    for student, nb in students.items():
        submit(course, student, nb)
    twin_dir = tmp_path_factory.mktemp("nbgrader")
    shutil.copytree(course.root.parent, twin_dir, dirs_exist_ok=True)
    twin = Course(twin_dir / "autograder", twin_dir / "solutions", twin_dir / "notebooks")
    twin.ensure_gradebook()  # nbgrader's generate_assignment, database step
    run = grade_all(course, workers=2, progress=False, timeout=10)
    return run, _nbgrader_scores(twin.root, students)


@pytest.mark.slow
def test_scores_equal_nbgrader_autograde(graded_class):
    run, nbgrader_scores = graded_class
    ours = {r.student: {k: v[0] for k, v in r.scores.items()} for r in run}
    assert ours == nbgrader_scores
    assert ours["correct"] == POINTS and ours["blank"] == dict.fromkeys(POINTS, 0.0)


@pytest.mark.slow
def test_stderr_printed_by_a_student_cell_costs_nothing(graded_class):
    run, _ = graded_class
    assert {r.student: r.total for r in run}["prints_stderr"] == MAX_TOTAL


@pytest.mark.slow
def test_second_run_grades_nothing_and_force_regrades_the_same_with_one_worker(course, graded_class):
    first, _ = graded_class
    again = grade_all(course, workers=2, progress=False, timeout=10)
    assert again.graded == [] and len(again.skipped) == len(first)
    assert [r.to_dict() for r in again] == [r.to_dict() for r in first]

    nb = student_notebook(course, CORRECT)
    submit(course, "blank", nb)
    changed = grade_all(course, workers=2, progress=False, timeout=10)
    assert [r.student for r in changed.graded] == ["blank"]
    assert {r.student: r.total for r in changed}["blank"] == MAX_TOTAL

    forced = grade_all(course, workers=1, force=True, progress=False, timeout=10)
    assert len(forced.graded) == len(first)

    def comparable(result):
        data = result.to_dict()
        data.pop("duration_s")
        return data

    expected = {r.student: comparable(r) for r in changed}
    assert {r.student: comparable(r) for r in forced} == expected
    assert {r.student: comparable(r) for r in load_results(course, ASSIGNMENT)} == expected


def test_a_grader_failure_becomes_a_result_and_the_others_are_still_graded(tmp_path, monkeypatch):
    from cnncourse.grading import autograde

    course = make_course(tmp_path)
    submit(course, "breaks_the_grader", student_notebook(course, CORRECT))
    submit(course, "hands_in_nothing")
    original = autograde.grade_submission

    def fragile(submission, assignment, student, course, **options):
        if student == "breaks_the_grader":
            raise RuntimeError("disk on fire")
        return original(submission, assignment, student, course, **options)

    monkeypatch.setattr(autograde, "grade_submission", fragile)
    results = {r.student: r for r in grade_all(course, workers=1, progress=False)}
    assert results["hands_in_nothing"].status == "missing"
    broken = results["breaks_the_grader"]
    assert broken.status == "kernel died"
    assert "the grader failed on this submission (RuntimeError: disk on fire)" in broken.reason
    assert broken.submission_hash == ""  # so the next run grades it again
