"""The job queue in-process: the API's asynchronous form, the operations a worker runs, the
reconciler, callbacks, and bad input. A private redis-server (tests/redis_server.py) holds
the queue; the "worker" here is :func:`service.submission_store.grade_stored`, which is what
``gdlab worker`` runs per job (tests/integration/test_queue.py runs the real processes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from flask import Flask
from rq import SimpleWorker
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from sqlalchemy import select, update

from grader.limits import ServiceLimits
from service import callbacks
from service import operations as ops
from service import queue as jobs
from service import submission_store as store
from service.models import CallbackDelivery, Submission, utcnow
from tests.redis_server import RedisServer, free_port

from .conftest import API, INSTRUCTOR, assert_error, bearer, services_of, source, submit
from .test_web import HTML, JSON, get_page, sign_in, submit_form

SOLUTION = source("gd")


@pytest.fixture
def queued_app(make_app: Callable[..., Flask], redis_server: RedisServer,
               queue_name: str) -> Flask:
    """An app with a job queue of its own (and no worker: the tests play it)."""
    return make_app(redis_url=redis_server.url, queue_name=queue_name, submit_wait=0.2)


def row(app: Flask, public_id: str) -> Submission:
    """The stored submission."""
    with services_of(app).db.session() as session:
        return session.scalars(select(Submission).where(Submission.public_id == public_id)).one()


def post_async(client: Any, code: str = SOLUTION, **fields: Any) -> Any:
    """POST asking not to wait."""
    return client.post(f"{API}/submissions?wait=false",
                       json={"exercise": "gd", "code": code, **fields})


def test_a_submission_not_waited_for_is_queued_with_its_position(queued_app: Flask) -> None:
    client = queued_app.test_client()
    first, second = post_async(client), post_async(client)
    assert first.status_code == 202 and second.status_code == 202
    body = second.get_json()
    assert body["status"] == "queued" and body["score"] is None
    assert body["position"] == 2
    assert second.headers["Location"] == body["links"]["self"]
    shown = client.get(body["links"]["self"]).get_json()
    assert shown["status"] == "queued" and shown["position"] == 2
    assert client.get(first.get_json()["links"]["self"]).get_json()["position"] == 1
    # the job carries only the submission's id
    queue = services_of(queued_app).queue
    job = queue.fetch_job(jobs.job_id(row(queued_app, body["id"]).id, 1))
    assert job.args == (row(queued_app, body["id"]).id,)


def test_prefer_respond_async_is_applied(queued_app: Flask) -> None:
    answer = queued_app.test_client().post(
        f"{API}/submissions", json={"exercise": "gd", "code": SOLUTION},
        headers={"Prefer": "respond-async"})
    assert answer.status_code == 202
    assert answer.headers["Preference-Applied"] == "respond-async"


def test_the_wait_bound_passing_answers_202(queued_app: Flask) -> None:
    answer = submit(queued_app.test_client(), "gd", SOLUTION)  # waits 0.2 s, no worker
    assert answer.status_code == 202
    assert answer.get_json()["status"] == "queued"


def test_a_worker_grades_it_once_and_the_waiting_request_answers_201(
        make_app: Callable[..., Flask], redis_server: RedisServer, queue_name: str) -> None:
    queued_app = make_app(redis_url=redis_server.url, queue_name=queue_name, submit_wait=60)
    state = services_of(queued_app)
    outcomes: list[str] = []

    def worker() -> None:  # takes the first queued submission, as a job would give it
        while not outcomes:
            with state.db.session() as session:
                waiting = session.scalars(select(Submission.id)
                                          .where(Submission.status == "queued")).first()
            if waiting is not None:
                outcomes.append(store.grade_stored(state, waiting, "test-worker"))

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        answer = submit(queued_app.test_client(), "gd", SOLUTION)  # waits up to 60 s
    finally:
        thread.join(60)
    assert outcomes == ["graded"]
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["status"] == "graded" and body["score"] == 100.0
    stored = row(queued_app, body["id"])
    assert stored.attempts == 1 and stored.worker == "test-worker"
    # the same job again (a duplicate enqueue, a worker thought dead): nothing is rewritten
    assert store.grade_stored(state, stored.id, "another") == "skipped"
    assert row(queued_app, body["id"]).graded_at == stored.graded_at


def test_a_process_stores_and_queues_only_so_many_submissions_at_once(
        make_app: Callable[..., Flask], redis_server: RedisServer, queue_name: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    queued_app = make_app(redis_url=redis_server.url, queue_name=queue_name,
                          service_limits=ServiceLimits(rate_limit="off", accepting_at_once=2))
    inside, most = [0], [0]
    lock = threading.Lock()
    keep = store.keep

    def slow_keep(*args: Any, **kwargs: Any) -> Submission:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.15)  # long enough for all the other posts to arrive meanwhile
        try:
            return keep(*args, **kwargs)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(store, "keep", slow_keep)
    answers: list[int] = []

    def post() -> None:
        answers.append(post_async(queued_app.test_client()).status_code)

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [202] * 6  # the others waited their turn: none refused
    assert most[0] == 2


def test_a_submission_whose_turn_does_not_come_goes_ahead_anyway(
        make_app: Callable[..., Flask], redis_server: RedisServer, queue_name: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    queued_app = make_app(redis_url=redis_server.url, queue_name=queue_name,
                          service_limits=ServiceLimits(rate_limit="off", accepting_at_once=1))
    monkeypatch.setattr(ops, "TURN_WAIT", 0.2)
    state = services_of(queued_app)
    assert state.accepting.acquire(timeout=1)  # the one turn, held as if by a stuck request
    try:
        started = time.monotonic()
        answer = post_async(queued_app.test_client())
        waited = time.monotonic() - started
    finally:
        state.accepting.release()
    assert answer.status_code == 202 and answer.get_json()["status"] == "queued"
    assert waited >= 0.2
    # and the turn it never had is not given back: the next one still gets its turn
    assert state.accepting.acquire(timeout=1)
    state.accepting.release()


def test_the_finished_signal_is_kept_for_its_waiter_and_absent_otherwise(
        queued_app: Flask) -> None:
    queue = services_of(queued_app).queue
    assert queue is not None
    assert jobs.wait_done(queue, 41, 0.05) is False  # nothing announced: the time runs out
    jobs.announce_done(queue, 41)  # before anyone waits: kept for the waiter to come
    assert jobs.wait_done(queue, 41, 5) is True
    assert queue.connection.ttl(jobs.done_key(queue.name, 41)) == -2  # taken, gone
    jobs.announce_done(queue, 42)
    assert 0 < queue.connection.ttl(jobs.done_key(queue.name, 42)) <= jobs.DONE_TTL


def test_the_finished_signal_without_redis_is_none(make_app: Callable[..., Flask]) -> None:
    app = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")  # nobody listens
    queue = services_of(app).queue
    assert queue is not None
    jobs.announce_done(queue, 7)  # logged, not raised
    assert jobs.wait_done(queue, 7, 0.5) is None


def test_a_waiting_request_answers_on_the_workers_signal_not_on_its_next_look(
        queued_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    state = services_of(queued_app)
    monkeypatch.setattr(jobs, "DONE_WAIT_STEP", 1.8)  # its looks at the database: 1.8 s apart
    kept = row(queued_app, post_async(queued_app.test_client()).get_json()["id"])
    returned: list[tuple[Submission, float]] = []

    def waiter() -> None:
        found = store.wait_for(state, kept.id, 30)
        returned.append((found, time.monotonic()))

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.3)  # it has looked once, and waits for the signal
    assert store.grade_stored(state, kept.id, "test-worker") == "graded"
    announced = time.monotonic()
    jobs.announce_done(state.queue, kept.id)
    thread.join(30)
    found, at = returned[0]
    assert found.status == "graded"
    assert at - announced < 0.5  # woken by the signal, long before its next look


def test_a_rejected_queued_submission_says_why(queued_app: Flask) -> None:
    client = queued_app.test_client()
    body = post_async(client, code="def update(:\n").get_json()
    state = services_of(queued_app)
    assert store.grade_stored(state, row(queued_app, body["id"]).id, "w") == "rejected"
    shown = client.get(body["links"]["self"]).get_json()
    assert shown["status"] == "rejected" and "line" in shown["failure"]


def test_a_worker_meeting_a_submission_it_cannot_load_fails_it_and_goes_on(
        queued_app: Flask) -> None:
    client = queued_app.test_client()
    body = post_async(client).get_json()
    state = services_of(queued_app)
    stored = row(queued_app, body["id"])
    with state.db.session() as session:
        session.execute(update(Submission).where(Submission.id == stored.id)
                        .values(exercise="withdrawn-exercise"))
    assert store.grade_stored(state, stored.id, "w") == "failed"
    failed = row(queued_app, body["id"])
    assert failed.status == "failed"
    assert "withdrawn-exercise" in failed.error and "submit again" in failed.error
    assert store.grade_stored(state, 10**9, "w") == "skipped"  # no such submission
    other = post_async(client).get_json()
    assert store.grade_stored(state, row(queued_app, other["id"]).id, "w") == "graded"


def test_the_reconciler_enqueues_what_redis_lost(queued_app: Flask,
                                                 redis_server: RedisServer) -> None:
    state = services_of(queued_app)
    body = post_async(queued_app.test_client()).get_json()
    stored = row(queued_app, body["id"])
    state.queue.connection.delete(state.queue.key)  # the queue's list, gone
    state.queue.connection.delete(f"rq:job:{jobs.job_id(stored.id, 1)}")
    state.queue.connection.delete(jobs.waiting_key(state.queue.name))  # and its place
    assert jobs.position(state.queue, stored) is None
    # within the grace period the web tier may still be enqueueing it: left alone
    assert jobs.reconcile(state.db, state.queue, 3, 60).enqueued == []
    later = utcnow() + dt.timedelta(seconds=jobs.QUEUED_GRACE + 1)
    assert jobs.reconcile(state.db, state.queue, 3, 60, now=later).enqueued == [stored.id]
    assert jobs.position(state.queue, stored) == 1
    # and once more changes nothing: the job is there
    assert jobs.reconcile(state.db, state.queue, 3, 60, now=later).enqueued == []


def test_the_reconciler_enqueues_a_job_rq_gave_to_a_worker_that_died_at_once(
        queued_app: Flask) -> None:
    state = services_of(queued_app)
    queue = state.queue
    body = post_async(queued_app.test_client()).get_json()
    stored = row(queued_app, body["id"])
    ident = jobs.job_id(stored.id, 1)
    # a worker takes the job from RQ and is killed before it marks the submission grading
    job = Job.fetch(ident, connection=queue.connection)
    queue.remove(job)
    taker = SimpleWorker([queue], connection=queue.connection, name="deadhost:7:ab12cd")
    taker.prepare_execution(job)  # what RQ's worker does before the job's function runs
    taker.prepare_job_execution(job)
    assert ident in StartedJobRegistry(queue=queue).get_job_ids()
    assert job.get_status() == JobStatus.STARTED and row(queued_app, body["id"]).attempts == 0
    later = utcnow() + dt.timedelta(seconds=jobs.QUEUED_GRACE + 1)
    # while that worker is alive, its job is its own
    living = jobs.WorkerInfo("deadhost:7:ab12cd", "deadhost", 7, 0.0)
    jobs.write_heartbeat(queue.connection, queue.name, living)
    assert jobs.reconcile(state.db, queue, 3, 60, now=later).enqueued == []
    # once its heartbeat is gone, the job is queued again, and RQ no longer counts it started
    queue.connection.delete(jobs._heartbeat_prefix(queue.name) + living.name)
    assert jobs.reconcile(state.db, queue, 3, 60, now=later).enqueued == [stored.id]
    assert Job.fetch(ident, connection=queue.connection).get_status() == JobStatus.QUEUED
    assert ident in queue.job_ids
    assert ident not in StartedJobRegistry(queue=queue).get_job_ids()
    assert store.grade_stored(state, stored.id, "w") == "graded"


def test_the_reconciler_takes_back_what_a_dead_worker_held(queued_app: Flask) -> None:
    state = services_of(queued_app)
    body = post_async(queued_app.test_client()).get_json()
    stored = row(queued_app, body["id"])
    assert store.claim(state, stored.id, "dead-worker") is not None  # then it died
    alive = jobs.WorkerInfo("live-worker", "here", 1, 0.0)
    jobs.write_heartbeat(state.queue.connection, state.queue.name, alive)
    later = utcnow() + dt.timedelta(seconds=3 * jobs.HEARTBEAT_TTL)
    done = jobs.reconcile(state.db, state.queue, 2, 60, now=later)
    assert done.requeued == [stored.id]
    again = row(queued_app, body["id"])
    assert again.status == "queued" and again.worker is None and again.attempts == 1
    assert jobs.position(state.queue, again) is not None  # as job gdlab-<id>-2
    # a live worker's submission is left alone
    assert store.claim(state, stored.id, "live-worker") is not None
    assert jobs.reconcile(state.db, state.queue, 2, 60, now=later).requeued == []
    # the second start's worker dies too: at the bound of 2 starts, it is failed
    with state.db.session() as session:
        session.execute(update(Submission).where(Submission.id == stored.id)
                        .values(worker="dead-again"))
    done = jobs.reconcile(state.db, state.queue, 2, 60, now=later)
    assert done.failed == [stored.id]
    failed = row(queued_app, body["id"])
    assert failed.status == "failed" and failed.error == jobs.interrupted_message(2)


def test_redis_down_keeps_the_submission_and_health_says_so(
        make_app: Callable[..., Flask]) -> None:
    app = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")  # nobody listens
    client = app.test_client()
    answer = submit(client, "gd", SOLUTION)
    assert answer.status_code == 202
    assert row(app, answer.get_json()["id"]).status == "queued"
    health = client.get("/health").get_json()
    assert health["status"] == "degraded"
    assert health["queue"] == {"configured": True, "redis": False, "workers": None}
    stats = client.get(f"{API}/queue", headers=INSTRUCTOR).get_json()
    assert stats["redis"] is False and stats["queued"] == 1


def test_the_queue_endpoint_shows_queued_running_and_workers(queued_app: Flask) -> None:
    client = queued_app.test_client()
    state = services_of(queued_app)
    for _ in range(3):
        post_async(client)
    body = post_async(client).get_json()
    store.claim(state, row(queued_app, body["id"]).id, "w-1")
    jobs.write_heartbeat(state.queue.connection, state.queue.name,
                         jobs.WorkerInfo("w-1", "grader-host", 4242, 0.0, jobs_done=7))
    stats = client.get(f"{API}/queue", headers=INSTRUCTOR).get_json()
    assert stats["mode"] == "queue" and stats["redis"] is True
    assert stats["queued"] == 3 and stats["oldest_queued_seconds"] >= 0
    assert [r["id"] for r in stats["running"]] == [body["id"]]
    assert stats["workers"][0] | {"last_heartbeat": None} == {
        "name": "w-1", "host": "grader-host", "pid": 4242, "jobs_done": 7,
        "last_heartbeat": None, "current": None}
    assert client.get("/health").get_json()["queue"] == {
        "configured": True, "redis": True, "workers": 1}


def test_without_a_queue_nothing_changes(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    answer = client.post(f"{API}/submissions?wait=false",
                         json={"exercise": "gd", "code": SOLUTION})
    assert answer.status_code == 201 and answer.get_json()["status"] == "graded"
    stats = client.get(f"{API}/queue", headers=INSTRUCTOR).get_json()
    assert stats["mode"] == "embedded" and stats["workers"] == []
    assert client.get("/health").get_json()["queue"]["configured"] is False


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "headers", "status", "field"), [
    ("?wait=maybe", {}, 422, "wait"),
    ("?wait=false&colour=blue", {}, 422, "colour"),
    ("", {"Prefer": "respond-eventually"}, 400, "Prefer"),
    ("", {"Prefer": "wait=soon"}, 400, "Prefer"),
])
def test_bad_wait_or_prefer_is_a_clear_4xx(queued_app: Flask, query: str,
                                           headers: dict[str, str], status: int,
                                           field: str) -> None:
    answer = queued_app.test_client().post(f"{API}/submissions{query}", headers=headers,
                                           json={"exercise": "gd", "code": SOLUTION})
    body = assert_error(answer, status)
    assert field in body["errors"]


@pytest.mark.parametrize(("url", "words"), [
    ("ftp://lms.example.org/hook", "http"),
    ("not a url", "http"),
    ("http://127.0.0.1:9/hook", "private"),
    ("http://[::1]/hook", "private"),
    ("http://169.254.169.254/latest/meta-data", "private"),
    ("http://10.1.2.3/hook", "private"),
    ("http://user:pw@lms.example.org/hook", "password"),
    ("http://no-such-host.invalid/hook", "resolved"),
])
def test_callback_urls_that_are_not_safe_are_refused(queued_app: Flask, url: str,
                                                     words: str) -> None:
    answer = post_async(queued_app.test_client(), callback_url=url)
    body = assert_error(answer, 422)
    assert "callback_url" in body["errors"] and words in body["message"]


def test_private_callbacks_may_be_allowed(make_app: Callable[..., Flask],
                                          redis_server: RedisServer, queue_name: str) -> None:
    app = make_app(redis_url=redis_server.url, queue_name=queue_name,
                   callback_allow_private=True)
    answer = post_async(app.test_client(), callback_url="http://127.0.0.1:9/hook")
    assert answer.status_code == 202
    assert row(app, answer.get_json()["id"]).callback_url == "http://127.0.0.1:9/hook"


def test_unknown_submission_and_queue_without_the_instructor_token(
        queued_app: Flask) -> None:
    client = queued_app.test_client()
    assert_error(client.get(f"{API}/submissions/no-such-id"), 404)
    assert_error(client.get(f"{API}/queue"), 401)
    student = client.post(f"{API}/students", json={"name": "ada"}, headers=INSTRUCTOR)
    assert_error(client.get(f"{API}/queue", headers=bearer(student.get_json()["token"])), 403)


# --- callbacks -----------------------------------------------------------------------------


class Receiver(BaseHTTPRequestHandler):
    """Records what it is sent; answers with the next of ``statuses``."""

    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    statuses: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        """Record the callback."""
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(Receiver.statuses.pop(0) if Receiver.statuses else 204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def receiver() -> Iterator[str]:
    """A local HTTP endpoint that records callbacks: its URL."""
    Receiver.received, Receiver.statuses = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def deliveries(app: Flask, public_id: str) -> list[CallbackDelivery]:
    """The stored callback deliveries of a submission."""
    with services_of(app).db.session() as session:
        return list(session.scalars(
            select(CallbackDelivery).join(Submission,
                                          Submission.id == CallbackDelivery.submission_id)
            .where(Submission.public_id == public_id)))


def verified(headers: dict[str, str], body: bytes, secret: bytes) -> bool:
    """Whether a callback's signature header is the HMAC of its body."""
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers[callbacks.SIGNATURE_HEADER], f"sha256={expected}")


