"""Does `collect` put every LMS download where nbgrader expects it, and say what it could not?"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from cnncourse.grading.collect import MARKER_NAME, RosterEntry, choose_notebook, collect

A = "01_convolution"


def _nb(tag: str) -> bytes:
    # Distinct contents per file, so a test can tell which upload was copied.
    return json.dumps({"cells": [], "metadata": {"tag": tag}, "nbformat": 4,
                       "nbformat_minor": 5}).encode()


def _tree_hashes(root: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                       p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def _submitted(course: Path, student: str) -> Path:
    return course / "submitted" / student / A


CANVAS = {
    "doejane_101_9001_01_convolution.ipynb": "jane",
    "smithjohn_LATE_102_9002_01_Convolution (2).ipynb": "john",
    "leeann_103_9003_01_convolution.ipynb": "ann-0",
    "leeann_103_9003_01_convolution-2.ipynb": "ann-2",
    "leeann_103_9003_01_convolution-1.ipynb": "ann-1",
    "kimbo_104_9004_scratch.ipynb": "bo-a",
    "kimbo_104_9004_other.ipynb": "bo-b",
    "parkjo_105_9005_report.pdf": "pdf",
    "oddone_106_9006_my notebook.ipynb": "odd",
    "wrongname.ipynb": "stray",
}


@pytest.fixture
def canvas_zip(tmp_path):
    path = tmp_path / "submissions.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, tag in CANVAS.items():
            zf.writestr(name, _nb(tag))
    return path


def test_canvas_zip_is_copied_normalised_and_left_unchanged(tmp_path, canvas_zip):
    before = hashlib.sha256(canvas_zip.read_bytes()).hexdigest()
    course = tmp_path / "course"
    report = collect(canvas_zip, A, course)
    assert hashlib.sha256(canvas_zip.read_bytes()).hexdigest() == before
    assert {s.student for s in report.collected} == {"doejane", "smithjohn", "leeann", "oddone"}
    for student, tag in [("doejane", "jane"), ("smithjohn", "john"), ("leeann", "ann-2"),
                         ("oddone", "odd")]:
        notebook = _submitted(course, student) / f"{A}.ipynb"
        assert notebook.read_bytes() == _nb(tag), student
        assert (_submitted(course, student) / "timestamp.txt").exists()
    meta = json.loads((_submitted(course, "smithjohn") / MARKER_NAME).read_text())
    assert meta["original"] == "smithjohn_LATE_102_9002_01_Convolution (2).ipynb"
    assert meta["late"] is True and meta["lms"] == "canvas" and meta["lms_id"] == "102"
    assert meta["sha256"] == hashlib.sha256(_nb("john")).hexdigest()


def test_canvas_resubmission_choice_is_reported(tmp_path, canvas_zip):
    report = collect(canvas_zip, A, tmp_path / "course")
    ann = next(s for s in report.submissions if s.student == "leeann")
    assert ann.original.endswith("01_convolution-2.ipynb")
    assert any("latest resubmission" in n for n in ann.notes)
    assert "latest resubmission" in report.summary()


def test_unusable_submissions_are_listed_and_marked_missing(tmp_path, canvas_zip):
    course = tmp_path / "course"
    report = collect(canvas_zip, A, course)
    missing = {s.student: s.reason for s in report.missing}
    assert set(missing) == {"kimbo", "parkjo"}
    assert "scratch.ipynb" in missing["kimbo"] and "other.ipynb" in missing["kimbo"]
    assert "report.pdf" in missing["parkjo"]
    for student in missing:
        assert not (_submitted(course, student) / f"{A}.ipynb").exists()
        assert json.loads((_submitted(course, student) / MARKER_NAME).read_text())[
            "status"] == "missing"
    assert len(report.unmatched) == 1 and "wrongname.ipynb" in report.unmatched[0]
    text = report.summary()
    assert "MISSING kimbo" in text and "UNMATCHED wrongname.ipynb" in text


def test_moodle_folder_nested_file_and_source_untouched(tmp_path):
    src = tmp_path / "moodle"
    files = {
        "Jane Doe_201_assignsubmission_file_/01_convolution.ipynb": "jane",
        "John Smith_202_assignsubmission_file_/work/Convolution-1.ipynb": "john-1",
        "John Smith_202_assignsubmission_file_/work/Convolution.ipynb": "john-0",
        "Ann Lee_203_assignsubmission_onlinetext_/onlinetext.html": "html",
    }
    for name, tag in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(_nb(tag))
    before = _tree_hashes(src)
    course = tmp_path / "course"
    report = collect(src, A, course)
    assert _tree_hashes(src) == before
    assert (_submitted(course, "jane_doe") / f"{A}.ipynb").read_bytes() == _nb("jane")
    assert (_submitted(course, "john_smith") / f"{A}.ipynb").read_bytes() == _nb("john-1")
    john = next(s for s in report.submissions if s.student == "john_smith")
    assert john.lms == "moodle" and john.lms_id == "202"
    assert any("renamed Convolution-1.ipynb" in n for n in john.notes)
    assert [s.student for s in report.missing] == ["ann_lee"]


def test_plain_student_folders_and_zip_wrapping_one_folder(tmp_path):
    plain = tmp_path / "plain"
    (plain / "alice").mkdir(parents=True)
    (plain / "alice" / "whatever I called it.ipynb").write_bytes(_nb("alice"))
    (plain / "bob").mkdir()
    (plain / "bob" / "notes.txt").write_text("no notebook")
    report = collect(plain, A, tmp_path / "c1")
    assert [s.student for s in report.collected] == ["alice"]
    assert [s.student for s in report.missing] == ["bob"]

    wrapped = tmp_path / "wrapped.zip"
    with zipfile.ZipFile(wrapped, "w") as zf:
        zf.writestr("Download 2024/doejane_101_9001_01_convolution.ipynb", _nb("jane"))
        zf.writestr("__MACOSX/._doejane_101_9001_01_convolution.ipynb", b"junk")
    report = collect(wrapped, A, tmp_path / "c2")
    assert [s.student for s in report.collected] == ["doejane"] and not report.unmatched


def test_roster_maps_ids_and_names_and_lists_strangers(tmp_path, canvas_zip):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,canvas_id,name\n"
                      "s001,101,Jane Doe\ns002,,John Smith\ns003,999,Nobody Here\n")
    course = tmp_path / "course"
    report = collect(canvas_zip, A, course, roster=roster)
    assert (_submitted(course, "s001") / f"{A}.ipynb").read_bytes() == _nb("jane")
    assert (_submitted(course, "s002") / f"{A}.ipynb").read_bytes() == _nb("john")
    assert [s.student for s in report.missing] == ["s003"]
    assert "no submission" in report.missing[0].reason
    strangers = "\n".join(report.unmatched)
    for name in ("leeann", "kimbo", "parkjo", "oddone", "wrongname"):
        assert name in strangers
    assert not (course / "submitted" / "leeann").exists()


def test_recollecting_is_idempotent_and_never_erases(tmp_path, canvas_zip):
    course = tmp_path / "course"
    collect(canvas_zip, A, course)
    notebook = _submitted(course, "doejane") / f"{A}.ipynb"
    stamp = notebook.stat().st_mtime_ns
    collect(canvas_zip, A, course)
    assert notebook.stat().st_mtime_ns == stamp
    empty = tmp_path / "later"
    empty.mkdir()
    report = collect(empty, A, course,
                     roster=[RosterEntry("doejane", "101", "Jane Doe")])
    assert notebook.read_bytes() == _nb("jane")
    assert report.collected[0].student == "doejane"
    assert "kept the notebook collected earlier" in report.collected[0].notes[0]


@pytest.mark.parametrize("names, chosen", [
    (["01_convolution.ipynb"], "01_convolution.ipynb"),
    (["anything.ipynb"], "anything.ipynb"),
    (["01_convolution.ipynb", "01_convolution-1.ipynb", "01_convolution-10.ipynb",
      "01_convolution-9.ipynb"], "01_convolution-10.ipynb"),
    (["01_Convolution (2).ipynb", "01_Convolution.ipynb"], "01_Convolution (2).ipynb"),
    (["01 convolution.ipynb", "scratch.ipynb"], "01 convolution.ipynb"),
    (["a.ipynb", "b.ipynb"], None),
    ([], None),
])
def test_choose_notebook(names, chosen):
    got, notes, reason = choose_notebook(names, A)
    assert got == chosen
    assert bool(reason) == (chosen is None)
    if chosen is not None and chosen != f"{A}.ipynb":  # the notes say which file was taken
        assert any(chosen in n for n in notes)


def test_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        collect(tmp_path / "nope.zip", A, tmp_path / "course")
    bad = tmp_path / "grades.txt"
    bad.write_text("not a zip")
    with pytest.raises(ValueError, match="folder or a .zip"):
        collect(bad, A, tmp_path / "course")


def test_a_canvas_zip_and_a_moodle_folder_are_one_download(tmp_path, canvas_zip):
    moodle = tmp_path / "moodle"
    folder = moodle / "Mo Dell_301_assignsubmission_file_"
    folder.mkdir(parents=True)
    (folder / "01_convolution.ipynb").write_bytes(_nb("mo"))
    roster = [RosterEntry("s1", "101", "Jane Doe"), RosterEntry("s3", "301", "Mo Dell"),
              RosterEntry("s4", "", "Absent Person")]
    course = tmp_path / "course"
    report = collect([canvas_zip, moodle], A, course, roster=roster)
    assert sorted(s.student for s in report.collected) == ["s1", "s3"]
    assert [s.student for s in report.missing] == ["s4"]
    assert "submissions.zip, moodle" in report.missing[0].reason
    meta = json.loads((_submitted(course, "s3") / MARKER_NAME).read_text())
    assert meta["source"] == str(moodle) and meta["lms"] == "moodle"
    assert any(u.startswith("submissions.zip: leeann") for u in report.unmatched)


def test_upload_time_is_kept_in_nbgrader_format(tmp_path):
    from datetime import datetime

    from nbgrader.utils import parse_utc

    source = tmp_path / "dl.zip"
    with zipfile.ZipFile(source, "w") as zf:
        zf.writestr(zipfile.ZipInfo("doejane_101_9001_01_convolution.ipynb",
                                    (2024, 1, 2, 3, 4, 6)), _nb("jane"))
    course = tmp_path / "course"
    collect(source, A, course)
    folder = _submitted(course, "doejane")
    uploaded = datetime(2024, 1, 2, 3, 4, 6).astimezone()  # zip times are local times
    assert parse_utc((folder / "timestamp.txt").read_text()) == parse_utc(uploaded)
    meta = json.loads((folder / MARKER_NAME).read_text())
    assert datetime.fromisoformat(meta["timestamp"]) == uploaded
