"""Grading for real: submissions through the sandbox, against every exercise."""

from __future__ import annotations

import json

import pytest

from grader.catalog import load_catalog
from grader.sandbox import SourceRejectedError
from grader.selfcheck import check_exercise

from ..sandbox.conftest import needs_root

pytestmark = needs_root
CATALOG = load_catalog()


@pytest.mark.parametrize("exercise_id", sorted(CATALOG.exercises))
def test_solution_scores_100_and_every_mistake_gets_its_diagnosis(grader, exercise_id):
    checks = check_exercise(grader, CATALOG.get(exercise_id))
    assert all(check.passed for check in checks), [c.line() for c in checks if not c.passed]


def grade(grader, exercise_id, code):
    return grader.grade(exercise_id, code)


# --- correct, however written ------------------------------------------------------------

CORRECT_REWRITES = {
    "gd": [
        "def update(params, grad, lr, state, **hyper):\n"
        "    params -= lr * grad\n"
        "    return params\n",
        "import numpy as np\ndef update(p, g, lr, s, **h):\n    return np.subtract(p, g * lr)\n",
    ],
    "momentum": [
        # another state layout, the buffer from zero (b1 = 0*mu + g = g), in place
        "import numpy as np\n"
        "def update(params, grad, lr, state, momentum, **hyper):\n"
        "    v = state.setdefault('velocity', np.zeros_like(params))\n"
        "    v *= momentum\n    v += grad\n    params -= lr * v\n    return params\n",
    ],
    "adam": [
        # fused step size and the correction folded differently (floating-point order)
        "import numpy as np\n"
        "def update(params, grad, lr, state, beta1, beta2, eps, **hyper):\n"
        "    st = state.setdefault('adam', [0, 0.0, 0.0])\n"
        "    st[0] += 1\n"
        "    st[1] = st[1] + (1 - beta1) * (grad - st[1])\n"
        "    st[2] = beta2 * st[2] + (1 - beta2) * grad * grad\n"
        "    step = lr / (1 - beta1 ** st[0])\n"
        "    denom = np.sqrt(st[2]) / np.sqrt(1 - beta2 ** st[0]) + eps\n"
        "    return params - step * st[1] / denom\n",
    ],
    "clip-norm": [
        "import numpy as np\n"
        "def update(params, grad, lr, state, max_norm, **hyper):\n"
        "    norm = np.linalg.norm(grad)\n"
        "    if norm > max_norm:\n        grad = grad * max_norm / norm\n"
        "    return params - lr * grad\n",
    ],
    "mse-gradient": [
        "import numpy as np\ndef gradient(params, X, y):\n"
        "    A = np.column_stack([X, np.ones_like(X)])\n"
        "    return 2 * A.T @ (A @ params - y) / len(y)\n",
    ],
    "lr-step-decay": [
        "import math\ndef lr_at(epoch, lr0, step_size, gamma, **hyper):\n"
        "    return lr0 * math.pow(gamma, math.floor(epoch / step_size))\n",
    ],
}


@pytest.mark.parametrize(("exercise_id", "code"),
                         [(e, c) for e, codes in CORRECT_REWRITES.items() for c in codes])
def test_a_correct_rule_scores_100_however_written(grader, exercise_id, code):
    result = grade(grader, exercise_id, code)
    assert result.score == 100, result.feedback
    assert result.diagnosis == ()
    assert all(run.verdict == "match" for run in result.runs)


# --- wrong, and how wrong ------------------------------------------------------------------

NO_OP = "def update(params, grad, lr, state, **hyper):\n    return params.copy()\n"
UPHILL = "def update(params, grad, lr, state, **hyper):\n    return params + 0.0 + lr * grad\n"


@pytest.mark.parametrize("exercise_id", ["gd", "momentum", "adam", "rmsprop", "l2-gd"])
def test_doing_nothing_or_climbing_scores_zero(grader, exercise_id):
    nothing = grade(grader, exercise_id, NO_OP)
    assert nothing.score == 0 and [d.id for d in nothing.diagnosis] == ["no-op"]
    assert grade(grader, exercise_id, UPHILL).score == 0


def test_nan_scores_zero_with_its_verdict(grader):
    code = "def update(params, grad, lr, state, **hyper):\n    return params * float('nan')\n"
    result = grade(grader, "gd", code)
    assert result.score == 0
    assert {run.verdict for run in result.runs} == {"non-finite"}


