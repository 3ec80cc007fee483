"""The life of one sandboxed child, from the fork to its result frame.

The runner keeps one child *on standby* per job kind, forked ahead of time so that a job
does not wait for the fork, the imports and most of the isolation. A standby child,
running only gdlab's code:

1. closes every descriptor but its control socket and result pipe, points 0/1/2 at
   /dev/null and resets the runner's signal handling;
2. imports what its kind needs (for an update rule: the problems' gradients; nothing
   for the other kinds, which must not see the reference gradient or schedule);
3. isolates itself (:func:`grader.sandbox.layers.isolate`: session, namespaces, private
   root, resource limits) and waits;
4. receives its job's connection and slot from the runner, reads the job itself (the
   runner never reads job payloads, so it never holds another student's code or inputs)
   and closes the connection;
5. drops its privileges (:func:`grader.sandbox.layers.drop_privileges`: the slot's user
   id, no_new_privs, seccomp, an empty environment);
6. runs the student's module and entry point through the kind's loop, with its printed
   output kept up to a limit (the rest dropped) and the job ended only past a ceiling;
7. writes one result frame (JSON header + float64 arrays) to the pipe and exits.

Whatever the student's code does, the runner observes only the frame and the exit
status; the verdict is decided outside.
"""

from __future__ import annotations

import builtins
import io
import os
import select
import signal
import socket
import struct
import sys
import time
import traceback
from typing import Any, NoReturn

import numpy as np

from grader.limits import SandboxLimits
from grader.sandbox import harness, protocol
from grader.sandbox.harness import ContractViolationError, OutputLimitExceeded
from grader.sandbox.layers import ChildPlan, close_fds, drop_privileges, isolate
from grader.sandbox.static import SOURCE_NAME

#: Exit status of a child whose own set-up failed (not the student's doing).
EXIT_INTERNAL = 70


class BoundedOutput(io.TextIOBase):
    """A text stream that keeps the first ``limit`` bytes written, drops the rest, and
    raises :class:`OutputLimitExceeded` once ``ceiling`` bytes were written in all."""

    def __init__(self, limit: int, ceiling: int) -> None:
        self.limit = limit
        self.ceiling = max(limit, ceiling)
        self.parts: list[str] = []
        self.size = 0
        self.written = 0
        self.truncated = False
        self.overflowed = False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        data = text.encode("utf-8", "replace")
        self.written += len(data)
        if self.written > self.ceiling:
            self.overflowed = self.truncated = True
            raise OutputLimitExceeded
        if self.size + len(data) > self.limit:
            if not self.truncated:
                # cut in bytes, as counted: characters can be up to four bytes each
                self.parts.append(
                    data[: max(0, self.limit - self.size)].decode("utf-8", "ignore"))
                self.size = self.limit
            self.truncated = True
            return len(text)
        self.parts.append(text)
        self.size += len(data)
        return len(text)

    def text(self) -> str:
        """What was kept."""
        return "".join(self.parts)


def describe_error(error: BaseException) -> dict[str, Any]:
    """The student-facing facts of an exception: type, message, line in their code, and a
    category (``memory``, ``forbidden``, ``contract``, ``error``)."""
    if isinstance(error, MemoryError):
        category = "memory"
    elif isinstance(error, OSError):
        category = "forbidden"
    elif isinstance(error, ContractViolationError):
        category = "contract"
    else:
        category = "error"
    line = None
    if isinstance(error, SyntaxError) and error.filename == SOURCE_NAME:
        line = error.lineno
    for frame, lineno in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename == SOURCE_NAME:
            line = lineno
    try:
        message = str(error)
    except BaseException:  # the student's exception may not even print
        message = "(the exception's message could not be shown)"
    return {
        "type": str(type(error).__name__)[:100],
        "message": message[:1000],
        "line": line,
        "category": category,
    }


def _job_status(runs: list[dict[str, Any]]) -> str:
    categories = {run["error"]["category"] for run in runs if run.get("error")}
    for status in ("memory", "forbidden"):
        if status in categories:
            return status
    return "error" if categories else "ok"


def run_student(job: dict[str, Any], arrays: dict[str, Any], context: Any,
                limits: SandboxLimits) -> bytes:
    """Run the student's module and the job's loop; return the result frame."""
    out = BoundedOutput(limits.output_limit, limits.output_ceiling)
    sys.stdout = sys.stderr = out
    execute = harness.KINDS[job["kind"]][1]
    header: dict[str, Any] = {"status": "ok", "error": None, "runs": []}
    results: dict[str, Any] = {}
    try:
        namespace: dict[str, Any] = {"__name__": "submission", "__builtins__": builtins}
        exec(compile(job["code"], SOURCE_NAME, "exec"), namespace)
        entry = namespace.get(job["entry"])
        if not callable(entry):
            raise ContractViolationError(f"your code must define a function named {job['entry']}")
        outputs, results = execute(job, arrays, entry, context, describe_error)
        header["runs"] = outputs["runs"]
        header["status"] = _job_status(header["runs"])
    except OutputLimitExceeded:
        header["status"] = "output-limit"
    except BaseException as error:  # raised by the module itself, before any run
        header["error"] = describe_error(error)
        header["status"] = _job_status([{"error": header["error"]}])
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    if out.overflowed:
        header["status"] = "output-limit"
    header["stdout"] = out.text()
    header["stdout_truncated"] = out.truncated
    return protocol.encode(header, results)


