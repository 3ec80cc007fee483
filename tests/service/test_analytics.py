"""Class analytics (GET /api/v1/analytics/exercises/{id} and the instructors' page) on a
seeded class whose every number is worked out by hand below from the seeding plan, on
SQLite and PostgreSQL; the facts a real grading writes; bad input.

The class, on the exercise ``adam`` (cases: ``course`` visible, with 4 learning rates;
``banana``, ``classifier`` and ``regression-other-data`` hidden with 3, ``bowl`` hidden
with 4). Days: A = Monday 2026-11-30, B = Tuesday 2026-12-01, C = Monday 2026-12-07 (the
next week). A submission's "mistake" decides its diagnoses and failing runs (MISTAKES).

=====  =====================================================================  ==========
who    submissions in order: (day hh:mm, status/score, mistake)                best, tries
=====  =====================================================================  ==========
ana    A 09:10 40 state-reset;  A 10:05 100                                     100, 2
ben    A 09:20 rejected;  A 09:40 60 no-bias;  B 14:00 100                     100, 3
cy     B 15:30 100                                                              100, 1
dee    A 11:00 90 eps;  B 09:00 90 eps;  B 09:30 failed;  B 16:10 100          100, 3
eve    A 11:30 55 no-bias;  C 08:00 65 no-bias                                  65
fay    B 10:00 5 sign-flip;  C 08:30 35 state-reset                            35
gus    C 09:00 95 eps+no-bias                                                   95
hal    B 11:00 rejected                                                         (no grade)
(anon) A 09:50 100 (visible case recorded only, as if backfilled);  B 12:00 20 sign-flip
ana    A 09:15 10 on the exercise ``gd`` (another exercise: never counted)
=====  =====================================================================  ==========
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from service.models import Submission, SubmissionCase, SubmissionDiagnosis

from .conftest import API, INSTRUCTOR, assert_error, bearer, services_of, source, submit
from .test_web import HTML, get_page, sign_in

A = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
B = A + dt.timedelta(days=1)
C = A + dt.timedelta(days=7)
CASES = {"course": (True, 4), "banana": (False, 3), "bowl": (False, 4),
         "classifier": (False, 3), "regression-other-data": (False, 3)}
MESSAGES = {"state-reset": "forgets its averages", "adam-no-bias-correction": "no bias fix",
            "adam-eps-inside-sqrt": "eps inside", "sign-flip": "climbs the loss"}
#: mistake -> (diagnoses, failed runs per case)
MISTAKES = {
    None: ((), {}),
    "state-reset": (("state-reset",), {"course": 4, "banana": 3}),
    "no-bias": (("adam-no-bias-correction",), {"course": 2, "bowl": 4}),
    "eps": (("adam-eps-inside-sqrt",), {"bowl": 1}),
    "eps+no-bias": (("adam-eps-inside-sqrt", "adam-no-bias-correction"), {"bowl": 2}),
    "sign-flip": (("sign-flip",), {name: runs for name, (_, runs) in CASES.items()}),
}


@dataclass(frozen=True)
class Planned:
    """One seeded submission."""

    student: str | None
    at: dt.datetime
    status: str
    score: float | None = None
    mistake: str | None = None
    exercise: str = "adam"
    visible_only: bool = False


def at(day: dt.datetime, hhmm: str) -> dt.datetime:
    """``day`` at ``hh:mm``."""
    hours, minutes = map(int, hhmm.split(":"))
    return day + dt.timedelta(hours=hours, minutes=minutes)


PLAN = [
    Planned("ana", at(A, "09:10"), "graded", 40, "state-reset"),
    Planned("ana", at(A, "10:05"), "graded", 100),
    Planned("ben", at(A, "09:20"), "rejected"),
    Planned("ben", at(A, "09:40"), "graded", 60, "no-bias"),
    Planned("ben", at(B, "14:00"), "graded", 100),
    Planned("cy", at(B, "15:30"), "graded", 100),
    Planned("dee", at(A, "11:00"), "graded", 90, "eps"),
    Planned("dee", at(B, "09:00"), "graded", 90, "eps"),
    Planned("dee", at(B, "09:30"), "failed"),
    Planned("dee", at(B, "16:10"), "graded", 100),
    Planned("eve", at(A, "11:30"), "graded", 55, "no-bias"),
    Planned("eve", at(C, "08:00"), "graded", 65, "no-bias"),
    Planned("fay", at(B, "10:00"), "graded", 5, "sign-flip"),
    Planned("fay", at(C, "08:30"), "graded", 35, "state-reset"),
    Planned("gus", at(C, "09:00"), "graded", 95, "eps+no-bias"),
    Planned("hal", at(B, "11:00"), "rejected"),
    Planned(None, at(A, "09:50"), "graded", 100, visible_only=True),
    Planned(None, at(B, "12:00"), "graded", 20, "sign-flip"),
    Planned("ana", at(A, "09:15"), "graded", 10, "sign-flip", exercise="gd"),
]


def seed(app, plan: list[Planned]) -> None:
    """Store ``plan`` as the grader would have: submissions, and for the graded ones their
    diagnoses and per-case runs. Inserted in a shuffled order (not by time), so that
    attempts are counted by time, not by id."""
    order = plan[1::2] + plan[::2]
    with services_of(app).db.session() as session:
        for planned in order:
            row = Submission(public_id=uuid.uuid4().hex, exercise=planned.exercise,
                             exercise_version=1, student=planned.student, code="",
                             status=planned.status, score=planned.score,
                             created_at=planned.at)
            session.add(row)
            session.flush()
            if planned.status != "graded":
                continue
            diagnoses, failing = MISTAKES[planned.mistake]
            for position, name in enumerate(diagnoses):
                session.add(SubmissionDiagnosis(submission_id=row.id, position=position,
                                                diagnosis=name, message=MESSAGES[name]))
            for name, (visible, runs) in CASES.items():
                if planned.visible_only and not visible:
                    continue
                session.add(SubmissionCase(submission_id=row.id, case=name,
                                           exercise=planned.exercise, visible=visible,
                                           runs=runs, failed=failing.get(name, 0)))


@pytest.fixture(scope="module")
def seeded(make_app) -> FlaskClient:
    """A client of an app holding the seeded class."""
    app = make_app()
    seed(app, PLAN)
    return app.test_client()


def analytics_of(client: FlaskClient, exercise: str = "adam", **query) -> dict:
    response = client.get(f"{API}/analytics/exercises/{exercise}", query_string=query,
                          headers=INSTRUCTOR)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_best_scores_the_100_count_and_attempts_until_100(seeded):
    body = analytics_of(seeded)
    # best per named student with a grade: ana, ben, cy, dee 100; eve 65; fay 35; gus 95
    # (hal has no grade; the anonymous ones are nobody's; ana's gd is another exercise)
    assert body["students"] == 7 and body["reached_100"] == 4
    bins = {b["label"]: b["students"] for b in body["histogram"]}
    assert list(bins) == ["0-10", "10-20", "20-30", "30-40", "40-50", "50-60", "60-70",
                          "70-80", "80-90", "90-100", "100"]
    assert bins == {**dict.fromkeys(bins, 0), "30-40": 1, "60-70": 1, "90-100": 1, "100": 4}
    # tries until the first 100: cy 1, ana 2, ben 3 (his rejected one counts), dee 3 (her
    # failed one does not): nearest rank, median = the 2nd of 4 = 2, p90 = the 4th = 3
    assert body["attempts"] == [{"attempts": 1, "students": 1}, {"attempts": 2, "students": 1},
                                {"attempts": 3, "students": 2}]
    assert body["median_attempts"] == 2 and body["p90_attempts"] == 3
    # 18 submissions of adam, whatever became of them
    assert body["submissions"] == 18


def test_the_diagnoses_of_the_students_below_100(seeded):
    # below 100: eve (no-bias twice), fay (sign-flip, state-reset), gus (eps + no-bias);
    # ana's state-reset and dee's eps do not count: they reached 100
    ranking = [(d["diagnosis"], d["students"], d["share"], d["submissions"], d["message"])
               for d in analytics_of(seeded)["diagnoses"]]
    assert ranking == [
        ("adam-no-bias-correction", 2, round(2 / 3, 4), 3, "no bias fix"),
        ("adam-eps-inside-sqrt", 1, round(1 / 3, 4), 1, "eps inside"),
        ("sign-flip", 1, round(1 / 3, 4), 1, "climbs the loss"),
        ("state-reset", 1, round(1 / 3, 4), 1, "forgets its averages"),
    ]


def trend_of(body: dict) -> dict[tuple[str, str], tuple[int, int]]:
    return {(p["period"][:10], p["diagnosis"]): (p["students"], p["of_students"])
            for p in body["trend"]}


def test_the_diagnoses_per_day(seeded):
    # A: below 100 that day ana 40, ben 60, dee 90, eve 55 (4); B: dee 90, fay 5 (2);
    # C: eve 65, fay 35, gus 95 (3)
    body = analytics_of(seeded)
    assert body["bucket"] == "day"
    assert trend_of(body) == {
        ("2026-11-30", "state-reset"): (1, 4), ("2026-11-30", "adam-no-bias-correction"): (2, 4),
        ("2026-11-30", "adam-eps-inside-sqrt"): (1, 4),
        ("2026-12-01", "adam-eps-inside-sqrt"): (1, 2), ("2026-12-01", "sign-flip"): (1, 2),
        ("2026-12-07", "adam-no-bias-correction"): (2, 3), ("2026-12-07", "state-reset"): (1, 3),
        ("2026-12-07", "adam-eps-inside-sqrt"): (1, 3),
    }
    first = body["trend"][0]
    assert first["period"].startswith("2026-11-30T00:00:00")
    assert (first["diagnosis"], first["share"]) == ("adam-no-bias-correction", 0.5)


def test_the_diagnoses_per_week(seeded):
    # the week of Monday A holds days A and B: ana, ben, dee, eve, fay below 100 (5)
    assert trend_of(analytics_of(seeded, bucket="week")) == {
        ("2026-11-30", "state-reset"): (1, 5), ("2026-11-30", "adam-no-bias-correction"): (2, 5),
        ("2026-11-30", "adam-eps-inside-sqrt"): (1, 5), ("2026-11-30", "sign-flip"): (1, 5),
        ("2026-12-07", "adam-no-bias-correction"): (2, 3), ("2026-12-07", "state-reset"): (1, 3),
        ("2026-12-07", "adam-eps-inside-sqrt"): (1, 3),
    }


def test_the_cases_that_fail_most(seeded):
    # 15 graded adam submissions, the anonymous 100 with its visible case only.
    # bowl fails with no-bias (ben, eve x2), eps (dee x2), gus, sign-flip (fay, anon): 8 of 14
    # course with state-reset (ana, fay), no-bias (3), sign-flip (2): 7 of 15
    # banana with state-reset (2) and sign-flip (2): 4 of 14; the other two with sign-flip
    cases = [(c["case"], c["visible"], c["failed_submissions"], c["submissions"], c["share"],
              c["failed_runs"], c["runs"]) for c in analytics_of(seeded)["cases"]]
    assert cases == [
        ("bowl", False, 8, 14, round(8 / 14, 4), 3 * 4 + 2 * 1 + 2 + 2 * 4, 14 * 4),
        ("course", True, 7, 15, round(7 / 15, 4), 2 * 4 + 3 * 2 + 2 * 4, 15 * 4),
        ("banana", False, 4, 14, round(4 / 14, 4), 4 * 3, 14 * 3),
        ("classifier", False, 2, 14, round(2 / 14, 4), 2 * 3, 14 * 3),
        ("regression-other-data", False, 2, 14, round(2 / 14, 4), 2 * 3, 14 * 3),
    ]


def test_submissions_per_hour(seeded):
    hourly = analytics_of(seeded)["hourly"]
    # from A 09:00 to C 09:00: seven days and one hour, every hour listed
    assert len(hourly) == 7 * 24 + 1
    assert hourly[0]["hour"].startswith("2026-11-30T09:00:00")
    assert hourly[-1]["hour"].startswith("2026-12-07T09:00:00")
    busy = {h["hour"][:13]: h["submissions"] for h in hourly if h["submissions"]}
    assert busy == {"2026-11-30T09": 4, "2026-11-30T10": 1, "2026-11-30T11": 2,
                    "2026-12-01T09": 2, "2026-12-01T10": 1, "2026-12-01T11": 1,
                    "2026-12-01T12": 1, "2026-12-01T14": 1, "2026-12-01T15": 1,
                    "2026-12-01T16": 1, "2026-12-07T08": 2, "2026-12-07T09": 1}


def test_an_exercise_without_submissions_has_empty_analytics(seeded):
    body = analytics_of(seeded, "rmsprop")
    assert (body["students"], body["reached_100"], body["median_attempts"],
            body["p90_attempts"], body["submissions"]) == (0, 0, None, None, 0)
    assert [b["students"] for b in body["histogram"]] == [0] * 11
    assert body["diagnoses"] == body["trend"] == body["cases"] == body["hourly"] == []


def csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_tables_as_csv(seeded):
    url = f"{API}/analytics/exercises/adam"
    diagnoses = csv_rows(seeded.get(url, query_string={"format": "csv", "table": "diagnoses"},
                                    headers=INSTRUCTOR))
    assert (diagnoses[0]["diagnosis"], diagnoses[0]["students"], diagnoses[0]["share"]) == (
        "adam-no-bias-correction", "2", "0.6667")
    hourly = csv_rows(seeded.get(url, query_string={"format": "csv", "table": "hourly"},
                                 headers=INSTRUCTOR))
    assert hourly[0] == {"hour": "2026-11-30T09:00:00Z", "submissions": "4"}
    week = csv_rows(seeded.get(url, query_string={"format": "csv", "table": "trend",
                                                  "bucket": "week"}, headers=INSTRUCTOR))
    assert {r["period"] for r in week} == {"2026-11-30T00:00:00Z", "2026-12-07T00:00:00Z"}


@pytest.mark.parametrize("name", ["scores", "diagnoses", "cases", "hourly"])
def test_the_figures(seeded, name):
    url = f"{API}/analytics/exercises/adam/plots/{name}"
    svg = seeded.get(f"{url}.svg", headers=INSTRUCTOR)
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.data.startswith(b"<?xml")
    png = seeded.get(f"{url}.png", headers=INSTRUCTOR)
    assert png.status_code == 200 and png.data[:4] == b"\x89PNG"
    again = seeded.get(f"{url}.svg", headers={**INSTRUCTOR, "If-None-Match": svg.headers["ETag"]})
    assert again.status_code == 304


def test_the_json_links_to_the_figures(seeded):
    links = analytics_of(seeded)["links"]
    assert links["plot_cases"] == f"{API}/analytics/exercises/adam/plots/cases.svg"
    assert seeded.get(links["plot_hourly"], headers=INSTRUCTOR).status_code == 200


def test_a_new_submission_is_counted_at_once(fresh_app):
    # the analytics are kept between requests while nothing changes: a page and its four
    # figures run the queries once; a new submission, or one graded since, is seen at once
    seed(fresh_app, PLAN)
    client = fresh_app.test_client()
    assert analytics_of(client)["reached_100"] == 4
    seed(fresh_app, [Planned("eve", at(C, "10:00"), "queued")])
    body = analytics_of(client)
    assert (body["submissions"], body["reached_100"]) == (19, 4)
    with services_of(fresh_app).db.session() as session:
        queued = session.scalars(select(Submission).where(Submission.status == "queued")).one()
        queued.status, queued.score = "graded", 100.0
    body = analytics_of(client)
    # eve: 55, 65, then 100 at her 3rd attempt; tries 1, 2, 3, 3, 3: median 3, p90 3
    assert (body["submissions"], body["reached_100"], body["students"]) == (19, 5, 7)
    assert (body["median_attempts"], body["p90_attempts"]) == (3, 3)


# --- who may ask, and bad input -------------------------------------------------------------


def test_only_instructors(seeded, make_app):
    url = f"{API}/analytics/exercises/adam"
    assert "instructor token" in assert_error(seeded.get(url), 401)["message"]
    assert seeded.get(url).headers["WWW-Authenticate"] == "Bearer"
    assert_error(seeded.get(f"{url}/plots/scores.svg"), 401)
    created = seeded.post(f"{API}/students", json={"name": "student-x"}, headers=INSTRUCTOR)
    student = bearer(created.get_json()["token"])
    assert "Only instructors" in assert_error(seeded.get(url, headers=student), 403)["message"]
    assert_error(seeded.get(f"{url}/plots/scores.svg", headers=student), 403)
    assert_error(seeded.get(url, headers=bearer("made-up")), 401)


def test_an_unknown_exercise_is_a_404_naming_the_known_ones(seeded):
    body = assert_error(seeded.get(f"{API}/analytics/exercises/nope", headers=INSTRUCTOR), 404)
    assert "There is no exercise 'nope'" in body["message"] and "adam" in body["message"]
    assert_error(seeded.get(f"{API}/analytics/exercises/nope/plots/scores.svg",
                            headers=INSTRUCTOR), 404)


@pytest.mark.parametrize(("query", "field", "words"), [
    ({"format": "xml"}, "format", "Must be one of"),
    ({"format": "csv"}, "table", "one table at a time"),
    ({"format": "csv", "table": "everything"}, "table", "Must be one of"),
    ({"table": "cases"}, "table", "add format=csv"),
    ({"bucket": "month"}, "bucket", "Must be one of"),
    ({"colour": "red"}, "colour", "Unknown field"),
])
def test_bad_queries_are_422_naming_the_field(seeded, query, field, words):
    body = assert_error(seeded.get(f"{API}/analytics/exercises/adam", query_string=query,
                                   headers=INSTRUCTOR), 422)
    assert words in " ".join(body["errors"][field]), body


@pytest.mark.parametrize(("path", "words"), [("plots/pie.svg", "no analytics figure 'pie'"),
                                             ("plots/scores.gif", "not 'gif'")])
def test_an_unknown_figure_or_format_is_a_404(seeded, path, words):
    body = assert_error(seeded.get(f"{API}/analytics/exercises/adam/{path}",
                                   headers=INSTRUCTOR), 404)
    assert words in body["message"]


def test_the_openapi_document_describes_json_and_csv(seeded):
    spec = seeded.get(f"{API}/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/analytics/exercises/{exercise_id}"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == {
        "format", "table", "bucket"}
    assert operation["security"] == [{"bearer": []}]
    assert "404" in operation["responses"]


# --- the page -------------------------------------------------------------------------------


def test_the_page_asks_an_instructor_to_sign_in(seeded):
    response = seeded.get("/instructor/analytics/adam", headers=HTML)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/login?next=/instructor/analytics/adam")
    assert seeded.get("/instructor/analytics/adam/plots/scores.svg").status_code == 303


def test_the_page_shows_the_numbers_and_figures(seeded):
    client = seeded.application.test_client()  # a browser of its own (its own cookie)
    sign_in(client, INSTRUCTOR["Authorization"].split()[1])
    page = get_page(client, "/instructor/analytics/adam")
    for element, value in (("students", 7), ("reached", 4), ("median", 2), ("p90", 3),
                           ("submissions-total", 18)):
        assert f'id="{element}">{value}<' in page
    assert "no bias fix" in page and "67 %" in page
    for name in ("scores", "diagnoses", "cases", "hourly"):
        src = f"/instructor/analytics/adam/plots/{name}.svg"
        assert f'src="{src}"' in page  # the picture, for a browser without JavaScript
        figure = client.get(src)
        assert figure.status_code == 200 and figure.mimetype == "image/svg+xml"
    # what the charts draw in the browser: the API's numbers, carried by the page
    charts = json.loads(re.search(r'<script type="application/json" id="analytics-charts">'
                                  r"(.*?)</script>", page, re.S).group(1))
    body = analytics_of(seeded)
    assert charts["scores"] == {"labels": [b["label"] for b in body["histogram"]],
                                "students": [b["students"] for b in body["histogram"]]}
    assert charts["cases"]["cases"] == [c["case"] for c in body["cases"]]
    assert charts["cases"]["shares"] == [round(100 * c["share"], 2) for c in body["cases"]]
    assert charts["cases"]["hidden"] == [not c["visible"] for c in body["cases"]]
    assert sum(charts["hourly"]["submissions"]) == body["submissions"] == 18
    assert [dt.datetime.fromtimestamp(h, dt.UTC) for h in charts["hourly"]["hours"]] == [
        dt.datetime.fromisoformat(h["hour"]).replace(tzinfo=dt.UTC) for h in body["hourly"]]
    followed = {s["diagnosis"]: s["shares"] for s in charts["diagnoses"]["series"]}
    assert "adam-no-bias-correction" in followed and charts["diagnoses"]["bucket"] == "day"
    table = client.get("/instructor/analytics/adam/cases.csv")
    assert csv_rows(table)[0]["case"] == "bowl"
    # the form without JavaScript: the chosen exercise and period
    chosen = client.get("/instructor/analytics?exercise=gd&bucket=week")
    assert chosen.status_code == 303
    assert chosen.headers["Location"].endswith("/instructor/analytics/gd?bucket=week")
    get_page(client, "/instructor/analytics/nope", 404)
    get_page(client, "/instructor/analytics/adam?bucket=month", 400)
    assert 'href="/instructor/analytics"' in get_page(client, "/instructor")


# --- what grading writes --------------------------------------------------------------------


def test_grading_records_diagnoses_and_every_case(fresh_app):
    client = fresh_app.test_client()
    mistake = submit(client, "adam", source("adam", "mistakes/no_bias_correction.py"),
                     student="kim").get_json()
    solution = submit(client, "adam", source("adam"), student="kim").get_json()
    with services_of(fresh_app).db.session() as session:
        ids = dict(session.execute(select(Submission.public_id, Submission.id)).all())
        diagnoses = session.scalars(select(SubmissionDiagnosis).where(
            SubmissionDiagnosis.submission_id == ids[mistake["id"]])).all()
        cases = {c.case: c for c in session.scalars(select(SubmissionCase).where(
            SubmissionCase.submission_id == ids[mistake["id"]]))}
        solved = session.scalars(select(SubmissionCase).where(
            SubmissionCase.submission_id == ids[solution["id"]])).all()
    assert [(d.diagnosis, d.message) for d in diagnoses] == [
        (d["id"], d["message"]) for d in mistake["diagnosis"]]
    assert "adam-no-bias-correction" in [d.diagnosis for d in diagnoses]
    # every case, the hidden ones by name, with its runs (one per learning rate)
    assert {name: (c.visible, c.runs) for name, c in cases.items()} == CASES
    visible_failed = sum(run["verdict"] != "match" for run in mistake["runs"])
    assert cases["course"].failed == visible_failed > 0
    hidden_failed = sum(n for verdict, n in mistake["hidden"]["verdicts"].items()
                        if verdict != "match")
    assert sum(c.failed for c in cases.values() if not c.visible) == hidden_failed
    assert solution["score"] == 100 and all(c.failed == 0 for c in solved)
    assert len(solved) == len(CASES)
    body = analytics_of(client)
    assert (body["students"], body["reached_100"], body["median_attempts"]) == (1, 1, 2)


def test_the_page_sends_the_pages_content_security_policy(seeded):
    client = seeded.application.test_client()
    sign_in(client, INSTRUCTOR["Authorization"].split()[1])
    answer = client.get("/instructor/analytics/adam", headers=HTML)
    assert answer.status_code == 200
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "object-src 'none'" in policy
