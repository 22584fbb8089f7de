"""Put a submitted notebook back into gradable shape, and say what the student changed.

A submission is matched cell by cell against the RELEASED notebook (what the student received):
comparing with the source would make every untouched test cell look "changed", because the
release had its hidden tests stripped (nbgrader's own autograde warns about exactly that).
Cells are matched by ``grade_id``; when ids were renamed or the nbgrader metadata stripped,
by position between already matched cells and by source similarity. Every locked cell (test
cells, read-only set-up cells) is then replaced by the instructor's version, hidden tests
included, and every deleted one is re-inserted where it was. Student cells keep their code.

:func:`scan_for_tampering` then reads the student's cells (as Python, magics tolerated) for
monkeypatching of numpy, cnncourse, the checks, ``sys.modules`` or builtins.
"""

from __future__ import annotations

import ast
import copy
import difflib
import itertools
import re
import uuid
from dataclasses import dataclass, field

from nbgrader import utils as nbutils

__all__ = ["Restored", "restore", "scan_for_tampering"]

# Below these similarities a cell is not taken for a given released cell.
_LOCKED_MIN_SIMILARITY = 0.5
_SOLUTION_MIN_SIMILARITY = 0.3
_RENAMED_BONUS = 0.25


@dataclass
class Restored:
    """A submission made gradable.

    Attributes
    ----------
    nb : nbformat.NotebookNode
        The notebook to execute: student cells as submitted, locked cells from the source.
    flags : list of str
        One sentence per change the student made to what they should not have changed.
    editable : list of int
        Indices in ``nb`` of the cells the student wrote (solution cells and added cells).
    missing : list of str
        grade_ids of solution cells that could not be found in the submission.
    """

    nb: object
    flags: list[str] = field(default_factory=list)
    editable: list[int] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader") or {}


def _tracked_id(cell) -> str | None:
    meta = _meta(cell)
    if meta.get("grade") or meta.get("solution") or meta.get("locked") or meta.get("task"):
        return meta.get("grade_id")
    return None


def _same_text(a: str, b: str) -> bool:
    return a.replace("\r\n", "\n").rstrip() == b.replace("\r\n", "\n").rstrip()


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _pair_score(released_cell, submitted_cell, locked: bool, known_ids: set[str]) -> float | None:
    if released_cell.cell_type != submitted_cell.cell_type:
        return None
    score = _similarity(released_cell.source, submitted_cell.source)
    other_id = _tracked_id(submitted_cell)
    if other_id is not None and other_id not in known_ids:
        score += _RENAMED_BONUS
    needed = _LOCKED_MIN_SIMILARITY if locked else _SOLUTION_MIN_SIMILARITY
    return score if score >= needed else None


