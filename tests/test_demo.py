"""Does the demo run the whole workflow, and does every status reach the export?

A reduced class (one submission of each status, first assignment only) keeps this near a minute.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from cnncourse.grading.course import Course
from cnncourse.grading.export import STATUSES
from cnncourse.grading.synthetic import MISTAKES, apply_mistake, correct_notebook

# One of each status; five of them run a kernel.
KINDS = {"correct", "flipped kernel", "infinite loop", "os._exit", "numpy monkeypatch",
         "malformed .ipynb", "uploaded a PDF"}


@pytest.mark.slow
def test_demo_on_a_reduced_class(tmp_path):
    from cnncourse.demo import run_demo

    names = Course(tmp_path / "probe").assignments()
    if not names:
        pytest.skip("no solution notebook yet")
    out = tmp_path / "demo"
    result = run_demo(out, workers=2, timeout=5.0, assignments=names[:1], only=KINDS,
                      n_correct=1, quiet=True)
    assert result.unexpected == []
    a = names[0]
    with open(out / "grades.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r[f"{a}:status"] for r in rows} == set(STATUSES)
    assert len(rows) == len(KINDS) + 1  # + the student on the roster who never submitted
    totals = sorted(float(r[f"{a}:total"]) for r in rows if r[f"{a}:status"] == "graded")
    maximum = float(rows[0][f"{a}:max"])
    assert len(totals) == 2 and 0 < totals[0] < totals[1] == maximum  # flipped, correct
    # The feedback pages never show a hidden test, though the autograded notebooks have them.
    source = json.loads((Course(tmp_path / "probe").source_notebook(a)).read_text())
    hidden = [ln.strip() for c in source["cells"] for m in re.finditer(
        r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", "".join(c["source"]), re.DOTALL)
        for ln in m.group(1).splitlines() if len(ln.strip()) > 10]
    assert hidden
    pages = sorted((out / "course" / "feedback").glob(f"*/{a}/{a}.html"))
    assert len(pages) == len(KINDS) + 1  # the missing ones get a page saying why
    for page in pages:
        text = page.read_text()
        assert not any(line in text for line in hidden), page
    for name in ("score_distribution.png", "question_means.png"):
        assert (out / "report" / name).read_bytes()[:4] == b"\x89PNG"
    assert "s01" in result.table and result.seconds > 0


def _source_notebook() -> dict:
    course = Course(Path("unused"))
    names = [a for a in course.assignments() if a.startswith("01")]
    if not names:
        pytest.skip("no 01 solution notebook yet")
    return json.loads(course.source_notebook(names[0]).read_text())


def _function(nb: dict, name: str):
    """Run the solution cell that defines `name` (pure numpy) and return the function."""
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and f"def {name}(" in src:
            namespace = {"np": np}
            exec(compile(src, name, "exec"), namespace)  # noqa: S102 - the course's own code
            return namespace[name]
    raise LookupError(name)


def _brute_corr2d(x, k):
    kh, kw = k.shape
    return np.array([[np.sum(x[i:i + kh, j:j + kw] * k) for j in range(x.shape[1] - kw + 1)]
                     for i in range(x.shape[0] - kh + 1)])


def test_synthetic_correct_notebook_has_the_solutions_without_markers():
    source = _source_notebook()
    correct = correct_notebook(source, source)
    text = json.dumps(correct)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    g = np.random.default_rng(0)
    x, k = g.standard_normal((6, 7)), g.standard_normal((3, 2))
    np.testing.assert_allclose(_function(correct, "corr2d")(x, k), _brute_corr2d(x, k))


@pytest.mark.parametrize("name, oracle", [
    ("flipped kernel", lambda x, k: _brute_corr2d(x, k[::-1, ::-1])),
    ("output one row and column short", lambda x, k: _brute_corr2d(x, k)[:-1, :-1]),
])
def test_synthetic_mistakes_make_the_mistakes_outputs(name, oracle):
    source = _source_notebook()
    mistake = next(m for m in MISTAKES if m.name == name)
    wrong = apply_mistake(correct_notebook(source, source), mistake)
    g = np.random.default_rng(1)
    x, k = g.standard_normal((5, 6)), g.standard_normal((2, 3))
    np.testing.assert_allclose(_function(wrong, "corr2d")(x, k), oracle(x, k))


def test_a_mistake_in_an_exercise_the_notebook_lacks_is_skipped():
    source = _source_notebook()
    absent = next(m for m in MISTAKES if m.function == "max_pool2d_backward")
    assert apply_mistake(correct_notebook(source, source), absent) is None
