"""Does grading survive a hostile class, and say exactly what each student did?

One class, one student per kind of trouble, graded together by ``grade_all(workers=2)`` with
short time limits and a small memory limit. Each test then checks one student's result.
"""

from __future__ import annotations

import copy
import json

import nbformat
import pytest
from grading_fixtures import (
    ASSIGNMENT,
    CORRECT,
    MAX_TOTAL,
    POINTS,
    WRONG_SCALE,
    cell_by_id,
    file_hashes,
    make_course,
    student_notebook,
    submit,
)

from cnncourse.grading import gradebook
from cnncourse.grading.autograde import STATUSES, grade_all

pytestmark = pytest.mark.slow

CELL_TIMEOUT = 5
NOTEBOOK_TIMEOUT = 25
MEMORY_LIMIT = 1 << 30

SWALLOW_INTERRUPTS = CORRECT["scale_impl"] + """
import time
while True:
    try:
        time.sleep(0.05)
    except KeyboardInterrupt:
        pass
"""
# 800 MB a step: the limit is reached on the second step, without touching every page.
MEMORY_BOMB = CORRECT["scale_impl"] + """
def bomb():
    blocks = []
    while True:
        blocks.append(np.zeros(10**8))
bomb()
"""
WARNS = '''def add(a, b):
    import warnings
    warnings.warn("add: this is a warning printed by student code")
    return np.add(a, b)
'''


def _students(course):
    """{student: content of the submitted notebook (None: empty folder)}."""
    def answered(**changes):
        return student_notebook(course, {**CORRECT, **changes})

    edited = answered(scale_impl=WRONG_SCALE)
    cell_by_id(edited, "scale_values").source = 'print("scale: OK")'
    deleted = answered()
    deleted.cells = [c for c in deleted.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                     != "scale_values"]
    renamed = answered()
    cell_by_id(renamed, "add_values").metadata.nbgrader["grade_id"] = "my_add_test"
    stripped = answered()
    for cell in stripped.cells:
        cell.metadata.pop("nbgrader", None)
    return {
        "correct": answered(),
        "blank": student_notebook(course),
        "infinite_loop": answered(scale_impl=CORRECT["scale_impl"] + "\nwhile True:\n    pass\n"),
        "swallows_interrupt": answered(scale_impl=SWALLOW_INTERRUPTS),
        "exits": answered(scale_impl="import os\nos._exit(3)\n"),
        "memory_bomb": answered(scale_impl=MEMORY_BOMB),
        "patches_numpy": answered(scale_impl=WRONG_SCALE + "np.allclose = lambda *a, **k: True\n"),
        "patches_numpy_sneakily": answered(
            scale_impl=WRONG_SCALE + 'setattr(__import__("num" + "py"), "allclose", '
                                     "lambda *a, **k: True)\n"),
        "edits_test": edited,
        "deletes_test": deleted,
        "renames_grade_id": renamed,
        "strips_metadata": stripped,
        "malformed": '{"cells": [ this is not json',
        "empty_folder": None,
        "warns": answered(add_impl=WARNS),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("hostile"))
    for student, content in _students(course).items():
        submit(course, student, copy.deepcopy(content))
    before = file_hashes(course.submitted_dir)
    run = grade_all(course, workers=2, progress=False, timeout=CELL_TIMEOUT,
                    notebook_timeout=NOTEBOOK_TIMEOUT, memory_limit=MEMORY_LIMIT)
    return course, {r.student: r for r in run}, before


def _scores(result):
    return {grade_id: score for grade_id, (score, _) in result.scores.items()}


FULL = dict(POINTS)
ONLY_ADD = {"add_values": 2.0, "scale_values": 0.0, "scale_plain": 0.0}
NOTHING = {"add_values": 0.0, "scale_values": 0.0, "scale_plain": 0.0}


def test_every_student_is_graded_with_a_known_status(graded):
    course, results, _ = graded
    assert set(results) == set(_students(course))
    assert all(r.status in STATUSES for r in results.values())
    assert all(r.max_total == MAX_TOTAL for r in results.values())


def test_submitted_files_are_never_modified(graded):
    course, _, before = graded
    assert file_hashes(course.submitted_dir) == before


@pytest.mark.parametrize("student", ["correct", "warns", "deletes_test", "renames_grade_id",
                                     "strips_metadata"])
def test_full_marks_for_correct_work(graded, student):
    result = graded[1][student]
    assert result.status == "graded", result.reason
    assert _scores(result) == FULL
    assert result.total == MAX_TOTAL


def test_correct_student_has_no_flags_and_reads_the_ok_lines(graded):
    result = graded[1]["correct"]
    assert result.flags == [] and result.reason == ""
    assert result.messages["add_values"].splitlines() == ["add: OK"] * 3


def test_a_warning_from_student_code_costs_nothing(graded):
    assert graded[1]["warns"].flags == []


def test_blank_notebook_scores_zero_and_says_why(graded):
    result = graded[1]["blank"]
    assert result.status == "graded"
    assert _scores(result) == NOTHING
    assert all("NotImplementedError" in m for m in result.messages.values())
    assert result.comments == {"add_impl": "No response.", "scale_impl": "No response."}


