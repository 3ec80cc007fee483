"""A PostgreSQL server that goes away: requests are answered 503 with Retry-After and a
sentence, nothing of them is kept, /health names the database, and all is well again
once the server is back. The server is a real one of the test's own, stopped mid-test."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from grader.limits import ServiceLimits
from grader.sandbox import Sandbox
from service.api.health import HEALTH_MAX_AGE
from service.app import create_app
from service.config import Config
from service.errors import DATABASE_RETRY_AFTER
from tests.databases import PrivateCluster, postgres_program
from tests.integration.server import free_port

from .conftest import API, INSTRUCTOR, INSTRUCTOR_TOKEN, assert_error, services_of, source, submit


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    """A running PostgreSQL server of this test's own, in a folder of its own (outside
    pytest's root-only temporary tree: the server runs as the ``postgres`` user)."""
    initdb, pg_ctl = postgres_program("initdb"), postgres_program("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.fail("initdb and pg_ctl (PostgreSQL's server programs) are not installed")
    folder = Path(tempfile.mkdtemp(prefix="gdlab-pg-"))
    server = PrivateCluster(folder, free_port(), initdb, pg_ctl).create()
    server.start()
    try:
        yield server
    finally:
        if server.running():
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def app_on(cluster: PrivateCluster, sandbox: Sandbox, tmp_path: Path) -> Iterator[Flask]:
    """An app whose database is the private server."""
    app = create_app(Config(data_dir=tmp_path / "data", database_url=cluster.url,
                            instructor_token=INSTRUCTOR_TOKEN,
                            service_limits=ServiceLimits(rate_limit="off")), sandbox=sandbox)
    yield app
    services_of(app).close()


def _unavailable(response) -> None:  # type: ignore[no-untyped-def]
    body = assert_error(response, 503)
    assert "database" in body["message"] and "try again" in body["message"]
    assert response.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)


def test_a_database_gone_away_is_a_503_and_nothing_is_half_written(cluster, app_on):
    client = app_on.test_client()
    first = submit(client, "gd", source("gd"))
    assert first.status_code == 201, first.get_data(as_text=True)
    first_id = first.get_json()["id"]

    cluster.stop()
    refused = submit(client, "gd", source("gd"))
    _unavailable(refused)
    assert "X-Submission-Id" not in refused.headers  # no record was made
    _unavailable(client.get(f"{API}/submissions/{first_id}"))
    _unavailable(client.get(f"{API}/submissions", headers=INSTRUCTOR))
    health = client.get("/health")
    assert health.status_code == 200
    body = health.get_json()
    assert body["status"] == "degraded" and body["down"] == ["database"]
    assert body["database"] is False and body["sandbox"]["reachable"] is True

    cluster.start()
    again = submit(client, "gd", source("gd"))
    assert again.status_code == 201, again.get_data(as_text=True)
    listing = client.get(f"{API}/submissions", headers=INSTRUCTOR).get_json()
    assert listing["total"] == 2
    assert {item["id"] for item in listing["items"]} == {first_id, again.get_json()["id"]}
    assert all(item["status"] == "graded" for item in listing["items"])
    # /health answers from states at most HEALTH_MAX_AGE old: ok again once it looks again
    deadline = time.monotonic() + 10 * HEALTH_MAX_AGE
    body = client.get("/health").get_json()
    while body["status"] != "ok" and time.monotonic() < deadline:
        time.sleep(HEALTH_MAX_AGE / 4)
        body = client.get("/health").get_json()
    assert body["status"] == "ok" and body["down"] == [] and body["database"] is True


def test_a_web_page_says_so_too(cluster, app_on):
    client = app_on.test_client()
    kept = submit(client, "gd", source("gd"))
    assert kept.status_code == 201
    cluster.stop()
    page = client.get(f"/submissions/{kept.get_json()['id']}", headers={"Accept": "text/html"})
    assert page.status_code == 503, page.get_data(as_text=True)[:300]
    assert page.mimetype == "text/html"
    assert "database is not answering" in page.get_data(as_text=True)
    assert page.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
