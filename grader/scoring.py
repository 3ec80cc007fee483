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
it step by step counts there); only the agreement part (``100 * w_A * A``, or ``100 * A``
where the reference diverges) when the run became NaN or infinite before the reference
ended, so that a rule exact up to a late blow-up keeps the steps it got right; and 0
when the student's code raised or did not finish. The exercise's score is the mean over
all runs, visible and hidden.

**float32.** A run whose every returned parameter vector is made of float32 numbers
(the rule computed in single precision) is compared with the float32 tolerances
:data:`FLOAT32_ATOL` and :data:`FLOAT32_RTOL` instead of the exercise's (when those are
tighter), and its score is capped at :data:`FLOAT32_CEILING`: a correct method in the
wrong precision gets a clear, named partial score rather than whatever rounding noise
makes of a float64 comparison.
"""

from __future__ import annotations

import dataclasses
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
VERDICTS = ("match", "float32", "converged-differently", "diverged", "stalled", "error",
            "timeout", "non-finite")

#: Tolerances for a run computed in float32: float32 rounds at ~6e-8 relative per
#: operation, and a few hundred steps accumulate about a thousand times that; measured on
#: every bundled exercise, a float32 rewrite of the reference stays within 3e-5 relative.
FLOAT32_ATOL = 1e-6
FLOAT32_RTOL = 1e-4
#: The most a float32 run scores: the method is right, the precision is not.
FLOAT32_CEILING = 90.0


@dataclass(frozen=True)
class Trace:
    """One run's trajectory and the losses along it, with how it ended."""

    trajectory: Array
    losses: Array
    outcome: str
    steps_to_tolerance: int | None = None
    #: The first step whose parameters are NaN or infinite (None: all finite).
    first_non_finite: int | None = None
    #: What that step holds first: ``"NaN"``, ``"inf"`` or ``"-inf"`` (None: all finite).
    non_finite_value: str | None = None
    #: Why the run was cut short: ``"non-finite"`` (the loss or the parameters became NaN
    #: or infinite), ``"limit"`` (the loss passed the divergence limit), or None.
    stopped: str | None = None
    #: Every parameter vector after the start is made of float32 numbers.
    float32: bool = False


@dataclass(frozen=True)
class RunScore:
    """The score of one run and what it is made of."""

    verdict: str
    score: float
    agreement: float
    outcome_match: bool
    progress: float
    first_disagreement: int | None
    #: The run was compared with the float32 tolerances (see the module docstring).
    float32: bool = False


def first_disagreement(student: Array, reference: Array, atol: float, rtol: float) -> int | None:
    """The first step where the student leaves the reference (None: never).

    Steps are compared while both exist; a student trajectory that stops before the
    reference's (an error, NaN) disagrees where it stops. Finite entries are compared as
    vectors, ``||mine - theirs|| <= atol + rtol * ||theirs||``; a non-finite entry agrees
    only with the very same value at the same place (the same infinity, or NaN), so two
    rules that blow up identically match, even where ``inf - inf`` would be NaN.

    Examples
    --------
    >>> ref = np.array([[1.0], [0.5], [0.25]])
    >>> first_disagreement(ref.copy(), ref, 1e-12, 1e-9) is None
    True
    >>> first_disagreement(np.array([[1.0], [0.5], [0.3]]), ref, 1e-12, 1e-9)
    2
    >>> first_disagreement(np.array([[1.0, 1.0], [-np.inf, -8.8e214]]),
    ...                    np.array([[1.0, 1.0], [-np.inf, -8.8e214 * (1 + 1e-15)]]), 0, 1e-9)
    """
    count = min(len(student), len(reference))
    mine, theirs = student[:count], reference[:count]
    with np.errstate(all="ignore"):
        finite = np.isfinite(mine) & np.isfinite(theirs)
        same_special = (mine == theirs) | (np.isnan(mine) & np.isnan(theirs))
        specials_agree = np.all(finite | same_special, axis=-1)
        difference = np.where(finite, mine - theirs, 0.0)
        scale = np.where(np.isfinite(theirs), theirs, 0.0)
        distance = np.sqrt(np.add.reduce(difference**2, axis=-1))
        allowed = atol + rtol * np.sqrt(np.add.reduce(scale**2, axis=-1))
        identical = np.all(same_special, axis=-1)
        apart = ~(identical | (specials_agree & (distance <= allowed)))
    if apart.any():
        return int(np.argmax(apart))
    return count if len(student) < len(reference) else None


