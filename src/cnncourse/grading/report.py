"""Figures and a short text summary of how a class did.

``score_distribution.png``: one histogram of totals per assignment. ``question_means.png``: the
mean score of every question as a fraction of its points, so questions worth different points
compare. ``summary.txt``: status counts and the hardest questions with their most common failure
message. Question statistics use the submissions with status "graded" only: a timed-out or
tampered notebook says nothing about how hard a question is.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from cnncourse.grading.export import STATUSES, Row, grade_table

__all__ = ["QuestionStat", "question_stats", "write_report"]


@dataclass
class QuestionStat:
    """How one question went over the graded submissions of its assignment."""

    assignment: str
    grade_id: str
    mean_fraction: float
    n: int
    common_failure: str = ""
    failures: int = 0
    common_count: int = 0


def _gist(message: str) -> str:
    """The part of a failure message that names the mistake, not the case it showed up in."""
    lines = message.strip().splitlines()
    text = lines[0] if lines else "(no message)"
    # "conv2d values: flipped kernel for input: shape (2, 2, 5, 7)..." -> up to " for "
    text = re.split(r" for (?=\S)", text, maxsplit=1)[0]
    return text if len(text) <= 150 else text[:147] + "..."


def question_stats(rows: list[Row], *, hardest_first: bool = True) -> list[QuestionStat]:
    """Mean fraction of points per (assignment, question), hardest first (else notebook order)."""
    scores: dict[tuple[str, str], list[float]] = {}
    failures: dict[tuple[str, str], Counter] = {}
    for row in rows:
        if row.status != "graded":
            continue
        for gid, (score, max_score) in row.scores.items():
            if score is None:  # waits for manual grading
                continue
            key = (row.assignment, gid)
            scores.setdefault(key, []).append(score / max_score if max_score else 1.0)
            failures.setdefault(key, Counter())
            if score < max_score:
                failures[key][_gist(row.messages.get(gid) or "")] += 1
    stats = []
    for key, fractions in scores.items():
        common = failures[key].most_common(1)
        stats.append(QuestionStat(*key, sum(fractions) / len(fractions), len(fractions),
                                  common[0][0] if common else "", sum(failures[key].values()),
                                  common[0][1] if common else 0))
    if not hardest_first:
        return stats
    return sorted(stats, key=lambda s: (s.mean_fraction, s.assignment, s.grade_id))


_COLORS = {"graded": "#4c78a8", "timed out": "#f58518", "kernel died": "#b279a2",
           "tampered": "#e45756", "invalid notebook": "#9d755d"}


def _distribution(names, table, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(4 * max(1, len(names)), 3.2),
                             squeeze=False)
    from matplotlib.ticker import MaxNLocator

    for ax, name in zip(axes[0], names):
        rows = [rows[name] for rows in table.values()]
        top = max([r.max_total for r in rows] + [1.0])
        # Stacked by status, so a pile of zeros shows whether it is work or broken notebooks.
        present = [s for s in STATUSES if s != "missing" and any(r.status == s for r in rows)]
        totals = [[r.total for r in rows if r.status == s] for s in present]
        if present:
            ax.hist(totals, bins=int(top) if top <= 20 else 10, range=(0, top), stacked=True,
                    label=present, color=[_COLORS[s] for s in present], edgecolor="white")
            ax.legend(fontsize=7, loc="upper center")
        missing = sum(r.status == "missing" for r in rows)
        ax.set(title=f"{name}\n{len(rows) - missing} submitted, {missing} missing",
               xlabel=f"total (of {top:g} points)", ylabel="students", xlim=(0, top))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if not names:
        axes[0][0].text(0.5, 0.5, "no results yet", ha="center", va="center")
        axes[0][0].set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _question_means(stats: list[QuestionStat], path: Path) -> None:
    import matplotlib.pyplot as plt

    groups: dict[str, list[QuestionStat]] = {}
    for stat in stats:
        groups.setdefault(stat.assignment, []).append(stat)
    sizes = [len(g) for g in groups.values()] or [1]
    # One column per assignment: five notebooks of ~30 questions stay a readable landscape page.
    fig, axes = plt.subplots(1, len(sizes), figsize=(3.8 * len(sizes), 1.4 + 0.2 * max(sizes)),
                             sharex=True, squeeze=False, layout="constrained")
    for ax, (name, group) in zip(axes[0], groups.items()):
        values = [s.mean_fraction for s in group]
        colors = ["#e45756" if v < 0.5 else "#f2b701" if v < 0.8 else "#54a24b" for v in values]
        ax.barh(range(len(group)), values, color=colors)
        ax.set_yticks(range(len(group)), [s.grade_id for s in group], fontsize=7)
        ax.set_ylim(max(sizes) - 0.5, -0.5)  # the notebook's first question on top
        ax.set(xlim=(0, 1), xlabel="mean score / points")
        ax.set_title(name, fontsize=10)
    if not groups:
        axes[0, 0].text(0.5, 0.5, "no graded submissions yet", ha="center", va="center")
    fig.suptitle("Mean score per question (graded submissions only)")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _summary(names, table, stats: list[QuestionStat], hardest: int) -> str:
    lines = ["Class summary", ""]
    for name in names:
        rows = [rows[name] for rows in table.values()]
        counts = Counter(r.status for r in rows)
        graded = [r.total for r in rows if r.status == "graded"]
        mean = f"mean {sum(graded) / len(graded):.2f} of {rows[0].max_total:g}" if graded else \
            "no graded submissions"
        status = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
        lines.append(f"{name}: {len(rows)} students; {status}; {mean}")
    lines += ["", "Hardest questions (lowest mean fraction of points, graded only):"]
    for s in stats[:hardest]:
        lines.append(f"  {s.assignment}: {s.grade_id}  mean {s.mean_fraction:.0%} over {s.n}")
        if s.common_failure:
            lines.append(f"      {s.failures} of {s.n} lost points; most common failure "
                         f"({s.common_count}x): {s.common_failure}")
    if not stats:
        lines.append("  (no graded submissions yet)")
    return "\n".join(lines) + "\n"


def write_report(course, out: str | os.PathLike, *, roster=None, hardest: int = 5) -> str:
    """Write the two figures and ``summary.txt`` into `out`; return the summary text."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names, table = grade_table(course, roster)
    rows = [row for rows in table.values() for row in rows.values()]
    stats = question_stats(rows)
    _distribution(names, table, out / "score_distribution.png")
    _question_means(question_stats(rows, hardest_first=False), out / "question_means.png")
    text = _summary(names, table, stats, hardest)
    (out / "summary.txt").write_text(text)
    return text
