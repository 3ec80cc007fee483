"""Problems: gradients against finite differences, minima, Hessians, starts."""

from __future__ import annotations

import numpy as np
import pytest

from grader.engine import PROBLEMS, SpecError, make_problem

VARIANTS = [
    ("linear-regression", {}, None),
    ("linear-regression", {"n_samples": 20, "noise": 1.0}, 4),
    ("quadratic", {}, None),
    ("quadratic", {"condition": 1e3, "dim": 7}, 2),
    ("rosenbrock", {}, None),
    ("beale", {}, None),
    ("logistic-regression", {}, None),
    ("logistic-regression", {"lam": 1.0, "n_samples": 15}, 9),
]


def _central_difference(f, theta, h=1e-6):
    grad = np.zeros_like(theta)
    for i in range(len(theta)):
        step = np.zeros_like(theta)
        step[i] = h
        grad[i] = (f(theta + step) - f(theta - step)) / (2 * h)
    return grad


@pytest.mark.parametrize(("name", "options", "seed"), VARIANTS)
def test_gradient_matches_finite_differences(name, options, seed):
    problem = make_problem(name, options, seed)
    rng = np.random.default_rng(0)
    for _ in range(5):
        theta = problem.start(1)[0] + rng.normal(0, 0.3, problem.dim)
        numeric = _central_difference(problem.loss, theta)
        np.testing.assert_allclose(problem.grad(theta), numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("name", "options", "seed"), VARIANTS)
def test_the_known_minimum_is_a_stationary_point_with_the_lowest_loss(name, options, seed):
    problem = make_problem(name, options, seed)
    point, value = problem.minimum.point, problem.minimum.value
    assert np.max(np.abs(problem.grad(point))) < 1e-9
    assert problem.loss(point) == pytest.approx(value, abs=1e-15)
    rng = np.random.default_rng(1)
    nearby = point + rng.normal(0, 1e-3, (50, problem.dim))
    assert np.all(problem.loss(nearby) >= value)


@pytest.mark.parametrize(("name", "options", "seed"), VARIANTS)
def test_batched_rows_equal_single_rows_exactly(name, options, seed):
    problem = make_problem(name, options, seed)
    rows = problem.start(1)[0] + np.random.default_rng(2).normal(0, 0.5, (4, problem.dim))
    losses, grads = problem.loss_and_grad(rows)
    for row, loss, grad in zip(rows, losses, grads, strict=True):
        single_loss, single_grad = problem.loss_and_grad(row)
        assert loss == single_loss and grad.tolist() == single_grad.tolist()


@pytest.mark.parametrize("name", ["linear-regression", "logistic-regression"])
def test_a_batch_gradient_is_the_gradient_of_the_loss_on_that_batch(name):
    problem = make_problem(name)
    batch = np.array([3, 17, 42, 8])
    theta = problem.start(1)[0] + 0.4

    def batch_loss(t):
        if name == "linear-regression":
            r = problem.y[batch] - (t[0] * problem.X[batch] + t[1])
            return np.mean(r * r)
        z = problem.features[batch] @ t * problem.y[batch]
        return np.mean(np.logaddexp(0, -z)) + 0.5 * problem.lam * t @ t

    numeric = _central_difference(batch_loss, theta)
    np.testing.assert_allclose(problem.grad(theta, batch), numeric, rtol=1e-5, atol=1e-7)


def test_constant_hessians():
    regression = make_problem("linear-regression")
    np.testing.assert_allclose(regression.hessian, [[199 / 297, 1], [1, 2]], rtol=1e-12)
    quadratic = make_problem("quadratic")
    assert np.diag(quadratic.hessian).tolist() == [1.0, 25.0]
    assert make_problem("rosenbrock").hessian is None


def test_classic_starts_and_minima():
    assert make_problem("rosenbrock").start(2).tolist() == [[-1.2, 1.0], [-1.2, 1.0]]
    assert make_problem("rosenbrock").minimum.point.tolist() == [1.0, 1.0]
    assert make_problem("beale").start(1).tolist() == [[1.0, 1.5]]
    assert make_problem("beale").minimum.point.tolist() == [3.0, 0.5]
    assert make_problem("logistic-regression").start(1).tolist() == [[0.0, 0.0, 0.0]]


def test_legacy_starts_draw_one_point_per_learning_rate():
    problem = make_problem("linear-regression")
    legacy = problem.start(3, "legacy")
    assert len({tuple(row) for row in legacy}) == 3
    assert legacy[0].tolist() == problem.start(1, "shared")[0].tolist()


@pytest.mark.parametrize(
    ("name", "options", "field"),
    [
        ("nope", {}, "problem"),
        ("quadratic", {"dim": 0}, "problem_options.dim"),
        ("quadratic", {"condition": 0.5}, "problem_options.condition"),
        ("quadratic", {"shape": 3}, "problem_options.shape"),
        ("logistic-regression", {"lam": 0}, "problem_options.lam"),
        ("linear-regression", {"n_samples": 1.5}, "problem_options.n_samples"),
        ("rosenbrock", {"b": float("nan")}, "problem_options.b"),
        ("rosenbrock", {"b": "100"}, "problem_options.b"),
    ],
)
def test_bad_problem_options_are_refused_with_the_field(name, options, field):
    with pytest.raises(SpecError) as error:
        make_problem(name, options)
    assert error.value.field == field


def test_every_problem_is_in_the_catalogue_with_a_summary():
    assert set(PROBLEMS) == {
        "linear-regression", "quadratic", "rosenbrock", "beale", "logistic-regression"}
    assert all(cls.summary for cls in PROBLEMS.values())


def test_the_data_a_gradient_exercise_hands_over_comes_from_the_problem():
    linear = make_problem("linear-regression", {"n_samples": 12})
    X, y = linear.exercise_data()
    assert X is linear.X and y is linear.y and X.shape == (12,)
    logistic = make_problem("logistic-regression", {"n_samples": 10})
    X, y = logistic.exercise_data()
    # the two features the student sees, not the constant one the gradient uses
    assert X.shape == (10, 2) and np.array_equal(X, logistic.features[:, :2])
    for name in ("quadratic", "rosenbrock", "beale"):
        with pytest.raises(ValueError, match=f"{name} has no data for a gradient exercise"):
            make_problem(name).exercise_data()