def is_float32(trajectory: Array) -> bool:
    """True when every parameter vector after the start is made of float32 numbers and
    the run moved: the rule computed in single precision (a float64 computation lands on
    a float32 number only by chance, never for a whole run).

    Examples
    --------
    >>> start = np.array([[-1.2, 1.0]])
    >>> steps = np.array([[-1.1, 0.9], [-1.0, 0.8]], dtype=np.float32).astype(np.float64)
    >>> is_float32(np.vstack([start, steps]))
    True
    >>> is_float32(np.vstack([start, [[-1.1, 0.9], [-1.0, 0.8]]]))
    False
    """
    steps = trajectory[1:]
    if not len(steps) or np.array_equal(steps, np.broadcast_to(trajectory[0], steps.shape)):
        return False
    finite = steps[np.isfinite(steps)]
    with np.errstate(all="ignore"):
        return bool(np.array_equal(finite.astype(np.float32).astype(np.float64), finite))


def judge(losses: Array, trajectory: Array, target: float | None, tolerance: float) -> Trace:
    """A student's run judged by the engine's own rules (early stop included), so that its
    outcome means what the reference's does."""
    with np.errstate(all="ignore"):
        limit = outcomes.divergence_limit(losses[:1], target)
        good = outcomes.within_limit(losses, limit) if len(losses) else np.zeros(0, bool)
    stopped = not bool(good.all())
    end = int(np.argmax(~good)) if stopped else len(losses)
    why = None
    if stopped:
        over_the_limit = bool(np.isfinite(losses[end]) and np.all(np.isfinite(trajectory[end])))
        why = "limit" if over_the_limit else "non-finite"
        if over_the_limit:
            end += 1  # the engine records the first point over the limit when it is finite
    outcome = outcomes.classify(losses[:end], trajectory[:end], target=target,
                                tolerance=tolerance, stopped_as_diverged=stopped)
    finite = np.all(np.isfinite(trajectory), axis=-1)
    first_bad = None if finite.all() else int(np.argmax(~finite))
    value = None if first_bad is None else _special(trajectory[first_bad])
    return Trace(trajectory[:end], losses[:end], outcome.name, outcome.steps_to_tolerance,
                 first_bad, value, why, is_float32(trajectory))


def _special(row: Array) -> str:
    """The first non-finite entry of a row, as a student would write it."""
    value = row[~np.isfinite(row)][0]
    return "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")


def progress(losses: Array, target: float | None) -> float:
    """``log(gap_0 / gap_final)``: how many e-folds the loss gap shrank (negative: grew)."""
    if len(losses) < 2:
        return 0.0
    base = 0.0 if target is None else target
    floor = 1e-300 + 8 * np.finfo(np.float64).eps * abs(base)
    start, end = max(losses[0] - base, floor), max(losses[-1] - base, floor)
    return math.log(start / end)


def score_run(student: Trace, reference: Trace, scoring: Scoring, target: float | None) -> RunScore:
    """Score one run that produced a trajectory (see the module docstring).

    A float32 run is scored with both tolerances, keeps the better, and is capped: even a
    float32 run within the float64 tolerances scores :data:`FLOAT32_CEILING`. A run whose
    numbers are float32 numbers only because the reference's are too (dyadic steps on a
    quadratic, say) is not a float32 run.
    """
    exact = _score(student, reference, scoring, target)
    if not student.float32 or is_float32(reference.trajectory):
        return exact
    loose = dataclasses.replace(scoring, atol=max(scoring.atol, FLOAT32_ATOL),
                                rtol=max(scoring.rtol, FLOAT32_RTOL))
    relaxed = _score(student, reference, loose, target)
    return _capped(relaxed if relaxed.score >= exact.score else exact, FLOAT32_CEILING)


def _capped(score: RunScore, ceiling: float) -> RunScore:
    verdict = "float32" if score.verdict == "match" else score.verdict
    return dataclasses.replace(score, verdict=verdict, score=min(score.score, ceiling),
                               float32=True)


def _score(student: Trace, reference: Trace, scoring: Scoring, target: float | None) -> RunScore:
    first = first_disagreement(student.trajectory, reference.trajectory, scoring.atol,
                               scoring.rtol)
    if first is None:
        return RunScore("match", 100.0, 1.0, True, 1.0, None)
    reference_steps = max(1, len(reference.trajectory) - 1)
    agreement = min(1.0, max(0.0, (first - 1) / reference_steps))
    same_outcome = student.outcome == reference.outcome
    blew_up = student.first_non_finite
    if blew_up is not None and blew_up < len(reference.trajectory):
        # only the steps before the blow-up count: nothing after it is comparable
        weight = 1.0 if reference.outcome == "diverged" else scoring.agreement
        return RunScore("non-finite", round(100 * weight * agreement, 6), agreement, False,
                        0.0, first)
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
