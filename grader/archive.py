"""A sandbox job's result as bytes to keep, and back: what the service stores per submission.

Grading is a pure function of the exercise and the job's result, so keeping the result
is enough to score, diagnose and draw a submission again later (a plot asked for after a
restart, a re-grade after a fix). The format is an ``.npz`` archive (numpy's compressed
zip of arrays) holding the float64 arrays and one JSON member for the rest; it is read
with ``allow_pickle=False``, so stored bytes can never run code.

Examples
--------
>>> from grader.sandbox.client import JobResult
>>> import numpy as np
>>> kept = pack(JobResult("ok", "Ran.", arrays={"trajectory_0": np.zeros((3, 2))}))
>>> unpack(kept).arrays["trajectory_0"].shape
(3, 2)
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import asdict
from typing import Any

import numpy as np

from grader.sandbox.client import JobResult, RunReport, StudentError

_META = "__meta__"


class ArchiveError(ValueError):
    """Stored bytes that are not a job result this module wrote."""


def pack(result: JobResult) -> bytes:
    """``result`` as compressed bytes (arrays as float64, the rest as JSON)."""
    meta = {
        "verdict": result.verdict, "detail": result.detail,
        "runs": [asdict(run) for run in result.runs],
        "stdout": result.stdout, "stdout_truncated": result.stdout_truncated,
        "error": None if result.error is None else asdict(result.error),
        "elapsed": result.elapsed, "cpu_seconds": result.cpu_seconds, "slot": result.slot,
    }
    buffer = io.BytesIO()
    arrays = {name: np.asarray(value, dtype=np.float64) for name, value in result.arrays.items()}
    np.savez_compressed(buffer, **arrays,
                        **{_META: np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)})
    return buffer.getvalue()


def _error(data: dict[str, Any] | None) -> StudentError | None:
    return None if data is None else StudentError(**data)


def unpack(data: bytes) -> JobResult:
    """The job result that :func:`pack` wrote.

    Raises
    ------
    ArchiveError
        If ``data`` is not such an archive.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(arrays.pop(_META).tobytes())
        runs = tuple(RunReport(run["steps"], run["stopped"], _error(run["error"]))
                     for run in meta["runs"])
        return JobResult(
            verdict=meta["verdict"], detail=meta["detail"], runs=runs, arrays=arrays,
            stdout=meta["stdout"], stdout_truncated=meta["stdout_truncated"],
            error=_error(meta["error"]), elapsed=meta["elapsed"],
            cpu_seconds=meta["cpu_seconds"], slot=meta["slot"],
        )
    except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise ArchiveError(f"not a stored job result: {error}") from None
