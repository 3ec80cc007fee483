"""An exercise made ready for grading: its runs, their references, and how a run scores.

Everything here is computed once per exercise version and shared by every submission:
the reference sweep of each case, cut into runs (a case at one learning rate) with the
inputs a sandbox job needs, and the engine plan each run is judged by. Both the grader
(:class:`grader.grading.Grader`) and the exercise self-test (:mod:`grader.selfcheck`)
score a trajectory through :meth:`PreparedExercise.score`, so they can never disagree.

Examples
--------
>>> from grader.catalog import load_catalog
>>> runs, plans, groups = prepare_runs(load_catalog().get("gd"))
>>> len(runs) == sum(len(group) for group in groups), runs[0].problem.name
(True, 'linear-regression')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from grader.engine.problems import Problem
from grader.engine.runs import Plan, batch_order, execute, objective_loss, plan_run
from grader.engine.schedules import rates_by_epoch
from grader.scoring import RunScore, Trace, failed_run, judge, score_run

if TYPE_CHECKING:
    from grader.catalog import Case, Exercise
    from grader.diagnosis import Candidate

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ExerciseRun:
    """One run of an exercise: a case at one learning rate, with its inputs and its
    reference.

    ``problem`` is the problem object the run is on (its loss, gradient, data, start),
    handed to the exercise's kind as it is; ``problem_spec`` is how a sandboxed child
    rebuilds a built-in problem's gradient by name (``{"name", "options", "seed"}``; an
    exercise's own problem travels whole instead, see :mod:`grader.kinds.update_rule`).
    """

    case_index: int
    case: Case
    lr: float
    x0: Array
    step_rates: Array
    batches: list[npt.NDArray[np.int64]] | None
    problem_spec: dict[str, Any]
    reference: Trace
    problem: Problem

    def with_rates(self, step_rates: Array) -> ExerciseRun:
        """The same run with other per-step learning rates (a schedule's)."""
        return ExerciseRun(**{**self.__dict__, "step_rates": step_rates})


def trace_of(trajectory: Array, plan: Plan) -> Trace:
    """A trajectory judged as the reference is: its losses, outcome, and the engine's
    early stop where it diverges (the scoring and the diagnosis both compare this)."""
    with np.errstate(all="ignore"):
        losses = objective_loss(plan, trajectory)
    return judge(losses, trajectory, plan.target, plan.spec.tolerance)


@dataclass
class PreparedExercise:
    """An exercise made ready for grading: its runs, reference plans and candidates."""

    exercise: Exercise
    runs: list[ExerciseRun]
    plans: list[Plan]
    groups: list[list[int]]
    candidates: list[Candidate] = field(default_factory=list)

    def plan_of(self, run: ExerciseRun) -> Plan:
        """The engine plan of a run's case (its problem, loss, minimum)."""
        return self.plans[run.case_index]

    def parts(self) -> dict[str, list[int]]:
        """The indices of the visible and of the hidden runs (each run in one job of its
        own part; a part without runs is left out)."""
        found: dict[str, list[int]] = {"visible": [], "hidden": []}
        for index, run in enumerate(self.runs):
            found["visible" if run.case.visible else "hidden"].append(index)
        return {part: indices for part, indices in found.items() if indices}

    def score(self, run: ExerciseRun, trajectory: Array | None,
              failure: str = "error") -> tuple[Trace | None, RunScore]:
        """How a run with this trajectory scores, as grading scores a student's: judged
        as the reference is (cut where it blows up) and compared with it; no trajectory
        scores as the ``failure`` verdict (``"error"``, ``"timeout"``)."""
        if trajectory is None:
            return None, failed_run(failure)
        plan = self.plan_of(run)
        student = trace_of(trajectory, plan)
        return student, score_run(student, run.reference, self.exercise.scoring, plan.target)

    def cut_like_the_reference(self, trajectories: Sequence[Array | None]
                               ) -> list[Array | None]:
        """Each run's trajectory cut by the engine's stopping rule, as the reference's is."""
        return [None if trajectory is None
                else trace_of(trajectory, self.plan_of(run)).trajectory
                for run, trajectory in zip(self.runs, trajectories, strict=True)]


def step_rates(plan: Plan, lr_index: int) -> Array:
    """The learning rate of every step of one of the plan's runs (its schedule, repeated
    over the mini-batches of each epoch)."""
    epochs = rates_by_epoch(plan.schedule, plan.schedule_options, plan.learning_rates[:, None],
                            plan.spec.epochs)[:, lr_index, 0]
    return np.repeat(epochs, plan.steps_per_epoch)


def prepare_runs(exercise: Exercise) -> tuple[list[ExerciseRun], list[Plan], list[list[int]]]:
    """Every case's reference sweep, cut into runs with everything a job needs; the
    plans (one per case) and the run indices of each case."""
    runs: list[ExerciseRun] = []
    plans, groups = [], []
    for case_index, case in enumerate(exercise.cases):
        plan = plan_run(exercise.reference_spec(case))
        sweep = execute(plan)
        plans.append(plan)
        batches = list(batch_order(plan)) if plan.steps_per_epoch > 1 else None
        spec = {"name": case.problem, "options": dict(plan.spec.problem_options),
                "seed": case.seed}
        group = []
        for lr_index, reference in enumerate(sweep.runs):
            group.append(len(runs))
            runs.append(ExerciseRun(
                case_index=case_index, case=case, lr=reference.lr,
                x0=plan.starts[lr_index].copy(), step_rates=step_rates(plan, lr_index),
                batches=batches, problem_spec=spec,
                reference=Trace(reference.trajectory, reference.recorded_losses,
                                reference.outcome, reference.steps_to_tolerance),
                problem=plan.problem,
            ))
        groups.append(group)
    return runs, plans, groups


def prepare_exercise(exercise: Exercise) -> PreparedExercise:
    """The exercise's runs, plans and groups, without candidates of diagnosis (the
    grader adds those: the exercise's own mistakes run in its sandbox)."""
    return PreparedExercise(exercise, *prepare_runs(exercise))
