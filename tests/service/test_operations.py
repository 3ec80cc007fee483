"""The operations layer (service/operations.py) on its own, outside any request: what the
API and the web pages both call, so that the two front ends cannot disagree."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import operations as ops
from service.auth import Caller, identify
from service.errors import ApiError
from service.schemas import SubmissionQuery, SubmissionRequest

from .conftest import API, INSTRUCTOR, services_of, source

LINKS = {"self": "/x"}


def _student(app: Flask, client: FlaskClient, name: str) -> tuple[Caller, str]:
    created = client.post(f"{API}/students", json={"name": name}, headers=INSTRUCTOR)
    assert created.status_code == 201
    token = created.get_json()["token"]
    with services_of(app).db.session() as session:
        return identify(session, services_of(app).instructor_hash, token), token


def test_submit_and_read_without_a_request(app: Flask) -> None:
    """No Flask request, no app context: the operations take plain arguments."""
    state = services_of(app)
    graded = ops.submit(state, Caller(), SubmissionRequest("gd", source("gd"), "ada"))
    assert graded.status == "graded" and graded.score == 100
    seen = ops.visible_submission(state, Caller(), graded.public_id)
    view = ops.submission_view(state, Caller(), seen, LINKS)
    assert view["score"] == 100 and "instructor" not in view
    assert "instructor" in ops.submission_view(state, Caller("instructor"), seen, LINKS)


def test_one_visibility_rule_for_the_api_and_the_pages(app: Flask, client: FlaskClient) -> None:
    state = services_of(app)
    (alice, _), (bob, bob_token) = (_student(app, client, "alice-ops"),
                                    _student(app, client, "bob-ops"))
    mine = ops.submit(state, alice, SubmissionRequest("gd", source("gd")))
    assert mine.student == "alice-ops"
    with pytest.raises(ApiError) as refused:
        ops.visible_submission(state, bob, mine.public_id)
    assert refused.value.status == 404
    # the API and the web page answer the same: nothing bob (or anyone anonymous) can see
    assert client.get(f"{API}/submissions/{mine.public_id}",
                      headers={"Authorization": f"Bearer {bob_token}"}).status_code == 404
    assert client.get(f"{API}/submissions/{mine.public_id}").status_code == 404
    assert client.get(f"/submissions/{mine.public_id}").status_code == 404
    assert client.get(f"{API}/submissions/{mine.public_id}",
                      headers=INSTRUCTOR).status_code == 200
    assert ops.may_see_code(alice, mine) and not ops.may_see_code(Caller(), mine)
    assert ops.may_see_code(Caller(), mine, made_here=True)


def test_a_refused_submission_is_the_one_error(app: Flask) -> None:
    state = services_of(app)
    with pytest.raises(ApiError) as unknown:
        ops.submit(state, Caller(), SubmissionRequest("no-such", "x = 1"))
    assert unknown.value.status == 422 and "exercise" in unknown.value.errors
    with pytest.raises(ApiError) as name:
        ops.submission_request({"exercise": "gd", "code": "", "student": "<b>"})
    assert name.value.status == 422 and list(name.value.errors) == ["student"]


def test_the_instructor_operations_refuse_others(app: Flask) -> None:
    state = services_of(app)
    for operation in (ops.gradebook, ops.gradebook_csv, ops.queue_stats):
        with pytest.raises(ApiError) as refused:
            operation(state, Caller())
        assert refused.value.status == 401
    with pytest.raises(ApiError):
        ops.list_submissions(state, Caller("student", "s", 1), SubmissionQuery())
    page = ops.list_submissions(state, Caller("instructor"), SubmissionQuery(page_size=5000))
    assert page.page_size == state.config.service_limits.max_page_size


@pytest.mark.parametrize(("hyper", "expected"), [
    ("momentum=0.9, nesterov=true", {"momentum": 0.9, "nesterov": True}),
    ("momentum=0.9\ndampening=0", {"momentum": 0.9, "dampening": 0}),
    ("", {}),
])
def test_the_explorer_reads_settings_as_the_cli_does(hyper: str, expected: dict[str, Any]) -> None:
    from service.cli import parse_assignment

    form = {"problem": "quadratic", "optimizer": "sgd", "hyper": hyper,
            "learning_rates": "0.01, 0.1", "epochs": "20"}
    request = ops.reference_request_from_form(form)
    assert request["hyper"] == expected
    assert dict(parse_assignment(item) for item in hyper.replace("\n", ",").split(",")
                if item.strip()) == expected
    assert request["learning_rates"] == [0.01, 0.1] and request["epochs"] == 20


@pytest.mark.parametrize(("field", "value", "blamed"), [
    ("hyper", "momentum=[1]", "hyper.momentum"),
    ("hyper", "momentum", "hyper"),
    ("learning_rates", "fast", "learning_rates"),
    ("learning_rates", "nan", "learning_rates.0"),
    ("epochs", "0", "epochs"),
])
def test_the_explorer_form_goes_through_the_api_schema(field: str, value: str,
                                                         blamed: str) -> None:
    form = {"problem": "quadratic", "optimizer": "sgd", "hyper": "",
            "learning_rates": "0.1", "epochs": "20", field: value}
    with pytest.raises(ApiError) as refused:
        ops.reference_request_from_form(form)
    assert refused.value.status == 422 and blamed in refused.value.errors
