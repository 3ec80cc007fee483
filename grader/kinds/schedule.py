"""The ``schedule`` kind: the student writes a learning-rate schedule.

Contract: ``lr_at(epoch, lr0, **hyper) -> the learning rate of that epoch`` (epochs
count from 0). The sandbox returns the rates; gradient descent with them, on the case's
problem, run here with gdlab's own plain GD, gives the trajectory that is scored. The
reference is plain gradient descent under the exercise's engine schedule; the
candidates of diagnosis are the engine's classic variants of that schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from grader.engine import variants
from grader.kinds import update_rule
from grader.kinds.base import Array, Kind, Trajectories
from grader.kinds.wire import ScheduleRun
from grader.sandbox.client import Job

if TYPE_CHECKING:
    from grader.catalog import Exercise
    from grader.preparation import ExerciseRun, PreparedExercise


def descend_with(run: ExerciseRun, rates: Array) -> Array | None:
    """Gradient descent on the run's problem with one learning rate per epoch."""
    per_step = np.repeat(rates, len(run.step_rates) // run.case.epochs)
    return update_rule.in_process(update_rule.plain_gd, [run.with_rates(per_step)])[0]


def scheduled_trajectories(rule: Callable[..., float], exercise: Exercise,
                           runs: Sequence[ExerciseRun]) -> Trajectories:
    """Gradient descent with the learning rates of a trusted schedule rule (gdlab's own
    variants), as a student's rates are graded."""
    trajectories: Trajectories = []
    for run in runs:
        options = exercise.reference.component("schedule", run.case.hyper).options
        rates = np.array([rule(epoch, run.lr, **options) for epoch in range(run.case.epochs)])
        trajectories.append(descend_with(run, rates))
    return trajectories


class Schedule(Kind):
    """See the module docstring."""

    name = "schedule"
    entry = "lr_at"
    params = ("epoch", "lr0")
    messages = MappingProxyType(
        {"no-op": "Your learning rate is zero, so nothing moves: start from lr0."})

    def job(self, code: str, runs: Sequence[ExerciseRun]) -> Job:
        """A schedule job: each run's first rate, epochs and hyper-parameters."""
        return Job.schedule(code, runs=[ScheduleRun(lr0=run.lr, epochs=run.case.epochs,
                                                    hyper=dict(run.case.hyper))
                                        for run in runs])

    def trajectory(self, run: ExerciseRun, arrays: Mapping[str, Array]) -> Array | None:
        """Gradient descent with the returned rates, if they fit the run."""
        rates = arrays.get("rates")
        if rates is None or rates.shape != (run.case.epochs,) or not np.all(np.isfinite(rates)):
            return None
        return descend_with(run, rates)

    def candidates(self, prepared: PreparedExercise) -> dict[str, Trajectories]:
        """The engine's variants of the exercise's schedule."""
        exercise = prepared.exercise
        found = variants.applicable(update_rule.variant_reference(exercise), "schedule")
        return {name: scheduled_trajectories(rule, exercise, prepared.runs)
                for name, rule in found.items()}


KIND = Schedule()
