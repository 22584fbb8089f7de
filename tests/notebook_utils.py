"""Helpers for tests that execute and autograde the course notebooks with real nbgrader.

`execute` runs a notebook with nbclient; `GradedAssignment.build` makes a throw-away nbgrader
course for one assignment, generates the student version, submits several notebooks and
autogrades them all in ONE ``nbgrader autograde`` run. Its results are cached on disk for the
whole pytest run and shared by pytest-xdist workers (a file lock makes the second worker wait
for the first), because autograding is the slowest thing the test-suite does.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "python3"  # the venv's kernelspec (.venv/share/jupyter/kernels/python3)


def topic_test_modules() -> list:
    """Every tests/test_checks_*.py, loaded under a private name.

    Each topic's test file declares its own data (ALL_CHECKS, NOTEBOOK_MISTAKES) so that whoever
    owns a notebook owns its test data; the generic tests gather it from here.
    """
    modules = []
    for path in sorted(Path(__file__).parent.glob("test_checks_*.py")):
        if path.name == "test_checks_contract.py":  # the generic test that reads the others
            continue
        spec = importlib.util.spec_from_file_location(f"_topic_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    return modules


def assignments() -> list[str]:
    """Every assignment with a source notebook: solutions/<name>/<name>.ipynb."""
    if not SOLUTIONS.is_dir():
        return []
    return sorted(p.name for p in SOLUTIONS.iterdir() if (p / f"{p.name}.ipynb").is_file())


def source_notebook(name: str) -> Path:
    return SOLUTIONS / name / f"{name}.ipynb"


def execute(path: Path, timeout: int = 120) -> tuple[nbformat.NotebookNode, float]:
    """Run a notebook top to bottom in the venv's python3 kernel; return it and the seconds taken.

    Raises nbclient's CellExecutionError on the first failing cell.
    """
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=KERNEL,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def image_outputs(nb: nbformat.NotebookNode) -> int:
    """How many image/png outputs the executed notebook holds."""
    return sum("image/png" in out.get("data", {})
               for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)


def with_answer_replaced(nb: nbformat.NotebookNode, grade_id: str, source: str):
    """A copy of `nb` whose answer cell `grade_id` holds `source` instead."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    if len(cells) != 1:
        raise KeyError(f"no single cell with grade_id {grade_id!r}")
    cells[0].source = source
    return nb


@contextlib.contextmanager
def file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_CONFIG = """\
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "cnncourse"
c.CourseDirectory.db_url = {db!r}
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
c.Execute.timeout = 120
"""


@dataclass
class GradedAssignment:
    """The outcome of autograding several submissions of one assignment with real nbgrader."""

    name: str
    root: Path
    scores: dict = field(default_factory=dict)      # student -> {grade_id: [score, max_score]}
    errors: dict = field(default_factory=dict)      # student -> {grade_id: [ename, text]}
    seconds: float = 0.0

    def total(self, student: str) -> tuple[float, float]:
        cells = self.scores[student].values()
        return sum(s for s, _ in cells), sum(m for _, m in cells)

    @classmethod
    def build(cls, cache: Path, name: str, submissions: dict) -> GradedAssignment:
        """Autograde `submissions` ({student: NotebookNode or "released"}) once per test run."""
        result_file = cache / name / "results.json"
        with file_lock(cache / f"{name}.lock"):
            if result_file.exists():
                return cls(**{**json.loads(result_file.read_text()), "root": cache / name})
            graded = cls(name, cache / name)
            graded._run(submissions)
            result_file.write_text(json.dumps({k: v for k, v in vars(graded).items()
                                               if k != "root"}))
            return graded

    # -- the nbgrader steps ------------------------------------------------------------------
    def _nbgrader(self, *args: str) -> None:
        env = dict(os.environ)
        env["JUPYTER_CONFIG_DIR"] = str(self.root / "jupyter_config")  # no user config
        # nbgrader creates the gradebook by running `alembic` from PATH
        env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
        done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=self.root, env=env,
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")

    def _run(self, submissions: dict) -> None:
        start = time.perf_counter()
        if self.root.exists():
            shutil.rmtree(self.root)
        (self.root / "jupyter_config").mkdir(parents=True)
        db = f"sqlite:///{self.root / 'gradebook.db'}"
        (self.root / "nbgrader_config.py").write_text(_CONFIG.format(root=str(self.root), db=db))
        shutil.copytree(SOLUTIONS / self.name, self.root / "source" / self.name)
        self._nbgrader("generate_assignment", self.name, "--force")
        released = self.root / "release" / self.name / f"{self.name}.ipynb"
        for student, nb in submissions.items():
            target = self.root / "submitted" / student / self.name / f"{self.name}.ipynb"
            target.parent.mkdir(parents=True)
            if isinstance(nb, str) and nb == "released":
                shutil.copyfile(released, target)
            else:
                nbformat.write(nb, target)
        self._nbgrader("autograde", self.name, "--force")
        self._collect(list(submissions), db)
        self.seconds = time.perf_counter() - start

    def _collect(self, students: list[str], db: str) -> None:
        from nbgrader.api import Gradebook

        with Gradebook(db) as gb:
            for student in students:
                nb_sub = gb.find_submission_notebook(self.name, self.name, student)
                self.scores[student] = {g.name: [float(g.score), float(g.max_score)]
                                        for g in nb_sub.grades if g.cell_type == "code"}
        for student in students:
            path = self.root / "autograded" / student / self.name / f"{self.name}.ipynb"
            errors = {}
            for cell in nbformat.read(path, as_version=4).cells:
                meta = cell.metadata.get("nbgrader", {})
                if cell.cell_type != "code" or not meta.get("grade"):
                    continue
                for out in cell.outputs:
                    if out.output_type == "error":
                        errors[meta["grade_id"]] = [out.ename, f"{out.ename}: {out.evalue}"]
                    elif out.output_type == "stream" and out.name == "stderr":
                        errors.setdefault(meta["grade_id"], ["stderr", out.text])
            self.errors[student] = errors
