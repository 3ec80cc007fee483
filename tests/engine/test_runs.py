"""Runs and sweeps: outcomes, early stopping, determinism, JSON safety, mini-batches."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from grader.engine import Component, RunSpec, plan_run, run, sweep
from grader.engine.runs import batch_order


def _outcomes(result):
    return [r.outcome for r in result.runs]


def test_the_course_sweep_outcomes_and_steps():
    result = sweep()
    assert _outcomes(result) == ["max-steps", "max-steps", "converged"]
    assert result.runs[2].steps_to_tolerance is not None
    assert all(len(r.losses) == 100 and r.params.shape == (100, 2) for r in result.runs)
    assert all(r.trajectory.shape == (101, 2) for r in result.runs)


def test_loss_is_recorded_before_each_update():
    result = sweep(RunSpec(learning_rates=[0.1], epochs=5))
    problem, r = result.plan.problem, result.runs[0]
    for params, loss in zip(r.params, r.losses, strict=True):
        assert loss == problem.loss(params)
    assert r.final_loss == problem.loss(r.final_params)


def test_gd_above_two_over_l_is_stopped_as_diverged_without_warnings():
    # diag(1, 25): GD is stable for lr < 0.08
    spec = RunSpec(problem="quadratic", learning_rates=[0.07, 0.09, 5.0], epochs=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = sweep(spec)
    assert _outcomes(result) == ["converged", "diverged", "diverged"]
    fast, slow = result.runs[2], result.runs[1]
    assert fast.diverged_at < slow.diverged_at < 2000
    assert len(fast.losses) == fast.diverged_at + 1
    assert result.stability.gd_max_lr == pytest.approx(0.08)
    assert [r.expected_stable for r in result.runs] == [True, False, False]


def test_a_huge_learning_rate_on_beale_overflows_quietly_and_json_stays_valid():
    spec = RunSpec(problem="beale", learning_rates=[1e-3, 10.0, 1e5, 1e6], epochs=200)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        result = sweep(spec)
    assert _outcomes(result)[1:] == ["diverged"] * 3
    text = json.dumps(result.to_dict(), allow_nan=False)
    assert "NaN" not in text and "Infinity" not in text


def test_a_start_with_an_overflowing_loss_is_diverged_at_step_zero():
    result = sweep(RunSpec(problem="beale", x0=[1e300, 1e300], learning_rates=[0.1]))
    r = result.runs[0]
    assert r.outcome == "diverged" and r.diverged_at == 0
    assert len(r.losses) == 0 and r.final_loss is None
    assert r.final_params.tolist() == [1e300, 1e300]
    json.dumps(result.to_dict(), allow_nan=False)


def test_a_tiny_learning_rate_stalls():
    result = sweep(RunSpec(problem="rosenbrock", learning_rates=[1e-9], epochs=200))
    assert _outcomes(result) == ["stalled"]


def test_a_learning_rate_near_the_limit_oscillates():
    # 0.78 is just below 2/lambda_max = 0.7887: the fast mode flips sign every step.
    result = sweep(RunSpec(learning_rates=[0.78]))
    assert _outcomes(result) == ["oscillating"]


def test_a_learning_rate_just_above_the_limit_diverges_slowly_and_is_called_so():
    result = sweep(RunSpec(learning_rates=[0.8]))
    assert result.runs[0].outcome == "diverged"
    assert result.runs[0].diverged_at is None  # never stopped: it grows too slowly


def test_ascending_diverges():
    result = sweep(RunSpec(hyper={"maximize": True}, learning_rates=[0.1], epochs=300))
    assert _outcomes(result) == ["diverged"]
    assert result.stability.max_stable_lr is None


def test_slow_mode_keeps_the_fraction_of_its_error_the_semantics_doc_gives():
    # Doc, section 4: with lr 0.01 / 0.1 / 0.5 the slow mode keeps x0.874 / x0.259 / x0.00097
    result = sweep(RunSpec())
    problem = result.plan.problem
    vectors = np.linalg.eigh(problem.hessian)[1]
    slow = vectors[:, 0]
    kept = []
    for r in result.runs:
        start = (r.trajectory[0] - problem.minimum.point) @ slow
        end = (r.trajectory[-1] - problem.minimum.point) @ slow
        kept.append(abs(end / start))
    # the doc prints two or three significant digits
    np.testing.assert_allclose(kept, [0.874, 0.259, 0.00097], rtol=6e-3)


def test_stability_facts_of_the_course_problem_match_the_semantics_doc():
    facts = sweep().stability
    np.testing.assert_allclose(facts.eigenvalues, [0.134099, 2.535934], atol=1e-6)
    assert facts.condition_number == pytest.approx(18.9, abs=0.05)
    assert facts.gd_max_lr == pytest.approx(0.788664, abs=1e-6)
    assert facts.gd_best_lr == pytest.approx(0.749054, abs=1e-6)
    assert facts.heavy_ball_max_lr == pytest.approx(1.4985, abs=1e-4)
    assert facts.nesterov_max_lr == pytest.approx(0.5352, abs=1e-4)


@pytest.mark.parametrize(
    ("hyper", "expected"),
    [
        ({"momentum": 0.9}, 1.4985),
        ({"momentum": 0.9, "nesterov": True}, 0.5352),
        ({"momentum": 0.5, "dampening": 0.5}, 2 * 1.5 / (0.5 * 2.535934)),
        ({"weight_decay": 0.3}, 2 / (2.535934 + 0.3)),
    ],
)
def test_the_threshold_follows_the_configuration(hyper, expected):
    assert sweep(RunSpec(hyper=hyper, epochs=1)).stability.max_stable_lr == pytest.approx(
        expected, abs=1e-4
    )


def test_the_thresholds_are_real_momentum_just_below_converges_just_above_diverges():
    for hyper in ({"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}):
        limit = sweep(RunSpec(hyper=hyper, epochs=1)).stability.max_stable_lr
        result = sweep(RunSpec(hyper=hyper, learning_rates=[0.97 * limit, 1.03 * limit],
                               epochs=3000))
        assert result.runs[0].outcome != "diverged"
        assert result.runs[1].outcome == "diverged"


def test_adaptive_methods_claim_no_threshold_and_non_quadratic_problems_no_facts():
    assert sweep(RunSpec(optimizer="adam", epochs=1)).stability.max_stable_lr is None
    assert sweep(RunSpec(problem="rosenbrock", epochs=1)).stability is None


def test_runs_are_deterministic_to_the_byte():
    spec = RunSpec(problem="logistic-regression", optimizer="adam", batch_size=16, seed=5,
                   learning_rates=[0.01, 0.1], epochs=20)
    first = json.dumps(sweep(spec).to_dict())
    assert json.dumps(sweep(spec).to_dict()) == first


def test_mini_batches_cover_the_data_once_per_epoch_in_a_seeded_order():
    plan = plan_run(RunSpec(batch_size=32, epochs=3, seed=1))
    assert plan.steps_per_epoch == 4
    batches = list(batch_order(plan))
    assert len(batches) == 12 and [len(b) for b in batches[:4]] == [32, 32, 32, 4]
    for epoch in range(3):
        assert sorted(np.concatenate(batches[4 * epoch : 4 * epoch + 4])) == list(range(100))
    assert batches[0].tolist() != batches[4].tolist()  # reshuffled each epoch
    other = list(batch_order(plan_run(RunSpec(batch_size=32, epochs=3, seed=2))))
    assert batches[0].tolist() != other[0].tolist()
    again = list(batch_order(plan_run(RunSpec(batch_size=32, epochs=3, seed=1))))
    assert all(a.tolist() == b.tolist() for a, b in zip(batches, again, strict=True))


def test_mini_batch_run_records_a_step_per_batch_and_the_full_loss():
    result = sweep(RunSpec(batch_size=10, epochs=4, learning_rates=[0.05]))
    r = result.runs[0]
    assert len(r.losses) == 40
    assert r.losses[7] == result.plan.problem.loss(r.params[7])


def test_a_batch_as_large_as_the_data_is_full_batch():
    full = sweep(RunSpec(epochs=10))
    assert sweep(RunSpec(epochs=10, batch_size=100)).runs[2].losses.tolist() == (
        full.runs[2].losses.tolist())
    assert sweep(RunSpec(epochs=10, batch_size=1000)).runs[2].losses.tolist() == (
        full.runs[2].losses.tolist())


def test_seeds_change_the_data_and_the_start_but_none_is_the_classic_problem():
    classic = sweep(RunSpec(problem="rosenbrock", epochs=1))
    assert classic.plan.starts[0].tolist() == [-1.2, 1.0]
    seeded = sweep(RunSpec(problem="rosenbrock", epochs=1, seed=3))
    assert seeded.plan.starts[0].tolist() != [-1.2, 1.0]
    a, b = (plan_run(RunSpec(problem="logistic-regression", seed=s)).problem for s in (1, 2))
    assert a.features.tolist() != b.features.tolist()


def test_explicit_start():
    result = sweep(RunSpec(problem="rosenbrock", x0=[0.5, -0.5], learning_rates=[1e-3, 1e-4]))
    assert all(r.trajectory[0].tolist() == [0.5, -0.5] for r in result.runs)


def test_a_schedule_changes_the_rate_per_epoch_not_per_step():
    spec = RunSpec(learning_rates=[0.1], epochs=4, batch_size=50,
                   schedule=Component("step", {"step_size": 2, "gamma": 0.5}))
    plan = plan_run(spec)
    assert plan.steps == 8
    constant = sweep(RunSpec(learning_rates=[0.1], epochs=4, batch_size=50))
    scheduled = sweep(spec)
    # identical for the first two epochs (4 steps), different afterwards
    assert scheduled.runs[0].trajectory[:5].tolist() == constant.runs[0].trajectory[:5].tolist()
    assert scheduled.runs[0].trajectory[6].tolist() != constant.runs[0].trajectory[6].tolist()


def test_run_takes_one_learning_rate():
    assert run(RunSpec(learning_rates=[0.5])).outcome == "converged"


def test_json_has_what_the_command_line_promises():
    data = sweep().to_dict()
    for key in ("problem", "optimizer", "hyper", "runs", "stability", "versions"):
        assert key in data
    for key in ("lr", "losses", "params", "final_params", "outcome", "steps_to_tolerance"):
        assert key in data["runs"][0]
    assert data["versions"]["numpy"] == np.__version__