def test_a_callback_is_stored_with_the_result_signed_and_retried_with_backoff(
        make_app: Callable[..., Flask], receiver: str) -> None:
    app = make_app(callback_secret="course-secret-123", callback_allow_private=True)
    state = services_of(app)
    Receiver.statuses = [500, 503]  # fails twice, then takes it
    graded = store.grade(state, state.catalog.exercises["gd"], SOLUTION,
                         callback_url=receiver)
    public_id = graded.submission.public_id
    # stored with the result, then delivered in the background, retried after 1 s and 4 s
    deadline = time.monotonic() + 60
    while (stored := deliveries(app, public_id))[0].status == "pending":
        assert time.monotonic() < deadline, "the callback was never delivered"
        time.sleep(0.05)
    (delivery,) = stored
    assert delivery.status == "delivered" and delivery.attempts == 3
    assert delivery.outcome == "delivered (HTTP 204, attempt 3)"
    assert row(app, public_id).callback_status == delivery.outcome
    assert len(Receiver.received) == 3
    # every attempt: the same body, signature and delivery id
    assert len({body for _, body in Receiver.received}) == 1
    assert {h[callbacks.DELIVERY_HEADER] for h, _ in Receiver.received} == {
        delivery.delivery_id}
    headers, sent = Receiver.received[-1]
    assert verified(headers, sent, b"course-secret-123")
    assert json.loads(sent)["id"] == public_id and json.loads(sent)["score"] == 100.0
    # the instructor sees how it went; the student does not
    client = app.test_client()
    shown = client.get(f"{API}/submissions/{public_id}", headers=INSTRUCTOR).get_json()
    assert shown["callback"] | {"delivered_at": None} == {
        "delivery_id": delivery.delivery_id, "status": "delivered", "attempts": 3,
        "outcome": "delivered (HTTP 204, attempt 3)", "next_attempt_at": None,
        "delivered_at": None}
    assert "callback" not in client.get(f"{API}/submissions/{public_id}").get_json()


