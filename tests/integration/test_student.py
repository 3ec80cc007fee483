"""A student's way through the service: exercises, a submission, its result and plots."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.integration.server import (
    API,
    ASCENT,
    EXERCISES,
    FORGOT_LR,
    SOLUTION,
    GdlabServer,
    assert_json_error,
    graded,
    source,
    submit,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def solved(server: GdlabServer) -> dict:
    """A correct solution of ``gd``, submitted once for the module."""
    return graded(submit(server, source(SOLUTION)))


def test_health_reports_a_working_service(server: GdlabServer) -> None:
    answer = server.get("/health")
    assert answer.status_code == 200
    health = answer.json()
    assert health["status"] == "ok"
    assert health["database"] is True
    folders = [d for d in EXERCISES.iterdir() if (d / "exercise.toml").exists()]
    assert health["exercises"] == len(folders) and health["exercise_errors"] == 0
    assert health["sandbox"]["reachable"] is True
    assert health["sandbox"]["layers_active"], health


def test_list_exercises(server: GdlabServer) -> None:
    answer = server.get(f"{API}/exercises")
    assert answer.status_code == 200
    items = answer.json()["items"]
    ids = [item["id"] for item in items]
    # The course's order (``order`` in exercise.toml), not the alphabet.
    assert ids[:2] == ["gd", "mse-gradient"] and ids[-1] == "himmelblau-momentum"
    assert ids.index("momentum") < ids.index("adam") < ids.index("adamw")
    assert {"gd", "adam", "momentum", "mse-gradient", "lr-step-decay"} <= set(ids)
    gd = next(item for item in items if item["id"] == "gd")
    assert gd["kind"] == "update_rule" and gd["version"] == 1 and gd["title"]
    assert gd["links"]["self"] == f"{API}/exercises/gd"
    assert gd["links"]["submit"] == f"{API}/submissions"


def test_get_one_exercise_without_its_secrets(server: GdlabServer) -> None:
    answer = server.get(f"{API}/exercises/gd")
    assert answer.status_code == 200
    exercise = answer.json()
    assert exercise["id"] == "gd"
    assert exercise["starter"] == source("gd/starter.py")
    assert "def update(" in exercise["starter"]
    assert exercise["contract"]["entry"] == "update"
    assert exercise["contract"]["signature"].startswith("update(params, grad, lr, state")
    assert exercise["statement"].strip()
    (course,) = exercise["visible_cases"]
    assert course["name"] == "course" and course["problem"] == "linear-regression"
    assert course["learning_rates"] == [0.01, 0.1, 0.5, 0.9]
    assert course["epochs"] == 100
    assert exercise["hidden_cases"] == 3
    weights = exercise["scoring"]["weights"]
    assert sum(weights.values()) == pytest.approx(1.0)
    # never the solution, never the hidden cases' inputs
    text = answer.text
    assert "solution" not in exercise and "mistakes" not in exercise
    assert "banana" not in text and "regression-other-data" not in text  # hidden case names
    assert "[1.0, -2.0, 0.5]" not in text  # a hidden start


def test_unknown_exercise_is_a_json_404(server: GdlabServer) -> None:
    body = assert_json_error(server.get(f"{API}/exercises/no-such-exercise"), 404)
    assert "gd" in body["message"]  # names the known ones


def test_correct_solution_scores_100(server: GdlabServer, solved: dict) -> None:
    assert solved["score"] == 100
    assert solved["exercise"] == "gd" and solved["exercise_version"] == 1
    assert solved["student"] is None
    assert solved["sandbox"]["verdict"] == "ok"
    assert solved["diagnosis"] == []
    assert solved["error"] is None
    assert [run["lr"] for run in solved["runs"]] == [0.01, 0.1, 0.5, 0.9]
    assert all(run["verdict"] == "match" and run["score"] == 100 for run in solved["runs"])
    assert all(run["first_disagreement"] is None for run in solved["runs"])
    assert solved["hidden"]["runs"] == 8 and solved["hidden"]["score"] == 100
    assert solved["replay"]["exercise"] == "gd"
    links = solved["links"]
    assert links["self"] == f"{API}/submissions/{solved['id']}"
    assert links["plot_png"] == f"{API}/submissions/{solved['id']}/plot.png"
    assert links["plot_svg"] == f"{API}/submissions/{solved['id']}/plot.svg"


@pytest.mark.parametrize(("mistake", "diagnosis", "ceiling"), [
    (ASCENT, "sign-flip", 0.0),
    (FORGOT_LR, "lr-ignored", 30.0),
    ("gd/mistakes/returns_step.py", "returns-step", 30.0),
])
def test_wrong_solution_is_diagnosed(server: GdlabServer, mistake: str, diagnosis: str,
                                     ceiling: float) -> None:
    result = graded(submit(server, source(mistake)))
    assert result["score"] < 100
    assert result["score"] <= ceiling
    assert result["sandbox"]["verdict"] == "ok"  # it ran; it is just wrong
    assert [d["id"] for d in result["diagnosis"]][:1] == [diagnosis]
    assert result["diagnosis"][0]["message"].strip()
    assert result["feedback"].strip()
    assert any(run["verdict"] != "match" for run in result["runs"])
    differing = [run for run in result["runs"] if run["first_disagreement"] is not None]
    assert differing and all(run["first_disagreement"]["step"] >= 1 for run in differing)


def test_result_by_id(server: GdlabServer, solved: dict) -> None:
    answer = server.get(solved["links"]["self"])
    assert answer.status_code == 200
    again = answer.json()
    for key in ("id", "score", "status", "runs", "hidden", "diagnosis", "exercise", "replay"):
        assert again[key] == solved[key], key


def test_unknown_submission_is_a_json_404(server: GdlabServer) -> None:
    assert_json_error(server.get(f"{API}/submissions/AAAAAAAAAAAAAAAA"), 404)
    assert_json_error(server.get(f"{API}/submissions/AAAAAAAAAAAAAAAA/plot.png"), 404)


def test_plot_png_and_conditional_get(server: GdlabServer, solved: dict) -> None:
    answer = server.get(solved["links"]["plot_png"])
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.content.startswith(PNG_MAGIC)
    assert len(answer.content) > 1000
    etag = answer.headers["ETag"]
    assert etag
    assert "max-age" in answer.headers["Cache-Control"]
    # the same plot again: same bytes, same tag
    again = server.get(solved["links"]["plot_png"])
    assert again.content == answer.content and again.headers["ETag"] == etag
    # conditional: 304 without a body
    cached = server.get(solved["links"]["plot_png"], headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.content == b""
    # another tag: the full plot
    other = server.get(solved["links"]["plot_png"], headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200 and other.content == answer.content


def test_plot_svg_is_real_svg(server: GdlabServer, solved: dict) -> None:
    answer = server.get(solved["links"]["plot_svg"])
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(answer.content)
    assert root.tag in ("svg", "{http://www.w3.org/2000/svg}svg")
    assert len(list(root.iter())) > 50  # axes, curves, labels: not an empty picture
    etag = answer.headers["ETag"]
    assert etag != server.get(solved["links"]["plot_png"]).headers["ETag"]
    cached = server.get(solved["links"]["plot_svg"], headers={"If-None-Match": etag})
    assert cached.status_code == 304


def test_plot_of_a_wrong_solution(server: GdlabServer) -> None:
    result = graded(submit(server, source(ASCENT)))
    answer = server.get(result["links"]["plot_png"])
    assert answer.status_code == 200 and answer.content.startswith(PNG_MAGIC)


def test_plot_in_an_unknown_format_is_a_json_404(server: GdlabServer, solved: dict) -> None:
    body = assert_json_error(server.get(f"{API}/submissions/{solved['id']}/plot.gif"), 404)
    assert "png" in body["message"]


def test_named_submission_in_open_mode(server: GdlabServer) -> None:
    result = graded(submit(server, source(SOLUTION), student="ada lovelace"))
    assert result["student"] == "ada lovelace"
    # open mode: a named but unregistered submission is readable by its id
    assert server.get(result["links"]["self"]).status_code == 200


def test_catalogues_and_limits(server: GdlabServer) -> None:
    problems = server.get(f"{API}/problems").json()["items"]
    assert {p["name"] for p in problems} >= {"linear-regression", "quadratic", "rosenbrock"}
    optimizers = server.get(f"{API}/optimizers").json()["items"]
    adam = next(o for o in optimizers if o["name"] == "adam")
    assert {o["name"] for o in adam["options"]} >= {"beta1", "beta2", "eps"}
    limits = server.get(f"{API}/limits").json()
    assert limits["sandbox"]["code_limit"] == 64 * 1024
    assert limits["service"]["max_request_bytes"] == 2 * 1024 * 1024
    assert limits["service"]["rate_limit"] == "off"
    assert limits["student_auth"] == "open"
