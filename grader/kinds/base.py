"""What every exercise kind provides: :class:`Kind`, and the pieces kinds share.

A kind is asked, in the grader's pipeline (prepare -> job -> sandbox -> trajectories ->
score -> diagnose):

- for its **contract**: the function a student writes (:attr:`Kind.entry`), the
  arguments it receives (:attr:`Kind.params`, then the case's hyper-parameters), and
  the engine optimizer its reference runs (:meth:`Kind.reference_optimizer`);
- for the **job** that runs a student's code on some runs (:meth:`Kind.job`, typed
  inputs in) and for each run's **trajectory** from what came back
  (:meth:`Kind.trajectories`, the checked arrays read by name in one place);
- for its **candidate mistakes**: gdlab's own wrong rules, run in process
  (:meth:`Kind.candidates`; :meth:`Kind.trusted_mistakes` for the self-test), and the
  words of a diagnosis where this kind needs its own (:attr:`Kind.messages`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from grader.kinds.wire import run_arrays
from grader.sandbox.client import Job, JobResult
from grader.sandbox.static import Contract

if TYPE_CHECKING:
    from grader.catalog import Exercise
    from grader.preparation import ExerciseRun, PreparedExercise

Array = npt.NDArray[np.float64]
Rule = Callable[..., Array]
Trajectories = list[Array | None]


class Kind(ABC):
    """One kind of exercise (see the module docstring). Subclasses set :attr:`name`,
    :attr:`entry` and :attr:`params` and implement the abstract methods."""

    #: The kind's name in ``exercise.toml`` and on the sandbox's wire.
    name: ClassVar[str]
    #: The function the student writes.
    entry: ClassVar[str]
    #: Its positional arguments (the case's hyper-parameters follow as keywords).
    params: ClassVar[tuple[str, ...]]
    #: Where this kind needs other words for a diagnosis than gdlab's general ones.
    messages: ClassVar[Mapping[str, str]] = {}

    def contract(self, hyper_names: Iterable[str]) -> Contract:
        """How the student's function is called when the cases pass ``hyper_names``."""
        return Contract(self.entry, self.params, tuple(hyper_names))

    def reference_optimizer(self, exercise: Exercise,
                            hyper: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The engine optimizer and its settings that a case's reference runs, given the
        case's hyper-parameters: plain gradient descent unless the kind grades an
        optimizer."""
        return "sgd", {}

    @abstractmethod
    def job(self, code: str, runs: Sequence[ExerciseRun]) -> Job:
        """The sandbox job that runs ``code`` on ``runs``."""

    def trajectories(self, runs: Sequence[ExerciseRun], result: JobResult) -> Trajectories:
        """Each run's parameter trajectory from a job's result (None where the run
        failed, or where what came back does not fit the run: the work done here never
        exceeds the exercise's own size)."""
        found: Trajectories = []
        for index, (report, run) in enumerate(zip(result.runs, runs, strict=False)):
            arrays = run_arrays(result.arrays, self.name, index)
            found.append(None if report.stopped == "error" else self.trajectory(run, arrays))
        return found + [None] * (len(runs) - len(found))

    @abstractmethod
    def trajectory(self, run: ExerciseRun, arrays: Mapping[str, Array]) -> Array | None:
        """One run's trajectory from its returned arrays (by prefix), or None."""

    @abstractmethod
    def candidates(self, prepared: PreparedExercise) -> dict[str, Trajectories]:
        """gdlab's own wrong rules for the exercise, run in process on every run: each
        one's trajectories, by diagnosis id (uncut; the grader cuts and filters them)."""

    def trusted_mistakes(self, exercise: Exercise) -> dict[str, Rule]:
        """Wrong update rules, besides ``no-op``, that the self-test runs in process
        (:func:`grader.kinds.update_rule.in_process`) to check that the hidden cases
        separate them, by diagnosis id."""
        return {}


def fitting_trajectory(run: ExerciseRun, trajectory: Array | None) -> Array | None:
    """``trajectory`` if it is one the run can have: a matrix of at most one row more
    than the run's steps, as wide as its parameters; else None."""
    fits = (trajectory is not None and trajectory.ndim == 2
            and 0 < len(trajectory) <= len(run.step_rates) + 1
            and trajectory.shape[1] == run.x0.size)
    return trajectory if fits else None


def sign_flip(reference: Rule) -> Rule:
    """The reference with the step's sign flipped: it climbs the loss."""
    def rule(params, grad, lr, state, **hyper):
        return 2 * params - reference(params, grad, lr, state, **hyper)

    return rule


def state_reset(reference: Rule) -> Rule:
    """The reference with its state forgotten at every step."""
    def rule(params, grad, lr, state, **hyper):
        return reference(params, grad, lr, {}, **hyper)

    return rule


def returns_step(reference: Rule) -> Rule:
    """The reference returning its step instead of the new parameters."""
    def rule(params, grad, lr, state, **hyper):
        start = params.copy()
        return reference(params, grad, lr, state, **hyper) - start

    return rule
