"""Nothing lost, against the real processes: a live ``gdlab serve`` with GDLAB_REDIS_URL,
``gdlab worker`` subprocesses, and a private redis-server (tests/redis_server.py).

- a worker killed (SIGKILL) in the middle of a job: the submission is still graded, once;
- Redis restarted with an empty dataset in the middle of a load: every submission ends
  graded;
- 2 workers and 300 submissions from 16 concurrent clients: 300 graded, each exactly once,
  with the right scores;
- a worker killed after grading, before its callback was delivered: the callback still
  arrives (sent by another worker), signed;
- ``gdlab serve`` in queue mode starts no sandbox runner of its own.

The database is on the session's backend (SQLite or PostgreSQL, see tests/databases.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import create_engine, text

from service.client import Client
from tests.conftest import DatabaseUrlFor
from tests.integration.conftest import Launch
from tests.integration.server import (
    ASCENT,
    INSTRUCTOR_TOKEN,
    SOLUTION,
    GdlabServer,
    WorkerProcess,
    alive,
    bearer,
    descendants,
    gdlab_command,
    source,
)
from tests.redis_server import RedisServer

API = "/api/v1"
CALLBACK_SECRET = "integration-callback-secret"
INSTRUCTOR = bearer(INSTRUCTOR_TOKEN)
#: Seconds a test waits for its submissions to be graded.
GRADED_TIMEOUT = 120.0
#: A correct solution that sleeps 2 s on its first step: a job long enough to be killed in.
SLOW = ("import time\n_slept = []\n\n"
        "def update(params, grad, lr, state, **hyper):\n"
        "    if not _slept:\n        _slept.append(True)\n        time.sleep(2)\n"
        "    return params - lr * grad\n")


@dataclass
class Stack:
    """The server, its Redis, and the workers started for one test."""

    server: GdlabServer
    redis: RedisServer
    env: dict[str, str]
    data_dir: Path
    queue_name: str
    logs: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    def start_workers(self, count: int) -> list[WorkerProcess]:
        """``count`` new workers, started together, each alive (its heartbeat in Redis)."""
        started = [WorkerProcess(self.env, self.logs / f"worker-{uuid.uuid4().hex[:6]}.log",
                                 self.data_dir).start() for _ in range(count)]
        self.workers += started
        deadline = time.monotonic() + 60
        for worker in started:
            while worker.pid not in self.live_pids():
                if worker.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"gdlab worker did not start:\n{worker.log()[-3000:]}")
                time.sleep(0.1)
        return started

    def running_workers(self) -> list[WorkerProcess]:
        """The workers whose process still runs."""
        return [w for w in self.workers if w.process is not None and w.process.poll() is None]

    def live_pids(self) -> set[int]:
        """The pids of the workers whose heartbeat is current."""
        with contextlib.suppress(Exception):
            keys = self.redis.client().keys(f"gdlab:{self.queue_name}:worker:*")
            return {json.loads(value)["pid"]
                    for value in self.redis.client().mget(keys) if value} if keys else set()
        return set()

    def stop_workers(self) -> list[int]:
        """Stop every running worker (SIGTERM to all at once, then waited for); their exit
        statuses."""
        running = self.running_workers()
        for worker in running:
            worker.process.send_signal(signal.SIGTERM)
        statuses = []
        for worker in running:
            try:
                statuses.append(worker.process.wait(timeout=30))
            except subprocess.TimeoutExpired:
                statuses.append(-1)
            worker.stop()
        self.workers.clear()
        return statuses

    def queue(self) -> dict[str, Any]:
        """GET /api/v1/queue."""
        answer = self.server.get(f"{API}/queue", headers=INSTRUCTOR)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def queue_worker_of(self, public_id: str) -> str:
        """The name of the worker that graded a submission (read from the database)."""
        engine = create_engine(self.env["GDLAB_DATABASE_URL"])
        try:
            with engine.connect() as connection:
                return connection.execute(
                    text("SELECT worker FROM submissions WHERE public_id = :id"),
                    {"id": public_id}).scalar_one()
        finally:
            engine.dispose()

    def submission(self, public_id: str) -> dict[str, Any]:
        """GET a submission (instructor)."""
        answer = self.server.get(f"{API}/submissions/{public_id}", headers=INSTRUCTOR)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, code: str, student: str, **query: str) -> dict[str, Any]:
        """POST a submission without waiting; its body (202)."""
        answer = self.server.post(f"{API}/submissions", params={"wait": "false", **query},
                                  json={"exercise": "gd", "code": code, "student": student})
        assert answer.status_code == 202, answer.text
        return answer.json()

    def wait_graded(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Every submission of ``ids`` once its grading is over (graded or not)."""
        deadline = time.monotonic() + GRADED_TIMEOUT
        final: dict[str, dict[str, Any]] = {}
        while len(final) < len(ids):
            for public_id in ids:
                if public_id not in final:
                    shown = self.submission(public_id)
                    if shown["status"] not in ("queued", "grading"):
                        final[public_id] = shown
            if len(final) < len(ids):
                if time.monotonic() > deadline:
                    logs = "\n".join(w.log()[-2000:] for w in self.workers)
                    raise AssertionError(f"{len(ids) - len(final)} of {len(ids)} not graded "
                                         f"within {GRADED_TIMEOUT:.0f} s; queue: "
                                         f"{self.queue()}\n{logs}")
                time.sleep(0.3)
        return final


