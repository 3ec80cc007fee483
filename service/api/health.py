"""GET /health: is the service able to grade?"""

from __future__ import annotations

import threading
import time
from typing import Any

from grader.engine.runs import ENGINE_VERSION
from grader.grading import gdlab_version
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
    """Status, version, exercises loaded, sandbox layers active, database reachable."""
    state = services()
    sandbox = sandbox_health(state)
    database = reachable(state.db.engine)
    down = parts_down(database=database, sandbox=sandbox["reachable"])
    return {
        "status": "degraded" if down else "ok", "down": down,
        "version": gdlab_version(), "engine_version": ENGINE_VERSION,
        "exercises": len(state.catalog.exercises), "exercise_errors": len(state.catalog.errors),
        "database": database, "sandbox": sandbox,
    }


def parts_down(**working: bool) -> list[str]:
    """The names of the parts that are not working, in a stable order.

    Examples
    --------
    >>> parts_down(database=False, sandbox=True)
    ['database']
    """
    return sorted(name for name, up in working.items() if not up)
