"""The instructors' views: every submission (filters, pages, newest first) and the
gradebook (best and latest score per student per exercise), also as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import select

from service.models import Submission

from .conftest import API, INSTRUCTOR, assert_error, services_of, source, submit

DAY0 = dt.datetime(2026, 3, 1, 12, 0, 0)


@pytest.fixture(scope="module")
def course(make_app):
    """An app with five submissions, made a day apart from DAY0 on, in this order:
    ann's correct GD, ann's GD that ignores the learning rate, ben's correct momentum,
    ben's GD with a syntax error, an anonymous correct GD."""
    app = make_app()
    client = app.test_client()
    made = [
        submit(client, "gd", source("gd"), student="ann"),
        submit(client, "gd", source("gd", "mistakes/forgot_lr.py"), student="ann"),
        submit(client, "momentum", source("momentum"), student="ben"),
        submit(client, "gd", "def update(:\n", student="ben"),
        submit(client, "gd", source("gd")),
    ]
    ids = [r.get_json().get("id") or r.headers["X-Submission-Id"] for r in made]
    scores = [r.get_json().get("score") for r in made]
    with services_of(app).db.session() as session:
        for day, public_id in enumerate(ids):
            row = session.scalars(select(Submission).where(Submission.public_id == public_id)
                                  ).one()
            row.created_at = DAY0 + dt.timedelta(days=day)
    return client, ids, scores


def listing(client, **query):
    response = client.get(f"{API}/submissions", query_string=query, headers=INSTRUCTOR)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_every_submission_newest_first(course):
    client, ids, scores = course
    page = listing(client)
    assert page["total"] == 5 and page["page"] == 1 and page["page_size"] == 50
    assert [item["id"] for item in page["items"]] == ids[::-1]
    newest = page["items"][0]
    assert newest["exercise"] == "gd" and newest["student"] is None
    assert newest["status"] == "graded" and newest["score"] == 100
    assert newest["links"]["self"] == f"{API}/submissions/{ids[4]}"
    assert newest["created_at"].startswith("2026-03-05T12:00:00")
    assert [item["score"] for item in page["items"]] == scores[::-1]


@pytest.mark.parametrize(("query", "expected"), [
    ({"exercise": "gd"}, [4, 3, 1, 0]),
    ({"exercise": "momentum"}, [2]),
    ({"exercise": "adam"}, []),
    ({"student": "ann"}, [1, 0]),
    ({"student": "ben"}, [3, 2]),
    ({"status": "rejected"}, [3]),
    ({"status": "graded"}, [4, 2, 1, 0]),
    ({"status": "failed"}, []),
    ({"since": "2026-03-03T12:00:00"}, [4, 3, 2]),
    ({"until": "2026-03-03T12:00:00"}, [1, 0]),
    ({"since": "2026-03-02T00:00:00", "until": "2026-03-04T00:00:00"}, [2, 1]),
    ({"since": "2026-03-03T13:00:00+01:00"}, [4, 3, 2]),  # 12:00 UTC
    ({"since": "2026-03-03T12:00:00Z"}, [4, 3, 2]),
    ({"exercise": "gd", "student": "ben", "status": "rejected"}, [3]),
    ({"exercise": "gd", "status": "graded", "since": "2026-03-02T12:00:00"}, [4, 1]),
])
def test_filters(course, query, expected):
    client, ids, _ = course
    page = listing(client, **query)
    assert [item["id"] for item in page["items"]] == [ids[i] for i in expected]
    assert page["total"] == len(expected)


def test_pages(course):
    client, ids, _ = course
    pages = [listing(client, page=n, page_size=2) for n in (1, 2, 3, 4)]
    assert [[item["id"] for item in page["items"]] for page in pages] == [
        [ids[4], ids[3]], [ids[2], ids[1]], [ids[0]], []]
    assert all(page["total"] == 5 and page["page_size"] == 2 for page in pages)
    assert [page["page"] for page in pages] == [1, 2, 3, 4]
    filtered = listing(client, student="ann", page=2, page_size=1)
    assert [item["id"] for item in filtered["items"]] == [ids[0]] and filtered["total"] == 2


def test_a_page_is_never_larger_than_the_limit(make_app, course):
    from grader.limits import ServiceLimits

    app = make_app(service_limits=ServiceLimits(rate_limit="off", max_page_size=3))
    client = app.test_client()
    for _ in range(4):
        submit(client, "gd", "def update(:\n")
    page = listing(client, page_size=1000)
    assert page["page_size"] == 3 and len(page["items"]) == 3 and page["total"] == 4


@pytest.mark.parametrize("query", [{"status": "lost"}, {"since": "yesterday"}, {"page": 0},
                                   {"page_size": 0}, {"page_size": 1001}, {"page": "one"},
                                   {"exercise": "GD!"}, {"sort": "score"}])
def test_an_invalid_filter_is_a_422_naming_it(course, query):
    client, _, _ = course
    response = client.get(f"{API}/submissions", query_string=query, headers=INSTRUCTOR)
    body = assert_error(response, 422)
    assert list(body["errors"]) == list(query)


def test_the_gradebook_has_best_and_latest_per_student_and_exercise(course):
    client, _, scores = course
    assert scores[0] == 100 and scores[1] < 100  # ann's first was right, her last was not
    items = client.get(f"{API}/gradebook", headers=INSTRUCTOR).get_json()["items"]
    assert [(i["student"], i["exercise"]) for i in items] == [("ann", "gd"), ("ben", "momentum")]
    ann, ben = items
    assert ann["best"] == 100 and ann["latest"] == scores[1] and ann["submissions"] == 2
    assert ann["last_submitted"].startswith("2026-03-02T12:00:00")
    # ben's rejected GD counts for nothing; the anonymous submission is nobody's
    assert ben["best"] == ben["latest"] == 100 and ben["submissions"] == 1


def test_the_gradebook_as_csv(course):
    client, _, scores = course
    response = client.get(f"{API}/gradebook.csv", headers=INSTRUCTOR)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "gradebook.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["student", "exercise", "best", "latest", "submissions", "last_submitted"]
    assert len(rows) == 3
    assert rows[1][:2] == ["ann", "gd"] and float(rows[1][2]) == 100
    assert float(rows[1][3]) == scores[1] and rows[1][4] == "2"
    assert rows[1][5] == "2026-03-02T12:00:00Z"
    assert rows[2][:2] == ["ben", "momentum"] and rows[2][4] == "1"


def test_an_empty_gradebook(fresh_app):
    client = fresh_app.test_client()
    assert client.get(f"{API}/gradebook", headers=INSTRUCTOR).get_json() == {"items": []}
    text = client.get(f"{API}/gradebook.csv", headers=INSTRUCTOR).get_data(as_text=True)
    assert text == "student,exercise,best,latest,submissions,last_submitted\n"
