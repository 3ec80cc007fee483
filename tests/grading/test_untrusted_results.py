"""Grading a result that the student's code forged: a crash with a score of zero, and no
more work than the exercise itself, whatever the frame held."""

from __future__ import annotations

import numpy as np
import pytest

from grader.catalog import load_catalog
from grader.grading import split_whole, student_trajectories
from grader.preparation import PreparedExercise
from grader.sandbox.client import JobResult, RunReport

from ..sandbox.conftest import needs_root
from ..sandbox.forgery import CUT_BY_THE_RUNNER, JobShape, forgeries, honest_forgery

pytestmark = needs_root
CATALOG = load_catalog()
#: One exercise of each kind.
EXERCISES = ("gd", "mse-gradient", "lr-step-decay")


def shape_of(prepared: PreparedExercise) -> JobShape:
    """What the job of the exercise's visible runs asks for, as a student could work it
    out (hidden runs go to a job of their own, whose shape the student never sees)."""
    runs = [run for run in prepared.runs if run.case.visible]
    if prepared.exercise.kind == "schedule":
        return JobShape("schedule", tuple(run.case.epochs for run in runs), (0,) * len(runs))
    return JobShape(prepared.exercise.kind, tuple(len(run.step_rates) for run in runs),
                    tuple(run.x0.size for run in runs))


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_an_honest_forgery_is_graded(grader, exercise_id):
    """The control: the forging code reaches the result pipe (a frame like the harness's
    own, of zeros, is graded as such)."""
    code = honest_forgery(shape_of(grader.prepare(exercise_id)))
    result = grader.grade(exercise_id, code)
    # shaped for the visible job: there it is read as the harness's own frame; the hidden
    # job (other runs) refuses it, so the hidden runs fail
    assert any(run.verdict != "error" for run in result.runs if run.visible)
    assert all(run.verdict == "error" for run in result.runs if not run.visible)


@pytest.mark.parametrize(("exercise_id", "name"), [
    (exercise_id, name) for exercise_id in EXERCISES
    for name in forgeries(JobShape(CATALOG.get(exercise_id).kind, (1,), (1,)))])
def test_a_forged_result_grades_as_a_crash(grader, exercise_id, name):
    code = forgeries(shape_of(grader.prepare(exercise_id)))[name]
    result = grader.grade(exercise_id, code)
    expected = "output-limit" if name in CUT_BY_THE_RUNNER else "crashed"
    assert result.sandbox_verdict == expected, (name, result.sandbox_detail)
    assert result.score == 0
    assert {run.verdict for run in result.runs} == {"error"}
    assert result.feedback == result.sandbox_detail


def stored(prepared: PreparedExercise, arrays: dict[str, np.ndarray], runs: int | None = None
           ) -> JobResult:
    """A kept result, as one kept before results were checked could hold."""
    count = len(prepared.runs) if runs is None else runs
    return JobResult("ok", "Your code ran to the end.",
                     runs=(RunReport(steps=1, stopped=None, error=None),) * count, arrays=arrays)


@pytest.mark.parametrize("trajectory", [
    np.zeros((2_000_000, 2)), np.zeros(101), np.zeros((101, 2, 1)), np.zeros((101, 3)),
    np.zeros((0, 2))], ids=["two-million-rows", "1-D", "3-D", "wrong-width", "empty"])
def test_a_kept_trajectory_that_does_not_fit_its_run_is_a_failed_run(grader, trajectory):
    prepared = grader.prepare("gd")
    result = stored(prepared, {"trajectory_0": trajectory})
    assert student_trajectories(prepared.exercise, prepared.runs, result)[0] is None
    graded = grader.assess(prepared, split_whole(prepared, result))
    assert graded.runs[0].verdict == "error"


@pytest.mark.parametrize("rates", [np.zeros(4_000_000), np.zeros((100, 2)), np.zeros(101)],
                         ids=["four-million-rates", "2-D", "one-too-many"])
def test_kept_rates_that_do_not_fit_their_run_are_a_failed_run(grader, rates):
    prepared = grader.prepare("lr-step-decay")
    epochs = prepared.runs[0].case.epochs
    assert rates.shape != (epochs,)
    result = stored(prepared, {"rates_0": rates})
    assert student_trajectories(prepared.exercise, prepared.runs, result)[0] is None
    assert grader.assess(prepared, split_whole(prepared, result)).runs[0].verdict == "error"


def test_a_kept_result_with_more_runs_than_the_exercise_is_graded(grader):
    for exercise_id in ("gd", "lr-step-decay"):
        prepared = grader.prepare(exercise_id)
        result = stored(prepared, {}, runs=len(prepared.runs) + 3)
        trajectories = student_trajectories(prepared.exercise, prepared.runs, result)
        assert len(trajectories) == len(prepared.runs)
        graded = grader.assess(prepared, split_whole(prepared, result))
        assert len(graded.runs) == len(prepared.runs)
