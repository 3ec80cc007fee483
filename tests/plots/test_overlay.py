"""The overlay plot of a graded submission."""

from __future__ import annotations

import pytest
from matplotlib.lines import Line2D

from grader.catalog import load_catalog
from grader.grading import Grader
from grader.plots import plot_grade
from grader.plots.overlay import grade_figure
from grader.sandbox import Sandbox

from ..sandbox.conftest import needs_root

pytestmark = needs_root
HALF = "def update(params, grad, lr, state, **hyper):\n    return params - 0.5 * lr * grad\n"


@pytest.fixture(scope="module")
def graded():
    catalog = load_catalog()
    with Sandbox() as sandbox:
        grader = Grader(catalog, sandbox)
        yield {"half": grader.grade("gd", HALF),
               "solution": grader.grade("gd", catalog.get("gd").solution),
               "adam-mistake": grader.grade("adam", catalog.get("adam").mistakes[0].source)}


def test_student_solid_over_reference_dashed_in_the_same_colour(graded):
    figure = grade_figure(graded["half"])
    loss_axis = figure.axes[0]
    lines = [line for line in loss_axis.get_lines() if isinstance(line, Line2D)]
    dashed = [line for line in lines if line.get_linestyle() == "--"]
    solid = [line for line in lines if line.get_linestyle() == "-" and len(line.get_xdata()) > 1]
    assert len(dashed) == len(solid) == 4
    assert [d.get_color() for d in dashed] == [s.get_color() for s in solid]
    assert loss_axis.get_yscale() == "log"


def test_the_first_difference_is_marked(graded):
    figure = grade_figure(graded["half"])
    markers = [line for line in figure.axes[0].get_lines() if line.get_marker() == "o"]
    assert len(markers) == 4  # one per learning rate, at step 1
    assert all(list(line.get_xdata()) == [1] for line in markers)
    assert "gd: " in figure._suptitle.get_text()


def test_a_correct_solution_has_no_difference_marks(graded):
    figure = grade_figure(graded["solution"])
    assert not [line for line in figure.axes[0].get_lines() if line.get_marker() == "o"]
    assert figure._suptitle.get_text() == "gd: 100 / 100"


def test_two_parameter_problems_get_both_paths_on_the_contours(graded):
    figure = grade_figure(graded["half"])
    assert len(figure.axes) == 2 and figure.axes[1].get_xlabel() == "w"


def test_the_diagnosis_is_in_the_title_and_real_images_come_out(graded):
    result = graded["adam-mistake"]
    assert "adam-no-bias-correction" in grade_figure(result)._suptitle.get_text()
    assert plot_grade(result, "png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in plot_grade(result, "svg")[:400]
