"""What one service process holds: configuration, database, exercises, sandbox, grader.

Several worker processes serve the same data. An instructor's "reload exercises" reaches
them all through a generation number in the database, which each process compares with
its own at most once a second.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from flask import current_app
from rq import Queue

from grader.catalog import Catalog, load_catalog
from grader.grading import Grader
from grader.sandbox import Sandbox
from service import callbacks
from service.config import Config
from service.db import Database
from service.models import Setting

log = logging.getLogger(__name__)

CATALOG_GENERATION_KEY = "catalog_generation"
#: Seconds between two looks at the catalog generation.
CATALOG_CHECK_INTERVAL = 1.0
#: Seconds between two looks for callback deliveries that are due (grading in-process).
CALLBACK_SWEEP_INTERVAL = 5.0


@dataclass
class Services:
    """The process's parts, kept in ``app.extensions["gdlab"]``."""

    config: Config
    db: Database
    sandbox: Sandbox
    instructor_hash: str
    owns_sandbox: bool
    #: The job queue (GDLAB_REDIS_URL); None: grading happens in this process.
    queue: Queue | None = None
    catalog: Catalog = field(init=False)
    grader: Grader = field(init=False)
    _generation: int = field(default=0, init=False)
    _checked: float = field(default=0.0, init=False)
    _swept: float = field(default=float("-inf"), init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    #: Turns to store and queue a submission (ServiceLimits.accepting_at_once).
    accepting: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        self.accepting = threading.BoundedSemaphore(
            self.config.service_limits.accepting_at_once)
        self._load(self._stored_generation())

    def _load(self, generation: int) -> None:
        catalog = load_catalog(self.config.exercises_dir)
        for error in catalog.errors:
            log.warning("exercise refused: %s", error)
        self.catalog, self.grader = catalog, Grader(catalog, self.sandbox)
        self._generation, self._checked = generation, time.monotonic()

    def _stored_generation(self) -> int:
        with self.db.session() as session:
            stored = session.get(Setting, CATALOG_GENERATION_KEY)
            return int(stored.value) if stored is not None else 0

    def refresh_catalog(self) -> None:
        """Reload the exercises if another process reloaded them (checked once a second)."""
        if time.monotonic() - self._checked < CATALOG_CHECK_INTERVAL:
            return
        with self._lock:
            if time.monotonic() - self._checked < CATALOG_CHECK_INTERVAL:
                return
            generation = self._stored_generation()
            if generation != self._generation:
                self._load(generation)
            else:
                self._checked = time.monotonic()

    def reload_catalog(self) -> Catalog:
        """Read the exercise folders again, here and (through the database) everywhere."""
        with self._lock:
            with self.db.session() as session:
                stored = session.get(Setting, CATALOG_GENERATION_KEY)
                generation = (int(stored.value) if stored is not None else 0) + 1
                if stored is None:
                    session.add(Setting(key=CATALOG_GENERATION_KEY, value=str(generation)))
                else:
                    stored.value = str(generation)
            self._load(generation)
            return self.catalog

    def send_due_callbacks(self) -> None:
        """Hand the callback deliveries that are due to the background senders, at most
        every few seconds (grading in-process; with a job queue the workers do it). So a
        delivery a web process left behind when it stopped is sent by another."""
        if time.monotonic() - self._swept < CALLBACK_SWEEP_INTERVAL:
            return
        self._swept = time.monotonic()
        try:
            callbacks.send_due(self.db, self.config.callback_secret,
                               self.config.callback_allow_private)
        except Exception:  # the request must not fail for it; the next sweep tries again
            log.exception("looking for due callback deliveries failed")

    def close(self) -> None:
        """Stop what this process started."""
        if self.owns_sandbox:
            self.sandbox.close()
        self.db.engine.dispose()


def services() -> Services:
    """The current app's :class:`Services`."""
    return current_app.extensions["gdlab"]
