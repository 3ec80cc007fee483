"""What the sandbox returns for ordinary jobs: exact trajectories, printed output, the
student's errors with their line, and the other kinds of job."""

from __future__ import annotations

import numpy as np
import pytest

from grader.engine import RunSpec, sweep
from grader.sandbox import Job, SandboxError

from .conftest import TEST_LIMITS, needs_root, rule, update_job

pytestmark = needs_root

PLAIN_GD = "def update(params, grad, lr, state, **hyper):\n    return params - lr * grad\n"


def test_plain_gd_in_the_sandbox_is_the_reference_run_bit_for_bit(sandbox):
    reference = sweep(RunSpec(learning_rates=[0.01, 0.1, 0.5]))
    start = reference.plan.starts[0].tolist()
    job = Job.update_rule(PLAIN_GD, problem={"name": "linear-regression"},
                          runs=[{"x0": start, "lrs": [lr] * 100} for lr in (0.01, 0.1, 0.5)])
    result = sandbox.run(job)
    assert result.verdict == "ok"
    for index, run in enumerate(reference.runs):
        assert result.arrays[f"trajectory_{index}"].tolist() == run.trajectory.tolist()
        assert result.runs[index].steps == 100 and result.runs[index].stopped is None


def test_momentum_with_state_and_hyper_parameters(sandbox):
    code = (
        "def update(params, grad, lr, state, momentum=0.0, **hyper):\n"
        "    buf = state.get('buf')\n"
        "    buf = grad.copy() if buf is None else momentum * buf + grad\n"
        "    state['buf'] = buf\n"
        "    return params - lr * buf\n"
    )
    reference = sweep(RunSpec(problem="rosenbrock", hyper={"momentum": 0.9},
                              learning_rates=[1e-4], epochs=50))
    job = Job.update_rule(code, problem={"name": "rosenbrock"},
                          runs=[{"x0": [-1.2, 1.0], "lrs": [1e-4] * 50,
                                 "hyper": {"momentum": 0.9}}])
    result = sandbox.run(job)
    np.testing.assert_allclose(result.arrays["trajectory_0"], reference.runs[0].trajectory,
                               rtol=1e-14)


def test_in_place_updates_do_not_corrupt_the_trajectory(sandbox):
    code = ("def update(params, grad, lr, state, **hyper):\n"
            "    params -= lr * grad\n    return params\n")
    result = sandbox.run(update_job(code, steps=3))
    np.testing.assert_allclose(result.arrays["trajectory_0"],
                               [[1, 1], [0.9, -1.5], [0.81, 2.25], [0.729, -3.375]], rtol=1e-15)


def test_mini_batches_reach_the_gradient(sandbox):
    batches = [[0, 1, 2], [3, 4, 5]]
    job = Job.update_rule(PLAIN_GD, problem={"name": "linear-regression"},
                          runs=[{"x0": [0.0, 0.0], "lrs": [0.1, 0.1], "batches": batches}])
    result = sandbox.run(job)
    reference = sweep(RunSpec(learning_rates=[0.1], epochs=1))
    problem = reference.plan.problem
    theta = np.zeros(2)
    for batch in batches:
        theta = theta - 0.1 * problem.grad(theta, np.array(batch))
    assert result.arrays["trajectory_0"][-1].tolist() == theta.tolist()


def test_printed_output_is_captured(sandbox):
    result = sandbox.run(update_job(rule("print('hello from', 'the student')\n"), steps=2))
    assert result.stdout == "hello from the student\n" and not result.stdout_truncated


def test_a_print_per_step_is_truncated_and_the_run_goes_on(sandbox):
    # about 3 times the kept output: dropped beyond the limit, far below the ceiling
    steps = 3 * TEST_LIMITS.output_limit // 40
    code = rule(update="def update(params, grad, lr, state, **hyper):\n"
                       "    print('step', params, grad)\n"
                       "    return params - lr * grad\n")
    result = sandbox.run(update_job(code, steps=steps, lr=1e-3))
    assert result.verdict == "ok" and result.stdout_truncated
    assert result.runs[0].steps == steps and result.runs[0].stopped is None
    assert len(result.stdout.encode()) == TEST_LIMITS.output_limit
    assert result.stdout.startswith("step [1. 1.]")


def test_printing_past_the_ceiling_ends_the_job(sandbox):
    code = rule("print('x' * (TEST_CEILING + 1))\n".replace(
        "TEST_CEILING", str(TEST_LIMITS.output_ceiling)))
    result = sandbox.run(update_job(code))
    assert result.verdict == "output-limit" and result.stdout_truncated
    assert f"{TEST_LIMITS.output_ceiling // 1024} KiB" in result.detail


def test_an_exception_reports_type_message_and_line_in_the_students_file(sandbox):
    code = ("import numpy as np\n\ndef update(params, grad, lr, state, **hyper):\n"
            "    return params / 0 + undefined_name\n")
    result = sandbox.run(update_job(code))
    assert result.verdict == "error"
    assert (result.error.type, result.error.line) == ("NameError", 4)
    assert "undefined_name" in result.error.message
    assert "line 4" in result.detail
    assert "grader" not in result.detail and "/" not in result.error.message


def test_an_error_at_import_time_has_its_line_too(sandbox):
    result = sandbox.run(update_job("x = 1\ny = [1, 2][5]\n" + PLAIN_GD))
    assert result.verdict == "error"
    assert (result.error.type, result.error.line) == ("IndexError", 2)


