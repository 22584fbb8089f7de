"""Do export, feedback and report turn hand-made result.json files into the right outputs?

Independent of grading: the results below are written by hand in the format of
``SubmissionResult.to_json()``, so these tests only exercise the reading side.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from cnncourse.grading.course import Course
from cnncourse.grading.export import export_grades, format_table, grade_table
from cnncourse.grading.feedback import strip_hidden_tests, write_feedback
from cnncourse.grading.report import question_stats, write_report

A = "01_convolution"
SECRET = "check_secret_hidden_probe(corr2d, seed=12345)"


def _cell(kind, source, grade_id=None, *, grade=False, solution=False, points=0, outputs=()):
    cell = {"cell_type": kind, "metadata": {}, "source": source}
    if kind == "code":
        cell.update(execution_count=1, outputs=list(outputs))
    if grade_id:
        cell["metadata"]["nbgrader"] = {"grade": grade, "solution": solution,
                                        "locked": not solution, "grade_id": grade_id,
                                        "points": points, "schema_version": 3, "task": False}
    return cell


def _notebook(cells):
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


TEST_VALUES = ("check_corr2d_values(corr2d)\n### BEGIN HIDDEN TESTS\n" + SECRET
               + "\n### END HIDDEN TESTS\n")


def _source_cells(student_code="raise NotImplementedError()", outputs=()):
    return [
        _cell("markdown", "# Convolution\nImplement `corr2d`."),
        _cell("code", student_code, "corr2d", solution=True),
        _cell("code", TEST_VALUES, "corr2d_values", grade=True, points=3, outputs=outputs),
        _cell("code", "check_corr2d_edge_cases(corr2d)", "corr2d_edge", grade=True, points=2),
    ]


def _result(student, status, scores, *, reason="", flags=(), messages=None):
    total = sum(s for s, _ in scores.values())
    return {"student": student, "assignment": A, "status": status, "reason": reason,
            "flags": list(flags), "scores": {k: list(v) for k, v in scores.items()},
            "messages": messages or {}, "total": total,
            "max_total": sum(m for _, m in scores.values()), "duration_s": 1.5}


@pytest.fixture
def course(tmp_path):
    src = tmp_path / "solutions" / A
    src.mkdir(parents=True)
    (src / f"{A}.ipynb").write_text(json.dumps(_notebook(_source_cells())))
    course = Course(tmp_path / "course", source_dir=tmp_path / "solutions",
                    release_dir=tmp_path / "notebooks")
    flip = "corr2d flips the kernel: that is convolution, not cross-correlation"
    results = [
        _result("alice", "graded", {"corr2d_values": (3, 3), "corr2d_edge": (2, 2)}),
        _result("bob", "graded", {"corr2d_values": (3, 3), "corr2d_edge": (0, 2)},
                messages={"corr2d_edge": flip}),
        _result("carol", "graded", {"corr2d_values": (0, 3), "corr2d_edge": (0, 2)},
                messages={"corr2d_edge": flip, "corr2d_values": "NotImplementedError"}),
        _result("dave", "tampered", {"corr2d_values": (0, 3), "corr2d_edge": (0, 2)},
                reason="numpy.sum was replaced", flags=[("test cell corr2d_edge was edited; "
                                                         "restored from the source")]),
        _result("erin", "timed out", {"corr2d_values": (3, 3), "corr2d_edge": (0, 2)},
                reason="cell 3 (corr2d_edge) did not finish within 5 s"),
    ]
    for res in results:
        folder = course.autograded_dir / res["student"] / A
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps(res))
    # Collected with no usable notebook (a collect marker), and collected but never graded.
    (course.submitted_dir / "fred" / A).mkdir(parents=True)
    (course.submitted_dir / "fred" / A / "collect.json").write_text(
        json.dumps({"status": "missing", "reason": "no notebook (.ipynb) in the submission"}))
    (course.submitted_dir / "gina" / A).mkdir(parents=True)
    (course.submitted_dir / "gina" / A / f"{A}.ipynb").write_text("{}")
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,lms_id,name\nalice,11,Alice A\nhank,18,Hank H\n")
    course.roster = roster
    return course


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_export_has_every_student_question_and_status(course, tmp_path):
    grades, lms = export_grades(course, tmp_path / "out" / "grades.csv", roster=course.roster)
    rows = {r["student_id"]: r for r in _read_csv(grades)}
    assert list(rows) == ["alice", "bob", "carol", "dave", "erin", "fred", "gina", "hank"]
    header = list(next(iter(rows.values())))
    assert header == ["student_id", f"{A}:corr2d_values", f"{A}:corr2d_edge", f"{A}:total",
                      f"{A}:max", f"{A}:status", f"{A}:reason", f"{A}:flags"]
    assert (rows["bob"][f"{A}:corr2d_values"], rows["bob"][f"{A}:corr2d_edge"]) == ("3", "0")
    assert rows["bob"][f"{A}:total"] == "3" and rows["bob"][f"{A}:max"] == "5"
    assert rows["dave"][f"{A}:status"] == "tampered"
    assert "numpy.sum" in rows["dave"][f"{A}:reason"] and "edited" in rows["dave"][f"{A}:flags"]
    assert rows["erin"][f"{A}:status"] == "timed out"
    for student, reason in [("fred", "no notebook"), ("gina", "not graded"),
                            ("hank", "no submission")]:
        assert rows[student][f"{A}:status"] == "missing"
        assert reason in rows[student][f"{A}:reason"]
        assert rows[student][f"{A}:total"] == "0" and rows[student][f"{A}:max"] == "5"
        assert rows[student][f"{A}:corr2d_values"] == ""
    summary = {r["student_id"]: r for r in _read_csv(lms)}
    assert list(next(iter(summary.values()))) == ["student_id", "lms_id", "name", A]
    assert summary["alice"]["lms_id"] == "11" and summary["alice"][A] == "5"
    assert summary["bob"][A] == "3" and summary["hank"][A] == "0"


def test_grade_table_prints_one_line_per_student(course):
    text = format_table(*grade_table(course, course.roster))
    lines = text.splitlines()
    assert lines[0].split() == ["student", A]
    assert any(line.split()[:3] == ["dave", "0/5", "tampered"] for line in lines)
    assert len(lines) == 1 + 8


def _write_autograded(course, student, cells):
    folder = course.autograded_dir / student / A
    (folder / f"{A}.ipynb").write_text(json.dumps(_notebook(cells)))


def test_feedback_escapes_student_html_and_never_shows_hidden_tests(course):
    hostile = 'def corr2d(x, k):\n    "</pre><script>alert(1)</script>"\n    return x'
    traceback = ["\x1b[31mAssertionError\x1b[0m", f"----> 3 {SECRET}", "AssertionError: boom"]
    outputs = [{"output_type": "error", "ename": "CheckFailure",
                "evalue": "corr2d flips the kernel", "traceback": traceback},
               {"output_type": "display_data", "metadata": {},
                "data": {"text/html": "<script>steal()</script>", "text/plain": "<Figure>"}}]
    _write_autograded(course, "bob", _source_cells(hostile, outputs))
    pages = write_feedback(course)
    assert len(pages) == 5
    page = course.feedback_dir / "bob" / A / f"{A}.html"
    html = page.read_text()
    assert "<script>" not in html and "steal()" not in html
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "check_secret_hidden_probe" not in html and "12345" not in html
    assert "# hidden tests" in html
    assert "CheckFailure: corr2d flips the kernel" in html
    assert "corr2d flips the kernel: that is convolution" in html  # the graded message
    assert "3 / 5" in html and "graded" in html
    # A result without an autograded notebook still gets a page with its status and flags.
    dave = (course.feedback_dir / "dave" / A / f"{A}.html").read_text()
    assert "tampered" in dave and "restored from the source" in dave


def test_hidden_tests_in_a_traceback_of_a_plain_cell_are_blanked(course):
    outputs = [{"output_type": "error", "ename": "NameError", "evalue": "x",
                "traceback": [f"  {SECRET}", "NameError: x"]}]
    cells = _source_cells()
    cells[1]["outputs"] = outputs
    _write_autograded(course, "alice", cells)
    write_feedback(course, A)
    html = (course.feedback_dir / "alice" / A / f"{A}.html").read_text()
    assert "check_secret_hidden_probe" not in html and "NameError: x" in html


@pytest.mark.parametrize("source, expected", [
    ("a\n### BEGIN HIDDEN TESTS\nsecret()\n### END HIDDEN TESTS\nb", "a\n# hidden tests\nb"),
    ("    ### BEGIN HIDDEN TESTS\n    secret()\n    ### END HIDDEN TESTS",
     "    # hidden tests"),
    ("a\n### BEGIN HIDDEN TESTS\nsecret()\n", "a\n# hidden tests"),  # unterminated: hide all
    (("x\n### BEGIN HIDDEN TESTS\ns1\n### END HIDDEN TESTS\ny\n### BEGIN HIDDEN TESTS\ns2\n"
     "### END HIDDEN TESTS\n"), "x\n# hidden tests\ny\n# hidden tests\n"),
])
def test_strip_hidden_tests(source, expected):
    assert strip_hidden_tests(source) == expected


def test_report_writes_pngs_and_names_the_hardest_question(course, tmp_path):
    out = tmp_path / "report"
    text = write_report(course, out, roster=course.roster)
    for name in ("score_distribution.png", "question_means.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    assert (out / "summary.txt").read_text() == text
    hardest = text.split("Hardest questions")[1].splitlines()[1]
    assert "corr2d_edge" in hardest and "mean 33%" in hardest
    assert "corr2d flips the kernel" in text
    assert "1 tampered" in text and "3 missing" in text


def test_question_stats_use_graded_submissions_only(course):
    _, table = grade_table(course)
    stats = {s.grade_id: s for s in question_stats([r for t in table.values()
                                                    for r in t.values()])}
    # alice, bob, carol are graded: values 3+3+0 of 9, edge 2+0+0 of 6.
    assert stats["corr2d_values"].mean_fraction == pytest.approx(2 / 3)
    assert stats["corr2d_edge"].mean_fraction == pytest.approx(1 / 3)
    assert stats["corr2d_edge"].n == 3 and stats["corr2d_edge"].failures == 2