def _read_exactly(fd: int, length: int, deadline: float) -> bytes:
    buffer = bytearray()
    while len(buffer) < length:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise TimeoutError("the job request did not arrive in time")
        chunk = os.read(fd, min(1 << 20, length - len(buffer)))
        if not chunk:
            raise EOFError("the client closed the connection before sending the job")
        buffer += chunk
    return bytes(buffer)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


#: What the runner sends a standby child with the job's connection: slot, payload length.
ASSIGNMENT = struct.Struct(">IQ")


#: What a child sends on its control socket once its own set-up is done, just before the
#: student's code runs: from then on, whatever goes wrong is the student's code's doing.
READY = b"R"


def _receive_assignment(control: socket.socket) -> tuple[int, int, int]:
    """Wait for the runner's hand-over: ``(slot, payload length, connection fd)``."""
    message, fds, _, _ = socket.recv_fds(control, ASSIGNMENT.size, 1)
    if len(message) != ASSIGNMENT.size or len(fds) != 1:
        raise EOFError("the runner closed the control socket")
    slot, length = ASSIGNMENT.unpack(message)
    return slot, length, fds[0]


def _wait_until_adopted_by(runner_pid: int) -> None:
    """A child made by the zygote belongs to the runner once its first parent has exited
    (the runner is a subreaper); PDEATHSIG must be armed only then."""
    deadline = time.monotonic() + 2
    while os.getppid() != runner_pid:
        if time.monotonic() > deadline:
            raise RuntimeError("the runner did not adopt this child")
        time.sleep(0.0002)


def zygote_main(control: socket.socket, plan: ChildPlan, limits: SandboxLimits) -> NoReturn:
    """Make standby children for the kinds that must not inherit the runner's memory.

    The zygote is forked by the runner before the runner imports anything a kind grades.
    For each request (one byte: the kind) it forks twice; the grandchild becomes the
    standby and, once its parent has exited, the runner's own child (the runner is a
    subreaper). The runner receives the grandchild's pid with its control socket and
    result pipe.
    """
    try:
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, signal.SIG_DFL)
        close_fds({control.fileno()})
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        if "pdeathsig" in plan.layers:
            from grader.sandbox.layers import PR_SET_PDEATHSIG, prctl  # noqa: PLC0415

            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        while request := control.recv(1):
            kind = protocol.KINDS[request[0]]
            runner_end, child_end = socket.socketpair()
            result_read, result_write = os.pipe()
            pid_read, pid_write = os.pipe()
            first = os.fork()
            if first == 0:
                second = os.fork()
                if second == 0:
                    control.close()
                    runner_end.close()
                    for fd in (result_read, pid_read, pid_write):
                        os.close(fd)
                    standby_main(child_end.fileno(), result_write, kind, plan, limits)
                os.write(pid_write, struct.pack(">q", second))
                os._exit(0)
            os.waitpid(first, 0)
            os.close(pid_write)
            (pid,) = struct.unpack(">q", os.read(pid_read, 8))
            os.close(pid_read)
            child_end.close()
            os.close(result_write)
            socket.send_fds(control, [struct.pack(">q", pid)], [runner_end.fileno(), result_read])
            runner_end.close()
            os.close(result_read)
    finally:
        os._exit(0)


def standby_main(control_fd: int, result_fd: int, kind: str, plan: ChildPlan,
                 limits: SandboxLimits) -> NoReturn:
    """Everything a child does, from the fork to its exit; never returns."""
    status = 0
    try:
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, signal.SIG_DFL)
        close_fds({control_fd, result_fd})
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        prepare = harness.KINDS[kind][0]
        harness.load(kind)
        _wait_until_adopted_by(plan.runner_pid)
        isolate(plan)
        control = socket.socket(fileno=control_fd)
        slot, length, conn_fd = _receive_assignment(control)
        payload = _read_exactly(conn_fd, length, time.monotonic() + limits.time_limit)
        os.close(conn_fd)
        frame = protocol.decode(payload, max_bytes=limits.request_limit, dtypes=("<f8", "<i8"))
        del payload
        job = frame.header
        if job.get("kind") != kind:
            raise ValueError(f"a {job.get('kind')!r} job was sent to a {kind!r} child")
        context = prepare(job, frame.arrays)
        drop_privileges(plan, slot)
        control.sendall(READY)
        control.close()
    except BaseException as error:  # gdlab's own set-up failed: say so, run nothing
        result = protocol.encode({"status": "internal",
                                  "error": {"type": type(error).__name__,
                                            "message": str(error)[:500]}})
        status = EXIT_INTERNAL
    else:
        result = run_student(job, dict(frame.arrays), context, limits)
    try:
        _write_all(result_fd, result)
    finally:
        os._exit(status)


def warm_up() -> None:
    """Import and exercise, once in the runner, what children would otherwise load on
    every job (numpy's lazily loaded parts, LAPACK's first call): nothing secret."""
    import numpy.random  # noqa: F401, PLC0415

    np.linalg.lstsq(np.eye(2), np.ones(2), rcond=None)
    np.linalg.eigvalsh(np.eye(2))
    np.random.default_rng(0).normal(size=2)
    for name in ("math", "random", "itertools", "functools", "collections", "copy",
                 "statistics", "dataclasses", "typing", "abc", "numpy.typing"):
        __import__(name)
