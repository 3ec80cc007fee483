"""Hidden cases that test: a rule right only where a student can see it scores low.

Every cheat here is student code, graded through the sandbox like any submission. A
*visible-only cheat* keys on nothing but its own call arguments: when they are the
visible case's (the same start, learning rate and hyper-parameters; the same data; the
same lr0 and schedule settings) it runs the exercise's solution, and anywhere else a
wrong rule.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.catalog import load_catalog
from grader.grading import Grader
from grader.kinds.gradient import problem_data
from grader.selfcheck import CHEAT_FLOOR, check_exercise, hidden_separation

from ..sandbox.conftest import needs_root

pytestmark = needs_root
CATALOG = load_catalog()
EXERCISES = sorted(CATALOG.exercises)

#: Wrong rules that make no attempt at all: the cheat is then all hard-wiring.
NOTHING = {
    "update_rule": "def update(params, grad, lr, state, **hyper):\n    return params.copy()\n",
    "gradient": "import numpy as np\ndef gradient(params, X, y, **hyper):\n"
                "    return np.zeros_like(params)\n",
    "schedule": "def lr_at(epoch, lr0, **hyper):\n    return 0.0\n",
}


def _renamed(source: str, entry: str, name: str) -> str:
    """``source`` with its entry point renamed, to sit beside another rule in one file."""
    assert source.count(f"def {entry}(") == 1
    return source.replace(f"def {entry}(", f"def {name}(")


def visible_only_cheat(grader: Grader, exercise_id: str, wrong: str) -> str:
    """Student code: the solution where the call's arguments are the visible case's,
    ``wrong`` (an entry point's source) elsewhere."""
    exercise = CATALOG.get(exercise_id)
    entry = exercise.entry
    rules = (_renamed(exercise.solution, entry, "_right") + "\n"
             + _renamed(wrong, entry, "_wrong") + "\n")
    # the arguments the student's function receives on the visible runs (a student can
    # print them, or read them off the visible case's page and plot)
    visible = [run for run in grader.prepare(exercise).runs if run.case.visible]
    if exercise.kind == "update_rule":
        seen = [(run.x0.tolist(), run.lr, dict(run.case.hyper)) for run in visible]
        return ("import numpy as np\n" + rules + f"_VISIBLE = {seen!r}\n_RUNS = {{}}\n"
                "def update(params, grad, lr, state, **hyper):\n"
                "    if id(state) not in _RUNS:  # the first step of a run\n"
                "        _RUNS[id(state)] = (state, any(\n"
                "            lr == l and hyper == h and np.shape(params) == np.shape(x)\n"
                "            and np.allclose(params, x)\n"
                "            for x, l, h in _VISIBLE))\n"
                "    rule = _right if _RUNS[id(state)][1] else _wrong\n"
                "    return rule(params, grad, lr, state, **hyper)\n")
    if exercise.kind == "gradient":
        rows = set()
        for run in visible:
            X, y = problem_data(grader.prepare(exercise).plan_of(run).problem)
            rows |= {(tuple(np.atleast_1d(x).tolist()), float(t))
                     for x, t in zip(X, y, strict=True)}
        return ("import numpy as np\n" + rules + f"_VISIBLE = {sorted(rows)!r}\n"
                "_ROWS = set(_VISIBLE)\n"
                "def gradient(params, X, y, **hyper):\n"
                "    mine = {(tuple(np.atleast_1d(x).tolist()), float(t))\n"
                "            for x, t in zip(X, y)}\n"
                "    rule = _right if mine <= _ROWS else _wrong\n"
                "    return rule(params, X, y, **hyper)\n")
    seen = [(run.lr, dict(run.case.hyper)) for run in visible]
    return (rules + f"_VISIBLE = {seen!r}\n"
            "def lr_at(epoch, lr0, **hyper):\n"
            "    rule = _right if any(lr0 == l and hyper == h for l, h in _VISIBLE) else _wrong\n"
            "    return rule(epoch, lr0, **hyper)\n")


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_a_rule_hard_wired_to_the_visible_case_scores_well_under_50(grader, exercise_id):
    kind = CATALOG.get(exercise_id).kind
    result = grader.grade(exercise_id, visible_only_cheat(grader, exercise_id, NOTHING[kind]))
    assert all(run.verdict == "match" for run in result.visible_runs)  # the cheat works there
    assert result.score <= 40, result.to_dict()["hidden"]


@pytest.mark.parametrize(("exercise_id", "mistake"), [
    (e, m) for e in EXERCISES for m in CATALOG.get(e).mistakes])
def test_a_mistake_made_only_off_the_visible_case_scores_no_more_than_made_everywhere(
        grader, exercise_id, mistake):
    """A cheat that makes a known mistake only where it cannot be seen scores no more than
    the mistake's ceiling (and no more than a pass, whatever the ceiling)."""
    cheat = visible_only_cheat(grader, exercise_id, mistake.source)
    result = grader.grade(exercise_id, cheat)
    assert all(run.verdict == "match" for run in result.visible_runs)
    assert result.score <= max(mistake.max_score, CHEAT_FLOOR), result.to_dict()["hidden"]


CONTINUOUS_DECAY = "def lr_at(epoch, lr0, step_size, gamma, **hyper):\n" \
                   "    return lr0 * gamma ** (epoch / step_size)\n"


def test_continuous_decay_off_the_visible_case_stays_under_the_exercise_ceiling(grader):
    """Exponential decay where StepLR is asked: right on the visible case only."""
    cheat = visible_only_cheat(grader, "lr-step-decay", CONTINUOUS_DECAY)
    result = grader.grade("lr-step-decay", cheat)
    assert all(run.verdict == "match" for run in result.visible_runs)
    assert result.score <= 50
    assert grader.grade("lr-step-decay", CONTINUOUS_DECAY).score <= 80


POSITIVE_ONLY = (
    "import numpy as np\n"
    "def update(params, grad, lr, state, l1, **hyper):\n"
    "    z = params - lr * grad\n"
    "    # shrinks the positive coordinates only; the negative ones keep the plain step\n"
    "    return np.where(z > 0, np.maximum(z - lr * l1, 0.0), z)\n")


def test_a_soft_threshold_of_the_positive_coordinates_only_fails_the_hidden_runs(grader):
    result = grader.grade("l1-proximal", POSITIVE_ONLY)
    hidden = [run for run in result.runs if not run.visible]
    assert sum(run.verdict != "match" for run in hidden) >= len(hidden) / 2
    assert result.hidden_summary()["score"] <= 50
    cheat = visible_only_cheat(grader, "l1-proximal", POSITIVE_ONLY)
    assert grader.grade("l1-proximal", cheat).score <= 50


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_the_check_proves_the_hidden_cases_separate_every_known_mistake(grader, exercise_id):
    exercise = CATALOG.get(exercise_id)
    separations = hidden_separation(grader, exercise)
    names = {s.mistake for s in separations}
    assert {f"mistakes/{m.file}" for m in exercise.mistakes} <= names
    assert all(s.separated for s in separations), [s.describe() for s in separations]
    line = next(c for c in check_exercise(grader, exercise) if c.file == "hidden cases")
    assert line.passed
    assert f"hidden cases separate {len(separations)}/{len(separations)}" in line.got
