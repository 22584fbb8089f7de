"""Write grading results into nbgrader's gradebook, so the formgrader and ``nbgrader export`` see them.

Only the parent process of :func:`cnncourse.grading.autograde.grade_all` calls :func:`record`
(sqlite has one writer). Per grade cell it sets ``auto_score`` as nbgrader's SaveAutoGrades
does; the status, reason and flags go where the formgrader shows them: the submission is
*flagged* when anything was unusual, and the first answer cell's automatic comment carries the
sentence (it also reaches the student through nbgrader's feedback).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

from sqlalchemy.exc import SAWarning

from .course import Course

__all__ = ["grading_note", "is_recorded", "record", "recorded_scores"]


def grading_note(result) -> str:
    """The sentence kept in the gradebook: status, reason and flags ("" when all was normal)."""
    parts = []
    if result.status != "graded":
        parts.append(f"Autograder: {result.status}." + (f" {result.reason}" if result.reason else ""))
    parts += [f"Flag: {flag}." if not flag.endswith(".") else f"Flag: {flag}" for flag in result.flags]
    return "\n".join(parts)


def _timestamp(course: Course, student: str, assignment: str) -> str | None:
    path = course.submission_dir(student, assignment) / "timestamp.txt"
    if path.exists():
        text = path.read_text().strip()
        return text or None
    return None


@contextmanager
def _open(course: Course, gb=None):
    if gb is not None:
        yield gb
        return
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as opened:
        yield opened


def record(course: Course, result, gb=None) -> None:
    """Store one :class:`~cnncourse.grading.autograde.SubmissionResult` in the gradebook.

    Creates the student and the submission when needed; sets every grade cell's
    ``auto_score`` to the result's score (0 when the result has none), marks cells that need a
    human as nbgrader does (a manual score exists, no automatic score, or the submission was
    tampered with), flags unusual submissions and keeps their explanation as a comment.
    """
    from nbgrader.api import MissingEntry
    from nbgrader.utils import parse_utc

    course.ensure_gradebook([result.assignment])
    note = grading_note(result)
    with _open(course, gb) as book, warnings.catch_warnings():
        # nbgrader's add_submission builds its rows in a way SQLAlchemy 2 warns about.
        warnings.simplefilter("ignore", SAWarning)
        book.update_or_create_student(result.student)
        try:
            submission = book.find_submission(result.assignment, result.student)
        except MissingEntry:
            submission = book.add_submission(result.assignment, result.student)
        timestamp = _timestamp(course, result.student, result.assignment)
        if timestamp:
            try:
                submission.timestamp = parse_utc(timestamp)
            except (ValueError, OverflowError):
                pass
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                score = result.scores.get(grade.name, [0.0])[0]
                grade.auto_score = score
                grade.needs_manual_grade = (grade.manual_score is not None or score is None
                                            or result.status == "tampered")
            order = {name: i for i, name in enumerate(result.comments)}
            comments = sorted(notebook.comments,
                              key=lambda c: order.get(c.cell.name, len(order)))
            for position, comment in enumerate(comments):
                text = result.comments.get(comment.cell.name, "") or ""
                if position == 0 and note:
                    text = f"{note}\n{text}".strip()
                comment.auto_comment = text or None
            notebook.flagged = bool(note)
        book.db.commit()


def recorded_scores(course: Course, assignment: str, student: str) -> dict[str, float | None]:
    """{grade_id: auto_score} of a student's submission in the gradebook ({} if none)."""
    from nbgrader.api import MissingEntry

    with _open(course) as book:
        try:
            submission = book.find_submission(assignment, student)
        except MissingEntry:
            return {}
        return {g.name: g.auto_score for nb in submission.notebooks for g in nb.grades}


def is_recorded(course: Course, result) -> bool:
    """Does the gradebook hold exactly this result's scores?"""
    stored = recorded_scores(course, result.assignment, result.student)
    wanted = {k: v[0] for k, v in result.scores.items()}
    return bool(stored) and all(stored.get(k, 0.0) == v for k, v in wanted.items())
