"""The sandbox runner: a single-threaded fork server for student code.

Run as its own process (``python -m grader.sandbox.runner --socket PATH``, or
``gdlab sandbox-server --socket PATH``), never inside the service: a forked child can read
all of its parent's memory, so the runner holds nothing secret. It has numpy imported
(with every BLAS/OpenMP pool pinned to one thread *before* the import: forking while a
BLAS thread runs deadlocks), the sandbox's own code, and nothing else of gdlab's — no
reference optimizer, gradient or schedule, no results, no tokens, no database.

Before it imports what the update-rule loop needs (the problems' gradients) it forks a
*zygote*: kinds that must not have those in memory (a gradient exercise grades exactly
that) get their children from the zygote instead (see
:func:`grader.sandbox.child.zygote_main`).

It never reads a job's payload either. For each connection it reads a preamble (which
says the job's kind and how many result bytes the job may send back); when a slot is free
it hands the connection to a child of that kind, forked ahead of time and already
isolated (see :mod:`grader.sandbox.child`), which reads the job itself and runs it; the
runner relays the child's result bytes to the client with ``splice`` (they never enter
its memory), enforces the wall clock (SIGKILL) and the job's byte cap (a frame forged
larger than the job could produce is cut here, not read by the client), and ends the
response with the child's exit status. With every slot
busy a job waits in a bounded queue; with the queue full it is refused at once as
``busy``.
"""

from __future__ import annotations

import os

# Pinned before numpy is imported anywhere in this process (see the module docstring).
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                  "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse
import array
import collections
import contextlib
import fcntl
import gc
import json
import resource
import select
import selectors
import shutil
import signal
import socket
import struct
import sys
import tempfile
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grader
from grader.limits import SandboxLimits
from grader.sandbox import child, harness, layers, protocol

RUNNER_VERSION = "1"
PR_SET_CHILD_SUBREAPER = 36
#: Children kept on standby per kind: a submission sends two jobs of one kind at once (its
#: visible and its hidden runs), and neither should wait for a child to isolate itself.
STANDBY_PER_KIND = 2


@dataclass
class _Zygote:
    pid: int
    sock: socket.socket


@dataclass
class _Waiting:
    sock: socket.socket
    kind: str
    length: int
    since: float
    result_limit: int


@dataclass
class _Standby:
    """A child forked ahead of time for one kind of job, isolated and waiting."""

    pid: int
    control: socket.socket
    pipe: int


@dataclass
class _Job:
    pid: int
    slot: int
    sock: socket.socket
    pipe: int | None
    started: float
    deadline: float
    result_limit: int
    relayed: int = 0
    killed: str | None = None
    exit: dict[str, Any] | None = None
    cpu_seconds: float = 0.0
    max_rss_kib: int = 0
    reaped_at: float | None = None
    client_gone: bool = False
    control: socket.socket | None = None
    ready: bool = False


@dataclass
class _Stats:
    started: float = field(default_factory=time.monotonic)
    jobs: int = 0
    busy_refusals: int = 0


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _vm_size() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def hidden_packages() -> list[str]:
    """Directories of gdlab's own packages: never visible to a child."""
    root = Path(grader.__file__).resolve().parent.parent
    return [str(root / name) for name in ("grader", "service", "exercises")]


def child_plan(
    limits: SandboxLimits, staging: str, disabled: set[str]
) -> tuple[layers.ChildPlan, dict[str, str | None]]:
    """Prepare what every child needs, and find out which layers this machine allows."""
    try:
        seccomp = layers.build_seccomp_filter()
    except (ImportError, OSError, RuntimeError, AttributeError):
        seccomp = None
    address_space = _vm_size() + limits.memory_limit
    rlimits = (
        (resource.RLIMIT_CPU, limits.cpu_limit, limits.cpu_limit + 1),
        (resource.RLIMIT_AS, address_space, address_space),
        (resource.RLIMIT_NPROC, 1, 1),
        (resource.RLIMIT_FSIZE, limits.file_size_limit, limits.file_size_limit),
        (resource.RLIMIT_NOFILE, limits.open_files, limits.open_files),
        (resource.RLIMIT_CORE, 0, 0),
    )
    root = layers.plan_root(staging, hidden_packages(), limits.tmp_size, limits.tmp_inodes)
    candidate = layers.ChildPlan(frozenset(layers.LAYERS), root, limits.uid_base, rlimits,
                                 os.getpid(), seccomp)
    report = layers.probe(candidate)
    for name in disabled:
        report[name] = "disabled by the operator"
    active = frozenset(name for name, missing in report.items() if missing is None)
    return layers.ChildPlan(active, root, limits.uid_base, rlimits, os.getpid(), seccomp), report