@pytest.fixture(scope="module")
def queue_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's data folder (the workers run there too)."""
    return tmp_path_factory.mktemp("queue-data")


@pytest.fixture(scope="module")
def queue_database_url(queue_data_dir: Path, database_url_for: DatabaseUrlFor) -> str:
    """The database the server and the workers share, on the session's backend (for
    SQLite: the file in the data folder)."""
    return database_url_for(queue_data_dir) or f"sqlite:///{queue_data_dir / 'gdlab.sqlite3'}"


@pytest.fixture(scope="module")
def stack_base(launch: Launch, redis_server: RedisServer, queue_data_dir: Path,
               queue_database_url: str, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Stack]:
    """A server with a job queue (module-wide; the workers are each test's)."""
    data_dir = queue_data_dir
    queue_name = f"it-{uuid.uuid4().hex[:8]}"
    settings = {"GDLAB_REDIS_URL": redis_server.url, "GDLAB_QUEUE_NAME": queue_name,
                "GDLAB_DATABASE_URL": queue_database_url,
                "GDLAB_SUBMIT_WAIT": "60", "GDLAB_SANDBOX_TIME_LIMIT": "20",
                "GDLAB_MAX_ATTEMPTS": "3", "GDLAB_CALLBACK_SECRET": CALLBACK_SECRET,
                "GDLAB_CALLBACK_ALLOW_PRIVATE": "true"}
    server = launch(env=settings, data_dir=data_dir, name="queue")
    env = {**server.environment(), **settings}
    base = Stack(server, redis_server, env, data_dir, queue_name,
                 tmp_path_factory.mktemp("worker-logs"))
    yield base
    statuses = base.stop_workers()
    # SIGTERM is a warm shutdown: each worker finishes (or has no) job and exits cleanly
    assert statuses and set(statuses) == {0}, statuses


@pytest.fixture
def stack(stack_base: Stack) -> Stack:
    """The module's server with two grading workers running (started again if a test
    killed one)."""
    missing = 2 - len(stack_base.running_workers())
    if missing > 0:
        stack_base.start_workers(missing)
    return stack_base


def test_a_worker_killed_mid_job_leaves_its_submission_to_another(stack: Stack) -> None:
    first, second = stack.running_workers()
    posted = stack.post(SLOW, "kill-test")
    deadline = time.monotonic() + 60
    while not (running := [r for r in stack.queue()["running"] if r["id"] == posted["id"]]):
        assert time.monotonic() < deadline, f"never started: {stack.queue()}"
        time.sleep(0.1)
    holder_pid = int(running[0]["worker"].split(":")[1])
    holder = first if holder_pid == first.pid else second
    survivor = second if holder is first else first
    below = descendants(holder.pid)  # its sandbox runner and the job's processes
    holder.kill()

    final = stack.wait_graded([posted["id"]])[posted["id"]]
    assert final["status"] == "graded" and final["score"] == 100.0
    assert final["attempts"] == 2  # started by the killed worker, then by the survivor
    assert survivor.pid in stack.live_pids() and holder.pid not in stack.live_pids()
    deadline = time.monotonic() + 10  # the runner dies with its worker (pdeathsig)
    while any(alive(p) for p in below) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in below)


