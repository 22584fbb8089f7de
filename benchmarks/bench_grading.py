"""Grading throughput: ``grade_all(workers=2)`` against plain ``nbgrader autograde``, same class.

A synthetic class of one assignment (the real ``01_convolution`` when ``solutions/`` has it,
else the tests' tiny fixture): every other student submits the released notebook with the
solution cells filled in from the source, the others hand it in blank. Two identical copies
of the course are made; both gradebooks are registered beforehand (nbgrader's
generate_assignment database step), then each grader is timed from start to finish in one run,
its start-up included (nbgrader as its CLI, ours as the library call the CLI makes). The scores
of every cell of every student must be identical.

    .venv/bin/python benchmarks/bench_grading.py                      # 16 submissions
    .venv/bin/python benchmarks/bench_grading.py --submissions 20 --workers 2
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def _answered(source_nb, released_nb):
    """The released notebook with each solution cell as the source writes it (markers removed)."""
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source_nb.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.from_dict(released_nb)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = "\n".join(line for line in answers[grade_id].splitlines()
                                    if not _MARKER.match(line))
    return nb


def build_class(base: Path, assignment: str | None, n: int):
    """Write solutions/, notebooks/ and autograder/submitted/ for ``n`` students in ``base``."""
    from cnncourse.grading.course import Course

    if assignment is None and (REPO / "solutions" / "01_convolution").is_dir():
        assignment = "01_convolution"
    if assignment is not None:
        shutil.copytree(REPO / "solutions" / assignment, base / "solutions" / assignment)
        shutil.copytree(REPO / "notebooks" / assignment, base / "notebooks" / assignment)
        (base / "autograder").mkdir()
        shutil.copy(REPO / "autograder" / "nbgrader_config.py", base / "autograder")
        course = Course(base / "autograder", base / "solutions", base / "notebooks")
    else:
        sys.path.insert(0, str(REPO / "tests"))
        from grading_fixtures import ASSIGNMENT, make_course

        assignment, course = ASSIGNMENT, make_course(base)
    source = nbformat.read(course.source_notebook(assignment), as_version=4)
    released = nbformat.read(course.release_notebook(assignment), as_version=4)
    correct = _answered(source, released)
    for i in range(n):
        folder = course.submission_dir(f"student{i:02d}", assignment)
        folder.mkdir(parents=True)
        (folder / "timestamp.txt").write_text("2025-01-15 10:00:00 UTC")
        nbformat.write(correct if i % 2 == 0 else released, folder / f"{assignment}.ipynb")
    return course, assignment


def run_nbgrader(course, assignment: str, timeout: int) -> tuple[float, dict]:
    from nbgrader.api import Gradebook

    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(course.root / ".jupyter-empty"),
               PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", assignment,
                           f"--Execute.timeout={timeout}"],
                          cwd=course.root, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"nbgrader autograde failed:\n{done.stderr[-3000:]}")
    with Gradebook(course.db_url, course.course_id) as gb:
        scores = {s.student.id: {g.name: g.auto_score for nb in s.notebooks for g in nb.grades}
                  for s in gb.assignment_submissions(assignment)}
    return elapsed, scores


def run_ours(course, assignment: str, timeout: int, workers: int) -> tuple[float, dict]:
    from cnncourse.grading.autograde import grade_all

    started = time.perf_counter()
    run = grade_all(course, assignment, workers=workers, progress=False, timeout=timeout)
    elapsed = time.perf_counter() - started
    return elapsed, {r.student: {k: v[0] for k, v in r.scores.items()} for r in run}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", help="default: 01_convolution, else the test fixture")
    parser.add_argument("--submissions", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=60, help="seconds per cell")
    args = parser.parse_args(argv)

    from cnncourse.grading.course import Course

    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        ours_dir, theirs_dir = Path(tmp) / "ours", Path(tmp) / "nbgrader"
        ours_dir.mkdir()
        course, assignment = build_class(ours_dir, args.assignment, args.submissions)
        shutil.copytree(ours_dir, theirs_dir)
        theirs = Course(theirs_dir / "autograder", theirs_dir / "solutions", theirs_dir / "notebooks")
        for c in (course, theirs):
            c.ensure_gradebook([assignment])

        t_nbgrader, s_nbgrader = run_nbgrader(theirs, assignment, args.timeout)
        t_ours, s_ours = run_ours(course, assignment, args.timeout, args.workers)

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    n = args.submissions
    rows = [("nbgrader autograde", 1, t_nbgrader), ("cnncourse grade_all", args.workers, t_ours)]
    print(f"\n{assignment}: {n} submissions (half correct, half blank), {os.cpu_count()} CPUs, "
          f"load average at the end {load} (run on an otherwise idle machine)\n")
    print("| grader | processes | seconds | submissions/minute |")
    print("|---|---:|---:|---:|")
    for name, processes, seconds in rows:
        print(f"| {name} | {processes} | {seconds:.1f} | {60 * n / seconds:.1f} |")
    speedup = t_nbgrader / t_ours
    same = s_ours == s_nbgrader
    print(f"\nspeed-up: {speedup:.2f}x (target >= 1.8x on 2 cores); "
          f"scores identical for every cell of every student: {same}")
    if not same:
        for student in sorted(set(s_ours) | set(s_nbgrader)):
            if s_ours.get(student) != s_nbgrader.get(student):
                print(f"  {student}: ours {s_ours.get(student)} nbgrader {s_nbgrader.get(student)}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
