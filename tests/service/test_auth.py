"""Who may do what: the instructor token, students' tokens (kept only as hashes), and
student authentication when it is required."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import inspect, select, text

from service.models import Student, Submission

from .conftest import API, INSTRUCTOR, assert_error, bearer, services_of, source, submit

SOLUTION = source("gd")

INSTRUCTOR_ONLY = [
    ("GET", f"{API}/students"),
    ("POST", f"{API}/students"),
    ("GET", f"{API}/submissions"),
    ("GET", f"{API}/gradebook"),
    ("GET", f"{API}/gradebook.csv"),
    ("POST", f"{API}/exercises/reload"),
]


def register(client, name: str) -> str:
    """Register a student; their token."""
    response = client.post(f"{API}/students", json={"name": name}, headers=INSTRUCTOR)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


@pytest.fixture(scope="module")
def student_token(client):
    return register(client, "student-one")


@pytest.mark.parametrize(("method", "path"), INSTRUCTOR_ONLY)
def test_instructor_endpoints_need_the_instructor_token(client, student_token, method, path):
    nobody = client.open(path, method=method, json={"name": "x"})
    body = assert_error(nobody, 401)
    assert nobody.headers["WWW-Authenticate"].startswith("Bearer")
    assert "instructor" in body["message"]
    wrong = client.open(path, method=method, json={"name": "x"},
                        headers=bearer("not-the-token-at-all"))
    assert_error(wrong, 401)
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(client.open(path, method=method, json={"name": "x"},
                             headers=bearer(student_token)), 403)


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "Token abc"])
def test_an_authorization_header_that_is_not_a_bearer_token_is_a_401(client, header):
    response = client.get(f"{API}/gradebook", headers={"Authorization": header})
    body = assert_error(response, 401)
    assert "Bearer" in body["message"] and response.headers["WWW-Authenticate"] == "Bearer"


def test_a_bad_token_is_refused_even_where_no_token_is_needed(client):
    assert_error(client.get(f"{API}/submissions/whatever", headers=bearer("forged")), 401)
    assert_error(submit(client, "gd", SOLUTION, headers=bearer("forged")), 401)


def test_registering_a_student_shows_the_token_once_and_keeps_only_its_hash(fresh_app):
    client = fresh_app.test_client()
    response = client.post(f"{API}/students", json={"name": "Grace Hopper"}, headers=INSTRUCTOR)
    assert response.status_code == 201
    body = response.get_json()
    token = body["token"]
    assert body["name"] == "Grace Hopper" and len(token) >= 32 and body["created_at"]
    listed = client.get(f"{API}/students", headers=INSTRUCTOR).get_json()["items"]
    assert [item["name"] for item in listed] == ["Grace Hopper"]
    assert token not in client.get(f"{API}/students", headers=INSTRUCTOR).get_data(as_text=True)
    db = services_of(fresh_app).db
    with db.session() as session:
        student = session.scalars(select(Student)).one()
        assert student.token_hash == hashlib.sha256(token.encode()).hexdigest()
        # the token itself is nowhere in the database
        for table in inspect(db.engine).get_table_names():
            for row in session.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    if isinstance(value, bytes):
                        assert token.encode() not in value
                    else:
                        assert token not in str(value), table
    # and it works
    assert submit(client, "gd", SOLUTION, headers=bearer(token)).get_json()["student"] == \
        "Grace Hopper"


def test_a_second_student_of_the_same_name_is_a_409(client):
    register(client, "twin")
    response = client.post(f"{API}/students", json={"name": "twin"}, headers=INSTRUCTOR)
    body = assert_error(response, 409)
    assert "twin" in body["message"] and "name" in body["errors"]


@pytest.mark.parametrize("request_body", [{}, {"name": ""}, {"name": "x" * 101},
                                          {"name": "<script>"}, {"name": "ok", "admin": True},
                                          {"name": 7}])
def test_an_invalid_student_is_a_422_on_the_name(client, request_body):
    body = assert_error(client.post(f"{API}/students", json=request_body, headers=INSTRUCTOR),
                        422)
    assert set(body["errors"]) <= {"name", "admin"} and body["errors"]


def test_a_student_token_files_the_submission_under_its_name(client, student_token):
    response = submit(client, "gd", SOLUTION, headers=bearer(student_token))
    assert response.status_code == 201
    assert response.get_json()["student"] == "student-one"
    same = submit(client, "gd", SOLUTION, headers=bearer(student_token), student="student-one")
    assert same.status_code == 201
    other = submit(client, "gd", SOLUTION, headers=bearer(student_token), student="someone")
    body = assert_error(other, 403)
    assert "student" in body["errors"]


# --- student authentication required ---------------------------------------------------------


@pytest.fixture(scope="module")
def required(make_app):
    """An app where every submission needs a student token, with two students."""
    app = make_app(student_auth="required")
    client = app.test_client()
    return app, client, register(client, "ann"), register(client, "ben")


def test_without_a_token_a_submission_is_a_401_and_nothing_is_kept(required):
    app, client, _, _ = required
    response = submit(client, "gd", SOLUTION, student="ann")
    body = assert_error(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer" and "token" in body["message"]
    with services_of(app).db.session() as session:
        assert session.scalars(select(Submission).where(Submission.code == SOLUTION)).all() \
            == []


def test_with_a_student_token_a_submission_is_filed_under_the_student(required):
    app, client, ann, _ = required
    response = submit(client, "gd", SOLUTION, headers=bearer(ann))
    assert response.status_code == 201
    body = response.get_json()
    assert body["student"] == "ann" and body["score"] == 100
    with services_of(app).db.session() as session:
        row = session.scalars(select(Submission).where(Submission.public_id == body["id"])).one()
        student = session.scalars(select(Student).where(Student.name == "ann")).one()
        assert row.student == "ann" and row.student_id == student.id
    assert_error(submit(client, "gd", SOLUTION, headers=bearer(ann), student="ben"), 403)


def test_a_student_sees_only_their_own_submissions(required):
    _, client, ann, ben = required
    public_id = submit(client, "gd", SOLUTION, headers=bearer(ann)).get_json()["id"]
    for suffix in ("", "/plot.svg"):
        url = f"{API}/submissions/{public_id}{suffix}"
        assert client.get(url, headers=bearer(ann)).status_code == 200
        assert client.get(url, headers=INSTRUCTOR).status_code == 200
        body = assert_error(client.get(url, headers=bearer(ben)), 404)
        assert "ann" not in body["message"]
        assert_error(client.get(url), 404)  # nor anyone without a token


def test_the_instructor_may_submit_without_a_student_token(required):
    _, client, _, _ = required
    response = submit(client, "gd", SOLUTION, headers=INSTRUCTOR, student="demo")
    assert response.status_code == 201 and response.get_json()["student"] == "demo"
