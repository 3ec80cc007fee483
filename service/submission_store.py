"""The submission store: submissions kept before they are graded, graded in the sandbox
(here, or by a queue worker through :func:`grade_stored`), stored with their result, and
drawn on demand. No HTTP and no caller here: :mod:`service.operations` decides who may do
and see what, and the API (``service/api/submissions.py``) and the pages translate.

A submission is committed before its code runs (``grading`` when the web process grades
it, ``queued`` when a queue worker will), so a crash mid-grading leaves a record. A record
a web process left ``grading`` long after any job could have ended is reported, and
stored, as ``failed``; one a queue worker left is the reconciler's (service/queue.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from grader.archive import ArchiveError, pack_parts, unpack_parts
from grader.catalog import Exercise
from grader.grading import GradeResult, JobResults, split_whole
from grader.plots import plot_grade
from grader.plots.curves import grade_curves
from grader.preparation import PreparedExercise
from grader.sandbox import SandboxBusyError, SandboxError, SourceRejectedError
from service import analytics, callbacks
from service import queue as jobs
from service.models import FINAL_STATUSES, CallbackDelivery, Plot, Submission, utcnow
from service.plots import kept_plot
from service.state import Services

log = logging.getLogger(__name__)

#: A record still grading after this many seconds past the sandbox's time limit is lost.
STALE_AFTER = 120.0


class GradingFailedError(Exception):
    """The submission was kept, but could not be graded (``failed`` or ``rejected``)."""

    def __init__(self, submission: Submission, cause: Exception) -> None:
        super().__init__(submission.error)
        self.submission = submission
        self.cause = cause


@dataclass(frozen=True)
class Graded:
    """A graded submission and its result."""

    submission: Submission
    result: GradeResult


def new_public_id() -> str:
    """A random id for a submission (16 URL-safe characters)."""
    return secrets.token_urlsafe(12)


def keep(services: Services, exercise: Exercise, code: str, student: str | None,
         student_id: int | None, *, queued: bool = False,
         callback_url: str | None = None) -> Submission:
    """Store a submission before grading it: ``queued`` for a worker, or ``grading`` here
    (its first start)."""
    now = utcnow()
    submission = Submission(
        public_id=new_public_id(), exercise=exercise.id, exercise_version=exercise.version,
        student=student, student_id=student_id, code=code,
        status="queued" if queued else "grading", created_at=now, queued_at=now,
        started_at=None if queued else now, attempts=0 if queued else 1,
        callback_url=callback_url)
    with services.db.session() as session:
        session.add(submission)
    return submission


class AlreadyFinishedError(Exception):
    """Another start of the same submission wrote its result first."""


def _finish(services: Services, submission: Submission, graded: GradeResult | None = None,
            **values: Any) -> Submission:
    """Write the outcome of grading, once: only while the submission is still ``grading``
    (a worker thought dead may finish after another took the job over). In the same
    transaction: with ``graded``, the facts the class analytics count; for a graded
    submission with a callback URL, its delivery (sent once it is committed)."""
    delivery = None
    with services.db.session() as session:
        written = session.execute(
            update(Submission)
            .where(Submission.id == submission.id, Submission.status == "grading")
            .values(**values)).rowcount
        if written and graded is not None:
            session.add_all(analytics.facts_of(submission.id, graded))
        stored = session.get(Submission, submission.id)
        if stored is not None:
            session.refresh(stored)
        if written and stored is not None and stored.status == "graded" \
                and stored.callback_url:
            delivery = callbacks.record(session, stored.id, stored.callback_url,
                                        callback_body(stored)).id
            secret = callbacks.server_secret(session, services.config.callback_secret)
    if not written:
        raise AlreadyFinishedError(submission.public_id)
    if delivery is not None:
        callbacks.schedule(services.db, delivery, secret,
                           services.config.callback_allow_private)
    return stored


def grade(services: Services, exercise: Exercise, code: str, student: str | None = None,
          student_id: int | None = None, *, callback_url: str | None = None) -> Graded:
    """Keep, grade and store a submission, here and now (the embedded server).

    Raises
    ------
    GradingFailedError
        The code was rejected by the static checks (cause: SourceRejectedError) or could
        not run (cause: a SandboxError); the record says so.
    """
    submission = keep(services, exercise, code, student, student_id,
                      callback_url=callback_url)
    return run_grading(services, submission, exercise)


def run_grading(services: Services, submission: Submission, exercise: Exercise) -> Graded:
    """Grade a stored submission that is ``grading`` and store its outcome (once); the one
    place where both the web process and a queue worker grade.

    Raises
    ------
    GradingFailedError
        Rejected by the static checks, or the sandbox failed; the record says so.
    AlreadyFinishedError
        Another start of this submission stored its outcome first.
    """
    started = time.perf_counter()
    try:
        result, job = services.grader.submit(exercise, submission.code)
    except SourceRejectedError as error:
        stored = _finish(services, submission, status="rejected", error=error.message,
                         graded_at=utcnow())
        raise GradingFailedError(stored, error) from None
    except SandboxError as error:
        reason = ("the sandbox was busy" if isinstance(error, SandboxBusyError)
                  else f"the sandbox failed: {error}")
        stored = _finish(services, submission, status="failed", error=reason, graded_at=utcnow())
        raise GradingFailedError(stored, error) from None
    except Exception:
        _finish(services, submission, status="failed", error="an internal error (logged)",
                graded_at=utcnow())
        raise
    elapsed = (time.perf_counter() - started) * 1000
    stored = _finish(
        services, submission, result, status="graded", score=result.score,
        exercise_version=exercise.version,
        result=json.dumps(result.to_dict(), allow_nan=False),
        instructor_result=json.dumps(result.instructor_view(), allow_nan=False),
        job=pack_parts(job.parts()), graded_at=utcnow(), grading_ms=round(elapsed, 3),
        sandbox_ms=round(job.elapsed * 1000, 3))
    return Graded(stored, result)


def claim(services: Services, submission_id: int, worker: str) -> Submission | None:
    """Take a ``queued`` submission to grade it (a conditional UPDATE: of two workers given
    the same job, one gets it); None when it is not queued any more."""
    with services.db.session() as session:
        taken = session.execute(
            update(Submission)
            .where(Submission.id == submission_id, Submission.status == "queued")
            .values(status="grading", started_at=utcnow(), worker=worker,
                    attempts=Submission.attempts + 1)).rowcount
        return session.get(Submission, submission_id) if taken else None


def exercise_gone(submission: Submission) -> str:
    """Why a submission whose exercise is not loaded cannot be graded."""
    return (f"The exercise {submission.exercise!r} is not loaded on the grading workers "
            "any more, so this submission cannot be graded; please submit again.")


def grade_stored(services: Services, submission_id: int, worker: str) -> str:
    """Grade a queued submission by its id (what a queue worker does with a job); a word
    saying what became of it: graded, rejected, failed, or skipped (not queued: another
    start has it, or it is unknown)."""
    submission = claim(services, submission_id, worker)
    if submission is None:
        return "skipped"
    services.refresh_catalog()
    exercise = services.catalog.exercises.get(submission.exercise)
    try:
        if exercise is None:
            _finish(services, submission, status="failed", error=exercise_gone(submission),
                    graded_at=utcnow())
            return "failed"
        try:
            run_grading(services, submission, exercise)
        except GradingFailedError as failed:
            return failed.submission.status
    except AlreadyFinishedError:
        return "skipped"
    return "graded"


#: Seconds between two looks at a submission being waited for (growing to the second),
#: where no worker signals the end (Redis unreachable).
WAIT_POLL = (0.05, 0.5)


def wait_for(services: Services, submission_id: int, seconds: float) -> Submission:
    """The submission once its grading is over, or as it is after ``seconds``.

    Between two looks at the database the request waits for the worker's signal that it
    is finished (:func:`service.queue.wait_done`), so the answer follows the grade at once;
    without Redis, it looks again after a growing pause.
    """
    deadline = time.monotonic() + seconds
    pause = WAIT_POLL[0]
    while True:
        with services.db.session() as session:
            submission = session.get(Submission, submission_id)
        assert submission is not None  # committed by the caller; never deleted
        left = deadline - time.monotonic()
        if submission.status in FINAL_STATUSES or left <= 0:
            return submission
        if services.queue is None \
                or jobs.wait_done(services.queue, submission_id, left) is None:
            time.sleep(min(pause, left))
            pause = min(pause * 2, WAIT_POLL[1])


def submission_links(public_id: str, exercise: str) -> dict[str, str]:
    """Where a submission, its plots and its exercise are in the API."""
    base = f"/api/v1/submissions/{public_id}"
    return {"self": base, "plot_png": f"{base}/plot.png", "plot_svg": f"{base}/plot.svg",
            "exercise": f"/api/v1/exercises/{exercise}"}


def callback_body(submission: Submission) -> bytes:
    """What a graded submission's callback sends: the submission as the API shows it to
    its student."""
    return callbacks.body_of(representation(
        submission, submission_links(submission.public_id, submission.exercise)))


INTERRUPTED = "grading was interrupted (the server stopped); please resubmit"


def _lost(submission: Submission, now: dt.datetime) -> bool:
    """Graded in a web process (no worker) and started long before any job could last."""
    started = submission.started_at or submission.created_at
    return (submission.status == "grading" and submission.worker is None
            and (now - started).total_seconds() > STALE_AFTER)


def expire_stale(session: Session) -> None:
    """Mark failed every submission still ``grading`` in a web process long after any job
    could have ended (that process died mid-grading): readers never see it grading for
    ever. Those of queue workers are the reconciler's (:mod:`service.queue`)."""
    cutoff = utcnow() - dt.timedelta(seconds=STALE_AFTER)
    session.execute(update(Submission)
                    .where(Submission.status == "grading", Submission.worker.is_(None),
                           func.coalesce(Submission.started_at, Submission.created_at)
                           < cutoff)
                    .values(status="failed", error=INTERRUPTED))


