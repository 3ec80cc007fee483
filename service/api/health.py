"""GET /health: is the service able to grade?

``/health`` is what load balancers, container health checks and dashboards poll, so it
must stay fast when the service is busiest (a deadline). Each process therefore answers
from the parts' states as last checked, at most :data:`HEALTH_MAX_AGE` seconds old: the
first request after that checks them again (the database, Redis, the workers' heartbeats,
or the sandbox runner this process grades with), with short timeouts, while requests
arriving meanwhile get the states as they were (one check at a time per process).

With a job queue (``GDLAB_REDIS_URL``) the web tier has no sandbox runner: the workers
have theirs, and say in their heartbeats whether it answers and with which layers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from flask import current_app

from grader.engine.runs import ENGINE_VERSION
from grader.grading import gdlab_version
from service import queue as jobs
from service.api.common import Blueprint
from service.db import reachable
from service.schemas import HealthSchema
from service.state import Services, services

blp = Blueprint("health", __name__, description="Liveness and what is working")

#: Seconds the parts' states are answered from before they are checked again.
HEALTH_MAX_AGE = 1.0


class HealthCache:
    """The last health report of one app, checked again when older than ``max_age`` by one
    request at a time (the others get the previous one meanwhile)."""

    def __init__(self, max_age: float = HEALTH_MAX_AGE) -> None:
        self.max_age = max_age
        self._report: dict[str, Any] | None = None
        self._at = float("-inf")
        self._checking = threading.Lock()

    def get(self, check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The report, from ``check()`` when the kept one is too old and nobody is already
        checking (or when there is none yet: then every caller waits for it)."""
        fresh = time.monotonic() - self._at < self.max_age
        if fresh and self._report is not None:
            return self._report
        if self._report is not None and not self._checking.acquire(blocking=False):
            return self._report  # another request is checking: answer at once
        if self._report is None:
            self._checking.acquire()
        try:
            if self._report is None or time.monotonic() - self._at >= self.max_age:
                self._report = check()
                self._at = time.monotonic()
            return self._report
        finally:
            self._checking.release()


def _cache() -> HealthCache:
    return current_app.extensions.setdefault("gdlab_health", HealthCache())


NO_SANDBOX = {"reachable": False, "layers_active": [], "layers_missing": [], "slots": None,
              "running": None, "waiting": None}


def sandbox_health(state: Services) -> dict[str, Any]:
    """The runner this process grades with: its layers and load (queue mode: see
    :func:`workers_sandbox`)."""
    try:
        status = state.sandbox.status()
    except Exception:  # the runner is down or restarting: say so, do not fail /health
        return {**NO_SANDBOX, "runner": "web"}
    layers = status.get("layers", {})
    return {
        "runner": "web", "reachable": True,
        "layers_active": sorted(n for n, e in layers.items() if e.get("active")),
        "layers_missing": sorted(n for n, e in layers.items() if not e.get("active")),
        "slots": status.get("slots"), "running": status.get("running"),
        "waiting": status.get("waiting"),
    }


def workers_sandbox(workers: list[jobs.WorkerInfo] | None) -> dict[str, Any]:
    """The sandbox as the grading workers report it: reachable when one worker's runner
    answers (its layers shown), unknown (None) while no worker is alive to say.

    Examples
    --------
    >>> workers_sandbox([])["reachable"] is None
    True
    """
    if not workers:
        return {**NO_SANDBOX, "runner": "workers", "reachable": None}
    reports = [w.sandbox for w in workers if w.sandbox is not None]
    answering = [r for r in reports if r.get("reachable")]
    if not answering:
        return {**NO_SANDBOX, "runner": "workers", "reachable": False if reports else None}
    first = answering[0]
    return {**NO_SANDBOX, "runner": "workers", "reachable": True,
            "layers_active": first.get("layers_active", []),
            "layers_missing": first.get("layers_missing", [])}


@blp.route("/health")
@blp.response(200, HealthSchema)
def health() -> dict[str, Any]:
    """Status, version, exercises loaded, sandbox layers active, database reachable, and
    (with a job queue) whether Redis answers and how many grading workers are alive (with
    a job queue the sandbox is the workers': as their heartbeats report it). The parts'
    states are at most a second old."""
    state = services()
    report = _cache().get(lambda: check_parts(state))
    return {**report, "version": gdlab_version(), "engine_version": ENGINE_VERSION,
            "exercises": len(state.catalog.exercises),
            "exercise_errors": len(state.catalog.errors)}


def check_parts(state: Services) -> dict[str, Any]:
    """Ask each part whether it works: the database, the queue's Redis and workers, and the
    sandbox (this process's runner, or the workers')."""
    database = reachable(state.db.engine)
    queue, workers = queue_health(state)
    sandbox = sandbox_health(state) if state.queue is None else workers_sandbox(workers)
    # a server grading in-process has no queue (redis None): nothing to be down; with a
    # queue and no worker alive to report on the sandbox, the sandbox is not known down
    down = parts_down(database=database, sandbox=sandbox["reachable"] is not False,
                      queue=queue["redis"] is not False)
    return {"status": "degraded" if down else "ok", "down": down, "database": database,
            "sandbox": sandbox, "queue": queue}


def parts_down(**working: bool) -> list[str]:
    """The names of the parts that are not working, in a stable order.

    Examples
    --------
    >>> parts_down(database=False, sandbox=True)
    ['database']
    """
    return sorted(name for name, up in working.items() if not up)


def queue_health(state: Services) -> tuple[dict[str, Any], list[jobs.WorkerInfo] | None]:
    """Whether the job queue's Redis answers and how many workers are alive (None for a
    server that grades in-process), and those workers."""
    if state.queue is None:
        return {"configured": False, "redis": None, "workers": None}, None
    connection = state.queue.connection
    up = jobs.redis_reachable(connection)
    workers = None
    if up:
        try:
            workers = jobs.live_workers(connection, state.queue.name)
        except jobs.REDIS_ERRORS:
            up = False
    return ({"configured": True, "redis": up,
             "workers": None if workers is None else len(workers)}, workers)
