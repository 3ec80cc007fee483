"""The Flask application factory.

Example::

    from service.app import create_app
    app = create_app()            # configuration from GDLAB_* variables
"""

from __future__ import annotations

import atexit
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_smorest import Api

from grader.grading import gdlab_version
from grader.sandbox import Sandbox
from service import web, web_analytics
from service.api import (
    analytics,
    catalogue,
    exercises,
    health,
    instructor,
    reference,
    submissions,
)
from service.api.common import API_PREFIX, caller
from service.auth import instructor_hash, session_secret
from service.config import Config, private_data_dir
from service.db import Database, upgrade
from service.errors import ApiError, install_error_handlers
from service.queue import connect, make_queue
from service.schemas import ErrorSchema
from service.state import Services, services

log = logging.getLogger(__name__)

#: Where the docs page loads Swagger UI from: our own copy among the web pages' static files
#: (service/static/swagger-ui, see its VENDORED.md), never a CDN, so that the page works
#: offline or on a closed campus network.
SWAGGER_UI = f"{web.bp.static_url_path}/swagger-ui/"
#: Swagger UI's settings: no validator badge (it would send the document to
#: validator.swagger.io, a request that leaves the server).
SWAGGER_UI_CONFIG = {"validatorUrl": None}

_DESCRIPTION = """\
gdlab grades gradient-descent and optimizer exercises: submit the source of an update rule
and get a convergence score, a verdict per learning rate, a diagnosis of the mistake and a
plot of your curves over the reference's. Errors are always JSON
`{code, status, message, errors}`."""


class GdlabApi(Api):
    """flask-smorest's Api documenting our error shape ({code, status, message, errors}) for
    every error response, the ``default`` one of every operation included."""

    ERROR_SCHEMA = ErrorSchema


def _api_settings(config: Config) -> dict[str, Any]:
    return {
        "API_TITLE": "gdlab",
        "API_VERSION": gdlab_version(),
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": API_PREFIX,
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": SWAGGER_UI,
        "OPENAPI_SWAGGER_UI_CONFIG": SWAGGER_UI_CONFIG,
        "API_SPEC_OPTIONS": {
            "info": {"description": _DESCRIPTION},
            "components": {"securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "An instructor's or a student's token"}}},
        },
        "MAX_CONTENT_LENGTH": config.service_limits.max_request_bytes,
        "TESTING": config.testing,
        # Flask-Limiter: per client, off when GDLAB_RATE_LIMIT=off
        "RATELIMIT_ENABLED": config.service_limits.rate_limited,
        "RATELIMIT_STORAGE_URI": config.rate_limit_storage,
        "RATELIMIT_HEADERS_ENABLED": True,
        # the queue's name also names the counters: gdlab deployments (one per course)
        # sharing one Redis keep budgets of their own
        "RATELIMIT_KEY_PREFIX": config.queue_name,
        # counters in Redis (GDLAB_REDIS_URL): while Redis is down each process counts in
        # memory rather than failing the request (a submission is still kept, see /health)
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    }


def client_key() -> str:
    """Whom a rate limit counts: the bearer token's holder, else the client's address. Only
    a valid token counts apart: a made-up one would otherwise buy a fresh allowance."""
    header = request.headers.get("Authorization", "")
    if header and _valid_token():
        return "token:" + hashlib.sha256(header.encode("utf-8", "replace")).hexdigest()[:32]
    return "address:" + (get_remote_address() or "unknown")


def _valid_token() -> bool:
    try:
        return caller().role != "anonymous"
    except ApiError:  # unknown or malformed: the view says so (401) if it needs a token
        return False


def _not_rate_limited() -> bool:
    """What the per-client limit leaves alone: /health, the API's documentation, and the
    web pages that cost nothing (but not the ones that grade, run the engine or check a
    token)."""
    path = request.path
    if path.startswith(API_PREFIX + "/"):
        return path in (f"{API_PREFIX}/openapi.json", f"{API_PREFIX}/docs")
    return not (path.endswith("/submit") or path in ("/reference", "/login"))


@dataclass(frozen=True)
class Prepared:
    """The database, migrated, and the secrets kept in it."""

    db: Database
    instructor_hash: str
    secret_key: str


def prepare_database(config: Config) -> Prepared:
    """The database, migrated to the newest schema, the instructor token's hash and the
    session key (each generated at the first start if not configured)."""
    lock_dir = private_data_dir(config.data_dir) if config.is_sqlite else None
    db = Database(config.database_url)
    upgrade(db.engine, lock_dir)
    with db.session() as session:
        digest = instructor_hash(session, config.instructor_token)
        secret = session_secret(session, config.secret_key)
    return Prepared(db, digest, secret)


def create_app(config: Config | None = None, *, sandbox: Sandbox | None = None) -> Flask:
    """Build the gdlab service.

    Parameters
    ----------
    config : Config, optional
        Default: :meth:`Config.from_env`.
    sandbox : Sandbox, optional
        A sandbox to grade with (the caller owns it). Default: the runner at
        ``config.sandbox_socket``, or one started by this app (and stopped at exit).

    Returns
    -------
    Flask
        The application; its parts are in ``app.extensions["gdlab"]``.
    """
    config = config or Config.from_env()
    app = Flask(__name__)
    app.config.update(_api_settings(config))
    app.json.sort_keys = False  # keep the documented order of fields

    prepared = prepare_database(config)
    db, digest = prepared.db, prepared.instructor_hash
    app.secret_key = prepared.secret_key
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)
    owns_sandbox = sandbox is None
    if sandbox is None:
        sandbox = Sandbox(config.sandbox_limits, socket_path=config.sandbox_socket)
    state = Services(config=config, db=db, sandbox=sandbox, instructor_hash=digest,
                     owns_sandbox=owns_sandbox,
                     queue=(make_queue(connect(config.redis_url), config.queue_name)
                            if config.redis_url else None))
    app.extensions["gdlab"] = state
    if owns_sandbox:
        atexit.register(state.close)

    api = GdlabApi(app)
    for module in (health, exercises, submissions, reference, catalogue, instructor, analytics):
        api.register_blueprint(module.blp)
    app.register_blueprint(web.bp)
    app.register_blueprint(web_analytics.bp)
    install_error_handlers(app)  # after Api: its handler is replaced by ours

    # application limits: one budget per client for the whole API (default limits would
    # give each route a budget of its own)
    limiter = Limiter(client_key, app=app,
                      application_limits=([config.service_limits.rate_limit]
                                          if config.service_limits.rate_limited else []),
                      application_limits_exempt_when=_not_rate_limited)
    app.extensions["gdlab_limiter"] = limiter

    @app.before_request
    def _refresh_catalog() -> None:
        if request.path.startswith(API_PREFIX):
            state = services()
            state.refresh_catalog()
            if state.queue is None:
                state.send_due_callbacks()

    @app.after_request
    def _no_sniffing(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    return app