def test_infinite_loop_is_interrupted_and_the_rest_still_runs(graded):
    result = graded[1]["infinite_loop"]
    assert result.status == "timed out"
    assert "scale_impl" in result.reason and f"{CELL_TIMEOUT} s" in result.reason
    assert _scores(result) == FULL  # the function was defined before the loop


@pytest.mark.parametrize("student, status", [("swallows_interrupt", "timed out"),
                                             ("exits", "kernel died")])
def test_stopped_kernel_keeps_the_scores_of_earlier_cells(graded, student, status):
    result = graded[1][student]
    assert result.status == status
    assert "scale_impl" in result.reason
    assert _scores(result) == ONLY_ADD
    assert result.messages["scale_values"].startswith("not run")


def test_kernel_death_reason_names_the_exit_code(graded):
    assert "exited with code 3" in graded[1]["exits"].reason


def test_memory_bomb_meets_memory_error_in_its_own_kernel(graded):
    course, results, _ = graded
    result = results["memory_bomb"]
    assert result.status == "graded"
    assert _scores(result) == FULL
    nb = nbformat.read(course.autograded_path("memory_bomb", ASSIGNMENT) / f"{ASSIGNMENT}.ipynb",
                       as_version=4)
    errors = [o.ename for o in cell_by_id(nb, "scale_impl").outputs if o.output_type == "error"]
    assert errors == ["MemoryError"]


def test_patching_numpy_is_tampering_found_by_the_static_scan(graded):
    result = graded[1]["patches_numpy"]
    assert result.status == "tampered"
    assert "numpy.allclose" in result.reason and "line" in result.reason
    assert result.total == 0.0 and _scores(result) == NOTHING


def test_hidden_patching_is_caught_by_the_check_at_run_time(graded):
    result = graded[1]["patches_numpy_sneakily"]
    assert result.status == "tampered"
    assert result.reason.startswith("a check detected tampering")
    assert "[tampered] numpy.allclose was replaced" in result.reason
    assert result.total == 0.0


def test_edited_test_cell_is_restored_and_flagged(graded):
    result = graded[1]["edits_test"]
    assert result.status == "graded"
    assert result.flags == ["test cell scale_values was edited; restored from the source and flagged"]
    assert _scores(result) == ONLY_ADD
    assert "returned array([4, 5])" in result.messages["scale_values"]


@pytest.mark.parametrize("student, flag", [
    ("deletes_test", "test cell scale_values was deleted; re-inserted and graded"),
    ("renames_grade_id",
     "the grade_id of cell add_values was changed to 'my_add_test'; restored by matching"),
    ("strips_metadata", "nbgrader metadata was stripped from 6 cells; restored by matching"),
])
def test_structural_changes_are_flagged(graded, student, flag):
    assert graded[1][student].flags == [flag]


def test_malformed_notebook_is_invalid_with_the_parser_reason(graded):
    result = graded[1]["malformed"]
    assert result.status == "invalid notebook"
    assert "not valid JSON" in result.reason and "line 1 column" in result.reason
    assert result.total == 0.0


def test_empty_folder_is_missing(graded):
    result = graded[1]["empty_folder"]
    assert result.status == "missing"
    assert f"{ASSIGNMENT}.ipynb" in result.reason


def test_result_json_is_written_for_everyone(graded):
    course, results, _ = graded
    for student, result in results.items():
        stored = json.loads(course.result_path(student, ASSIGNMENT).read_text())
        assert stored["status"] == result.status and stored["total"] == result.total


def test_gradebook_has_one_submission_per_student_with_the_same_scores(graded):
    course, results, _ = graded
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        submissions = gb.assignment_submissions(ASSIGNMENT)
        assert sorted(s.student.id for s in submissions) == sorted(results)
        flagged = {s.student.id for s in submissions if any(nb.flagged for nb in s.notebooks)}
    for student, result in results.items():
        assert gradebook.recorded_scores(course, ASSIGNMENT, student) == _scores(result)
    unusual = {s for s, r in results.items() if r.status != "graded" or r.flags}
    assert flagged == unusual


def test_sandbox_kernel_has_the_limits_and_the_watchdog_stops_a_slow_notebook(tmp_path):
    from nbformat.v4 import new_code_cell, new_notebook

    from cnncourse.grading.sandbox import execute_notebook

    probe = ("import os, resource\n"
             "print(resource.getrlimit(resource.RLIMIT_AS), resource.getrlimit(resource.RLIMIT_CORE),"
             " os.environ['MPLBACKEND'], os.getcwd())")
    nb = new_notebook(cells=[new_code_cell(probe)] + [new_code_cell("import time; time.sleep(1)")
                                                      for _ in range(8)])
    report = execute_notebook(nb, cwd=tmp_path, cell_timeout=CELL_TIMEOUT, notebook_timeout=3,
                              memory_limit=MEMORY_LIMIT)
    limit = MEMORY_LIMIT
    assert nb.cells[0].outputs[0].text.split() == [f"({limit},", f"{limit})", "(0,", "0)", "Agg",
                                                   str(tmp_path)]
    assert report.outcome == "timed out"
    assert report.detail.startswith("the notebook did not finish within 3 s")
    assert 1 <= report.failed_cell <= 6 and report.executed == set(range(report.failed_cell))
    assert nb.cells[report.failed_cell].outputs[-1].ename == "NotebookTimeoutError"
    assert all(not cell.outputs for cell in nb.cells[report.failed_cell + 1:])