def test_a_callback_refused_by_its_receiver_is_not_retried_and_instructors_see_it(
        make_app: Callable[..., Flask], receiver: str) -> None:
    app = make_app(callback_allow_private=True)
    state = services_of(app)
    Receiver.statuses = [410]
    graded = store.grade(state, state.catalog.exercises["gd"], SOLUTION,
                         callback_url=receiver)
    deadline = time.monotonic() + 30
    while deliveries(app, graded.submission.public_id)[0].status == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    (delivery,) = deliveries(app, graded.submission.public_id)
    assert delivery.status == "failed" and delivery.attempts == 1
    assert delivery.outcome == "HTTP 410 after 1 attempt(s)"
    assert len(Receiver.received) == 1
    stats = app.test_client().get(f"{API}/queue", headers=INSTRUCTOR).get_json()
    assert stats["callbacks"] == {"pending": 0, "failed": 1}


def test_a_delivery_is_given_up_after_its_attempts_and_left_behind_ones_are_sent(
        make_app: Callable[..., Flask], receiver: str) -> None:
    app = make_app(callback_secret="s" * 20, callback_allow_private=True)
    state = services_of(app)
    graded = store.grade(state, state.catalog.exercises["gd"], SOLUTION)  # no callback
    # a delivery a process stored and never sent (it died): the next sweep sends it
    with state.db.session() as session:
        left = callbacks.record(session, graded.submission.id, receiver, b'{"id":"x"}').id
    assert callbacks.send_due(state.db, "s" * 20, True) == [left]
    deadline = time.monotonic() + 30
    while not Receiver.received:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    headers, body = Receiver.received[0]
    assert body == b'{"id":"x"}' and verified(headers, body, b"s" * 20)
    # a receiver that never answers well: every attempt used, then failed
    Receiver.statuses = [503] * callbacks.ATTEMPTS
    with state.db.session() as session:
        doomed = callbacks.record(session, graded.submission.id, receiver, b"{}").id
    later = utcnow()
    for number in range(1, callbacks.ATTEMPTS + 1):
        tried = callbacks.attempt(state.db, doomed, "k", True, now=later)
        assert tried is not None and tried.attempts == number
        # not due again before its backoff has passed
        assert callbacks.attempt(state.db, doomed, "k", True, now=later) is None
        later = tried.next_attempt_at or later
    assert tried.status == "failed" and tried.outcome.startswith("failed: HTTP 503")
    assert callbacks.due(state.db, now=later + dt.timedelta(days=1)) == []


