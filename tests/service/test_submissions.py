"""POST /api/v1/submissions and GET /api/v1/submissions/{id}: grading, what is kept, and
every way a request can be wrong answered as a JSON 4xx (never a 500)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from grader.catalog import load_catalog
from service import submission_store as store
from service.cli import main as cli
from service.models import Submission

from .conftest import API, INSTRUCTOR, assert_error, services_of, source, submit

GD = load_catalog().get("gd")
SOLUTION = source("gd")
SYNTAX_ERROR = "def update(params, grad, lr, state, **hyper)\n    return params\n"
#: What a submission's record adds to the grade's JSON.
RECORD_FIELDS = {"id", "status", "student", "created_at", "graded_at", "failure", "timings",
                 "links", "position", "attempts"}


def stored(app, public_id: str) -> Submission:
    """The submission's row."""
    with services_of(app).db.session() as session:
        return session.scalars(
            select(Submission).where(Submission.public_id == public_id)).one()


@pytest.fixture(scope="module")
def graded(client):
    """The course GD solution, submitted once for the module."""
    response = submit(client, "gd", SOLUTION, student="ada")
    assert response.status_code == 201, response.get_json()
    return response


def test_a_correct_solution_scores_100(graded, app):
    body = graded.get_json()
    assert body["score"] == 100
    assert body["status"] == "graded" and body["failure"] is None
    assert body["exercise"] == "gd" and body["exercise_version"] == GD.version
    assert body["student"] == "ada"
    assert body["diagnosis"] == []
    assert all(run["verdict"] == "match" and run["score"] == 100 for run in body["runs"])
    assert body["hidden"]["runs"] == sum(len(c.learning_rates) for c in GD.cases
                                         if not c.visible)
    assert body["hidden"]["score"] == 100
    assert body["sandbox"]["verdict"] == "ok"
    public_id = body["id"]
    assert graded.headers["Location"] == f"{API}/submissions/{public_id}"
    assert body["links"] == {"self": f"{API}/submissions/{public_id}",
                             "plot_png": f"{API}/submissions/{public_id}/plot.png",
                             "plot_svg": f"{API}/submissions/{public_id}/plot.svg",
                             "exercise": f"{API}/exercises/gd"}
    row = stored(app, public_id)
    assert row.status == "graded" and row.score == 100 and row.code == SOLUTION
    assert row.job is not None and json.loads(row.result)["score"] == 100
    assert row.graded_at >= row.created_at


def test_reading_a_submission_returns_what_posting_it_did(graded, client):
    again = client.get(graded.headers["Location"])
    assert again.status_code == 200
    assert again.get_json() == graded.get_json()


def test_only_the_instructors_see_the_hidden_runs_output_and_seeds(client, app):
    code = ("def update(params, grad, lr, state, **hyper):\n"
            "    print('AT', params.tolist(), 'LR', lr)\n"
            "    return params - lr * grad\n")
    posted = submit(client, "gd", code)
    assert posted.status_code == 201
    body = posted.get_json()
    assert "instructor" not in body
    assert "LR 0.01" in body["stdout"] and "LR 0.05" not in body["stdout"]
    assert list(body["replay"]["cases"]) == ["course"]
    location = posted.headers["Location"]
    assert client.get(location).get_json() == body  # read again without a token
    full = client.get(location, headers=INSTRUCTOR).get_json()
    assert {name: full[name] for name in body} == body
    hidden_job = full["instructor"]["hidden_job"]
    assert hidden_job["verdict"] == "ok" and "LR 0.05" in hidden_job["stdout"]
    assert full["instructor"]["replay"]["cases"]["regression-other-data"]["seed"] == 7
    row = stored(app, body["id"])
    assert "LR 0.05" not in row.result and "regression-other-data" not in row.result


