"""Rate limiting, on a server of its own started with ``GDLAB_RATE_LIMIT=5/minute``.

With the default ``memory://`` storage each gunicorn worker counts apart (the README says
so), so every client here keeps to one kept-alive connection, which one worker serves;
the checks run in one test, in order, because the counters carry over.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.integration.conftest import Launch
from tests.integration.server import (
    API,
    INSTRUCTOR_TOKEN,
    SOLUTION,
    GdlabServer,
    assert_json_error,
    bearer,
    source,
)

LIMIT = 5


@pytest.fixture(scope="module")
def limited(launch: Launch) -> Iterator[GdlabServer]:
    """A server allowing 5 API requests per client and minute; stopped after the module."""
    server = launch(env={"GDLAB_RATE_LIMIT": f"{LIMIT}/minute"}, name="rate-limited")
    yield server
    server.stop()


def _limited_answer(answer: requests.Response) -> None:
    body = assert_json_error(answer, 429)
    assert "Too many requests" in body["message"]
    retry = int(answer.headers["Retry-After"])
    assert 0 < retry <= 60


def test_rate_limit(limited: GdlabServer) -> None:
    # /health is not counted
    for _ in range(3 * LIMIT):
        assert limited.get("/health").status_code == 200

    # five API requests pass, counting down
    remaining = []
    for _ in range(LIMIT):
        answer = limited.get(f"{API}/exercises")
        assert answer.status_code == 200
        assert answer.headers["X-RateLimit-Limit"] == str(LIMIT)
        remaining.append(int(answer.headers["X-RateLimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]

    # the sixth is refused, whatever it asks for, and nothing is graded or run
    _limited_answer(limited.get(f"{API}/exercises"))
    _limited_answer(limited.post(f"{API}/submissions",
                                 json={"exercise": "gd", "code": source(SOLUTION)}))
    _limited_answer(limited.post(f"{API}/reference/runs",
                                 json={"problem": "rosenbrock", "optimizer": "adam"}))

    # the service itself is fine: /health and the API description are not limited
    for _ in range(LIMIT):
        health = limited.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
    assert limited.get(f"{API}/openapi.json").status_code == 200

    # made-up tokens do not buy a fresh allowance: refused (401) or still limited (429)
    for i in range(LIMIT + 1):
        answer = limited.post(f"{API}/reference/runs",
                              json={"problem": "linear-regression", "optimizer": "sgd",
                                    "seed": i},
                              headers=bearer(f"made-up-token-{i:04d}-xxxxxxxxxxxxxxxx"))
        assert_json_error(answer, (401, 429))

    # a client with a valid token of its own has its own allowance
    instructor = requests.Session()
    try:
        for _ in range(LIMIT):
            answer = instructor.get(limited.url(f"{API}/gradebook"),
                                    headers=bearer(INSTRUCTOR_TOKEN), timeout=30)
            assert answer.status_code == 200
        _limited_answer(instructor.get(limited.url(f"{API}/gradebook"),
                                       headers=bearer(INSTRUCTOR_TOKEN), timeout=30))
    finally:
        instructor.close()

    # and the first client is still limited
    _limited_answer(limited.get(f"{API}/exercises"))
    assert limited.get("/health").status_code == 200
