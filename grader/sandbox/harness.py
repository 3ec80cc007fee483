"""The loops that call a student's entry point, inside the sandboxed child.

A job names a *kind*; each kind is a pair ``prepare(job) -> context`` (run before the
child isolates itself, so it may import what it needs) and ``execute(job, entry,
context) -> (outputs, arrays)`` (run after, with the student's function). Everything the
student's code returns is turned into float64 arrays here; what those arrays mean (a
score, a verdict) is decided outside the sandbox.

Kinds
-----
``update_rule``
    For each run: ``params = x0``; at each step the *reference gradient* of the problem
    (its formula and data only: no minimum) at ``params`` (on the step's mini-batch, if
    any) is passed to ``update(params, grad, lr, state, **hyper)``, whose return value
    becomes the next ``params``. ``state`` is a dict kept between the steps of a run,
    empty at the first.
    Returns each run's trajectory. The problem's code is imported for this kind only, and
    no optimizer is: an update-rule child has no reference update rule in memory.
``gradient``
    For each run: gradient descent ``params -= lr * gradient(params, X, y, **hyper)`` on the
    data the job carries (the step's mini-batch of it, if any). Returns the trajectory and
    every gradient the student returned. No problem code is loaded: a gradient child has
    no reference gradient.
``schedule``
    For each run: ``lr_at(epoch, lr0, **hyper)`` for every epoch. Returns the rates.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from grader.kinds.wire import array_name

Array = npt.NDArray[np.float64]


class ContractViolationError(Exception):
    """The student's function returned something the contract does not allow."""


def as_vector(value: Any, dim: int, what: str) -> Array:
    """The student's return value as a float64 vector of ``dim`` entries, or
    :class:`ContractViolationError` naming both shapes.

    One rule: the value must have the parameters' shape ``(dim,)``. A numpy array of that
    shape, or a list or tuple of ``dim`` numbers, is fine (in any float or int dtype); a
    column ``(dim, 1)``, a row ``(1, dim)`` or a single number is a contract error, never
    silently reshaped.

    Examples
    --------
    >>> as_vector([1, 2.5], 2, "update")
    array([1. , 2.5])
    >>> try:
    ...     as_vector(np.ones((2, 1)), 2, "update")
    ... except ContractViolationError as error:
    ...     print(error)
    update must return an array of the parameters' shape (2,); it returned shape (2, 1)
    """
    if value is None:
        raise ContractViolationError(
            f"{what} returned None (a missing return statement?); it must return a numpy "
            f"array of the parameters' shape ({dim},)")
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ContractViolationError(
            f"{what} must return a numpy array of the parameters' shape ({dim},), got "
            f"{type(value).__name__}") from error
    if array.shape != (dim,):
        got = "a single number (shape ())" if array.ndim == 0 else f"shape {array.shape}"
        raise ContractViolationError(
            f"{what} must return an array of the parameters' shape ({dim},); it returned {got}")
    return array


def as_number(value: Any, what: str) -> float:
    """The student's return value as a float, or :class:`ContractViolationError`."""
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise ContractViolationError(
            f"{what} must return a number, got {type(value).__name__}") from error
    return number


class OutputLimitExceeded(BaseException):
    """The student's code printed more than the hard ceiling (a BaseException, so that the
    student's own ``except Exception`` cannot swallow it)."""


class _Recorder:
    """Collects one run's arrays and how far it got; rows beyond the last step are dropped.

    ``rows_offset`` says how many rows an array has beyond the number of completed steps
    (a trajectory has one more row than steps: the start).
    """

    def __init__(self, index: int) -> None:
        self.index = index
        self.steps = 0
        self.stopped: str | None = None
        self.error: dict[str, Any] | None = None
        self._arrays: dict[str, tuple[Array, int]] = {}

    def array(self, name: str, shape: tuple[int, ...], rows_offset: int) -> Array:
        """A new array reported as ``name`` of this run (:func:`~grader.kinds.wire.array_name`)."""
        array = np.zeros(shape)
        self._arrays[array_name(name, self.index)] = (array, rows_offset)
        return array

    def outputs(self) -> dict[str, Any]:
        """What the run reports in the result header."""
        return {"steps": self.steps, "stopped": self.stopped, "error": self.error}

    def arrays(self) -> dict[str, Array]:
        """The arrays, cut to the completed steps."""
        return {name: array[: self.steps + offset]
                for name, (array, offset) in self._arrays.items()}


def each_run(job: dict[str, Any], body: Callable[[_Recorder, dict[str, Any]], None],
             describe: Callable[[BaseException], dict[str, Any]]):
    """Call ``body`` for every run of ``job``; an exception ends that run (recorded through
    ``describe``) and the next run starts. Returns ``(header outputs, arrays)``."""
    outputs, arrays = [], {}
    for index, run in enumerate(job["runs"]):
        recorder = _Recorder(index)
        try:
            with np.errstate(all="ignore"):
                body(recorder, run)
        except OutputLimitExceeded:
            raise
        except BaseException as error:  # the student's code may raise anything
            recorder.stopped = "error"
            recorder.error = describe(error)
        outputs.append(recorder.outputs())
        arrays.update(recorder.arrays())
    return {"runs": outputs}, arrays


