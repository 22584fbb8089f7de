"""What a student runs before submitting: execute the notebook, report every graded check.

Unlike ``nbgrader validate`` (which exits 0 whatever it finds), a failing check, a cell that
raises, or a graded cell that writes to stderr (nbgrader scores such a cell 0) is a failure, so
``cnncourse validate nb.ipynb && submit`` does what it says.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CellReport", "ValidationResult", "format_validation", "validate_notebook"]


@dataclass
class CellReport:
    """One code cell's outcome: ``graded`` cells are nbgrader test cells."""

    index: int
    label: str
    graded: bool
    passed: bool
    message: str = ""
    points: float = 0.0
    hidden: bool = False


@dataclass
class ValidationResult:
    """The outcome of :func:`validate_notebook`; ``ok`` is what the exit status reflects."""

    path: str
    cells: list[CellReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def graded(self) -> list[CellReport]:
        return [c for c in self.cells if c.graded]

    @property
    def ok(self) -> bool:
        return not self.problems and all(c.passed for c in self.cells)


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _cell_outcome(cell) -> tuple[bool, str, bool]:
    """(passed, message, wrote_to_stderr) from a cell's outputs."""
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    stderr = [_text(o.get("text", "")) for o in cell.get("outputs", [])
              if o.get("output_type") == "stream" and o.get("name") == "stderr"]
    if errors:
        err = errors[-1]
        value = (err.get("evalue") or "").strip()
        first = value.splitlines()[0] if value else ""
        return False, f"{err.get('ename', 'Error')}: {first}".rstrip(": "), bool(stderr)
    return True, "", bool(stderr and "".join(stderr).strip())


def validate_notebook(path: str | os.PathLike, *, timeout: float = 60.0,
                      notebook_timeout: float = 900.0,
                      memory_limit: int = 2 << 30) -> ValidationResult:
    """Run the notebook at `path` top to bottom and check every cell.

    Parameters
    ----------
    path : path-like
        The notebook; it runs in its own folder and is not modified.
    timeout : float
        Seconds each cell may run.
    notebook_timeout : float
        Seconds the whole notebook may run.
    memory_limit : int
        Address-space limit of the kernel in bytes (0: none).

    Returns
    -------
    ValidationResult

    Raises
    ------
    FileNotFoundError
        When there is no file at `path`.
    ValueError
        When the file is not a readable Jupyter notebook.
    """
    import nbformat

    from cnncourse.grading.sandbox import execute_notebook

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}: check the file name and folder")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for bad files
        raise ValueError(f"{path} is not a valid Jupyter notebook ({type(exc).__name__}: "
                         f"{exc}); re-download it or restore it from a checkpoint") from exc
    result = ValidationResult(str(path))
    if not any(c.get("metadata", {}).get("nbgrader", {}).get("grade") for c in nb.cells):
        result.problems.append("the notebook has no graded cells: is it the assignment's "
                               "notebook, with its cell metadata intact?")
    report = execute_notebook(nb, cwd=path.parent.resolve(), cell_timeout=timeout,
                              notebook_timeout=notebook_timeout, memory_limit=memory_limit)
    if report.outcome != "finished":
        result.problems.append(f"{report.outcome}: {report.detail}")
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        graded = bool(meta.get("grade"))
        first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
        label = meta.get("grade_id") or f"cell {index + 1} ({first[:40]})"
        passed, message, stderr = _cell_outcome(cell)
        if passed and graded and stderr:
            passed, message = False, "wrote to stderr (nbgrader scores such a cell 0)"
        # A released hidden-test cell is only a comment: its tests run at grading time.
        hidden = graded and passed and not any(
            ln.strip() and not ln.strip().startswith("#") for ln in cell.source.splitlines())
        if not passed or graded:
            result.cells.append(CellReport(index, label, graded, passed, message,
                                           float(meta.get("points", 0) or 0), hidden))
    return result


def format_validation(result: ValidationResult) -> str:
    """A student-facing report: one line per graded check, then errors and a verdict."""
    lines = [f"Validating {result.path}"]
    for cell in result.graded:
        if cell.hidden:
            lines.append(f"  ----  {cell.label} ({cell.points:g} pts): hidden tests, run when "
                         "your notebook is graded")
            continue
        mark = "PASS" if cell.passed else "FAIL"
        lines.append(f"  {mark}  {cell.label} ({cell.points:g} pts)"
                     + (f": {cell.message}" if cell.message else ""))
    for cell in result.cells:
        if not cell.graded:
            lines.append(f"  ERROR {cell.label}: {cell.message}")
    lines += [f"  PROBLEM {p}" for p in result.problems]
    visible = [c for c in result.graded if not c.hidden]
    if result.ok:
        lines.append(f"All {len(visible)} visible graded checks passed.")
    else:
        failed = sum(not c.passed for c in result.graded)
        errors = sum(not c.graded for c in result.cells)
        lines.append(f"NOT READY: {failed} of {len(visible)} visible graded checks failed, "
                     f"{errors} other cell(s) raised, {len(result.problems)} problem(s).")
    return "\n".join(lines)
