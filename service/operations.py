"""What a user of gdlab can do, once: the operations that the REST API (``service/api/``)
and the web pages (``service/web.py``) both perform, as plain functions.

Each takes the process's :class:`~service.state.Services`, the caller
(:class:`~service.auth.Caller`) where who asks matters, and input that came through the
API's marshmallow schemas (:mod:`service.schemas`: :func:`load` runs them for a front end
whose input is not already loaded), and raises only :class:`~service.errors.ApiError`.
No Flask request in here: a front end reads its request, calls an operation, and shapes
the answer (JSON, a page, a redirect).

The rules that must not differ between the front ends live here and nowhere else:

- who may see a submission (:func:`may_see`), its code (:func:`may_see_code`) and what
  only instructors see of its result (:func:`submission_view`: the hidden runs' output
  and errors, the cases' seeds; a student gets the hidden runs as an aggregate only);
- who a submission is filed under (:func:`student_of`) and which code is accepted
  (:func:`checked_code`);
- how a reference run is asked for (:func:`reference_request`,
  :func:`reference_request_from_form`: the same schema, the same ``NAME=VALUE`` syntax as
  the command line's, :func:`service.schemas.parse_assignment`).

Storage and grading are below: :mod:`service.submission_store` (submissions kept, graded,
drawn), :mod:`service.reference_store` (reference runs kept by their canonical request),
:mod:`service.queue` (the RQ job queue of a scaled-out server).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError

from grader.catalog import Exercise
from grader.engine import SpecError
from grader.plots import FORMATS
from grader.sandbox import SandboxBusyError, SourceRejectedError
from service import callbacks
from service import queue as jobs
from service import reference_store as runs
from service import submission_store as store
from service.auth import Caller, require_instructor
from service.errors import ApiError, invalid
from service.models import FINAL_STATUSES, Plot, Submission
from service.schemas import (
    ReferenceFormSchema,
    ReferenceRequestSchema,
    SubmissionQuery,
    SubmissionQuerySchema,
    SubmissionRequest,
    SubmissionRequestSchema,
)
from service.state import Services

# --- input through the schemas ---------------------------------------------------------


def load(schema: Schema, raw: Mapping[str, Any]) -> Any:
    """``raw`` as ``schema`` loads it.

    Raises
    ------
    ApiError
        422 naming each refused field, as a refused API request.
    """
    try:
        return schema.load(raw)
    except ValidationError as error:
        raise invalid(error.messages) from None


def submission_request(raw: Mapping[str, Any]) -> SubmissionRequest:
    """A submission from raw fields (a web form), through :class:`SubmissionRequestSchema`."""
    return load(SubmissionRequestSchema(), raw)


def submission_query(raw: Mapping[str, Any]) -> SubmissionQuery:
    """Listing filters from raw fields (a query string), through
    :class:`SubmissionQuerySchema`."""
    return load(SubmissionQuerySchema(), raw)


def reference_request(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A reference run's request (JSON-like values), through
    :class:`ReferenceRequestSchema`."""
    return load(ReferenceRequestSchema(), raw)


def reference_request_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """A reference run's request from the explorer's text fields (``hyper`` as
    ``NAME=VALUE, ...``, learning rates separated by commas): read by
    :class:`ReferenceFormSchema`, then validated by :class:`ReferenceRequestSchema` like a
    request to the API."""
    return reference_request(load(ReferenceFormSchema(), form))


# --- exercises ---------------------------------------------------------------------------


def find_exercise(state: Services, exercise_id: str) -> Exercise:
    """An exercise by id (404 naming the known ones)."""
    exercise = state.catalog.exercises.get(exercise_id)
    if exercise is None:
        known = ", ".join(sorted(state.catalog.exercises))
        raise ApiError(404, f"There is no exercise {exercise_id!r}. Known exercises: {known}.")
    return exercise


