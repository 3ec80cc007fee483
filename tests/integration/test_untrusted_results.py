"""A job's result is untrusted input, against the live service: forged result frames of
every shape class, and printed text that is not valid UTF-8 or full of control
characters. Each submission is graded (201), its API view, web page and plot answer
without a 5xx, and the text the student's code printed reaches the API, the page, the
terminal report and the gradebook CSV well-formed."""

from __future__ import annotations

import csv
import io
import unicodedata

import pytest

from grader.catalog import load_catalog
from grader.preparation import prepare_runs
from service.report import format_grade
from tests.integration.server import (
    API,
    SOLUTION,
    GdlabServer,
    bearer,
    graded,
    server_errors,
    source,
    submit,
)
from tests.integration.server import INSTRUCTOR_TOKEN as TOKEN
from tests.sandbox.forgery import CUT_BY_THE_RUNNER, JobShape, forgeries

CATALOG = load_catalog()
#: One exercise of each kind.
EXERCISES = ("gd", "mse-gradient", "lr-step-decay")


def shape_of(exercise_id: str) -> JobShape:
    """What the job of the exercise's visible runs asks for (its runs, steps and
    parameters), as a student could work out from the exercise's statement and a few
    experiments; the hidden runs are a job of their own."""
    exercise = CATALOG.get(exercise_id)
    runs = [run for run in prepare_runs(exercise)[0] if run.case.visible]
    if exercise.kind == "schedule":
        return JobShape("schedule", tuple(run.case.epochs for run in runs), (0,) * len(runs))
    return JobShape(exercise.kind, tuple(len(run.step_rates) for run in runs),
                    tuple(run.x0.size for run in runs))


SHAPES = {exercise_id: shape_of(exercise_id) for exercise_id in EXERCISES}
CASES = [(exercise_id, name) for exercise_id, shape in SHAPES.items()
         for name in forgeries(shape)]


def pages_answer(server: GdlabServer, body: dict) -> dict:
    """Every view of a graded submission answers without a 5xx; the API's JSON back."""
    view = server.get(body["links"]["self"])
    assert view.status_code == 200, view.text[:300]
    page = server.get(f"/submissions/{body['id']}")
    assert page.status_code == 200, page.text[:300]
    page.content.decode("utf-8")  # strict
    plot = server.get(f"/submissions/{body['id']}/plot.svg")
    assert plot.status_code < 500, plot.text[:300]
    return view.json()


@pytest.mark.parametrize(("exercise_id", "name"), CASES)
def test_a_forged_result_is_graded_as_a_crash(server, exercise_id, name):
    before = len(server_errors(server))
    answer = submit(server, forgeries(SHAPES[exercise_id])[name], exercise=exercise_id)
    body = graded(answer)
    expected = "output-limit" if name in CUT_BY_THE_RUNNER else "crashed"
    assert body["sandbox"]["verdict"] == expected, (name, body["sandbox"])
    assert body["score"] == 0 and body["feedback"] == body["sandbox"]["detail"]
    assert pages_answer(server, body)["score"] == 0
    assert server_errors(server)[before:] == []


PRINTS = (
    'print("lone \\ud800 surrogates \\udfff", "nul \\x00 bell \\x07")\n'
    'print("\\x1b[2J\\x1b[31mred\\x1b[0m \\x1b]0;title\\x07 \\x9b31m")\n'
    'print("\\u202eevil\\u202c \\u2066isolate\\u2069 \\u200fmark cr\\rover")\n'
    'print("y" * 20000)\n'
    'class Strange(Exception):\n    pass\n'
    'Strange.__name__ = "Strange\\x1b[0m\\u202e"\n'
)
#: A correct rule that prints everything a terminal, a page or a CSV could choke on, and
#: then fails at its first step with an exception whose type and message do too.
NASTY = PRINTS + (
    "\nCALLS = []\n\ndef update(params, grad, lr, state, **hyper):\n"
    "    CALLS.append(1)\n"
    "    if len(CALLS) == 3:\n"
    "        raise Strange('message \\udcff\\x00\\x1b[1m\\u202e' + 'z' * 3000)\n"
    "    return params - lr * grad\n")
UNSAFE = {"\x00", "\x07", "\x1b", "\r", "\x9b", "\u202e", "\u202c", "\u2066", "\u2069",
          "\u200f"}


def assert_clean(text: str) -> None:
    text.encode("utf-8")  # strict: no lone surrogate
    assert not UNSAFE & set(text), sorted(UNSAFE & set(text))
    assert all(unicodedata.category(c) not in ("Cc", "Cs") or c in "\n\t" for c in text)


@pytest.fixture(scope="module")
def nasty(server: GdlabServer) -> dict:
    """The NASTY submission, graded, under a student name (so that it is in the
    gradebook)."""
    return graded(submit(server, NASTY, student="text-tester", headers=bearer(TOKEN)))


def test_printed_text_reaches_the_api_clean(server, nasty):
    body = pages_answer(server, nasty)
    assert "lone \ufffd surrogates \ufffd nul \ufffd bell \ufffd" in body["stdout"]
    assert "red" in body["stdout"] and "[31m" not in body["stdout"]
    assert "y" * 20000 in body["stdout"]
    assert body["error"]["type"] == "Strange\ufffd"
    assert body["error"]["message"].startswith("message \ufffd\ufffd\ufffd")
    for text in (body["stdout"], body["feedback"], body["error"]["type"],
                 body["error"]["message"], body["sandbox"]["detail"]):
        assert_clean(text)


def test_printed_text_reaches_the_web_page_clean(server, nasty):
    page = server.get(f"/submissions/{nasty['id']}")
    assert page.status_code == 200
    html = page.content.decode("utf-8")
    assert "lone \ufffd surrogates" in html
    assert_clean(html.replace("\r", ""))


def test_printed_text_reaches_the_terminal_report_clean(server, nasty):
    report = format_grade(server.get(nasty["links"]["self"]).json())
    assert "lone \ufffd surrogates" in report
    assert_clean(report)


def test_the_gradebook_csv_stays_well_formed(server, nasty):
    answer = server.get(f"{API}/gradebook.csv", headers=bearer(TOKEN))
    assert answer.status_code == 200
    text = answer.content.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    header, *rest = rows
    assert all(len(row) == len(header) for row in rest)
    assert any(row[0] == "text-tester" for row in rest)
    assert_clean(text)


def test_the_service_still_grades_and_never_answered_5xx(server):
    assert graded(submit(server, source(SOLUTION)))["score"] == 100
    assert server_errors(server) == []
