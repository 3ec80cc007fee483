"""An exercise's own problems through the HTTP service: listed with the engine's, run by
exercise-qualified name in the reference API and the explorer page, graded through the
API and the web form, and the instructor's module never shown to students."""

from __future__ import annotations

import re

import pytest

from .conftest import API, EXERCISES, assert_error, source, submit
from .test_web import HTML, form_post, get_page

HIMMELBLAU = "himmelblau-momentum/himmelblau"
RUNS = f"{API}/reference/runs"


def test_the_problems_list_names_the_exercises_own(client):
    items = {item["name"]: item for item in client.get(f"{API}/problems").get_json()["items"]}
    assert items[HIMMELBLAU] == {"name": HIMMELBLAU, "options": [],
                                 "summary": "Himmelblau's function: four minima of equal "
                                            "depth (non-convex)."}
    assert items["anscombe-gradient/set-1"]["summary"].startswith("linear regression of y1 on x1")


def test_a_reference_run_by_exercise_qualified_name(client):
    response = client.post(RUNS, json={"problem": HIMMELBLAU, "optimizer": "sgd",
                                       "hyper": {"momentum": 0.9},
                                       "learning_rates": [0.005, 0.02], "epochs": 80})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    info = body["result"]["problem_info"]
    assert info["name"] == HIMMELBLAU and info["param_names"] == ["x", "y"]
    assert body["result"]["stability"] is None
    assert body["request"]["problem_fingerprint"]
    plot = client.get(body["links"]["plot_png"])
    assert plot.status_code == 200 and plot.data[:4] == b"\x89PNG"
    again = client.get(body["links"]["self"]).get_json()
    assert again["result"]["runs"] == body["result"]["runs"]
    assert client.get(body["links"]["csv"]).get_data(as_text=True).startswith("lr,step,loss,x,y")


def test_a_data_set_in_the_reference_api_has_its_stability_facts(client):
    response = client.post(RUNS, json={"problem": "anscombe-gradient/set-1-raw",
                                       "optimizer": "sgd", "learning_rates": [0.001, 0.012],
                                       "epochs": 50})
    assert response.status_code == 201, response.get_json()
    result = response.get_json()["result"]
    assert result["stability"]["gd_max_lr"] == pytest.approx(0.01088, abs=1e-4)
    assert [run["expected_stable"] for run in result["runs"]] == [True, False]


@pytest.mark.parametrize(("body", "field"), [
    ({"problem": "himmelblau-momentum/nope"}, "problem"),
    ({"problem": HIMMELBLAU, "problem_options": {"a": 1}}, "problem_options"),
    ({"problem": HIMMELBLAU, "x0": [1.0, 2.0, 3.0]}, "x0"),
])
def test_bad_requests_for_an_exercises_problem_are_422(client, body, field):
    error = assert_error(client.post(RUNS, json={"optimizer": "sgd", **body}), 422)
    assert field in error["errors"]


def test_the_instructors_module_is_never_shown(client):
    detail = client.get(f"{API}/exercises/himmelblau-momentum").get_json()
    assert detail["visible_cases"][0]["problem"] == HIMMELBLAU
    module = (EXERCISES / "himmelblau-momentum" / "himmelblau.py").read_text()
    text = str(detail) + get_page(client, "/exercises/himmelblau-momentum")
    for line in ("a = x * x + y - 11", "return np.array([4 * x * a + 2 * b, 2 * a + 4 * y * b])"):
        assert line in module and line not in text


@pytest.mark.parametrize(("exercise", "file", "score", "diagnosis"), [
    ("himmelblau-momentum", "solution.py", 100, None),
    ("himmelblau-momentum", "mistakes/ema.py", None, "momentum-ema"),
    ("anscombe-gradient", "solution.py", 100, None),
    ("anscombe-gradient", "mistakes/missing_two.py", None, "mse-missing-factor-2"),
])
def test_submissions_are_graded_on_the_exercises_own_problems(client, exercise, file, score,
                                                             diagnosis):
    response = submit(client, exercise, source(exercise, file))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    if score is not None:
        assert body["score"] == score
    else:
        assert body["score"] < 100 and body["diagnosis"][0]["id"] == diagnosis


def test_the_web_form_grades_an_exercise_with_its_own_data(app):
    browser = app.test_client()
    response = form_post(browser, "/exercises/anscombe-gradient/submit",
                         {"code": source("anscombe-gradient"), "student": ""},
                         "/exercises/anscombe-gradient")
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    page = get_page(browser, response.headers["Location"])
    assert re.search(r'<span class="score" id="score">100</span> / 100', page)
    plot = re.search(r'<img src="([^"]+)"', page).group(1)
    assert browser.get(plot, headers=HTML).data[:4] == b"\x89PNG"


def test_the_reference_explorer_offers_and_runs_an_exercises_problem(app):
    browser = app.test_client()
    page = get_page(browser, "/reference")
    assert f"<option >{HIMMELBLAU}</option>" in page or f"<option>{HIMMELBLAU}</option>" in page
    page = get_page(browser, f"/reference?problem={HIMMELBLAU}&optimizer=sgd"
                             "&learning_rates=0.01%2C+0.03&epochs=40")
    assert 'id="error"' not in page
    assert "each path over the loss contours" in page
