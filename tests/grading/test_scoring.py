"""The score's arithmetic, on trajectories built by hand."""

from __future__ import annotations

import numpy as np
import pytest

from grader.catalog import Scoring
from grader.engine import RunSpec, sweep
from grader.scoring import first_disagreement, judge, progress, score_run

SCORING = Scoring()


def reference_trace(lr: float = 0.1, epochs: int = 50):
    result = sweep(RunSpec(learning_rates=[lr], epochs=epochs))
    run, plan = result.runs[0], result.plan
    return judge(run.recorded_losses, run.trajectory, plan.target, plan.spec.tolerance), plan


def student_trace(trajectory, plan):
    from grader.engine.runs import objective_loss

    with np.errstate(all="ignore"):
        losses = objective_loss(plan, trajectory)
    return judge(losses, trajectory, plan.target, plan.spec.tolerance)


def test_first_disagreement_uses_atol_plus_rtol_times_the_norm():
    ref = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    close = ref + np.array([[0, 0], [1e-9, 0], [1.9e-7, 0]])
    assert first_disagreement(close, ref, atol=1e-9, rtol=1e-7) is None
    far = ref + np.array([[0, 0], [0, 0], [3e-7, 0]])
    assert first_disagreement(far, ref, atol=1e-9, rtol=1e-7) == 2
    assert first_disagreement(ref[:2], ref, 1e-9, 1e-7) == 2  # stopped early
    assert first_disagreement(np.array([[0, 0], [np.nan, 0]]), ref[:2], 1e-9, 1e-7) == 1


def test_the_reference_itself_scores_100():
    reference, plan = reference_trace()
    assert score_run(reference, reference, SCORING, plan.target).score == 100


def test_a_no_op_scores_zero():
    reference, plan = reference_trace()
    frozen = np.repeat(reference.trajectory[:1], len(reference.trajectory), axis=0)
    result = score_run(student_trace(frozen, plan), reference, SCORING, plan.target)
    assert result.score == 0 and result.verdict == "stalled"


def test_ascending_scores_zero():
    reference, plan = reference_trace()
    uphill = sweep(RunSpec(learning_rates=[0.1], epochs=50, hyper={"maximize": True})).runs[0]
    result = score_run(student_trace(uphill.trajectory, plan), reference, SCORING, plan.target)
    assert result.score == 0 and result.verdict == "diverged"


def test_nan_keeps_only_the_agreement_before_it():
    reference, plan = reference_trace()
    broken = reference.trajectory.copy()
    broken[5:] = np.nan
    result = score_run(student_trace(broken, plan), reference, SCORING, plan.target)
    steps = len(reference.trajectory) - 1
    assert result.verdict == "non-finite" and result.first_disagreement == 5
    assert result.score == pytest.approx(100 * SCORING.agreement * 4 / steps)
    broken[1:] = np.nan
    assert score_run(student_trace(broken, plan), reference, SCORING, plan.target).score == 0


def test_a_slower_but_converging_rule_gets_partial_credit():
    reference, plan = reference_trace(lr=0.5)
    slower = sweep(RunSpec(learning_rates=[0.45], epochs=50)).runs[0]
    result = score_run(student_trace(slower.trajectory, plan), reference, SCORING, plan.target)
    assert 0 < result.score < 100
    assert result.verdict == "converged-differently" and result.first_disagreement == 1
    assert result.progress == pytest.approx(0.9, abs=0.1)


def test_following_a_diverging_reference_step_by_step_is_what_counts():
    reference, plan = reference_trace(lr=0.9, epochs=100)
    assert reference.outcome == "diverged"
    almost = reference.trajectory.copy()
    almost[10:] *= 1.001
    result = score_run(student_trace(almost, plan), reference, SCORING, plan.target)
    assert result.score == pytest.approx(100 * 9 / (len(reference.trajectory) - 1))


def test_progress_counts_e_folds_of_the_gap():
    assert progress(np.array([1.0, 0.5, np.e**-3]), 0.0) == pytest.approx(3.0)
    assert progress(np.array([1.0, 2.0]), 0.0) < 0
