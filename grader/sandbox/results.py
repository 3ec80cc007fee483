"""A job's result is untrusted input: what it may be, given the job, and its text made safe.

The child writes its result frame through a descriptor the student's code can also
reach, so the frame may be forged: any bytes at all, or a well-formed frame of any shape.
Everything outside the sandbox that reads a result (scoring, diagnosis, plots, pages)
does work in proportion to the arrays it is given, so a frame is checked here, against
what its job asked for, before anything else touches it:

- :class:`Expected` is what a job asked for (its kind, and each run's steps and
  parameters), read from the job itself; :meth:`Expected.result_limit` is the most bytes
  gdlab's own harness could write for it, so a longer frame is cut by the runner and
  never decoded;
- :func:`check` refuses a decoded frame that the harness could not have written for the
  job: another number of runs, an array that the kind does not return (or a missing one),
  one whose shape disagrees with the job (a trajectory has ``steps + 1`` rows of ``dim``
  columns), keys or types the harness does not write, more printed output than allowed;
- :func:`safe_text` makes the text that comes out of a job (printed output, an
  exception's type and message) valid UTF-8 without control characters, and bounds it.

Examples
--------
>>> import numpy as np
>>> from grader.sandbox.protocol import Frame
>>> expected = Expected("update_rule", (RunShape(steps=3, dim=2),))
>>> run = {"steps": 3, "stopped": None, "error": None}
>>> limits = SandboxLimits()
>>> check(Frame({"status": "ok", "runs": [run]}, {"trajectory_0": np.zeros((4, 2))}),
...       expected, limits)
>>> check(Frame({"status": "ok", "runs": [run]}, {"trajectory_0": np.zeros((9, 2))}),
...       expected, limits)
Traceback (most recent call last):
...
grader.sandbox.protocol.FrameError: trajectory_0 has shape (9, 2); the job allows (4, 2)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grader.kinds.wire import RETURNS, RunShape, array_name, run_shapes
from grader.limits import KiB, SandboxLimits
from grader.sandbox.protocol import MAX_HEADER, Frame, FrameError

#: Bytes of JSON one byte of text may become (``\\u0000``: a control character).
JSON_ESCAPE = 6
#: Header bytes allowed for one run's report (its steps, how it stopped, an exception of
#: at most 100 + 1,000 characters, each at most 12 bytes as JSON) and array entries.
HEADER_PER_RUN = 16 * KiB
#: Header bytes allowed besides the runs and the printed output (an exception raised
#: before any run, the keys).
HEADER_BASE = 16 * KiB
#: Bytes kept of an exception's type and message.
ERROR_TYPE_LIMIT, ERROR_MESSAGE_LIMIT = 100, 1000
STOPPED = (None, "error", "non-finite")
CATEGORIES = ("memory", "forbidden", "contract", "error")
#: The keys the harness writes: of a result's header, of a run's report, of an error.
HEADER_KEYS = frozenset({"status", "error", "runs", "stdout", "stdout_truncated"})
RUN_KEYS = frozenset({"steps", "stopped", "error"})
ERROR_KEYS = frozenset({"type", "message", "line", "category"})


@dataclass(frozen=True)
class Expected:
    """What a job asked for, and so what its result may hold."""

    kind: str
    runs: tuple[RunShape, ...]

    @classmethod
    def of(cls, kind: str, header: Mapping[str, Any], arrays: Mapping[str, Any]) -> Expected:
        """What a job of ``kind`` with this header and these arrays asks for.

        Examples
        --------
        >>> Expected.of("schedule", {"runs": [{"epochs": 5}]}, {})
        Expected(kind='schedule', runs=(RunShape(steps=5, dim=0),))
        """
        runs = run_shapes(kind, header, arrays)
        return cls(kind, runs)

    def header_limit(self, limits: SandboxLimits) -> int:
        """The longest JSON header gdlab's harness writes for this job."""
        return min(MAX_HEADER, HEADER_BASE + JSON_ESCAPE * limits.output_limit
                   + HEADER_PER_RUN * len(self.runs))

    def array_bytes(self) -> int:
        """The bytes of every array of a job whose runs all go to the end."""
        return sum(8 * (run.steps + spec.extra_rows) * (run.dim if spec.matrix else 1)
                   for run in self.runs for spec in RETURNS[self.kind])

    def result_limit(self, limits: SandboxLimits) -> int:
        """The most result bytes this job may send back: what the harness writes for it
        at most, never more than the sandbox's own limit."""
        return min(limits.result_limit, 8 + self.header_limit(limits) + self.array_bytes())


