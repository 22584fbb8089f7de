"""Generate the student notebooks (`notebooks/`) from the source notebooks (`solutions/`).

``notebooks/`` is never edited by hand: :func:`release` runs nbgrader's ``generate_assignment``
in a throw-away course directory, with an explicit configuration (nothing from the user's own
Jupyter config leaks in), then writes each student notebook back with its outputs cleared.
The result depends only on the source notebooks, so a regeneration is byte-for-byte identical
and a test can prove that ``notebooks/`` is in sync. :func:`check_no_leaks` confirms that no
solution or hidden test reached a student notebook.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

__all__ = ["check_no_leaks", "find_assignments", "release"]

_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
_REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.DOTALL)
# Lines shorter than this (``return out``, ``pass``) may appear anywhere; longer ones from a
# solution or hidden-test region must not appear in a student notebook.
_MIN_LEAK_CHARS = 20

# Runs in a fresh interpreter (nbgrader's apps keep global state): generates every assignment
# named in argv[2:] of the course in argv[1], with an explicit configuration and no gradebook.
_DRIVER = """
import sys
from traitlets.config import Config
from nbgrader.apps import NbGraderAPI

root, names = sys.argv[1], sys.argv[2:]
config = Config()
config.CourseDirectory.root = root
config.CourseDirectory.course_id = "cnncourse"
config.CourseDirectory.source_directory = "source"
config.CourseDirectory.release_directory = "release"
config.GenerateAssignment.no_database = True
config.SaveCells.enabled = False
config.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}
config.IncludeHeaderFooter.header = ""
config.IncludeHeaderFooter.footer = ""
api = NbGraderAPI(config=config)
for name in names:
    result = api.generate_assignment(name, force=True, create=False)
    if not result["success"]:
        sys.exit(f"generate_assignment {name} failed:\\n{result.get('error', '')}\\n"
                 f"{result.get('log', '')}")
"""


def find_assignments(solutions_dir: str | Path = "solutions") -> list[str]:
    """Names of the folders of `solutions_dir` that hold ``<name>/<name>.ipynb``, sorted."""
    root = Path(solutions_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / f"{p.name}.ipynb").is_file())


def _nbgrader_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    # An empty Jupyter config dir: the user's ~/.jupyter/nbgrader_config.py must not apply.
    env["JUPYTER_CONFIG_DIR"] = str(tmp / "jupyter_config")
    env.pop("JUPYTER_PATH", None)
    return env


def _generate(course: Path, names: list[str]) -> None:
    (course / "jupyter_config").mkdir()
    cmd = [sys.executable, "-c", _DRIVER, str(course), *names]
    done = subprocess.run(cmd, cwd=course, env=_nbgrader_env(course), capture_output=True,
                          text=True, check=False)
    missing = [n for n in names if not (course / "release" / n / f"{n}.ipynb").is_file()]
    if done.returncode != 0 or missing:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
        raise RuntimeError(f"nbgrader generate_assignment failed (exit {done.returncode}):\n{tail}")


def _clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in ("execution", "collapsed", "scrolled", "ExecuteTime"):
            cell.metadata.pop(key, None)
    return nb


def release(solutions_dir: str | Path = "solutions", notebooks_dir: str | Path = "notebooks",
            assignments: list[str] | None = None) -> list[Path]:
    """Regenerate the student notebooks of `assignments` (default: every assignment).

    Parameters
    ----------
    solutions_dir : path-like
        Source notebooks, ``<solutions_dir>/<name>/<name>.ipynb`` (nbgrader source format).
    notebooks_dir : path-like
        Where the student versions go: ``<notebooks_dir>/<name>/<name>.ipynb``.
    assignments : list of str, optional
        Names to release; unknown names raise ``ValueError``.

    Returns
    -------
    list of Path
        The student notebooks written.

    Raises
    ------
    RuntimeError
        If nbgrader fails, or a released notebook still contains a solution or a hidden test.
    """
    solutions_dir, notebooks_dir = Path(solutions_dir).resolve(), Path(notebooks_dir).resolve()
    available = find_assignments(solutions_dir)
    names = list(available if assignments is None else assignments)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(f"no source notebook for {', '.join(unknown)} in {solutions_dir} "
                         f"(available: {', '.join(available) or 'none'})")
    written = []
    with tempfile.TemporaryDirectory(prefix="cnncourse-release-") as tmp:
        course = Path(tmp)
        for name in names:
            shutil.copytree(solutions_dir / name, course / "source" / name,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        _generate(course, names)
        for name in names:
            released = course / "release" / name / f"{name}.ipynb"
            target_dir = notebooks_dir / name
            target_dir.mkdir(parents=True, exist_ok=True)
            for extra in sorted(released.parent.iterdir()):
                if extra != released and extra.is_file():
                    shutil.copyfile(extra, target_dir / extra.name)
            target = target_dir / f"{name}.ipynb"
            nbformat.write(_clean(nbformat.read(released, as_version=4)), target)
            written.append(target)
    problems = check_no_leaks(notebooks_dir, solutions_dir, assignments=names)
    if problems:
        raise RuntimeError("released notebooks leak solutions or hidden tests:\n  "
                           + "\n  ".join(problems))
    return written


def _secret_lines(source_nb: Path) -> set[str]:
    """Long lines of the solution and hidden-test regions of a source notebook."""
    secrets = set()
    for cell in nbformat.read(source_nb, as_version=4).cells:
        for match in _REGION.finditer(cell.source + "\n"):
            for line in match.group(2).splitlines():
                text = line.strip()
                if len(text) >= _MIN_LEAK_CHARS and not text.startswith("#"):
                    secrets.add(text)
    return secrets


def check_no_leaks(notebooks_dir: str | Path = "notebooks",
                   solutions_dir: str | Path | None = "solutions",
                   assignments: list[str] | None = None) -> list[str]:
    """Problems found in the student notebooks; an empty list means they are clean.

    Looks for nbgrader markers, outputs or execution counts, and (when `solutions_dir` holds the
    sources) any long line of a solution or hidden-test region of the source notebook.
    """
    notebooks_dir = Path(notebooks_dir)
    solutions = Path(solutions_dir) if solutions_dir is not None else None
    names = assignments if assignments is not None else find_assignments(notebooks_dir)
    problems = []
    for name in names:
        path = notebooks_dir / name / f"{name}.ipynb"
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        source = solutions / name / f"{name}.ipynb" if solutions is not None else None
        secrets = _secret_lines(source) if source is not None and source.is_file() else set()
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            where = f"{path.name} cell {i}"
            problems += [f"{where}: contains {m!r}" for m in _MARKERS if m in cell.source]
            if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
                problems.append(f"{where}: has outputs or an execution count")
            lines = {line.strip() for line in cell.source.splitlines()}
            problems += [f"{where}: leaks {s!r}" for s in sorted(secrets & lines)]
    return problems
