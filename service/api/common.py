"""What every blueprint shares: the strict JSON parser, the caller, links."""

from __future__ import annotations

from flask import g, url_for
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