def test_redis_restarted_empty_mid_load_loses_nothing(stack: Stack) -> None:
    ids = [stack.post(source(SOLUTION), "restart-test")["id"] for _ in range(15)]
    stack.redis.restart()  # every queued job, the heartbeats and the locks: gone
    ids += [stack.post(source(SOLUTION), "restart-test")["id"] for _ in range(15)]
    final = stack.wait_graded(ids)
    assert {f["status"] for f in final.values()} == {"graded"}
    assert {f["score"] for f in final.values()} == {100.0}
    assert len(set(ids)) == 30


def test_two_workers_grade_300_submissions_from_16_clients_each_once(stack: Stack) -> None:
    workers = stack.running_workers()
    done_before = {w["pid"]: w["jobs_done"] for w in stack.queue()["workers"]}
    solution, ascent = source(SOLUTION), source(ASCENT)
    plan = [(f"load-{i % 16}", ascent if i % 10 == 0 else solution) for i in range(300)]
    client_of: dict[str, Client] = {}
    lock = threading.Lock()

    def client(student: str) -> Client:
        with lock:
            return client_of.setdefault(student, Client(stack.server.base))

    def one(item: tuple[str, str]) -> dict[str, Any]:
        student, code = item
        posted = client(student).session.post(
            stack.server.url(f"{API}/submissions"), headers={"Prefer": "respond-async"},
            json={"exercise": "gd", "code": code, "student": student}, timeout=60)
        assert posted.status_code == 202, posted.text
        return posted.json()

    with ThreadPoolExecutor(max_workers=16) as pool:
        posted = list(pool.map(one, plan))
    final = stack.wait_graded([p["id"] for p in posted])
    assert len(final) == 300
    ascent_scores = {final[p["id"]]["score"] for p, (_, code) in zip(posted, plan, strict=True)
                     if code is ascent}
    solution_scores = {final[p["id"]]["score"]
                       for p, (_, code) in zip(posted, plan, strict=True) if code is solution}
    assert solution_scores == {100.0}
    assert len(ascent_scores) == 1 and ascent_scores.pop() < 50
    assert {f["status"] for f in final.values()} == {"graded"}
    assert {f["attempts"] for f in final.values()} == {1}  # each started, and graded, once
    listing = stack.server.get(f"{API}/submissions", headers=INSTRUCTOR,
                               params={"student": "load-3", "page_size": 200}).json()
    assert listing["total"] == sum(1 for student, _ in plan if student == "load-3")
    # the workers' own counts (their heartbeats lag by up to a second)
    deadline = time.monotonic() + 10
    while True:
        done = {w["pid"]: w["jobs_done"] - done_before.get(w["pid"], 0)
                for w in stack.queue()["workers"]}
        if sum(done.values()) >= 300 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert set(done) == {w.pid for w in workers}
    assert sum(done.values()) >= 300 and all(n > 0 for n in done.values())


