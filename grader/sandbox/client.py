"""The grader's side of the sandbox: start (or reach) a runner, send jobs, read verdicts.

Examples
--------
>>> import numpy as np
>>> from grader.sandbox import Sandbox, Job
>>> job = Job.update_rule(
...     "def update(params, grad, lr, state, **hyper):\\n    return params - lr * grad\\n",
...     problem={"name": "quadratic"},
...     runs=[{"x0": [1.0, 1.0], "lrs": [0.01] * 3}],
... )
>>> with Sandbox() as sandbox:                        # doctest: +SKIP
...     result = sandbox.run(job)
>>> result.verdict, result.arrays["trajectory_0"].shape  # doctest: +SKIP
('ok', (4, 2))
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import grader
from grader.kinds import wire
from grader.kinds.wire import GradientRun, ScheduleRun, UpdateRuleRun
from grader.limits import SandboxLimits
from grader.sandbox import protocol
from grader.sandbox.errors import SandboxBusyError, SandboxError, SandboxUnavailableError
from grader.sandbox.results import (
    ERROR_MESSAGE_LIMIT,
    ERROR_TYPE_LIMIT,
    Expected,
    check,
    safe_text,
)

log = logging.getLogger("gdlab.sandbox")

VERDICTS = ("ok", "error", "timeout", "memory", "forbidden", "crashed", "output-limit")
_CHILD_STATUSES = {"ok", "error", "memory", "forbidden", "output-limit"}
#: Environment variables a runner inherits: hardware quirks and its own settings, no secrets.
_PASSED_TO_RUNNER = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "NVPL_BLAS_DEBUG_CPU_TYPE")


@dataclass(frozen=True)
class Job:
    """A job for the sandbox: the student's code, the entry point, the kind's inputs.

    Attributes
    ----------
    kind : str
        ``update_rule``, ``gradient`` or ``schedule`` (see :mod:`grader.sandbox.harness`).
    code : str
        The student's source.
    entry : str
        The function the harness calls.
    header : mapping
        The kind's JSON inputs (problem, runs with their hyper-parameters ...).
    arrays : mapping of str to array
        The kind's array inputs (starting points, per-step learning rates, data ...).
    """

    kind: str
    code: str
    entry: str
    header: Mapping[str, Any] = field(default_factory=dict)
    arrays: Mapping[str, npt.ArrayLike] = field(default_factory=dict)

    @classmethod
    def update_rule(cls, code: str, *, runs: Sequence[UpdateRuleRun | Mapping[str, Any]],
                    problem: Mapping[str, Any] | None = None, entry: str = "update") -> Job:
        """An update-rule job: each run an :class:`~grader.kinds.wire.UpdateRuleRun` (or
        a mapping of its fields), on its own problem or on ``problem``."""
        return cls("update_rule", code, entry, *wire.encode_update_rule(runs, problem))

    @classmethod
    def gradient(cls, code: str, *, runs: Sequence[GradientRun | Mapping[str, Any]],
                 X: npt.ArrayLike | None = None, y: npt.ArrayLike | None = None,
                 entry: str = "gradient") -> Job:
        """A gradient job: each run a :class:`~grader.kinds.wire.GradientRun` (or a
        mapping of its fields), on its own ``X`` and ``y`` or on the job's."""
        return cls("gradient", code, entry, *wire.encode_gradient(runs, X, y))

    @classmethod
    def schedule(cls, code: str, *, runs: Sequence[ScheduleRun | Mapping[str, Any]],
                 entry: str = "lr_at") -> Job:
        """A schedule job: each run a :class:`~grader.kinds.wire.ScheduleRun` (or a
        mapping of its fields)."""
        return cls("schedule", code, entry, *wire.encode_schedule(runs))

    def expected(self) -> Expected:
        """What this job asks for, and so what its result may hold."""
        return Expected.of(self.kind, self.header, self.arrays)

    def encode(self) -> bytes:
        """The job as one frame."""
        header = {"kind": self.kind, "code": self.code, "entry": self.entry, **self.header}
        return protocol.encode(header, self.arrays)


@dataclass(frozen=True)
class StudentError:
    """An exception raised by the student's code: type, message, line in their file."""

    type: str
    message: str
    line: int | None
    category: str

    def sentence(self) -> str:
        """E.g. ``ZeroDivisionError on line 3: division by zero``."""
        where = f" on line {self.line}" if self.line else ""
        return f"{self.type}{where}: {self.message}" if self.message else f"{self.type}{where}"


@dataclass(frozen=True)
class RunReport:
    """How far one run of a job got, and why it stopped early (if it did)."""

    steps: int
    stopped: str | None
    error: StudentError | None