# --- the web pages -------------------------------------------------------------------------


def test_the_web_form_queues_and_the_page_follows_the_submission(queued_app: Flask) -> None:
    browser = queued_app.test_client()
    post_async(browser)  # one ahead in the queue
    sent = submit_form(browser, SOLUTION)
    assert sent.status_code == 303
    page_path = sent.headers["Location"]
    page = get_page(browser, page_path)
    assert "number 2 in the queue" in page
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page
    assert f'data-follow="{page_path}"' in page  # what the page's script polls
    followed = browser.get(page_path, headers=JSON).get_json()
    assert followed["status"] == "queued" and followed["position"] == 2
    # the script's own submit: 202 and where to follow it
    answer = submit_form(browser, SOLUTION, headers=JSON)
    assert answer.status_code == 202 and answer.get_json()["page"].startswith("/submissions/")
    # graded: the page shows the result and no longer refreshes
    public_id = page_path.rsplit("/", 1)[-1]
    assert store.grade_stored(services_of(queued_app), row(queued_app, public_id).id,
                              "w") == "graded"
    graded = browser.get(page_path, headers=HTML).get_data(as_text=True)
    assert "refresh" not in graded and 'id="pending"' not in graded
    assert browser.get(page_path, headers=JSON).get_json()["score"] == 100.0


