"""Legacy mode reproduces the course script (tests/golden/gradient_descent_seed.py, the
course's gradient-descent example kept verbatim) number for number."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.engine import RunSpec, sweep

SEED_SCRIPT = Path(__file__).resolve().parents[1] / "golden" / "gradient_descent_seed.py"

# What the course script prints on numpy 2.4 (its docstring): lr, final w, final b,
# loss at epoch 0, loss at epoch 99.
PRINTED = [
    (0.01, 0.0918242566534428, 1.764366167675048, 10.729463627310146, 0.3583311403721032),
    (0.1, 1.7318863989222033, 1.1338022574106807, 9.261108319770134, 0.015195806231644531),
    (0.5, 2.012390896296655, 0.9834702932475178, 3.186607945213567, 0.008149242146580742),
]

_RUNNER = """
import json, runpy, sys
ns = runpy.run_path(sys.argv[1], run_name="__main__")
print(json.dumps({"histories": [list(map(float, h)) for h in ns["loss_histories"]]}))
"""


@pytest.fixture(scope="module")
def seed_script_output(tmp_path_factory):
    """Run the course script itself, in a scratch directory (it writes seed.png)."""
    workdir = tmp_path_factory.mktemp("seed")
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(SEED_SCRIPT)],
        cwd=workdir, capture_output=True, text=True, check=True, timeout=120,
    )
    lines = done.stdout.strip().splitlines()
    printed = [tuple(float(x) for x in line.split()) for line in lines[:3]]
    return printed, json.loads(lines[3])["histories"]


@pytest.fixture(scope="module")
def legacy():
    return sweep(RunSpec(init="legacy"))


def test_legacy_reproduces_the_printed_numbers(legacy):
    for run, (lr, w, b, first, last) in zip(legacy.runs, PRINTED, strict=True):
        assert run.lr == lr
        np.testing.assert_allclose(run.final_params, [w, b], rtol=1e-12, atol=0)
        np.testing.assert_allclose([run.losses[0], run.losses[-1]], [first, last], rtol=1e-12)


def test_the_course_script_still_prints_what_its_docstring_says(seed_script_output):
    printed, _ = seed_script_output
    np.testing.assert_allclose(printed, PRINTED, rtol=1e-12)


def test_legacy_reproduces_the_whole_loss_histories(legacy, seed_script_output):
    _, histories = seed_script_output
    for run, history in zip(legacy.runs, histories, strict=True):
        assert len(run.losses) == len(history) == 100
        np.testing.assert_allclose(run.losses, history, rtol=1e-12, atol=0)


def test_legacy_is_in_fact_bit_for_bit_identical(legacy, seed_script_output):
    _, histories = seed_script_output
    for run, history in zip(legacy.runs, histories, strict=True):
        assert run.losses.tolist() == history


def test_shared_mode_starts_every_rate_from_the_course_scripts_first_draw(legacy):
    shared = sweep(RunSpec())
    starts = {tuple(run.trajectory[0]) for run in shared.runs}
    assert starts == {tuple(legacy.runs[0].trajectory[0])}
    # The first learning rate is the same run in both modes.
    assert shared.runs[0].losses.tolist() == legacy.runs[0].losses.tolist()


def test_the_data_is_the_course_data():
    result = sweep(RunSpec(epochs=1, learning_rates=[0.1]))
    problem = result.plan.problem
    rs = np.random.RandomState(42)
    X = np.linspace(0, 1, 100)
    y = 2 * X + 1 + rs.normal(0, 0.1, size=X.shape)
    assert problem.X.tolist() == X.tolist()
    assert problem.y.tolist() == y.tolist()
