"""Hidden cases stay hidden, whatever the student's code does in its own process.

The visible runs and the hidden runs are two jobs in two children: the visible one holds
no hidden input (student code that reads every object it can reach finds none), and
nothing the hidden one prints or raises reaches the student's result. Neither child holds
a problem or its minimum, only the gradient.
"""

from __future__ import annotations

import json

from grader.catalog import load_catalog
from grader.grading import build_job, split_whole

from ..sandbox.conftest import needs_root
from ..spies import found, input_patterns, inputs_spy, minimum_spy

pytestmark = needs_root
CATALOG = load_catalog()
HIDDEN_NAMES = ("regression-other-data", "bowl", "banana")


def student_text(result) -> str:
    return json.dumps(result.to_dict(), allow_nan=False)


def test_a_visible_run_cannot_reach_any_hidden_input(grader):
    prepared = grader.prepare("gd")
    patterns = input_patterns(prepared.runs)
    hidden = {label for label in patterns if label.split(":")[1] in HIDDEN_NAMES}
    visible = set(patterns) - hidden
    assert hidden and visible
    result = grader.grade("gd", inputs_spy(patterns))
    assert result.score == 100  # the spy is a correct rule besides
    seen_from_visible = set(found(result.stdout))
    # the spy works: it finds every visible input in its own process ...
    assert seen_from_visible == visible
    # ... and the hidden child, which it reads the same way, holds the hidden ones
    hidden_job = result.instructor_view()["hidden_job"]
    assert hidden <= set(found(hidden_job["stdout"]))
    assert not set(found(hidden_job["stdout"])) & visible  # and no visible one
    for name in HIDDEN_NAMES:
        assert name not in student_text(result)


PRINTS_AND_RAISES = '''
VISIBLE_RATES = (0.01, 0.1, 0.5, 0.9)


def update(params, grad, lr, state, **hyper):
    if not state:
        state["seen"] = True
        print("START", params.tolist(), "LR", lr, "HYPER", hyper)
        if lr not in VISIBLE_RATES:
            raise ValueError(f"LEAK {params.tolist()} {lr}")
    return params - lr * grad
'''


def test_what_a_hidden_run_prints_or_raises_never_reaches_the_student(grader):
    result = grader.grade("gd", PRINTS_AND_RAISES)
    text = student_text(result)
    assert "START" in result.stdout  # the visible runs' output is the student's
    assert "LEAK" not in text and "LR 0.05" not in text and "LR 0.85" not in text
    assert result.stdout.count("START") == 4  # one per visible run, none of a hidden one
    assert result.error is None
    assert result.sandbox_verdict == "error"  # the hidden runs' verdict, and only that
    assert "hidden run" in result.sandbox_detail and "LEAK" not in result.sandbox_detail
    assert result.hidden_summary()["verdicts"] == {"error": 8}
    # the instructors see everything the hidden child printed and raised
    hidden_job = result.instructor_view()["hidden_job"]
    assert hidden_job["stdout"].count("START") == 8 and "LR 0.05" in hidden_job["stdout"]
    assert hidden_job["error"]["message"].startswith("LEAK")


def test_a_rule_that_looks_for_the_minimum_finds_none(grader):
    result = grader.grade("gd", minimum_spy())
    assert found(result.stdout, "minimum-spy found") == []
    hidden_stdout = result.instructor_view()["hidden_job"]["stdout"]
    assert "minimum-spy found" in hidden_stdout
    assert found(hidden_stdout, "minimum-spy found") == []
    assert result.score == 100  # it never jumped: a plain rule's trajectory


def test_the_instructor_view_is_absent_from_the_students_result(grader):
    result = grader.grade("gd", PRINTS_AND_RAISES)
    data = result.to_dict()
    assert "instructor" not in data and "hidden_job" not in data
    assert list(data["replay"]["cases"]) == ["course"]


def test_a_result_kept_from_one_job_over_every_run_grades_the_same(grader):
    # submissions graded before the split kept one job over every run: they still score
    # and draw the same, their printed output staying with the visible runs
    prepared = grader.prepare("gd")
    code = CATALOG.get("gd").mistakes[1].source
    whole = grader.sandbox.run(build_job(prepared.exercise, prepared.runs, code))
    again = grader.assess(prepared, split_whole(prepared, whole))
    now = grader.grade("gd", code)
    assert again.to_dict() == now.to_dict()
    assert [t.student.trajectory.tolist() for t in again.traces] == [
        t.student.trajectory.tolist() for t in now.traces]
