"""The ``update_rule`` kind: the student writes one step of an optimizer.

Contract: ``update(params, grad, lr, state, **hyper) -> new params``, called once per
step with the reference gradient of the case's problem at ``params``; ``state`` is a
dict the grader keeps between the steps of a run. The reference is the exercise's
engine optimizer (with its regulariser and clipping, composed as the engine does), and
the candidates of diagnosis are generic distortions of it plus the engine's classic
variants (:data:`grader.engine.variants.VARIANTS`).

:func:`in_process` runs a trusted rule (gdlab's own: the reference, a variant) through
the very loop the sandbox runs a student's in, so their trajectories are comparable
bit for bit. The other kinds use it too, to step gradient descent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from grader.engine import variants
from grader.engine.custom import job_spec
from grader.engine.optimizers import get_optimizer
from grader.engine.regularizers import make_clip, make_regularizer
from grader.engine.rules import compose
from grader.kinds.base import (
    Array,
    Kind,
    Rule,
    Trajectories,
    fitting_trajectory,
    returns_step,
    sign_flip,
    state_reset,
)
from grader.kinds.wire import UpdateRuleRun, array_name
from grader.sandbox import harness
from grader.sandbox.client import Job

if TYPE_CHECKING:
    from grader.catalog import Exercise
    from grader.preparation import ExerciseRun, PreparedExercise


def job_run(run: ExerciseRun) -> UpdateRuleRun:
    """A run as an update-rule job takes it: start, per-step rates, hyper-parameters,
    mini-batches and the problem whose gradient the child computes: a built-in one by
    name, options and seed; an exercise's own whole (its data, or its module's source:
    the child cannot read the exercise's files), see :func:`grader.engine.custom.job_spec`."""
    return UpdateRuleRun(x0=run.x0, lrs=run.step_rates, hyper=dict(run.case.hyper),
                         batches=run.batches,
                         problem=job_spec(run.problem) or run.problem_spec)


def in_process(rule: Rule, runs: Sequence[ExerciseRun]) -> Trajectories:
    """Trajectories of a trusted rule (gdlab's own) on the runs, through the same loop the
    sandbox uses for students (None where the rule raised)."""
    job = Job.update_rule("", runs=[job_run(run) for run in runs])
    decoded_arrays = {name: np.asarray(value) for name, value in job.arrays.items()}
    gradients = harness.prepare_update_rule(dict(job.header), decoded_arrays)
    outputs, arrays = harness.execute_update_rule(dict(job.header), decoded_arrays, rule,
                                                  gradients, lambda error: {"error": repr(error)})
    return [arrays.get(array_name("trajectory", i)) if run["stopped"] != "error" else None
            for i, run in enumerate(outputs["runs"])]


def plain_gd(params: Array, grad: Array, lr: float, state: dict, **hyper: Any) -> Array:
    """Gradient descent's step: what the gradient and schedule kinds are stepped with."""
    return params - lr * grad


def reference_rule(exercise: Exercise) -> Rule:
    """The exercise's reference as an update rule with the students' contract: the
    engine's composed rule (:func:`grader.engine.rules.compose`, the run loop's own), with
    the case's hyper-parameters filled in at the first call."""
    reference = exercise.reference
    optimizer = get_optimizer(reference.optimizer)

    def update(params: Array, grad: Array, lr: float, state: dict, **hyper: Any) -> Array:
        from grader.catalog.model import substitute  # noqa: PLC0415

        if "optimizer" not in state:
            settings = optimizer.resolve(substitute(reference.hyper, hyper, "reference.hyper"))
            regularizer_part = reference.component("regularizer", hyper)
            clip_part = reference.component("clip", hyper)
            state["rule"] = compose(
                optimizer, settings,
                make_regularizer(regularizer_part.name, regularizer_part.options),
                make_clip(clip_part.name, clip_part.options))
            state["optimizer"] = state["rule"].init(params)
        return state["rule"].update(params, grad, lr, state["optimizer"])

    return update


def _coupled_l2_name(exercise: Exercise) -> str | None:
    """The student hyper-parameter that is a coupled L2 strength, if there is one."""
    reference = exercise.reference
    value = reference.hyper.get("weight_decay")
    coupled = reference.optimizer in ("sgd", "adagrad", "rmsprop") or (
        reference.optimizer == "adam" and not reference.hyper.get("decoupled_weight_decay"))
    if coupled and isinstance(value, str) and value.startswith("$"):
        return value[1:]
    regularizer = reference.regularizer
    lam = regularizer.get("options", {}).get("lam")
    if regularizer.get("name") == "l2" and isinstance(lam, str) and lam.startswith("$"):
        return lam[1:]
    return None


def variant_reference(exercise: Exercise) -> variants.Reference:
    """The exercise's reference as the engine's variants ask about it."""
    reference = exercise.reference
    return variants.Reference(optimizer=reference.optimizer, hyper=dict(reference.hyper),
                              names=frozenset(exercise.hyper_names),
                              schedule=str(reference.schedule.get("name", "constant")))


def candidate_rules(exercise: Exercise) -> dict[str, Rule]:
    """Known wrong rules for an update-rule exercise: generic distortions of its
    reference and the engine's classic variants of its optimizer."""
    reference = reference_rule(exercise)
    rules: dict[str, Rule] = {"sign-flip": sign_flip(reference),
                              "state-reset": state_reset(reference),
                              "returns-step": returns_step(reference)}
    l2 = _coupled_l2_name(exercise)
    if l2 is not None:
        def l2_double(params, grad, lr, state, **hyper):
            return reference(params, grad, lr, state, **{**hyper, l2: 2 * hyper[l2]})

        rules["l2-double"] = l2_double
    return rules | variants.applicable(variant_reference(exercise))


class UpdateRule(Kind):
    """See the module docstring."""

    name = "update_rule"
    entry = "update"
    params = ("params", "grad", "lr", "state")

    def reference_optimizer(self, exercise: Exercise,
                            hyper: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The exercise's own optimizer, its settings filled in from the case."""
        from grader.catalog.model import substitute  # noqa: PLC0415

        return exercise.reference.optimizer, substitute(exercise.reference.hyper, hyper,
                                                        "reference.hyper")

    def job(self, code: str, runs: Sequence[ExerciseRun]) -> Job:
        """An update-rule job over ``runs``."""
        return Job.update_rule(code, runs=[job_run(run) for run in runs])

    def trajectory(self, run: ExerciseRun, arrays: Mapping[str, Array]) -> Array | None:
        """The run's returned trajectory, if it fits the run."""
        return fitting_trajectory(run, arrays.get("trajectory"))

    def candidates(self, prepared: PreparedExercise) -> dict[str, Trajectories]:
        """Every rule of :func:`candidate_rules`, run in process."""
        return {name: in_process(rule, prepared.runs)
                for name, rule in candidate_rules(prepared.exercise).items()}

    def trusted_mistakes(self, exercise: Exercise) -> dict[str, Rule]:
        """Every candidate of diagnosis."""
        return candidate_rules(exercise)


KIND = UpdateRule()
