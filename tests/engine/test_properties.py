"""Properties that must hold for any input, checked with hypothesis."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from grader.engine import OPTIMIZERS, RunSpec, SpecError, make_problem, sweep

SETTINGS = settings(max_examples=60, deadline=None)
coordinates = st.floats(-50, 50, allow_nan=False, allow_infinity=False)


def _value_for(option, *, positive_eps: bool):
    if option.kind is bool:
        return st.booleans()
    low = option.low if option.low is not None else -10.0
    high = option.high if option.high is not None else low + 10.0
    if option.name == "eps" and positive_eps:
        low = 1e-12
    if option.kind is int:
        return st.integers(int(low), int(high))
    values = st.floats(low, high, allow_nan=False, exclude_max=option.high_open,
                       exclude_min=option.low_open)
    return values


@st.composite
def hyper_for(draw, name: str, *, weight_decay: bool = True, positive_eps: bool = False):
    """Valid hyper-parameters for optimizer ``name`` (maximize off)."""
    hyper = {}
    for option in OPTIMIZERS[name].options:
        if option.name == "maximize" or (option.name == "weight_decay" and not weight_decay):
            continue
        hyper[option.name] = draw(_value_for(option, positive_eps=positive_eps))
    if not weight_decay:
        hyper["weight_decay"] = 0.0
    try:
        OPTIMIZERS[name].resolve(hyper)
    except SpecError:
        assume(False)
    return hyper


@SETTINGS
@given(
    condition=st.floats(1, 1e4),
    dim=st.integers(1, 6),
    fraction=st.floats(1e-3, 0.999),
    data=st.data(),
)
def test_gd_below_two_over_l_never_increases_a_convex_quadratic(condition, dim, fraction, data):
    x0 = data.draw(st.lists(coordinates, min_size=dim, max_size=dim))
    lr = fraction * 2 / condition  # L is the largest curvature, here ``condition``
    result = sweep(RunSpec(problem="quadratic", problem_options={"condition": condition,
                                                                  "dim": dim},
                           learning_rates=[lr], epochs=60, x0=x0))
    losses = result.runs[0].recorded_losses
    assert np.all(losses[1:] <= losses[:-1] * (1 + 1e-12) + 1e-300)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), fraction=st.floats(1e-3, 0.999))
def test_gd_below_two_over_l_never_increases_the_regression_loss(seed, fraction):
    probe = sweep(RunSpec(seed=seed, learning_rates=[0.1], epochs=1))
    lr = fraction * probe.stability.gd_max_lr
    losses = sweep(RunSpec(seed=seed, learning_rates=[lr], epochs=60)).runs[0].recorded_losses
    assert np.all(losses[1:] <= losses[:-1] * (1 + 1e-12))


@SETTINGS
@given(
    problem=st.sampled_from(
        ["linear-regression", "quadratic", "rosenbrock", "logistic-regression"]
    ),
    lr=st.floats(1e-4, 1e-2),
    dampening=st.floats(0, 1),
    epochs=st.integers(1, 40),
)
def test_momentum_zero_is_plain_gradient_descent(problem, lr, dampening, epochs):
    result = sweep(RunSpec(problem=problem, hyper={"momentum": 0.0, "dampening": dampening},
                           learning_rates=[lr], epochs=epochs))
    run = result.runs[0]
    theta = result.plan.starts[0].copy()
    problem_ = make_problem(problem)
    for step in range(len(run.trajectory)):
        assert run.trajectory[step].tolist() == theta.tolist()
        theta = theta - lr * problem_.grad(theta)


@SETTINGS
@given(name=st.sampled_from(sorted(OPTIMIZERS)), data=st.data(),
       lr=st.floats(1e-6, 10), steps=st.integers(1, 5))
def test_a_zero_gradient_moves_nothing_without_weight_decay(name, data, lr, steps):
    optimizer = OPTIMIZERS[name]
    hyper = optimizer.resolve(data.draw(hyper_for(name, weight_decay=False, positive_eps=True)))
    dim = data.draw(st.integers(1, 5))
    theta = np.array(data.draw(st.lists(coordinates, min_size=dim, max_size=dim)))
    state = optimizer.init(theta, **hyper)
    for _ in range(steps):
        moved = optimizer.step(theta, np.zeros(dim), lr, state, **hyper)
        assert moved.tolist() == theta.tolist()


@st.composite
def sweep_specs(draw):
    problem = draw(st.sampled_from(
        ["linear-regression", "quadratic", "rosenbrock", "beale", "logistic-regression"]))
    optimizer = draw(st.sampled_from(sorted(OPTIMIZERS)))
    hyper = draw(hyper_for(optimizer))
    rates = draw(st.lists(st.floats(1e-4, 2.0), min_size=2, max_size=5))
    batch_size = None
    if problem in ("linear-regression", "logistic-regression") and draw(st.booleans()):
        batch_size = draw(st.integers(1, 64))
    seed = draw(st.none() | st.integers(0, 1000))
    return RunSpec(problem=problem, optimizer=optimizer, hyper=hyper, learning_rates=rates,
                   epochs=draw(st.integers(1, 25)), batch_size=batch_size, seed=seed)


@SETTINGS
@given(spec=sweep_specs())
def test_a_sweep_equals_its_runs_one_by_one(spec):
    together = sweep(spec)
    for lr, run in zip(spec.learning_rates, together.runs, strict=True):
        alone = sweep(RunSpec(**{**spec.__dict__, "learning_rates": [lr]})).runs[0]
        assert run.trajectory.tolist() == alone.trajectory.tolist()
        assert run.recorded_losses.tolist() == alone.recorded_losses.tolist()
        assert (run.outcome, run.steps_to_tolerance, run.diverged_at) == (
            alone.outcome, alone.steps_to_tolerance, alone.diverged_at)


@SETTINGS
@given(spec=sweep_specs())
def test_nothing_non_finite_is_ever_recorded(spec):
    for run in sweep(spec).runs:
        assert np.all(np.isfinite(run.trajectory))
        assert np.all(np.isfinite(run.recorded_losses))
