"""What a student is told, and the scores that were unfair, from students' own rules.

Each test grades a rule written the way students in an ML course write it, with the real
Grader and Sandbox, and asserts on what the student sees: the score, the diagnosis, the
feedback sentence.
"""

from __future__ import annotations

import re

import pytest

from grader.catalog import load_catalog

from ..sandbox.conftest import needs_root

pytestmark = needs_root
CATALOG = load_catalog()


def ids(result) -> list[str]:
    return [d.id for d in result.diagnosis]


ADAM_BODY = (
    "    state['t'] += 1\n"
    "    state['m'] = beta1 * state['m'] + (1 - beta1) * grad\n"
    "    state['v'] = beta2 * state['v'] + (1 - beta2) * grad**2\n"
    "    m_hat = state['m'] / (1 - beta1 ** state['t'])\n"
    "    v_hat = state['v'] / (1 - beta2 ** state['t'])\n"
    "    return params - lr * m_hat / (np.sqrt(v_hat) + eps)\n"
)


# --- 1. wrong or missing diagnoses -------------------------------------------------------


def test_an_error_on_some_cases_leads_and_no_diagnosis_hides_it(grader):
    # state for 2 parameters: right on the visible regression, a ValueError elsewhere
    code = ("import numpy as np\n"
            "def update(params, grad, lr, state, beta1, beta2, eps, **hyper):\n"
            "    if not state:\n"
            "        state.update(t=0, m=np.zeros(2), v=np.zeros(2))\n" + ADAM_BODY)
    result = grader.grade("adam", code)
    assert result.diagnosis == ()  # eps is where torch puts it: no eps diagnosis
    assert result.feedback.startswith("Your code raised ValueError on line 6 on hidden cases")
    assert "`bowl` (quadratic bowl" in result.feedback
    assert "`classifier` (logistic regression" in result.feedback
    assert "another number of parameters" in result.feedback
    assert "sqrt" not in result.feedback
    # a hidden run's message would show its shapes: never shown
    assert "broadcast" not in result.feedback and "(4,)" not in result.feedback


@pytest.mark.parametrize(("exercise_id", "code"), [
    ("gd", "def update(params, grad, lr, state, **hyper):\n"
           "    if lr > 0.6:\n"
           "        raise ValueError('learning rate too large')\n"
           "    return params - lr * grad\n"),
    ("l2-gd", "def update(params, grad, lr, state, weight_decay, **hyper):\n"
              "    assert lr < 0.6, 'learning rate too large'\n"
              "    return params - lr * (grad + weight_decay * params)\n"),
])
def test_a_stateless_rule_that_raises_is_told_its_error_not_state_reset(grader, exercise_id,
                                                                         code):
    result = grader.grade(exercise_id, code)
    assert "state-reset" not in ids(result) and result.diagnosis == ()
    assert "running averages" not in result.feedback
    assert re.match(r"Your code raised (ValueError|AssertionError) on line \d: learning rate "
                    r"too large \(on case 'course' at lr 0\.7|Your code raised ValueError on "
                    r"line 3: learning rate too large \(on case 'course' at lr 0\.9",
                    result.feedback), result.feedback


def test_a_candidate_equal_to_the_reference_is_never_offered(grader):
    for exercise_id in ("gd", "l2-gd"):
        assert "state-reset" not in {c.id for c in grader.prepare(exercise_id).candidates}


@pytest.mark.parametrize("code", [
    # torch's form with the sign flipped
    "def update(params, grad, lr, state, momentum, **hyper):\n"
    "    if 'buffer' not in state:\n"
    "        state['buffer'] = grad.copy()\n"
    "    else:\n"
    "        state['buffer'] = momentum * state['buffer'] + grad\n"
    "    return params + lr * state['buffer']\n",
    # CS231n's velocity form with the sign flipped
    "import numpy as np\n"
    "def update(params, grad, lr, state, momentum, **hyper):\n"
    "    v = state.get('v', np.zeros_like(params))\n"
    "    v = momentum * v + lr * grad\n"
    "    state['v'] = v\n"
    "    return params + v\n",
])
def test_a_momentum_sign_flip_is_diagnosed(grader, code):
    result = grader.grade("momentum", code)
    assert result.score == 0 and ids(result) == ["sign-flip"]
    assert result.feedback.startswith("Your parameters climb the loss")


