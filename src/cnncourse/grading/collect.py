"""Collect an LMS download (Canvas zip, Moodle folders, plain folders) into nbgrader's layout.

Every student ends up with ``<course>/submitted/<student>/<assignment>/`` holding
``<assignment>.ipynb`` (a byte-for-byte copy of what they uploaded, whatever it was called),
``timestamp.txt`` (nbgrader's own file) and ``collect.json`` (where the copy came from). A
student with no usable notebook gets ``collect.json`` alone, with ``"status": "missing"``, so
grading and the export report them as missing instead of forgetting them. The source is
read-only input: it is never extracted, moved or modified.

Recognised names (the first path component below the source, or the file name for flat files):

* Canvas: ``lastfirst_12345_67890_<file>`` and ``lastfirst_LATE_12345_67890_<file>``
  (user id, submission id); a re-upload of the same file name becomes ``<name>-1.ipynb``.
* Moodle: folders ``Full Name_12345_assignsubmission_file_/<file>``.
* Anything else: ``<student>/<any path>.ipynb``.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "MARKER_NAME",
    "CollectReport",
    "CollectedSubmission",
    "RosterEntry",
    "choose_notebook",
    "collect",
    "load_roster",
]

MARKER_NAME = "collect.json"

_CANVAS = re.compile(
    r"^(?P<name>[A-Za-z0-9]+)(?P<late>_LATE)?_(?P<lms_id>\d+)_(?P<sub_id>\d+)_(?P<file>.+)$")
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<lms_id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?$")
# "(2)" is what browsers append to a second download, "-1" what Canvas appends to a re-upload.
_VERSION = re.compile(r"^(?P<base>.*?)(?:\s*\((?P<copy>\d+)\)|-(?P<resub>\d+))$")
_JUNK = {"__MACOSX", ".ipynb_checkpoints", ".DS_Store", "Thumbs.db"}


@dataclass(frozen=True)
class RosterEntry:
    """One roster row: the course's student id and what the LMS calls the student."""

    student_id: str
    lms_id: str = ""
    name: str = ""


@dataclass
class CollectedSubmission:
    """What happened to one student: ``status`` is "collected" or "missing"."""

    student: str
    status: str
    source: str = ""
    original: str = ""
    timestamp: str = ""
    lms: str = ""
    lms_id: str = ""
    late: bool = False
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    path: str = ""


@dataclass
class CollectReport:
    """Everything ``collect`` did, including what it could not place."""

    assignment: str
    source: str
    submissions: list[CollectedSubmission] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    @property
    def collected(self) -> list[CollectedSubmission]:
        return [s for s in self.submissions if s.status == "collected"]

    @property
    def missing(self) -> list[CollectedSubmission]:
        return [s for s in self.submissions if s.status == "missing"]

    def summary(self) -> str:
        """A human-readable account, one line per thing the instructor should know about."""
        lines = [(f"collected {len(self.collected)} submission(s) of {self.assignment} "
                 f"from {self.source}; {len(self.missing)} missing; "
                 f"{len(self.unmatched)} unmatched file(s)")]
        for sub in self.submissions:
            if sub.status == "missing":
                lines.append(f"  MISSING {sub.student}: {sub.reason}")
            for note in sub.notes:
                lines.append(f"  note {sub.student}: {note}")
        lines += [f"  UNMATCHED {item}" for item in self.unmatched]
        return "\n".join(lines)


@dataclass
class _Entry:
    parts: tuple[str, ...]
    timestamp: datetime
    read: Callable[[], bytes]
    source: Path = Path()

    @property
    def display(self) -> str:
        return "/".join(self.parts)


@dataclass
class _Owner:
    """Who an entry belongs to, as far as the LMS naming tells."""

    key: str
    lms: str
    lms_id: str = ""
    name: str = ""
    late: bool = False


