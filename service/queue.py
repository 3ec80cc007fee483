"""The job queue of a scaled-out gdlab: RQ on Redis (``GDLAB_REDIS_URL``).

The web tier commits a submission (``queued``) and then enqueues a job that carries only
its id; a ``gdlab worker`` takes the job, reads code and exercise from the database,
grades and writes the result. The database is the truth, Redis only a work list, so
nothing is lost when Redis or a worker is:

- a submission's place in the queue is the rank of its job in a sorted set kept beside
  RQ's list (added when enqueued, removed when a worker starts it): O(log n) per read,
  however long the queue, where looking it up in RQ's list is O(n);
- job ids are deterministic (``gdlab-<submission>-<attempt>``), so enqueueing twice is
  harmless, and a worker claims a submission with a conditional UPDATE (only if still
  ``queued``) and writes its result with another (only if still ``grading``): a result is
  written once, whoever else holds a copy of the job;
- every worker writes a heartbeat key (a few seconds' TTL) to Redis, and a reconciler
  (run by the workers, one at a time through a Redis lock) enqueues again the ``queued``
  submissions whose job is not in Redis (Redis restarted empty, or was down when they
  came), and re-queues, at most ``GDLAB_MAX_ATTEMPTS`` starts in all, the ``grading``
  ones whose worker has no heartbeat (it died mid-job); past that bound they are
  ``failed`` with a sentence.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select, update

from service.config import Config
from service.db import Database
from service.models import CallbackDelivery, Submission, utcnow

log = logging.getLogger(__name__)

#: Seconds between two heartbeats of a worker, and how long one stays valid.
HEARTBEAT_INTERVAL = 1.0
HEARTBEAT_TTL = 6
#: Seconds between two reconciliations (by whichever worker takes the lock).
RECONCILE_INTERVAL = 2.0
#: Seconds a ``queued`` row may wait for its job to reach Redis (the web tier commits
#: before it enqueues) before the reconciler enqueues it itself.
QUEUED_GRACE = 3.0
#: Seconds past the sandbox's time limit a job may run before RQ stops it.
JOB_TIMEOUT_MARGIN = 60
#: The function a job runs (a string: the web tier need not import the worker's code).
JOB_FUNCTION = "service.worker.grade_job"
#: Errors that mean "Redis is not there right now".
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def connect(url: str, *, blocking: bool = False) -> redis.Redis:
    """A Redis client for ``url``.

    The web tier's (``blocking=False``) gives up within a couple of seconds so that a Redis
    outage never holds a request; a worker's waits on the queue (RQ's blocking pop) and so
    has no read timeout.
    """
    if blocking:
        return redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def job_id(submission_id: int, attempt: int) -> str:
    """The RQ job id of a submission's ``attempt``-th start (1-based).

    Examples
    --------
    >>> job_id(42, 1)
    'gdlab-42-1'
    """
    return f"gdlab-{submission_id}-{attempt}"


def timeout_of(config: Config) -> int:
    """Seconds RQ lets one grading job run before it stops it."""
    return int(config.sandbox_limits.time_limit * 4) + JOB_TIMEOUT_MARGIN


def make_queue(connection: redis.Redis, name: str) -> Queue:
    """The RQ queue ``name`` on ``connection``."""
    return Queue(name, connection=connection)


def waiting_key(queue_name: str) -> str:
    """The sorted set of the jobs waiting, by order of arrival."""
    return f"gdlab:{queue_name}:waiting"


#: Adds a job to the waiting set, scored by a counter of arrivals (atomic, one round trip,
#: and no clocks of several machines to compare).
_ARRIVE = ("local n = redis.call('INCR', KEYS[2]) "
           "redis.call('ZADD', KEYS[1], 'NX', n, ARGV[1]) return n")


def enqueue(queue: Queue, submission_id: int, attempt: int, job_timeout: int) -> None:
    """Put a submission's job on the queue (Redis errors propagate)."""
    ident = job_id(submission_id, attempt)
    queue.enqueue(JOB_FUNCTION, submission_id, job_id=ident,
                  job_timeout=job_timeout, result_ttl=600, failure_ttl=3600,
                  description=f"grade submission {submission_id} (start {attempt})")
    queue.connection.eval(_ARRIVE, 2, waiting_key(queue.name), f"{waiting_key(queue.name)}:seq",
                          ident)


def done_key(queue_name: str, submission_id: int) -> str:
    """The list a worker pushes to when it has finished a submission (:func:`announce_done`)."""
    return f"gdlab:{queue_name}:done:{submission_id}"


#: Seconds a "finished" signal waits for a request that may still come to wait for it.
DONE_TTL = 60
#: Longest single wait for the signal (below the web tier's 2-s Redis read timeout); the
#: waiting request looks at the database between two, so that a submission finished
#: without a signal (failed by the reconciler, Redis restarted) is seen within a second.
DONE_WAIT_STEP = 1.0


