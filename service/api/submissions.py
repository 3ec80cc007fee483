"""Submissions: a student posts code and gets it graded; results and plots by id."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from grader.catalog import Exercise
from grader.plots import FORMATS
from grader.sandbox import SandboxBusyError, SourceRejectedError
from service import submissions as store
from service.api.common import API_PREFIX, BEARER, Blueprint, caller, link
from service.auth import Caller
from service.errors import ApiError
from service.models import Submission
from service.schemas import (
    BINARY,
    PLOT_DESCRIPTION,
    ErrorSchema,
    SubmissionRequestSchema,
    SubmissionSchema,
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
@blp.arguments(SubmissionRequestSchema)
@blp.response(201, SubmissionSchema)
@blp.alt_response(422, schema=ErrorSchema, description="The request or the code is not valid")
@blp.alt_response(503, schema=ErrorSchema,
                  description="The sandbox is busy: retry after Retry-After")
@blp.doc(security=[*BEARER, {}])
def submissions(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Submit code to an exercise: it is kept, run in the sandbox on every case, and graded.

    Returns the score, a verdict per visible run, the hidden runs as an aggregate, the
    diagnosis and feedback, and links to the plots. Code that fails the static checks
    (syntax, entry point, size) is kept as ``rejected`` and answered with 422.
    """
    who = caller()
    student, student_id = _student_of(who, body.get("student"))
    exercise = _exercise(body["exercise"])
    code = _checked_code(body["code"])
    try:
        graded = store.grade(services(), exercise, code, student, student_id)
    except store.GradingFailedError as failed:
        raise _failure(failed) from None
    data = store.representation(graded.submission, links(graded.submission))
    return data, 201, {"Location": data["links"]["self"]}


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
    """A submission and its result. Submissions made with a student token are visible only
    with that token (or the instructors')."""
    found = visible_submission(public_id)
    return store.representation(found, links(found))


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
