"""What each kind's sandbox job takes and returns, as it travels: typed run inputs in,
named float64 arrays per run out.

This is the one place that knows how a run's arrays are named on the wire (``x0_0``,
``trajectory_0``, ``rates_2``...) and what shape each may have:

- a job's runs are typed inputs (:class:`UpdateRuleRun`, :class:`GradientRun`,
  :class:`ScheduleRun`), encoded into the job's header and arrays by :data:`ENCODERS`
  (what :class:`grader.sandbox.client.Job` sends) and read back by the harness in the
  child through :func:`array_name`;
- the harness writes each run's results through :func:`array_name`, the result check
  (:mod:`grader.sandbox.results`) allows exactly :data:`RETURNS`, and the grader reads
  them back per run with :func:`run_arrays`.

Imported inside sandboxed children: numpy and the standard library only, nothing of a
reference.

Examples
--------
>>> array_name("trajectory", 3)
'trajectory_3'
>>> run_arrays({"trajectory_0": 1, "gradients_0": 2, "trajectory_1": 3}, "gradient", 0)
{'trajectory': 1, 'gradients': 2}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class ArraySpec:
    """An array a kind's harness returns per run: ``<prefix>_<run>``, with one row per
    completed step plus ``extra_rows``, and ``dim`` columns if it is a matrix."""

    prefix: str
    extra_rows: int
    matrix: bool


@dataclass(frozen=True)
class RunShape:
    """What one run of a job asked for: ``steps`` (updates, or epochs of a schedule) and
    ``dim`` parameters (0 for a schedule, whose rates are one number per epoch)."""

    steps: int
    dim: int


#: What each kind returns per run (see :mod:`grader.sandbox.harness`).
RETURNS: dict[str, tuple[ArraySpec, ...]] = {
    "update_rule": (ArraySpec("trajectory", 1, True),),
    "gradient": (ArraySpec("trajectory", 1, True), ArraySpec("gradients", 0, True)),
    "schedule": (ArraySpec("rates", 0, False),),
}


def array_name(prefix: str, run: int) -> str:
    """The wire name of run ``run``'s array ``prefix``."""
    return f"{prefix}_{run}"


def run_arrays(arrays: Mapping[str, Any], kind: str, run: int) -> dict[str, Any]:
    """The arrays of one run of a ``kind`` job, by prefix (those present)."""
    return {spec.prefix: arrays[array_name(spec.prefix, run)] for spec in RETURNS[kind]
            if array_name(spec.prefix, run) in arrays}


def _stepped(header: Mapping[str, Any], arrays: Mapping[str, Any]) -> tuple[RunShape, ...]:
    """Runs that step parameters: as many steps as per-step rates, the start's size."""
    return tuple(RunShape(int(np.size(arrays[array_name("lrs", index)])),
                          int(np.size(arrays[array_name("x0", index)])))
                 for index in range(len(header.get("runs") or ())))


def _epochs(header: Mapping[str, Any], arrays: Mapping[str, Any]) -> tuple[RunShape, ...]:
    """Runs of a schedule: one rate per epoch, no parameters."""
    return tuple(RunShape(int(run["epochs"]), 0) for run in header["runs"])


_SHAPES = {"update_rule": _stepped, "gradient": _stepped, "schedule": _epochs}


def run_shapes(kind: str, header: Mapping[str, Any],
               arrays: Mapping[str, Any]) -> tuple[RunShape, ...]:
    """What each run of a ``kind`` job with this header and these arrays asks for.

    Examples
    --------
    >>> run_shapes("schedule", {"runs": [{"epochs": 5}]}, {})
    (RunShape(steps=5, dim=0),)
    """
    return _SHAPES[kind](header, arrays)


# --- what a job takes ---------------------------------------------------------------------


@dataclass(frozen=True)
class SteppedRun:
    """One run that steps parameters: its start ``x0``, one learning rate per step
    ``lrs``, the case's ``hyper``-parameters and the sample indices of every step
    (``batches``; None: every step sees all the data)."""

    x0: npt.ArrayLike
    lrs: npt.ArrayLike
    hyper: Mapping[str, Any] = field(default_factory=dict)
    batches: Sequence[npt.ArrayLike] | None = None


