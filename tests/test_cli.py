"""Does every `cnncourse` subcommand reach its function, with the options it was given?"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cnncourse import cli

ROOT = Path(__file__).resolve().parents[1]
SUBCOMMANDS = ["release", "collect", "grade", "export", "feedback", "report", "validate"]


def test_help_lists_every_subcommand_with_a_description(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for name in SUBCOMMANDS:
        line = next((ln for ln in text.splitlines() if ln.strip().startswith(name)), "")
        assert len(line.split()) > 2, f"{name} has no one-line description in --help"


def test_python_dash_m_cnncourse_works():
    result = subprocess.run([sys.executable, "-m", "cnncourse", "--help"], capture_output=True,
                            text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr
    assert "validate" in result.stdout


def test_collect_subcommand(tmp_path, capsys):
    source = tmp_path / "canvas.zip"
    with zipfile.ZipFile(source, "w") as zf:
        zf.writestr("doejane_101_9001_hw1.ipynb", "{}")
        zf.writestr("leeann_103_9003_notes.txt", "no notebook")
    course = tmp_path / "course"
    assert cli.main(["collect", str(source), "--assignment", "hw1", "--course", str(course)]) == 0
    assert (course / "submitted" / "doejane" / "hw1" / "hw1.ipynb").read_text() == "{}"
    out = capsys.readouterr().out
    assert "collected 1 submission(s)" in out and "MISSING leeann" in out


def test_grade_subcommand_passes_its_options(tmp_path, monkeypatch, capsys):
    from cnncourse.grading import autograde

    seen = {}

    def fake_grade_all(course, assignment=None, workers=1, force=False, progress=True, **kw):
        seen.update(course=course, assignment=assignment, workers=workers, force=force, **kw)
        return [autograde.SubmissionResult("s1", "hw1", "graded"),
                autograde.SubmissionResult("s2", "hw1", "timed out")]

    monkeypatch.setattr(autograde, "grade_all", fake_grade_all)
    code = cli.main(["grade", "--course", str(tmp_path / "c"), "--assignment", "hw1",
                     "--workers", "3", "--force", "--timeout", "7", "--memory-limit", "512",
                     "--db-url", "sqlite:////tmp/x.db", "--quiet"])
    assert code == 0
    assert seen["assignment"] == "hw1" and seen["workers"] == 3 and seen["force"] is True
    assert seen["timeout"] == 7.0 and seen["memory_limit"] == 512 * 2**20
    assert seen["course"].db_url == "sqlite:////tmp/x.db"
    assert seen["course"].root == (tmp_path / "c").resolve()
    assert "1 graded, 1 timed out" in capsys.readouterr().out


def test_bad_input_is_a_message_and_exit_status_2(tmp_path, capsys):
    assert cli.main(["collect", str(tmp_path / "nope.zip"), "--assignment", "hw1",
                     "--course", str(tmp_path / "c")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_release_subcommand_calls_release(tmp_path, monkeypatch):
    from cnncourse.grading import release as release_module

    calls = []
    monkeypatch.setattr(release_module, "release",
                        lambda src, dst, assignments=None: calls.append((src, dst, assignments)))
    assert cli.main(["release", "--course", str(tmp_path), "--assignment", "01_convolution",
                     "--solutions", str(tmp_path / "s"), "--notebooks", str(tmp_path / "n")]) == 0
    assert calls == [(tmp_path / "s", tmp_path / "n", ["01_convolution"])]


def _hand_made_result(course: Path, student: str, status: str, score: float) -> None:
    folder = course / "autograded" / student / "hw1"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({
        "student": student, "assignment": "hw1", "status": status, "reason": "",
        "flags": [], "scores": {"q1": [score, 2.0]}, "messages": {"q1": "look at q1"},
        "total": score, "max_total": 2.0, "duration_s": 1.0}))


def test_export_feedback_and_report_subcommands(tmp_path, capsys):
    course = tmp_path / "course"
    _hand_made_result(course, "amy", "graded", 2.0)
    _hand_made_result(course, "ben", "graded", 0.0)
    out = tmp_path / "grades.csv"
    assert cli.main(["export", "--course", str(course), "--out", str(out)]) == 0
    assert out.read_text().splitlines()[1:] == ["amy,2,2,2,graded,,", "ben,0,0,2,graded,,"]
    assert (tmp_path / "grades_lms.csv").read_text().splitlines() == [
        "student_id,hw1", "amy,2", "ben,0"]
    assert cli.main(["feedback", "--course", str(course)]) == 0
    assert "look at q1" in (course / "feedback" / "ben" / "hw1" / "hw1.html").read_text()
    assert cli.main(["report", "--course", str(course), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "question_means.png").read_bytes()[:4] == b"\x89PNG"
    assert "hw1: q1  mean 50% over 2" in capsys.readouterr().out


def _graded_notebook(path: Path, test_source: str) -> Path:
    cells = [
        {"cell_type": "code", "metadata": {}, "source": "def add(a, b):\n    return a + b",
         "outputs": [], "execution_count": None},
        {"cell_type": "code", "source": test_source, "outputs": [], "execution_count": None,
         "metadata": {"nbgrader": {"grade": True, "solution": False, "locked": True,
                                   "grade_id": "add_test", "points": 1, "schema_version": 3,
                                   "task": False}}},
    ]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 4}))
    return path


def test_validate_reports_a_missing_or_malformed_notebook(tmp_path, capsys):
    assert cli.main(["validate", str(tmp_path / "nope.ipynb")]) == 2
    assert "no notebook at" in capsys.readouterr().err
    bad = tmp_path / "bad.ipynb"
    bad.write_text('{"cells": [')
    assert cli.main(["validate", str(bad)]) == 2
    assert "not a valid Jupyter notebook" in capsys.readouterr().err


@pytest.mark.slow
def test_validate_exit_status_follows_the_checks(tmp_path, capsys):
    good = _graded_notebook(tmp_path / "good.ipynb", "assert add(1, 2) == 3")
    assert cli.main(["validate", str(good), "--timeout", "30"]) == 0
    assert "PASS  add_test" in capsys.readouterr().out
    wrong = _graded_notebook(tmp_path / "wrong.ipynb",
                             'assert add(1, 2) == 4, "add(1, 2) should be 4 here"')
    assert cli.main(["validate", str(wrong), "--timeout", "30"]) == 1
    assert "FAIL  add_test (1 pts): AssertionError: add(1, 2) should be 4" in \
        capsys.readouterr().out
    noisy = _graded_notebook(tmp_path / "noisy.ipynb",
                             "import sys\nprint('careful', file=sys.stderr)\nassert add(1, 2) == 3")
    assert cli.main(["validate", str(noisy), "--timeout", "30"]) == 1
    assert "wrote to stderr" in capsys.readouterr().out


@pytest.mark.slow
def test_validate_passes_the_solution_notebook(capsys):
    solutions = sorted((ROOT / "solutions").glob("*/*.ipynb"))
    if not solutions:
        pytest.skip("no solution notebook yet")
    assert cli.main(["validate", str(solutions[0])]) == 0, capsys.readouterr().out
    assert "graded checks passed" in capsys.readouterr().out
