"""Plots of an exercise's own problems: contours for two parameters only, the minimum
starred where the instructor gave one, and none drawn where they did not."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from grader.catalog import load_catalog
from grader.engine import RunSpec, sweep
from grader.engine.problems import REGISTERED
from grader.plots import plot_sweep, sweep_figure


@pytest.fixture(scope="module", autouse=True)
def bundled():
    kept = dict(REGISTERED)
    catalog = load_catalog()
    yield catalog
    REGISTERED.clear()
    REGISTERED.update(kept)


def _star(figure):
    return [line for line in figure.axes[2].get_lines() if line.get_marker() == "*"]


def test_a_two_parameter_module_problem_is_drawn_over_its_contours():
    result = sweep(RunSpec(problem="himmelblau-momentum/himmelblau", learning_rates=[0.01, 0.03],
                           epochs=60))
    figure = sweep_figure(result)
    assert len(figure.axes) == 3
    assert (figure.axes[2].get_xlabel(), figure.axes[2].get_ylabel()) == ("x", "y")
    [star] = _star(figure)
    assert list(star.get_xydata()[0]) == [3.0, 2.0]
    assert "himmelblau-momentum/himmelblau" in figure._suptitle.get_text()
    assert plot_sweep(result, "png")[:4] == b"\x89PNG"


def test_a_data_set_with_two_features_has_no_contour_panel(tmp_path):
    folder = tmp_path / "blobs"
    (folder / "data").mkdir(parents=True)
    rng = np.random.default_rng(1)
    table = np.column_stack([rng.normal(size=(30, 2)), rng.normal(size=30)])
    np.save(folder / "data" / "t.npy", table)
    source = load_catalog().get("gd").directory
    for name in ("README.md", "starter.py", "solution.py"):
        (folder / name).write_text((source / name).read_text())
    (folder / "exercise.toml").write_text(textwrap.dedent('''\
        id = "blobs"
        title = "Blobs"
        version = 1
        kind = "update_rule"
        summary = "A data set with two features."
        [[problems]]
        name = "t"
        data = "data/t.npy"
        features = [0, 1]
        target = 2
        [[cases]]
        name = "t"
        visible = true
        problem = "t"
        learning_rates = [0.1]
        '''))
    assert load_catalog(tmp_path).errors == ()
    result = sweep(RunSpec(problem="blobs/t", learning_rates=[0.1], epochs=30))
    assert result.plan.problem.dim == 3 and result.stability is not None
    assert len(sweep_figure(result).axes) == 2


def test_a_module_without_a_minimum_is_judged_by_its_steps_and_drawn_without_a_star(tmp_path):
    folder = tmp_path / "no-minimum"
    source = load_catalog().get("himmelblau-momentum").directory
    folder.mkdir()
    for name in ("README.md", "starter.py", "solution.py"):
        (folder / name).write_text((source / name).read_text())
    toml = (source / "exercise.toml").read_text().split("[[mistakes]]")[0]
    (folder / "exercise.toml").write_text(toml.replace('id = "himmelblau-momentum"',
                                                       'id = "no-minimum"'))
    module = (source / "himmelblau.py").read_text().replace("MINIMUM = (3.0, 2.0)", "")
    (folder / "himmelblau.py").write_text(module)
    assert load_catalog(tmp_path).errors == ()
    result = sweep(RunSpec(problem="no-minimum/himmelblau", learning_rates=[0.01], epochs=60))
    data = result.to_dict()
    assert data["convergence_criterion"] == "step" and data["target_loss"] is None
    assert data["problem_info"]["minimum"] is None
    figure = sweep_figure(result)
    assert len(figure.axes) == 3
    assert all(np.isnan(star.get_xydata()).all() for star in _star(figure))
