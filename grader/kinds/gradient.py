"""The ``gradient`` kind: the student writes the gradient of a data problem's loss.

Contract: ``gradient(params, X, y, **hyper) -> the gradient at params``; the grader
steps gradient descent with it on the case's data (the step's mini-batch of it), so a
trajectory comes back as for an update rule, with every gradient returned. The
reference is plain gradient descent with the problem's own gradient; the candidate of
diagnosis is the gradient with the wrong sign (gradient ascent, from the engine).

The data travels in the job (:func:`job_run`): a gradient child holds no problem code,
so it has no reference gradient to find.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from grader.engine.problems import Problem
from grader.engine.runs import execute, plan_run
from grader.kinds import update_rule
from grader.kinds.base import Array, Kind, Rule, Trajectories, fitting_trajectory, sign_flip
from grader.kinds.wire import GradientRun
from grader.sandbox.client import Job

if TYPE_CHECKING:
    from grader.catalog import Exercise
    from grader.preparation import ExerciseRun, PreparedExercise


def problem_data(problem: Problem) -> tuple[Array, Array]:
    """The data a gradient exercise hands the student: inputs X and targets y (the
    problem's own :meth:`~grader.engine.problems.Problem.exercise_data`, so an exercise's
    own data set needs nothing here)."""
    return problem.exercise_data()


def job_run(run: ExerciseRun) -> GradientRun:
    """A run as a gradient job takes it: start, per-step rates, hyper-parameters,
    mini-batches and the data of the problem object the run is on (never the problem
    itself: a gradient child holds no reference gradient)."""
    X, y = problem_data(run.problem)
    return GradientRun(x0=run.x0, lrs=run.step_rates, hyper=dict(run.case.hyper),
                       batches=run.batches, X=X, y=y)


def ascending(prepared: PreparedExercise) -> Trajectories:
    """Gradient descent uphill (a gradient with the wrong sign), from the engine."""
    trajectories: Trajectories = []
    for plan in prepared.plans:
        ascent = plan_run(replace(plan.spec, hyper={"maximize": True}))
        trajectories += [run.trajectory for run in execute(ascent).runs]
    return trajectories


class Gradient(Kind):
    """See the module docstring."""

    name = "gradient"
    entry = "gradient"
    params = ("params", "X", "y")
    messages = MappingProxyType({
        "no-op": "Your gradient is zero everywhere, so gradient descent never moves: compute "
                 "the derivative of the loss with respect to every parameter.",
        "sign-flip": "Your gradient points downhill, so gradient descent climbs the loss: "
                     "check the sign of each term (the gradient points uphill).",
    })

    def job(self, code: str, runs: Sequence[ExerciseRun]) -> Job:
        """A gradient job over ``runs``, each with its own data."""
        return Job.gradient(code, runs=[job_run(run) for run in runs])

    def trajectory(self, run: ExerciseRun, arrays: Mapping[str, Array]) -> Array | None:
        """The run's returned trajectory, if it fits the run."""
        return fitting_trajectory(run, arrays.get("trajectory"))

    def candidates(self, prepared: PreparedExercise) -> dict[str, Trajectories]:
        """Gradient ascent."""
        return {"sign-flip": ascending(prepared)}

    def trusted_mistakes(self, exercise: Exercise) -> dict[str, Rule]:
        """The wrong sign, as an update rule."""
        return {"sign-flip": sign_flip(update_rule.reference_rule(exercise))}


KIND = Gradient()
