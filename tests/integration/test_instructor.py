"""An instructor's way: students and their tokens, the submissions, the gradebook."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

import pytest

from tests.integration.server import (
    API,
    ASCENT,
    FORGOT_LR,
    SOLUTION,
    GdlabServer,
    assert_json_error,
    bearer,
    graded,
    source,
    submit,
)


def new_name(prefix: str) -> str:
    """A student name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def register(server: GdlabServer, instructor: dict[str, str], name: str) -> str:
    """Register ``name``; returns their token."""
    answer = server.post(f"{API}/students", json={"name": name}, headers=instructor)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["name"] == name
    assert isinstance(body["token"], str) and len(body["token"]) >= 32
    return body["token"]


@pytest.fixture(scope="module")
def grace(server: GdlabServer, instructor: dict[str, str]) -> dict:
    """A registered student with three submissions to gd, oldest first: the solution,
    the forgotten learning rate, the sign mistake; all made with her token."""
    name = new_name("grace")
    token = register(server, instructor, name)
    results = [graded(submit(server, source(path), headers=bearer(token)))
               for path in (SOLUTION, FORGOT_LR, ASCENT)]
    return {"name": name, "token": token, "results": results}


def test_a_token_is_shown_once(server: GdlabServer, instructor: dict[str, str]) -> None:
    name = new_name("alan")
    token = register(server, instructor, name)
    listing = server.get(f"{API}/students", headers=instructor)
    assert listing.status_code == 200
    rows = [row for row in listing.json()["items"] if row["name"] == name]
    assert len(rows) == 1
    assert set(rows[0]) == {"name", "created_at"}
    assert token not in listing.text
    # the same name again is a conflict, and issues no second token
    again = server.post(f"{API}/students", json={"name": name}, headers=instructor)
    body = assert_json_error(again, 409)
    assert "name" in body["errors"]
    assert token not in again.text


@pytest.mark.parametrize("name", ["", " leading-space", "x" * 101, "semi;colon", "<b>"])
def test_bad_student_names(server: GdlabServer, instructor: dict[str, str], name: str) -> None:
    answer = server.post(f"{API}/students", json={"name": name}, headers=instructor)
    body = assert_json_error(answer, 422)
    assert "name" in body["errors"]


def test_submission_with_a_token_is_filed_under_the_students_name(grace: dict) -> None:
    scores = [result["score"] for result in grace["results"]]
    assert scores[0] == 100 and scores[1] < 100 and scores[2] == 0
    assert all(result["student"] == grace["name"] for result in grace["results"])


def test_a_student_cannot_submit_under_another_name(server: GdlabServer, grace: dict) -> None:
    answer = submit(server, source(SOLUTION), headers=bearer(grace["token"]),
                    student="somebody-else")
    body = assert_json_error(answer, 403)
    assert "student" in body["errors"]


def test_the_student_reads_her_own_submission(server: GdlabServer, grace: dict) -> None:
    first = grace["results"][0]
    answer = server.get(first["links"]["self"], headers=bearer(grace["token"]))
    assert answer.status_code == 200
    assert answer.json()["score"] == 100 and answer.json()["student"] == grace["name"]
    plot = server.get(first["links"]["plot_png"], headers=bearer(grace["token"]))
    assert plot.status_code == 200 and plot.headers["Content-Type"] == "image/png"


def _ids(server: GdlabServer, instructor: dict[str, str], **query: object) -> tuple[list, dict]:
    answer = server.get(f"{API}/submissions", params=query, headers=instructor)
    assert answer.status_code == 200, answer.text
    page = answer.json()
    return [item["id"] for item in page["items"]], page


def test_listing_filters(server: GdlabServer, instructor: dict[str, str], grace: dict) -> None:
    ids = [result["id"] for result in grace["results"]]
    newest_first = ids[::-1]
    listed, page = _ids(server, instructor, student=grace["name"])
    assert listed == newest_first and page["total"] == 3
    row = page["items"][0]
    assert row["student"] == grace["name"] and row["exercise"] == "gd"
    assert row["status"] == "graded" and row["score"] == grace["results"][2]["score"]
    assert row["links"]["self"] == f"{API}/submissions/{row['id']}"
    assert "code" not in row

    assert _ids(server, instructor, student=grace["name"], exercise="gd")[0] == newest_first
    assert _ids(server, instructor, student=grace["name"], exercise="adam")[1]["total"] == 0
    assert _ids(server, instructor, student=grace["name"], status="graded")[0] == newest_first
    assert _ids(server, instructor, student=grace["name"], status="rejected")[1]["total"] == 0
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    assert _ids(server, instructor, student=grace["name"], since=future)[1]["total"] == 0
    assert _ids(server, instructor, student=grace["name"], since=past)[1]["total"] == 3
    assert _ids(server, instructor, student=grace["name"], until=past)[1]["total"] == 0
    # everybody's: at least hers, all of gd, newest first
    everything, page = _ids(server, instructor, exercise="gd", page_size=200)
    assert set(ids) <= set(everything) and page["total"] >= 3
    stamps = [item["created_at"] for item in page["items"]]
    assert stamps == sorted(stamps, reverse=True)


