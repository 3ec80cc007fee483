"""``gdlab worker``: a grading worker of the job queue (see :mod:`service.queue`).

It prepares the database, owns a sandbox runner (started here, as ``gdlab serve`` starts
one, or the one at ``GDLAB_SANDBOX_SOCKET``), and takes jobs from Redis one at a time.
Any number of workers may run on any number of machines; each needs only
``GDLAB_REDIS_URL`` and ``GDLAB_DATABASE_URL``.

RQ's :class:`~rq.SimpleWorker` runs each job in this process instead of forking a work
horse per job (RQ's default ``Worker``): the isolation of student code is the sandbox's,
not a fork's, and staying in one process keeps what grading reuses warm, the exercises'
reference runs (computed once per exercise version) and the connection to the runner.
A worker killed mid-job loses nothing: the reconciler gives its submission to another.

A thread beside the work loop writes the worker's heartbeat every second (with whether
its sandbox runner answers, which the web tier's ``/health`` reports) and, when it is this
worker's turn (a Redis lock), reconciles the queue with the database and sends the
callbacks that are due.

Grading is batch work: a worker lowers its own CPU priority (``GDLAB_WORKER_NICE``,
10 by default) before it starts its sandbox runner, which inherits it, and so do the jobs'
processes; on a machine it shares with the web tier, requests are then served first and
grading takes what CPU is left.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

from rq import Queue, SimpleWorker, get_current_job
from rq.exceptions import StopRequested

from grader.sandbox import Sandbox
from service import callbacks
from service import queue as jobs
from service import submission_store as store
from service.app import prepare_database
from service.config import Config
from service.state import Services

log = logging.getLogger(__name__)


@dataclass
class WorkerContext:
    """What this worker process's jobs use."""

    services: Services
    info: jobs.WorkerInfo


_context: WorkerContext | None = None


def grade_job(submission_id: int) -> str:
    """The job: grade stored submission ``submission_id``; what became of it."""
    if _context is None:
        raise RuntimeError("grade_job runs in a `gdlab worker` process")
    services, info = _context.services, _context.info
    jobs.started(services.queue, get_current_job())
    try:
        services.sandbox.start()  # starts the runner again if it died
    except Exception:  # the job then fails in the sandbox and says so in the record
        log.exception("the sandbox runner cannot be started")
    info.current = str(submission_id)
    try:
        outcome = store.grade_stored(services, submission_id, info.name)
    finally:
        info.current = None
        info.jobs_done += 1
    jobs.announce_done(services.queue, submission_id)  # a POST may be waiting for it
    log.info("submission %s: %s", submission_id, outcome)
    return outcome


#: Seconds between two looks at whether this worker's sandbox runner answers.
SANDBOX_CHECK_INTERVAL = 5.0


def sandbox_report(sandbox: Sandbox) -> dict[str, Any]:
    """Whether the runner answers, and its layers (what the heartbeat carries)."""
    try:
        layers = sandbox.status().get("layers", {})
    except Exception:  # down or restarting: the heartbeat says so
        return {"reachable": False, "layers_active": [], "layers_missing": []}
    return {"reachable": True,
            "layers_active": sorted(n for n, e in layers.items() if e.get("active")),
            "layers_missing": sorted(n for n, e in layers.items() if not e.get("active"))}


def _watch_sandbox(sandbox: Sandbox, info: jobs.WorkerInfo, stop: threading.Event) -> None:
    """Ask the runner how it is every few seconds, for the heartbeat (a thread of its own:
    a runner slow to answer must never delay a heartbeat, or the worker would look dead)."""
    while not stop.wait(SANDBOX_CHECK_INTERVAL):
        info.sandbox = sandbox_report(sandbox)


def lower_priority(niceness: int) -> None:
    """Add ``niceness`` to this process's (inherited by every process it starts after)."""
    if niceness > 0:
        try:
            os.nice(niceness)
        except OSError as error:  # not allowed here: grade at the usual priority
            log.warning("cannot lower the worker's priority: %s", error)


