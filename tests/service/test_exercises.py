"""The exercises as students see them (never hidden inputs, never a solution), and the
instructors' reload reaching every process through the database."""

from __future__ import annotations

import json
import shutil

import pytest

import service.state
from grader.catalog import load_catalog

from .conftest import API, EXERCISES, INSTRUCTOR, assert_error, bearer

CATALOG = load_catalog()
IDS = sorted(CATALOG.exercises)
#: The bundled exercises as the course teaches them (``order`` in their exercise.toml).
COURSE_ORDER = [
    "gd", "mse-gradient", "anscombe-gradient", "l2-gd", "minibatch-sgd", "momentum", "nesterov",
    "lr-step-decay", "adagrad", "rmsprop", "adam", "adamw", "clip-norm", "l1-proximal",
    "himmelblau-momentum",
]
DETAIL_FIELDS = {"id", "title", "version", "kind", "summary", "links", "statement", "starter",
                 "contract", "visible_cases", "hidden_cases", "scoring"}


def secret_lines(exercise_id: str) -> list[str]:
    """Lines of the solution and the known mistakes that neither the starter nor the
    statement shows (so they must never appear in what a student can read)."""
    folder = EXERCISES / exercise_id
    shown = (folder / "starter.py").read_text() + (folder / "README.md").read_text()
    files = [folder / "solution.py", *sorted((folder / "mistakes").glob("*.py"))]
    lines = {line.strip() for path in files for line in path.read_text().splitlines()}
    return sorted(line for line in lines if len(line) > 8 and line not in shown)


def test_the_list_names_every_exercise_with_a_link(client):
    response = client.get(f"{API}/exercises")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert sorted(item["id"] for item in items) == IDS
    for item in items:
        exercise = CATALOG.get(item["id"])
        assert item["title"] == exercise.title and item["version"] == exercise.version
        assert item["kind"] == exercise.kind and item["summary"] == exercise.summary
        assert item["links"]["self"] == f"{API}/exercises/{item['id']}"
        assert item["links"]["submit"] == f"{API}/submissions"
        # the list is a summary: no statement, code or cases
        assert set(item) == {"id", "title", "version", "kind", "summary", "links"}



def test_the_list_is_in_course_order(client):
    items = client.get(f"{API}/exercises").get_json()["items"]
    assert [item["id"] for item in items] == COURSE_ORDER


@pytest.mark.parametrize("exercise_id", IDS)
def test_an_exercise_in_full_shows_what_a_student_needs(client, exercise_id):
    exercise = CATALOG.get(exercise_id)
    response = client.get(f"{API}/exercises/{exercise_id}")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == DETAIL_FIELDS
    assert body["statement"] == exercise.statement and body["statement"].strip()
    assert body["starter"] == (EXERCISES / exercise_id / "starter.py").read_text()
    assert body["contract"]["entry"] == exercise.entry
    assert body["contract"]["signature"].startswith(f"{exercise.entry}(")
    assert body["contract"]["hyper"] == list(exercise.hyper_names)
    visible = [case for case in exercise.cases if case.visible]
    assert visible, "every bundled exercise shows at least one case"
    assert [case["name"] for case in body["visible_cases"]] == [c.name for c in visible]
    assert body["visible_cases"][0]["learning_rates"] == list(visible[0].learning_rates)
    assert body["hidden_cases"] == len(exercise.cases) - len(visible) > 0
    weights = body["scoring"]["weights"]
    assert weights == {"agreement": exercise.scoring.agreement,
                       "outcome": exercise.scoring.outcome,
                       "progress": exercise.scoring.progress}
    assert body["scoring"]["atol"] == exercise.scoring.atol
    assert body["scoring"]["rtol"] == exercise.scoring.rtol