def test_listing_pages(server: GdlabServer, instructor: dict[str, str], grace: dict) -> None:
    newest_first = [result["id"] for result in grace["results"]][::-1]
    first, page = _ids(server, instructor, student=grace["name"], page_size=2, page=1)
    assert first == newest_first[:2]
    assert (page["page"], page["page_size"], page["total"]) == (1, 2, 3)
    second, page = _ids(server, instructor, student=grace["name"], page_size=2, page=2)
    assert second == newest_first[2:]
    assert page["page"] == 2 and page["total"] == 3
    beyond, page = _ids(server, instructor, student=grace["name"], page_size=2, page=3)
    assert beyond == [] and page["total"] == 3
    # a page larger than the server allows is cut to its maximum
    _, page = _ids(server, instructor, student=grace["name"], page_size=1000)
    assert page["page_size"] == 200


@pytest.mark.parametrize("query", [
    {"page": 0}, {"page_size": 0}, {"page_size": 1001}, {"page": "two"},
    {"status": "lost"}, {"since": "yesterday"}, {"exercise": "Not An Id"}, {"colour": "red"},
])
def test_bad_listing_queries(server: GdlabServer, instructor: dict[str, str],
                             query: dict) -> None:
    answer = server.get(f"{API}/submissions", params=query, headers=instructor)
    body = assert_json_error(answer, 422)
    assert body["errors"], body


def test_gradebook(server: GdlabServer, instructor: dict[str, str], grace: dict) -> None:
    answer = server.get(f"{API}/gradebook", headers=instructor)
    assert answer.status_code == 200
    rows = [row for row in answer.json()["items"] if row["student"] == grace["name"]]
    assert len(rows) == 1
    (row,) = rows
    last = grace["results"][-1]
    assert row["exercise"] == "gd"
    assert row["best"] == 100
    assert row["latest"] == last["score"] < 100
    assert row["submissions"] == 3
    assert row["last_submitted"].startswith(last["created_at"][:19])


def test_gradebook_csv(server: GdlabServer, instructor: dict[str, str], grace: dict) -> None:
    answer = server.get(f"{API}/gradebook.csv", headers=instructor)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in answer.headers["Content-Disposition"]
    reader = csv.DictReader(io.StringIO(answer.text))
    assert reader.fieldnames == ["student", "exercise", "best", "latest", "submissions",
                                 "last_submitted"]
    rows = [row for row in reader if row["student"] == grace["name"]]
    assert len(rows) == 1
    (row,) = rows
    assert row["exercise"] == "gd"
    assert float(row["best"]) == 100
    assert float(row["latest"]) == grace["results"][-1]["score"]
    assert int(row["submissions"]) == 3
    stamp = dt.datetime.fromisoformat(row["last_submitted"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) < 3600
    # the JSON gradebook and the CSV one agree
    json_rows = server.get(f"{API}/gradebook", headers=instructor).json()["items"]
    assert len(json_rows) == len(list(csv.DictReader(io.StringIO(answer.text))))


def test_anonymous_submissions_stay_out_of_the_gradebook(
        server: GdlabServer, instructor: dict[str, str]) -> None:
    graded(submit(server, source(SOLUTION)))
    rows = server.get(f"{API}/gradebook", headers=instructor).json()["items"]
    assert all(row["student"] for row in rows)


def test_reload_exercises(server: GdlabServer, instructor: dict[str, str]) -> None:
    before = server.get(f"{API}/exercises").json()["items"]
    answer = server.post(f"{API}/exercises/reload", headers=instructor)
    assert answer.status_code == 200
    assert answer.json() == {"exercises": len(before), "errors": []}
    assert server.get(f"{API}/exercises").json()["items"] == before
    # and grading still works on the reloaded catalog
    assert graded(submit(server, source(SOLUTION)))["score"] == 100
