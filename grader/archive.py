"""A sandbox job's result as bytes to keep, and back: what the service stores per submission.

Grading is a pure function of the exercise and the job's result, so keeping the result
is enough to score, diagnose and draw a submission again later (a plot asked for after a
restart, a re-grade after a fix). The format is one zlib stream: a JSON header (the
verdict, the runs, the student's output and error, and each array's name and shape)
followed by the arrays' float64 bytes. Reading it parses JSON and copies bytes into
arrays, so stored bytes can never run code (no pickle).

Examples
--------
>>> from grader.sandbox.client import JobResult
>>> import numpy as np
>>> kept = pack(JobResult("ok", "Ran.", arrays={"trajectory_0": np.zeros((3, 2))}))
>>> unpack(kept).arrays["trajectory_0"].shape
(3, 2)
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import asdict
from typing import Any

import numpy as np

from grader.sandbox.client import JobResult, RunReport, StudentError

_MAGIC = b"GDJ1"
_LENGTH = struct.Struct("<I")
#: zlib's fastest level: trajectories compress about as well at 1 as at 9.
_LEVEL = 1


class ArchiveError(ValueError):
    """Stored bytes that are not a job result this module wrote."""


def pack(result: JobResult) -> bytes:
    """``result`` as compressed bytes (arrays as float64, the rest as JSON)."""
    arrays = {name: np.ascontiguousarray(value, dtype="<f8")
              for name, value in result.arrays.items()}
    meta = {
        "verdict": result.verdict, "detail": result.detail,
        "runs": [asdict(run) for run in result.runs],
        "stdout": result.stdout, "stdout_truncated": result.stdout_truncated,
        "error": None if result.error is None else asdict(result.error),
        "elapsed": result.elapsed, "cpu_seconds": result.cpu_seconds, "slot": result.slot,
        "arrays": [[name, list(array.shape)] for name, array in arrays.items()],
    }
    header = json.dumps(meta).encode("utf-8", "surrogatepass")
    body = b"".join([_LENGTH.pack(len(header)), header,
                     *(array.tobytes() for array in arrays.values())])
    return _MAGIC + zlib.compress(body, _LEVEL)


def _error(data: dict[str, Any] | None) -> StudentError | None:
    return None if data is None else StudentError(**data)


def _arrays(meta: dict[str, Any], data: bytes, offset: int) -> dict[str, np.ndarray]:
    arrays = {}
    for name, shape in meta["arrays"]:
        size = 8 * int(np.prod(shape, dtype=np.int64))
        if size < 0 or offset + size > len(data):
            raise ValueError(f"array {name!r} runs past the end of the data")
        arrays[str(name)] = np.frombuffer(data, dtype="<f8", count=size // 8,
                                          offset=offset).reshape(shape).copy()
        offset += size
    if offset != len(data):
        raise ValueError("bytes left over after the last array")
    return arrays


def unpack(data: bytes) -> JobResult:
    """The job result that :func:`pack` wrote.

    Raises
    ------
    ArchiveError
        If ``data`` is not such an archive.
    """
    try:
        if not data.startswith(_MAGIC):
            raise ValueError("it does not start with gdlab's mark")
        body = zlib.decompress(data[len(_MAGIC):])
        (length,) = _LENGTH.unpack_from(body)
        meta = json.loads(body[_LENGTH.size:_LENGTH.size + length].decode("utf-8",
                                                                          "surrogatepass"))
        arrays = _arrays(meta, body, _LENGTH.size + length)
        runs = tuple(RunReport(run["steps"], run["stopped"], _error(run["error"]))
                     for run in meta["runs"])
        return JobResult(
            verdict=meta["verdict"], detail=meta["detail"], runs=runs, arrays=arrays,
            stdout=meta["stdout"], stdout_truncated=meta["stdout_truncated"],
            error=_error(meta["error"]), elapsed=meta["elapsed"],
            cpu_seconds=meta["cpu_seconds"], slot=meta["slot"],
        )
    except (ValueError, KeyError, TypeError, IndexError, RecursionError, struct.error,
            zlib.error) as error:
        raise ArchiveError(f"not a stored job result: {error}") from None