@dataclass(frozen=True)
class JobResult:
    """What came back from a job: only data, checked.

    Attributes
    ----------
    verdict : str
        One of :data:`VERDICTS`.
    detail : str
        A sentence for the student.
    runs : tuple of RunReport
        One per run of the job (empty if it never got to the runs).
    arrays : dict of str to array
        The runs' float64 arrays (``trajectory_0`` ...).
    stdout : str
        What the student's code printed, up to the limit.
    error : StudentError or None
        The first exception the student's code raised.
    elapsed, cpu_seconds : float
        Wall-clock and CPU time of the child.
    slot : int or None
        The slot (and so the user id) the job ran in.
    """

    verdict: str
    detail: str
    runs: tuple[RunReport, ...] = ()
    arrays: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    stdout: str = ""
    stdout_truncated: bool = False
    error: StudentError | None = None
    elapsed: float = 0.0
    cpu_seconds: float = 0.0
    slot: int | None = None


# --- reading what came back ------------------------------------------------------------


def _student_error(data: Any) -> StudentError | None:
    if not isinstance(data, dict):
        return None
    line = data.get("line")
    category = data.get("category")
    return StudentError(
        type=safe_text(data.get("type"), ERROR_TYPE_LIMIT) or "Error",
        message=safe_text(data.get("message"), ERROR_MESSAGE_LIMIT),
        line=line if isinstance(line, int) and not isinstance(line, bool) and line > 0 else None,
        category=category if category in ("memory", "forbidden", "contract", "error") else "error",
    )


def _runs(data: Any) -> tuple[RunReport, ...]:
    if not isinstance(data, list):
        return ()
    reports = []
    for run in data[:10_000]:
        if not isinstance(run, dict):
            continue
        steps = run.get("steps")
        stopped = run.get("stopped")
        reports.append(RunReport(
            steps=steps if isinstance(steps, int) and not isinstance(steps, bool) else 0,
            stopped=stopped if stopped in ("error", "non-finite") else None,
            error=_student_error(run.get("error")),
        ))
    return tuple(reports)


_SIGNAL_VERDICTS = {signal.SIGSYS: "forbidden", signal.SIGXCPU: "timeout",
                    signal.SIGXFSZ: "output-limit"}


def describe(verdict: str, limits: SandboxLimits, error: StudentError | None = None,
             signal_number: int | None = None) -> str:
    """The sentence a student reads for a verdict."""
    if verdict == "ok":
        return "Your code ran to the end."
    if verdict == "error" and error is not None:
        if error.category == "contract":
            return f"Your code ran but broke the contract: {error.message}."
        return f"Your code raised {error.sentence()}."
    if verdict == "timeout" and signal_number == signal.SIGXCPU:
        # the processor-time limit, not the wall clock, stopped it: name the limit it hit
        return (f"Your code used more than the {limits.cpu_limit} s of processor time it "
                "may use (an endless loop, or far too much work per step?).")
    if verdict == "timeout":
        return (f"Your code ran longer than the {limits.time_limit:g} s limit "
                "(an endless loop, a sleep, or far too much work per step?).")
    if verdict == "memory":
        return (f"Your code tried to use more than the {limits.memory_limit // 2**20} MiB of "
                "memory it may use.")
    if verdict == "forbidden":
        what = f" ({error.sentence()})" if error is not None else ""
        return ("Your code tried something the sandbox does not allow: files, the network, "
                f"other processes or system calls{what}. An update rule needs none of these.")
    if verdict == "output-limit":
        return (f"Your code printed more than the {limits.output_ceiling // 1024} KiB allowed "
                "(or returned far too much data); remove the prints inside your loop.")
    try:
        how = f" (signal {signal.Signals(signal_number).name})" if signal_number else ""
    except ValueError:
        how = f" (signal {signal_number})"
    return f"The process running your code crashed{how}."


