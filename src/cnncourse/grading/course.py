"""Where the course's grading state lives, and the nbgrader gradebook's view of the assignments.

Layout (the instructor's side; everything but ``nbgrader_config.py`` is runtime state)::

    <root>/nbgrader_config.py
    <root>/gradebook.db
    <root>/submitted/<student>/<assignment>/<assignment>.ipynb
    <root>/autograded/<student>/<assignment>/<assignment>.ipynb  (+ result.json)
    <root>/feedback/<student>/<assignment>/...
    <repo>/solutions/<assignment>/<assignment>.ipynb   (nbgrader source notebooks)
    <repo>/notebooks/<assignment>/<assignment>.ipynb   (released student notebooks)
"""

from __future__ import annotations

import copy
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

__all__ = ["COURSE_ID", "Course", "Submission", "reference_versions", "tools_on_path"]

COURSE_ID = "cnncourse"
_PACKAGE_REPO = Path(__file__).resolve().parents[3]


def _repo_root() -> Path:
    # An editable install sits in the repository; otherwise the repository is where we run.
    if (_PACKAGE_REPO / "pyproject.toml").exists():
        return _PACKAGE_REPO
    return Path.cwd()


def tools_on_path() -> None:
    """Put this interpreter's ``bin/`` on ``PATH`` (idempotent).

    nbgrader creates a new gradebook by running the ``alembic`` executable found on ``PATH``;
    with ``.venv/bin/python -m ...`` and no activated venv it is not there, and every new
    gradebook fails with ``FileNotFoundError: 'alembic'``.
    """
    bin_dir = os.path.dirname(sys.executable)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if bin_dir not in parts:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *filter(None, parts)])


class Submission(NamedTuple):
    """One collected submission: ``<root>/submitted/<student>/<assignment>/``."""

    student: str
    assignment: str
    path: Path


@dataclass
class Course:
    """The instructor's course directory.

    Parameters
    ----------
    root : path-like
        The nbgrader course directory (relative paths are taken from the working directory).
    source_dir : path-like, optional
        nbgrader source notebooks, one folder per assignment (default: the repository's
        ``solutions/``).
    release_dir : path-like, optional
        Released student notebooks (default: the repository's ``notebooks/``).
    db_url : str, optional
        The nbgrader gradebook (default: ``sqlite:///<root>/gradebook.db``).
    course_id : str
        nbgrader's course id (also the exchange's folder name).
    """

    root: Path = Path("autograder")
    source_dir: Path | None = None
    release_dir: Path | None = None
    db_url: str | None = None
    course_id: str = COURSE_ID
    _ready: set = field(default_factory=set, init=False, repr=False, compare=False)

    def __post_init__(self):
        self.root = Path(self.root).resolve()
        self.source_dir = Path(self.source_dir or _repo_root() / "solutions").resolve()
        self.release_dir = Path(self.release_dir or _repo_root() / "notebooks").resolve()
        self.db_url = self.db_url or f"sqlite:///{self.root / 'gradebook.db'}"
        tools_on_path()

    def __getstate__(self):
        # Worker processes get the paths, not what this process already checked.
        state = dict(self.__dict__)
        state["_ready"] = set()
        return state

    # -- paths -------------------------------------------------------------------------------
    @property
    def submitted_dir(self) -> Path:
        return self.root / "submitted"

    @property
    def autograded_dir(self) -> Path:
        return self.root / "autograded"

    @property
    def feedback_dir(self) -> Path:
        return self.root / "feedback"

    def source_notebook(self, assignment: str) -> Path:
        """The nbgrader source notebook of ``assignment``."""
        return self.source_dir / assignment / f"{assignment}.ipynb"

    def release_notebook(self, assignment: str) -> Path:
        """The released (student) notebook of ``assignment``."""
        return self.release_dir / assignment / f"{assignment}.ipynb"

    def submission_dir(self, student: str, assignment: str) -> Path:
        return self.submitted_dir / student / assignment

    def autograded_path(self, student: str, assignment: str) -> Path:
        """Folder of the autograded notebook and its ``result.json``."""
        return self.autograded_dir / student / assignment

    def result_path(self, student: str, assignment: str) -> Path:
        return self.autograded_path(student, assignment) / "result.json"

    def feedback_path(self, student: str, assignment: str) -> Path:
        return self.feedback_dir / student / assignment

    def execute_timeout(self, default: float = 60.0) -> float:
        """Seconds per cell: ``Execute.timeout`` of ``<root>/nbgrader_config.py``, or ``default``."""
        if not (self.root / "nbgrader_config.py").exists():
            return default
        from traitlets.config.loader import PyFileConfigLoader

        config = PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()
        timeout = config.Execute.get("timeout", default)
        return float(timeout) if timeout is not None else default

    # -- listings ----------------------------------------------------------------------------
    def assignments(self) -> list[str]:
        """Names of the assignments that have a source notebook, sorted."""
        if not self.source_dir.is_dir():
            return []
        return sorted(p.name for p in self.source_dir.iterdir()
                      if p.is_dir() and self.source_notebook(p.name).exists())

    def submissions(self, assignment: str | None = None) -> list[Submission]:
        """Every collected submission (of ``assignment`` only, when given), sorted."""
        known = set(self.assignments())
        if assignment is not None and assignment not in known:
            raise ValueError(f"assignment: expected one of {sorted(known)}, got {assignment!r}")
        found = []
        if self.submitted_dir.is_dir():
            for student_dir in sorted(self.submitted_dir.iterdir()):
                if not student_dir.is_dir() or student_dir.name.startswith("."):
                    continue
                for folder in sorted(student_dir.iterdir()):
                    if folder.is_dir() and folder.name in known and assignment in (None, folder.name):
                        found.append(Submission(student_dir.name, folder.name, folder))
        return found

    def students(self) -> list[str]:
        """Students with at least one collected submission."""
        return sorted({s.student for s in self.submissions()})

    # -- nbgrader ----------------------------------------------------------------------------
    def nbgrader_config(self, **course_directory):
        """A traitlets ``Config`` that points nbgrader's apps at this course.

        Keyword arguments override ``CourseDirectory`` options (e.g. ``release_directory``).
        """
        from traitlets.config import Config

        config = Config()
        config.CourseDirectory.root = str(self.root)
        config.CourseDirectory.source_directory = str(self.source_dir)
        config.CourseDirectory.release_directory = str(self.release_dir)
        config.CourseDirectory.db_url = self.db_url
        config.CourseDirectory.course_id = self.course_id
        for key, value in course_directory.items():
            setattr(config.CourseDirectory, key, value)
        return config

    def ensure_gradebook(self, assignments: list[str] | None = None) -> list[str]:
        """Register assignments, notebooks and grade cells in the nbgrader gradebook.

        Runs nbgrader's own ``generate_assignment`` (its database step; the student version
        it writes goes to a temporary folder) for every assignment whose cells in the gradebook
        differ from its source notebook, so the formgrader and ``nbgrader export`` know them.

        Returns
        -------
        list of str
            The assignments that were (re-)registered.
        """
        from nbgrader.api import Gradebook

        names = self.assignments() if assignments is None else list(assignments)
        todo = [a for a in names if a not in self._ready]
        if not todo:
            return []
        self.root.mkdir(parents=True, exist_ok=True)
        _stamp_new_gradebook(self.db_url)
        with Gradebook(self.db_url, self.course_id) as gb:
            stale = [a for a in todo if not _gradebook_matches(gb, a, self.source_notebook(a))]
        for name in stale:
            self._generate_assignment(name)
        self._ready.update(todo)
        return stale

    def _generate_assignment(self, assignment: str) -> None:
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        with tempfile.TemporaryDirectory(prefix="cnncourse-gradebook-") as tmp:
            config = self.nbgrader_config(root=tmp, release_directory=os.path.join(tmp, "release"))
            api = NbGraderAPI(CourseDirectory(config=config), config=config)
            outcome = api.generate_assignment(assignment, force=True, create=True)
        if not outcome["success"]:
            raise RuntimeError(f"nbgrader could not register assignment {assignment!r} in the "
                               f"gradebook {self.db_url}:\n{outcome.get('error') or outcome.get('log')}")


