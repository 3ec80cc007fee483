"""How a run ended: ``converged``, ``diverged``, ``oscillating``, ``stalled`` or ``max-steps``.

The same rules judge the reference and, later, a student's trajectory, so they are plain
functions of the recorded history. In order of precedence:

1. ``diverged``: the run was stopped because its loss became non-finite or rose above
   ``DIVERGENCE_FACTOR`` times its initial distance to the target (see :func:`diverged`),
   or it ended further from the target than it started and was still moving away (a
   learning rate just above its limit grows slowly and is never stopped).
2. ``converged``: the final point is within tolerance.
   *Loss-gap criterion* (when the engine knows the minimum of the recorded objective):
   ``L_s - L* <= tolerance * (L_0 - L*)``.
   *Step criterion* (otherwise, e.g. with a regulariser whose minimum has no closed form):
   ``||theta_s - theta_{s-1}|| <= sqrt(tolerance) * largest step so far`` (distances
   shrink like the square root of loss gaps, hence the root).
   ``steps_to_tolerance`` is the first step at which the criterion held.
3. ``oscillating``: in the last quarter of the run, most consecutive steps point in
   opposite directions (zig-zag across a valley: a learning rate near its limit).
4. ``stalled``: the last quarter improved the loss gap (or the loss) by less than
   ``STALL_FRACTION``, e.g. a learning rate far too small, or a rule that does nothing.
5. ``max-steps``: still making progress when the epochs ran out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

OUTCOMES = ("converged", "diverged", "oscillating", "stalled", "max-steps")
#: A run is stopped as diverged when its loss gap exceeds this multiple of the initial gap.
DIVERGENCE_FACTOR = 1e6
#: The part of the run whose behaviour decides ``oscillating`` and ``stalled``.
TAIL_FRACTION = 0.25
#: Less relative improvement than this over the tail is ``stalled``.
STALL_FRACTION = 1e-3
#: More than this share of reversed consecutive steps in the tail is ``oscillating``.
OSCILLATION_SHARE = 0.5
#: Floor for the initial gap so that a run starting at its minimum still has a scale.
_TINY = 1e-300


@dataclass(frozen=True)
class Outcome:
    """How a run ended and when it first reached the tolerance (None: never)."""

    name: str
    steps_to_tolerance: int | None


def divergence_limit(initial_loss: Array, target: float | None) -> Array:
    """The loss above which a run is stopped as diverged, per row; ``-inf`` (everything
    diverged) for a row whose initial loss is not even finite."""
    base = 0.0 if target is None else target
    limit = base + DIVERGENCE_FACTOR * np.maximum(np.abs(initial_loss - base), 1.0e-12)
    return np.where(np.isfinite(limit), limit, -np.inf)


def within_limit(loss: Array, limit: Array) -> npt.NDArray[np.bool_]:
    """Rows still running: a finite loss at most the limit (NaN and inf compare False or
    exceed any finite limit, so one comparison does)."""
    return loss <= limit


def classify(
    losses: Array,
    trajectory: Array,
    *,
    target: float | None,
    tolerance: float,
    stopped_as_diverged: bool,
) -> Outcome:
    """Classify one run from its history.

    Parameters
    ----------
    losses : array, shape (m,)
        Loss at every recorded point (before each update, and the final point).
    trajectory : array, shape (m, dim)
        Parameters at the same points.
    target : float or None
        Minimum of the recorded objective when known (loss-gap criterion), else None
        (step criterion).
    tolerance : float
        Relative tolerance, e.g. 1e-6.
    stopped_as_diverged : bool
        Whether the run loop stopped this run for divergence.

    Returns
    -------
    Outcome

    Examples
    --------
    >>> losses = np.array([1.0, 0.1, 1e-3, 1e-7])
    >>> classify(losses, np.zeros((4, 1)), target=0.0, tolerance=1e-6,
    ...          stopped_as_diverged=False)
    Outcome(name='converged', steps_to_tolerance=3)
    """
    reached = _reached(losses, trajectory, target, tolerance)
    first = int(np.argmax(reached)) if reached.size and reached.any() else None
    if stopped_as_diverged or _moving_away(losses, target):
        return Outcome("diverged", first)
    if reached.size and reached[-1]:
        return Outcome("converged", first)
    if _zig_zags(trajectory):
        return Outcome("oscillating", first)
    if _stalled(losses, target):
        return Outcome("stalled", first)
    return Outcome("max-steps", first)


def _reached(losses: Array, trajectory: Array, target: float | None, tolerance: float):
    if target is not None:
        if not losses.size:
            return np.zeros(0, dtype=bool)
        gaps = losses - target
        # The rounding floor lets a run that starts at (or reaches) the minimum count.
        floor = 8 * np.finfo(np.float64).eps * abs(target)
        return gaps <= tolerance * max(gaps[0], 0.0) + floor
    if len(trajectory) < 2:
        return np.zeros(len(trajectory), dtype=bool)
    steps = np.sqrt(np.add.reduce(np.diff(trajectory, axis=0) ** 2, axis=-1))
    largest = np.maximum.accumulate(steps)
    shrunk = (largest > 0) & (steps <= math.sqrt(tolerance) * largest)
    return np.concatenate([[False], shrunk])


def _tail_start(length: int) -> int:
    return max(0, length - max(3, math.ceil(TAIL_FRACTION * length)))


def _zig_zags(trajectory: Array) -> bool:
    tail = trajectory[_tail_start(len(trajectory)) :]
    moves = np.diff(tail, axis=0)
    if len(moves) < 2:
        return False
    turns = np.add.reduce(moves[1:] * moves[:-1], axis=-1)
    moving = np.add.reduce(moves * moves, axis=-1)
    if not np.all(moving > 0):
        return False
    return bool(np.mean(turns < 0) > OSCILLATION_SHARE)


def _moving_away(losses: Array, target: float | None) -> bool:
    if len(losses) < 3:
        return False
    gaps = losses - (0.0 if target is None else target)
    return bool(gaps[-1] > gaps[0] and gaps[-1] > gaps[_tail_start(len(gaps))])


def _stalled(losses: Array, target: float | None) -> bool:
    if len(losses) < 2:
        return True
    start = losses[_tail_start(len(losses))]
    end = losses[-1]
    if target is not None:
        return bool(end - target >= (1 - STALL_FRACTION) * (start - target))
    return bool(start - end <= STALL_FRACTION * max(abs(start), _TINY))