@pytest.mark.parametrize("exercise_id", IDS)
def test_an_exercise_never_shows_hidden_inputs_the_solution_or_the_mistakes(client,
                                                                            exercise_id):
    exercise = CATALOG.get(exercise_id)
    text = client.get(f"{API}/exercises/{exercise_id}").get_data(as_text=True)
    body = json.loads(text)
    for line in secret_lines(exercise_id):
        assert line not in text, line
    # outside the statement and the starter (prose and code the author wrote for
    # students), no hidden case appears by name or by its learning rates
    structured = json.dumps({k: v for k, v in body.items() if k not in ("statement", "starter")})
    for case in exercise.cases:
        if not case.visible:
            assert json.dumps(case.name) not in structured, case.name
            assert json.dumps(list(case.learning_rates))[1:-1] not in structured, case.name
    assert "solution" not in body and "mistakes" not in body and "cases" not in body


def test_secret_lines_are_really_checked():
    # the check above would pass vacuously if nothing were left to look for
    assert all(len(secret_lines(exercise_id)) >= 2 for exercise_id in IDS)
    assert any("params + lr * grad" in line for line in secret_lines("gd"))


@pytest.mark.parametrize("exercise_id", ["nope", "GD", "gd.py", "..", "gd%00"])
def test_an_unknown_exercise_is_a_json_404(client, exercise_id):
    body = assert_error(client.get(f"{API}/exercises/{exercise_id}"), 404)
    if exercise_id == "nope":
        assert "'nope'" in body["message"] and "gd" in body["message"]


# --- reload --------------------------------------------------------------------------------


@pytest.fixture
def exercises_dir(tmp_path):
    """A copy of the bundled exercises that a test may change."""
    target = tmp_path / "exercises"
    shutil.copytree(EXERCISES, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_reload_needs_the_instructor(client):
    assert_error(client.post(f"{API}/exercises/reload"), 401)
    assert_error(client.post(f"{API}/exercises/reload", headers=bearer("not-a-token")), 401)


def test_reload_reads_the_folders_again_and_names_a_broken_exercise(make_app, exercises_dir):
    app = make_app(exercises_dir=exercises_dir)
    client = app.test_client()
    assert client.post(f"{API}/exercises/reload", headers=INSTRUCTOR).get_json() == {
        "exercises": 15, "errors": []}
    toml = exercises_dir / "adam" / "exercise.toml"
    toml.write_text(toml.read_text().replace("beta1 = 0.9,", "beta1 = 1.0,", 1))
    shutil.rmtree(exercises_dir / "gd")
    response = client.post(f"{API}/exercises/reload", headers=INSTRUCTOR)
    assert response.status_code == 200
    body = response.get_json()
    assert body["exercises"] == 13
    assert len(body["errors"]) == 1
    assert "adam" in body["errors"][0] and "beta1" in body["errors"][0]
    ids = [item["id"] for item in client.get(f"{API}/exercises").get_json()["items"]]
    assert "adam" not in ids and "gd" not in ids and len(ids) == 13
    assert_error(client.get(f"{API}/exercises/gd"), 404)
    assert client.get("/health").get_json()["exercise_errors"] == 1


def test_a_reload_reaches_another_process_sharing_the_database(make_app, exercises_dir,
                                                               tmp_path, monkeypatch):
    data = tmp_path / "shared-data"
    first = make_app(data_dir=data, exercises_dir=exercises_dir).test_client()
    second = make_app(data_dir=data, exercises_dir=exercises_dir).test_client()
    monkeypatch.setattr(service.state, "CATALOG_CHECK_INTERVAL", 0)
    toml = exercises_dir / "gd" / "exercise.toml"
    toml.write_text(toml.read_text().replace('title = "Gradient descent"',
                                             'title = "Plain gradient descent"'))

    def title(client):
        return client.get(f"{API}/exercises/gd").get_json()["title"]

    # a changed folder is not read until an instructor reloads
    assert title(first) == title(second) == "Gradient descent"
    assert first.post(f"{API}/exercises/reload", headers=INSTRUCTOR).status_code == 200
    assert title(first) == "Plain gradient descent"
    assert title(second) == "Plain gradient descent"
