"""Grading on an exercise's own problems, for real through the sandbox: an update rule on
a data set (its numbers travel in the job; mini-batches index them in the child) and on an
instructor's module (its source runs in the child), scored and diagnosed as on the
engine's own problems."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest

from grader.catalog import default_directory, load_catalog
from grader.engine.problems import REGISTERED
from grader.grading import Grader
from grader.sandbox import Sandbox
from grader.selfcheck import check_exercise

from ..sandbox.conftest import needs_root

pytestmark = needs_root

CASES = '''
[[problems]]
name = "exam"
data = "exam.csv"
model = "logistic"
features = ["hours", "sleep"]
target = "passed"
standardize = true
lam = 0.05

[[problems]]
name = "himmelblau"
module = "himmelblau.py"

[[cases]]
name = "exam"
visible = true
problem = "exam"
learning_rates = [0.01, 0.1, 0.5]
hyper = { beta1 = 0.9, beta2 = 0.999, eps = 1e-8 }

[[cases]]
name = "exam-mini-batches"
problem = "exam"
batch_size = 16
epochs = 20
learning_rates = [0.02, 0.2]
hyper = { beta1 = 0.8, beta2 = 0.99, eps = 1e-6 }

[[cases]]
name = "himmelblau"
problem = "himmelblau"
x0 = [1.0, -3.0]
learning_rates = [0.05, 0.3]
hyper = { beta1 = 0.7, beta2 = 0.95, eps = 1e-8 }
'''


@pytest.fixture(scope="module")
def exercises(tmp_path_factory):
    """The bundled Adam exercise graded on a logistic data set of its own and on the
    Himmelblau module."""
    kept = dict(REGISTERED)
    root = tmp_path_factory.mktemp("exercises")
    folder = root / "adam"
    shutil.copytree(default_directory() / "adam", folder)
    shutil.copy(default_directory() / "himmelblau-momentum" / "himmelblau.py", folder)
    rng = np.random.default_rng(11)
    with (folder / "exam.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["hours", "sleep", "passed"])
        for _ in range(50):
            hours, sleep = rng.uniform(0, 10), rng.uniform(4, 9)
            passed = int(0.6 * hours + 0.5 * sleep + rng.normal(0, 1.5) > 6)
            writer.writerow([f"{hours:.2f}", f"{sleep:.1f}", passed])
    toml = folder / "exercise.toml"
    head, _, rest = toml.read_text().partition("[[cases]]")
    mistakes = "[[mistakes]]" + rest.split("[[mistakes]]", 1)[1]
    toml.write_text(head + CASES + "\n" + mistakes)
    catalog = load_catalog(root)
    assert catalog.errors == ()
    yield catalog
    REGISTERED.clear()
    REGISTERED.update(kept)


@pytest.fixture(scope="module")
def grader(exercises):
    with Sandbox() as sandbox:
        yield Grader(exercises, sandbox)


def test_the_cases_run_on_the_data_set_and_the_module(exercises):
    problems = [case.problem for case in exercises.get("adam").cases]
    assert problems == ["adam/exam", "adam/exam", "adam/himmelblau"]


def test_the_solution_scores_100_and_every_mistake_gets_its_diagnosis(grader, exercises):
    # (whether these few hidden cases separate every mistake is a question of case design,
    # which the bundled exercises answer; here it is the problems that are under test)
    checks = [check for check in check_exercise(grader, exercises.get("adam"))
              if check.file != "hidden cases"]
    assert len(checks) == 2 + len(exercises.get("adam").mistakes)
    assert all(check.passed for check in checks), [c.line() for c in checks if not c.passed]


def test_a_rule_right_only_on_the_visible_data_loses_the_hidden_runs(grader, exercises):
    solution = exercises.get("adam").solution
    # Adam with the visible case's betas hard-coded: right on the data set's visible runs
    fixed = solution.replace("def update(params, grad, lr, state, beta1, beta2, eps, **hyper):",
                             "def update(params, grad, lr, state, beta1, beta2, eps, **hyper):\n"
                             "    beta1, beta2, eps = 0.9, 0.999, 1e-8")
    assert fixed != solution
    result = grader.grade("adam", fixed)
    assert [run.score for run in result.visible_runs] == [100, 100, 100]
    assert result.hidden_summary()["score"] < 100 and result.score < 100
