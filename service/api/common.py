"""What every blueprint (and the web pages) share: the strict JSON parser, the caller,
links, conditional image responses."""

from __future__ import annotations

from flask import Response, g, request, url_for
from flask_smorest import Blueprint as SmorestBlueprint

from service.auth import Caller, identify, require_instructor
from service.errors import StrictJSONParser
from service.state import services

API_PREFIX = "/api/v1"
BEARER = [{"bearer": []}]


class Blueprint(SmorestBlueprint):
    """flask-smorest's Blueprint reading JSON strictly (no NaN, no Infinity)."""

    ARGUMENTS_PARSER = StrictJSONParser()


def caller() -> Caller:
    """Who sent the current request (401 for an unknown token); computed once."""
    if "caller" not in g:
        state = services()
        with state.db.session() as session:
            g.caller = identify(session, state.instructor_hash)
    return g.caller


def instructor() -> Caller:
    """The caller, who must be an instructor (401/403 otherwise)."""
    who = caller()
    require_instructor(who)
    return who


def link(endpoint: str, **values: str) -> str:
    """The path of ``endpoint``."""
    return url_for(endpoint, **values)


def submission_links(public_id: str, exercise: str) -> dict[str, str]:
    """Where a submission, its plots and its exercise are in the API."""
    return {"self": link("submissions.submission", public_id=public_id),
            "plot_png": link("submissions.plot", public_id=public_id, fmt="png"),
            "plot_svg": link("submissions.plot", public_id=public_id, fmt="svg"),
            "exercise": link("exercises.exercise", exercise_id=exercise)}


def image_response(data: bytes, media_type: str, etag: str) -> Response:
    """An image that never changes, answered conditionally (ETag, If-None-Match)."""
    response = Response(data, mimetype=media_type)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response.make_conditional(request)
