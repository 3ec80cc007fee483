"""Runs and learning-rate sweeps: the reference engine's one entry point.

A :class:`RunSpec` names a problem, an optimizer with its hyper-parameters, a schedule, a
regulariser, gradient clipping, learning rates, epochs, a starting mode and a seed.
:func:`sweep` validates it and runs every learning rate, returning the parameters and the
loss at every step (the loss recorded *before* each update, as in the course script),
the outcome of each run and, for problems with a constant Hessian, the stability facts.

The learning rates of a sweep are stepped together, one row each, which is several times
faster than running them one by one and gives the very same bytes (every operation is
elementwise or reduces along a row). A row is stopped early when it diverges; numpy's
floating-point warnings are silenced for the whole loop, and nothing non-finite is ever
recorded, so results are always valid JSON. Runs are deterministic.

Examples
--------
>>> result = sweep(RunSpec(init="legacy"))          # the course example
>>> [run.outcome for run in result.runs]
['max-steps', 'max-steps', 'converged']
>>> round(float(result.runs[2].losses[-1]), 6)
0.008149
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from grader.engine import outcomes
from grader.engine.optimizers import OptimizerDef, get_optimizer
from grader.engine.options import OptionValue, SpecError, resolve_options
from grader.engine.problems import INIT_MODES, Problem, make_problem
from grader.engine.regularizers import Clip, Regularizer, make_clip, make_regularizer
from grader.engine.rules import ComposedRule, compose
from grader.engine.schedules import ScheduleDef, get_schedule, rates_by_epoch
from grader.engine.stability import Stability, stability_facts

Array = npt.NDArray[np.float64]

#: Bumped whenever a change could alter any number the engine produces.
ENGINE_VERSION = "1.0.0"
#: The course script's learning rates and epochs: the default sweep.
SEED_LEARNING_RATES = (0.01, 0.1, 0.5)
SEED_EPOCHS = 100
DEFAULT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Component:
    """A named, optional part of a run (schedule, regulariser, clipping) with its options.

    Examples
    --------
    >>> Component("cosine", {"T_max": 100})
    Component(name='cosine', options={'T_max': 100})
    """

    name: str
    options: Mapping[str, OptionValue] = field(default_factory=dict)


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines a sweep. Defaults give the course example.

    Parameters
    ----------
    problem, problem_options : str, mapping
        A problem of :data:`grader.engine.problems.PROBLEMS` and its settings.
    optimizer, hyper : str, mapping
        An optimizer of :data:`grader.engine.optimizers.OPTIMIZERS` and its
        hyper-parameters (torch's names; unset ones take torch's defaults).
    learning_rates : sequence of float
        Each > 0 and finite; one run each.
    epochs : int
        Passes over the data (one step each, or one per mini-batch).
    init : {"shared", "legacy"}
        ``shared``: all runs start from the same point. ``legacy`` (linear regression
        only): each run gets its own draw, exactly as the course script.
    seed : int or None
        None: the classic problem and start. An integer draws the data, the start and the
        mini-batch order from it.
    x0 : sequence of float, optional
        An explicit start for every run (instead of ``init``/``seed``'s).
    schedule, regularizer, clip : Component
        Learning-rate schedule, regulariser and gradient clipping, each ``none``/constant
        by default.
    batch_size : int, optional
        Mini-batch size for data problems; None (or >= the data size) is full batch.
    tolerance : float
        Relative tolerance for ``converged`` and ``steps_to_tolerance``.
    """

    problem: str = "linear-regression"
    problem_options: Mapping[str, OptionValue] = field(default_factory=dict)
    optimizer: str = "sgd"
    hyper: Mapping[str, OptionValue] = field(default_factory=dict)
    learning_rates: Sequence[float] = SEED_LEARNING_RATES
    epochs: int = SEED_EPOCHS
    init: str = "shared"
    seed: int | None = None
    x0: Sequence[float] | None = None
    schedule: Component = field(default_factory=lambda: Component("constant"))
    regularizer: Component = field(default_factory=lambda: Component("none"))
    clip: Component = field(default_factory=lambda: Component("none"))
    batch_size: int | None = None
    tolerance: float = DEFAULT_TOLERANCE