class Runner:
    """The fork server's state and event loop; see the module docstring."""

    def __init__(self, listener: socket.socket, *, limits: SandboxLimits,
                 plan: layers.ChildPlan, report: dict[str, str | None], zygote: _Zygote,
                 direct_kinds: set[str]) -> None:
        self.listener = listener
        self.zygote = zygote
        self.direct_kinds = direct_kinds
        self.exit_code = 0
        self.limits = limits
        self.plan = plan
        self.report = report
        self.free_slots = collections.deque(range(limits.slots))
        self.waiting: collections.deque[_Waiting] = collections.deque()
        self.jobs: dict[int, _Job] = {}
        self.standby: dict[str, list[_Standby]] = {kind: [] for kind in protocol.KINDS}
        self.standby_failures: dict[str, float] = {}
        self.opening: dict[int, tuple[socket.socket, bytearray]] = {}
        self.stats = _Stats()
        self.stopping = False
        self.selector = selectors.DefaultSelector()
        self.wake_read, wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self.selector.register(self.wake_read, selectors.EVENT_READ, ("wake", None))
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ, ("accept", None))

    def _stop(self, *_: Any) -> None:
        self.stopping = True

    # --- status ----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What the runner reports about itself: layers, slots, load, limits."""
        return {
            "runner": RUNNER_VERSION,
            "pid": os.getpid(),
            "uptime": round(time.monotonic() - self.stats.started, 3),
            "layers": {name: {"active": name in self.plan.layers, "missing": self.report[name]}
                       for name in layers.LAYERS},
            "slots": self.limits.slots,
            "running": len(self.jobs),
            "waiting": len(self.waiting),
            "jobs": self.stats.jobs,
            "busy_refusals": self.stats.busy_refusals,
            "children": sorted(self.jobs),
            "zygote": self.zygote.pid,
            "limits": self.limits.to_dict(),
        }

    # --- the loop ----------------------------------------------------------------------

    def serve(self) -> int:
        """Serve until SIGTERM/SIGINT (exit status 0) or until the zygote dies (1); then
        kill every child and return the exit status."""
        self._fill_standby()
        while not self.stopping:
            timeout = self._next_timeout()
            for key, _ in self.selector.select(timeout):
                kind, data = key.data
                if kind == "wake":
                    self._drain_wakeups()
                elif kind == "accept":
                    self._accept()
                elif kind == "open":
                    self._read_preamble(data)
                elif kind == "result":
                    self._relay(data)
                elif kind == "ready":
                    self._read_ready(data)
            self._reap()
            self._enforce_deadlines()
            self._finish_done()
            self._start_waiting()
            self._fill_standby()
        self._shutdown()
        return self.exit_code

    def _next_timeout(self) -> float | None:
        now = time.monotonic()
        times = [job.deadline for job in self.jobs.values() if job.killed is None]
        times += [job.reaped_at + 0.5 for job in self.jobs.values() if job.reaped_at]
        return max(0.0, min(times) - now) if times else 1.0

    def _drain_wakeups(self) -> None:
        try:
            while os.read(self.wake_read, 4096):
                pass
        except BlockingIOError:
            pass

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except BlockingIOError:
                return
            sock.setblocking(True)
            self.opening[sock.fileno()] = (sock, bytearray())
            self.selector.register(sock, selectors.EVENT_READ, ("open", sock))

    def _read_preamble(self, sock: socket.socket) -> None:
        _, buffer = self.opening[sock.fileno()]
        try:
            data = sock.recv(protocol.PREAMBLE.size - len(buffer))
        except OSError:
            data = b""
        if not data:
            self._forget_opening(sock)
            sock.close()
            return
        buffer += data
        if len(buffer) < protocol.PREAMBLE.size:
            return
        self._forget_opening(sock)
        try:
            op, kind, length, asked = protocol.parse_preamble(bytes(buffer))
        except protocol.FrameError:
            sock.close()
            return
        result_limit = min(asked or self.limits.result_limit, self.limits.result_limit)
        if op == protocol.OP_STATUS:
            self._respond(sock, self.status())
        elif length > self.limits.request_limit:
            self._respond(sock, {"error": "too-large", "limit": self.limits.request_limit})
        elif self.free_slots:
            self._start(sock, kind, length, result_limit)
        elif len(self.waiting) < self.limits.queue:
            self.waiting.append(_Waiting(sock, kind, length, time.monotonic(), result_limit))
        else:
            self.stats.busy_refusals += 1
            self._respond(sock, {"error": "busy", "retry_after": self._retry_after()})

    def _forget_opening(self, sock: socket.socket) -> None:
        self.opening.pop(sock.fileno(), None)
        self.selector.unregister(sock)

    def _retry_after(self) -> int:
        backlog = len(self.jobs) + len(self.waiting)
        return max(1, round(backlog / self.limits.slots * min(self.limits.time_limit, 1.0)))

    def _respond(self, sock: socket.socket, message: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            sock.sendall(protocol.chunk(b"E", json.dumps(message).encode()))
        sock.close()

    def _start_waiting(self) -> None:
        while self.free_slots and self.waiting and not self.stopping:
            waiting = self.waiting.popleft()
            self._start(waiting.sock, waiting.kind, waiting.length, waiting.result_limit)

    def _fork_standby(self, kind: str) -> _Standby:
        if kind not in self.direct_kinds:
            return self._standby_from_zygote(kind)
        control, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            child.standby_main(child_end.fileno(), write_end, kind, self.plan, self.limits)
        child_end.close()
        os.close(write_end)
        return _Standby(pid, control, read_end)

    def _standby_from_zygote(self, kind: str) -> _Standby:
        self.zygote.sock.sendall(bytes([protocol.KINDS.index(kind)]))
        message, fds, _, _ = socket.recv_fds(self.zygote.sock, 8, 2)
        if len(message) != 8 or len(fds) != 2:
            raise RuntimeError("the zygote stopped answering")
        (pid,) = struct.unpack(">q", message)
        return _Standby(pid, socket.socket(fileno=fds[0]), fds[1])

    def _fill_standby(self) -> None:
        """Keep children of every kind ready, as many as slots up to
        :data:`STANDBY_PER_KIND` (not in a tight loop if they keep failing)."""
        now = time.monotonic()
        wanted = min(STANDBY_PER_KIND, self.limits.slots)
        for kind in protocol.KINDS:
            resting = now - self.standby_failures.get(kind, -10.0) < 1.0
            while len(self.standby[kind]) < wanted and not self.stopping and not resting:
                self.standby[kind].append(self._fork_standby(kind))

    def _start(self, sock: socket.socket, kind: str, length: int, result_limit: int) -> None:
        slot = self.free_slots.popleft()
        ready = self.standby[kind]
        standby = ready.pop(0) if ready else self._fork_standby(kind)
        # If the standby died meanwhile, sending fails; it is reaped and the job reported.
        with contextlib.suppress(OSError):
            socket.send_fds(standby.control, [child.ASSIGNMENT.pack(slot, length)],
                            [sock.fileno()])
        now = time.monotonic()
        job = _Job(standby.pid, slot, sock, standby.pipe, now, now + self.limits.time_limit,
                   result_limit, control=standby.control)
        self.jobs[standby.pid] = job
        self.selector.register(standby.pipe, selectors.EVENT_READ, ("result", job))
        self.selector.register(standby.control, selectors.EVENT_READ, ("ready", job))

    def _read_ready(self, job: _Job) -> None:
        """The child's own set-up is done (one byte), or it closed its control socket."""
        assert job.control is not None
        with contextlib.suppress(OSError):
            job.ready = job.ready or job.control.recv(1) == child.READY
        self._close_control(job)

    def _read_ready_if_sent(self, job: _Job) -> None:
        assert job.control is not None
        if select.select([job.control], [], [], 0)[0]:
            self._read_ready(job)
        else:
            self._close_control(job)

    def _close_control(self, job: _Job) -> None:
        if job.control is not None:
            self.selector.unregister(job.control)
            job.control.close()
            job.control = None

    def _relay(self, job: _Job) -> None:
        """Move what the child wrote to the client, through the kernel (splice)."""
        assert job.pipe is not None
        available = array.array("i", [0])
        fcntl.ioctl(job.pipe, termios.FIONREAD, available)
        count = available[0]
        if count == 0:  # end of file: the child is done writing
            self._close_pipe(job)
            return
        if job.relayed + count > job.result_limit:
            self._kill(job, "output-limit")
            self._close_pipe(job)
            return
        try:
            job.sock.sendall(protocol.CHUNK.pack(b"D", count))
            while count:
                moved = os.splice(job.pipe, job.sock.fileno(), count)
                if moved == 0:
                    break
                count -= moved
                job.relayed += moved
        except OSError:
            job.client_gone = True
            self._kill(job, None)
            self._close_pipe(job)

    def _close_pipe(self, job: _Job) -> None:
        if job.pipe is not None:
            self.selector.unregister(job.pipe)
            os.close(job.pipe)
            job.pipe = None

    def _kill(self, job: _Job, reason: str | None) -> None:
        if job.exit is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(job.pid, signal.SIGKILL)
        if job.killed is None:
            job.killed = reason

    def _reap(self) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            job = self.jobs.get(pid)
            if pid == self.zygote.pid:
                if not self.stopping:
                    print("gdlab sandbox: the zygote died; stopping so that the runner is "
                          "started again", file=sys.stderr, flush=True)
                    self.exit_code = 1
                    self.stopping = True
                continue
            if job is None:
                self._standby_died(pid, status)
                continue
            job.exit = ({"code": os.WEXITSTATUS(status), "signal": None}
                        if os.WIFEXITED(status) else {"code": None, "signal": os.WTERMSIG(status)})
            job.cpu_seconds = usage.ru_utime + usage.ru_stime
            job.max_rss_kib = usage.ru_maxrss
            job.reaped_at = time.monotonic()

    def _standby_died(self, pid: int, status: int) -> None:
        for kind, ready in self.standby.items():
            for standby in [s for s in ready if s.pid == pid]:
                ready.remove(standby)
                standby.control.close()
                os.set_blocking(standby.pipe, False)
                try:
                    said = os.read(standby.pipe, 4096)
                except OSError:
                    said = b""
                os.close(standby.pipe)
                self.standby_failures[kind] = time.monotonic()
                print(f"gdlab sandbox: a {kind} child failed before its job (status {status}): "
                      f"{said[:600]!r}", file=sys.stderr, flush=True)

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for job in self.jobs.values():
            if job.exit is None and job.killed is None and now >= job.deadline:
                self._kill(job, "timeout")

    def _finish_done(self) -> None:
        now = time.monotonic()
        for pid in [pid for pid, job in self.jobs.items() if job.exit is not None]:
            job = self.jobs[pid]
            if job.pipe is not None and now < job.reaped_at + 0.5:
                self._relay_rest(job)
                if job.pipe is not None:
                    continue  # a leftover holds the pipe open: give it a moment
            self._close_pipe(job)
            if job.control is not None:
                self._read_ready_if_sent(job)
            # Anything the child left in its process group goes with it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            del self.jobs[pid]
            self.free_slots.append(job.slot)
            self.stats.jobs += 1
            if not job.client_gone:
                self._respond(job.sock, {
                    "exit": job.exit,
                    "killed": job.killed,
                    "elapsed": round((job.reaped_at or now) - job.started, 6),
                    "cpu_seconds": round(job.cpu_seconds, 6),
                    "max_rss_kib": job.max_rss_kib,
                    "slot": job.slot,
                    "ready": job.ready,
                })
            else:
                job.sock.close()

    def _relay_rest(self, job: _Job) -> None:
        while job.pipe is not None:
            ready, _, _ = select.select([job.pipe], [], [], 0)
            if not ready:
                return
            self._relay(job)

    def _shutdown(self) -> None:
        self.zygote.sock.close()  # the zygote exits when its socket closes
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.zygote.pid, signal.SIGKILL)
        for standby in [s for ready in self.standby.values() for s in ready]:
            try:
                os.kill(standby.pid, signal.SIGKILL)
                os.waitpid(standby.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            standby.control.close()
            os.close(standby.pipe)
        for ready in self.standby.values():
            ready.clear()
        for job in self.jobs.values():
            self._kill(job, "shutdown")
        deadline = time.monotonic() + 5
        while self.jobs and time.monotonic() < deadline:
            self._reap()
            for pid in [pid for pid, job in self.jobs.items() if job.exit is not None]:
                job = self.jobs.pop(pid)
                self._close_pipe(job)
                if job.control is not None:
                    self._close_control(job)
                job.sock.close()
            time.sleep(0.01)
        for waiting in self.waiting:
            self._respond(waiting.sock, {"error": "shutdown"})
        self.listener.close()


def _listen(path: str, mode: int) -> socket.socket:
    if os.path.exists(path):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # a stale socket of a runner that is gone
        else:
            probe.close()
            raise SystemExit(f"gdlab sandbox: another runner already listens on {path}")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, mode)
    listener.listen(128)
    return listener