@dataclass(frozen=True)
class UpdateRuleRun(SteppedRun):
    """A run of an update-rule job: the child computes the gradient of ``problem`` (a
    ``{"name", "options", "seed"}`` spec, or an exercise's own problem as
    :func:`grader.engine.custom.job_spec` writes it; None: the job's problem)."""

    problem: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class GradientRun(SteppedRun):
    """A run of a gradient job, on its own data ``X`` and ``y`` (None: the job's)."""

    X: npt.ArrayLike | None = None
    y: npt.ArrayLike | None = None


@dataclass(frozen=True)
class ScheduleRun:
    """A run of a schedule job: the first learning rate and the number of epochs."""

    lr0: float
    epochs: int
    hyper: Mapping[str, Any] = field(default_factory=dict)


def typed(kind: type, run: Any) -> Any:
    """``run`` as the typed input ``kind`` (a mapping's unknown keys are refused).

    Examples
    --------
    >>> typed(ScheduleRun, {"lr0": 0.1, "epochs": 3})
    ScheduleRun(lr0=0.1, epochs=3, hyper={})
    """
    if isinstance(run, kind):
        return run
    known = {item.name for item in fields(kind)}
    unknown = set(run) - known
    if unknown:
        raise ValueError(f"a {kind.__name__} has no {', '.join(sorted(unknown))}")
    return kind(**run)


def _stepped_arrays(runs: Sequence[SteppedRun]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The arrays (start, rates, batches) and JSON specs (hyper) of a job's runs; batches
    travel as one flat index array and offsets, since an epoch's last one may be short."""
    arrays: dict[str, Any] = {}
    specs = []
    for index, run in enumerate(runs):
        arrays[array_name("x0", index)] = np.asarray(run.x0, dtype=np.float64)
        arrays[array_name("lrs", index)] = np.asarray(run.lrs, dtype=np.float64)
        if run.batches is not None:
            batches = [np.asarray(batch, dtype=np.int64) for batch in run.batches]
            arrays[array_name("batch_indices", index)] = (
                np.concatenate(batches) if batches else np.zeros(0, dtype=np.int64))
            arrays[array_name("batch_offsets", index)] = np.cumsum([0, *map(len, batches)])
        specs.append({"hyper": dict(run.hyper or {})})
    return arrays, specs


Encoded = tuple[dict[str, Any], dict[str, Any]]


def encode_update_rule(runs: Sequence[Any],
                       problem: Mapping[str, Any] | None = None) -> Encoded:
    """An update-rule job's header and arrays: each run's problem is sent once, by index."""
    runs = [typed(UpdateRuleRun, run) for run in runs]
    arrays, specs = _stepped_arrays(runs)
    problems: list[dict[str, Any]] = []
    for run, spec in zip(runs, specs, strict=True):
        wanted = dict(run.problem or problem or {})
        if not wanted:
            raise ValueError("every run of an update-rule job needs a problem")
        if wanted not in problems:
            problems.append(wanted)
        spec["problem"] = problems.index(wanted)
    return {"problems": problems, "runs": specs}, arrays


def encode_gradient(runs: Sequence[Any], X: npt.ArrayLike | None = None,
                    y: npt.ArrayLike | None = None) -> Encoded:
    """A gradient job's header and arrays: each run's data, or the job's."""
    runs = [typed(GradientRun, run) for run in runs]
    arrays, specs = _stepped_arrays(runs)
    if X is not None:
        arrays.update({"X": np.asarray(X, dtype=np.float64), "y": np.asarray(y, dtype=np.float64)})
    for index, run in enumerate(runs):
        if run.X is not None:
            arrays[array_name("X", index)] = np.asarray(run.X, dtype=np.float64)
            arrays[array_name("y", index)] = np.asarray(run.y, dtype=np.float64)
    return {"runs": specs}, arrays


def encode_schedule(runs: Sequence[Any]) -> Encoded:
    """A schedule job's header (a schedule job has no arrays)."""
    runs = [typed(ScheduleRun, run) for run in runs]
    return {"runs": [{"lr0": float(run.lr0), "epochs": int(run.epochs),
                      "hyper": dict(run.hyper or {})} for run in runs]}, {}


#: kind -> the encoder of its job's runs (and job-wide inputs) into header and arrays.
ENCODERS: dict[str, Callable[..., Encoded]] = {
    "update_rule": encode_update_rule,
    "gradient": encode_gradient,
    "schedule": encode_schedule,
}