@dataclass(frozen=True)
class Plan:
    """A validated :class:`RunSpec`, with every part built and every default filled in."""

    spec: RunSpec
    problem: Problem
    optimizer: OptimizerDef
    hyper: dict[str, Any]
    learning_rates: Array
    schedule: ScheduleDef
    schedule_options: dict[str, Any]
    regularizer: Regularizer
    clip: Clip
    starts: Array
    steps_per_epoch: int
    batch_seed: int

    @property
    def steps(self) -> int:
        """Total number of updates per run."""
        return self.spec.epochs * self.steps_per_epoch

    def canonical(self) -> dict[str, Any]:
        """The request as resolved, every default filled in: two requests that run the
        same sweep give equal dictionaries (the key of a cache of reference runs)."""
        spec = self.spec
        return {
            "problem": self.problem.name,
            "problem_options": resolve_options("problem_options", type(self.problem).options,
                                               spec.problem_options),
            "optimizer": self.optimizer.name,
            "hyper": dict(self.hyper),
            "learning_rates": self.learning_rates.tolist(),
            "epochs": spec.epochs,
            "init": spec.init,
            "seed": spec.seed,
            "x0": None if spec.x0 is None else self.starts[0].tolist(),
            "schedule": {"name": self.schedule.name, "options": dict(self.schedule_options)},
            "regularizer": {"name": self.regularizer.kind,
                            "options": self.regularizer.describe()["options"]},
            "clip": {"name": self.clip.kind, "options": dict(self.clip.options or {})},
            # a batch as large as the data is the full batch
            "batch_size": (None if self.steps_per_epoch == 1 or spec.batch_size is None
                           else spec.batch_size),
            "tolerance": float(spec.tolerance),
            "engine": ENGINE_VERSION,
            # an exercise's own problem: its data or code, so that a changed one is a new run
            **({"problem_fingerprint": self.problem.fingerprint}
               if getattr(self.problem, "fingerprint", None) else {}),
        }

    def rule(self) -> ComposedRule:
        """The plan's optimizer, regulariser and clipping as one update rule
        (:func:`grader.engine.rules.compose`)."""
        return compose(self.optimizer, self.hyper, self.regularizer, self.clip)

    @property
    def target(self) -> float | None:
        """The minimum of the recorded objective when the iteration's fixed point is that
        minimum (no regulariser, no weight decay); None selects the step criterion."""
        if self.regularizer.active or self.hyper.get("weight_decay", 0.0) != 0:
            return None
        return self.problem.minimum.value


@dataclass(frozen=True)
class RunResult:
    """One learning rate's run.

    Attributes
    ----------
    lr : float
        Initial learning rate.
    trajectory : array, shape (m, dim)
        Parameters at every recorded point: before each update, then the final point.
    recorded_losses : array, shape (m,)
        The loss at the same points.
    steps : int
        Number of updates the run was asked for.
    outcome : str
        One of :data:`grader.engine.outcomes.OUTCOMES`.
    steps_to_tolerance : int or None
        Updates made when the tolerance was first met.
    diverged_at : int or None
        Step at which the run was stopped as diverged.
    expected_stable : bool or None
        Whether theory says this lr is below the stability threshold (None: no theory).
    """

    lr: float
    trajectory: Array
    recorded_losses: Array
    steps: int
    outcome: str
    steps_to_tolerance: int | None
    diverged_at: int | None
    expected_stable: bool | None

    @property
    def losses(self) -> Array:
        """The loss before each update the run made (the course script's history)."""
        return self.recorded_losses[: self.steps]

    @property
    def params(self) -> Array:
        """The parameters before each update, aligned with :attr:`losses`."""
        return self.trajectory[: self.steps]

    @property
    def final_params(self) -> Array:
        """Parameters after the last update (the last finite point for a diverged run)."""
        return self.trajectory[-1]

    @property
    def final_loss(self) -> float | None:
        """Loss at :attr:`final_params`; None if not even the start had a finite loss."""
        return float(self.recorded_losses[-1]) if len(self.recorded_losses) else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (no NaN or infinity can occur)."""
        return {
            "lr": self.lr,
            "losses": self.losses.tolist(),
            "params": self.params.tolist(),
            "final_params": self.final_params.tolist(),
            "final_loss": self.final_loss,
            "outcome": self.outcome,
            "steps_to_tolerance": self.steps_to_tolerance,
            "diverged_at": self.diverged_at,
            "expected_stable": self.expected_stable,
        }


@dataclass(frozen=True)
class SweepResult:
    """All runs of a sweep and what is known about the problem."""

    plan: Plan
    runs: tuple[RunResult, ...]
    stability: Stability | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the request as resolved, every run, the stability facts, versions."""
        plan = self.plan
        return {
            "problem": plan.spec.problem,
            "problem_info": plan.problem.describe(),
            "optimizer": plan.optimizer.name,
            "hyper": dict(plan.hyper),
            "schedule": {"name": plan.schedule.name, "options": dict(plan.schedule_options)},
            "regularizer": plan.regularizer.describe(),
            "clip": plan.clip.describe(),
            "learning_rates": plan.learning_rates.tolist(),
            "epochs": plan.spec.epochs,
            "steps_per_epoch": plan.steps_per_epoch,
            "batch_size": plan.spec.batch_size,
            "init": plan.spec.init,
            "seed": plan.spec.seed,
            "tolerance": plan.spec.tolerance,
            "target_loss": plan.target,
            "convergence_criterion": "loss-gap" if plan.target is not None else "step",
            "runs": [run.to_dict() for run in self.runs],
            "stability": None if self.stability is None else self.stability.to_dict(),
            "versions": versions(),
        }


