"""Naming the mistake: a student's trajectories compared with known wrong rules.

Detection never reads the student's code, so it works however the code is written:

- ``no-op``: the parameters never move;
- ``lr-ignored``: the trajectory is the same whatever the learning rate;
- ``float32``: every run computed in float32 numbers, most of them following the
  reference to float32's precision (decided by the scores, see
  :func:`grader.grading.computed_in_float32`);
- every other diagnosis is a *candidate rule* (one of the engine's classic variants,
  a generic distortion of the reference such as ``sign-flip``, ``state-reset`` or
  ``returns-step``, or a known mistake from the exercise's ``mistakes/`` folder) run on
  the exercise's cases: the student's trajectories must agree with it step by step on
  every run, with the exercise's tolerances.

A diagnosis must explain *every* run, errors included: a run where the student's code
raised matches only a candidate that raised there too, so a student whose code fails on
some cases is told about the error, never about a mistake that only fits the runs that
worked. Trajectories are compared as the scoring cuts them (the engine's early stop for
diverging runs), the candidates' as the reference's: a candidate that follows the
reference up to where the reference stops is the reference, and is never offered. A
student whose trajectories agree with the reference gets no diagnosis at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from grader import kinds
from grader.engine import variants
from grader.scoring import first_disagreement

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Diagnosis:
    """A named mistake and the one sentence that says it and how to fix it."""

    id: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {"id": self.id, "message": self.message}


#: The diagnoses gdlab knows for every exercise, besides the engine's classic variants
#: (each of which carries its own sentence, :data:`grader.engine.variants.VARIANTS`).
GENERAL: dict[str, str] = {
    "no-op": "Your update returns the parameters unchanged: return params minus the learning "
             "rate times the step.",
    "sign-flip": "Your parameters climb the loss: the step has the wrong sign; subtract lr "
                 "times the step from params instead of adding it.",
    "lr-ignored": "Your curves are identical for every learning rate: multiply the step by "
                  "the lr argument instead of a constant.",
    "state-reset": "Your rule forgets its running averages between steps: keep them in the "
                   "state dict, which the grader hands back unchanged at every call.",
    "l2-double": "Your weight decay is twice torch's: the gradient of (weight_decay/2)*||w||^2 "
                 "is weight_decay*params, so add weight_decay*params, not 2*weight_decay*params.",
    "returns-step": "Your update returns the step instead of the new parameters: return "
                    "params minus the step (params - lr * ...), not the step alone.",
    "float32": "Your numbers are float32 (single precision), and they follow the reference "
               "only to float32's precision: the reference computes in float64. Keep params "
               "and your state in float64 (np.zeros_like(params), no astype(np.float32) or "
               "dtype=np.float32); a float32 run scores at most 90.",
}

#: Every diagnosis gdlab knows for every exercise (exercises may add their own), by id.
CATALOG: dict[str, str] = {**GENERAL, **variants.messages()}


def message(diagnosis: str, kind: str, extra: Mapping[str, str] | None = None) -> str:
    """The sentence of a diagnosis: the exercise's own, else its kind's, else gdlab's.

    Examples
    --------
    >>> message("no-op", "schedule")
    'Your learning rate is zero, so nothing moves: start from lr0.'
    """
    if extra and diagnosis in extra:
        return extra[diagnosis]
    return kinds.get(kind).messages.get(diagnosis) or CATALOG.get(diagnosis, diagnosis)


@dataclass(frozen=True)
class Candidate:
    """A known wrong rule's trajectories on an exercise's runs (None where it failed)."""

    id: str
    trajectories: tuple[Array | None, ...]


def is_no_op(trajectories: Sequence[Array | None]) -> bool:
    """True when every run ran and none ever moved (and at least one made a step)."""
    if any(t is None for t in trajectories):
        return False
    runs = [t for t in trajectories if t is not None and len(t) > 1]
    return bool(runs) and all(np.array_equal(t, np.broadcast_to(t[0], t.shape)) for t in runs)


def ignores_lr(groups: Sequence[Sequence[Array | None]]) -> bool:
    """True when every run ran and, in every case with several learning rates, all of
    them gave the same trajectory (groups: the runs of each case, one per learning rate)."""
    compared = False
    for runs in groups:
        if any(t is None for t in runs):
            return False
        present = [t for t in runs if t is not None and len(t) > 1]
        if len(present) < 2:
            continue
        compared = True
        if not all(len(t) == len(present[0]) and np.array_equal(t, present[0])
                   for t in present[1:]):
            return False
    return compared


def matches(student: Sequence[Array | None], candidate: Sequence[Array | None],
            atol: float, rtol: float) -> bool:
    """True when the candidate explains every run of the student: each run the student
    completed agrees with the candidate's step by step, each run where the student's code
    failed (None) failed for the candidate too, and at least one run was compared."""
    compared = 0
    for mine, theirs in zip(student, candidate, strict=True):
        if mine is None and theirs is None:
            continue
        if mine is None or theirs is None or len(mine) != len(theirs):
            return False
        if first_disagreement(mine, theirs, atol, rtol) is not None:
            return False
        compared += 1
    return compared > 0


def distinguishable(candidate: Sequence[Array | None], reference: Sequence[Array],
                    atol: float, rtol: float) -> bool:
    """True when a candidate differs from the reference on at least one run.

    Both must be cut by the same stopping rule (the engine's early stop, as the reference
    is): a candidate whose uncut run goes on where the reference's was stopped is not
    different for that.
    """
    return any(theirs is None or len(theirs) != len(ref)
               or first_disagreement(theirs, ref, atol, rtol) is not None
               for theirs, ref in zip(candidate, reference, strict=True))


def diagnose(
    student: Sequence[Array | None],
    groups: Sequence[Sequence[int]],
    candidates: Sequence[Candidate],
    message_of: Callable[[str], str],
    *,
    atol: float,
    rtol: float,
    float32: bool = False,
) -> list[Diagnosis]:
    """The diagnoses of a student's runs (in the order given; empty if none applies).

    Parameters
    ----------
    student : sequence
        The student's trajectory of every run (None where the run produced nothing).
    groups : sequence of sequences of int
        Run indices of each case (its learning rates), for ``lr-ignored``.
    candidates : sequence of Candidate
        Known wrong rules, already run on the same runs.
    message_of : callable
        The sentence of a diagnosis id.
    atol, rtol : float
        The exercise's tolerances.
    float32 : bool
        Every run follows the reference to float32's precision, in float32 numbers.
    """
    found = ["float32"] if float32 else []
    if is_no_op(student):
        found.append("no-op")
    elif ignores_lr([[student[i] for i in group] for group in groups]):
        found.append("lr-ignored")
    for candidate in candidates:
        if candidate.id not in found and matches(student, candidate.trajectories, atol, rtol):
            found.append(candidate.id)
    return [Diagnosis(name, message_of(name)) for name in found]