def check(frame: Frame, expected: Expected, limits: SandboxLimits) -> None:
    """Refuse a result frame that gdlab's harness could not have written for the job
    under these limits.

    Raises
    ------
    FrameError
        Saying what is wrong (for the log; the student reads a sentence of their own).
    """
    header = frame.header
    if not header.keys() <= HEADER_KEYS:
        raise FrameError("the result's header has keys the harness does not write")
    runs = header.get("runs")
    if not isinstance(runs, list):
        raise FrameError("the result has no list of runs")
    # no runs at all: the module failed (or printed too much) before the first run
    if len(runs) != len(expected.runs) and (runs or header.get("status") == "ok"):
        raise FrameError(f"the result has {len(runs)} runs; the job has {len(expected.runs)}")
    shapes: dict[str, tuple[int, ...]] = {}
    for index, (report, run) in enumerate(zip(runs, expected.runs, strict=False)):
        steps = _checked_run(report, run, index)
        for spec in RETURNS[expected.kind]:
            rows = steps + spec.extra_rows
            name = array_name(spec.prefix, index)
            shapes[name] = (rows, run.dim) if spec.matrix else (rows,)
            # only an exception before a run's first step leaves it without its arrays
            if report.get("stopped") != "error" and name not in frame.arrays:
                raise FrameError(f"run {index} went on without its {name}")
    for name, array in frame.arrays.items():
        if name not in shapes:
            raise FrameError(f"the result has an array {name!r} the job does not return")
        if array.shape != shapes[name]:
            raise FrameError(f"{name} has shape {array.shape}; the job allows {shapes[name]}")
    _check_error(header.get("error"), "the result's error")
    stdout = header.get("stdout", "")
    # each character kept is at least one byte of the output the child counts
    if not isinstance(stdout, str) or len(stdout) > limits.output_limit:
        raise FrameError("the result's printed output is not text within the limit")
    if not isinstance(header.get("stdout_truncated", False), bool):
        raise FrameError("the result's stdout_truncated is not a boolean")


def _checked_run(report: Any, run: RunShape, index: int) -> int:
    """The steps a run's report says it completed, once the report is checked."""
    if not isinstance(report, dict) or not report.keys() <= RUN_KEYS:
        raise FrameError(f"run {index}'s report is not what the harness writes")
    steps = report.get("steps")
    if not _is_int(steps) or not 0 <= steps <= run.steps:
        raise FrameError(f"run {index} reports {steps!r} steps; the job has {run.steps}")
    if report.get("stopped") not in STOPPED:
        raise FrameError(f"run {index} stopped in a way the harness does not report")
    _check_error(report.get("error"), f"run {index}'s error")
    return steps


def _check_error(error: Any, what: str) -> None:
    if error is None:
        return
    if not isinstance(error, dict) or not error.keys() <= ERROR_KEYS:
        raise FrameError(f"{what} is not what the harness writes")
    line = error.get("line")
    if (not isinstance(error.get("type"), str) or not isinstance(error.get("message"), str)
            or not (line is None or _is_int(line)) or error.get("category") not in CATEGORIES):
        raise FrameError(f"{what} is not a type, a message, a line and a category")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- text ----------------------------------------------------------------------------

#: Terminal escape sequences (CSI ``ESC [ ... final``, OSC ``ESC ] ... BEL/ST``, and the
#: two-character ones), removed whole so that no half of one is left.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\x9b")
#: What may not reach a page, a terminal or a CSV cell: lone surrogates (not UTF-8 at
#: all), control characters but tab and newline, and the bidirectional overrides,
#: embeddings and isolates that make text read otherwise than it is stored.
_UNSAFE = re.compile("[\ud800-\udfff\x00-\x08\x0b-\x1f\x7f-\x9f"
                     "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NEWLINES = re.compile("\r\n?|[\u2028\u2029\x85]")
REPLACEMENT = "\ufffd"


def safe_text(value: Any, limit: int) -> str:
    """Text from a job, fit for any page, terminal or file: at most ``limit`` bytes of
    valid UTF-8, with terminal escapes removed, line ends made ``\\n``, and every other
    control, bidirectional-control or surrogate character made U+FFFD. Not text: "".

    Examples
    --------
    >>> safe_text("ok\\ud800\\x00 \\x1b[31mred\\x1b[0m\\r\\n\\u202eevil", 100)
    'ok\\ufffd\\ufffd red\\n\\ufffdevil'
    >>> safe_text("ééé", 5)
    'éé'
    """
    if not isinstance(value, str):
        return ""
    # cut first (at four bytes a character at most, more is never kept), then clean
    text = _UNSAFE.sub(REPLACEMENT, _NEWLINES.sub("\n", _ANSI.sub("", value[: 4 * limit])))
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")