def load_roster(path: str | os.PathLike) -> list[RosterEntry]:
    """Read a roster CSV with a ``student_id`` column and optional ``lms_id`` and ``name``.

    ``canvas_id``, ``moodle_id`` and ``user_id`` are accepted as spellings of ``lms_id``.
    """
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    if rows and "student_id" not in rows[0]:
        raise ValueError(f"roster {path} must have a 'student_id' column; "
                         f"it has {sorted(rows[0])}")
    aliases = ("lms_id", "canvas_id", "moodle_id", "user_id")
    roster = []
    for row in rows:
        lms_id = next((row[a].strip() for a in aliases if row.get(a)), "")
        roster.append(RosterEntry(row["student_id"].strip(), lms_id, (row.get("name") or "").strip()))
    return roster


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", text.strip()).strip("._")
    return slug or "unnamed"


def _name_keys(name: str) -> set[str]:
    # Canvas writes "lastfirst"; a roster usually says "First Last": accept both orders.
    words = re.findall(r"[A-Za-z0-9]+", name.lower())
    return {"".join(words), "".join(words[1:] + words[:1]), "".join(words[-1:] + words[:-1])}


def _stem(filename: str) -> tuple[str, int]:
    """Normalised base name of a notebook file and its re-upload number (0 for the original)."""
    stem = filename[: -len(".ipynb")] if filename.lower().endswith(".ipynb") else filename
    version = 0
    match = _VERSION.match(stem)
    if match and match.group("base"):
        stem = match.group("base")
        version = int(match.group("copy") or match.group("resub"))
    return re.sub(r"[\s\-]+", "_", stem.strip().lower()), version


def choose_notebook(names: list[str], assignment: str) -> tuple[str | None, list[str], str]:
    """Pick the notebook to grade among a student's ``.ipynb`` files.

    Returns ``(chosen, notes, reason)``: ``chosen`` is None when nothing can be graded, with
    ``reason`` saying why. Preference: files named like the assignment (ignoring case, spaces,
    hyphens, "(2)" and "-1" suffixes), the highest re-upload number among them; a single
    notebook is taken whatever its name; several differently named ones are ambiguous.
    """
    if not names:
        return None, [], "no notebook (.ipynb) in the submission"
    target = _stem(assignment + ".ipynb")[0]
    stems = {n: _stem(Path(n).name) for n in names}
    matching = [n for n in names if stems[n][0] == target]
    if not matching and len({stems[n][0] for n in names}) == 1:
        matching = list(names)  # re-uploads of one notebook that merely has another name
    if not matching:
        return None, [], f"several notebooks and none named {assignment}.ipynb: " + ", ".join(
            sorted(names))
    chosen = max(matching, key=lambda n: (stems[n][1], n))
    notes = []
    if len(matching) > 1:
        notes.append(f"took the latest resubmission {chosen} (of {', '.join(sorted(matching))})")
    others = sorted(set(names) - set(matching))
    if others:
        notes.append("ignored other notebook(s): " + ", ".join(others))
    if Path(chosen).name != f"{assignment}.ipynb" and (stems[chosen][0] != target
                                                       or len(matching) == 1):
        notes.append(f"renamed {Path(chosen).name} to {assignment}.ipynb")
    return chosen, notes, ""


def _zip_entries(archive: zipfile.ZipFile) -> list[_Entry]:
    def reader(info: zipfile.ZipInfo) -> Callable[[], bytes]:
        return lambda: archive.read(info)

    # Zip times are local wall-clock times without a zone: read them as this machine's.
    return [_Entry(tuple(p for p in info.filename.split("/") if p),
                   datetime(*info.date_time).astimezone(), reader(info))
            for info in archive.infolist() if not info.is_dir()]


def _folder_entries(path: Path) -> list[_Entry]:
    return [_Entry(f.relative_to(path).parts,
                   datetime.fromtimestamp(f.stat().st_mtime).astimezone(), f.read_bytes)
            for f in sorted(path.rglob("*")) if f.is_file()]


