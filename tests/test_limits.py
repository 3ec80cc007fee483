"""Operational limits: one place, overridable by the operator, enforced before running."""

from __future__ import annotations

import pytest

from grader.engine import RunSpec, SpecError, plan_run
from grader.limits import Limits


def test_defaults_allow_the_course_example_and_the_benchmark_sweep():
    limits = Limits()
    for spec in (RunSpec(), RunSpec(problem="logistic-regression", epochs=1000,
                                    learning_rates=[0.01 * (i + 1) for i in range(20)])):
        limits.check_spec(spec)
        limits.check_plan(plan_run(spec))


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (RunSpec(epochs=10_001), "epochs"),
        (RunSpec(learning_rates=[0.1] * 33), "learning_rates"),
        (RunSpec(learning_rates=[0.1, 1e7]), "learning_rates[1]"),
    ],
)
def test_requests_over_the_limits_are_refused(spec, field):
    with pytest.raises(SpecError) as error:
        Limits().check_spec(spec)
    assert error.value.field == field


def test_mini_batch_steps_count_towards_the_limit():
    plan = plan_run(RunSpec(epochs=10_000, batch_size=1, learning_rates=[0.1]))
    with pytest.raises(SpecError, match="updates"):
        Limits().check_plan(plan)


def test_big_data_many_rates_and_many_epochs_cannot_combine():
    spec = RunSpec(problem="logistic-regression", problem_options={"n_samples": 10_000},
                   learning_rates=[0.1] * 32, epochs=5_000)
    Limits().check_spec(spec)
    with pytest.raises(SpecError, match="too large"):
        Limits().check_plan(plan_run(spec))


def test_the_operator_sets_limits_through_the_environment():
    limits = Limits.from_env({"GDLAB_MAX_EPOCHS": "50", "GDLAB_MAX_LEARNING_RATE": "2.5"})
    assert limits.max_epochs == 50 and limits.max_learning_rate == 2.5
    with pytest.raises(SpecError):
        limits.check_spec(RunSpec(epochs=51))


@pytest.mark.parametrize("raw", ["lots", "-3", "0"])
def test_a_bad_limit_in_the_environment_is_a_clear_error(raw):
    with pytest.raises(ValueError, match="GDLAB_MAX_EPOCHS"):
        Limits.from_env({"GDLAB_MAX_EPOCHS": raw})
