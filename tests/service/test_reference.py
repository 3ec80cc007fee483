"""Reference runs over the API: run or find a sweep, read it, its CSV and its plot; every
invalid request a 422 naming its field."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from service.models import ReferenceRun

from .conftest import API, assert_error, services_of

RUNS = f"{API}/reference/runs"
MINIMAL = {"problem": "linear-regression", "optimizer": "sgd"}
#: The minimal request with the engine's defaults spelt out, ints where floats go.
EXPLICIT = {"problem": "linear-regression", "optimizer": "sgd",
            "problem_options": {"n_samples": 100, "noise": 0.1},
            "hyper": {"momentum": 0, "dampening": 0, "nesterov": False, "weight_decay": 0,
                      "maximize": False},
            "learning_rates": [0.01, 0.1, 0.5], "epochs": 100, "init": "shared",
            "seed": None, "x0": None, "batch_size": None, "tolerance": 1e-6,
            "schedule": {"name": "constant"}, "regularizer": {"name": "none", "options": {}},
            "clip": {"name": "none"}}


@pytest.fixture(scope="module")
def course(client):
    """The course experiment, run once for the module."""
    response = client.post(RUNS, json=MINIMAL)
    assert response.status_code == 201, response.get_json()
    return response


def count_runs(app) -> int:
    with services_of(app).db.session() as session:
        return session.scalar(select(func.count()).select_from(ReferenceRun))


def test_a_minimal_request_runs_the_course_experiment(course):
    body = course.get_json()
    assert body["cached"] is False
    assert course.headers["Location"] == f"{API}/reference/runs/{body['id']}"
    assert body["links"]["self"] == course.headers["Location"]
    result = body["result"]
    assert [run["lr"] for run in result["runs"]] == [0.01, 0.1, 0.5]
    assert [run["outcome"] for run in result["runs"]] == ["max-steps", "max-steps", "converged"]
    for run in result["runs"]:
        assert len(run["losses"]) == len(run["params"]) == 100
        assert run["final_loss"] < run["losses"][0]
    # the README's course numbers
    assert result["runs"][0]["losses"][0] == pytest.approx(10.73, abs=0.005)
    assert result["runs"][2]["final_loss"] == pytest.approx(0.008149, rel=1e-3)
    assert result["stability"]["gd_max_lr"] == pytest.approx(0.7887, abs=1e-4)
    assert body["request"]["optimizer"] == "sgd" and body["request"]["epochs"] == 100


def test_the_same_run_spelt_differently_is_found_not_run_again(client, app, course):
    before = count_runs(app)
    for spelling in (MINIMAL, EXPLICIT):
        response = client.post(RUNS, json=spelling)
        assert response.status_code == 200
        body = response.get_json()
        assert body["cached"] is True and body["id"] == course.get_json()["id"]
        assert body["result"] == course.get_json()["result"]
    assert count_runs(app) == before


def test_ints_and_floats_are_the_same_number(client):
    as_ints = client.post(RUNS, json={**MINIMAL, "learning_rates": [1, 0.5], "epochs": 20,
                                      "hyper": {"momentum": 0}})
    as_floats = client.post(RUNS, json={**MINIMAL, "learning_rates": [1.0, 0.5], "epochs": 20,
                                        "hyper": {"momentum": 0.0}})
    assert (as_ints.status_code, as_floats.status_code) == (201, 200)
    assert as_ints.get_json()["id"] == as_floats.get_json()["id"]


def test_a_different_run_has_another_id(client, course):
    response = client.post(RUNS, json={**MINIMAL, "hyper": {"momentum": 0.9}})
    assert response.status_code == 201
    assert response.get_json()["id"] != course.get_json()["id"]
    assert response.get_json()["result"]["hyper"]["momentum"] == 0.9


def test_a_kept_run_is_read_by_id(client, course):
    response = client.get(course.headers["Location"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["cached"] is True
    assert {k: body[k] for k in ("id", "request", "result", "links")} == {
        k: course.get_json()[k] for k in ("id", "request", "result", "links")}


def test_an_unknown_run_is_a_json_404(client):
    for suffix in ("", ".csv", "/plot.png"):
        body = assert_error(client.get(f"{RUNS}/0123456789abcdef01234567{suffix}"), 404)
        assert "0123456789abcdef01234567" in body["message"]


def test_the_csv_has_a_row_per_learning_rate_and_step(client, course):
    body = course.get_json()
    response = client.get(body["links"]["csv"])
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["lr", "step", "loss", "w", "b"]
    runs = body["result"]["runs"]
    assert len(rows) - 1 == len(runs) * body["request"]["epochs"] == 300
    first, last = rows[1], rows[-1]
    assert float(first[0]) == runs[0]["lr"] and first[1] == "0"
    assert float(first[2]) == runs[0]["losses"][0]
    assert [float(x) for x in first[3:]] == runs[0]["params"][0]
    assert float(last[0]) == runs[-1]["lr"] and last[1] == "99"
    assert float(last[2]) == runs[-1]["losses"][-1]


def test_the_csv_of_a_diverging_sweep_stops_where_each_run_stopped(client):
    response = client.post(RUNS, json={**MINIMAL, "learning_rates": [0.1, 1.0, 5.0],
                                       "epochs": 50})
    runs = response.get_json()["result"]["runs"]
    assert [run["outcome"] for run in runs] == ["max-steps", "diverged", "diverged"]
    assert len(runs[2]["losses"]) < len(runs[1]["losses"]) < 50 == len(runs[0]["losses"])
    text = client.get(response.get_json()["links"]["csv"]).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert len(rows) == sum(len(run["losses"]) for run in runs)
    assert [float(row[0]) for row in rows].count(5.0) == len(runs[2]["losses"])
    assert client.get(response.get_json()["links"]["plot_svg"]).status_code == 200


def test_the_plot_is_a_png_or_an_svg(client, course):
    links = course.get_json()["links"]
    png = client.get(links["plot_png"])
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert png.headers["ETag"] and "max-age" in png.headers["Cache-Control"]
    assert client.get(links["plot_png"],
                      headers={"If-None-Match": png.headers["ETag"]}).status_code == 304
    svg = client.get(links["plot_svg"])
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.data.lstrip().startswith((b"<?xml", b"<svg"))
    assert_error(client.get(links["plot_png"].replace(".png", ".jpg")), 404)


@pytest.mark.parametrize(("request_body", "field", "words"), [
    pytest.param({"optimizer": "adam", "hyper": {"beta1": 1}}, "hyper.beta1", "[0, 1)",
                 id="adam-beta1-1"),
    pytest.param({"optimizer": "adam", "hyper": {"beta2": 1.5}}, "hyper.beta2", "[0, 1)",
                 id="adam-beta2"),
    pytest.param({"optimizer": "sgdx"}, "optimizer", "unknown optimizer", id="unknown-optimizer"),
    pytest.param({"problem": "linreg"}, "problem", "unknown problem", id="unknown-problem"),
    pytest.param({"hyper": {"momentum": 0.9, "nesterov": True, "dampening": 0.1}},
                 "hyper.nesterov", "dampening", id="nesterov-dampening"),
    pytest.param({"hyper": {"betas": 0.9}}, "hyper.betas", "unknown setting",
                 id="unknown-hyper"),
    pytest.param({"hyper": {"momentum": "0.9"}}, "hyper.momentum", "number",
                 id="hyper-a-string"),
    pytest.param({"hyper": {"momentum": True}}, "hyper.momentum", "number", id="hyper-a-bool"),
    pytest.param({"learning_rates": [-0.1]}, "learning_rates", "above 0", id="negative-lr"),
    pytest.param({"learning_rates": [0.1, 0]}, "learning_rates", "above 0", id="zero-lr"),
    pytest.param({"learning_rates": []}, "learning_rates", "", id="no-lr"),
    pytest.param({"learning_rates": [1e7]}, "learning_rates[0]", "at most", id="lr-too-big"),
    pytest.param({"learning_rates": [0.01] * 10_000}, "learning_rates", "at most 32",
                 id="10000-learning-rates"),
    pytest.param({"epochs": 0}, "epochs", "greater than or equal to 1", id="epochs-0"),
    pytest.param({"epochs": -5}, "epochs", "", id="epochs-negative"),
    pytest.param({"epochs": 10**9}, "epochs", "at most 10000", id="epochs-huge"),
    pytest.param({"epochs": 100.5}, "epochs", "integer", id="epochs-fraction"),
    pytest.param({"epochs": "100"}, "epochs", "integer", id="epochs-a-string"),
    pytest.param({"problem": "logistic-regression", "batch_size": 1, "epochs": 10_000},
                 "epochs", "updates", id="too-many-mini-batch-steps"),
    pytest.param({"problem": "quadratic", "problem_options": {"dim": 0}},
                 "problem_options.dim", "[1, 100]", id="problem-option-range"),
    pytest.param({"schedule": {"name": "nope"}}, "schedule", "unknown schedule",
                 id="unknown-schedule"),
    pytest.param({"schedule": {"name": "step", "size": 3}}, "schedule.size", "Unknown field",
                 id="schedule-unknown-field"),
    pytest.param({"x0": [1, 2, 3]}, "x0", "2 parameters", id="x0-wrong-size"),
    pytest.param({"init": "legacy", "x0": [1, 2]}, "x0", "legacy", id="x0-with-legacy"),
    pytest.param({"seed": -1}, "seed", "", id="negative-seed"),
    pytest.param({"tolerance": 2}, "tolerance", "1", id="tolerance"),
    pytest.param({"init": "random"}, "init", "shared", id="unknown-init"),
    pytest.param({"colour": "red"}, "colour", "Unknown field", id="unknown-field"),
])
def test_an_invalid_run_is_a_422_naming_the_field(client, app, request_body, field, words):
    before = count_runs(app)
    body = assert_error(client.post(RUNS, json={**MINIMAL, **request_body}), 422)
    assert field in body["errors"], body
    assert words in " ".join(body["errors"][field])
    assert body["message"].startswith(field) or field in body["message"]
    assert count_runs(app) == before


@pytest.mark.parametrize("literal", [b"1" + b"0" * 400, b"-" + b"9" * 400, b"1e400", b"NaN"])
def test_a_number_too_large_for_a_float_is_a_400_anywhere(client, literal):
    bodies = [
        b'{"problem": "linear-regression", "optimizer": "sgd", "hyper": {"momentum": %s}}',
        b'{"problem": "quadratic", "optimizer": "sgd", "problem_options": {"condition": %s}}',
        b'{"problem": "linear-regression", "optimizer": "sgd", "seed": %s}',
    ]
    for template in bodies:
        response = client.post(RUNS, data=template % literal,
                               content_type="application/json")
        body = assert_error(response, 400)
        assert "number" in body["message"]