def test_the_instructors_page_shows_the_queue(queued_app: Flask) -> None:
    browser = queued_app.test_client()
    post_async(browser)
    state = services_of(queued_app)
    jobs.write_heartbeat(state.queue.connection, state.queue.name,
                         jobs.WorkerInfo("w-9", "grader-9", 999, 0.0, jobs_done=5))
    sign_in(browser, INSTRUCTOR["Authorization"].split()[1])
    page = get_page(browser, "/instructor")
    assert '<span id="queued-count">1</span> queued' in page
    assert "<td>grader-9</td><td>999</td><td>5</td>" in page


def test_rate_limits_count_in_redis_and_survive_its_outage(
        make_app: Callable[..., Flask], redis_server: RedisServer, queue_name: str) -> None:
    def limited(redis_url: str, name: str) -> Flask:
        return make_app(redis_url=redis_url, queue_name=name,
                        rate_limit_storage=redis_url,
                        service_limits=ServiceLimits(rate_limit="2/minute"))

    # two apps (two web processes) on one Redis share one budget per client
    first, second = limited(redis_server.url, queue_name), limited(redis_server.url, queue_name)
    path = f"{API}/submissions/no-such-id"
    assert first.test_client().get(path).status_code == 404
    assert second.test_client().get(path).status_code == 404
    assert first.test_client().get(path).status_code == 429
    # Redis down: the request is still answered (counted in memory meanwhile)
    down = limited(f"redis://127.0.0.1:{free_port()}/0", queue_name)
    answer = post_async(down.test_client())
    assert answer.status_code == 202
