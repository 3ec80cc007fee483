"""Regularisers and clipping, as section 3 of the semantics doc defines them."""

from __future__ import annotations

import numpy as np
import pytest

from grader.engine import Component, RunSpec, sweep
from grader.engine.regularizers import Regularizer, clip_by_norm, clip_by_value


def test_l1_proximal_step_makes_exact_zeros():
    reg = Regularizer("l1-prox", 0.5)
    z = np.array([0.3, -0.2, 2.0, -3.0, 0.5])
    out = reg.after_step(z, 1.0)
    assert out.tolist() == [0.0, 0.0, 1.5, -2.5, 0.0]


def test_l1_prox_run_drives_small_weights_to_exactly_zero():
    result = sweep(RunSpec(problem="quadratic", problem_options={"dim": 4, "condition": 10},
                           regularizer=Component("l1-prox", {"lam": 2.0}),
                           learning_rates=[0.05], epochs=200))
    final = result.runs[0].final_params
    assert np.count_nonzero(final == 0.0) >= 2  # the flattest directions are cut to zero


def test_l1_subgradient_uses_sign_zero_for_zero():
    reg = Regularizer("l1", 0.1)
    grad = reg.gradient(np.zeros(3), np.array([-2.0, 0.0, 3.0]))
    assert grad.tolist() == [-0.1, 0.0, 0.1]


def test_coupled_l2_adds_lam_theta_and_its_penalty_is_half_lam_norm_squared():
    reg = Regularizer("l2", 0.2)
    theta = np.array([1.0, -2.0])
    assert reg.gradient(np.zeros(2), theta).tolist() == [0.2, -0.4]
    assert reg.penalty(theta) == pytest.approx(0.5 * 0.2 * 5)


def test_decoupled_decay_equals_coupled_l2_for_plain_sgd_but_not_with_momentum():
    def final(kind, hyper):
        return sweep(RunSpec(hyper=hyper, learning_rates=[0.1], epochs=50,
                             regularizer=Component(kind, {"lam": 0.3}))).runs[0].final_params

    np.testing.assert_allclose(final("decoupled", {}), final("l2", {}), rtol=1e-13)
    momentum = {"momentum": 0.9}
    assert np.max(np.abs(final("decoupled", momentum) - final("l2", momentum))) > 1e-3


def test_regulariser_penalty_is_part_of_the_recorded_loss():
    result = sweep(RunSpec(learning_rates=[0.1], epochs=3,
                           regularizer=Component("l1", {"lam": 0.5})))
    run, problem = result.runs[0], result.plan.problem
    expected = problem.loss(run.params[1]) + 0.5 * np.abs(run.params[1]).sum()
    assert run.losses[1] == pytest.approx(expected, rel=1e-15)
    assert result.to_dict()["convergence_criterion"] == "step"


def test_clip_by_norm_follows_torch_including_its_epsilon():
    g = np.array([3.0, 4.0])
    np.testing.assert_allclose(clip_by_norm(g, max_norm=1.0), g / (5 + 1e-6), rtol=1e-15)
    assert clip_by_norm(g, max_norm=10.0).tolist() == g.tolist()  # never scaled up


def test_clip_by_norm_works_row_by_row():
    rows = np.array([[3.0, 4.0], [0.3, 0.4]])
    clipped = clip_by_norm(rows, max_norm=1.0)
    assert clipped[1].tolist() == [0.3, 0.4]
    assert np.linalg.norm(clipped[0]) == pytest.approx(1.0, rel=1e-6)


def test_clip_by_value():
    assert clip_by_value(np.array([-3.0, 0.2, 9.0]), clip_value=1.0).tolist() == [-1, 0.2, 1]
