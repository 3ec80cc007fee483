"""Runs of the reference engine over HTTP: run, cached run, JSON, CSV, plots."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest

from tests.integration.server import API, GdlabServer, assert_json_error

#: The course example of the README (linear regression, plain GD, 100 epochs).
COURSE = {"problem": "linear-regression", "optimizer": "sgd",
          "learning_rates": [0.01, 0.1, 0.5], "epochs": 100}


@pytest.fixture(scope="module")
def course(server: GdlabServer) -> dict:
    """The course example, posted for the first time on this server."""
    answer = server.post(f"{API}/reference/runs", json=COURSE)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert answer.headers["Location"] == body["links"]["self"]
    return body


def test_the_course_example_number_for_number(course: dict) -> None:
    assert course["cached"] is False
    result = course["result"]
    runs = result["runs"]
    assert [run["lr"] for run in runs] == [0.01, 0.1, 0.5]
    # the table of the README (its "final loss" is the last recorded one, before the
    # last update; final_loss is after it, so a little lower)
    assert [run["losses"][-1] for run in runs] == pytest.approx([0.3583, 0.03392, 0.008149],
                                                                rel=1e-3)
    assert all(run["final_loss"] <= run["losses"][-1] for run in runs)
    assert [run["outcome"] for run in runs] == ["max-steps", "max-steps", "converged"]
    assert runs[2]["steps_to_tolerance"] == 76
    assert all(run["losses"][0] == pytest.approx(10.73, rel=1e-3) for run in runs)
    assert all(len(run["losses"]) == 100 for run in runs)
    assert result["stability"]["gd_max_lr"] == pytest.approx(0.7887, rel=1e-3)
    links = course["links"]
    assert links["self"] == f"{API}/reference/runs/{course['id']}"
    assert links["csv"] == f"{API}/reference/runs/{course['id']}.csv"


def test_the_same_run_again_is_cached(server: GdlabServer, course: dict) -> None:
    again = server.post(f"{API}/reference/runs", json=COURSE)
    assert again.status_code == 200
    body = again.json()
    assert body["cached"] is True
    assert body["id"] == course["id"]
    assert body["result"] == course["result"]


def test_another_spelling_of_the_same_run_is_cached(server: GdlabServer, course: dict) -> None:
    spelled = {**COURSE, "hyper": {"momentum": 0}, "init": "shared",
               "schedule": {"name": "constant"}}
    answer = server.post(f"{API}/reference/runs", json=spelled)
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == course["id"] and answer.json()["cached"] is True


def test_a_different_run_has_another_id(server: GdlabServer, course: dict) -> None:
    answer = server.post(f"{API}/reference/runs",
                         json={**COURSE, "learning_rates": [0.01, 0.1, 0.9]})
    assert answer.status_code == 201
    other = answer.json()
    assert other["id"] != course["id"]
    assert other["result"]["runs"][2]["outcome"] == "diverged" or \
        other["result"]["runs"][2]["final_loss"] > course["result"]["runs"][2]["final_loss"]


def test_get_a_run(server: GdlabServer, course: dict) -> None:
    answer = server.get(course["links"]["self"])
    assert answer.status_code == 200
    body = answer.json()
    assert body["id"] == course["id"]
    assert body["result"] == course["result"]
    assert body["request"] == course["request"]


def test_run_as_csv(server: GdlabServer, course: dict) -> None:
    answer = server.get(course["links"]["csv"])
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    header, data = rows[0], rows[1:]
    assert header[:3] == ["lr", "step", "loss"]
    assert len(header) == 5  # then w and b
    runs = course["result"]["runs"]
    for run in runs:
        mine = [row for row in data if float(row[0]) == run["lr"]]
        assert len(mine) >= len(run["losses"])
        by_step = {int(row[1]): row for row in mine}
        assert float(by_step[0][2]) == pytest.approx(run["losses"][0], rel=1e-12)
        assert float(by_step[99][2]) == pytest.approx(run["losses"][99], rel=1e-12)
        assert [float(x) for x in by_step[0][3:]] == pytest.approx(run["params"][0], rel=1e-12)


def test_run_plots(server: GdlabServer, course: dict) -> None:
    png = server.get(course["links"]["plot_png"])
    assert png.status_code == 200
    assert png.headers["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert server.get(course["links"]["plot_png"],
                      headers={"If-None-Match": png.headers["ETag"]}).status_code == 304
    svg = server.get(course["links"]["plot_svg"])
    assert svg.status_code == 200
    assert svg.headers["Content-Type"].startswith("image/svg+xml")
    assert ET.fromstring(svg.content).tag.endswith("svg")


def test_unknown_run_is_a_json_404(server: GdlabServer) -> None:
    for path in ("", ".csv", "/plot.png"):
        assert_json_error(server.get(f"{API}/reference/runs/000000000000000000000000{path}"),
                          404)


def test_the_default_run_is_the_course_example(server: GdlabServer, course: dict) -> None:
    answer = server.post(f"{API}/reference/runs",
                         json={"problem": "linear-regression", "optimizer": "sgd"})
    assert answer.status_code == 200, answer.text  # the defaults are the course's
    assert answer.json()["id"] == course["id"]


def test_adam_on_rosenbrock(server: GdlabServer) -> None:
    answer = server.post(f"{API}/reference/runs", json={
        "problem": "rosenbrock", "optimizer": "adam", "learning_rates": [0.01, 0.05],
        "epochs": 300, "hyper": {"beta1": 0.9, "beta2": 0.999}})
    assert answer.status_code == 201, answer.text
    runs = answer.json()["result"]["runs"]
    assert len(runs) == 2
    assert all(run["final_loss"] < run["losses"][0] for run in runs)
    assert all(len(run["final_params"]) == 2 for run in runs)