def _submitted_exercise(state: Services, exercise_id: str) -> Exercise:
    """The exercise a submission names (422: it is a field of the request, not a path)."""
    exercise = state.catalog.exercises.get(exercise_id)
    if exercise is None:
        known = ", ".join(sorted(state.catalog.exercises))
        raise ApiError(422, f"There is no exercise {exercise_id!r}. Known exercises: {known}.",
                       {"exercise": [f"unknown exercise; known: {known}"]})
    return exercise


# --- submitting --------------------------------------------------------------------------


def student_of(state: Services, who: Caller, named: str | None) -> tuple[str | None, int | None]:
    """The student a submission is filed under: a student token's holder (403 if another
    name is given), else the name given, where the server's mode allows it (401 when it
    needs a student token)."""
    if who.role == "student":
        if named is not None and named != who.student:
            raise ApiError(403, f"Your token belongs to {who.student!r}; you cannot submit "
                                f"as {named!r}.", {"student": ["does not match your token"]})
        return who.student, who.student_id
    if state.config.student_auth == "required" and not who.is_instructor:
        raise ApiError(401, "This server needs a student token to submit: send "
                            "'Authorization: Bearer <your token>' (ask your instructor).",
                       headers={"WWW-Authenticate": "Bearer"})
    return named, None


def checked_code(state: Services, code: str) -> str:
    """``code``, if it can be kept and run: valid text, no NUL, within the size limit
    (422 otherwise, saying which)."""
    try:
        code.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(422, "code: the code contains characters that are not valid text "
                            "(unpaired surrogates).",
                       {"code": ["contains characters that are not valid UTF-8 text"]}) from None
    if "\x00" in code:  # refused before it is kept: PostgreSQL's text cannot hold a NUL
        line = code[: code.index("\x00")].count("\n") + 1
        message = f"Your code contains a NUL character on line {line}."
        raise ApiError(422, f"code: {message}", {"code": [message]})
    limit = state.config.sandbox_limits.code_limit
    if len(code.encode("utf-8")) > limit:
        raise ApiError(422, f"code: your code is {len(code.encode('utf-8')):,} bytes; the "
                            f"limit is {limit:,} bytes.", {"code": [f"at most {limit:,} bytes"]})
    return code


def checked_callback(state: Services, url: str | None) -> str | None:
    """A callback URL the server may POST to (422 for one it refuses: not http(s), or a
    private address the configuration does not allow)."""
    if url is None:
        return None
    try:
        return callbacks.check_url(url, state.config.callback_allow_private)
    except callbacks.CallbackRefusedError as error:
        raise ApiError(422, str(error), {"callback_url": [str(error).split(": ", 1)[-1]]}
                       ) from None


#: Seconds a submission waits for its turn to be stored and queued before it goes ahead
#: anyway: the turns are there for the reads' latency, never a reason to hold a student
#: long (say, while every turn waits on an unreachable Redis).
TURN_WAIT = 2.0


@contextmanager
def accepting_turn(state: Services) -> Iterator[None]:
    """One of the process's turns to store and queue a submission
    (``ServiceLimits.accepting_at_once``), or none after :data:`TURN_WAIT` seconds.

    Why: in a deadline burst every thread of a web process could be storing a submission
    (Python, then the database, then Redis) and a student polling their result would wait
    behind all of them for the interpreter lock; with one turn per process the threads
    left over serve reads at once and the burst is accepted no slower.
    """
    turn = state.accepting.acquire(timeout=TURN_WAIT)
    try:
        yield
    finally:
        if turn:
            state.accepting.release()


