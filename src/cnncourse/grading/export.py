"""Grade tables from the graded results: a detailed CSV and an LMS-importable summary.

The export reads the ``result.json`` files that grading writes beside each autograded notebook
(``autograded/<student>/<assignment>/result.json``) and the ``collect.json`` markers of
``submitted/``. Every student who is on the roster or was collected appears, with status
"missing" (and 0 points, as nbgrader's own export does) when no result exists.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from cnncourse.grading.collect import MARKER_NAME, RosterEntry, load_roster

__all__ = [
    "STATUSES",
    "Row",
    "assignment_questions",
    "export_grades",
    "format_table",
    "grade_table",
    "load_results",
]

STATUSES = ("graded", "timed out", "kernel died", "tampered", "invalid notebook", "missing")


@dataclass
class Row:
    """One student's result for one assignment (a ``result.json``, or a missing marker)."""

    student: str
    assignment: str
    status: str
    reason: str = ""
    flags: list[str] = field(default_factory=list)
    scores: dict[str, list[float | None]] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    total: float = 0.0
    max_total: float = 0.0

    @classmethod
    def from_result(cls, data: dict) -> Row:
        return cls(data["student"], data["assignment"], data["status"], data.get("reason", ""),
                   list(data.get("flags", [])),
                   {k: [None if v[0] is None else float(v[0]), float(v[1])]
                    for k, v in data.get("scores", {}).items()},
                   dict(data.get("messages", {})), float(data.get("total", 0.0)),
                   float(data.get("max_total", 0.0)))


def load_results(course) -> dict[tuple[str, str], Row]:
    """Every ``autograded/<student>/<assignment>/result.json``, keyed by (student, assignment)."""
    results = {}
    for path in sorted(Path(course.autograded_dir).glob("*/*/result.json")):
        data = json.loads(path.read_text())
        results[data["student"], data["assignment"]] = Row.from_result(data)
    return results


def _collected(course) -> dict[tuple[str, str], str]:
    """(student, assignment) for every submitted folder, with the reason when it is missing."""
    found = {}
    for folder in sorted(p for p in Path(course.submitted_dir).glob("*/*") if p.is_dir()):
        marker = folder / MARKER_NAME
        reason = "collected but not graded yet"
        if marker.exists():
            meta = json.loads(marker.read_text())
            if meta.get("status") == "missing":
                reason = meta.get("reason") or "no usable notebook"
        elif not (folder / f"{folder.name}.ipynb").exists():
            reason = "no notebook in the submitted folder"
        found[folder.parent.name, folder.name] = reason
    return found


def assignment_questions(course, assignment: str) -> list[tuple[str, float]]:
    """(grade_id, points) of every graded cell of the source notebook, in notebook order."""
    path = Path(course.source_notebook(assignment))
    if not path.exists():
        return []
    cells = json.loads(path.read_text()).get("cells", [])
    meta = [c.get("metadata", {}).get("nbgrader", {}) for c in cells]
    return [(m["grade_id"], float(m.get("points", 0))) for m in meta if m.get("grade")]


def grade_table(course, roster: str | os.PathLike | list[RosterEntry] | None = None,
                assignments: list[str] | None = None) -> tuple[list[str], dict[str, dict[str, Row]]]:
    """Results of every student for every assignment, missing ones filled in.

    Returns ``(assignments, table)`` with ``table[student][assignment]`` a :class:`Row`.
    Assignments default to those with a submission or a result, in name order.
    """
    if isinstance(roster, (str, os.PathLike)):
        roster = load_roster(roster)
    results, collected = load_results(course), _collected(course)
    names = sorted(assignments or {a for _, a in results} | {a for _, a in collected})
    students = sorted({s for s, _ in results} | {s for s, _ in collected}
                      | {r.student_id for r in roster or []})
    maxima = {a: sum(p for _, p in assignment_questions(course, a)) for a in names}
    for row in results.values():
        maxima[row.assignment] = maxima.get(row.assignment) or row.max_total
    table: dict[str, dict[str, Row]] = {}
    for student in students:
        table[student] = {}
        for a in names:
            row = results.get((student, a))
            if row is None:
                reason = collected.get((student, a), "no submission collected")
                row = Row(student, a, "missing", reason, max_total=maxima.get(a, 0.0))
            table[student][a] = row
    return names, table


def _num(x: float | None) -> str:
    # None is a cell that waits for manual grading: blank, not 0.
    return "" if x is None else f"{round(x, 4):g}"


def _question_ids(course, assignment: str, rows: list[Row]) -> list[str]:
    ids = [g for g, _ in assignment_questions(course, assignment)]
    for row in rows:  # ids the source does not know (renamed in a later release) still count
        ids += [g for g in row.scores if g not in ids]
    return ids


def export_grades(course, out: str | os.PathLike = "grades.csv",
                  roster: str | os.PathLike | list[RosterEntry] | None = None,
                  lms_out: str | os.PathLike | None = None,
                  assignments: list[str] | None = None) -> tuple[Path, Path]:
    """Write the detailed grade CSV and the LMS summary CSV; return both paths.

    Detailed columns: ``student_id`` then, per assignment, ``<assignment>:<grade_id>`` for every
    question, ``<assignment>:total``, ``:max``, ``:status``, ``:reason`` and ``:flags``. The
    summary (default ``<out stem>_lms.csv``) has ``student_id`` (plus ``lms_id`` and ``name``
    when the roster has them) and one total column per assignment.
    """
    if isinstance(roster, (str, os.PathLike)):
        roster = load_roster(roster)
    names, table = grade_table(course, roster, assignments)
    out = Path(out)
    lms_out = Path(lms_out) if lms_out else out.with_name(f"{out.stem}_lms{out.suffix or '.csv'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    qids = {a: _question_ids(course, a, [table[s][a] for s in table]) for a in names}
    header = ["student_id"]
    for a in names:
        header += [f"{a}:{q}" for q in qids[a]]
        header += [f"{a}:{c}" for c in ("total", "max", "status", "reason", "flags")]
    with open(out, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for student, rows in table.items():
            line = [student]
            for a in names:
                row = rows[a]
                line += [_num(row.scores[q][0]) if q in row.scores else "" for q in qids[a]]
                line += [_num(row.total), _num(row.max_total), row.status, row.reason,
                         "; ".join(row.flags)]
            writer.writerow(line)
    info = {r.student_id: r for r in roster or []}
    extra = [c for c in ("lms_id", "name") if any(getattr(r, c) for r in info.values())]
    with open(lms_out, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student_id", *extra, *names])
        for student, rows in table.items():
            ids = [getattr(info[student], c) if student in info else "" for c in extra]
            writer.writerow([student, *ids, *(_num(rows[a].total) for a in names)])
    return out, lms_out


def format_table(names: list[str], table: dict[str, dict[str, Row]]) -> str:
    """A plain-text grade table: one line per student, ``total/max status`` per assignment."""
    cells = {s: [f"{_num(r.total)}/{_num(r.max_total)} {r.status}" for r in rows.values()]
             for s, rows in table.items()}
    width = [max([len(a), *(len(c[i]) for c in cells.values())]) for i, a in enumerate(names)]
    first = max([len("student"), *(len(s) for s in table)])
    lines = ["  ".join(["student".ljust(first), *(a.ljust(w) for a, w in zip(names, width))])]
    lines += ["  ".join([s.ljust(first), *(c.ljust(w) for c, w in zip(cells[s], width))])
              for s in table]
    return "\n".join(line.rstrip() for line in lines)