def test_partly_wrong_scores_between_and_above_wronger(grader):
    adam = CATALOG.get("adam")
    no_bias = grade(grader, "adam", adam.mistakes[0].source)
    assert 0 < no_bias.score < 100
    assert no_bias.score > grade(grader, "adam", NO_OP).score


def test_hard_coded_hyper_parameters_lose_points_on_hidden_cases(grader):
    code = ("import numpy as np\n"
            "def update(params, grad, lr, state, **hyper):\n"
            "    beta1, beta2, eps = 0.9, 0.999, 1e-8\n"
            + CATALOG.get("adam").solution.split('"""', 2)[2].split("\n", 1)[1])
    result = grade(grader, "adam", code)
    assert all(run.verdict == "match" for run in result.visible_runs)
    assert result.score < 100
    assert result.hidden_summary()["score"] < 100


def test_errors_timeouts_and_crashes_are_verdicts(grader):
    raising = grade(grader, "gd",
                    "def update(params, grad, lr, state, **hyper):\n    return 1 / 0\n")
    assert raising.score == 0 and {r.verdict for r in raising.runs} == {"error"}
    assert raising.error["type"] == "ZeroDivisionError" and raising.error["line"] == 2
    assert "ZeroDivisionError on line 2" in raising.feedback
    sleeping = grade(grader, "gd", "import time\ntime.sleep(60)\n"
                     "def update(params, grad, lr, state, **hyper):\n    return params\n")
    assert sleeping.score == 0 and {r.verdict for r in sleeping.runs} == {"timeout"}
    assert "limit" in sleeping.feedback


def test_static_errors_are_refused_before_running(grader):
    with pytest.raises(SourceRejectedError) as error:
        grade(grader, "gd", "def update(params, grad, lr, state, **hyper)\n    return params\n")
    assert error.value.code == "syntax" and error.value.line == 1
    with pytest.raises(SourceRejectedError, match="Define a function named `update`"):
        grade(grader, "gd", "def step(params):\n    return params\n")


# --- diagnoses, whatever way the code is written ------------------------------------------

DIAGNOSED = [
    ("gd", "no-op", "def update(params, grad, lr, state, **hyper):\n"
                    "    return params + 0 * grad\n"),
    ("gd", "sign-flip", "def update(params, grad, lr, state, **hyper):\n"
                        "    return params - lr * (-grad)\n"),
    ("gd", "lr-ignored", "def update(params, grad, lr, state, **hyper):\n"
                         "    return params - 0.05 * grad\n"),
    ("adam", "state-reset",
     "import numpy as np\ndef update(params, grad, lr, state, beta1, beta2, eps, **hyper):\n"
     "    m = (1 - beta1) * grad / (1 - beta1)\n"
     "    v = (1 - beta2) * grad**2 / (1 - beta2)\n"
     "    return params - lr * m / (np.sqrt(v) + eps)\n"),
    ("momentum", "momentum-ema",
     "def update(params, grad, lr, state, momentum, **hyper):\n"
     "    state['avg'] = momentum * state.get('avg', 0 * grad) + (1 - momentum) * grad\n"
     "    return params - lr * state['avg']\n"),
    ("adam", "adam-no-bias-correction",
     "import numpy as np\ndef update(params, grad, lr, state, beta1, beta2, eps, **hyper):\n"
     "    state.setdefault('m', 0 * grad); state.setdefault('v', 0 * grad)\n"
     "    state['m'] += (1 - beta1) * (grad - state['m'])\n"
     "    state['v'] = beta2 * state['v'] + (1 - beta2) * np.square(grad)\n"
     "    return params - lr * state['m'] / (state['v'] ** 0.5 + eps)\n"),
    ("adam", "adam-eps-inside-sqrt",
     "import numpy as np\ndef update(params, grad, lr, state, beta1, beta2, eps, **hyper):\n"
     "    t = state['t'] = state.get('t', 0) + 1\n"
     "    m = state['m'] = beta1 * state.get('m', 0) + (1 - beta1) * grad\n"
     "    v = state['v'] = beta2 * state.get('v', 0) + (1 - beta2) * grad * grad\n"
     "    return params - lr * (m / (1 - beta1**t)) / np.sqrt(v / (1 - beta2**t) + eps)\n"),
    ("adam", "adam-v-uncorrected",
     "import numpy as np\ndef update(params, grad, lr, state, beta1, beta2, eps, **hyper):\n"
     "    t = state['t'] = state.get('t', 0) + 1\n"
     "    m = state['m'] = beta1 * state.get('m', 0) + (1 - beta1) * grad\n"
     "    v = state['v'] = beta2 * state.get('v', 0) + (1 - beta2) * grad * grad\n"
     "    return params - lr * (m / (1 - beta1**t)) / (np.sqrt(v) + eps)\n"),
    ("rmsprop", "rmsprop-eps-inside-sqrt",
     "import numpy as np\ndef update(params, grad, lr, state, alpha, eps, **hyper):\n"
     "    s = state['s'] = alpha * state.get('s', 0.0) + (1 - alpha) * grad * grad\n"
     "    return params - lr * grad * (s + eps) ** -0.5\n"),
    ("adagrad", "adagrad-eps-inside-sqrt",
     "import numpy as np\ndef update(params, grad, lr, state, eps, **hyper):\n"
     "    state['G'] = state.get('G', np.zeros(len(params))) + grad * grad\n"
     "    return params - lr / np.sqrt(state['G'] + eps) * grad\n"),
    ("l2-gd", "l2-double", "def update(params, grad, lr, state, weight_decay, **hyper):\n"
                           "    return params - lr * grad - lr * weight_decay * 2 * params\n"),
    ("adamw", "adamw-coupled",
     "import numpy as np\n"
     "def update(params, grad, lr, state, beta1, beta2, eps, weight_decay, **hyper):\n"
     "    g = grad + params * weight_decay\n"
     "    t = state['t'] = state.get('t', 0) + 1\n"
     "    m = state['m'] = beta1 * state.get('m', 0) + (1 - beta1) * g\n"
     "    v = state['v'] = beta2 * state.get('v', 0) + (1 - beta2) * g * g\n"
     "    return params - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)\n"),
]


