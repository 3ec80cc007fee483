"""Who may do what: instructor endpoints, tokens, and whose submission is whose."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.server import (
    API,
    INSTRUCTOR_TOKEN,
    SOLUTION,
    GdlabServer,
    assert_json_error,
    bearer,
    graded,
    source,
    submit,
)

#: Every endpoint only instructors may use, with a body where it takes one.
INSTRUCTOR_ONLY = [
    ("GET", f"{API}/students", None),
    ("POST", f"{API}/students", {"name": "mallory"}),
    ("GET", f"{API}/submissions", None),
    ("GET", f"{API}/gradebook", None),
    ("GET", f"{API}/gradebook.csv", None),
    ("POST", f"{API}/exercises/reload", None),
]
ENDPOINT_IDS = [f"{method} {path}" for method, path, _ in INSTRUCTOR_ONLY]


def _student(server: GdlabServer, instructor: dict[str, str], prefix: str) -> tuple[str, str]:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    answer = server.post(f"{API}/students", json={"name": name}, headers=instructor)
    assert answer.status_code == 201, answer.text
    return name, answer.json()["token"]


@pytest.fixture(scope="module")
def alice(server: GdlabServer, instructor: dict[str, str]) -> tuple[str, str]:
    """A registered student: name and token."""
    return _student(server, instructor, "alice")


@pytest.fixture(scope="module")
def bob(server: GdlabServer, instructor: dict[str, str]) -> tuple[str, str]:
    """Another registered student: name and token."""
    return _student(server, instructor, "bob")


def _call(server: GdlabServer, method: str, path: str, body: dict | None,
          headers: dict[str, str]):
    return server.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), INSTRUCTOR_ONLY, ids=ENDPOINT_IDS)
def test_without_a_token_is_401(server: GdlabServer, method: str, path: str,
                                body: dict | None) -> None:
    answer = _call(server, method, path, body, {})
    assert_json_error(answer, 401)
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "body"), INSTRUCTOR_ONLY, ids=ENDPOINT_IDS)
def test_with_a_student_token_is_403(server: GdlabServer, alice: tuple[str, str], method: str,
                                     path: str, body: dict | None) -> None:
    assert_json_error(_call(server, method, path, body, bearer(alice[1])), 403)


@pytest.mark.parametrize(("method", "path", "body"), INSTRUCTOR_ONLY, ids=ENDPOINT_IDS)
@pytest.mark.parametrize("token", [
    "not-the-instructor-token-at-all!",
    INSTRUCTOR_TOKEN[:-1],             # one character short
    INSTRUCTOR_TOKEN + "x",            # one too many
    INSTRUCTOR_TOKEN.upper(),          # tokens are case-sensitive
], ids=["other", "short", "long", "upper"])
def test_with_a_wrong_token_is_401(server: GdlabServer, method: str, path: str,
                                   body: dict | None, token: str) -> None:
    answer = _call(server, method, path, body, bearer(token))
    assert_json_error(answer, 401)
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", [
    INSTRUCTOR_TOKEN,                        # no scheme
    f"Basic {INSTRUCTOR_TOKEN}",             # another scheme
    f"Token {INSTRUCTOR_TOKEN}",
    "Bearer",                                # no token
    "Bearer    ",
    "",
], ids=["bare", "basic", "token-scheme", "bearer-only", "bearer-blank", "empty"])
def test_malformed_authorization_header_is_401(server: GdlabServer, header: str) -> None:
    answer = server.get(f"{API}/gradebook", headers={"Authorization": header})
    body = assert_json_error(answer, 401)
    assert "Bearer" in body["message"]


def test_the_instructor_token_works(server: GdlabServer, instructor: dict[str, str]) -> None:
    for method, path, _ in INSTRUCTOR_ONLY:
        if method == "GET":
            assert server.get(path, headers=instructor).status_code == 200, path
    # the scheme is case-insensitive, as HTTP says
    answer = server.get(f"{API}/gradebook",
                        headers={"Authorization": f"bearer {INSTRUCTOR_TOKEN}"})
    assert answer.status_code == 200


def test_a_wrong_token_cannot_submit(server: GdlabServer) -> None:
    answer = submit(server, source(SOLUTION), headers=bearer("made-up-token-made-up-token-0000"))
    assert_json_error(answer, 401)


def test_a_student_cannot_see_another_students_submission(
        server: GdlabServer, instructor: dict[str, str], alice: tuple[str, str],
        bob: tuple[str, str]) -> None:
    mine = graded(submit(server, source(SOLUTION), headers=bearer(alice[1])))
    assert mine["student"] == alice[0]
    links = mine["links"]
    # her own token, and the instructors', see it
    assert server.get(links["self"], headers=bearer(alice[1])).status_code == 200
    assert server.get(links["self"], headers=instructor).status_code == 200
    # bob does not, nor anyone without a token: the same 404 as for no such submission
    for headers in (bearer(bob[1]), {}):
        for link in (links["self"], links["plot_png"], links["plot_svg"]):
            body = assert_json_error(server.get(link, headers=headers), 404)
            assert alice[0] not in body["message"]
    # and her name does not leak through the answer to a made-up id either
    unknown = assert_json_error(server.get(f"{API}/submissions/0000000000000000",
                                           headers=bearer(bob[1])), 404)
    assert unknown["message"].replace("0000000000000000", mine["id"]) == \
        assert_json_error(server.get(links["self"], headers=bearer(bob[1])), 404)["message"]


def test_instructor_can_see_every_submission(server: GdlabServer, instructor: dict[str, str],
                                             bob: tuple[str, str]) -> None:
    his = graded(submit(server, source(SOLUTION), headers=bearer(bob[1])))
    answer = server.get(f"{API}/submissions", params={"student": bob[0]}, headers=instructor)
    assert his["id"] in [item["id"] for item in answer.json()["items"]]
    plot = server.get(his["links"]["plot_svg"], headers=instructor)
    assert plot.status_code == 200