def submit(state: Services, who: Caller, request: SubmissionRequest, *,
           wait: float = 0.0) -> Submission:
    """Keep a submission and grade it: here and now (no job queue), or through the queue,
    waiting up to ``wait`` seconds for a worker's grade.

    Returns
    -------
    Submission
        Graded; or, from the queue, as it is when ``wait`` ran out (queued or grading).

    Raises
    ------
    ApiError
        401/403 for who may not submit so; 422 for an unknown exercise, code that cannot
        be kept or that the static checks reject, a refused callback; 503 when the
        sandbox is busy or fails (the submission is kept and says so,
        ``X-Submission-Id``).
    """
    student, student_id = student_of(state, who, request.student)
    exercise = _submitted_exercise(state, request.exercise)
    code = checked_code(state, request.code)
    callback_url = checked_callback(state, request.callback_url)
    if state.queue is None:
        try:
            graded = store.grade(state, exercise, code, student, student_id,
                                 callback_url=callback_url)
        except store.GradingFailedError as failed:
            raise grading_failure(failed) from None
        return graded.submission
    with accepting_turn(state):
        kept = store.keep(state, exercise, code, student, student_id, queued=True,
                          callback_url=callback_url)
        queued = jobs.try_enqueue(state.queue, kept.id, 1, jobs.timeout_of(state.config))
    # Redis down: kept, and queued by the reconciler once it is back; no use waiting now
    final = store.wait_for(state, kept.id, wait if queued else 0.0)
    if final.status in FINAL_STATUSES and final.status != "graded":
        raise stored_failure(final)
    return final


def grading_failure(failed: store.GradingFailedError) -> ApiError:
    """A submission graded here that could not be graded, as the error to answer: 422 for
    code the static checks reject, 503 (retry) when the sandbox is busy or failed."""
    cause, submission_id = failed.cause, failed.submission.public_id
    if isinstance(cause, SourceRejectedError):
        return ApiError(422, cause.message, {"code": [cause.message]},
                        {"X-Submission-Id": submission_id})
    if isinstance(cause, SandboxBusyError):
        return ApiError(503, "Every grading slot is busy right now. Your submission was kept; "
                             f"please send it again in {cause.retry_after} s.",
                        headers={"Retry-After": str(cause.retry_after),
                                 "X-Submission-Id": submission_id})
    return ApiError(503, "The grading sandbox is not available right now. Your submission was "
                         "kept; please try again shortly.",
                    headers={"Retry-After": "5", "X-Submission-Id": submission_id})


def stored_failure(submission: Submission) -> ApiError:
    """A queued submission that ended rejected (422) or failed (503), as an error."""
    message = submission.error or f"The submission {submission.status}."
    headers = {"X-Submission-Id": submission.public_id}
    if submission.status == "rejected":
        return ApiError(422, message, {"code": [message]}, headers)
    return ApiError(503, f"Grading failed: {message}", headers={**headers, "Retry-After": "5"})


# --- reading a result: the one visibility rule -------------------------------------------


def may_see(who: Caller, submission: Submission) -> bool:
    """Whether ``who`` may see ``submission``: instructors see every one, anyone sees one
    made without a student token, a student sees their own.

    Examples
    --------
    >>> alice, bob = Caller("student", "alice", 1), Caller("student", "bob", 2)
    >>> mine = Submission(student_id=1)
    >>> may_see(alice, mine), may_see(bob, mine), may_see(Caller("instructor"), mine)
    (True, False, True)
    >>> may_see(Caller(), Submission(student_id=None))
    True
    """
    if who.is_instructor or submission.student_id is None:
        return True
    return submission.student_id == who.student_id


def may_see_code(who: Caller, submission: Submission, *, made_here: bool = False) -> bool:
    """Whether ``who`` may read the submitted code: instructors, its student, and (for an
    anonymous submission) only the browser it was made from (``made_here``)."""
    return who.is_instructor or made_here or (
        submission.student_id is not None and submission.student_id == who.student_id)


def visible_submission(state: Services, who: Caller, public_id: str) -> Submission:
    """A submission ``who`` may see (404 otherwise: never say whose it is)."""
    with state.db.session() as session:
        submission = store.find(session, public_id)
    if submission is None or not may_see(who, submission):
        raise ApiError(404, f"There is no submission {public_id!r} that you can see.")
    return submission


