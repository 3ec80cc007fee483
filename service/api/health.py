"""GET /health: is the service able to grade?"""

from __future__ import annotations

import threading
import time
from typing import Any

from grader.engine.runs import ENGINE_VERSION
from grader.grading import gdlab_version
from service import queue as jobs
from service.api.common import Blueprint
from service.db import reachable
from service.schemas import HealthSchema
from service.state import Services, services

blp = Blueprint("health", __name__, description="Liveness and what is working")

#: The runner's layers do not change while it runs: asked at most this often.
SANDBOX_STATUS_TTL = 2.0
_cache: dict[str, Any] = {"at": -1e9, "status": None}
_lock = threading.Lock()


def sandbox_health(state: Services) -> dict[str, Any]:
    """The sandbox's layers and load, asked of the runner at most every few seconds."""
    with _lock:
        if time.monotonic() - _cache["at"] < SANDBOX_STATUS_TTL and _cache["status"]:
            return _cache["status"]
    try:
        status = state.sandbox.status()
        layers = status.get("layers", {})
        health = {
            "reachable": True,
            "layers_active": sorted(n for n, e in layers.items() if e.get("active")),
            "layers_missing": sorted(n for n, e in layers.items() if not e.get("active")),
            "slots": status.get("slots"), "running": status.get("running"),
            "waiting": status.get("waiting"),
        }
    except Exception:  # the runner is down or restarting: say so, do not fail /health
        health = {"reachable": False, "layers_active": [], "layers_missing": [],
                  "slots": None, "running": None, "waiting": None}
    with _lock:
        _cache.update(at=time.monotonic(), status=health)
    return health


@blp.route("/health")
@blp.response(200, HealthSchema)
def health() -> dict[str, Any]:
    """Status, version, exercises loaded, sandbox layers active, database reachable, and
    (with a job queue) whether Redis answers and how many grading workers are alive."""
    state = services()
    sandbox = sandbox_health(state)
    database = reachable(state.db.engine)
    queue = queue_health(state)
    # a server grading in-process has no queue (redis None): nothing to be down
    down = parts_down(database=database, sandbox=sandbox["reachable"],
                      queue=queue["redis"] is not False)
    return {
        "status": "degraded" if down else "ok", "down": down,
        "version": gdlab_version(), "engine_version": ENGINE_VERSION,
        "exercises": len(state.catalog.exercises), "exercise_errors": len(state.catalog.errors),
        "database": database, "sandbox": sandbox, "queue": queue,
    }


def parts_down(**working: bool) -> list[str]:
    """The names of the parts that are not working, in a stable order.

    Examples
    --------
    >>> parts_down(database=False, sandbox=True)
    ['database']
    """
    return sorted(name for name, up in working.items() if not up)


def queue_health(state: Services) -> dict[str, Any]:
    """Whether the job queue's Redis answers and how many workers are alive (None for a
    server that grades in-process)."""
    if state.queue is None:
        return {"configured": False, "redis": None, "workers": None}
    connection = state.queue.connection
    up = jobs.redis_reachable(connection)
    workers = None
    if up:
        try:
            workers = len(jobs.live_workers(connection, state.queue.name))
        except jobs.REDIS_ERRORS:
            up = False
    return {"configured": True, "redis": up, "workers": workers}
