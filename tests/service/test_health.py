"""GET /health, and errors at addresses that do not exist or methods they do not take."""

from __future__ import annotations

import pytest

from grader.catalog import load_catalog
from grader.engine.runs import ENGINE_VERSION
from grader.grading import gdlab_version

from .conftest import API, assert_error


def test_health_reports_the_service_able_to_grade(client, sandbox):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["exercises"] == 15 == len(load_catalog().exercises)
    assert body["exercise_errors"] == 0
    assert body["database"] is True
    assert body["version"] == gdlab_version() and body["engine_version"] == ENGINE_VERSION
    health = body["sandbox"]
    assert health["reachable"] is True
    layers = sandbox.status()["layers"]
    assert set(health["layers_active"]) == {n for n, e in layers.items() if e["active"]}
    assert set(health["layers_active"]) | set(health["layers_missing"]) == set(layers)
    # as root every layer of the README's table is there
    assert {"net-namespace", "mount-namespace", "uid", "seccomp", "rlimits"} <= set(
        health["layers_active"])
    assert health["slots"] >= 1


def test_health_says_degraded_when_the_database_is_gone(make_app, monkeypatch):
    app = make_app()
    monkeypatch.setattr("service.api.health.reachable", lambda engine: False)
    body = app.test_client().get("/health").get_json()
    assert body["database"] is False and body["status"] == "degraded"


@pytest.mark.parametrize("path", [f"{API}/nothing-here", f"{API}/submissions/a/b/c", "/api"])
def test_an_unknown_address_is_a_json_404(client, path):
    body = assert_error(client.get(path), 404)
    assert "/api/v1" in body["message"]


@pytest.mark.parametrize(("method", "path"), [
    ("DELETE", f"{API}/exercises"),
    ("PUT", f"{API}/submissions"),
    ("POST", f"{API}/exercises/gd"),
    ("PATCH", f"{API}/reference/runs"),
])
def test_a_method_an_address_does_not_take_is_a_json_405(client, method, path):
    response = client.open(path, method=method)
    body = assert_error(response, 405)
    assert method in body["message"]
    assert "Allow" in response.headers


def test_responses_forbid_content_sniffing(client):
    assert client.get(f"{API}/exercises").headers["X-Content-Type-Options"] == "nosniff"