@pytest.mark.parametrize("exercise_id", ["adam", "adamw"])
def test_adam_in_the_efficient_form_with_plain_eps_is_named(grader, exercise_id):
    decay = ("    params = params * (1 - lr * weight_decay)\n" if exercise_id == "adamw" else "")
    code = ("import numpy as np\n"
            "def update(params, grad, lr, state, beta1, beta2, eps, weight_decay=0.0, **h):\n"
            + decay +
            "    t = state['t'] = state.get('t', 0) + 1\n"
            "    m = state['m'] = beta1 * state.get('m', 0) + (1 - beta1) * grad\n"
            "    v = state['v'] = beta2 * state.get('v', 0) + (1 - beta2) * grad * grad\n"
            "    lr_t = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)\n"
            "    return params - lr_t * m / (np.sqrt(v) + EPS)\n")
    wrong = grader.grade(exercise_id, code.replace("EPS", "eps"))
    assert ids(wrong) == ["adam-efficient-eps"] and wrong.score < 100
    assert "eps_hat = eps * sqrt(1 - beta2**t)" in wrong.feedback
    right = grader.grade(exercise_id, code.replace("EPS", "eps * np.sqrt(1 - beta2**t)"))
    assert right.score == 100 and right.diagnosis == ()


def test_returns_step_is_named_beyond_gd(grader):
    code = ("def update(params, grad, lr, state, momentum, **hyper):\n"
            "    if 'buffer' not in state:\n"
            "        state['buffer'] = grad.copy()\n"
            "    else:\n"
            "        state['buffer'] = momentum * state['buffer'] + grad\n"
            "    return -lr * state['buffer']\n")
    result = grader.grade("momentum", code)
    assert ids(result) == ["returns-step"]
    assert result.feedback.startswith("Your update returns the step instead of the new")


def test_decaying_one_epoch_late_is_named(grader):
    code = ("def lr_at(epoch, lr0, step_size, gamma, **hyper):\n"
            "    drops = 0\n"
            "    for e in range(1, epoch):\n"
            "        if e % step_size == 0:\n"
            "            drops += 1\n"
            "    return lr0 * gamma ** drops\n")
    result = grader.grade("lr-step-decay", code)
    assert ids(result) == ["step-decay-late"] and result.score < 100
    assert result.feedback.startswith("Your rate drops one epoch late")


# --- 2. feedback a student can act on ----------------------------------------------------


def test_the_first_difference_shows_digits_that_differ_and_the_relative_difference(grader):
    code = ("def update(params, grad, lr, state, **hyper):\n"
            "    return params - lr * grad * (1 + 1e-6)\n")
    result = grader.grade("gd", code)
    found = re.search(r"yours \(([^)]*)\), the reference's \(([^)]*)\), a relative "
                      r"difference of (\S+?)\.(?:\s|$)", result.feedback)
    assert found, result.feedback
    assert found.group(1) != found.group(2)
    assert 1e-8 < float(found.group(3)) < 1e-6


def test_when_only_hidden_runs_fail_the_feedback_names_those_cases(grader):
    # betas hard-coded to the visible case's values: only the hidden cases change them
    code = ("import numpy as np\n"
            "def update(params, grad, lr, state, eps, **hyper):\n"
            "    beta1, beta2 = 0.9, 0.999\n"
            "    if not state:\n"
            "        state.update(t=0, m=np.zeros_like(params), v=np.zeros_like(params))\n"
            + ADAM_BODY)
    result = grader.grade("adam", code)
    assert all(run.verdict == "match" for run in result.visible_runs) and result.score < 100
    assert re.search(r"Hidden case `banana` \(Rosenbrock, other betas[^)]*\): your curve "
                     r"leaves the reference at step \d+\.", result.feedback), result.feedback
    assert "Hidden case `bowl` (quadratic bowl, other betas" in result.feedback
    # never their inputs: no learning rate, beta or eps of a hidden case
    assert re.findall(r"\d+\.\d+|\de-\d", result.feedback) == []


def test_a_run_that_goes_nan_late_says_nan_and_the_step(grader):
    code = ("def update(params, grad, lr, state, **hyper):\n"
            "    t = state['t'] = state.get('t', 0) + 1\n"
            "    if t > 90:\n"
            "        return params * float('nan')\n"
            "    return params - lr * grad\n")
    result = grader.grade("gd", code)
    assert "none: the run stopped" not in result.feedback
    assert "On case 'course' with lr 0.01, your parameters become NaN at step 91" in (
        result.feedback)
    first = result.visible_runs[0].first_disagreement
    assert first["step"] == 91 and first["student"] == ["nan", "nan"]


