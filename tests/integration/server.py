"""A real gdlab server, started as the README says, and helpers to talk to it.

``gdlab serve --port <free port>`` runs as a subprocess with its own data directory, a
known instructor token and no rate limit; the tests talk to it over HTTP with
``requests`` only. One server serves a whole session (``server``); tests that need
another configuration or a restart start their own with ``launch``. Stopping a server is
SIGTERM to ``gdlab serve`` and a wait for it, after which none of its processes (gunicorn
master and workers, the sandbox runner and its children) may be left.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
EXERCISES = REPO / "exercises"
API = "/api/v1"

#: The instructors' token of every test server (32 characters).
INSTRUCTOR_TOKEN = "gdlab-integration-test-token-32c"
assert len(INSTRUCTOR_TOKEN) == 32

#: Seconds a server may take to answer /health after it was started.
STARTUP_TIMEOUT = 60.0
#: Seconds ``gdlab serve`` may take to stop after SIGTERM (gunicorn's graceful timeout is 10).
STOP_TIMEOUT = 40.0
#: Lines of the server's output shown when it misbehaves.
LOG_TAIL = 80


def gdlab_command() -> Path:
    """``.venv/bin/gdlab`` (the one next to this interpreter, else the repository's)."""
    beside = Path(sys.executable).with_name("gdlab")
    return beside if beside.exists() else REPO / ".venv" / "bin" / "gdlab"


def free_port() -> int:
    """A TCP port nobody listens on right now (bind to port 0 and ask)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- processes --------------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    """A process as /proc shows it; ``started`` (clock ticks after boot) tells a reused
    pid apart."""

    pid: int
    ppid: int
    started: int
    state: str
    cmdline: str


def _proc(pid: int) -> Proc | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    # the command name is in parentheses and may contain spaces: split after the last ')'
    fields = stat[stat.rindex(")") + 2:].split()
    return Proc(pid=pid, ppid=int(fields[1]), started=int(fields[19]), state=fields[0],
                cmdline=cmdline.replace(b"\0", b" ").decode("utf-8", "replace").strip())


def descendants(root: int) -> list[Proc]:
    """Every living process below ``root`` (children, grandchildren, ...)."""
    table = [p for p in (_proc(int(d)) for d in os.listdir("/proc") if d.isdigit())
             if p is not None]
    found: list[Proc] = []
    frontier = {root}
    while frontier:
        children = [p for p in table if p.ppid in frontier and p.state != "Z"]
        found += children
        frontier = {p.pid for p in children}
    return found


def alive(process: Proc) -> bool:
    """Whether ``process`` still runs (same pid and start time, not a zombie)."""
    now = _proc(process.pid)
    return now is not None and now.started == process.started and now.state != "Z"


# --- the server -------------------------------------------------------------------------


class ServerError(AssertionError):
    """The server did not start or stop as it should; the message has its output's tail."""


class GdlabServer:
    """One ``gdlab serve`` subprocess on a free port, with its output in a file."""

    def __init__(self, data_dir: Path, log_path: Path, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = ()) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.extra_env = dict(env or {})
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.session = requests.Session()
        self.processes: list[Proc] = []  # what ran below gdlab serve, seen while it ran

    # -- addresses and requests --

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        """Its GDLAB_DATABASE_URL ("" for the SQLite file in its data folder)."""
        return self.extra_env.get("GDLAB_DATABASE_URL", "")

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (``/health``, ``/api/v1/...``)."""
        return self.base + path

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A request on this server's keep-alive session."""
        kwargs.setdefault("timeout", 60)
        return self.session.request(method, self.url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET ``path``."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """POST ``path``."""
        return self.request("POST", path, **kwargs)

    # -- output --

    def log(self) -> str:
        """Everything the server printed so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = LOG_TAIL) -> str:
        """The last lines the server printed."""
        return "\n".join(self.log().splitlines()[-lines:])

    def fail(self, message: str) -> ServerError:
        """An error with the server's output tail attached (printed too, for -s runs)."""
        text = f"{message}\n--- last lines of {self.log_path} ---\n{self.tail()}"
        print(text, file=sys.stderr)
        return ServerError(text)

    # -- life cycle --

    def environment(self) -> dict[str, str]:
        """The server's environment: ours without GDLAB_*, plus the test settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GDLAB_")}
        env.update({"GDLAB_DATA_DIR": str(self.data_dir),
                    "GDLAB_INSTRUCTOR_TOKEN": INSTRUCTOR_TOKEN,
                    "GDLAB_RATE_LIMIT": "off"})
        env.update(self.extra_env)
        return env

    def start(self, attempts: int = 3) -> GdlabServer:
        """Start ``gdlab serve`` and wait until it answers /health; a port taken meanwhile
        by someone else is retried with another."""
        for attempt in range(attempts):
            self.port = free_port()
            with self.log_path.open("ab") as log:
                log.write(f"\n=== gdlab serve --port {self.port} ===\n".encode())
                log.flush()
                self.process = subprocess.Popen(
                    [str(gdlab_command()), "serve", "--port", str(self.port), *self.args],
                    env=self.environment(), cwd=self.data_dir, stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                self._wait_until_ready()
                return self
            except ServerError:
                taken = "in use" in self.tail(20).lower()
                self.stop(check=False)
                if not taken or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _listening(self) -> bool:
        # gunicorn says so only if *it* bound the port: /health alone could be answered
        # by someone else's server that took the port after we picked it
        return f"Listening at: http://127.0.0.1:{self.port} " in self.log()

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise self.fail(f"gdlab serve exited with status {self.process.returncode} "
                                "while starting")
            try:
                answer = requests.get(self.url("/health"), timeout=5)
                last = f"{answer.status_code} {answer.text[:200]}"
                if answer.status_code == 200 and self._listening():
                    self.processes = descendants(self.process.pid)
                    return
            # a read timeout too: the port is bound before the workers have booted, which
            # on a busy machine takes longer than one request's timeout
            except (requests.ConnectionError, requests.Timeout) as error:
                last = f"{type(error).__name__}"
            time.sleep(0.1)
        raise self.fail(f"gdlab serve did not answer /health within {STARTUP_TIMEOUT:.0f} s "
                        f"(last: {last})")

    def stop(self, check: bool = True) -> int | None:
        """SIGTERM ``gdlab serve``, wait for it, and check that nothing it started is left.

        Returns its exit status (None if it was not running)."""
        self.session.close()  # kept-alive connections would make gunicorn linger
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            self.processes = descendants(process.pid) or self.processes
        seen = self.processes
        process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            # our own process group (start_new_session): nothing else is in it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            if check:
                raise self.fail(f"gdlab serve did not stop within {STOP_TIMEOUT:.0f} s of "
                                "SIGTERM") from None
            return None
        # the runner's children die with it (pdeathsig) a moment later
        deadline = time.monotonic() + 10
        left = [p for p in seen if alive(p)]
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = [p for p in left if alive(p)]
        if check:
            if not any("gunicorn" in p.cmdline for p in seen):
                raise self.fail("no gunicorn process was seen below gdlab serve")
            if left:
                listing = "\n".join(f"  {p.pid}: {p.cmdline[:160]}" for p in left)
                raise self.fail(f"processes of gdlab serve are left after it stopped "
                                f"(status {status}):\n{listing}")
        return status


# --- helpers ----------------------------------------------------------------------------


class WorkerProcess:
    """One ``gdlab worker`` subprocess (its own session, its output in a file)."""

    def __init__(self, env: dict[str, str], log_path: Path, cwd: Path) -> None:
        self.env, self.log_path, self.cwd = env, log_path, cwd
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The worker's pid."""
        assert self.process is not None
        return self.process.pid

    def start(self) -> WorkerProcess:
        """Start ``gdlab worker``."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(gdlab_command()), "worker"], env=self.env, cwd=self.cwd,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        return self

    def kill(self) -> None:
        """SIGKILL the worker alone, as a crash would (its runner dies with it)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM (RQ's warm shutdown), then whatever is left of its session."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None

    def log(self) -> str:
        """What it printed."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def bearer(token: str) -> dict[str, str]:
    """``Authorization: Bearer <token>``."""
    return {"Authorization": f"Bearer {token}"}


def source(path: str) -> str:
    """A file of the bundled exercises, e.g. ``gd/solution.py``."""
    return (EXERCISES / path).read_text()


SOLUTION = "gd/solution.py"
ASCENT = "gd/mistakes/ascent.py"
FORGOT_LR = "gd/mistakes/forgot_lr.py"


def submit(server: GdlabServer, code: str, exercise: str = "gd",
           headers: dict[str, str] | None = None, **fields: Any) -> requests.Response:
    """POST a submission."""
    return server.post(f"{API}/submissions", json={"exercise": exercise, "code": code, **fields},
                       headers=headers or {})


def graded(response: requests.Response) -> dict[str, Any]:
    """The body of a 201 graded submission (with the response shown if it is not one)."""
    assert response.status_code == 201, f"{response.status_code} {response.text[:500]}"
    body = response.json()
    assert body["status"] == "graded", body
    assert response.headers["Location"] == body["links"]["self"]
    return body


def assert_json_error(response: requests.Response, status: int | tuple[int, ...]) -> dict:
    """``response`` is the API's JSON error ``{code, status, message, errors}`` with one
    of the expected statuses; returns its body."""
    expected = (status,) if isinstance(status, int) else status
    assert response.status_code in expected, \
        f"expected {expected}, got {response.status_code}: {response.text[:500]}"
    assert response.headers.get("Content-Type", "").startswith("application/json"), \
        response.headers
    body = response.json()
    assert set(body) == {"code", "status", "message", "errors"}, body
    assert body["code"] == response.status_code
    assert isinstance(body["status"], str) and body["status"]
    assert isinstance(body["message"], str) and body["message"].strip()
    assert isinstance(body["errors"], dict)
    assert all(isinstance(v, list) and all(isinstance(m, str) for m in v)
               for v in body["errors"].values()), body["errors"]
    assert "Traceback" not in response.text
    return body


def server_errors(server: GdlabServer) -> list[str]:
    """Access-log lines of the server that answered with a 5xx status."""
    pattern = re.compile(r'" 5\d\d \d+ ')
    return [line for line in server.log().splitlines() if pattern.search(line)]