def versions() -> dict[str, str]:
    """What is needed to replay a result: the engine's and numpy's versions."""
    return {"engine": ENGINE_VERSION, "numpy": np.__version__}


# --- validation --------------------------------------------------------------------


def _check_learning_rates(values: Sequence[float]) -> Array:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
        raise SpecError("learning_rates", "give at least one learning rate")
    for i, lr in enumerate(values):
        if isinstance(lr, bool) or not isinstance(lr, int | float):
            raise SpecError(f"learning_rates[{i}]", f"must be a number, got {lr!r}")
        if not (math.isfinite(lr) and lr > 0):
            raise SpecError(f"learning_rates[{i}]", f"must be a finite number > 0, got {lr}")
    return np.array(values, dtype=np.float64)


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(name, f"must be a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        top = "" if high is None else f" and at most {high}"
        raise SpecError(name, f"must be at least {low}{top}, got {value}")
    return value


def _starts(spec: RunSpec, problem: Problem, lanes: int) -> Array:
    if spec.init not in INIT_MODES:
        raise SpecError("init", f"must be one of {', '.join(INIT_MODES)}, got {spec.init!r}")
    if spec.x0 is None:
        return problem.start(lanes, spec.init)
    if spec.init != "shared":
        raise SpecError("x0", "an explicit start cannot be combined with init 'legacy'")
    try:
        point = np.array(spec.x0, dtype=np.float64)
    except (TypeError, ValueError):
        raise SpecError("x0", "must be a list of numbers") from None
    if point.shape != (problem.dim,):
        raise SpecError("x0", f"{problem.name} has {problem.dim} parameters, got {point.size}")
    if not np.all(np.isfinite(point)):
        raise SpecError("x0", "must contain only finite numbers")
    return np.tile(point, (lanes, 1))


def plan_run(spec: RunSpec) -> Plan:
    """Validate ``spec`` and build every part of it.

    Raises
    ------
    SpecError
        With the offending field and a readable reason: unknown names (listing the known
        ones), wrong types, values out of range, invalid combinations.
    """
    seed = None if spec.seed is None else _check_int("seed", spec.seed, 0, 2**32 - 1)
    problem = make_problem(spec.problem, dict(spec.problem_options), seed)
    optimizer = get_optimizer(spec.optimizer)
    hyper = optimizer.resolve(dict(spec.hyper))
    learning_rates = _check_learning_rates(spec.learning_rates)
    _check_int("epochs", spec.epochs, 1)
    schedule = get_schedule(spec.schedule.name)
    schedule_options = schedule.resolve(spec.schedule.options)
    regularizer = make_regularizer(spec.regularizer.name, spec.regularizer.options)
    clip = make_clip(spec.clip.name, spec.clip.options)
    tolerance = spec.tolerance
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float):
        raise SpecError("tolerance", f"must be a number, got {tolerance!r}")
    if not 0 < tolerance < 1:
        raise SpecError("tolerance", f"must be between 0 and 1 (exclusive), got {tolerance}")
    steps_per_epoch = 1
    if spec.batch_size is not None:
        _check_int("batch_size", spec.batch_size, 1)
        if problem.n_samples is None:
            raise SpecError("batch_size", f"{problem.name} has no data to split into batches")
        steps_per_epoch = math.ceil(problem.n_samples / min(spec.batch_size, problem.n_samples))
    return Plan(
        spec=spec,
        problem=problem,
        optimizer=optimizer,
        hyper=hyper,
        learning_rates=learning_rates,
        schedule=schedule,
        schedule_options=schedule_options,
        regularizer=regularizer,
        clip=clip,
        starts=_starts(spec, problem, len(learning_rates)),
        steps_per_epoch=steps_per_epoch,
        batch_seed=0 if seed is None else seed,
    )


# --- the loop ----------------------------------------------------------------------


def batch_order(plan: Plan) -> Iterator[npt.NDArray[np.intp] | None]:
    """Sample indices of every step in order: None (all data) for full batch, else a
    fresh seeded permutation each epoch, cut into batches (the last one may be short)."""
    if plan.steps_per_epoch == 1:
        for _ in range(plan.spec.epochs):
            yield None
        return
    size = plan.problem.n_samples
    batch_size = plan.spec.batch_size
    rng = np.random.default_rng([plan.batch_seed, 2])
    for _ in range(plan.spec.epochs):
        order = rng.permutation(size)
        for first in range(0, size, batch_size):
            yield order[first : first + batch_size]


