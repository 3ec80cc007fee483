"""The engine against torch 2.13 in float64, through the golden files in tests/golden/.

The files are made by scripts/make_goldens.py with torch installed; these tests need only
the files. Tolerance: 1e-10 relative (plus 1e-13 absolute for values that pass near 0).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from grader.engine import Component, RunSpec, make_problem, sweep
from grader.engine.regularizers import clip_by_norm, clip_by_value
from grader.engine.schedules import get_schedule

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
RTOL, ATOL = 1e-10, 1e-13


def _load(name: str) -> list[dict]:
    data = json.loads((GOLDEN / f"{name}.json").read_text())
    assert data["about"]["torch"].startswith("2.13.0")
    assert data["about"]["dtype"] == "float64"
    return data["cases"]


def _case_id(case: dict) -> str:
    options = ",".join(f"{k}={v}" for k, v in sorted(case.get("hyper", {}).items()))
    return f"{case['problem']}-{case['optimizer']}({options})"


OPTIMIZER_CASES = _load("optimizers")


def test_golden_grid_covers_every_optimizer_on_at_least_two_problems():
    problems_by_optimizer: dict[str, set[str]] = {}
    for case in OPTIMIZER_CASES:
        assert case["steps"] >= 25
        problems_by_optimizer.setdefault(case["optimizer"], set()).add(case["problem"])
    assert set(problems_by_optimizer) == {
        "sgd", "adagrad", "rmsprop", "adam", "adamw", "nadam", "adadelta"
    }
    assert all(len(problems) >= 2 for problems in problems_by_optimizer.values())


@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=_case_id)
def test_optimizer_trajectory_matches_torch(case):
    spec = RunSpec(
        problem=case["problem"],
        optimizer=case["optimizer"],
        hyper=case["hyper"],
        learning_rates=[case["lr"]],
        epochs=case["steps"],
    )
    run = sweep(spec).runs[0]
    expected = np.array(case["trajectory"])
    if len(run.trajectory) < len(expected):
        # Ascending runs blow up: the engine stops them; every step it kept must agree.
        assert case["hyper"].get("maximize") and run.outcome == "diverged"
        assert len(run.trajectory) >= 10
        expected = expected[: len(run.trajectory)]
    assert run.trajectory.shape == expected.shape
    np.testing.assert_allclose(run.trajectory, expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", _load("schedules"), ids=lambda c: f"{c['name']}{c['options']}")
def test_schedule_matches_torch_lr_scheduler(case):
    schedule = get_schedule(case["name"])
    options = schedule.resolve(case["options"])
    lr0 = np.array([case["lr0"]])
    rates = [schedule.rate(lr0, epoch, **options)[0] for epoch in range(len(case["rates"]))]
    np.testing.assert_allclose(rates, case["rates"], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", _load("clipping"), ids=lambda c: c["kind"])
def test_clipping_matches_torch(case):
    grad = np.array(case["grad"])
    if case["kind"] == "norm":
        clipped = clip_by_norm(grad, max_norm=case["max_norm"])
    else:
        clipped = clip_by_value(grad, clip_value=case["clip_value"])
    np.testing.assert_allclose(clipped, case["clipped"], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    "case", _load("problems"), ids=lambda c: f"{c['problem']}-{c['seed']}-b{c['batch'] is not None}"
)
def test_problem_loss_and_gradient_match_autograd(case):
    problem = make_problem(case["problem"], case["options"], case["seed"])
    point = np.array(case["point"])
    batch = None if case["batch"] is None else np.array(case["batch"])
    loss, grad = problem.loss_and_grad(point, batch)
    np.testing.assert_allclose(loss, case["loss"], rtol=1e-12)
    np.testing.assert_allclose(grad, case["grad"], rtol=1e-11, atol=1e-13)


def _spec_from_json(data: dict) -> RunSpec:
    return RunSpec(
        problem=data["problem"],
        problem_options=data["problem_options"],
        optimizer=data["optimizer"],
        hyper=data["hyper"],
        learning_rates=data["learning_rates"],
        epochs=data["epochs"],
        seed=data["seed"],
        batch_size=data["batch_size"],
        schedule=Component(**data["schedule"]),
        regularizer=Component(**data["regularizer"]),
        clip=Component(**data["clip"]),
    )


@pytest.mark.parametrize(
    "case",
    _load("runs"),
    ids=lambda c: "-".join(
        (c["spec"]["problem"], c["spec"]["optimizer"], c["spec"]["schedule"]["name"])
    ),
)
def test_whole_run_matches_a_torch_training_loop(case):
    run = sweep(_spec_from_json(case["spec"])).runs[0]
    np.testing.assert_allclose(run.trajectory, np.array(case["trajectory"]), rtol=RTOL, atol=ATOL)
