"""Student code that forges its job's result, as a hostile student would write it.

The child's result pipe is an open descriptor in the student's process. The forging code
finds it (``/proc/self/fd`` if it can list it, else by trying every descriptor), writes a
frame of its choosing and leaves with ``os._exit(0)`` before gdlab's harness writes the
real one. The frame is built with the child's own encoder (``grader.sandbox.protocol`` is
in the child's memory) or by hand, byte by byte.

Each forgery below is one *shape class* of frame that gdlab's harness never writes: the
test that uses it knows the job (its runs, steps and parameters), so that every other
part of the frame is what a real result would hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

#: Finds the result pipe and writes ``FRAME`` (bytes) to it, then leaves.
_WRITE = '''
import os

def _descriptors():
    try:
        return sorted(int(name) for name in os.listdir("/proc/self/fd"))
    except OSError:
        return list(range(3, 64))

for _fd in _descriptors():
    if _fd < 3:
        continue
    try:
        _view = memoryview(FRAME)
        while _view:
            _view = _view[os.write(_fd, _view):]
    except OSError:
        pass
os._exit(0)
'''

#: Builds ``FRAME`` with the child's own encoder from ``HEADER`` and ``ARRAYS`` (a
#: Python expression of numpy arrays, filled in after the imports).
_WITH_ENCODER = '''
import sys
import numpy as np

HEADER = __HEADER__
ARRAYS = __ARRAYS__
_protocol = sys.modules["grader.sandbox.protocol"]
FRAME = _protocol.encode(HEADER, ARRAYS)
'''

#: Builds ``FRAME`` by hand: magic, header length, JSON header, raw bytes (Python
#: expressions of the header's text and of the body, filled in after the imports).
_BY_HAND = '''
import json
import struct

_head = (__HEADER__).encode()
FRAME = b"GDLB" + struct.pack(">I", len(_head)) + _head + __BODY__
'''

_ENTRY = {"update_rule": "def update(params, grad, lr, state, **hyper):\n    return params\n",
          "gradient": "def gradient(params, X, y, **hyper):\n    return params\n",
          "schedule": "def lr_at(epoch, lr0, **hyper):\n    return lr0\n"}


@dataclass(frozen=True)
class JobShape:
    """What a job asks for, as its test knows it: kind, and each run's steps and
    parameters (0 parameters for a schedule)."""

    kind: str
    steps: tuple[int, ...]
    dim: tuple[int, ...]

    @property
    def runs(self) -> int:
        """How many runs the job has."""
        return len(self.steps)


def _reports(shape: JobShape, runs: int | None = None, steps_bonus: int = 0) -> list[dict]:
    count = shape.runs if runs is None else runs
    return [{"steps": shape.steps[i % shape.runs] + steps_bonus, "stopped": None, "error": None}
            for i in range(count)]


def _header(reports: list[dict]) -> dict:
    return {"status": "ok", "error": None, "runs": reports, "stdout": "",
            "stdout_truncated": False}


def _honest_arrays(shape: JobShape, run: int, rows_bonus: int = 0) -> dict[str, str]:
    """Expressions of the arrays gdlab's harness would return for ``run``."""
    steps, dim = shape.steps[run % shape.runs], shape.dim[run % shape.runs]
    if shape.kind == "schedule":
        return {f"rates_{run}": f"np.full({steps + rows_bonus}, 0.1)"}
    arrays = {f"trajectory_{run}": f"np.zeros(({steps + 1 + rows_bonus}, {dim}))"}
    if shape.kind == "gradient":
        arrays[f"gradients_{run}"] = f"np.zeros(({steps + rows_bonus}, {dim}))"
    return arrays


def with_encoder(shape: JobShape, header: dict, arrays: dict[str, str]) -> str:
    """Student code that writes ``header`` and ``arrays`` (expressions) with the child's
    own encoder."""
    table = "{" + ", ".join(f"{name!r}: {expr}" for name, expr in arrays.items()) + "}"
    build = _WITH_ENCODER.replace("__HEADER__", repr(header)).replace("__ARRAYS__", table)
    return build + _WRITE + "\n\n" + _ENTRY[shape.kind]