def reference_versions(source_nb):
    """The instructor and student versions of a source notebook, as nbgrader makes them.

    Parameters
    ----------
    source_nb : nbformat.NotebookNode
        The nbgrader source notebook (solutions and hidden tests in place).

    Returns
    -------
    instructor : nbformat.NotebookNode
        Solutions replaced by stubs, hidden tests kept, checksums computed: the cells exactly
        as ``nbgrader generate_assignment`` stores them in its gradebook.
    student : nbformat.NotebookNode
        The same with hidden tests removed and checksums recomputed: the released notebook.
    """
    from nbgrader.preprocessors import (
        ClearHiddenTests,
        ClearMarkScheme,
        ClearOutput,
        ClearSolutions,
        ComputeChecksums,
        LockCells,
    )

    nb = copy.deepcopy(source_nb)
    resources: dict = {}
    for preprocessor in (LockCells(), ClearSolutions(), ClearOutput(), ComputeChecksums()):
        nb, resources = preprocessor.preprocess(nb, resources)
    instructor = copy.deepcopy(nb)
    for preprocessor in (ClearHiddenTests(), ClearMarkScheme(), ComputeChecksums()):
        nb, resources = preprocessor.preprocess(nb, resources)
    return instructor, nb


def _stamp_new_gradebook(db_url: str) -> None:
    """Give a new sqlite gradebook nbgrader's schema version, computed in this process.

    nbgrader stamps a new gradebook by running ``alembic heads`` in a subprocess (seconds, and
    it needs ``alembic`` on PATH); alembic's own API reads the same migration scripts at once.
    With the version table present, nbgrader's Gradebook just creates its tables.
    """
    if not db_url.startswith("sqlite:///"):
        return
    path = Path(db_url[len("sqlite:///"):])
    if path.exists() and path.stat().st_size > 0:
        return
    import sqlite3

    import nbgrader
    from alembic.script import ScriptDirectory

    try:
        head = ScriptDirectory(os.path.join(os.path.dirname(nbgrader.__file__), "alembic")).get_current_head()
    except Exception:  # noqa: BLE001 - leave it to nbgrader's own way
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        db.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (head,))
    db.close()


def _gradebook_matches(gb, assignment: str, source_path: Path) -> bool:
    """Do the gradebook's cells of ``assignment`` have the source notebook's checksums?"""
    import nbformat
    from nbgrader import utils as nbutils
    from nbgrader.api import MissingEntry

    try:
        notebook = gb.find_notebook(source_path.stem, assignment)
    except MissingEntry:
        return False
    instructor, _ = reference_versions(nbformat.read(source_path, as_version=4))
    wanted = {c.metadata.nbgrader["grade_id"]: (c.metadata.nbgrader.get("checksum"),
                                               float(c.metadata.nbgrader.get("points", 0)))
              for c in instructor.cells
              if nbutils.is_grade(c) or nbutils.is_solution(c) or nbutils.is_locked(c)}
    stored = {c.name: c.checksum for c in notebook.source_cells}
    points = {c.name: float(c.max_score) for c in notebook.grade_cells}
    return (stored == {k: v[0] for k, v in wanted.items()}
            and all(points.get(k, v[1]) == v[1] for k, v in wanted.items()))