def submission_view(state: Services, who: Caller, submission: Submission,
                    links: dict[str, str]) -> dict[str, Any]:
    """A submission as ``who`` may see it (:class:`~service.schemas.SubmissionSchema`):
    its record, its place in the queue while queued, its result as students see it
    (hidden runs in aggregate), and for instructors only what they alone may see."""
    place = (jobs.position(state.queue, submission)
             if state.queue is not None and submission.status == "queued" else None)
    delivery = None
    if who.is_instructor and submission.callback_url:
        with state.db.session() as session:
            delivery = store.delivery_of(session, submission)
    return store.representation(submission, links, place, instructor=who.is_instructor,
                                callback=delivery)


def submission_plot(state: Services, who: Caller, public_id: str, fmt: str) -> Plot:
    """A submission's overlay plot as ``fmt`` (404: no such format or submission ``who``
    may see; 409: nothing to draw)."""
    if fmt not in FORMATS:
        raise ApiError(404, f"Plots come as {' or '.join(FORMATS)}, not {fmt!r}.")
    found = visible_submission(state, who, public_id)
    try:
        return store.plot(state, found, fmt)
    except store.PlotUnavailableError as error:
        raise ApiError(409, str(error)) from None


def submission_curves(state: Services, who: Caller, public_id: str) -> dict[str, Any]:
    """A submission's visible loss curves as data, for the pages' chart (404: no
    submission ``who`` may see; 409: nothing to draw)."""
    found = visible_submission(state, who, public_id)
    try:
        return store.curves(state, found)
    except store.PlotUnavailableError as error:
        raise ApiError(409, str(error)) from None


# --- reference runs ----------------------------------------------------------------------


def run_reference(state: Services, request: dict[str, Any]) -> runs.Stored:
    """Run (or find kept) the sweep a validated request asks for (422 naming the field the
    engine or the limits refuse)."""
    try:
        return runs.run_reference(state.db, state.config.limits, request)
    except SpecError as error:
        raise ApiError(422, f"{error.field}: {error.message}",
                       {error.field: [error.message]}) from None


def reference_run(state: Services, run_id: str) -> runs.Stored:
    """A kept reference run (404 saying how to make it)."""
    stored = runs.find(state.db, run_id)
    if stored is None:
        raise ApiError(404, f"There is no reference run {run_id!r}; POST the request to "
                            "/api/v1/reference/runs to run it.")
    return stored


def reference_plot(state: Services, run_id: str, fmt: str) -> Plot:
    """A kept run's plot as ``fmt`` (404: no such format or run)."""
    if fmt not in FORMATS:
        raise ApiError(404, f"Plots come as {' or '.join(FORMATS)}, not {fmt!r}.")
    return runs.plot(state.db, reference_run(state, run_id), fmt)


# --- instructors ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """A page of the submission listing."""

    items: list[Submission]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least one)."""
        return max(1, -(-self.total // self.page_size))


def list_submissions(state: Services, who: Caller, query: SubmissionQuery) -> Page:
    """A page of every submission, newest first, filtered (instructors: 401/403 for
    others); the page size is capped by ``GDLAB_MAX_PAGE_SIZE``."""
    require_instructor(who)
    page_size = min(query.page_size, state.config.service_limits.max_page_size)
    with state.db.session() as session:
        items, total = store.listing(
            session, exercise=query.exercise, student=query.student, status=query.status,
            since=query.since, until=query.until, page=query.page, page_size=page_size)
    return Page(items, total, query.page, page_size)


def gradebook(state: Services, who: Caller) -> list[dict[str, Any]]:
    """Best and latest score of every named student per exercise (instructors)."""
    require_instructor(who)
    with state.db.session() as session:
        return store.gradebook(session)


def gradebook_csv(state: Services, who: Caller) -> str:
    """The gradebook as CSV (instructors)."""
    require_instructor(who)
    with state.db.session() as session:
        return store.gradebook_csv(session)


def queue_stats(state: Services, who: Caller) -> jobs.QueueStats:
    """The grading queue: queued, oldest age, running jobs, live workers (instructors)."""
    require_instructor(who)
    return jobs.stats(state.db, state.queue)
