"""The exercise catalog: what ships, and how a broken exercise is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.catalog import default_directory, load_catalog

REQUIRED = {
    "gd", "mse-gradient", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
    "lr-step-decay", "l2-gd", "l1-proximal", "clip-norm", "minibatch-sgd",
    # an exercise's own data set, and an instructor's own problem (grader/catalog/custom.py)
    "anscombe-gradient", "himmelblau-momentum",
}


#: The bundled exercises as the course teaches them (their ``order`` in exercise.toml).
COURSE_ORDER = [
    "gd", "mse-gradient", "anscombe-gradient", "l2-gd", "minibatch-sgd", "momentum", "nesterov",
    "lr-step-decay", "adagrad", "rmsprop", "adam", "adamw", "clip-norm", "l1-proximal",
    "himmelblau-momentum",
]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_the_bundled_exercises_load_without_errors(catalog):
    assert set(catalog.exercises) == REQUIRED
    assert catalog.errors == ()


def test_kinds(catalog):
    kinds = {e.id: e.kind for e in catalog.exercises.values()}
    gradient = ("mse-gradient", "minibatch-sgd", "anscombe-gradient")
    assert {kinds[i] for i in gradient} == {"gradient"}
    assert kinds["lr-step-decay"] == "schedule"
    assert {k for i, k in kinds.items() if i not in (*gradient, "lr-step-decay")} == {
        "update_rule"}


@pytest.mark.parametrize("exercise_id", sorted(REQUIRED))
def test_every_exercise_is_complete(catalog, exercise_id):
    exercise = catalog.get(exercise_id)
    assert exercise.statement.startswith("# ") and len(exercise.statement) > 300
    assert exercise.starter and exercise.solution
    assert len(exercise.mistakes) >= 2
    assert exercise.visible_cases and len(exercise.cases) > len(exercise.visible_cases)
    # hidden cases vary the seed or the start, and the hyper-parameters where there are any
    hidden = [c for c in exercise.cases if not c.visible]
    visible = exercise.visible_cases[0]
    assert any(c.seed != visible.seed or c.x0 != visible.x0 or c.problem != visible.problem
               for c in hidden)
    if visible.hyper:
        assert any(c.hyper != visible.hyper for c in hidden)


def test_an_update_rule_sweep_teaches_something(catalog):
    # a learning rate where the reference is slow, and one beyond the limit where there is one
    from grader.engine import sweep

    for exercise_id in ("gd", "momentum", "nesterov", "l2-gd", "l1-proximal"):
        exercise = catalog.get(exercise_id)
        result = sweep(exercise.reference_spec(exercise.visible_cases[0]))
        outcomes = [run.outcome for run in result.runs]
        assert outcomes[0] == "max-steps", exercise_id
        assert outcomes[-1] == "diverged", exercise_id


def test_what_a_student_may_see(catalog):
    data = catalog.get("adam").describe(full=True)
    assert data["contract"]["signature"] == "update(params, grad, lr, state, **hyper)"
    assert set(data["contract"]["hyper"]) == {"beta1", "beta2", "eps"}
    assert [c["name"] for c in data["visible_cases"]] == ["course"]
    assert data["hidden_cases"] == 4
    assert "solution" not in data and "mistakes" not in data
    solution = (default_directory() / "adam" / "solution.py").read_text()
    body = [line.strip() for line in solution.splitlines() if "sqrt" in line]
    assert body and not any(line in str(data) for line in body)


@pytest.fixture
def scratch(tmp_path) -> Path:
    """A copy of two exercises to break one of them."""
    for name in ("gd", "adam"):
        shutil.copytree(default_directory() / name, tmp_path / name)
    return tmp_path


def _break(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    "breakage",
    [
        ("exercise.toml", "hyper = { beta1 = 0.9, beta2 = 0.999",
         "hyper = { beta1 = 1.0, beta2 = 0.999",
         "exercises/adam/exercise.toml: cases.0.hyper.beta1", "[0, 1)"),
        ("exercise.toml", 'problem = "rosenbrock"', 'problem = "rosenbrok"',
         "exercises/adam/exercise.toml: cases.1.problem", "known: linear-regression"),
        ("exercise.toml", "learning_rates = [0.005, 0.01, 0.05]",
         "learning_rates = [-0.005, 0.01, 0.05]",
         "exercises/adam/exercise.toml: cases.1.learning_rates.0", "greater than 0"),
        ("exercise.toml", 'kind = "update_rule"', 'kind = "update-rule"',
         "exercises/adam/exercise.toml: kind", "Must be one of"),
        ("exercise.toml", 'diagnosis = "adam-eps-inside-sqrt"', 'diagnosis = "made-up"',
         "exercises/adam/exercise.toml: mistakes.1.diagnosis", "unknown diagnosis"),
        ("exercise.toml", 'title = "Adam"', 'title = "Adam', "exercises/adam/exercise.toml",
         "not valid TOML"),
        ("exercise.toml", 'hyper = { beta1 = "$beta1"', 'hyper = { beta1 = "$b1"',
         "exercises/adam/exercise.toml: cases.0.reference.hyper.beta1", "$b1"),
        ("solution.py", "def update(params, grad, lr, state, beta1, beta2, eps, **hyper):",
         "def update(params, grad, lr, state, beta1, beta2, eps, **hyper)",
         "exercises/adam/solution.py: line 4", "Syntax error"),
        ("mistakes/eps_inside.py", "def update(", "def updat(",
         "exercises/adam/mistakes/eps_inside.py", "Define a function named `update`"),
    ],
)
def test_a_broken_exercise_is_refused_naming_file_and_field_and_the_others_load(
        scratch, breakage):
    file, old, new, where, words = breakage
    _break(scratch / "adam" / file, old, new)
    catalog = load_catalog(scratch)
    assert list(catalog.exercises) == ["gd"]
    messages = [str(error) for error in catalog.errors]
    assert any(m.startswith(where) and words in m for m in messages), messages


def test_a_missing_file_is_named(scratch):
    (scratch / "adam" / "README.md").unlink()
    catalog = load_catalog(scratch)
    assert [str(e) for e in catalog.errors] == ["exercises/adam/README.md: missing"]


def test_an_id_must_match_its_folder(scratch):
    (scratch / "adam").rename(scratch / "adam2")
    errors = [str(e) for e in load_catalog(scratch).errors]
    assert any("id: must match the folder name 'adam2'" in e for e in errors)


def test_folders_without_an_exercise_file_are_ignored(scratch):
    (scratch / "drafts").mkdir()
    catalog = load_catalog(scratch)
    assert set(catalog.exercises) == {"gd", "adam"} and not catalog.errors


def test_unknown_exercise_lists_the_known_ones(catalog):
    with pytest.raises(KeyError, match="known: adagrad, adam"):
        catalog.get("sgd")


def test_the_bundled_exercises_come_in_course_order(catalog):
    assert list(catalog.exercises) == COURSE_ORDER
    assert all(exercise.order is not None for exercise in catalog.exercises.values())


def _set_order(folder: Path, line: str | None) -> None:
    """Replace the ``order = ...`` line of an exercise (None: remove it)."""
    path = folder / "exercise.toml"
    kept = [old for old in path.read_text().splitlines() if not old.startswith("order =")]
    if line is not None:
        kept.insert(1, line)
    path.write_text("\n".join(kept) + "\n")


def test_order_sorts_first_and_exercises_without_one_follow_by_id(tmp_path):
    for name in ("gd", "adam", "momentum", "adagrad"):
        shutil.copytree(default_directory() / name, tmp_path / name)
    _set_order(tmp_path / "adam", "order = 5")
    _set_order(tmp_path / "gd", "order = 7")
    _set_order(tmp_path / "momentum", None)
    _set_order(tmp_path / "adagrad", None)
    catalog = load_catalog(tmp_path)
    assert not catalog.errors
    assert list(catalog.exercises) == ["adam", "gd", "adagrad", "momentum"]
    assert catalog.exercises["adagrad"].order is None


def test_equal_orders_fall_back_to_the_id(tmp_path):
    for name in ("gd", "adam"):
        shutil.copytree(default_directory() / name, tmp_path / name)
        _set_order(tmp_path / name, "order = 1")
    assert list(load_catalog(tmp_path).exercises) == ["adam", "gd"]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('order = "first"', "Not a valid integer"),
        ("order = 2.5", "Not a valid integer"),
        ("order = true", "Not a valid integer"),
        ("order = -1", "greater than or equal to 0"),
    ],
)
def test_a_bad_order_is_refused_naming_file_and_field(scratch, line, words):
    _set_order(scratch / "adam", line)
    catalog = load_catalog(scratch)
    assert list(catalog.exercises) == ["gd"]
    messages = [str(error) for error in catalog.errors]
    assert len(messages) == 1
    assert messages[0].startswith("exercises/adam/exercise.toml: order: "), messages
    assert words in messages[0]