def _align(run, candidates, released, submitted, locked, known_ids) -> dict[int, int]:
    """Order-preserving best matching of released cells ``run`` to submitted ``candidates``."""
    k, m = len(run), len(candidates)
    score = [[_pair_score(released.cells[r], submitted.cells[c], locked[r], known_ids)
              for c in candidates] for r in run]
    best = [[0.0] * (m + 1) for _ in range(k + 1)]
    for i in range(k - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            take = best[i + 1][j + 1] + score[i][j] if score[i][j] is not None else -1.0
            best[i][j] = max(best[i + 1][j], best[i][j + 1], take)
    pairs, i, j = {}, 0, 0
    while i < k and j < m:
        if score[i][j] is not None and best[i][j] == best[i + 1][j + 1] + score[i][j]:
            pairs[run[i]] = candidates[j]
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    # A single solution cell left between two matched cells takes the single student cell of
    # its type left there, however much it was rewritten.
    left = [r for r in run if r not in pairs and not locked[r]]
    if len(left) == 1:
        low = max([pairs[r] for r in run if r in pairs and r < left[0]], default=-1)
        high = min([pairs[r] for r in run if r in pairs and r > left[0]], default=len(submitted.cells))
        free = [c for c in candidates if c not in pairs.values() and low < c < high
                and submitted.cells[c].cell_type == released.cells[left[0]].cell_type]
        if len(free) == 1:
            pairs[left[0]] = free[0]
    return pairs


def _match(released, submitted, locked: dict[int, bool]) -> dict[int, int]:
    """Map released cell index -> submitted cell index for every tracked released cell found."""
    tracked = [i for i, cell in enumerate(released.cells) if _tracked_id(cell)]
    known_ids = {_tracked_id(released.cells[i]) for i in tracked}
    last_position = {}
    for j, cell in enumerate(submitted.cells):
        grade_id = _tracked_id(cell)
        if grade_id in known_ids:
            last_position[grade_id] = j  # nbgrader keeps the last copy of a duplicated id
    matches = {i: last_position[_tracked_id(released.cells[i])] for i in tracked
               if _tracked_id(released.cells[i]) in last_position}
    used = set(matches.values())
    duplicates = {j for j, cell in enumerate(submitted.cells)
                  if _tracked_id(cell) in known_ids and j not in used}
    position = 0
    while position < len(tracked):
        if tracked[position] in matches:
            position += 1
            continue
        end = position
        while end < len(tracked) and tracked[end] not in matches:
            end += 1
        run = tracked[position:end]
        low = matches[tracked[position - 1]] if position > 0 else -1
        high = matches[tracked[end]] if end < len(tracked) else len(submitted.cells)
        candidates = [j for j in range(low + 1, high)
                      if j not in used and j not in duplicates and _tracked_id(submitted.cells[j])
                      not in known_ids]
        matches.update(_align(run, candidates, released, submitted, locked, known_ids))
        used = set(matches.values())
        position = end
    return matches


def _fresh(cell):
    cell = copy.deepcopy(cell)
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    return cell


def _restored_cell(instructor_cell, released_cell, submitted_cell, locked: bool):
    if locked:
        cell = _fresh(instructor_cell)
        if "id" in submitted_cell:
            cell["id"] = submitted_cell["id"]
        return cell
    cell = _fresh(submitted_cell)
    if cell.cell_type != instructor_cell.cell_type:
        # As nbgrader's OverwriteCells: the cell type is the source's, the text the student's.
        cell = _fresh(instructor_cell)
        cell.source = submitted_cell.source
    cell.metadata["nbgrader"] = copy.deepcopy(instructor_cell.metadata["nbgrader"])
    return cell


def _with_unique_ids(cells, nbformat_minor: int) -> list:
    """Cell ids as nbformat >= 4.5 wants them: present and unique (cells come from two files)."""
    seen = set()
    for cell in cells:
        if nbformat_minor < 5:
            cell.pop("id", None)
            continue
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = uuid.uuid4().hex[:12]
        seen.add(cell["id"])
    return cells


def _label(cell) -> str:
    return "test cell" if nbutils.is_grade(cell) else "locked cell"


def restore(submitted, released, instructor) -> Restored:
    """Match ``submitted`` to ``released`` and rebuild it with the instructor's locked cells.

    Parameters
    ----------
    submitted : nbformat.NotebookNode
        The student's notebook (not modified).
    released : nbformat.NotebookNode
        The notebook the student was given.
    instructor : nbformat.NotebookNode
        The instructor version from :func:`cnncourse.grading.course.reference_versions`
        (hidden tests included).

    Returns
    -------
    Restored
    """
    by_id = {_tracked_id(c): c for c in instructor.cells if _tracked_id(c)}
    # The instructor version decides what is locked: the release may be older than the source.
    locked = {i: nbutils.is_locked(by_id.get(_tracked_id(c), c))
              for i, c in enumerate(released.cells) if _tracked_id(c)}
    matches = _match(released, submitted, locked)
    origin = {j: i for i, j in matches.items()}
    known_ids = {_tracked_id(released.cells[i]) for i in locked}

    flags, stripped, cells, editable = [], 0, [], []
    placed: dict[int, int] = {}  # released index -> index in the rebuilt notebook
    duplicated: dict[str, int] = {}
    for j, cell in enumerate(submitted.cells):
        if j not in origin:
            cell = _fresh(cell)
            grade_id = _tracked_id(cell)
            if grade_id in known_ids:
                duplicated[grade_id] = duplicated.get(grade_id, 1) + 1
            elif grade_id is not None and _meta(cell).get("grade"):
                flags.append(f"cell {grade_id!r} is not a cell of the assignment; it is not graded")
            cell.metadata.pop("nbgrader", None)
            editable.append(len(cells))
            cells.append(cell)
            continue
        i = origin[j]
        released_cell = released.cells[i]
        grade_id = _tracked_id(released_cell)
        instructor_cell = by_id.get(grade_id, released_cell)
        new_id = _tracked_id(cell)
        if new_id is None:
            stripped += 1
        elif new_id != grade_id:
            flags.append(f"the grade_id of cell {grade_id} was changed to {new_id!r}; "
                         "restored by matching")
        if locked[i]:
            if not _same_text(cell.source, released_cell.source) or cell.cell_type != released_cell.cell_type:
                flags.append(f"{_label(instructor_cell)} {grade_id} was edited; restored from "
                             "the source and flagged")
        else:
            editable.append(len(cells))
        points = _meta(cell).get("points")
        if (nbutils.is_grade(instructor_cell) and points is not None and new_id == grade_id
                and float(points) != float(_meta(instructor_cell)["points"])):
            flags.append(f"the points of cell {grade_id} were changed to {points}; restored")
        placed[i] = len(cells)
        cells.append(_restored_cell(instructor_cell, released_cell, cell, locked[i]))

    missing = []
    for i in sorted(locked):
        if i in placed:
            continue
        grade_id = _tracked_id(released.cells[i])
        instructor_cell = by_id.get(grade_id, released.cells[i])
        if not locked[i]:
            missing.append(grade_id)
            if nbutils.is_grade(instructor_cell):  # only then does it cost points
                flags.append(f"graded answer cell {grade_id} was deleted or could not be found")
            continue
        before = [placed[k] for k in placed if k < i]
        after = [placed[k] for k in placed if k > i]
        at = max(before) + 1 if before else (min(after) if after else len(cells))
        placed = {k: p + 1 if p >= at else p for k, p in placed.items()}
        editable = [e + 1 if e >= at else e for e in editable]
        cells.insert(at, _fresh(instructor_cell))
        placed[i] = at
        what = "re-inserted and graded" if nbutils.is_grade(instructor_cell) else "re-inserted"
        flags.append(f"{_label(instructor_cell)} {grade_id} was deleted; {what}")
    for grade_id, count in duplicated.items():
        flags.append(f"cell {grade_id} appears {count} times; only the last copy is graded")
    if stripped:
        flags.append(f"nbgrader metadata was stripped from {stripped} "
                     f"cell{'s' if stripped > 1 else ''}; restored by matching")

    nb = copy.deepcopy(instructor)
    nb.cells = _with_unique_ids(cells, nb.nbformat_minor)
    return Restored(nb=nb, flags=flags, editable=editable, missing=missing)


# -- static scan of the student's cells for monkeypatching ------------------------------------

_PROTECTED_ROOTS = ("numpy", "cnncourse", "builtins")
_DEFAULT_ALIASES = {"np": "numpy", "numpy": "numpy", "cnncourse": "cnncourse",
                    "checks": "cnncourse.checks", "builtins": "builtins",
                    "__builtins__": "builtins", "sys": "sys", "importlib": "importlib"}
_MUTATORS = {"update", "pop", "popitem", "clear", "setdefault", "__setitem__", "__delitem__"}
_PASSTHROUGH_MAGICS = re.compile(r"^(\s*)%(?:time|timeit|prun)\s+(.*)$")
_BLOCK_CONTINUATION = re.compile(r"^(else|elif|except|finally|case)\b|^[)\]}]")


def _without_magics(source: str) -> str:
    """IPython syntax turned into Python that keeps the line numbers."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        lines[0] = ""  # the body of %%time, %%capture, ... is Python
    cleaned = []
    for line in lines:
        stripped = line.strip()
        passthrough = _PASSTHROUGH_MAGICS.match(line)
        if passthrough:
            cleaned.append(passthrough.group(1) + passthrough.group(2))
        elif stripped.startswith(("%", "!")) or stripped.endswith("?") or re.search(r"=\s*[!%]", line):
            cleaned.append(line[: len(line) - len(line.lstrip())] + "pass")
        else:
            cleaned.append(line)
    return "\n".join(cleaned)


def _parse_tolerant(source: str) -> list:
    """ASTs of the cell, or of each top-level block that parses when the whole cell does not."""
    text = _without_magics(source)
    try:
        return [ast.parse(text)]
    except SyntaxError:
        pass
    lines, trees = text.splitlines(), []
    starts = [i for i, line in enumerate(lines) if line[:1].strip() and not line.startswith("#")
              and not _BLOCK_CONTINUATION.match(line)] + [len(lines)]
    for begin, end in itertools.pairwise(starts):
        chunk = "\n" * begin + "\n".join(lines[begin:end])
        try:
            trees.append(ast.parse(chunk))
        except SyntaxError:
            continue
    return trees


def _is_protected(origin: str | None) -> bool:
    return bool(origin) and origin.split(".")[0] in _PROTECTED_ROOTS


def _collect_imports(tree, aliases: dict[str, str]) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                aliases[bound] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"


class _Scanner(ast.NodeVisitor):
    """Findings of one student cell: sentences like "replaces numpy.allclose (line 3: ...)"."""

    def __init__(self, source: str, aliases: dict[str, str], guarded: dict[str, str]):
        self.source, self.aliases, self.guarded = source, aliases, guarded
        self.findings: list[str] = []
        self.global_names: list[set[str]] = [set()]
        self.depth = 0

    def report(self, node, what: str) -> None:
        line = self.source.splitlines()[node.lineno - 1].strip() if node.lineno else ""
        self.findings.append(f"{what} (line {node.lineno}: `{line[:70]}`)")

    # what an expression refers to: a dotted origin such as "numpy.allclose" or None
    def origin(self, node) -> str | None:
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id) or (node.id if node.id in self.guarded else None)
        if isinstance(node, ast.Attribute):
            base = self.origin(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Subscript):
            key = node.slice.value if isinstance(node.slice, ast.Constant) else "[]"
            if isinstance(node.value, ast.Call) and _call_name(node.value) in ("globals", "locals"):
                return key if key in self.guarded else self.aliases.get(key)
            base = self.origin(node.value)
            if base and isinstance(node.value, ast.Call):  # vars(np)["allclose"]
                return f"{base}.{key}"
            return f"{base}[{key!r}]" if base else None
        if isinstance(node, ast.Call):
            name = _call_name(node)
            first = node.args[0] if node.args else None
            if name in ("__import__", "import_module", "importlib.import_module") and \
                    isinstance(first, ast.Constant) and isinstance(first.value, str):
                return first.value
            if name == "vars" and first is not None:
                return self.origin(first)
        return None

    def dangerous(self, origin: str | None) -> bool:
        return _is_protected(origin) or (origin or "").startswith("sys.modules") or \
            (origin or "").split(".")[0].split("[")[0] in self.guarded

    def check_target(self, target, verb: str) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.check_target(element, verb)
        elif isinstance(target, ast.Starred):
            self.check_target(target.value, verb)
        elif isinstance(target, ast.Name):
            if target.id in self.guarded and (self.depth == 0 or target.id in self.global_names[-1]):
                self.report(target, f"{verb} {target.id} ({self.guarded[target.id]})")
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            origin = self.origin(target)
            if self.dangerous(origin):
                self.report(target, f"{'deletes' if verb == 'deletes' else 'replaces'} {origin}")

    def visit_Assign(self, node):
        for target in node.targets:
            self.check_target(target, "rebinds")
        self.generic_visit(node)

    def _single_target(self, node):
        if getattr(node, "value", True) is not None:  # a bare annotation binds nothing
            self.check_target(node.target, "rebinds")
        self.generic_visit(node)

    visit_AugAssign = visit_AnnAssign = visit_For = visit_AsyncFor = _single_target

    def visit_Delete(self, node):
        for target in node.targets:
            if not isinstance(target, ast.Name):
                self.check_target(target, "deletes")
        self.generic_visit(node)

    def visit_With(self, node):
        for item in node.items:
            if item.optional_vars is not None:
                self.check_target(item.optional_vars, "rebinds")
        self.generic_visit(node)

    def visit_Global(self, node):
        self.global_names[-1].update(node.names)

    def _scope(self, node):
        if self.depth == 0 and node.name in self.guarded:
            self.report(node, f"redefines {node.name} ({self.guarded[node.name]})")
        self.depth += 1
        self.global_names.append(set())
        self.generic_visit(node)
        self.global_names.pop()
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope

    def _imports(self, node, pairs):
        for bound, origin in pairs:
            if bound in self.guarded and origin != self.guarded[bound]:
                self.report(node, f"rebinds {bound} ({self.guarded[bound]}) to {origin}")

    def visit_Import(self, node):
        self._imports(node, [(a.asname or a.name.split(".")[0],
                              a.name if a.asname else a.name.split(".")[0]) for a in node.names])

    def visit_ImportFrom(self, node):
        self._imports(node, [(a.asname or a.name, f"{node.module}.{a.name}") for a in node.names
                             if a.name != "*"])

    def visit_Call(self, node):
        name = _call_name(node) or ""
        func = node.func
        first = node.args[0] if node.args else None
        if name in ("setattr", "delattr") or (isinstance(func, ast.Attribute)
                                             and func.attr in ("__setattr__", "__delattr__")):
            target = first if name in ("setattr", "delattr") or self.origin(func.value) is None \
                else func.value
            if target is not None and self.dangerous(self.origin(target)):
                self.report(node, f"changes attributes of {self.origin(target)}")
        elif name.split(".")[-1] == "reload" and first is not None and self.dangerous(self.origin(first)):
            self.report(node, f"reloads {self.origin(first)}")
        elif isinstance(func, ast.Attribute) and func.attr in _MUTATORS:
            origin = self.origin(func.value) or ""
            if origin.startswith("sys.modules") or (origin.endswith("__dict__")
                                                   and self.dangerous(origin)):
                self.report(node, f"modifies {origin}")
        elif name.split(".")[-1] in ("patch", "object", "dict", "setattr") and "patch" in name \
                or name.endswith("monkeypatch.setattr"):
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                if _is_protected(first.value) or first.value.startswith("sys.modules"):
                    self.report(node, f"patches {first.value}")
            elif first is not None and self.dangerous(self.origin(first)):
                self.report(node, f"patches {self.origin(first)}")
        self.generic_visit(node)


def _call_name(node) -> str | None:
    parts, func = [], node.func
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
        return ".".join(reversed(parts))
    return None


def scan_for_tampering(nb, editable: list[int]) -> list[str]:
    """Monkeypatching of numpy, cnncourse, the checks, ``sys.modules`` or builtins.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The restored notebook.
    editable : list of int
        Indices of the cells the student wrote; the other cells are the instructor's.

    Returns
    -------
    list of str
        One sentence per finding, naming the cell and the line ("" findings: none).
    """
    student = set(editable)
    aliases = dict(_DEFAULT_ALIASES)
    guarded: dict[str, str] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for tree in _parse_tolerant(cell.source):
            _collect_imports(tree, aliases)
            if index in student:
                continue
            local: dict[str, str] = {}
            _collect_imports(tree, local)
            guarded.update({name: origin for name, origin in local.items()
                            if _is_protected(origin) and (origin.count(".") == 0 or "check" in origin
                                                          or origin.startswith("numpy"))})
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    guarded[node.name] = f"defined in cell {index + 1}"
    findings = []
    for index in editable:
        cell = nb.cells[index]
        if cell.cell_type != "code":
            continue
        for tree in _parse_tolerant(cell.source):
            scanner = _Scanner(_without_magics(cell.source), aliases, guarded)
            scanner.visit(tree)
            findings += [f"cell {index + 1} {finding}" for finding in scanner.findings]
    return findings