def objective_loss(plan: Plan, theta: Array) -> Array:
    """The recorded objective at ``theta`` (shape ``(..., dim)``): the problem's loss plus
    the regulariser's penalty."""
    loss = plan.problem.loss(theta)
    return loss + plan.regularizer.penalty(theta) if plan.regularizer.active else loss


def execute(plan: Plan) -> SweepResult:
    """Run every learning rate of a validated plan together; see the module docstring."""
    lanes, dim = plan.starts.shape
    steps = plan.steps
    trajectory = np.empty((steps + 1, lanes, dim))
    losses = np.empty((steps + 1, lanes))
    recorded = np.full(lanes, steps + 1)
    stopped_at = np.full(lanes, -1)
    active = np.ones(lanes, dtype=bool)
    rates = rates_by_epoch(
        plan.schedule, plan.schedule_options, plan.learning_rates[:, None], plan.spec.epochs
    )
    regularizer = plan.regularizer
    loss_and_grad = plan.problem.loss_and_grad
    # Resolved once: the loop below runs up to 10^5 times and most runs use no penalty.
    penalty = regularizer.penalty if regularizer.active else None
    rule = plan.rule()
    theta = plan.starts.copy()
    state = rule.init(theta)
    batches = batch_order(plan)
    limit = None
    all_active = True
    with np.errstate(all="ignore"):
        for step in range(steps + 1):
            batch = next(batches) if step < steps else None
            loss, grad = loss_and_grad(theta, batch)
            if penalty is not None:
                loss = loss + penalty(theta)
            trajectory[step], losses[step] = theta, loss
            if limit is None:
                limit = outcomes.divergence_limit(loss, plan.target)
            ok = outcomes.within_limit(loss, limit)
            if not ok.all():
                bad = active & ~ok
                if bad.any():
                    recorded[bad] = np.where(np.isfinite(loss[bad]), step + 1, step)
                    stopped_at[bad] = step
                    active &= ~bad
                    all_active = False
                    if not active.any():
                        break
            if step == steps:
                break
            lr = rates[step // plan.steps_per_epoch]
            new_theta = rule.update(theta, grad, lr, state)
            theta = new_theta if all_active else np.where(active[:, None], new_theta, theta)
    stability = stability_facts(plan.problem, plan.optimizer, plan.hyper, regularizer)
    runs = tuple(
        _run_result(
            plan=plan,
            lane=lane,
            trajectory=trajectory,
            losses=losses,
            count=int(recorded[lane]),
            stopped_at=int(stopped_at[lane]),
            stability=stability,
        )
        for lane in range(lanes)
    )
    return SweepResult(plan, runs, stability)


def _run_result(
    *,
    plan: Plan,
    lane: int,
    trajectory: Array,
    losses: Array,
    count: int,
    stopped_at: int,
    stability: Stability | None,
) -> RunResult:
    lane_trajectory = np.ascontiguousarray(trajectory[:count, lane])
    lane_losses = np.ascontiguousarray(losses[:count, lane])
    if count == 0:  # not even the start had a finite loss: keep the start, no losses
        lane_trajectory = plan.starts[lane : lane + 1].copy()
    outcome = outcomes.classify(
        lane_losses,
        lane_trajectory,
        target=plan.target,
        tolerance=plan.spec.tolerance,
        stopped_as_diverged=stopped_at >= 0,
    )
    lr = float(plan.learning_rates[lane])
    expected_stable = None
    has_threshold = stability is not None and stability.max_stable_lr is not None
    if has_threshold and plan.schedule.name == "constant":
        expected_stable = lr < stability.max_stable_lr
    return RunResult(
        lr=lr,
        trajectory=lane_trajectory,
        recorded_losses=lane_losses,
        steps=plan.steps,
        outcome=outcome.name,
        steps_to_tolerance=outcome.steps_to_tolerance,
        diverged_at=stopped_at if stopped_at >= 0 else None,
        expected_stable=expected_stable,
    )


def sweep(spec: RunSpec | None = None) -> SweepResult:
    """Validate ``spec`` (default: the course example) and run all its learning rates.

    Raises
    ------
    SpecError
        If the request is invalid; nothing is run then.
    """
    return execute(plan_run(spec or RunSpec()))


def run(spec: RunSpec) -> RunResult:
    """Run a spec with exactly one learning rate and return that run."""
    if len(spec.learning_rates) != 1:
        raise SpecError("learning_rates", "run() takes exactly one learning rate; use sweep()")
    return sweep(spec).runs[0]