def _entries(source: Path, stack: contextlib.ExitStack) -> list[_Entry]:
    if source.is_dir():
        entries = _folder_entries(source)
    elif zipfile.is_zipfile(source):
        entries = _zip_entries(stack.enter_context(zipfile.ZipFile(source)))
    elif source.exists():
        raise ValueError(f"source must be a folder or a .zip file; got {source}")
    else:
        raise FileNotFoundError(f"source {source} does not exist")
    entries = [e for e in entries
               if e.parts and not any(p in _JUNK or p.startswith("._") for p in e.parts)]
    # A zip of the download folder wraps everything in one folder: look inside it.
    tops = {e.parts[0] for e in entries}
    if len(tops) == 1 and all(len(e.parts) >= 2 for e in entries) and any(
            _CANVAS.match(e.parts[1]) or (len(e.parts) > 2 and _MOODLE.match(e.parts[1]))
            for e in entries):
        entries = [_Entry(e.parts[1:], e.timestamp, e.read) for e in entries]
    for entry in entries:
        entry.source = source
    return entries


def _owner(entry: _Entry) -> tuple[_Owner | None, str]:
    """The owner of an entry and the file's name within the submission."""
    if len(entry.parts) == 1:
        match = _CANVAS.match(entry.parts[0])
        if not match:
            return None, entry.parts[0]
        return _Owner(match["name"], "canvas", match["lms_id"], match["name"],
                      bool(match["late"])), match["file"]
    top, rest = entry.parts[0], "/".join(entry.parts[1:])
    match = _MOODLE.match(top)
    if match:
        return _Owner(_slug(match["name"]).lower(), "moodle", match["lms_id"], match["name"]), rest
    return _Owner(top, "folder", "", top), rest


class _Resolver:
    """Maps LMS owners to course student ids, through the roster when there is one."""

    def __init__(self, roster: list[RosterEntry] | None):
        self.roster = roster
        self.by_lms = {r.lms_id: r.student_id for r in roster or [] if r.lms_id}
        self.by_id = {r.student_id: r.student_id for r in roster or []}
        by_name: dict[str, set[str]] = {}
        for r in roster or []:
            for key in _name_keys(r.name) if r.name else ():
                by_name.setdefault(key, set()).add(r.student_id)
        self.by_name = {k: next(iter(v)) for k, v in by_name.items() if len(v) == 1}

    def student(self, owner: _Owner) -> str | None:
        if self.roster is None:
            return _slug(owner.key)
        if owner.lms_id and owner.lms_id in self.by_lms:
            return self.by_lms[owner.lms_id]
        if owner.key in self.by_id:
            return owner.key
        return next((self.by_name[k] for k in _name_keys(owner.name) if k in self.by_name), None)


def _group(entries: list[_Entry], resolver: _Resolver, unmatched: list[str], prefix: bool):
    """Entries per student id: {student: (owner, [(name_in_submission, entry)])}."""
    groups: dict[str, tuple[_Owner, list[tuple[str, _Entry]]]] = {}
    lms_ids: dict[str, str] = {}
    for entry in entries:
        owner, name = _owner(entry)
        where = f"{entry.source.name}: {entry.display}" if prefix else entry.display
        if owner is None:
            unmatched.append(f"{where}: not named like an LMS submission "
                             "(lastfirst_<id>_<id>_file) and not inside a student folder")
            continue
        student = resolver.student(owner)
        if student is None:
            unmatched.append(f"{where}: {owner.lms} student {owner.name!r} "
                             f"(id {owner.lms_id or '-'}) is not on the roster")
            continue
        # Two different LMS users with the same name must not share a folder.
        if owner.lms_id and lms_ids.setdefault(student, owner.lms_id) != owner.lms_id:
            student = f"{student}_{owner.lms_id}"
        group = groups.setdefault(student, (owner, []))
        group[0].late |= owner.late
        group[1].append((name, entry))
    return groups


def _write_if_changed(path: Path, data: bytes, timestamp: datetime | None = None) -> bool:
    if path.exists() and path.read_bytes() == data:
        return False
    path.write_bytes(data)
    if timestamp is not None:
        os.utime(path, (timestamp.timestamp(), timestamp.timestamp()))
    return True


