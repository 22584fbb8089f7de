"""Grade submissions: restore, scan, execute in a sandbox, score exactly as nbgrader does.

:func:`grade_submission` grades one submission and is self-contained (it runs in a worker
process): it never modifies the submitted file, and writes
``autograded/<student>/<assignment>/<assignment>.ipynb`` and ``result.json`` beside it.
:func:`grade_all` grades every collected submission with a process pool; only the parent
process writes the nbgrader gradebook (:func:`cnncourse.grading.gradebook.record`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import re
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .course import Course

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "STATUSES",
    "GradeRun",
    "SubmissionResult",
    "grade_all",
    "grade_submission",
    "load_results",
    "submission_hash",
]

STATUSES = ("graded", "timed out", "kernel died", "tampered", "invalid notebook", "missing")
DEFAULT_MEMORY_LIMIT = 2 << 30  # bytes of address space per kernel
TAMPER_MARKER = "[tampered] "
# Part of every submission hash: bump it when grading changes, so old results are regraded.
GRADER_VERSION = "1"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class SubmissionResult:
    """The outcome of grading one submission (what ``result.json`` holds).

    ``status`` is one of :data:`STATUSES`; ``scores`` maps grade_id -> [score, max_score]
    (score None for a cell that needs manual grading); ``messages`` maps grade_id -> the text
    shown to the student; ``comments`` maps solution-cell grade_id -> nbgrader's automatic
    comment; ``submission_hash`` identifies the graded files (see :func:`submission_hash`).
    """

    student: str
    assignment: str
    status: str
    reason: str = ""
    flags: list[str] = field(default_factory=list)
    scores: dict[str, list] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    total: float = 0.0
    max_total: float = 0.0
    duration_s: float = 0.0
    comments: dict[str, str] = field(default_factory=dict)
    submission_hash: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """The result as a JSON string (``result.json``'s content)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    @classmethod
    def from_json(cls, data) -> SubmissionResult:
        """Parse ``to_json()``'s output (a str, bytes or an already-decoded dict)."""
        if isinstance(data, (str, bytes)):
            data = json.loads(data)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class GradeRun(list):
    """The results of :func:`grade_all` (a list), with which were ``graded`` or ``skipped``."""

    def __init__(self, results=(), graded=(), skipped=()):
        super().__init__(results)
        self.graded = list(graded)
        self.skipped = list(skipped)


# -- one submission ----------------------------------------------------------------------------

def submission_hash(folder: Path, source_notebook: Path) -> str:
    """sha256 of the submitted files, the source notebook and the grader version."""
    digest = hashlib.sha256(GRADER_VERSION.encode())
    if source_notebook.exists():
        digest.update(source_notebook.read_bytes())
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file() and ".ipynb_checkpoints" not in path.parts:
                digest.update(str(path.relative_to(folder)).encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@lru_cache(maxsize=16)
def _references(source: str, released: str, stamp: tuple):
    import nbformat

    from .course import reference_versions

    instructor, student = reference_versions(nbformat.read(source, as_version=4))
    if Path(released).exists():
        student = nbformat.read(released, as_version=4)
    return instructor, student


def _load_references(course: Course, assignment: str):
    source, released = course.source_notebook(assignment), course.release_notebook(assignment)
    stamp = tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in (source, released))
    return _references(str(source), str(released), stamp)


def _read_notebook(path: Path):
    """(notebook, "") or (None, why it is not a notebook)."""
    import nbformat

    try:
        data = json.loads(path.read_bytes())
    except (UnicodeDecodeError, ValueError) as error:
        return None, f"the file is not valid JSON ({error})"
    if not isinstance(data, dict) or not isinstance(data.get("cells", data.get("worksheets")), list):
        return None, "the file is JSON but not a Jupyter notebook (no list of cells)"
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
        for cell in nb.cells:
            if cell.cell_type not in ("code", "markdown", "raw") or not isinstance(cell.source, str):
                raise ValueError(f"a cell has type {cell.get('cell_type')!r}")
            cell.setdefault("metadata", {})
            if cell.cell_type == "code":
                cell.setdefault("outputs", [])
    except Exception as error:  # noqa: BLE001 - nbformat raises many types for bad input
        return None, f"the notebook cannot be read ({type(error).__name__}: {error})"
    return nb, ""


def _locate(submission: Path, assignment: str) -> tuple[Path, Path | None, list[str]]:
    """(folder, notebook or None, flags): the submission may be a folder or the notebook."""
    submission = Path(submission)
    if submission.suffix == ".ipynb" and not submission.is_dir():
        return submission.parent, submission if submission.exists() else None, []
    expected = submission / f"{assignment}.ipynb"
    if expected.exists():
        return submission, expected, []
    others = sorted(p for p in submission.glob("*.ipynb")) if submission.is_dir() else []
    if len(others) == 1:
        flag = f"the notebook was named {others[0].name!r}; graded as {expected.name}"
        return submission, others[0], [flag]
    return submission, None, []


def _error_text(output) -> str:
    if output.get("ename") in ("AssertionError", "CheckFailure", "TamperError") and output.get("evalue"):
        return _ANSI.sub("", output["evalue"]).strip()
    lines = [_ANSI.sub("", line) for line in output.get("traceback") or []]
    last = "\n".join(lines).strip().splitlines()
    evalue = _ANSI.sub("", output.get("evalue") or "").strip()
    if evalue or not last:
        return f"{output.get('ename', 'Error')}: {evalue}" if evalue else output.get("ename", "Error")
    return last[-1].strip()


def _message(cell) -> str:
    """What the student reads for a graded cell: its printed lines, then its last error."""
    printed, errors = [], []
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            errors.append(_error_text(output))
        elif output.output_type == "stream":
            lines = [line.strip() for line in output.text.splitlines() if line.strip()]
            if output.name == "stderr":
                errors.extend(lines[-1:])
            else:
                printed.extend(lines)
    return "\n".join(printed[-20:] + errors[-1:])


def _score(nb, report, tampered_reason: str):
    """scores, messages and the '[tampered] ' messages of the graded cells."""
    from nbgrader import utils as nbutils

    scores, messages, tamper_messages = {}, {}, []
    for index, cell in enumerate(nb.cells):
        if not nbutils.is_grade(cell):
            continue
        grade_id = cell.metadata.nbgrader["grade_id"]
        score, max_score = nbutils.determine_grade(cell)
        message = _message(cell) if cell.cell_type == "code" else ""
        ran = index in report.executed and index != report.failed_cell
        if cell.cell_type == "code" and not nbutils.is_solution(cell) and not ran:
            score = 0.0  # a test that never ran (or died half-way) proves nothing
            message = message or f"not run: {report.detail}"
        # Only the exception's message counts: tracebacks quote the checks' source code.
        if any(TAMPER_MARKER in _ANSI.sub("", o.get("evalue") or "")
               for o in cell.get("outputs", []) if o.output_type == "error"):
            tamper_messages.append(f"{grade_id}: {message}")
        if tampered_reason:
            score = 0.0
        scores[grade_id] = [None if score is None else float(score), float(max_score)]
        messages[grade_id] = message
    return scores, messages, tamper_messages


def _comments(nb) -> dict[str, str]:
    """nbgrader's automatic comments: "No response." for untouched answer cells."""
    from nbgrader import utils as nbutils

    return {c.metadata.nbgrader["grade_id"]:
            "No response." if c.metadata.nbgrader.get("checksum") == nbutils.compute_checksum(c) else ""
            for c in nb.cells if nbutils.is_solution(c)}


def _prepare_workdir(folder: Path, notebook: Path, course: Course, assignment: str, workdir: Path):
    """The submission's other files, then the source's files over them (as nbgrader does)."""
    if folder.is_dir():
        for path in folder.rglob("*"):
            rel = path.relative_to(folder)
            if path.is_file() and path != notebook and ".ipynb_checkpoints" not in rel.parts:
                (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, workdir / rel)
    source_dir = course.source_notebook(assignment).parent
    for path in source_dir.rglob("*"):
        rel = path.relative_to(source_dir)
        if path.is_file() and path.suffix != ".ipynb" and ".ipynb_checkpoints" not in rel.parts:
            (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, workdir / rel)


def _write_outputs(result: SubmissionResult, course: Course, nb, files: Path | None) -> None:
    """The autograded folder: the submission's other files, the notebook, result.json."""
    import nbformat

    out = course.autograded_path(result.student, result.assignment)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if files is not None and files.is_dir():
        shutil.copytree(files, out, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
    if nb is not None:
        from nbgrader.preprocessors import LimitOutput

        nb, _ = LimitOutput().preprocess(nb, {})
        nbformat.write(nb, out / f"{result.assignment}.ipynb")
    course.result_path(result.student, result.assignment).write_text(result.to_json())


def grade_submission(submission: Path, assignment: str, student: str, course: Course, *,
                     timeout: float = 60.0, memory_limit: int = DEFAULT_MEMORY_LIMIT,
                     notebook_timeout: float | None = None) -> SubmissionResult:
    """Grade one submission.

    Parameters
    ----------
    submission : path-like
        ``submitted/<student>/<assignment>/`` (or the notebook file in it).
    assignment, student : str
    course : Course
    timeout : float
        Seconds per cell before the cell is interrupted.
    memory_limit : int
        Address-space limit of the kernel in bytes (0: none).
    notebook_timeout : float, optional
        Wall-clock limit of the whole notebook (default ``max(10 * timeout, 120)``).

    Returns
    -------
    SubmissionResult
        Also written to ``autograded/<student>/<assignment>/result.json``.
    """
    from nbgrader import utils as nbutils

    from .restore import restore, scan_for_tampering
    from .sandbox import execute_notebook

    started = time.monotonic()
    folder, notebook_path, flags = _locate(Path(submission), assignment)
    instructor, released = _load_references(course, assignment)
    zeros = {c.metadata.nbgrader["grade_id"]: [0.0, float(c.metadata.nbgrader["points"])]
             for c in instructor.cells if nbutils.is_grade(c)}
    result = SubmissionResult(student, assignment, "graded", flags=flags, scores=dict(zeros),
                              max_total=sum(v[1] for v in zeros.values()),
                              submission_hash=submission_hash(folder, course.source_notebook(assignment)))
    nb = None
    with tempfile.TemporaryDirectory(prefix="cnncourse-grade-") as tmp:
        if notebook_path is None:
            result.status = "missing"
            result.reason = _missing_reason(folder, assignment)
        else:
            submitted, why = _read_notebook(notebook_path)
            if submitted is None:
                result.status, result.reason = "invalid notebook", f"{notebook_path.name}: {why}"
        if result.status == "graded":
            restored = restore(submitted, released, instructor)
            result.flags += restored.flags
            findings = scan_for_tampering(restored.nb, restored.editable)
            nb, workdir = restored.nb, Path(tmp)
            _prepare_workdir(folder, notebook_path, course, assignment, workdir)
            report = execute_notebook(
                nb, cwd=workdir, cell_timeout=timeout, memory_limit=memory_limit,
                notebook_timeout=notebook_timeout or max(10 * timeout, 120.0))
            tamper_reason = ("monkeypatching is not allowed: " + "; ".join(findings)) if findings else ""
            scores, messages, marked = _score(nb, report, tamper_reason)
            if marked and not tamper_reason:
                tamper_reason = "a check detected tampering: " + "; ".join(marked)
                scores = {k: [0.0, v[1]] for k, v in scores.items()}
            result.scores.update(scores)
            result.messages = messages
            result.comments = _comments(nb)
            if tamper_reason:
                result.status, result.reason = "tampered", tamper_reason
            elif report.outcome != "finished":
                result.status, result.reason = report.outcome, report.detail
        result.total = float(sum(v[0] for v in result.scores.values() if v[0] is not None))
        result.duration_s = round(time.monotonic() - started, 3)
        _write_outputs(result, course, nb, folder)
    return result


def _missing_reason(folder: Path, assignment: str) -> str:
    marker = folder / "collect.json"
    if marker.exists():
        try:
            reason = json.loads(marker.read_text()).get("reason")
        except ValueError:
            reason = None
        if reason:
            return reason
    return f"no notebook was submitted ({assignment}.ipynb is not in the submitted folder)"


# -- the whole class ---------------------------------------------------------------------------

def _grade_task(task: dict) -> dict:
    """Worker entry point: never raises, always returns a result as a dict."""
    started = time.monotonic()
    try:
        return grade_submission(**task).to_dict()
    except Exception as error:  # noqa: BLE001 - one bad submission must not stop the class
        result = SubmissionResult(
            task["student"], task["assignment"], "kernel died",
            reason=f"the grader failed on this submission ({type(error).__name__}: {error}); "
                   "nothing was scored; grade it again or report the problem",
            duration_s=round(time.monotonic() - started, 3))
        return result.to_dict()


def load_results(course: Course, assignment: str | None = None) -> list[SubmissionResult]:
    """Every ``result.json`` of the course (of ``assignment`` only, when given)."""
    pattern = f"*/{assignment or '*'}/result.json"
    return [SubmissionResult.from_json(p.read_text())
            for p in sorted(course.autograded_dir.glob(pattern))]


def _previous(course: Course, student: str, assignment: str) -> SubmissionResult | None:
    path = course.result_path(student, assignment)
    try:
        return SubmissionResult.from_json(path.read_text())
    except (OSError, ValueError, TypeError):
        return None


def _warm_up() -> None:
    """Pool initializer: pay the heavy imports while the parent prepares the gradebook."""
    import nbclient  # noqa: F401
    import nbgrader.preprocessors  # noqa: F401

    from . import restore, sandbox  # noqa: F401


def _run_pool(tasks: list[dict], workers: int, on_result, prepare) -> None:
    """Run tasks in a spawn pool; a crashed worker costs only a retry in a fresh pool.

    ``prepare()`` runs in this process once the workers are starting, so both overlap.
    """
    pending, attempts = list(tasks), {id(t): 0 for t in tasks}
    context = multiprocessing.get_context("spawn")
    while pending:
        retry = []
        with ProcessPoolExecutor(max_workers=min(workers, len(pending)), mp_context=context,
                                 initializer=_warm_up) as pool:
            futures = {pool.submit(_grade_task, task): task for task in pending}
            prepare()
            for future in as_completed(futures):
                task = futures[future]
                try:
                    on_result(future.result())
                except BrokenProcessPool as error:
                    attempts[id(task)] += 1
                    if attempts[id(task)] < 2:
                        retry.append(task)
                    else:
                        on_result(SubmissionResult(
                            task["student"], task["assignment"], "kernel died",
                            reason=f"the grading worker crashed twice ({error})").to_dict())
        pending = retry


def grade_all(course: Course, assignment: str | None = None, workers: int = 1,
              force: bool = False, progress: bool = True, *, timeout: float | None = None,
              memory_limit: int = DEFAULT_MEMORY_LIMIT, notebook_timeout: float | None = None,
              students: list[str] | None = None) -> GradeRun:
    """Grade every collected submission (of ``assignment``, of ``students``) and record it.

    Submissions whose files (and source notebook) are unchanged since their ``result.json``
    are skipped unless ``force``. Only this process writes the gradebook.

    Parameters
    ----------
    course : Course
    assignment : str, optional
        Only this assignment (default: all).
    workers : int
        Parallel grading processes (1 grades in this process).
    force : bool
        Regrade even unchanged submissions.
    progress : bool
        Show a tqdm progress bar.
    timeout : float, optional
        Seconds per cell (default: ``Execute.timeout`` of the course's nbgrader_config.py, or 60).
    memory_limit : int
        Address-space limit per kernel in bytes.
    notebook_timeout : float, optional
        Wall-clock limit per notebook (default ``max(10 * timeout, 120)``).
    students : list of str, optional
        Only these students.

    Returns
    -------
    GradeRun
        Every result (fresh or kept), with ``.graded`` and ``.skipped``.
    """
    from tqdm import tqdm

    from . import gradebook

    if workers < 1:
        raise ValueError(f"workers: expected a positive number of processes, got {workers}")
    submissions = [s for s in course.submissions(assignment) if students is None or s.student in students]
    timeout = timeout if timeout is not None else course.execute_timeout()
    results, graded, skipped, tasks = {}, [], [], []
    for sub in submissions:
        previous = _previous(course, sub.student, sub.assignment)
        current = submission_hash(sub.path, course.source_notebook(sub.assignment))
        if not force and previous is not None and previous.submission_hash == current:
            results[sub.student, sub.assignment] = previous
            skipped.append(previous)
            continue
        tasks.append({"submission": sub.path, "assignment": sub.assignment, "student": sub.student,
                      "course": course, "timeout": timeout, "memory_limit": memory_limit,
                      "notebook_timeout": notebook_timeout})
    bar = tqdm(total=len(tasks), desc="grading", unit="notebook", disable=not progress or not tasks)

    def on_result(data: dict) -> None:
        result = SubmissionResult.from_json(data)
        gradebook.record(course, result)
        results[result.student, result.assignment] = result
        graded.append(result)
        bar.set_postfix_str(f"{result.student}: {result.status}", refresh=False)
        bar.update()

    def prepare() -> None:
        course.ensure_gradebook(sorted({s.assignment for s in submissions}))
        for result in skipped:  # e.g. the gradebook was deleted since
            if not gradebook.is_recorded(course, result):
                gradebook.record(course, result)

    try:
        if workers == 1 or len(tasks) <= 1:
            prepare()
            for task in tasks:
                on_result(_grade_task(task))
        else:
            _run_pool(tasks, workers, on_result, prepare)
    finally:
        bar.close()
    ordered = [results[key] for key in sorted(results)]
    return GradeRun(ordered, graded=graded, skipped=skipped)