def announce_done(queue: Queue | None, submission_id: int) -> None:
    """Wake the request waiting for ``submission_id``'s grade, if one does (best effort:
    it also looks at the database every :data:`DONE_WAIT_STEP`)."""
    if queue is None:
        return
    key = done_key(queue.name, submission_id)
    try:
        with queue.connection.pipeline() as pipe:
            pipe.rpush(key, 1).expire(key, DONE_TTL).execute()
    except REDIS_ERRORS as error:
        log.warning("could not announce that submission %s is done: %s", submission_id, error)


def wait_done(queue: Queue, submission_id: int, seconds: float) -> bool | None:
    """Wait up to ``seconds`` (at most :data:`DONE_WAIT_STEP`) for a worker's signal that
    ``submission_id`` is finished, holding no CPU meanwhile (BLPOP): True when it came,
    False when the time ran out, None when Redis cannot be reached (wait otherwise)."""
    step = max(0.01, min(seconds, DONE_WAIT_STEP))
    try:
        return queue.connection.blpop([done_key(queue.name, submission_id)],
                                      timeout=step) is not None
    except REDIS_ERRORS:
        return None


def started(queue: Queue | None, job: Job | None) -> None:
    """A worker took ``job``: it no longer waits (nothing if either is None)."""
    if queue is not None and job is not None:
        try:
            queue.connection.zrem(waiting_key(queue.name), job.id)
        except REDIS_ERRORS as error:  # pruned later by the reconciler
            log.warning("could not mark job %s started: %s", job.id, error)


def try_enqueue(queue: Queue, submission_id: int, attempt: int, job_timeout: int) -> bool:
    """:func:`enqueue`, but Redis being down is logged, not raised: the submission is in
    the database, and the reconciler enqueues it when Redis is back."""
    try:
        enqueue(queue, submission_id, attempt, job_timeout)
        return True
    except REDIS_ERRORS as error:
        log.warning("submission %s kept, not yet queued (Redis: %s)", submission_id, error)
        return False


def position(queue: Queue, submission: Submission) -> int | None:
    """1-based place of a queued submission in the queue (None: not in it, or Redis down);
    one ZRANK, O(log n)."""
    try:
        index = queue.connection.zrank(waiting_key(queue.name),
                                       job_id(submission.id, submission.attempts + 1))
    except REDIS_ERRORS:
        return None
    return None if index is None else index + 1


#: Seconds between two prunings of the waiting set.
PRUNE_INTERVAL = 30.0
_pruned_at = [float("-inf")]


def prune_waiting(db: Database, queue: Queue) -> list[str]:
    """Drop from the waiting set the jobs whose submission no longer waits for that start
    (a job RQ dropped without running it); the jobs dropped."""
    members = [m.decode() if isinstance(m, bytes) else m
               for m in queue.connection.zrange(waiting_key(queue.name), 0, -1)]
    wanted: dict[int, str] = {}
    for member in members:
        wanted[int(member.rsplit("-", 2)[1])] = member
    current: set[str] = set()
    if wanted:
        with db.session() as session:
            rows = session.execute(
                select(Submission.id, Submission.attempts)
                .where(Submission.id.in_(list(wanted)), Submission.status == "queued")).all()
        current = {job_id(submission_id, attempts + 1) for submission_id, attempts in rows}
    stale = [member for member in members if member not in current]
    if stale:
        queue.connection.zrem(waiting_key(queue.name), *stale)
    return stale


def redis_reachable(connection: redis.Redis) -> bool:
    """Whether Redis answers PING."""
    try:
        return bool(connection.ping())
    except REDIS_ERRORS:
        return False


# --- workers' heartbeats ---------------------------------------------------------------