def find(session: Session, public_id: str) -> Submission | None:
    """A submission by its public id, with a long-lost ``grading`` one marked failed."""
    submission = session.scalars(
        select(Submission).where(Submission.public_id == public_id)).first()
    if submission is not None and _lost(submission, utcnow()):
        submission.status = "failed"
        submission.error = INTERRUPTED
    return submission


def representation(submission: Submission, links: dict[str, str],
                   position: int | None = None, *, instructor: bool = False,
                   callback: CallbackDelivery | None = None) -> dict[str, Any]:
    """What the API shows of a submission: its record, its place in the queue while
    queued, and, once graded, its result as the student may see it; for ``instructor``,
    also what only instructors may see (under ``instructor``: the hidden runs' output and
    errors, every case's seed; under ``callback``: how the delivery of the result to its
    callback URL stands)."""
    data: dict[str, Any] = {
        "id": submission.public_id, "status": submission.status, "position": position,
        "attempts": submission.attempts,
        "student": submission.student, "created_at": submission.created_at,
        "graded_at": submission.graded_at, "exercise": submission.exercise,
        "exercise_version": submission.exercise_version, "score": submission.score,
        "failure": submission.error,
        "timings": {"grading_ms": submission.grading_ms, "sandbox_ms": submission.sandbox_ms},
        "links": links,
    }
    if submission.result is not None:
        data.update(without_surrogates(json.loads(submission.result)))
    if instructor and submission.instructor_result is not None:
        data["instructor"] = without_surrogates(json.loads(submission.instructor_result))
    if instructor and callback is not None:
        data["callback"] = {
            "delivery_id": callback.delivery_id, "status": callback.status,
            "attempts": callback.attempts, "outcome": callback.outcome,
            "next_attempt_at": callback.next_attempt_at,
            "delivered_at": callback.delivered_at}
    return data