def _keep_alive(config: Config, services: Services, info: jobs.WorkerInfo,
                stop: threading.Event) -> None:
    """Heartbeat every second; reconcile and send due callbacks when it is this worker's
    turn."""
    connection = jobs.connect(config.redis_url or "")
    queue = jobs.make_queue(connection, config.queue_name)
    while not stop.wait(jobs.HEARTBEAT_INTERVAL):
        try:
            jobs.write_heartbeat(connection, config.queue_name, info)
            done = jobs.reconcile_once(services.db, queue, config.max_attempts,
                                       jobs.timeout_of(config))
            if done and (done.enqueued or done.requeued or done.failed):
                log.warning("reconciled: enqueued %s, re-queued %s, failed %s",
                            done.enqueued, done.requeued, done.failed)
            if done is not None:
                callbacks.send_due(services.db, config.callback_secret,
                                   config.callback_allow_private)
        except jobs.REDIS_ERRORS as error:
            log.warning("Redis is not answering (%s); retrying", error)
        except Exception:  # the next round tries again; the work loop must go on
            log.exception("heartbeat or reconciliation failed")


class GradingWorker(SimpleWorker):
    """RQ's SimpleWorker that remembers being asked to stop: its work loop also ends when
    Redis fails under it (RQ quits on an unexpected error), and only a stop request
    should end this process."""

    stopping = False

    def handle_warm_shutdown_request(self) -> None:
        """SIGTERM or SIGINT: finish the current job, then stop."""
        self.stopping = True
        super().handle_warm_shutdown_request()


#: Seconds before the work loop is entered again after Redis failed under it.
RELISTEN_DELAY = 1.0


def _work(queue: Queue, name: str, *, burst: bool) -> None:
    """RQ's work loop, entered again (as a new RQ worker) whenever it ends for any reason
    but a stop request or, with ``burst``, an empty queue: a Redis restart must not end a
    grading worker."""
    for round_number in itertools.count(1):
        worker = GradingWorker([queue], connection=queue.connection,
                               name=name if round_number == 1 else f"{name}.{round_number}")
        try:
            worker.work(burst=burst, logging_level="WARNING")
        except jobs.REDIS_ERRORS as error:
            log.warning("Redis failed (%s)", error)
        except StopRequested:
            return
        if burst or worker.stopping:
            return
        log.warning("the work loop ended without a stop request; listening again")
        try:
            time.sleep(RELISTEN_DELAY)
        except StopRequested:  # RQ's handler of the last loop, told to stop while idle
            return


def run_worker(config: Config, *, burst: bool = False) -> int:
    """Take and grade jobs until stopped (SIGTERM: after the current job); with ``burst``,
    until the queue is empty. Returns the exit status."""
    global _context  # noqa: PLW0603 (the jobs of this process find their services here)
    if config.redis_url is None:
        raise ValueError("gdlab worker needs GDLAB_REDIS_URL")
    lower_priority(config.worker_nice)  # before the runner starts: it inherits it
    prepared = prepare_database(config)
    runtime = tempfile.mkdtemp(prefix="gdlab-worker-")
    if config.sandbox_socket is None:
        sandbox = Sandbox(config.sandbox_limits, runtime_dir=runtime)
    else:
        sandbox = Sandbox(config.sandbox_limits, socket_path=config.sandbox_socket)
    stop = threading.Event()
    info = jobs.WorkerInfo(*_identity())
    connection = jobs.connect(config.redis_url, blocking=True)
    try:
        sandbox.start()
        services = Services(config=config, db=prepared.db, sandbox=sandbox,
                            instructor_hash=prepared.instructor_hash, owns_sandbox=True,
                            queue=jobs.make_queue(jobs.connect(config.redis_url),
                                                  config.queue_name))
        info.sandbox = sandbox_report(sandbox)
        _context = WorkerContext(services, info)
        jobs.write_heartbeat(connection, config.queue_name, info)
        keeper = threading.Thread(target=_keep_alive, args=(config, services, info, stop),
                                  name="gdlab-heartbeat", daemon=True)
        keeper.start()
        threading.Thread(target=_watch_sandbox, args=(sandbox, info, stop),
                         name="gdlab-sandbox-watch", daemon=True).start()
        log.warning("gdlab worker %s: queue %r, sandbox runner on %s", info.name,
                    config.queue_name, sandbox.socket_path)
        _work(jobs.make_queue(connection, config.queue_name), info.name, burst=burst)
        return 0
    finally:
        stop.set()
        _context = None
        with contextlib.suppress(*jobs.REDIS_ERRORS):
            jobs.remove_heartbeat(connection, config.queue_name, info.name)
        sandbox.close()
        prepared.db.engine.dispose()
        shutil.rmtree(runtime, ignore_errors=True)


def _identity() -> tuple[str, str, int, float]:
    return jobs.new_worker_name(), socket.gethostname(), os.getpid(), time.time()