@pytest.mark.parametrize(("exercise_id", "expected", "code"), DIAGNOSED,
                         ids=[f"{e}-{d}" for e, d, _ in DIAGNOSED])
def test_diagnosis_whatever_way_the_code_is_written(grader, exercise_id, expected, code):
    result = grade(grader, exercise_id, code)
    assert expected in [d.id for d in result.diagnosis], (result.score, result.diagnosis)
    assert result.score < 100
    assert result.feedback.startswith(result.diagnosis[0].message)


# --- what a result carries ---------------------------------------------------------------


def test_visible_runs_in_detail_hidden_runs_only_as_an_aggregate(grader):
    result = grade(grader, "gd", "def update(params, grad, lr, state, **hyper):\n"
                                 "    return params - 0.5 * lr * grad\n")
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert [(r["case"], r["lr"]) for r in data["runs"]] == [
        ("course", 0.01), ("course", 0.1), ("course", 0.5), ("course", 0.9)]
    first = data["runs"][0]["first_disagreement"]
    assert first["step"] == 1 and len(first["student"]) == len(first["reference"]) == 2
    assert data["hidden"]["runs"] == 8 and set(data["hidden"]) == {"runs", "score", "verdicts"}
    text = json.dumps(data)
    for hidden_name in ("regression-other-data", "bowl", "banana"):
        assert hidden_name not in text  # not even in the replay information
    assert data["replay"]["exercise"] == "gd" and data["replay"]["engine"]
    assert list(data["replay"]["cases"]) == ["course"]
    assert set(data["replay"]) >= {"exercise_version", "numpy", "gdlab"}
    # the instructors get the full replay information
    instructor = json.loads(json.dumps(result.instructor_view(), allow_nan=False))
    assert instructor["replay"]["cases"]["regression-other-data"]["seed"] == 7
    assert set(instructor["replay"]["cases"]) == {"course", "regression-other-data", "bowl",
                                                   "banana"}


def test_grading_is_deterministic(grader):
    code = CATALOG.get("adam").mistakes[0].source
    assert grade(grader, "adam", code).to_dict() == grade(grader, "adam", code).to_dict()


def test_the_reference_rule_is_the_engine_step_for_step():
    from grader.kinds.update_rule import in_process, reference_rule
    from grader.preparation import prepare_runs

    for exercise in CATALOG.exercises.values():
        if exercise.kind != "update_rule":
            continue
        runs = prepare_runs(exercise)[0]
        for run, mine in zip(runs, in_process(reference_rule(exercise), runs), strict=True):
            expected = run.reference.trajectory
            assert mine[: len(expected)].tolist() == expected.tolist(), exercise.id