def test_the_answer_has_the_fields_of_gdlab_grade_json(graded, tmp_path, capsys):
    path = tmp_path / "solution.py"
    path.write_text(SOLUTION)
    assert cli(["grade", str(path), "--exercise", "gd", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    body = graded.get_json()
    assert set(body) == set(printed) | RECORD_FIELDS
    # the same grading: every field of the command's answer is the service's
    assert {name: body[name] for name in printed} == printed


@pytest.mark.parametrize("mistake", GD.mistakes, ids=lambda m: m.file)
def test_a_known_mistake_scores_below_100_with_its_diagnosis(client, mistake):
    response = submit(client, "gd", source("gd", f"mistakes/{mistake.file}"))
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "graded"
    assert body["score"] <= mistake.max_score < 100
    assert body["diagnosis"][0]["id"] == mistake.diagnosis
    assert body["diagnosis"][0]["message"]
    assert any(run["verdict"] != "match" for run in body["runs"])


def test_code_that_raises_is_graded_zero_with_the_students_line(client):
    code = "def update(params, grad, lr, state, **hyper):\n    raise ValueError('oops')\n"
    body = submit(client, "gd", code).get_json()
    assert body["status"] == "graded" and body["score"] == 0
    assert body["error"]["type"] == "ValueError" and body["error"]["line"] == 2


def test_a_syntax_error_is_a_422_and_kept_as_rejected(client, app):
    response = submit(client, "gd", SYNTAX_ERROR, student="bob")
    body = assert_error(response, 422)
    assert "line 1" in body["errors"]["code"][0].lower()
    public_id = response.headers["X-Submission-Id"]
    row = stored(app, public_id)
    assert row.status == "rejected" and row.score is None and row.job is None
    assert row.code == SYNTAX_ERROR and row.student == "bob" and "line 1" in row.error
    shown = client.get(f"{API}/submissions/{public_id}").get_json()
    assert shown["status"] == "rejected" and shown["score"] is None
    assert "line 1" in shown["failure"] and "runs" not in shown


def test_an_unknown_exercise_is_a_422_on_the_exercise_field(client, app):
    with services_of(app).db.session() as session:
        before = len(session.scalars(select(Submission)).all())
    body = assert_error(submit(client, "no-such-exercise", SOLUTION), 422)
    assert list(body["errors"]) == ["exercise"]
    assert "no-such-exercise" in body["message"] and "gd" in body["message"]
    with services_of(app).db.session() as session:
        assert len(session.scalars(select(Submission)).all()) == before


JSON = "application/json"
SURROGATE = (b'{"exercise": "gd", "code": "def update(params, grad, lr, state, **hyper):'
             b'\\n    return params  # \\ud800\\n"}')


@pytest.mark.parametrize(("request_args", "status", "fields", "words"), [
    pytest.param({"json": {}}, 422, {"exercise", "code"}, "", id="empty-object"),
    pytest.param({"data": b""}, 422, {"exercise", "code"}, "", id="no-body"),
    pytest.param({"json": {"exercise": "gd"}}, 422, {"code"}, "Missing", id="no-code"),
    pytest.param({"json": {"code": SOLUTION}}, 422, {"exercise"}, "Missing", id="no-exercise"),
    pytest.param({"json": {"exercise": "gd", "code": 5}}, 422, {"code"}, "string",
                 id="code-a-number"),
    pytest.param({"json": {"exercise": "gd", "code": None}}, 422, {"code"}, "null",
                 id="code-null"),
    pytest.param({"json": {"exercise": ["gd"], "code": SOLUTION}}, 422, {"exercise"}, "string",
                 id="exercise-a-list"),
    pytest.param({"json": {"exercise": "gd", "code": SOLUTION, "language": "python"}}, 422,
                 {"language"}, "Unknown field", id="unknown-field"),
    pytest.param({"json": {"exercise": "gd", "code": SOLUTION, "student": ""}}, 422,
                 {"student"}, "letters", id="empty-student"),
    pytest.param({"json": {"exercise": "../gd", "code": SOLUTION}}, 422, {"exercise"},
                 "Exercise ids", id="exercise-path"),
    pytest.param({"json": [{"exercise": "gd", "code": SOLUTION}]}, 422, {"body"},
                 "Invalid input type", id="json-array"),
    pytest.param({"json": "gd"}, 422, {"body"}, "Invalid input type", id="json-string"),
    pytest.param({"data": b'{"exercise": "gd", "code": ', "content_type": JSON}, 400, set(),
                 "not valid JSON", id="malformed-json"),
    pytest.param({"data": b"exercise=gd&code=x",
                  "content_type": "application/x-www-form-urlencoded"},
                 400, set(), "not valid JSON", id="form-data"),
    pytest.param({"data": b'{"exercise": "gd", "code": "\xff\xfe"}', "content_type": JSON}, 400,
                 set(), "not UTF-8", id="not-utf-8"),
    pytest.param({"data": b'{"exercise": "gd", "code": "x", "student": NaN}',
                  "content_type": JSON}, 400, set(), "NaN", id="nan"),
    pytest.param({"data": b'{"exercise": "gd", "code": Infinity}', "content_type": JSON}, 400,
                 set(), "Infinity", id="infinity"),
    pytest.param({"data": b'{"exercise": "gd", "code": -Infinity}', "content_type": JSON}, 400,
                 set(), "Infinity", id="minus-infinity"),
    pytest.param({"data": b'{"exercise": "gd", "code": 1e400}', "content_type": JSON}, 400,
                 set(), "1e400", id="1e400"),
    pytest.param({"data": b"[" * 50_000 + b"]" * 50_000, "content_type": JSON}, 400, set(),
                 "not valid JSON", id="deeply-nested"),
    pytest.param({"json": {"exercise": "gd", "code": "#" * (64 * 1024 + 1)}}, 422, {"code"},
                 "65,536 bytes", id="code-too-long"),
    pytest.param({"data": SURROGATE, "content_type": JSON}, 422, {"code"}, "surrogate",
                 id="lone-surrogate"),
    pytest.param({"json": {"exercise": "gd", "code": "x = 1\n"}}, 422, {"code"}, "update",
                 id="no-entry-point"),
    pytest.param({"json": {"exercise": "gd", "code": "def update(p, g, lr, s, **h):\n"
                                                    "    return p\x00\n"}},
                 422, {"code"}, "NUL", id="nul-character"),
])
def test_a_bad_request_is_a_json_4xx_naming_the_problem(client, request_args, status, fields,
                                                        words):
    body = assert_error(client.post(f"{API}/submissions", **request_args), status)
    assert set(body["errors"]) == fields
    said = [body["message"], *(m for messages in body["errors"].values() for m in messages)]
    assert words in " ".join(said)


def test_code_at_the_size_limit_is_accepted(client):
    code = SOLUTION + "#" * (64 * 1024 - len(SOLUTION.encode()))
    assert len(code.encode()) == 64 * 1024
    assert submit(client, "gd", code).get_json()["score"] == 100


def test_an_unknown_submission_is_a_json_404(client):
    body = assert_error(client.get(f"{API}/submissions/AAAAAAAAAAAAAAAA"), 404)
    assert "AAAAAAAAAAAAAAAA" in body["message"]


# --- failures --------------------------------------------------------------------------------


def test_a_crash_while_grading_is_a_500_and_the_record_says_failed(make_app, monkeypatch):
    app = make_app()
    secret = "grader exploded at 0xdeadbeef"

    def explode(exercise, code):
        raise RuntimeError(secret)

    monkeypatch.setattr(services_of(app).grader, "submit", explode)
    response = submit(app.test_client(), "gd", SOLUTION, student="carl")
    body = assert_error(response, 500)
    assert secret not in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)
    assert body["errors"] == {}
    with services_of(app).db.session() as session:
        rows = session.scalars(select(Submission)).all()
    assert len(rows) == 1
    assert rows[0].status == "failed" and rows[0].student == "carl"
    assert rows[0].code == SOLUTION and rows[0].graded_at is not None
    assert secret not in rows[0].error


def test_a_sandbox_failure_is_a_503_and_the_record_says_failed(make_app, monkeypatch):
    from grader.sandbox import SandboxUnavailableError

    app = make_app()

    def unavailable(exercise, code):
        raise SandboxUnavailableError("the runner is gone")

    monkeypatch.setattr(services_of(app).grader, "submit", unavailable)
    response = submit(app.test_client(), "gd", SOLUTION)
    assert_error(response, 503)
    assert response.headers["Retry-After"].isdigit()
    row = stored(app, response.headers["X-Submission-Id"])
    assert row.status == "failed" and "sandbox" in row.error


def test_a_busy_sandbox_is_a_503_with_retry_after(make_app, monkeypatch):
    from grader.sandbox import SandboxBusyError

    app = make_app()

    def busy(exercise, code):
        raise SandboxBusyError("busy", retry_after=7)

    monkeypatch.setattr(services_of(app).grader, "submit", busy)
    response = submit(app.test_client(), "gd", SOLUTION)
    assert_error(response, 503)
    assert response.headers["Retry-After"] == "7"
    assert stored(app, response.headers["X-Submission-Id"]).status == "failed"


def _left_grading(app, age: float) -> str:
    """A submission left 'grading' by a worker that died ``age`` seconds ago."""
    created = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age)).replace(tzinfo=None)
    row = Submission(public_id=store.new_public_id(), exercise="gd", exercise_version=1,
                     code=SOLUTION, status="grading", created_at=created)
    with services_of(app).db.session() as session:
        session.add(row)
    return row.public_id


