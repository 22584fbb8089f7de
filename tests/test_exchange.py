"""Does the JupyterHub route work end to end with nbgrader's own exchange?

The instructor releases from ``autograder/`` (its nbgrader_config.py, the exchange root taken
from CNNCOURSE_EXCHANGE_ROOT); two students, each with their own HOME and Jupyter config,
fetch, answer and submit; the instructor collects; ``grade_all`` grades what was collected.
"""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest
from grading_fixtures import ASSIGNMENT, CORRECT, MAX_TOTAL, POINTS, WRONG_SCALE, make_course

from cnncourse.grading import gradebook
from cnncourse.grading.autograde import grade_all

pytestmark = pytest.mark.slow

ANSWERS = {"alice": CORRECT, "bob": {**CORRECT, "scale_impl": WRONG_SCALE}}


def _env(**extra) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    for key in ("JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTERHUB_USER", "CNNCOURSE_EXCHANGE_ROOT"):
        env.pop(key, None)
    env.update(extra)
    return env


def _nbgrader(*commands):
    """Run ``(args, cwd, env)`` nbgrader commands side by side; fail with their output."""
    running = [subprocess.Popen([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for args, cwd, env in commands]
    logs = []
    for process, (args, _, _) in zip(running, commands):
        out, _ = process.communicate(timeout=300)
        assert process.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{out[-3000:]}"
        logs.append(out)
    return logs


def _student(tmp_path, name, exchange):
    """A student account: its own HOME and Jupyter config naming the course and the exchange."""
    home = tmp_path / "home" / name
    config_dir = home / ".jupyter"
    config_dir.mkdir(parents=True)
    (config_dir / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'cnncourse'\n"
        f"c.Exchange.root = {str(exchange)!r}\n")
    env = _env(HOME=str(home), JUPYTER_CONFIG_DIR=str(config_dir),
               JUPYTER_DATA_DIR=str(home / ".local" / "share" / "jupyter"))
    return home, env


@pytest.fixture(scope="module")
def exchanged(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("exchange")
    course = make_course(tmp_path)
    exchange = tmp_path / "exchange"
    instructor = _env(CNNCOURSE_EXCHANGE_ROOT=str(exchange),
                      JUPYTER_CONFIG_DIR=str(tmp_path / "instructor-jupyter"))
    _nbgrader((["release_assignment", ASSIGNMENT], course.root, instructor))

    accounts = {name: _student(tmp_path, name, exchange) for name in ANSWERS}
    _nbgrader(*[(["fetch_assignment", ASSIGNMENT], home, env) for home, env in accounts.values()])
    for name, (home, _) in accounts.items():
        path = home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in ANSWERS[name]:
                cell.source = ANSWERS[name][grade_id]
        nbformat.write(nb, path)
    _nbgrader(*[(["submit", ASSIGNMENT, f"--CourseDirectory.student_id={name}"], home, env)
                for name, (home, env) in accounts.items()])
    _nbgrader((["collect", ASSIGNMENT, "--CollectApp.check_owner=False"], course.root, instructor))
    return course, exchange, grade_all(course, workers=2, progress=False, timeout=10)


def test_release_lands_in_the_exchange_under_the_course_id(exchanged):
    _, exchange, _ = exchanged
    assert (exchange / "cnncourse" / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()
    inbound = sorted(p.name.split("+")[0] for p in (exchange / "cnncourse" / "inbound").iterdir())
    assert inbound == sorted(ANSWERS)


def test_collect_puts_each_student_in_submitted_with_nbgraders_timestamp(exchanged):
    course, _, _ = exchanged
    assert [(s.student, s.assignment) for s in course.submissions()] == [
        (name, ASSIGNMENT) for name in sorted(ANSWERS)]
    for name in ANSWERS:
        assert (course.submission_dir(name, ASSIGNMENT) / "timestamp.txt").read_text().strip()


def test_collected_submissions_are_graded_and_recorded(exchanged):
    course, _, run = exchanged
    results = {r.student: r for r in run}
    # the reasons and messages name the cause if a run under load ever fails here again
    why = {s: (r.reason, r.messages) for s, r in results.items()}
    assert {s: r.status for s, r in results.items()} == {"alice": "graded", "bob": "graded"}, why
    assert results["alice"].total == MAX_TOTAL and results["alice"].flags == [], why
    assert results["bob"].total == POINTS["add_values"], why
    for name, result in results.items():
        assert gradebook.recorded_scores(course, ASSIGNMENT, name) == {
            k: v[0] for k, v in result.scores.items()}


def test_gradebook_keeps_the_submission_time_from_the_exchange(exchanged):
    course, _, _ = exchanged
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        assert all(gb.find_submission(ASSIGNMENT, name).timestamp is not None for name in ANSWERS)