def batches(arrays: dict[str, Array], index: int, steps: int) -> list[npt.NDArray[np.int64] | None]:
    """The sample indices of run ``index`` at each step (None: all the data). Batches
    travel as one flat index array and offsets, since the last batch of an epoch may be
    short; they are cut once per run, not at every step."""
    flat = arrays.get(array_name("batch_indices", index))
    if flat is None:
        return [None] * steps
    offsets = [int(offset) for offset in arrays[array_name("batch_offsets", index)]]
    return [flat[offsets[step]:offsets[step + 1]] for step in range(steps)]


# --- update_rule -------------------------------------------------------------------------


def prepare_update_rule(job: dict[str, Any], arrays: dict[str, Array]) -> list[Any]:
    """The gradients of the job's problems (the runs say which is theirs by index).

    Only each problem's :class:`~grader.engine.problems.Gradient` is kept, and the specs
    they were built from are dropped: the student's code, which can reach every object
    of this process, finds no problem, no minimum and no Hessian. (An exercise's own
    module is the exception: its gradient keeps the module's globals; see
    :func:`grader.engine.custom.job_gradient`.)
    """
    custom = importlib.import_module("grader.engine.custom")
    specs = job.pop("problems")
    # a built-in problem by name; an exercise's own from its data or its module's source
    return [custom.job_gradient(spec, arrays) for spec in specs]


def execute_update_rule(job, arrays, entry: Callable[..., Any], gradients, describe):
    """Run ``entry`` as the update rule of every run; see the module docstring."""

    def body(rec: _Recorder, run: dict[str, Any]) -> None:
        gradient = gradients[run.get("problem", 0)]
        params = np.array(arrays[array_name("x0", rec.index)], dtype=np.float64)
        rates = arrays[array_name("lrs", rec.index)]
        hyper = dict(run.get("hyper") or {})
        trajectory = rec.array("trajectory", (len(rates) + 1, params.size), 1)
        trajectory[0] = params
        state: dict[str, Any] = {}
        for step, batch in enumerate(batches(arrays, rec.index, len(rates))):
            grad = gradient(params, batch)
            new = entry(params.copy(), grad, float(rates[step]), state, **hyper)
            params = as_vector(new, params.size, "update")
            trajectory[step + 1] = params
            rec.steps = step + 1
            if not np.isfinite(params).all():
                rec.stopped = "non-finite"
                return

    return each_run(job, body, describe)


# --- gradient ------------------------------------------------------------------------


def execute_gradient(job, arrays, entry, context, describe):
    """Gradient descent with the student's gradient; see the module docstring."""

    def body(rec: _Recorder, run: dict[str, Any]) -> None:
        X = arrays.get(array_name("X", rec.index), arrays.get("X"))
        y = arrays.get(array_name("y", rec.index), arrays.get("y"))
        params = np.array(arrays[array_name("x0", rec.index)], dtype=np.float64)
        rates = arrays[array_name("lrs", rec.index)]
        hyper = dict(run.get("hyper") or {})
        trajectory = rec.array("trajectory", (len(rates) + 1, params.size), 1)
        gradients = rec.array("gradients", (len(rates), params.size), 0)
        trajectory[0] = params
        for step, batch in enumerate(batches(arrays, rec.index, len(rates))):
            rows_X, rows_y = (X, y) if batch is None else (X[batch], y[batch])
            value = entry(params.copy(), rows_X.copy(), rows_y.copy(), **hyper)
            grad = as_vector(value, params.size, "gradient")
            gradients[step] = grad
            params = params - float(rates[step]) * grad
            trajectory[step + 1] = params
            rec.steps = step + 1
            if not (np.isfinite(params).all() and np.isfinite(grad).all()):
                rec.stopped = "non-finite"
                return

    return each_run(job, body, describe)


# --- schedule ------------------------------------------------------------------------


def execute_schedule(job, arrays, entry, context, describe):
    """The student's learning rate for every epoch; see the module docstring."""

    def body(rec: _Recorder, run: dict[str, Any]) -> None:
        lr0, epochs = float(run["lr0"]), int(run["epochs"])
        hyper = dict(run.get("hyper") or {})
        rates = rec.array("rates", (epochs,), 0)
        for epoch in range(epochs):
            rates[epoch] = as_number(entry(epoch, lr0, **hyper), "the schedule")
            rec.steps = epoch + 1
            if not math.isfinite(rates[epoch]):
                rec.stopped = "non-finite"
                return

    return each_run(job, body, describe)


def _no_context(job: dict[str, Any], arrays: dict[str, Array]) -> None:
    return None


#: Modules a kind's loop needs: the update-rule loop computes the problems' gradients.
MODULES = {"update_rule": ("grader.engine.problems", "grader.engine.custom"), "gradient": (),
           "schedule": ()}
#: Modules a kind's children must never have in memory: what that kind grades (the
#: reference optimizers, gradients, schedules) and what would compute it.
FORBIDDEN = {
    "update_rule": ("grader.engine.optimizers", "grader.engine.runs", "grader.engine.variants"),
    "gradient": ("grader.engine.problems", "grader.engine.custom", "grader.engine.runs"),
    "schedule": ("grader.engine.schedules", "grader.engine.runs"),
}


def load(kind: str) -> None:
    """Import what ``kind`` needs (a no-op where the process forking it already has)."""
    for module in MODULES[kind]:
        importlib.import_module(module)


#: kind -> (prepare, execute)
KINDS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "update_rule": (prepare_update_rule, execute_update_rule),
    "gradient": (_no_context, execute_gradient),
    "schedule": (_no_context, execute_schedule),
}
