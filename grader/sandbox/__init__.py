"""The sandbox: the only place student code ever runs.

Use :class:`Sandbox` (start or reach a runner, run :class:`Job` objects, read
:class:`JobResult` verdicts) and :func:`check_source` (friendly static checks first).
The runner itself is :mod:`grader.sandbox.runner`, a separate process.

Names load on first use (PEP 562): the runner process imports this package and must pin
numpy's thread pools before anything here imports numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "Sandbox": "client",
    "Job": "client",
    "JobResult": "client",
    "RunReport": "client",
    "StudentError": "client",
    "VERDICTS": "client",
    "SandboxError": "errors",
    "SandboxBusyError": "errors",
    "SandboxUnavailableError": "errors",
    "SourceRejectedError": "errors",
    "Contract": "static",
    "UPDATE_RULE": "static",
    "check_source": "static",
    "LAYERS": "layers",
}

__all__ = [
    "LAYERS", "UPDATE_RULE", "VERDICTS", "Contract", "Job", "JobResult", "RunReport",
    "Sandbox", "SandboxBusyError", "SandboxError", "SandboxUnavailableError", "SourceRejectedError",
    "StudentError", "check_source",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'grader.sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"grader.sandbox.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from grader.sandbox.client import (
        VERDICTS,
        Job,
        JobResult,
        RunReport,
        Sandbox,
        StudentError,
    )
    from grader.sandbox.errors import (
        SandboxBusyError,
        SandboxError,
        SandboxUnavailableError,
        SourceRejectedError,
    )
    from grader.sandbox.layers import LAYERS
    from grader.sandbox.static import UPDATE_RULE, Contract, check_source