def _record(dest: Path, sub: CollectedSubmission, assignment: str, source: str,
            data: bytes | None, timestamp: datetime | None) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    notebook = dest / f"{assignment}.ipynb"
    if data is None and notebook.exists():
        # A later, partial download must not erase a notebook collected earlier.
        sub.status, sub.reason = "collected", ""
        sub.notes.append(f"nothing usable in {source}; kept the notebook collected earlier")
        sub.path = str(notebook)
        return
    if data is not None:
        if notebook.exists() and notebook.read_bytes() != data:
            sub.notes.append("replaced the notebook collected earlier")
        _write_if_changed(notebook, data, timestamp)
        sub.path = str(notebook)
        # nbgrader's own timestamp.txt format (it parses it for late penalties)
        stamp = timestamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC") \
            if timestamp else ""
        _write_if_changed(dest / "timestamp.txt", stamp.encode())
    meta = {"assignment": assignment, **asdict(sub),
            "sha256": hashlib.sha256(data).hexdigest() if data is not None else ""}
    _write_if_changed(dest / MARKER_NAME, (json.dumps(meta, indent=1) + "\n").encode())


def _submitted_dir(course) -> Path:
    if isinstance(course, (str, os.PathLike)):
        return Path(course) / "submitted"
    return Path(course.submitted_dir)


def collect(source: str | os.PathLike | list, assignment: str, course,
            roster: str | os.PathLike | list[RosterEntry] | None = None) -> CollectReport:
    """Copy every student's notebook for `assignment` from `source` into the course.

    Parameters
    ----------
    source : path or list of paths
        A folder (of per-student folders, Moodle folders or Canvas flat files) or a zip of one;
        several sources (a Canvas zip and a Moodle folder) are collected as one download.
    assignment : str
        The assignment name; notebooks are saved as ``<assignment>.ipynb``.
    course : Course or path
        The course (or its root folder); submissions go to its ``submitted/`` folder.
    roster : path or list of RosterEntry, optional
        Maps LMS ids and names to student ids. With a roster, files of students not on it are
        reported as unmatched and roster students without a submission are marked missing.

    Returns
    -------
    CollectReport
        Collected and missing students with notes, and every file that matched no student.
    """
    sources = [Path(s) for s in ([source] if isinstance(source, (str, os.PathLike))
                                 else source)]
    if isinstance(roster, (str, os.PathLike)):
        roster = load_roster(roster)
    names = ", ".join(s.name for s in sources)
    report = CollectReport(assignment, ", ".join(str(s) for s in sources))
    with contextlib.ExitStack() as stack:
        entries = [e for s in sources for e in _entries(s, stack)]
        groups = _group(entries, _Resolver(roster), report.unmatched,
                        prefix=len(sources) > 1)
        _copy_all(groups, roster, names, assignment, _submitted_dir(course), report)
    return report


def _copy_all(groups, roster, source: str, assignment: str, submitted: Path,
              report: CollectReport) -> None:
    for student in sorted(set(groups) | {r.student_id for r in roster or []}):
        owner, files = groups.get(student, (None, []))
        sub = CollectedSubmission(student, "missing")
        if owner is not None:
            sub.lms, sub.lms_id, sub.late = owner.lms, owner.lms_id, owner.late
        notebooks = {name: entry for name, entry in files if name.lower().endswith(".ipynb")}
        chosen, sub.notes, sub.reason = choose_notebook(sorted(notebooks), assignment)
        data = timestamp = None
        if owner is None:
            sub.reason = f"no submission in {source}"
        elif chosen is None and not notebooks and files:
            sub.reason += " (found: " + ", ".join(sorted(n for n, _ in files)) + ")"
        if chosen is not None:
            entry = notebooks[chosen]
            data, timestamp = entry.read(), entry.timestamp
            sub.status, sub.original, sub.timestamp = "collected", entry.display, \
                timestamp.isoformat()
            sub.source = str(entry.source)
        _record(submitted / student / assignment, sub, assignment, source, data, timestamp)
        report.submissions.append(sub)
