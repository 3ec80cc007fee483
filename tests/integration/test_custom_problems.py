"""An exercise's own problems on a live server, over HTTP: graded, run by the reference
API by exercise-qualified name, and a broken instructor module refused on reload with its
file and reason while the other exercises keep working."""

from __future__ import annotations

import shutil

import pytest

from tests.integration.server import API, EXERCISES, GdlabServer, graded, source, submit

HIMMELBLAU = "himmelblau-momentum/himmelblau"


def test_an_exercise_with_its_own_problem_is_graded(server: GdlabServer) -> None:
    body = graded(submit(server, source("himmelblau-momentum/solution.py"),
                         exercise="himmelblau-momentum"))
    assert body["score"] == 100
    wrong = graded(submit(server, source("himmelblau-momentum/mistakes/ema.py"),
                          exercise="himmelblau-momentum"))
    assert wrong["score"] < 100 and wrong["diagnosis"][0]["id"] == "momentum-ema"
    plot = server.get(body["links"]["plot_png"])
    assert plot.status_code == 200 and plot.content[:4] == b"\x89PNG"


def test_an_exercise_with_its_own_data_is_graded(server: GdlabServer) -> None:
    body = graded(submit(server, source("anscombe-gradient/solution.py"),
                         exercise="anscombe-gradient"))
    assert body["score"] == 100 and body["runs"][0]["case"] == "set-1"


def test_the_reference_api_runs_an_exercises_problem(server: GdlabServer) -> None:
    answer = server.post(f"{API}/reference/runs", json={
        "problem": HIMMELBLAU, "optimizer": "adam", "learning_rates": [0.1, 0.5],
        "epochs": 60, "x0": [1.0, -3.0]})
    assert answer.status_code == 201, answer.text
    result = answer.json()["result"]
    assert result["problem_info"]["name"] == HIMMELBLAU
    assert result["convergence_criterion"] == "loss-gap" and result["target_loss"] == 0
    assert server.get(answer.json()["links"]["plot_svg"]).content.lstrip().startswith(b"<?xml")


@pytest.fixture
def exercises_dir(tmp_path):
    for exercise_id in ("gd", "himmelblau-momentum"):
        shutil.copytree(EXERCISES / exercise_id, tmp_path / exercise_id)
    return tmp_path


def test_a_broken_module_is_refused_on_reload_and_the_rest_keeps_working(
        launch, exercises_dir, instructor) -> None:
    server = launch(env={"GDLAB_EXERCISES_DIR": str(exercises_dir)}, name="custom")
    assert server.get("/health").json()["exercises"] == 2
    (exercises_dir / "himmelblau-momentum" / "himmelblau.py").write_text(
        "import numpy as np\nraise RuntimeError('the instructor is not done yet')\n")
    answer = server.post(f"{API}/exercises/reload", headers=instructor)
    assert answer.status_code == 200
    assert answer.json() == {"exercises": 1, "errors": [
        "exercises/himmelblau-momentum/himmelblau.py: line 2: raises RuntimeError when "
        "imported: the instructor is not done yet"]}
    assert server.get(f"{API}/exercises/himmelblau-momentum").status_code == 404
    refused = server.post(f"{API}/reference/runs", json={"problem": HIMMELBLAU,
                                                         "optimizer": "sgd"})
    assert refused.status_code == 422 and "unknown problem" in refused.json()["message"]
    assert graded(submit(server, source("gd/solution.py")))["score"] == 100
    server.stop()