def interpret(data: bytes, trailer: Mapping[str, Any], limits: SandboxLimits,
              expected: Expected) -> JobResult:
    """Turn a runner's response (the child's frame and the runner's closing message) into
    a :class:`JobResult`, trusting nothing in the frame: it must be a result that gdlab's
    harness could have written for a job that asked for ``expected``, and its text is made
    safe (:mod:`grader.sandbox.results`). Any bytes give a verdict, never an exception.

    Raises
    ------
    SandboxBusyError, SandboxError
        When the job did not run (busy, too large, runner shutting down, set-up failure).
    """
    error_kind = trailer.get("error")
    if error_kind == "busy":
        retry = trailer.get("retry_after", 1)
        retry = retry if isinstance(retry, int) and 0 < retry < 3600 else 1
        raise SandboxBusyError(f"all sandbox slots are busy; retry in {retry} s", retry)
    if error_kind is not None:
        raise SandboxError(f"the sandbox refused the job: {error_kind}")
    exit_info = trailer.get("exit") or {}
    timing = {
        "elapsed": float(trailer.get("elapsed", 0.0)),
        "cpu_seconds": float(trailer.get("cpu_seconds", 0.0)),
        "slot": trailer.get("slot"),
    }
    killed, signal_number = trailer.get("killed"), exit_info.get("signal")
    if not trailer.get("ready") and killed is None and signal_number is not None:
        raise SandboxError(f"the sandbox's own set-up was killed by signal {signal_number}")
    if killed in ("timeout", "output-limit"):
        return JobResult(killed, describe(killed, limits), **timing)
    if signal_number is not None:
        verdict = _SIGNAL_VERDICTS.get(signal_number, "crashed")
        return JobResult(verdict, describe(verdict, limits, signal_number=signal_number),
                         **timing)
    try:
        frame = protocol.decode(data, max_bytes=expected.result_limit(limits),
                                max_header=expected.header_limit(limits))
    except protocol.FrameError:
        return JobResult("crashed", "The process running your code ended without a readable "
                         "result (it may have exited or overwritten the sandbox's output).",
                         **timing)
    header = frame.header
    status = header.get("status")
    if not trailer.get("ready"):  # gdlab's own set-up failed: the student's code never ran
        problem = _student_error(header.get("error"))
        raise SandboxError(f"the sandbox could not set up the job: "
                           f"{problem.sentence() if problem else 'unknown error'}")
    if exit_info.get("code") != 0 or not isinstance(status, str) or status not in _CHILD_STATUSES:
        return JobResult("crashed", f"The process running your code exited with status "
                         f"{exit_info.get('code')} before finishing.", **timing)
    try:
        check(frame, expected, limits)
    except protocol.FrameError as error:
        log.warning("a job's result was refused: %s", error)
        return JobResult("crashed", "The process running your code ended with a result "
                         "that its job could not have produced (was the sandbox's output "
                         "written to, or its code changed?).", **timing)
    runs = _runs(header.get("runs"))
    error = _student_error(header.get("error")) or next(
        (run.error for run in runs if run.error is not None), None)
    stdout = header.get("stdout")
    return JobResult(
        verdict=status,
        detail=describe(status, limits, error),
        runs=runs,
        arrays={name: np.asarray(a, dtype=np.float64) for name, a in frame.arrays.items()},
        stdout=safe_text(stdout, limits.output_limit),
        stdout_truncated=bool(header.get("stdout_truncated")),
        error=error,
        **timing,
    )


# --- talking to a runner ----------------------------------------------------------------


