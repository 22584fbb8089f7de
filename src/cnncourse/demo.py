"""``python -m cnncourse.demo`` (``make demo``): the whole grading workflow on a synthetic class.

release -> synthesise a class (correct, mistaken, blank, broken and hostile submissions) ->
collect it from a Canvas zip and Moodle folders -> grade in sandboxed kernels -> export the
grades -> feedback pages -> report figures, then print the grade table. Everything goes to
``demo-output/`` (git-ignored), which is a course of its own: the repository's ``autograder/``
and ``notebooks/`` are never touched. The assignments are whatever ``solutions/`` holds.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DemoResult", "main", "run_demo"]

# Short limits for the assignment with the hostile notebooks (an infinite loop costs a cell
# timeout); the others keep the course's own limit, as their training cells need it.
DEMO_TIMEOUT = 10.0
DEMO_MEMORY_LIMIT = 1 << 30


@dataclass
class DemoResult:
    """Where the demo wrote things, what grading said, and where it disagreed with the plan."""

    out: Path
    assignments: list[str]
    statuses: dict[tuple[str, str], str] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    table: str = ""
    seconds: float = 0.0


def _say(quiet: bool, *lines: str) -> None:
    if not quiet:
        print(*lines, sep="\n", flush=True)


def _release_in_sync(course, names: list[str]) -> list[str]:
    """Assignments whose committed student notebook differs from a fresh release."""
    committed = course.source_dir.parent / "notebooks"
    stale = []
    for name in names:
        mine, theirs = course.release_notebook(name), committed / name / f"{name}.ipynb"
        if not theirs.exists() or not filecmp.cmp(mine, theirs, shallow=False):
            stale.append(name)
    return stale


def _reset(out: Path) -> Path:
    """Remove what an earlier demo run wrote (only that) and return `out`."""
    for sub in ("course", "release", "lms", "report", "grades.csv", "grades_lms.csv"):
        target = out / sub
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    return out


def _compare(result: DemoResult, graded, klass) -> DemoResult:
    """Record every status, and every one the synthetic class did not plan for."""
    _, table = graded
    for student, rows in table.items():
        for name, row in rows.items():
            result.statuses[student, name] = row.status
            expected = klass.expected.get((student, name))
            if expected is not None and row.status not in expected:
                result.unexpected.append(
                    f"{student} {name} ({klass.kinds[student, name]}): got {row.status!r}, "
                    f"expected {' or '.join(sorted(expected))}; {row.reason}")
    return result


def run_demo(out: str | Path = "demo-output", *, workers: int = 2,
             timeout: float = DEMO_TIMEOUT, memory_limit: int = DEMO_MEMORY_LIMIT,
             assignments: list[str] | None = None, only: set[str] | None = None,
             n_correct: int = 3, quiet: bool = False) -> DemoResult:
    """Run the whole workflow into `out` (wiped first) and return what happened.

    Parameters
    ----------
    out : path-like
        Output folder; ``out/course`` is the demo's course root.
    workers : int
        Parallel grading kernels.
    timeout : float
        Seconds per cell in the assignment with the hostile submissions (the first); the other
        assignments get the course's default (``Execute.timeout``, 60 s).
    memory_limit : int
        Address-space limit per kernel in bytes.
    assignments : list of str, optional
        Default: every assignment in ``solutions/``.
    only : set of str, optional
        Keep only these submission kinds (see :mod:`cnncourse.grading.synthetic`).
    n_correct : int
        Correct submissions in the first assignment.
    quiet : bool
        Print nothing.
    """
    from cnncourse.grading.autograde import grade_all
    from cnncourse.grading.collect import collect
    from cnncourse.grading.course import Course
    from cnncourse.grading.export import export_grades, format_table, grade_table
    from cnncourse.grading.feedback import write_feedback
    from cnncourse.grading.release import release
    from cnncourse.grading.report import write_report
    from cnncourse.grading.synthetic import synthesize_class

    started = time.monotonic()
    out = _reset(Path(out).resolve())
    course = Course(out / "course", release_dir=out / "release")
    names = assignments or course.assignments()
    if not names:
        raise RuntimeError(f"no assignments in {course.source_dir}: nothing to demonstrate")
    _say(quiet, f"== release {', '.join(names)} -> {course.release_dir}")
    release(course.source_dir, course.release_dir, assignments=names)
    stale = _release_in_sync(course, names)
    _say(quiet, "   notebooks/ is in sync with solutions/" if not stale else
         f"   notebooks/ is out of date for {', '.join(stale)} (run `make release`)")

    klass = synthesize_class(course, out / "lms", assignments=names, only=only,
                             n_correct=n_correct)
    kinds = Counter(klass.kinds.values())
    _say(quiet, f"== synthetic class in {out / 'lms'}: " + ", ".join(
        f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])),
        f"   the broken and hostile submissions are all in {names[0]}; later assignments go to "
        "a few students only (the rest show as missing) to keep the demo short")
    for name in names:
        report = collect([klass.canvas[name], klass.moodle[name]], name, course,
                         roster=klass.roster)
        # the first assignment has the interesting cases; the others list only absentees
        text = report.summary() if name == names[0] else report.summary().splitlines()[0]
        _say(quiet, f"== collect {name}", text)

    for name in names:
        limit = timeout if name == names[0] else course.execute_timeout()
        _say(quiet, f"== grade {name} ({workers} workers, {limit:g} s per cell)")
        grade_all(course, name, workers=workers, timeout=limit, memory_limit=memory_limit,
                  progress=not quiet)
    grades, lms = export_grades(course, out / "grades.csv", roster=klass.roster)
    pages = write_feedback(course)
    summary = write_report(course, out / "report", roster=klass.roster)
    graded = grade_table(course, klass.roster)
    result = _compare(DemoResult(out, list(names)), graded, klass)
    result.table = format_table(*graded)
    result.seconds = time.monotonic() - started
    counts = Counter(result.statuses.values())
    _say(quiet, "== grades", result.table, "", summary,
         f"== wrote {grades}, {lms}, {len(pages)} feedback pages, figures in {out / 'report'}",
         "== statuses: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if result.unexpected:
        _say(quiet, "== UNEXPECTED statuses:", *result.unexpected)
    _say(quiet, f"== done in {result.seconds:.0f} s")
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line of the demo; exits 1 when a submission got a status it should not have."""
    parser = argparse.ArgumentParser(prog="python -m cnncourse.demo", description=__doc__)
    parser.add_argument("--out", default="demo-output", help="output folder (wiped first)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=DEMO_TIMEOUT, help="seconds per cell")
    parser.add_argument("--assignment", action="append", help="only this one (repeatable)")
    args = parser.parse_args(argv)
    result = run_demo(args.out, workers=args.workers, timeout=args.timeout,
                      assignments=args.assignment)
    return 1 if result.unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
