"""The reference gradient-descent engine: problems, optimizers, schedules, regularisers,
runs and learning-rate sweeps. numpy only, float64, deterministic.

Names are loaded on first use (PEP 562): the sandbox imports ``grader.engine.problems``
to compute gradients for update-rule exercises, and must do so without bringing the
reference optimizers (what those exercises grade) into its memory.

Examples
--------
>>> from grader.engine import RunSpec, sweep
>>> spec = RunSpec(problem="quadratic", optimizer="sgd", learning_rates=[0.05, 0.1], epochs=400)
>>> result = sweep(spec)
>>> [run.outcome for run in result.runs]
['converged', 'diverged']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "SpecError": "options",
    "Option": "options",
    "OPTIMIZERS": "optimizers",
    "OptimizerDef": "optimizers",
    "get_optimizer": "optimizers",
    "OUTCOMES": "outcomes",
    "PROBLEMS": "problems",
    "Problem": "problems",
    "make_problem": "problems",
    "CLIPS": "regularizers",
    "REGULARIZER_NAMES": "regularizers",
    "ENGINE_VERSION": "runs",
    "Component": "runs",
    "RunResult": "runs",
    "RunSpec": "runs",
    "SweepResult": "runs",
    "plan_run": "runs",
    "run": "runs",
    "sweep": "runs",
    "versions": "runs",
    "ComposedRule": "rules",
    "compose": "rules",
    "SCHEDULES": "schedules",
    "Stability": "stability",
}

__all__ = [  # noqa: RUF022 (grouped as _WHERE)
    "CLIPS", "ENGINE_VERSION", "OPTIMIZERS", "OUTCOMES", "PROBLEMS", "REGULARIZER_NAMES",
    "SCHEDULES", "ComposedRule", "Component", "Option", "OptimizerDef", "Problem", "RunResult",
    "RunSpec", "SpecError", "Stability", "SweepResult", "compose", "get_optimizer",
    "make_problem", "plan_run", "run", "sweep", "versions",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'grader.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"grader.engine.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


if TYPE_CHECKING:
    from grader.engine.optimizers import OPTIMIZERS, OptimizerDef, get_optimizer
    from grader.engine.options import Option, SpecError
    from grader.engine.outcomes import OUTCOMES
    from grader.engine.problems import PROBLEMS, Problem, make_problem
    from grader.engine.regularizers import CLIPS, REGULARIZER_NAMES
    from grader.engine.rules import ComposedRule, compose
    from grader.engine.runs import (
        ENGINE_VERSION,
        Component,
        RunResult,
        RunSpec,
        SweepResult,
        plan_run,
        run,
        sweep,
        versions,
    )
    from grader.engine.schedules import SCHEDULES
    from grader.engine.stability import Stability