def delivery_of(session: Session, submission: Submission) -> CallbackDelivery | None:
    """The callback delivery of a submission (None: it has no callback URL, or is not
    graded yet)."""
    if not submission.callback_url:
        return None
    return session.scalars(select(CallbackDelivery)
                           .where(CallbackDelivery.submission_id == submission.id)
                           .order_by(CallbackDelivery.id.desc())).first()


_SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(value: Any) -> Any:
    """``value`` (parsed JSON) with every lone surrogate made U+FFFD.

    Job text is cleaned when a job's result is read (:func:`grader.sandbox.results.
    safe_text`); results stored before that could hold a lone surrogate, which no response
    can encode, so a stored result is repaired when it is read as well.

    Examples
    --------
    >>> without_surrogates({"stdout": "a\\ud800b", "runs": [1, "c"]})
    {'stdout': 'a\\ufffdb', 'runs': [1, 'c']}
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [without_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {key: without_surrogates(item) for key, item in value.items()}
    return value


class PlotUnavailableError(Exception):
    """There is nothing to draw for this submission (a sentence says why)."""


def plot(services: Services, submission: Submission, fmt: str) -> Plot:
    """The submission's overlay plot as ``fmt``, drawn on first request and kept.

    Raises
    ------
    PlotUnavailableError
        Not graded, or graded against an exercise version that is no longer loaded.
    """
    return kept_plot(services.db, f"submission:{submission.public_id}:{fmt}", fmt,
                     lambda: plot_grade(_regraded(services, submission), fmt))


def curves(services: Services, submission: Submission) -> dict[str, Any]:
    """The submission's visible loss curves as data, for the page's chart (see
    :func:`grader.plots.curves.grade_curves`).

    Raises
    ------
    PlotUnavailableError
        As :func:`plot`.
    """
    return grade_curves(_regraded(services, submission))


def _regraded(services: Services, submission: Submission) -> GradeResult:
    """The graded result of a stored submission, computed again from its kept job."""
    if submission.status != "graded" or submission.job is None:
        raise PlotUnavailableError(f"This submission has no plot: it was {submission.status}, "
                                   "not graded.")
    exercise = services.catalog.exercises.get(submission.exercise)
    if exercise is None or exercise.version != submission.exercise_version:
        raise PlotUnavailableError("This submission was graded against a version of the "
                                   "exercise that is no longer loaded, so it cannot be drawn "
                                   "again.")
    prepared = services.grader.prepare(exercise)
    try:
        results = stored_results(prepared, submission.job)
    except ArchiveError as error:
        raise PlotUnavailableError("The stored result of this submission is damaged.") from error
    return services.grader.assess(prepared, results)


def stored_results(prepared: PreparedExercise, data: bytes) -> JobResults:
    """The jobs' results kept with a submission (one job over every run, for
    submissions graded before the visible and hidden runs were split).

    Raises
    ------
    ArchiveError
        The bytes are not such results.
    """
    parts = unpack_parts(data)
    if "whole" in parts:
        return split_whole(prepared, parts["whole"])
    return JobResults(parts.get("visible"), parts.get("hidden"))


def gradebook(session: Session) -> list[dict[str, Any]]:
    """Best and latest score per student per exercise (graded submissions by named
    students), sorted by student then exercise."""
    rows = session.execute(
        select(Submission.student, Submission.exercise, Submission.score,
               Submission.created_at)
        .where(Submission.status == "graded", Submission.student.is_not(None))
        .order_by(Submission.student, Submission.exercise, Submission.created_at,
                  Submission.id)).all()
    book: dict[tuple[str, str], dict[str, Any]] = {}
    for student, exercise, score, created in rows:
        entry = book.setdefault((student, exercise), {
            "student": student, "exercise": exercise, "best": score, "latest": score,
            "submissions": 0, "last_submitted": created})
        entry["best"] = max(entry["best"], score)
        entry["latest"], entry["last_submitted"] = score, created
        entry["submissions"] += 1
    return list(book.values())


GRADEBOOK_COLUMNS = ("student", "exercise", "best", "latest", "submissions", "last_submitted")


def gradebook_csv(session: Session) -> str:
    """The gradebook as CSV (times in UTC, ISO 8601 with Z), for a spreadsheet or an LMS."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(GRADEBOOK_COLUMNS)
    for row in gradebook(session):
        writer.writerow([_iso_z(row[c]) if c == "last_submitted" else row[c]
                         for c in GRADEBOOK_COLUMNS])
    return out.getvalue()


def listing(session: Session, *, exercise: str | None = None, student: str | None = None,
            status: str | None = None, since: dt.datetime | None = None,
            until: dt.datetime | None = None, page: int = 1,
            page_size: int = 50) -> tuple[list[Submission], int]:
    """A page of submissions, newest first, and how many match in all (long-lost
    ``grading`` ones marked failed first)."""
    expire_stale(session)
    query = select(Submission)
    for column, value in ((Submission.exercise, exercise), (Submission.student, student),
                          (Submission.status, status)):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(Submission.created_at >= _naive_utc(since))
    if until is not None:
        query = query.where(Submission.created_at < _naive_utc(until))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(query.order_by(Submission.created_at.desc(), Submission.id.desc())
                            .offset((page - 1) * page_size).limit(page_size)).all()
    return list(items), total


def _iso_z(moment: dt.datetime) -> str:
    """A moment in UTC as ISO 8601 with ``Z`` (an aware one converted, a naive one taken
    as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.isoformat() + "Z"


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        except OverflowError:  # within hours of year 1 or 9999: before or after every record
            moment = dt.datetime.min if moment.year == 1 else dt.datetime.max
    return moment
