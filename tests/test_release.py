"""Are the student notebooks exactly what `cnncourse release` makes from the solutions, and clean?"""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from notebook_utils import NOTEBOOKS, SOLUTIONS, assignments

from cnncourse.grading.release import check_no_leaks, find_assignments, release

ASSIGNMENTS = assignments()


def _meta(cell):
    return cell.metadata.get("nbgrader", {})


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "notebooks"
    written = release(SOLUTIONS, out)
    return out, written


def test_every_assignment_is_released_and_nothing_else():
    assert ASSIGNMENTS, "no source notebooks in solutions/"
    assert find_assignments(NOTEBOOKS) == ASSIGNMENTS


@pytest.mark.slow
def test_regeneration_is_byte_for_byte_identical_to_the_committed_notebooks(regenerated):
    out, written = regenerated
    assert [p.parent.name for p in written] == ASSIGNMENTS
    for name in ASSIGNMENTS:
        fresh = (out / name / f"{name}.ipynb").read_bytes()
        committed = (NOTEBOOKS / name / f"{name}.ipynb").read_bytes()
        assert fresh == committed, (f"notebooks/{name} is out of date: run `cnncourse release` "
                                    "(never edit notebooks/ by hand)")


@pytest.mark.slow
def test_released_notebooks_have_stubs_and_the_source_cells(regenerated):
    out, _ = regenerated
    for name in ASSIGNMENTS:
        source = nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4).cells
        student = nbformat.read(out / name / f"{name}.ipynb", as_version=4).cells
        assert [_meta(c).get("grade_id") for c in student] == \
               [_meta(c).get("grade_id") for c in source]
        for cell in student:
            if _meta(cell).get("solution"):
                assert "raise NotImplementedError()" in cell.source
                assert _meta(cell).get("checksum"), "nbgrader did not checksum the answer cell"


def test_committed_notebooks_leak_nothing():
    assert check_no_leaks(NOTEBOOKS, SOLUTIONS) == []


def test_committed_solutions_carry_no_outputs():
    for name in ASSIGNMENTS:
        nb = nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def _write(folder, name, cells):
    path = folder / name / f"{name}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(new_notebook(cells=cells), path)


def test_check_no_leaks_finds_markers_secrets_and_outputs(tmp_path):
    hidden = "checks.convolution.check_corr2d_values(corr2d, seed=999)"
    _write(tmp_path / "solutions", "a", [
        new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return compute_the_secret_answer(42)"
                      "\n    ### END SOLUTION"),
        new_code_cell(f"# visible\n### BEGIN HIDDEN TESTS\n{hidden}\n### END HIDDEN TESTS"),
    ])
    executed = new_code_cell("1 + 1", execution_count=3)
    _write(tmp_path / "notebooks", "a", [
        new_code_cell("def f():\n    return compute_the_secret_answer(42)"),
        new_code_cell(f"# visible\n{hidden}"),
        new_code_cell("### BEGIN SOLUTION\nraise NotImplementedError()"),
        executed,
    ])
    problems = check_no_leaks(tmp_path / "notebooks", tmp_path / "solutions")
    text = "\n".join(problems)
    assert "cell 0: leaks 'return compute_the_secret_answer(42)'" in text
    assert f"cell 1: leaks {hidden!r}" in text
    assert "cell 2: contains 'BEGIN SOLUTION'" in text
    assert "cell 3: has outputs or an execution count" in text
    assert len(problems) == 4


def test_check_no_leaks_accepts_a_clean_notebook(tmp_path):
    _write(tmp_path / "solutions", "a", [
        new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return compute_the_secret_answer(42)"
                      "\n    ### END SOLUTION")])
    _write(tmp_path / "notebooks", "a", [
        new_code_cell("def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()")])
    assert check_no_leaks(tmp_path / "notebooks", tmp_path / "solutions") == []


def test_release_refuses_an_unknown_assignment(tmp_path):
    with pytest.raises(ValueError, match="no source notebook for 99_nothing"):
        release(SOLUTIONS, tmp_path, assignments=["99_nothing"])
