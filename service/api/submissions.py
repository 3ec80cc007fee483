"""Submissions over HTTP: a student posts code and gets it graded; results and plots by id.
The HTTP side only (status codes, ``Prefer``, ``?wait``): what is done is
:mod:`service.operations`."""

from __future__ import annotations

from typing import Any

from flask import Response

from service import operations as ops
from service.api.common import (
    API_PREFIX,
    BEARER,
    Blueprint,
    caller,
    image_response,
    submission_links,
)
from service.errors import ApiError
from service.models import Submission
from service.schemas import (
    BINARY,
    PLOT_DESCRIPTION,
    ErrorSchema,
    PreferHeaderSchema,
    SubmissionRequest,
    SubmissionRequestSchema,
    SubmissionSchema,
    SubmitQuerySchema,
)
from service.state import services

blp = Blueprint("submissions", __name__, url_prefix=f"{API_PREFIX}/submissions",
                description="Submit code to an exercise; read results and plots")


def shown(submission: Submission) -> dict[str, Any]:
    """A submission as the API's caller may see it (:func:`ops.submission_view`)."""
    return ops.submission_view(services(), caller(), submission,
                               submission_links(submission.public_id, submission.exercise))


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
                body: SubmissionRequest) -> tuple[dict[str, Any], int, dict[str, str]]:
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
    final = ops.submit(services(), caller(), body, wait=seconds)
    data = shown(final)
    headers = {"Location": data["links"]["self"]}
    # through the queue, a client that asked not to wait gets 202 even when a fast worker
    # already graded it (the submission as it is now; it polls Location like any other);
    # grading in this process has the grade at once: 201
    asked_not_to_wait = seconds <= 0 and services().queue is not None
    if final.status == "graded" and not asked_not_to_wait:
        return data, 201, headers
    if parse_prefer(prefer)[0]:
        headers["Preference-Applied"] = "respond-async"
    return data, 202, headers


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
    return shown(ops.visible_submission(services(), caller(), public_id))


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
    drawn = ops.submission_plot(services(), caller(), public_id, fmt)
    return image_response(drawn.data, drawn.media_type, drawn.etag)
