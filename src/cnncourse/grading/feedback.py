"""One self-contained HTML feedback page per student and assignment.

The page shows the student's code, every graded check's score and message, the total and the
status with its flags. Two rules make it safe to hand out:

* everything that came from a notebook is escaped (student code and outputs are untrusted HTML;
  markdown is rendered with raw HTML escaped);
* hidden tests never appear: their source is replaced by ``# hidden tests`` and any output line
  that quotes a hidden-test line (a traceback does) is blanked. Their messages stay.
"""

from __future__ import annotations

import base64
import binascii
import functools
import html
import json
import re
from pathlib import Path

from cnncourse.grading.export import Row, load_results

__all__ = ["HIDDEN_PLACEHOLDER", "hidden_test_lines", "render_feedback", "strip_hidden_tests",
           "write_feedback"]

HIDDEN_PLACEHOLDER = "# hidden tests"
_HIDDEN = re.compile(r"^([ \t]*)### BEGIN HIDDEN TESTS.*?(?:^[ \t]*### END HIDDEN TESTS[^\n]*|\Z)",
                     re.DOTALL | re.MULTILINE)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;border-radius:4px;white-space:pre-wrap}
pre.out{background:#fff;border-left:3px solid #ccc}
pre.err{background:#fff5f5;border-left:3px solid #d33}
.cell{margin:1rem 0}.badge{display:inline-block;padding:.1rem .5rem;border-radius:1rem;
font-weight:600}.ok{background:#dcfce7}.part{background:#fef9c3}.bad{background:#fee2e2}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:left}
img{max-width:100%}
"""


def strip_hidden_tests(source: str) -> str:
    """Replace every ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` region.

    An unterminated region is stripped to the end of the cell: when in doubt, hide.
    """
    return _HIDDEN.sub(lambda m: m.group(1) + HIDDEN_PLACEHOLDER, source)


def hidden_test_lines(sources: list[str]) -> set[str]:
    """The code lines inside hidden-test regions of `sources` (stripped, non-trivial ones)."""
    lines = set()
    for source in sources:
        for match in _HIDDEN.finditer(source):
            lines |= {ln.strip() for ln in match.group(0).splitlines()[1:]
                      if len(ln.strip()) >= 6 and "HIDDEN TESTS" not in ln}
    return lines


def _scrub(text: str, hidden: set[str]) -> str:
    text = _ANSI.sub("", text)
    if not hidden:
        return text
    return "\n".join("[line of a hidden test]" if any(h in ln for h in hidden) else ln
                     for ln in text.split("\n"))


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


@functools.lru_cache(maxsize=1)
def _markdown_renderer():
    try:
        import mistune
    except ImportError:  # a plain-text fallback is still safe
        return lambda text: f"<pre>{html.escape(text)}</pre>"
    return mistune.create_markdown(escape=True)


def _markdown(text: str) -> str:
    return _markdown_renderer()(text)


def _png(data) -> str:
    data = "".join(data) if isinstance(data, list) else str(data)
    try:
        base64.b64decode(data.replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return "<pre class='err'>[an image that is not valid PNG data was left out]</pre>"
    return f"<img alt='figure' src='data:image/png;base64,{data.replace(chr(10), '')}'>"


def _outputs(cell: dict, is_test: bool, hidden: set[str]) -> list[str]:
    parts = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            text = _scrub(_source({"source": out.get("text", "")}), hidden)
            css = "err" if out.get("name") == "stderr" else "out"
            parts.append(f"<pre class='{css}'>{html.escape(text)}</pre>")
        elif kind == "error":
            if is_test:  # a test cell's traceback would quote the test's source
                text = f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"
            else:
                text = "\n".join(out.get("traceback", [])) or out.get("evalue", "")
            parts.append(f"<pre class='err'>{html.escape(_scrub(text, hidden))}</pre>")
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            if "image/png" in data:
                parts.append(_png(data["image/png"]))
            elif "text/plain" in data:
                text = _scrub(_source({"source": data["text/plain"]}), hidden)
                parts.append(f"<pre class='out'>{html.escape(text)}</pre>")
    return parts


def _badge(score: float | None, max_score: float) -> str:
    if score is None:
        return f"<span class='badge part'>? / {max_score:g} (graded by hand)</span>"
    css = "ok" if score >= max_score else ("part" if score > 0 else "bad")
    return f"<span class='badge {css}'>{score:g} / {max_score:g}</span>"


def render_feedback(row: Row, notebook: dict | None, hidden: set[str] = frozenset()) -> str:
    """The feedback page for one result as an HTML string.

    Parameters
    ----------
    row : Row
        The graded result (status, scores, messages, flags).
    notebook : dict or None
        The autograded notebook (nbformat JSON as a dict); None shows the scores only.
    hidden : set of str
        Lines of the hidden tests, blanked wherever an output quotes them.
    """
    e = html.escape
    head = [f"<h1>{e(row.assignment)}: feedback for {e(row.student)}</h1>",
            (f"<p><b>Status:</b> {e(row.status)} &nbsp; <b>Score:</b> "
            f"{_badge(row.total, row.max_total)}</p>")]
    if row.reason:
        head.append(f"<p><b>Why:</b> {e(_scrub(row.reason, hidden))}</p>")
    if row.flags:
        head.append("<ul>" + "".join(f"<li>{e(f)}</li>" for f in row.flags) + "</ul>")
    if row.scores:
        head.append("<table><tr><th>check</th><th>score</th><th>message</th></tr>" + "".join(
            f"<tr><td>{e(g)}</td><td>{_badge(*row.scores[g])}</td>"
            f"<td>{e(_scrub(row.messages.get(g, ''), hidden))}</td></tr>" for g in row.scores)
            + "</table>")
    body = []
    for cell in (notebook or {}).get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id", "")
        is_test = bool(meta.get("grade")) and not meta.get("solution")
        if cell.get("cell_type") == "markdown":
            body.append(f"<div class='cell'>{_markdown(_source(cell))}</div>")
            continue
        if cell.get("cell_type") != "code":
            continue
        src = _ANSI.sub("", strip_hidden_tests(_source(cell)))
        parts = [f"<pre class='code'>{e(src)}</pre>"]
        if gid in row.scores:
            msg = row.messages.get(gid, "")
            parts.insert(0, f"<p>{_badge(*row.scores[gid])} <code>{e(gid)}</code> "
                            f"{e(_scrub(msg, hidden))}</p>")
        body.append("<div class='cell'>" + "".join(parts + _outputs(cell, is_test, hidden))
                    + "</div>")
    title = e(f"{row.assignment} feedback for {row.student}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(head)}<hr>{''.join(body)}"
            "</body></html>\n")


def _read_notebook(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_feedback(course, assignment: str | None = None) -> list[Path]:
    """Write ``feedback/<student>/<assignment>/<assignment>.html`` for every graded result."""
    written = []
    hidden_by_assignment: dict[str, set[str]] = {}
    for (student, name), row in load_results(course).items():
        if assignment and name != assignment:
            continue
        if name not in hidden_by_assignment:
            source = _read_notebook(Path(course.source_notebook(name))) or {}
            hidden_by_assignment[name] = hidden_test_lines(
                [_source(c) for c in source.get("cells", [])])
        notebook = _read_notebook(Path(course.autograded_dir) / student / name / f"{name}.ipynb")
        hidden = hidden_by_assignment[name] | hidden_test_lines(
            [_source(c) for c in (notebook or {}).get("cells", [])])
        out = Path(course.feedback_dir) / student / name / f"{name}.html"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_feedback(row, notebook, hidden))
        written.append(out)
    return written