def new_worker_name() -> str:
    """``host:pid:nonce``: unique even when a pid is reused on a host."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class WorkerInfo:
    """What a worker says of itself in its heartbeat.

    ``sandbox`` is its sandbox runner as ``/health`` shows one (``reachable``,
    ``layers_active``, ``layers_missing``), asked every few seconds: with a job queue the
    web tier has no runner of its own, and tells from these whether grading can happen.
    """

    name: str
    host: str
    pid: int
    started_at: float
    jobs_done: int = 0
    last_heartbeat: float = 0.0
    current: str | None = None
    sandbox: dict[str, Any] | None = None


def _heartbeat_prefix(queue_name: str) -> str:
    return f"gdlab:{queue_name}:worker:"


def _registry(queue_name: str) -> str:
    """The set of the names of the workers that wrote a heartbeat (not ``...:worker:*``:
    a heartbeat key's pattern must not match it)."""
    return f"gdlab:{queue_name}:workers"


def write_heartbeat(connection: redis.Redis, queue_name: str, info: WorkerInfo) -> None:
    """Say that ``info``'s worker is alive, for :data:`HEARTBEAT_TTL` seconds."""
    info.last_heartbeat = time.time()
    with connection.pipeline(transaction=False) as pipe:
        pipe.set(_heartbeat_prefix(queue_name) + info.name, json.dumps(asdict(info)),
                 ex=HEARTBEAT_TTL)
        pipe.sadd(_registry(queue_name), info.name)
        pipe.execute()


def remove_heartbeat(connection: redis.Redis, queue_name: str, name: str) -> None:
    """A worker stopping cleanly says so at once."""
    with connection.pipeline(transaction=False) as pipe:
        pipe.delete(_heartbeat_prefix(queue_name) + name)
        pipe.srem(_registry(queue_name), name)
        pipe.execute()


def live_workers(connection: redis.Redis, queue_name: str) -> list[WorkerInfo]:
    """The workers whose heartbeat is current, by name.

    Two round trips whatever the size of Redis (the names are kept in a set, not found by
    scanning every key, which a long queue's thousands of job keys would make slow); the
    names of workers whose heartbeat expired are dropped from the set on the way.
    """
    names = sorted(name.decode() if isinstance(name, bytes) else name
                   for name in connection.smembers(_registry(queue_name)))
    prefix = _heartbeat_prefix(queue_name)
    values = connection.mget([prefix + name for name in names]) if names else []
    gone = [name for name, value in zip(names, values, strict=True) if value is None]
    if gone:
        connection.srem(_registry(queue_name), *gone)
    return [WorkerInfo(**json.loads(value)) for value in values if value is not None]


# --- the reconciler ----------------------------------------------------------------------


@dataclass
class Reconciled:
    """What a reconciliation did."""

    enqueued: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def interrupted_message(attempts: int) -> str:
    """Why a submission whose workers kept dying is failed.

    Examples
    --------
    >>> interrupted_message(3)
    'Grading was interrupted 3 times (the grading worker stopped); please submit again.'
    """
    return (f"Grading was interrupted {attempts} times (the grading worker stopped); "
            "please submit again.")


def reconcile(db: Database, queue: Queue, max_attempts: int, job_timeout: int,
              now: dt.datetime | None = None) -> Reconciled:
    """Enqueue again what Redis lost and take back what dead workers held.

    Parameters
    ----------
    db : Database
        The submissions.
    queue : Queue
        The queue (its Redis must answer).
    max_attempts : int
        Starts of one submission before it is failed.
    job_timeout : int
        RQ's timeout of a job.
    now : datetime, optional
        The present (UTC), for tests.
    """
    now = now or utcnow()
    done = Reconciled()
    _enqueue_missing(db, queue, now, job_timeout=job_timeout, done=done)
    _take_back_orphans(db, queue, now, max_attempts=max_attempts, job_timeout=job_timeout,
                       done=done)
    if time.monotonic() - _pruned_at[0] >= PRUNE_INTERVAL:
        _pruned_at[0] = time.monotonic()
        prune_waiting(db, queue)
    return done


def _enqueue_missing(db: Database, queue: Queue, now: dt.datetime, *, job_timeout: int,
                     done: Reconciled) -> None:
    cutoff = now - dt.timedelta(seconds=QUEUED_GRACE)
    with db.session() as session:
        rows = session.execute(
            select(Submission.id, Submission.attempts)
            .where(Submission.status == "queued", Submission.queued_at < cutoff)
            .order_by(Submission.queued_at)).all()
    alive: set[str] | None = None
    for submission_id, attempts in rows:
        job = _job(queue, job_id(submission_id, attempts + 1))
        status = None if job is None else job.get_status(refresh=False)
        if status == JobStatus.STARTED:
            if alive is None:
                alive = {info.name for info in live_workers(queue.connection, queue.name)}
            if not _held_by_a_dead_worker(job.worker_name, alive):
                continue
            # RQ gave it to a worker that died before it could mark the submission as
            # grading: RQ would only fail it after its timeout and a maintenance round
            StartedJobRegistry(queue=queue).remove_executions(job)
            status = None
        if status in (None, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED) \
                and _still_queued(db, submission_id, attempts):
            enqueue(queue, submission_id, attempts + 1, job_timeout)
            done.enqueued.append(submission_id)


def _held_by_a_dead_worker(worker_name: str | None, alive: set[str]) -> bool:
    """Whether the RQ worker ``worker_name`` of a started job is a gdlab worker no longer
    alive (its RQ name is the worker's, or the worker's and ``.N`` after a Redis failure).

    Examples
    --------
    >>> _held_by_a_dead_worker("host.example:7:ab12cd.2", {"host.example:7:ab12cd"})
    False
    >>> _held_by_a_dead_worker("host.example:7:ab12cd", {"other:8:ef34ab"})
    True
    >>> _held_by_a_dead_worker(None, set())  # not known: left to RQ
    False
    """
    if not worker_name:
        return False
    return re.sub(r"\.\d+$", "", worker_name) not in alive


def _still_queued(db: Database, submission_id: int, attempts: int) -> bool:
    """Whether the submission still waits for the same start (a worker may have taken it
    since the list was read)."""
    with db.session() as session:
        row = session.get(Submission, submission_id)
        return row is not None and row.status == "queued" and row.attempts == attempts


def _job(queue: Queue, ident: str) -> Job | None:
    return Job.fetch(ident, connection=queue.connection) if Job.exists(
        ident, queue.connection) else None


def _take_back_orphans(db: Database, queue: Queue, now: dt.datetime, *, max_attempts: int,
                       job_timeout: int, done: Reconciled) -> None:
    alive = {info.name for info in live_workers(queue.connection, queue.name)}
    cutoff = now - dt.timedelta(seconds=HEARTBEAT_TTL)
    with db.session() as session:
        rows = session.execute(
            select(Submission.id, Submission.worker, Submission.attempts)
            .where(Submission.status == "grading", Submission.worker.is_not(None),
                   Submission.started_at < cutoff)).all()
    for submission_id, worker, attempts in rows:
        if worker in alive:
            continue
        if attempts >= max_attempts:
            values: dict[str, Any] = {"status": "failed", "graded_at": now,
                                      "error": interrupted_message(attempts)}
        else:
            values = {"status": "queued", "queued_at": now, "worker": None}
        with db.session() as session:
            taken = session.execute(
                update(Submission)
                .where(Submission.id == submission_id, Submission.status == "grading",
                       Submission.worker == worker)
                .values(**values)).rowcount
        if not taken:
            continue  # it finished meanwhile
        if values["status"] == "failed":
            done.failed.append(submission_id)
        else:
            enqueue(queue, submission_id, attempts + 1, job_timeout)
            done.requeued.append(submission_id)


def reconcile_once(db: Database, queue: Queue, max_attempts: int, job_timeout: int) -> \
        Reconciled | None:
    """:func:`reconcile` if no other worker did within :data:`RECONCILE_INTERVAL` (a Redis
    lock); None when it was another's turn."""
    lock = f"gdlab:{queue.name}:reconciling"
    if not queue.connection.set(lock, "1", nx=True, px=int(RECONCILE_INTERVAL * 1000)):
        return None
    return reconcile(db, queue, max_attempts, job_timeout)


# --- what instructors see ----------------------------------------------------------------


@dataclass
class QueueStats:
    """The queue as instructors see it."""

    mode: str
    redis: bool | None
    queued: int
    oldest_queued_seconds: float | None
    in_redis: int | None
    running: list[dict[str, Any]]
    workers: list[dict[str, Any]]
    callbacks: dict[str, int]


def stats(db: Database, queue: Queue | None) -> QueueStats:
    """Queued count and oldest age, running jobs and live workers."""
    now = utcnow()
    with db.session() as session:
        queued, oldest = session.execute(
            select(func.count(), func.min(Submission.queued_at))
            .where(Submission.status == "queued")).one()
        running = session.execute(
            select(Submission.public_id, Submission.exercise, Submission.worker,
                   Submission.started_at, Submission.attempts)
            .where(Submission.status == "grading").order_by(Submission.started_at)).all()
        deliveries = dict(session.execute(
            select(CallbackDelivery.status, func.count())
            .where(CallbackDelivery.status.in_(("pending", "failed")))
            .group_by(CallbackDelivery.status)).all())
    workers: list[dict[str, Any]] = []
    in_redis = None
    reachable = None if queue is None else redis_reachable(queue.connection)
    if queue is not None and reachable:
        try:
            in_redis = queue.count
            workers = [{"name": w.name, "host": w.host, "pid": w.pid, "jobs_done": w.jobs_done,
                        "last_heartbeat": _utc(w.last_heartbeat), "current": w.current}
                       for w in live_workers(queue.connection, queue.name)]
        except REDIS_ERRORS:
            reachable = False
    return QueueStats(
        mode="embedded" if queue is None else "queue", redis=reachable, queued=queued,
        oldest_queued_seconds=(None if oldest is None
                               else round((now - oldest).total_seconds(), 3)),
        in_redis=in_redis,
        running=[{"id": public_id, "exercise": exercise, "worker": worker,
                  "started_at": started, "attempts": attempts}
                 for public_id, exercise, worker, started, attempts in running],
        workers=workers,
        callbacks={"pending": deliveries.get("pending", 0),
                   "failed": deliveries.get("failed", 0)})


def _utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)
