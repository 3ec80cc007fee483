"""A sandbox job's result as bytes to keep, and back: what the service stores per submission.

Grading is a pure function of the exercise and the job's result, so keeping the result
is enough to score, diagnose and draw a submission again later (a plot asked for after a
restart, a re-grade after a fix). The format is one zlib stream: a JSON header (the
verdict, the runs, the student's output and error, and each array's name and shape)
followed by the arrays' float64 bytes. Reading it parses JSON and copies bytes into
arrays, so stored bytes can never run code (no pickle).

A submission is graded by two jobs (its visible and its hidden runs): :func:`pack_parts`
keeps several named results in one archive of the same kind (``GDJ2``), and
:func:`unpack_parts` reads those and the single-result archives (``GDJ1``, as
``{"whole": result}``) written before.

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
_MAGIC_PARTS = b"GDJ2"
_LENGTH = struct.Struct("<I")
#: zlib's fastest level: trajectories compress about as well at 1 as at 9.
_LEVEL = 1


class ArchiveError(ValueError):
    """Stored bytes that are not a job result this module wrote."""


def _meta_and_arrays(result: JobResult) -> tuple[dict[str, Any], list[np.ndarray]]:
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
    return meta, list(arrays.values())


def _compressed(magic: bytes, meta: Any, arrays: list[np.ndarray]) -> bytes:
    header = json.dumps(meta).encode("utf-8", "surrogatepass")
    body = b"".join([_LENGTH.pack(len(header)), header, *(a.tobytes() for a in arrays)])
    return magic + zlib.compress(body, _LEVEL)


def pack(result: JobResult) -> bytes:
    """``result`` as compressed bytes (arrays as float64, the rest as JSON)."""
    return _compressed(_MAGIC, *_meta_and_arrays(result))


def pack_parts(results: dict[str, JobResult]) -> bytes:
    """Several named results as one archive (see the module docstring).

    Examples
    --------
    >>> kept = pack_parts({"visible": JobResult("ok", "Ran."), "hidden": JobResult("ok", "")})
    >>> sorted(unpack_parts(kept))
    ['hidden', 'visible']
    """
    metas, arrays = [], []
    for name, result in results.items():
        meta, part_arrays = _meta_and_arrays(result)
        metas.append([name, meta])
        arrays += part_arrays
    return _compressed(_MAGIC_PARTS, metas, arrays)


def _error(data: dict[str, Any] | None) -> StudentError | None:
    return None if data is None else StudentError(**data)


def _arrays(meta: dict[str, Any], data: bytes, offset: int) -> tuple[dict[str, np.ndarray], int]:
    arrays = {}
    for name, shape in meta["arrays"]:
        size = 8 * int(np.prod(shape, dtype=np.int64))
        if size < 0 or offset + size > len(data):
            raise ValueError(f"array {name!r} runs past the end of the data")
        arrays[str(name)] = np.frombuffer(data, dtype="<f8", count=size // 8,
                                          offset=offset).reshape(shape).copy()
        offset += size
    return arrays, offset


def _result(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> JobResult:
    runs = tuple(RunReport(run["steps"], run["stopped"], _error(run["error"]))
                 for run in meta["runs"])
    return JobResult(
        verdict=meta["verdict"], detail=meta["detail"], runs=runs, arrays=arrays,
        stdout=meta["stdout"], stdout_truncated=meta["stdout_truncated"],
        error=_error(meta["error"]), elapsed=meta["elapsed"],
        cpu_seconds=meta["cpu_seconds"], slot=meta["slot"],
    )


def _read(data: bytes) -> dict[str, JobResult]:
    magic = data[:len(_MAGIC)]
    if magic not in (_MAGIC, _MAGIC_PARTS):
        raise ValueError("it does not start with gdlab's mark")
    body = zlib.decompress(data[len(_MAGIC):])
    (length,) = _LENGTH.unpack_from(body)
    meta = json.loads(body[_LENGTH.size:_LENGTH.size + length].decode("utf-8",
                                                                      "surrogatepass"))
    parts = [["whole", meta]] if magic == _MAGIC else meta
    offset = _LENGTH.size + length
    results = {}
    for name, part in parts:
        arrays, offset = _arrays(part, body, offset)
        results[str(name)] = _result(part, arrays)
    if offset != len(body):
        raise ValueError("bytes left over after the last array")
    return results


_DAMAGE = (ValueError, KeyError, TypeError, IndexError, RecursionError, struct.error,
           zlib.error)


def unpack(data: bytes) -> JobResult:
    """The job result that :func:`pack` wrote.

    Raises
    ------
    ArchiveError
        If ``data`` is not such an archive.
    """
    if not data.startswith(_MAGIC):
        raise ArchiveError("not a stored job result: it does not start with gdlab's mark")
    return unpack_parts(data)["whole"]


def unpack_parts(data: bytes) -> dict[str, JobResult]:
    """The named results :func:`pack_parts` wrote, or ``{"whole": result}`` for what
    :func:`pack` wrote.

    Raises
    ------
    ArchiveError
        If ``data`` is not such an archive.
    """
    try:
        return _read(data)
    except _DAMAGE as error:
        raise ArchiveError(f"not a stored job result: {error}") from None