def runner_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment a runner gets: no secret of the process that starts it."""
    env = {"PATH": os.defpath, "LANG": "C.UTF-8",
           "PYTHONPATH": str(Path(grader.__file__).resolve().parent.parent),
           # the runner pins these itself before importing numpy; set here as well so
           # that they hold from the interpreter's first instruction
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.update({name: os.environ[name] for name in _PASSED_TO_RUNNER if name in os.environ})
    env.update(extra or {})
    return env


class Sandbox:
    """A sandbox runner and the way to use it: start it (or reach one), run jobs, stop it.

    Parameters
    ----------
    limits : SandboxLimits, optional
        Default: from ``GDLAB_SANDBOX_*`` variables.
    socket_path : str, optional
        Reach an existing runner (``gdlab sandbox-server``) there instead of starting one.
    disable_layers : sequence of str
        Layers the started runner must not apply (tests of what each layer blocks).
    start_timeout : float
        Seconds to wait for the runner to answer.
    runtime_dir : str, optional
        Where a started runner puts its socket and log, kept across restarts (so that
        other processes can reach it at ``<runtime_dir>/runner.sock``); default: a fresh
        temporary directory, removed with the runner.

    A started runner is supervised: if it dies it is started again at the next job, and
    it stops with this object (``close()``, the ``with`` block, or this process's death).
    ``run`` may be called from several threads at once.
    """

    def __init__(self, limits: SandboxLimits | None = None, *, socket_path: str | None = None,
                 disable_layers: Sequence[str] = (), start_timeout: float = 30.0,
                 runtime_dir: str | None = None) -> None:
        self.limits = limits or SandboxLimits.from_env()
        self.external = socket_path is not None
        self.socket_path = socket_path
        self.disable_layers = tuple(disable_layers)
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._directory: str | None = runtime_dir
        self._own_directory = runtime_dir is None
        self._lock = threading.Lock()
        self.restarts = 0

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    @property
    def log_path(self) -> str | None:
        """Where a started runner writes its log."""
        return None if self._directory is None else os.path.join(self._directory, "runner.log")

    def start(self) -> None:
        """Start the runner (or wait for the external one) until it answers."""
        with self._lock:
            if self.external:
                self._wait_until_answering(None)
            elif self.process is None or self.process.poll() is not None:
                self._spawn()

    def _spawn(self) -> None:
        self._cleanup_process()
        if self._directory is None:
            self._directory = tempfile.mkdtemp(prefix="gdlab-sandbox-")
        self.socket_path = os.path.join(self._directory, "runner.sock")
        command = [sys.executable, "-m", "grader.sandbox.runner", "--socket", self.socket_path,
                   "--parent-pid", str(os.getpid()), "--limits", json.dumps(asdict(self.limits))]
        for name in self.disable_layers:
            command += ["--disable-layer", name]
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                command, env=runner_environment(), stdin=subprocess.DEVNULL, stdout=log_file,
                stderr=log_file, close_fds=True, cwd="/",
            )
        self._wait_until_answering(self.process)
        log.info("sandbox runner started: %s", self._log_tail().strip().splitlines()[-1:])

    def _log_tail(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")[-4000:] if self.log_path else ""
        except OSError:
            return ""

    def _wait_until_answering(self, process: subprocess.Popen[bytes] | None) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            if process is not None and process.poll() is not None:
                raise SandboxUnavailableError(
                    f"the sandbox runner exited at start: {self._log_tail().strip()}")
            try:
                self._exchange(protocol.OP_STATUS, b"", timeout=5)
                return
            except (OSError, SandboxUnavailableError):
                if time.monotonic() > deadline:
                    raise SandboxUnavailableError(
                        f"the sandbox runner does not answer on {self.socket_path}") from None
                time.sleep(0.01)

    def _exchange(self, op: int, payload: bytes, timeout: float, kind: str = protocol.KINDS[0],
                  result_limit: int = 0) -> tuple[bytes, dict[str, Any]]:
        """Send one request; return the relayed result bytes (at most ``result_limit``,
        or the sandbox's limit) and the closing message."""
        most = min(result_limit or self.limits.result_limit, self.limits.result_limit)
        if self.socket_path is None:
            raise SandboxUnavailableError("the sandbox is not started")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(self.socket_path)
            sock.sendall(protocol.preamble(op, len(payload), kind, most) + payload)
            data = bytearray()
            reader = sock.makefile("rb")
            while True:
                head = reader.read(protocol.CHUNK.size)
                if len(head) < protocol.CHUNK.size:
                    raise SandboxUnavailableError("the sandbox runner closed the connection")
                kind, length = protocol.CHUNK.unpack(head)
                body = reader.read(length)
                if len(body) < length:
                    raise SandboxUnavailableError("the sandbox runner closed the connection")
                if kind == b"E":
                    return bytes(data), json.loads(body)
                if len(data) + length > most:
                    raise SandboxError("the sandbox runner sent more than the result limit")
                data += body

    def status(self) -> dict[str, Any]:
        """The runner's status: layers active and missing, slots, load, limits."""
        self._ensure_running()
        return self._exchange(protocol.OP_STATUS, b"", timeout=10)[1]

    def _job_timeout(self) -> float:
        waiting_rounds = 1 + self.limits.queue / max(1, self.limits.slots)
        return self.limits.time_limit * waiting_rounds + 10

    def _ensure_running(self) -> None:
        if not self.external and (self.process is None or self.process.poll() is not None):
            with self._lock:
                if self.process is None or self.process.poll() is not None:
                    if self.process is not None:
                        self.restarts += 1
                        log.warning("sandbox runner died (%s); starting it again",
                                    self.process.returncode)
                    self._spawn()

    def run(self, job: Job) -> JobResult:
        """Run one job and return its checked result.

        Raises
        ------
        SandboxBusyError
            Every slot and the queue are full: retry later.
        SandboxUnavailableError
            The runner cannot be reached (after one restart, for a started runner).
        SandboxError
            The job could not run (too large, set-up failure).
        """
        if job.kind not in protocol.KINDS:
            raise SandboxError(f"unknown job kind {job.kind!r}; known: {', '.join(protocol.KINDS)}")
        payload = job.encode()
        expected = job.expected()
        if len(payload) > self.limits.request_limit:
            raise SandboxError(f"the job is {len(payload)} bytes; the limit is "
                               f"{self.limits.request_limit}")
        for attempt in (1, 2):
            self._ensure_running()
            try:
                data, trailer = self._exchange(protocol.OP_RUN, payload, self._job_timeout(),
                                               job.kind, expected.result_limit(self.limits))
                break
            except (SandboxUnavailableError, ConnectionError, FileNotFoundError) as error:
                if self.external or attempt == 2:
                    raise SandboxUnavailableError(
                        f"the sandbox runner is unavailable: {error}") from None
        return interpret(data, trailer, self.limits, expected)

    def _cleanup_process(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._directory is not None and self._own_directory:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def close(self) -> None:
        """Stop a started runner (its running jobs are killed) and remove its files."""
        with self._lock:
            if not self.external:
                self._cleanup_process()
                self.process = None