def test_one_failing_run_does_not_stop_the_others(sandbox):
    code = ("def update(params, grad, lr, state, **hyper):\n"
            "    if lr > 0.2:\n        raise ValueError('too big')\n"
            "    return params - lr * grad\n")
    job = Job.update_rule(code, problem={"name": "quadratic"},
                          runs=[{"x0": [1, 1], "lrs": [0.5, 0.5]},
                                {"x0": [1, 1], "lrs": [0.01] * 2}])
    result = sandbox.run(job)
    assert result.verdict == "error"
    assert result.runs[0].stopped == "error" and result.runs[0].steps == 0
    assert result.runs[1].stopped is None and result.runs[1].steps == 2
    assert result.arrays["trajectory_0"].shape == (1, 2)


@pytest.mark.parametrize(
    ("returned", "words"),
    [("None", "returned None (a missing return statement?)"), ("params[:1]", "shape (2,)"),
     ("'fast'", "must return a numpy array")],
)
def test_returning_the_wrong_thing_is_a_contract_error(sandbox, returned, words):
    code = f"def update(params, grad, lr, state, **hyper):\n    return {returned}\n"
    result = sandbox.run(update_job(code))
    assert result.verdict == "error" and result.error.category == "contract"
    assert words in result.detail


def test_non_finite_parameters_stop_the_run_and_come_back_as_data(sandbox):
    code = "def update(params, grad, lr, state, **hyper):\n    return params * float('inf')\n"
    result = sandbox.run(update_job(code, steps=5))
    assert result.verdict == "ok"
    assert result.runs[0].stopped == "non-finite" and result.runs[0].steps == 1
    assert np.isinf(result.arrays["trajectory_0"][-1]).all()


def test_a_missing_entry_point_is_reported(sandbox):
    result = sandbox.run(update_job("def updat(params, grad, lr, state):\n    return params\n"))
    assert result.verdict == "error" and "function named update" in result.detail


def test_the_gradient_kind_runs_gradient_descent_with_the_students_gradient(sandbox):
    X = np.linspace(0, 1, 20)
    y = 2 * X + 1
    code = ("import numpy as np\n\ndef gradient(params, X, y):\n"
            "    r = y - (params[0] * X + params[1])\n"
            "    return np.array([-2 * np.mean(r * X), -2 * np.mean(r)])\n")
    job = Job("gradient", code, "gradient", {"runs": [{}]},
              {"X": X, "y": y, "x0_0": np.zeros(2), "lrs_0": np.full(3, 0.5)})
    result = sandbox.run(job)
    assert result.verdict == "ok"
    theta = np.zeros(2)
    for step in range(3):
        r = y - (theta[0] * X + theta[1])
        grad = np.array([-2 * np.mean(r * X), -2 * np.mean(r)])
        np.testing.assert_array_equal(result.arrays["gradients_0"][step], grad)
        theta = theta - 0.5 * grad
    np.testing.assert_array_equal(result.arrays["trajectory_0"][-1], theta)


def test_the_gradient_kind_has_no_reference_gradient_in_memory(sandbox):
    code = ("import gc, sys\n"
            "found = [m for m in sys.modules if m.startswith('grader.engine.')\n"
            "         and m != 'grader.engine.options']\n"
            "found += [getattr(o, '__qualname__', '') for o in gc.get_objects()\n"
            "          if getattr(o, '__name__', '') in ('loss_and_grad', 'make_problem')]\n"
            "print(found)\n"
            "def gradient(params, X, y):\n    return params\n")
    job = Job("gradient", code, "gradient", {"runs": [{}]},
              {"X": np.zeros(3), "y": np.zeros(3), "x0_0": np.zeros(2), "lrs_0": np.ones(1)})
    assert sandbox.run(job).stdout.strip() == "[]"


def test_the_schedule_kind_returns_the_students_rates(sandbox):
    code = "def lr_at(epoch, lr0, gamma=0.5, **hyper):\n    return lr0 * gamma ** (epoch // 2)\n"
    runs = [{"lr0": 0.8, "epochs": 5, "hyper": {"gamma": 0.1}}]
    job = Job("schedule", code, "lr_at", {"runs": runs})
    result = sandbox.run(job)
    np.testing.assert_allclose(result.arrays["rates_0"], [0.8, 0.8, 0.08, 0.08, 0.008])


def test_the_schedule_kind_has_no_reference_schedule_in_memory(sandbox):
    code = ("import gc, sys\n"
            "found = [m for m in sys.modules if m in ('grader.engine.schedules',\n"
            "                                       'grader.engine.runs')]\n"
            "found += [o.__name__ for o in gc.get_objects() if callable(o)\n"
            "          and getattr(o, '__name__', '') in ('step_decay', 'cosine', 'warmup')]\n"
            "print(found)\n"
            "def lr_at(epoch, lr0, **hyper):\n    return lr0\n")
    job = Job("schedule", code, "lr_at", {"runs": [{"lr0": 0.1, "epochs": 1}]})
    assert sandbox.run(job).stdout.strip() == "[]"


def test_unknown_kinds_and_oversized_jobs_are_refused_before_running(sandbox):
    with pytest.raises(SandboxError, match="unknown job kind"):
        sandbox.run(Job("optimizer", PLAIN_GD, "update"))
    huge = Job.update_rule(PLAIN_GD, problem={"name": "quadratic"},
                           runs=[{"x0": [1.0, 1.0], "lrs": np.zeros(3_000_000)}])
    with pytest.raises(SandboxError, match="limit"):
        sandbox.run(huge)