def by_hand(shape: JobShape, header: str, body: str = 'b""') -> str:
    """Student code that writes a frame by hand: ``header`` is a Python expression of the
    JSON header's text (short, so that the code stays under the size limit), ``body`` one
    of the bytes after it."""
    build = _BY_HAND.replace("__HEADER__", header).replace("__BODY__", body)
    return build + _WRITE + "\n\n" + _ENTRY[shape.kind]


def _all_honest(shape: JobShape, **change: str) -> dict[str, str]:
    arrays: dict[str, str] = {}
    for run in range(shape.runs):
        arrays.update(_honest_arrays(shape, run))
    arrays.update(change)
    return arrays


def forgeries(shape: JobShape) -> dict[str, str]:
    """Every shape class of forged result for a job of ``shape``: name -> student code."""
    first = "rates_0" if shape.kind == "schedule" else "trajectory_0"
    steps, dim = shape.steps[0], shape.dim[0] or 1
    honest = _header(_reports(shape))
    codes = {
        "one-dimensional": with_encoder(shape, honest, _all_honest(
            shape, **{first: f"np.zeros({steps + 1})" if shape.kind != "schedule"
                      else f"np.zeros(({steps}, 1))"})),
        "three-dimensional": with_encoder(shape, honest, _all_honest(
            shape, **{first: f"np.zeros(({steps + 1}, {dim}, 2))"})),
        "too-many-rows": with_encoder(shape, honest, _all_honest(
            shape, **{first: f"np.zeros(({steps + 50}, {dim}))" if shape.kind != "schedule"
                      else f"np.zeros({steps + 50})"})),
        "extra-run": with_encoder(shape, _header(_reports(shape, runs=shape.runs + 1)), {
            **_all_honest(shape), **_honest_arrays(shape, shape.runs)}),
        "missing-runs": with_encoder(shape, _header(_reports(shape, runs=shape.runs - 1)),
                                     {}),
        "steps-beyond-the-job": with_encoder(
            shape, _header(_reports(shape, steps_bonus=3)),
            {name: expr for run in range(shape.runs)
             for name, expr in _honest_arrays(shape, run, rows_bonus=3).items()}),
        "unknown-array": with_encoder(shape, honest, _all_honest(
            shape, extra="np.zeros(3)")),
        "integer-array": by_hand(
            shape, repr(json.dumps({**honest, "arrays": [
                {"name": first, "dtype": "<i8", "shape": [1]}]})), 'b"\\0" * 8'),
        "nested-100000-deep": by_hand(
            shape, ''''{"status": "ok", "arrays": [], "runs": ' + "[" * 100_000 + "]" * 100_000
            + "}"'''),
        "huge-header": by_hand(
            shape, f"json.dumps({{**{honest!r}, 'arrays': [], 'stdout': 'x' * (900 << 10)}})"),
        "error-of-wrong-type": with_encoder(
            shape, {**honest, "error": {"type": ["a"], "message": 3, "line": "x",
                                        "category": "error"}}, _all_honest(shape)),
    }
    if shape.kind == "schedule":
        codes["four-million-rates"] = with_encoder(shape, honest, _all_honest(
            shape, rates_0="np.zeros(4_000_000)"))
        codes["rates-of-wrong-length"] = with_encoder(shape, honest, _all_honest(
            shape, rates_0=f"np.zeros({steps - 1})"))
    else:
        codes["wrong-width"] = with_encoder(shape, honest, _all_honest(
            shape, **{first: f"np.zeros(({steps + 1}, {dim + 1}))"}))
        codes["two-million-rows"] = with_encoder(shape, honest, _all_honest(
            shape, trajectory_0=f"np.zeros((2_000_000, {dim}))"))
    return codes


#: Frames the runner cuts (larger than any result of the job) rather than the client refusing.
CUT_BY_THE_RUNNER = ("two-million-rows", "four-million-rates", "huge-header")


def honest_forgery(shape: JobShape) -> str:
    """Student code that forges exactly the result gdlab's harness would write (all
    zeros): the control case, which the checks must let through."""
    return with_encoder(shape, _header(_reports(shape)), _all_honest(shape))
