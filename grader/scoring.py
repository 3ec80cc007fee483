"""The convergence score: a student's trajectory against the reference's, run by run.

Pure functions of data computed outside the sandbox. For every case x learning rate:

- **agreement** ``A``: the share of the reference's steps the student follows before the
  first step ``s`` where ``||theta_s - ref_s|| > atol + rtol * ||ref_s||``
  (1 when every step agrees);
- **outcome** ``O``: 1 when the student's run ends the same way as the reference's
  (converged, diverged, oscillating, stalled, max-steps), else 0;
- **progress** ``P``: how far the student's loss came compared with the reference's,
  ``log(gap_0 / gap_student) / log(gap_0 / gap_reference)`` clipped to [0, 1], with
  ``gap = L - L*`` (or ``L`` where the minimum is not known).

A run scores ``100 * (w_A A + w_O O + w_P P)`` with the exercise's weights; 100 when the
whole trajectory agrees; ``100 * A`` when the reference itself diverges (only following
it step by step counts there); and 0 when the student's code raised, produced NaN or
infinity, or did not finish. The exercise's score is the mean over all runs, visible and
hidden.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from grader.catalog.model import Scoring
from grader.engine import outcomes

Array = npt.NDArray[np.float64]

#: ``diverged``: the student's run blew up (where the reference's converged, or blew up
#: along another path); ``stalled``: it stopped making progress where the reference did
#: not; ``converged-differently``: any other run that leaves the reference's path.
VERDICTS = ("match", "converged-differently", "diverged", "stalled", "error", "timeout",
            "non-finite")


@dataclass(frozen=True)
class Trace:
    """One run's trajectory and the losses along it, with how it ended."""

    trajectory: Array
    losses: Array
    outcome: str
    steps_to_tolerance: int | None = None
    #: The first step whose parameters are NaN or infinite (None: all finite).
    first_non_finite: int | None = None


@dataclass(frozen=True)
class RunScore:
    """The score of one run and what it is made of."""

    verdict: str
    score: float
    agreement: float
    outcome_match: bool
    progress: float
    first_disagreement: int | None


def first_disagreement(student: Array, reference: Array, atol: float, rtol: float) -> int | None:
    """The first step where the student leaves the reference (None: never).

    Steps are compared while both exist; a student trajectory that stops before the
    reference's (an error, NaN) disagrees where it stops. Non-finite values agree only
    with the very same non-finite values (two rules that blow up identically match).

    Examples
    --------
    >>> ref = np.array([[1.0], [0.5], [0.25]])
    >>> first_disagreement(ref.copy(), ref, 1e-12, 1e-9) is None
    True
    >>> first_disagreement(np.array([[1.0], [0.5], [0.3]]), ref, 1e-12, 1e-9)
    2
    """
    count = min(len(student), len(reference))
    mine, theirs = student[:count], reference[:count]
    with np.errstate(all="ignore"):
        distance = np.sqrt(np.add.reduce((mine - theirs) ** 2, axis=-1))
        allowed = atol + rtol * np.sqrt(np.add.reduce(theirs**2, axis=-1))
        identical = np.all((mine == theirs) | (np.isnan(mine) & np.isnan(theirs)), axis=-1)
        apart = ~((distance <= allowed) | identical)
    if apart.any():
        return int(np.argmax(apart))
    return count if len(student) < len(reference) else None


def judge(losses: Array, trajectory: Array, target: float | None, tolerance: float) -> Trace:
    """A student's run judged by the engine's own rules (early stop included), so that its
    outcome means what the reference's does."""
    with np.errstate(all="ignore"):
        limit = outcomes.divergence_limit(losses[:1], target)
        good = outcomes.within_limit(losses, limit) if len(losses) else np.zeros(0, bool)
    stopped = not bool(good.all())
    end = int(np.argmax(~good)) if stopped else len(losses)
    if stopped and np.isfinite(losses[end]) and np.all(np.isfinite(trajectory[end])):
        end += 1  # the engine records the first point over the limit when it is finite
    outcome = outcomes.classify(losses[:end], trajectory[:end], target=target,
                                tolerance=tolerance, stopped_as_diverged=stopped)
    finite = np.all(np.isfinite(trajectory), axis=-1)
    first_bad = None if finite.all() else int(np.argmax(~finite))
    return Trace(trajectory[:end], losses[:end], outcome.name, outcome.steps_to_tolerance,
                 first_bad)


def progress(losses: Array, target: float | None) -> float:
    """``log(gap_0 / gap_final)``: how many e-folds the loss gap shrank (negative: grew)."""
    if len(losses) < 2:
        return 0.0
    base = 0.0 if target is None else target
    floor = 1e-300 + 8 * np.finfo(np.float64).eps * abs(base)
    start, end = max(losses[0] - base, floor), max(losses[-1] - base, floor)
    return math.log(start / end)


def score_run(student: Trace, reference: Trace, scoring: Scoring, target: float | None) -> RunScore:
    """Score one run that produced a trajectory (see the module docstring)."""
    first = first_disagreement(student.trajectory, reference.trajectory, scoring.atol,
                               scoring.rtol)
    if first is None:
        return RunScore("match", 100.0, 1.0, True, 1.0, None)
    reference_steps = max(1, len(reference.trajectory) - 1)
    agreement = min(1.0, max(0.0, (first - 1) / reference_steps))
    same_outcome = student.outcome == reference.outcome
    blew_up = student.first_non_finite
    if blew_up is not None and blew_up < len(reference.trajectory):
        return RunScore("non-finite", 0.0, agreement, False, 0.0, first)
    if reference.outcome == "diverged":
        return RunScore(_verdict(student, reference), round(100 * agreement, 6), agreement,
                        same_outcome, 0.0, first)
    wanted = progress(reference.losses, target)
    achieved = progress(student.losses, target)
    if wanted > 1e-12:
        gained = min(1.0, max(0.0, achieved / wanted))
    else:
        gained = 1.0 if same_outcome else 0.0
    total = 100 * (scoring.agreement * agreement + scoring.outcome * same_outcome
                   + scoring.progress * gained)
    return RunScore(_verdict(student, reference), round(total, 6), agreement, same_outcome,
                    gained, first)


def _verdict(student: Trace, reference: Trace) -> str:
    if student.outcome == "diverged":
        return "diverged"
    if student.outcome == "stalled" and reference.outcome != "stalled":
        return "stalled"
    return "converged-differently"


def failed_run(verdict: str) -> RunScore:
    """A run that produced nothing to compare (the code raised, or timed out)."""
    return RunScore(verdict, 0.0, 0.0, False, 0.0, None)