def test_a_submission_left_grading_too_long_is_reported_and_stored_as_failed(fresh_app):
    client = fresh_app.test_client()
    lost = _left_grading(fresh_app, store.STALE_AFTER + 60)
    recent = _left_grading(fresh_app, 1)
    body = client.get(f"{API}/submissions/{lost}").get_json()
    assert body["status"] == "failed" and "resubmit" in body["failure"]
    assert stored(fresh_app, lost).status == "failed"
    # one still within any job's time is still grading
    assert client.get(f"{API}/submissions/{recent}").get_json()["status"] == "grading"
    assert stored(fresh_app, recent).status == "grading"


def test_the_instructors_listing_marks_long_lost_submissions_failed(fresh_app):
    client = fresh_app.test_client()
    lost = _left_grading(fresh_app, store.STALE_AFTER + 60)
    recent = _left_grading(fresh_app, 1)
    listed = client.get(f"{API}/submissions", headers=INSTRUCTOR).get_json()["items"]
    status = {row["id"]: row["status"] for row in listed}
    assert status[lost] == "failed" and status[recent] == "grading"
    assert stored(fresh_app, lost).status == "failed"


def test_a_result_stored_with_a_lone_surrogate_is_still_readable(fresh_app):
    """Results kept before job text was cleaned at the boundary may hold a lone surrogate,
    which no response can encode: the API and the page repair it when they read it."""
    client = fresh_app.test_client()
    created = submit(client, "gd", source("gd"))
    assert created.status_code == 201
    public_id = created.get_json()["id"]
    db = services_of(fresh_app).db
    with db.session() as session:
        stored = session.scalars(select(Submission).where(
            Submission.public_id == public_id)).one()
        result = json.loads(stored.result)
        result["stdout"] = "before \ud800 after"
        stored.result = json.dumps(result)
    answer = client.get(f"{API}/submissions/{public_id}")
    assert answer.status_code == 200
    assert answer.get_json()["stdout"] == "before \ufffd after"
    page = client.get(f"/submissions/{public_id}")
    assert page.status_code == 200
    assert "before \ufffd after" in page.get_data(as_text=True)