def _describe_layers(report: dict[str, str | None]) -> str:
    active = [name for name, missing in report.items() if missing is None]
    missing = [f"{name} ({why})" for name, why in report.items() if why is not None]
    text = f"layers active: {', '.join(active) or 'none'}"
    return text + (f"; missing: {'; '.join(missing)}" if missing else "")


def main(argv: list[str] | None = None) -> int:
    """Start a runner on a UNIX socket; see ``--help``."""
    parser = argparse.ArgumentParser(prog="gdlab sandbox-server",
                                     description="Run the gdlab sandbox runner on a UNIX socket.")
    parser.add_argument("--socket", required=True, help="path of the UNIX socket to listen on")
    parser.add_argument("--socket-mode", default="600", help="octal permissions of the socket")
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="exit when this process (the one that started the runner) dies")
    parser.add_argument("--limits", default=None,
                        help="JSON of sandbox limits (default: GDLAB_SANDBOX_* variables)")
    parser.add_argument("--disable-layer", action="append", default=[], choices=layers.LAYERS,
                        help="do not apply this layer (for testing what each layer blocks)")
    args = parser.parse_args(argv)

    if args.parent_pid is not None:
        layers.prctl(layers.PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != args.parent_pid:
            return 1
    try:
        limits = (SandboxLimits(**json.loads(args.limits)) if args.limits
                  else SandboxLimits.from_env())
    except (ValueError, TypeError) as error:
        print(f"gdlab sandbox: bad limits: {error}", file=sys.stderr)
        return 2

    # Student code is batch work: the runner and every job it forks yield the CPU to the
    # web service (a /health or a page stays quick while all slots are busy).
    os.setpriority(os.PRIO_PROCESS, 0, limits.niceness)
    child.warm_up()
    if _threads() != 1:
        print(f"gdlab sandbox: the runner must be single-threaded before it forks, but has "
              f"{_threads()} threads (was numpy imported before the BLAS pools were pinned?)",
              file=sys.stderr)
        return 2
    staging = tempfile.mkdtemp(prefix="gdlab-sandbox-root-")
    try:
        plan, report = child_plan(limits, staging, set(args.disable_layer))
        missing = {name: why for name, why in report.items() if why is not None}
        if limits.require == "all" and missing:
            print("gdlab sandbox: refusing to start (GDLAB_SANDBOX_REQUIRE=all): "
                  + _describe_layers(report), file=sys.stderr)
            return 3
        listener = _listen(args.socket, int(args.socket_mode, 8))
        zygote, direct_kinds = _start_zygote(plan, limits)
        print(f"gdlab sandbox runner {os.getpid()} on {args.socket}: {_describe_layers(report)}",
              file=sys.stderr, flush=True)
        try:
            status = Runner(listener, limits=limits, plan=plan, report=report, zygote=zygote,
                            direct_kinds=direct_kinds).serve()
        finally:
            if os.path.exists(args.socket):
                os.unlink(args.socket)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return status


def _start_zygote(plan: layers.ChildPlan, limits: SandboxLimits) -> tuple[_Zygote, set[str]]:
    """Fork the zygote while this process still holds nothing any kind grades; then import
    what the kinds need and return which kinds this process may fork itself."""
    layers.prctl(PR_SET_CHILD_SUBREAPER, 1)  # the zygote's grandchildren become ours
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    gc.freeze()  # see below
    pid = os.fork()
    if pid == 0:
        ours.close()
        child.zygote_main(theirs, plan, limits)
    theirs.close()
    ours.settimeout(10)
    loaded: set[str] = set()
    for kind in harness.MODULES:
        harness.load(kind)
        loaded.update(harness.MODULES[kind])
    direct = {kind for kind, forbidden in harness.FORBIDDEN.items() if not loaded & set(forbidden)}
    # Everything allocated so far is moved out of the collector's reach: otherwise the
    # first collection in every child touches every object, copying the whole heap.
    gc.freeze()
    return _Zygote(pid, ours), direct


if __name__ == "__main__":
    sys.exit(main())
