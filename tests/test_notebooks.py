"""Do the course notebooks run, and does real nbgrader grade them the way we intend?

Parametrized over every assignment in ``solutions/``, so a new notebook is picked up without
touching this file. For each: (a) the solution executes top to bottom, fast, with figures;
(b) nbgrader autograde gives the solution full marks and the untouched student notebook zero,
failing only with NotImplementedError; (c) a known mistake loses points and the feedback
names it (declared as NOTEBOOK_MISTAKES in each topic's tests/test_checks_<topic>.py).
"""

from __future__ import annotations

import os
import re

import nbformat
import pytest
from notebook_utils import (
    GradedAssignment,
    assignments,
    execute,
    image_outputs,
    source_notebook,
    topic_test_modules,
    with_answer_replaced,
)

ASSIGNMENTS = assignments()
MAX_SECONDS = 60



def _notebook_mistakes() -> dict:
    """NOTEBOOK_MISTAKES of every tests/test_checks_*.py, merged.

    Each topic's test file declares
    ``NOTEBOOK_MISTAKES = {"NN_name": [(answer grade_id, buggy cell source, expected text)]}``
    so that the helper who owns a notebook also owns its mistake submissions.
    """
    merged = {}
    for module in topic_test_modules():
        for name, entries in getattr(module, "NOTEBOOK_MISTAKES", {}).items():
            merged.setdefault(name, []).extend(entries)
    return merged


MISTAKE_SUBMISSIONS = _notebook_mistakes()


@pytest.fixture(scope="session")
def grading_cache(tmp_path_factory):
    # Shared by all pytest-xdist workers of this run, so each assignment is graded once.
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return base / "graded-notebooks"


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request, grading_cache) -> GradedAssignment:
    name = request.param
    solution = nbformat.read(source_notebook(name), as_version=4)
    submissions = {"sol": solution, "blank": "released"}
    for i, (grade_id, source, _) in enumerate(MISTAKE_SUBMISSIONS.get(name, [])):
        submissions[f"mistake{i}"] = with_answer_replaced(solution, grade_id, source)
    result = GradedAssignment.build(grading_cache, name, submissions)
    print(f"\n{name}: nbgrader generate + autograde of {len(submissions)} submissions "
          f"took {result.seconds:.1f} s")
    return result


def _cells(name):
    return nbformat.read(source_notebook(name), as_version=4).cells


def _meta(cell):
    return cell.metadata.get("nbgrader", {})


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_source_notebook_follows_the_course_conventions(name):
    cells = _cells(name)
    code = [c for c in cells if c.cell_type == "code"]
    first = code[0]
    assert re.search(r"^from cnncourse import (.*, )?checks\b", first.source, re.MULTILINE), first.source
    assert re.search(r"^import numpy\b", first.source, re.MULTILINE), first.source
    assert _meta(first).get("locked") and not _meta(first).get("solution")
    answers = [c for c in code if _meta(c).get("solution")]
    tests = [c for c in code if _meta(c).get("grade")]
    assert answers and tests
    assert all("### BEGIN SOLUTION" in c.source for c in answers)
    assert all(_meta(c)["points"] > 0 and _meta(c).get("locked") for c in tests)
    assert any("### BEGIN HIDDEN TESTS" in c.source for c in tests)
    ids = [_meta(c)["grade_id"] for c in cells if _meta(c)]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    assert code[-1].source.strip().startswith("checks.check_yourself(globals(),")
    assert f'"{name}"' in code[-1].source or f"'{name}'" in code[-1].source
    assert not _meta(code[-1]).get("grade")
    assert all(not c.outputs and c.execution_count is None for c in code), "outputs committed"


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_executes_quickly_with_figures(name, record_property):
    nb, seconds = execute(source_notebook(name))
    record_property("seconds", round(seconds, 1))
    print(f"\n{name}: executed in {seconds:.1f} s, {image_outputs(nb)} figures")
    assert seconds < MAX_SECONDS
    assert image_outputs(nb) >= 3


# (b) and (c) share ONE nbgrader run per assignment, so they are one test: under pytest-xdist,
# separate tests of one assignment would land on both workers and one would wait for the other.
@pytest.mark.slow
def test_autograde_gives_solution_full_marks_blank_zero_and_names_mistakes(graded):
    # (b) the solution: every graded cell passes
    score, max_score = graded.total("sol")
    assert max_score > 0
    assert graded.errors["sol"] == {}, graded.errors["sol"]
    assert score == max_score, graded.scores["sol"]

    # (b) the untouched student notebook: zero, and only NotImplementedError in graded cells
    blank, blank_max = graded.total("blank")
    assert blank_max == max_score
    assert blank == 0, graded.scores["blank"]
    names = {ename for ename, _ in graded.errors["blank"].values()}
    assert names == {"NotImplementedError"}, graded.errors["blank"]
    assert set(graded.errors["blank"]) == set(graded.scores["blank"]), "a graded cell passed"

    # (c) each listed mistake loses points, and the feedback names it
    mistakes = MISTAKE_SUBMISSIONS.get(graded.name, [])
    assert mistakes, (f"declare NOTEBOOK_MISTAKES for {graded.name} in its "
                      "tests/test_checks_<topic>.py (see tests/test_checks_convolution.py)")
    for i, (grade_id, _, expected) in enumerate(mistakes):
        student = f"mistake{i}"
        assert graded.total(student)[0] < max_score, f"{grade_id}: the mistake lost no points"
        feedback = [text for _, text in graded.errors[student].values()]
        assert any(expected in text for text in feedback), (expected, feedback)
        assert all(ename != "TamperError" for ename, _ in graded.errors[student].values())