# --- 3. fair scores ------------------------------------------------------------------------


def test_exact_until_a_late_nan_scores_above_wrong_from_step_10(grader):
    late_nan = grader.grade("gd", "def update(params, grad, lr, state, **hyper):\n"
                                  "    t = state['t'] = state.get('t', 0) + 1\n"
                                  "    if t > 90:\n"
                                  "        return params * float('nan')\n"
                                  "    return params - lr * grad\n")
    wrong_early = grader.grade("gd", "def update(params, grad, lr, state, **hyper):\n"
                                     "    t = state['t'] = state.get('t', 0) + 1\n"
                                     "    scale = 1.01 if t >= 10 else 1.0\n"
                                     "    return params - scale * lr * grad\n")
    assert late_nan.score > wrong_early.score
    course = next(run for run in late_nan.runs if run.lr == 0.01)
    assert course.verdict == "non-finite" and course.score == pytest.approx(60 * 90 / 100)


def test_a_print_per_step_costs_nothing_and_the_student_is_told_it_was_cut(grader):
    code = ("def update(params, grad, lr, state, **hyper):\n"
            "    print('params', params, 'grad', grad, 'lr', lr, '.' * 200)\n"
            "    return params - lr * grad\n")
    result = grader.grade("gd", code)
    assert result.score == 100 and result.sandbox_verdict == "ok"
    assert result.stdout.startswith("params [")
    assert len(result.stdout.encode()) <= grader.limits.output_limit
    assert "output beyond the first 64 KiB was dropped" in result.feedback


@pytest.mark.parametrize(("exercise_id", "code"), [
    ("gd", "import numpy as np\n"
           "def update(params, grad, lr, state, **hyper):\n"
           "    return params.astype(np.float32) - np.float32(lr) * grad.astype(np.float32)\n"),
    ("adam", "import numpy as np\n"
             "def update(params, grad, lr, state, beta1, beta2, eps, **hyper):\n"
             "    params, grad = params.astype(np.float32), grad.astype(np.float32)\n"
             "    if not state:\n"
             "        state.update(t=0, m=np.zeros_like(params), v=np.zeros_like(params))\n"
             + ADAM_BODY),
])
def test_a_correct_rule_in_float32_is_named_with_a_clear_partial_score(grader, exercise_id,
                                                                         code):
    result = grader.grade(exercise_id, code)
    # at most 90; a little less where float32's rounding grows on an oscillating run
    assert 80 <= result.score <= 90 and ids(result) == ["float32"]
    verdicts = [run.verdict for run in result.runs]
    assert "match" not in verdicts and 2 * verdicts.count("float32") > len(verdicts)
    assert result.feedback.startswith("Your numbers are float32 (single precision)")


def test_a_wrong_rule_in_float32_stays_below_the_float32_ceiling(grader):
    code = ("import numpy as np\n"
            "def update(params, grad, lr, state, **hyper):\n"
            "    return (params - 0.5 * lr * grad).astype(np.float32)\n")
    result = grader.grade("gd", code)
    assert result.score < 60 and "float32" not in ids(result)


@pytest.mark.parametrize(("returned", "shape"), [
    ("(params - lr * grad).reshape(-1, 1)", "shape (2, 1)"),
    ("(params - lr * grad)[None, :]", "shape (1, 2)"),
    ("float((params - lr * grad)[0])", "a single number (shape ())"),
])
def test_a_return_value_of_another_shape_is_a_contract_error_naming_both(grader, returned,
                                                                          shape):
    result = grader.grade("gd", "def update(params, grad, lr, state, **hyper):\n"
                                f"    return {returned}\n")
    assert result.score == 0
    assert result.feedback == ("Your code ran but broke the contract: update must return an "
                               f"array of the parameters' shape (2,); it returned {shape}.")


def test_a_list_or_tuple_of_the_right_length_is_fine(grader):
    for returned in ("list(params - lr * grad)", "tuple(float(x) for x in params - lr * grad)"):
        result = grader.grade("gd", "def update(params, grad, lr, state, **hyper):\n"
                                    f"    return {returned}\n")
        assert result.score == 100, result.feedback
