"""A graded result as a student reads it in a terminal: the same text whether it was
graded here (``gdlab grade``) or by a server (``gdlab submit``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as left-aligned columns two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            .rstrip() for row in rows]


def format_grade(result: Mapping[str, Any]) -> str:
    """A graded result (the JSON of ``gdlab grade --json`` or of the API) as text: score,
    a verdict per visible run, the hidden runs in aggregate, diagnosis and feedback."""
    lines = [f"Exercise  {result['exercise']} (version {result['exercise_version']})",
             f"Score     {result['score']:g} / 100", ""]
    rows = [("case", "lr", "verdict", "score", "outcome (reference)", "first difference")]
    for run in result.get("runs", ()):
        where = run.get("first_disagreement")
        rows.append((run["case"], f"{run['lr']:g}", run["verdict"], f"{run['score']:.1f}",
                     f"{run.get('outcome') or '-'} ({run['reference_outcome']})",
                     "-" if where is None else f"step {where['step']}"))
    lines += table(rows)
    hidden = result.get("hidden") or {}
    if hidden.get("runs"):
        counts = ", ".join(f"{n} {verdict}" for verdict, n in hidden["verdicts"].items())
        lines += ["", f"Hidden    {hidden['runs']} runs, mean score {hidden['score']:g}: {counts}"]
    for diagnosis in result.get("diagnosis", ()):
        lines += ["", f"Diagnosis {diagnosis['id']}: {diagnosis['message']}"]
    lines += ["", f"Feedback  {result.get('feedback', '')}"]
    stdout = result.get("stdout") or ""
    if stdout:
        shown = stdout.strip().splitlines()
        lines += ["", "Your code printed:", *("  " + line for line in shown[:10])]
        if len(shown) > 10:
            lines.append(f"  ... ({len(shown) - 10} more lines)")
    return "\n".join(lines)
