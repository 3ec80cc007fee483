"""Submissions: a student posts code and gets it graded; results and plots by id."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from grader.catalog import Exercise
from grader.plots import FORMATS
from grader.sandbox import SandboxBusyError, SourceRejectedError
from service import callbacks
from service import queue as jobs
from service import submissions as store
from service.api.common import API_PREFIX, BEARER, Blueprint, caller, link
from service.auth import Caller
from service.errors import ApiError
from service.models import FINAL_STATUSES, Submission
from service.schemas import (
    BINARY,
    PLOT_DESCRIPTION,
    ErrorSchema,
    PreferHeaderSchema,
    SubmissionRequestSchema,
    SubmissionSchema,
    SubmitQuerySchema,
)
from service.state import services

blp = Blueprint("submissions", __name__, url_prefix=f"{API_PREFIX}/submissions",
                description="Submit code to an exercise; read results and plots")


def links(submission: Submission) -> dict[str, str]:
    """Where a submission and its plots are."""
    public_id = submission.public_id
    return {"self": link("submissions.submission", public_id=public_id),
            "plot_png": link("submissions.plot", public_id=public_id, fmt="png"),
            "plot_svg": link("submissions.plot", public_id=public_id, fmt="svg"),
            "exercise": link("exercises.exercise", exercise_id=submission.exercise)}


def shown(submission: Submission, *, instructor: bool | None = None) -> dict[str, Any]:
    """A submission as the API shows it, with its place in the queue while queued;
    ``instructor`` (default: whether the API's caller is one) adds what only instructors
    may see (see :func:`store.representation`)."""
    queue = services().queue
    place = (jobs.position(queue, submission)
             if queue is not None and submission.status == "queued" else None)
    if instructor is None:
        instructor = caller().is_instructor
    delivery = None
    if instructor and submission.callback_url:
        with services().db.session() as session:
            delivery = store.delivery_of(session, submission)
    return store.representation(submission, links(submission), place, instructor=instructor,
                                callback=delivery)


#: Preferences (RFC 7240) this endpoint understands.
PREFERENCES = ("respond-async", "wait")


def parse_prefer(header: str) -> tuple[bool, float | None]:
    """The ``Prefer`` header: whether the client asks not to wait (``respond-async``), and
    the longest it will wait (``wait=<seconds>``).

    Raises
    ------
    ApiError
        400 for a preference this server does not know, or a wait that is not a number.

    Examples
    --------
    >>> parse_prefer("respond-async, wait=10")
    (True, 10.0)
    >>> parse_prefer("")
    (False, None)
    """
    respond_async, wait = False, None
    for item in filter(None, (part.strip() for part in header.split(","))):
        name, _, value = item.split(";", 1)[0].partition("=")
        name, value = name.strip().lower(), value.strip().strip('"')
        if name == "respond-async" and not value:
            respond_async = True
        elif name == "wait" and value.isdigit() and len(value) <= 6:
            wait = float(value)
        else:
            raise ApiError(400, f"Prefer: {item!r} is not a preference this server "
                                "understands; use 'respond-async' (answer 202 at once) or "
                                "'wait=<seconds>'.", {"Prefer": ["unknown preference"]})
    return respond_async, wait


def wait_bound(query: dict[str, Any], prefer: str) -> float:
    """Seconds to wait for the grade before answering 202: none when asked not to wait
    (``?wait=false`` or ``Prefer: respond-async``), else the client's ``wait`` preference
    within the server's bound."""
    respond_async, wait = parse_prefer(prefer)
    bound = services().config.submit_wait
    if respond_async or query.get("wait") is False:
        return 0.0
    return bound if wait is None else min(wait, bound)


def _callback(body: dict[str, Any]) -> str | None:
    url = body.get("callback_url")
    if url is None:
        return None
    try:
        return callbacks.check_url(url, services().config.callback_allow_private)
    except callbacks.CallbackRefusedError as error:
        raise ApiError(422, str(error), {"callback_url": [str(error).split(": ", 1)[-1]]}
                       ) from None


def _student_of(who: Caller, named: str | None) -> tuple[str | None, int | None]:
    """The student a submission is filed under (401/403 where the mode forbids it)."""
    if who.role == "student":
        if named is not None and named != who.student:
            raise ApiError(403, f"Your token belongs to {who.student!r}; you cannot submit "
                                f"as {named!r}.", {"student": ["does not match your token"]})
        return who.student, who.student_id
    if services().config.student_auth == "required" and not who.is_instructor:
        raise ApiError(401, "This server needs a student token to submit: send "
                            "'Authorization: Bearer <your token>' (ask your instructor).",
                       headers={"WWW-Authenticate": "Bearer"})
    return named, None


def _exercise(exercise_id: str) -> Exercise:
    exercise = services().catalog.exercises.get(exercise_id)
    if exercise is None:
        known = ", ".join(sorted(services().catalog.exercises))
        raise ApiError(422, f"There is no exercise {exercise_id!r}. Known exercises: {known}.",
                       {"exercise": [f"unknown exercise; known: {known}"]})
    return exercise


def _checked_code(code: str) -> str:
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
    limit = services().config.sandbox_limits.code_limit
    if len(code.encode("utf-8")) > limit:
        raise ApiError(422, f"code: your code is {len(code.encode('utf-8')):,} bytes; the "
                            f"limit is {limit:,} bytes.", {"code": [f"at most {limit:,} bytes"]})
    return code


@blp.route("", methods=["POST"])
@blp.arguments(SubmitQuerySchema, location="query")
@blp.arguments(PreferHeaderSchema, location="headers")
@blp.arguments(SubmissionRequestSchema)
@blp.response(201, SubmissionSchema, description="Graded")
@blp.alt_response(202, schema=SubmissionSchema,
                  description="Accepted and queued, not graded yet (asked not to wait, or the "
                              "wait bound passed): poll the Location (the submission's URL) "
                              "until its status is graded, rejected or failed",
                  headers={"Location": {"description": "the submission's URL",
                                        "schema": {"type": "string"}}})
@blp.alt_response(400, schema=ErrorSchema, description="An unknown Prefer value")
@blp.alt_response(422, schema=ErrorSchema, description="The request or the code is not valid")
@blp.alt_response(503, schema=ErrorSchema,
                  description="The sandbox is busy: retry after Retry-After")
@blp.doc(security=[*BEARER, {}])
def submissions(query: dict[str, Any], headers: dict[str, Any],
                body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Submit code to an exercise: it is kept, run in the sandbox on every case, and graded.

    Returns the score, a verdict per visible run, the hidden runs as an aggregate, the
    diagnosis and feedback, and links to the plots (201). Code that fails the static checks
    (syntax, entry point, size) is kept as ``rejected`` and answered with 422.

    On a server with a job queue the submission is kept and queued, and the answer waits
    for the grade up to a bound (``GDLAB_SUBMIT_WAIT``, 30 s by default). A client that
    asks not to wait (``?wait=false`` or ``Prefer: respond-async``), or whose wait bound
    passes, gets 202 Accepted with ``status: queued`` (or ``grading``), the queue position
    and a ``Location`` to poll. When Redis is down the submission is still kept and queued
    as soon as it is back: nothing is lost, and the answer is 202.
    """
    prefer = headers.get("prefer", "")
    seconds = wait_bound(query, prefer)
    who = caller()
    student, student_id = _student_of(who, body.get("student"))
    exercise = _exercise(body["exercise"])
    code = _checked_code(body["code"])
    callback_url = _callback(body)
    state = services()
    if state.queue is None:
        try:
            graded = store.grade(state, exercise, code, student, student_id,
                                 callback_url=callback_url)
        except store.GradingFailedError as failed:
            raise _failure(failed) from None
        data = store.representation(graded.submission, links(graded.submission),
                                        instructor=who.is_instructor)
        return data, 201, {"Location": data["links"]["self"]}
    kept = store.keep(state, exercise, code, student, student_id, queued=True,
                      callback_url=callback_url)
    queued = jobs.try_enqueue(state.queue, kept.id, 1, jobs.timeout_of(state.config))
    # Redis down: kept, and queued by the reconciler once it is back; no use waiting now
    final = store.wait_for(state, kept.id, seconds if queued else 0.0)
    if final.status in FINAL_STATUSES:
        if final.status == "graded":
            data = shown(final)
            return data, 201, {"Location": data["links"]["self"]}
        raise _stored_failure(final)
    data = shown(final)
    headers = {"Location": data["links"]["self"]}
    if parse_prefer(prefer)[0]:
        headers["Preference-Applied"] = "respond-async"
    return data, 202, headers


def _stored_failure(submission: Submission) -> ApiError:
    """A queued submission that ended rejected (422) or failed (503), as an error."""
    message = submission.error or f"The submission {submission.status}."
    headers = {"X-Submission-Id": submission.public_id}
    if submission.status == "rejected":
        return ApiError(422, message, {"code": [message]}, headers)
    return ApiError(503, f"Grading failed: {message}", headers={**headers, "Retry-After": "5"})


def _failure(failed: store.GradingFailedError) -> ApiError:
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


def visible_submission(public_id: str) -> Submission:
    """A submission the caller may see (404 otherwise: never say whose it is)."""
    who = caller()
    with services().db.session() as session:
        submission = store.find(session, public_id)
    missing = ApiError(404, f"There is no submission {public_id!r} that you can see.")
    if submission is None:
        raise missing
    if who.is_instructor:
        return submission
    if submission.student_id is not None and submission.student_id != who.student_id:
        raise missing
    return submission


@blp.route("/<public_id>")
@blp.response(200, SubmissionSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No such submission (or not yours)")
@blp.doc(security=[*BEARER, {}])
def submission(public_id: str) -> dict[str, Any]:
    """A submission and its result: ``queued`` (with its position), ``grading``, then
    ``graded``, ``rejected`` or ``failed``. Submissions made with a student token are
    visible only with that token (or the instructors'). Instructors also get
    ``instructor``: how the hidden runs' job ended, with its output and errors, and every
    case's seed."""
    found = visible_submission(public_id)
    return shown(found)


@blp.route("/<public_id>/plot.<fmt>")
@blp.response(200, BINARY, description=PLOT_DESCRIPTION, content_type="image/png")
@blp.alt_response(200, schema=BINARY, description=PLOT_DESCRIPTION, content_type="image/svg+xml",
                  success=True)
@blp.alt_response(304, schema=None, description="Not modified (If-None-Match)")
@blp.alt_response(404, schema=ErrorSchema, description="No such submission or format")
@blp.alt_response(409, schema=ErrorSchema, description="Nothing to draw (not graded)")
@blp.doc(security=[*BEARER, {}])
def plot(public_id: str, fmt: str) -> Response:
    """The student's curves over the reference's, per learning rate: drawn on first
    request, then served from the store (ETag, Cache-Control)."""
    if fmt not in FORMATS:
        raise ApiError(404, f"Plots come as {' or '.join(FORMATS)}, not {fmt!r}.")
    found = visible_submission(public_id)
    try:
        drawn = store.plot(services(), found, fmt)
    except store.PlotUnavailableError as error:
        raise ApiError(409, str(error)) from None
    return image_response(drawn.data, drawn.media_type, drawn.etag)


def image_response(data: bytes, media_type: str, etag: str) -> Response:
    """An image that never changes, answered conditionally."""
    response = Response(data, mimetype=media_type)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response.make_conditional(request)
