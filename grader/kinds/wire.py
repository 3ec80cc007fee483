"""What each kind's sandbox job returns, as it travels: named float64 arrays per run.

This is the one place that knows how a run's arrays are named on the wire
(``trajectory_0``, ``rates_2``...) and what shape each may have. The sandbox's harness
writes them through :func:`array_name`, the result check (:mod:`grader.sandbox.results`)
allows exactly :data:`RETURNS`, and the grader reads them back per run with
:func:`run_arrays`. Imported inside sandboxed children: numpy and the standard library
only, nothing of a reference.

Examples
--------
>>> array_name("trajectory", 3)
'trajectory_3'
>>> run_arrays({"trajectory_0": 1, "gradients_0": 2, "trajectory_1": 3}, "gradient", 0)
{'trajectory': 1, 'gradients': 2}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


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
