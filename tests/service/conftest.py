"""Apps of the HTTP service for the tests: one shared sandbox, a fresh data folder each.

Every app gets a database of its own (a SQLite file in a temporary folder, or a fresh
PostgreSQL database: the app fixtures run once per backend, see tests/databases.py), the
instructor token :data:`INSTRUCTOR_TOKEN` and no rate limit unless a test asks for one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from grader.catalog.loader import default_directory
from grader.limits import ServiceLimits
from grader.sandbox import Sandbox
from service.app import create_app
from service.config import Config
from service.state import Services

from ..conftest import DatabaseUrlFor
from ..sandbox.conftest import IS_ROOT

INSTRUCTOR_TOKEN = "instructor-" + "x" * 20
INSTRUCTOR = {"Authorization": f"Bearer {INSTRUCTOR_TOKEN}"}
EXERCISES = default_directory()
API = "/api/v1"


def source(exercise: str, name: str = "solution.py") -> str:
    """A file of a bundled exercise (``solution.py``, ``starter.py``, ``mistakes/x.py``)."""
    return (EXERCISES / exercise / name).read_text()


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of ``token``."""
    return {"Authorization": f"Bearer {token}"}


def services_of(app: Flask) -> Services:
    """The app's parts (database, catalog, grader)."""
    return app.extensions["gdlab"]


def submit(client: FlaskClient, exercise: str, code: str, headers: dict[str, str] | None = None,
           **fields: Any) -> TestResponse:
    """POST a submission."""
    return client.post(f"{API}/submissions", json={"exercise": exercise, "code": code, **fields},
                       headers=headers or {})


def assert_error(response: TestResponse, status: int) -> dict[str, Any]:
    """``response`` is the API's JSON error with ``status``; returns its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == status
    assert body["status"] == HTTPStatus(status).phrase
    assert isinstance(body["message"], str) and body["message"].strip()
    assert isinstance(body["errors"], dict)
    for field, messages in body["errors"].items():
        assert isinstance(field, str)
        assert messages and all(isinstance(m, str) and m for m in messages)
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text
    return body


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """One runner shared by every app of the session, with every layer this machine has."""
    if not IS_ROOT:  # as tests/grading: grading runs in the full sandbox only
        pytest.skip("namespaces, the private root and per-slot user ids need root")
    with Sandbox() as shared:
        yield shared


@pytest.fixture(scope="session")
def make_app(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory,
             database_url_for: DatabaseUrlFor) -> Iterator[Callable[..., Flask]]:
    """Build an app: ``make_app(data_dir=None, **config)`` (Config's fields; default: a new
    data folder with its database on the session's backend, the test instructor token, no
    rate limit)."""
    apps: list[Flask] = []

    def make(data_dir: Path | None = None, **settings: Any) -> Flask:
        data_dir = data_dir or tmp_path_factory.mktemp("data")
        settings.setdefault("instructor_token", INSTRUCTOR_TOKEN)
        settings.setdefault("service_limits", ServiceLimits(rate_limit="off"))
        settings.setdefault("database_url", database_url_for(data_dir))
        config = Config(data_dir=data_dir, **settings)
        app = create_app(config, sandbox=sandbox)
        apps.append(app)
        BUILT_APPS.append(app)
        return app

    yield make
    for app in apps:
        services_of(app).close()  # the engine; the shared sandbox is not the app's


#: Every app ``make_app`` built in this session.
BUILT_APPS: list[Flask] = []


@pytest.fixture(autouse=True)
def _idle_connections_closed() -> Iterator[None]:
    """After each test, every app's pooled connections are closed (its engine stays usable
    and connects again when asked): the session's apps would otherwise keep one idle
    PostgreSQL connection each, and a whole run exceeds the server's max_connections."""
    yield
    for app in BUILT_APPS:
        services_of(app).db.engine.dispose()


@pytest.fixture(scope="module")
def app(make_app: Callable[..., Flask]) -> Flask:
    """An app shared by a module's tests (which must not depend on what others stored)."""
    return make_app()


@pytest.fixture(scope="module")
def client(app: Flask) -> FlaskClient:
    """A client of the module's app."""
    return app.test_client()


@pytest.fixture
def fresh_app(make_app: Callable[..., Flask]) -> Flask:
    """An app with an empty database of its own."""
    return make_app()
