"""A graded submission's loss curves as data, for the page's interactive chart: what the
overlay plot (:mod:`grader.plots.overlay`) draws in its loss panels, as JSON-ready lists.

Per visible case and learning rate: the student's and the reference's curve of the same
quantity the plot shows (the distance to the minimum when the problem has a known one,
else the loss), the step where the student first leaves the reference, and how each run
ended. A value that is not a finite number (a run that blew up) is ``None``: JSON has no
NaN or Infinity, and a chart draws a gap there.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from grader.grading import GradeResult, VisibleTrace

#: Significant digits kept of each value: more than a chart shows, far fewer bytes.
DIGITS = 7


def distance_to_minimum(losses: np.ndarray, target: float | None) -> np.ndarray:
    """``losses - target`` floored just above zero (so that a log scale can show it), NaN
    where that is not finite; with no known minimum (``target`` None), the losses.

    Examples
    --------
    >>> distance_to_minimum(np.array([3.0, 1.0, np.inf]), 1.0).tolist()
    [2.0, 1e-16, nan]
    """
    base = 0.0 if target is None else target
    floor = 1e-16 * max(1.0, abs(base))
    with np.errstate(all="ignore"):
        values = np.asarray(losses, dtype=float) - base
    if target is None:
        return np.where(np.isfinite(values), values, np.nan)
    return np.where(np.isfinite(values), np.maximum(values, floor), np.nan)


def as_json_numbers(values: np.ndarray) -> list[float | None]:
    """``values`` as a list of floats rounded to :data:`DIGITS` significant digits, None
    where a value is NaN or infinite.

    Examples
    --------
    >>> as_json_numbers(np.array([1/3, np.nan, -np.inf, 2e300]))
    [0.3333333, None, None, 2e+300]
    """
    return [float(f"{value:.{DIGITS}g}") if math.isfinite(value) else None
            for value in np.asarray(values, dtype=float).tolist()]


@dataclass(frozen=True)
class RunCurves:
    """One visible run (a case at one learning rate) as the chart draws it."""

    lr: float
    verdict: str
    score: float
    #: The student's curve (None: the student's code gave no trajectory).
    student: list[float | None] | None
    reference: list[float | None]
    #: The first step where the student's parameters leave the reference's (None: never).
    first_difference: int | None
    student_outcome: str | None
    reference_outcome: str


@dataclass(frozen=True)
class CaseCurves:
    """A visible case's runs, and what their values measure."""

    case: str
    #: ``"loss - minimum"`` or ``"loss"``.
    quantity: str
    runs: list[RunCurves]


def _run_curves(trace: VisibleTrace, verdict: str, score: float) -> RunCurves:
    target = trace.plan.target
    student = trace.student
    return RunCurves(
        lr=trace.lr, verdict=verdict, score=score,
        student=(None if student is None
                 else as_json_numbers(distance_to_minimum(student.losses, target))),
        reference=as_json_numbers(distance_to_minimum(trace.reference.losses, target)),
        first_difference=trace.first_disagreement,
        student_outcome=None if student is None else student.outcome,
        reference_outcome=trace.reference.outcome)


def grade_curves(result: GradeResult) -> dict[str, Any]:
    """The curves of ``result``'s visible runs: ``{"score", "cases": [CaseCurves...]}``,
    JSON-ready, in the order the plot draws them.

    Examples
    --------
    >>> # grade_curves(grader.grade("gd", code))["cases"][0]["runs"][0]["reference"][:2]
    """
    grades = {(run.case, run.lr): run for run in result.runs if run.visible}
    cases: dict[str, CaseCurves] = {}
    for trace in result.traces:
        grade = grades.get((trace.case, trace.lr))
        case = cases.setdefault(trace.case, CaseCurves(
            case=trace.case,
            quantity="loss - minimum" if trace.plan.target is not None else "loss", runs=[]))
        case.runs.append(_run_curves(trace, grade.verdict if grade else "",
                                     grade.score if grade else 0.0))
    return {"score": result.score, "cases": [asdict(case) for case in cases.values()]}