def test_the_client_and_gdlab_submit_poll_a_queued_submission(stack: Stack,
                                                              tmp_path: Path) -> None:
    seen: list[str] = []
    result = Client(stack.server.base).submit("gd", source(SOLUTION), "client-test",
                                              progress=lambda s: seen.append(s["status"]))
    assert result["status"] == "graded" and result["score"] == 100.0
    assert seen and set(seen) <= {"queued", "grading"}
    solution = tmp_path / "gd.py"
    solution.write_text(source(SOLUTION))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GDLAB_")}
    done = subprocess.run([str(gdlab_command()), "submit", str(solution), "--exercise", "gd",
                           "--server", stack.server.base, "--json"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["score"] == 100.0


def test_health_says_which_part_is_down(stack: Stack) -> None:
    workers = stack.running_workers()
    health = stack.server.get("/health").json()
    assert health["status"] == "ok"
    assert health["queue"] == {"configured": True, "redis": True,
                               "workers": len(stack.live_pids())}
    # the sandbox is the workers', as their heartbeats report it
    assert health["sandbox"]["runner"] == "workers" and health["sandbox"]["reachable"] is True
    assert "seccomp" in health["sandbox"]["layers_active"]
    stack.redis.stop()
    try:
        # /health answers from states at most a second old
        deadline = time.monotonic() + 10
        while (down := stack.server.get("/health").json())["status"] == "ok":
            assert time.monotonic() < deadline, down
            time.sleep(0.2)
        assert down["status"] == "degraded" and down["queue"]["redis"] is False
        assert down["database"] is True
        kept = stack.post(source(SOLUTION), "outage-test")  # kept, queued when Redis is back
    finally:
        stack.redis.start()
    assert stack.wait_graded([kept["id"]])[kept["id"]]["status"] == "graded"
    assert stack.running_workers() == workers  # they rode out the outage


def test_serve_with_a_queue_starts_no_sandbox_runner(stack: Stack) -> None:
    below = [p.cmdline for p in descendants(stack.server.process.pid)]
    assert any("gunicorn" in line for line in below), below
    assert not any("grader.sandbox.runner" in line for line in below), below
    # while each worker has its own (started below it, at a lower CPU priority)
    for worker in stack.running_workers():
        runners = [p for p in descendants(worker.pid)
                   if "grader.sandbox.runner" in p.cmdline and p.ppid == worker.pid]
        assert len(runners) == 1
        assert os.getpriority(os.PRIO_PROCESS, runners[0].pid) >= 10


class Receiver(BaseHTTPRequestHandler):
    """Records the callbacks it is sent; answers 503 until ``Receiver.ready``."""

    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    ready: ClassVar[bool] = False

    def do_POST(self) -> None:
        """Record the callback."""
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(204 if Receiver.ready else 503)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


def test_a_worker_killed_before_delivering_its_callback_leaves_it_to_another(
        stack: Stack) -> None:
    Receiver.received, Receiver.ready = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        posted = stack.server.post(f"{API}/submissions", params={"wait": "false"},
                                   json={"exercise": "gd", "code": source(SOLUTION),
                                         "student": "callback-test", "callback_url": url})
        assert posted.status_code == 202, posted.text
        public_id = posted.json()["id"]
        # graded, and the first delivery attempt made (and refused with 503)
        deadline = time.monotonic() + GRADED_TIMEOUT
        while (shown := stack.submission(public_id)).get("callback") is None \
                or shown["callback"]["attempts"] < 1:
            assert time.monotonic() < deadline, shown
            time.sleep(0.05)
        assert shown["status"] == "graded" and shown["callback"]["status"] == "pending"
        # the worker that graded it dies before it could deliver it
        holder = int(stack.queue_worker_of(public_id).split(":")[1])
        killed = next(w for w in stack.running_workers() if w.pid == holder)
        killed.kill()
        Receiver.ready = True
        deadline = time.monotonic() + 90
        while (shown := stack.submission(public_id))["callback"]["status"] == "pending":
            assert time.monotonic() < deadline, shown
            time.sleep(0.2)
    finally:
        server.shutdown()
        server.server_close()
    assert shown["callback"]["status"] == "delivered", shown["callback"]
    delivery_id = shown["callback"]["delivery_id"]
    headers, body = Receiver.received[-1]
    expected = hmac.new(CALLBACK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Gdlab-Signature"] == f"sha256={expected}"
    assert headers["X-Gdlab-Delivery"] == delivery_id
    assert {h["X-Gdlab-Delivery"] for h, _ in Receiver.received} == {delivery_id}
    sent = json.loads(body)
    assert sent["id"] == public_id and sent["score"] == 100.0 and "instructor" not in sent
