"""Rate limits per client, and the largest request body."""

from __future__ import annotations

from grader.limits import ServiceLimits

from .conftest import API, INSTRUCTOR, assert_error, bearer, source


def test_the_request_past_the_rate_limit_is_a_429_with_retry_after(make_app):
    app = make_app(service_limits=ServiceLimits(rate_limit="3/minute"))
    client = app.test_client()
    paths = [f"{API}/exercises", f"{API}/exercises/gd", f"{API}/limits"]
    for path in paths:
        assert client.get(path).status_code == 200
    response = client.get(f"{API}/optimizers")
    body = assert_error(response, 429)
    assert "3 per 1 minute" in body["message"]
    assert 0 < int(response.headers["Retry-After"]) <= 60
    # the budget is the client's for the whole API, whatever the address or method
    assert_error(client.get(f"{API}/exercises"), 429)
    assert_error(client.post(f"{API}/submissions", json={}), 429)
    # /health is never limited
    for _ in range(5):
        assert client.get("/health").status_code == 200


def test_each_valid_token_has_its_own_rate_limit(make_app):
    app = make_app(service_limits=ServiceLimits(rate_limit="2/minute"))
    client = app.test_client()
    for _ in range(2):
        assert client.get(f"{API}/exercises").status_code == 200
    assert_error(client.get(f"{API}/exercises"), 429)
    # the holder of a valid token is counted apart
    assert client.get(f"{API}/students", headers=INSTRUCTOR).status_code == 200
    assert client.get(f"{API}/exercises", headers=INSTRUCTOR).status_code == 200
    assert_error(client.get(f"{API}/limits"), 429)  # and the first one is still refused
    # a made-up token buys no fresh allowance: it counts as its address
    assert_error(client.get(f"{API}/exercises", headers=bearer("made-up-token")), 429)


def test_a_body_larger_than_the_limit_is_a_413(make_app):
    app = make_app(service_limits=ServiceLimits(rate_limit="off", max_request_bytes=1000))
    client = app.test_client()
    code = source("gd") + "#" * 1200
    body = assert_error(client.post(f"{API}/submissions", json={"exercise": "gd",
                                                                "code": code}), 413)
    assert "too large" in body["message"]
    big_run = {"problem": "linear-regression", "optimizer": "sgd",
               "learning_rates": [0.1] * 200}
    assert_error(client.post(f"{API}/reference/runs", json=big_run), 413)
    # under the limit all is well
    small = client.post(f"{API}/submissions", json={"exercise": "gd", "code": source("gd")})
    assert small.status_code == 201
