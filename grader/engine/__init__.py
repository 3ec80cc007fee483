"""The reference gradient-descent engine: problems, optimizers, schedules, regularisers,
runs and learning-rate sweeps. numpy only, float64, deterministic.

Examples
--------
>>> from grader.engine import RunSpec, sweep
>>> spec = RunSpec(problem="quadratic", optimizer="sgd", learning_rates=[0.05, 0.1], epochs=400)
>>> result = sweep(spec)
>>> [run.outcome for run in result.runs]
['converged', 'diverged']
"""

from grader.engine.optimizers import OPTIMIZERS, OptimizerDef, get_optimizer
from grader.engine.options import Option, SpecError
from grader.engine.outcomes import OUTCOMES
from grader.engine.problems import PROBLEMS, Problem, make_problem
from grader.engine.regularizers import CLIPS, REGULARIZER_NAMES
from grader.engine.run import (
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

__all__ = [
    "CLIPS",
    "ENGINE_VERSION",
    "OPTIMIZERS",
    "OUTCOMES",
    "PROBLEMS",
    "REGULARIZER_NAMES",
    "SCHEDULES",
    "Component",
    "OptimizerDef",
    "Option",
    "Problem",
    "RunResult",
    "RunSpec",
    "SpecError",
    "Stability",
    "SweepResult",
    "get_optimizer",
    "make_problem",
    "plan_run",
    "run",
    "sweep",
    "versions",
]
