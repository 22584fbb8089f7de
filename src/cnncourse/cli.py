"""``cnncourse``: one subcommand per step of the course's grading workflow.

release -> (students work, the LMS collects) -> collect -> grade -> export / feedback / report;
``validate`` is the students' own check before they submit. Each subcommand is a few lines over
a function of :mod:`cnncourse.grading` that the tests call directly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["build_parser", "main"]

DEFAULT_COURSE = "autograder"


def _course(args):
    from cnncourse.grading.course import Course

    kwargs = {"db_url": args.db_url} if getattr(args, "db_url", None) else {}
    return Course(Path(args.course), **kwargs)


def _roster(args):
    if getattr(args, "roster", None):
        return args.roster
    default = Path(args.course) / "roster.csv"
    return default if default.exists() else None


def _cmd_release(args) -> int:
    from cnncourse.grading.release import release

    course = _course(args)
    release(Path(args.solutions or course.source_dir), Path(args.notebooks or course.release_dir),
            assignments=args.assignment or None)
    print(f"released {', '.join(args.assignment) if args.assignment else 'every assignment'} "
          f"to {args.notebooks or course.release_dir}")
    return 0


def _cmd_collect(args) -> int:
    from cnncourse.grading.collect import collect

    report = collect(args.source, args.assignment, _course(args), roster=_roster(args))
    print(report.summary())
    return 0 if report.collected else 1


def _cmd_grade(args) -> int:
    from collections import Counter

    from cnncourse.grading.autograde import grade_all

    options = {k: v for k, v in (("timeout", args.timeout),
                                 ("memory_limit", args.memory_limit and args.memory_limit << 20))
               if v}
    results = grade_all(_course(args), assignment=args.assignment, workers=args.workers,
                        force=args.force, progress=not args.quiet, **options)
    counts = Counter(r.status for r in results)
    skipped = len(getattr(results, "skipped", []))
    print(f"{len(results)} submission(s), {skipped} unchanged since they were last graded: "
          + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing to grade"))
    return 0


def _cmd_export(args) -> int:
    from cnncourse.grading.export import export_grades, format_table, grade_table

    course = _course(args)
    out = Path(args.out) if args.out else Path(args.course) / "grades.csv"
    grades, lms = export_grades(course, out, roster=_roster(args), lms_out=args.lms_out)
    print(format_table(*grade_table(course, _roster(args))))
    print(f"wrote {grades} and {lms}")
    return 0


def _cmd_feedback(args) -> int:
    from cnncourse.grading.feedback import write_feedback

    pages = write_feedback(_course(args), args.assignment)
    print(f"wrote {len(pages)} feedback page(s) under {Path(args.course) / 'feedback'}")
    return 0


def _cmd_report(args) -> int:
    from cnncourse.grading.report import write_report

    out = Path(args.out) if args.out else Path(args.course) / "reports"
    print(write_report(_course(args), out, roster=_roster(args)), end="")
    print(f"figures and summary in {out}")
    return 0


def _cmd_validate(args) -> int:
    from cnncourse.grading.validate import format_validation, validate_notebook

    result = validate_notebook(args.notebook, timeout=args.timeout)
    print(format_validation(result))
    return 0 if result.ok else 1


def build_parser() -> argparse.ArgumentParser:
    """The ``cnncourse`` argument parser (one sub-parser per workflow step)."""
    parser = argparse.ArgumentParser(
        prog="cnncourse", description="The grading workflow of the course, one subcommand per step.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, func, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        if name != "validate":
            p.add_argument("--course", default=DEFAULT_COURSE,
                           help=f"course root folder (default: {DEFAULT_COURSE})")
        return p

    p = command("release", _cmd_release,
                "generate the student notebooks (notebooks/) from the solutions (solutions/)")
    p.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    p.add_argument("--solutions", help="source notebooks folder (default: the course's)")
    p.add_argument("--notebooks", help="release folder (default: the course's)")

    p = command("collect", _cmd_collect,
                "copy an LMS download (Canvas zip, Moodle folders, student folders) into "
                "submitted/")
    p.add_argument("source", nargs="+",
                   help="a folder or a .zip downloaded from the LMS (several: one download)")
    p.add_argument("--assignment", required=True, help="assignment name, e.g. 01_convolution")
    p.add_argument("--roster", help="CSV with student_id and lms_id/name columns "
                                    "(default: <course>/roster.csv when it exists)")

    p = command("grade", _cmd_grade, "autograde every collected submission in sandboxed kernels")
    p.add_argument("--assignment", help="only this assignment")
    p.add_argument("--workers", type=int, default=1, help="parallel kernels (default: 1)")
    p.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    p.add_argument("--timeout", type=float, help="seconds per cell")
    p.add_argument("--memory-limit", type=int, help="kernel memory limit in MB")
    p.add_argument("--db-url", help="gradebook database URL (default: sqlite in the course)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = command("export", _cmd_export, "write the grade CSV and an LMS-importable summary CSV")
    p.add_argument("--out", help="detailed CSV (default: <course>/grades.csv)")
    p.add_argument("--lms-out", help="summary CSV (default: <out>_lms.csv)")
    p.add_argument("--roster", help="roster CSV (default: <course>/roster.csv when it exists)")

    p = command("feedback", _cmd_feedback,
                "write one HTML feedback page per student and assignment (hidden tests hidden)")
    p.add_argument("--assignment", help="only this assignment")

    p = command("report", _cmd_report,
                "plot score distributions and per-question means; list the hardest questions")
    p.add_argument("--out", help="output folder (default: <course>/reports)")
    p.add_argument("--roster", help="roster CSV (default: <course>/roster.csv when it exists)")

    p = command("validate", _cmd_validate,
                "run a notebook before submitting; exit non-zero if a check fails or a cell "
                "raises")
    p.add_argument("notebook", help="the .ipynb file to check")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per cell (default: 60)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``cnncourse`` with `argv` (default: the command line); return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as exc:  # bad input: a message, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
