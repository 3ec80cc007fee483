"""An exercise's own problems: data sets and instructors' modules, and how bad ones are
refused at load (with the file and the reason) while the other exercises still load."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from grader.catalog import default_directory, load_catalog
from grader.engine import RunSpec, sweep
from grader.engine.custom import DataRegression, ModuleProblem, job_gradient, job_spec
from grader.engine.problems import REGISTERED, make_problem

BUNDLED = default_directory()

HIMMELBLAU = "himmelblau-momentum/himmelblau"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(autouse=True)
def _registered_problems_restored():
    """The engine's registry is one per process (as a service has one catalog): each test
    here loads folders of its own, so the bundled problems are put back after it."""
    kept = dict(REGISTERED)
    yield
    REGISTERED.clear()
    REGISTERED.update(kept)


# --- the bundled ones ----------------------------------------------------------------------


def test_the_data_set_is_anscombes_quartet(catalog):
    # Anscombe (1973): every set has the least-squares line y = 3.00 + 0.500 x, so a
    # mistyped number in the CSV would show here
    problem = make_problem("anscombe-gradient/set-1-raw")
    assert isinstance(problem, DataRegression) and problem.n_samples == 11
    w, b = problem.minimum.point
    assert w == pytest.approx(0.5001, abs=1e-4) and b == pytest.approx(3.0001, abs=1e-4)
    for index in "1234":
        standardized = make_problem(f"anscombe-gradient/set-{index}")
        assert standardized.X.mean() == pytest.approx(0, abs=1e-12)
        assert standardized.X.std() == pytest.approx(1)
        # on standardised x the fitted bias is the mean of y, 7.50 in every set
        assert standardized.minimum.point[-1] == pytest.approx(7.50, abs=0.01)


def test_a_case_names_its_problem_locally_and_the_catalog_qualifies_it(catalog):
    cases = catalog.get("anscombe-gradient").cases
    assert [case.problem for case in cases][:2] == ["anscombe-gradient/set-1",
                                                    "anscombe-gradient/set-2"]
    assert catalog.get("himmelblau-momentum").cases[0].problem == HIMMELBLAU


def test_the_instructors_problem_runs_in_the_engine(catalog):
    problem = make_problem(HIMMELBLAU)
    assert isinstance(problem, ModuleProblem) and problem.param_names == ("x", "y")
    assert problem.minimum.value == 0 and problem.hessian is None
    result = sweep(RunSpec(problem=HIMMELBLAU, learning_rates=[0.01], epochs=200,
                           x0=[-0.5, 4.0]))
    # non-convex: this start ends in another of the four minima, still at loss 0
    assert result.runs[0].outcome == "converged" and result.stability is None
    assert result.runs[0].final_params == pytest.approx([-2.805118, 3.131312], abs=1e-4)
    assert result.to_dict()["problem_info"]["minimum"]["point"] == [3.0, 2.0]


def test_rows_of_a_sweep_are_computed_as_alone(catalog):
    together = sweep(RunSpec(problem="anscombe-gradient/set-1-raw", learning_rates=[0.001, 0.01],
                             epochs=50))
    alone = sweep(RunSpec(problem="anscombe-gradient/set-1-raw", learning_rates=[0.01],
                          epochs=50))
    assert np.array_equal(together.runs[1].trajectory, alone.runs[0].trajectory)
    # a constant Hessian: the stability facts of least squares (lr < 2 / lambda_max)
    assert together.stability.gd_max_lr == pytest.approx(0.01088, abs=1e-4)


def test_the_gradient_that_travels_to_the_sandbox_is_the_problems(catalog):
    theta = np.array([[0.3, -0.2], [1.0, 2.0]])
    for name in (HIMMELBLAU, "anscombe-gradient/set-3"):
        problem = make_problem(name)
        spec = job_spec(problem)
        assert "loss" not in str(spec.get("X", "")) and "minimum" not in spec
        assert np.array_equal(job_gradient(spec, {})(theta), problem.grad(theta))


def test_a_changed_problem_is_a_new_reference_run(tmp_path):
    first = _copy(tmp_path, "himmelblau-momentum")
    load_catalog(tmp_path)
    from grader.engine import plan_run

    before = plan_run(RunSpec(problem=HIMMELBLAU)).canonical()
    module = first / "himmelblau.py"
    module.write_text(module.read_text().replace("START = (0.0, 0.0)", "START = (1.0, 0.0)"))
    load_catalog(tmp_path)
    after = plan_run(RunSpec(problem=HIMMELBLAU)).canonical()
    assert before["problem_fingerprint"] != after["problem_fingerprint"]


# --- bad instructor input ---------------------------------------------------------------------


def _copy(root: Path, exercise_id: str) -> Path:
    shutil.copytree(BUNDLED / exercise_id, root / exercise_id)
    return root / exercise_id


MODULE = '''\
import numpy as np

PARAM_NAMES = ("x", "y")
START = (1.0, 2.0)
MINIMUM = (0.0, 0.0)


def loss(theta):
    return float(theta[0] ** 2 + 3 * theta[1] ** 2)


def gradient(theta):
    return np.array([2 * theta[0], 6 * theta[1]])
'''


def _module_exercise(root: Path, module: str, exercise_id: str = "bowl-mine") -> Path:
    """A copy of the bundled Himmelblau exercise whose problem is ``module``."""
    folder = _copy(root, "himmelblau-momentum")
    folder = folder.rename(root / exercise_id)
    toml = folder / "exercise.toml"
    toml.write_text(toml.read_text().replace('id = "himmelblau-momentum"',
                                             f'id = "{exercise_id}"'))
    (folder / "himmelblau.py").write_text(textwrap.dedent(module))
    return folder


def _refused(root: Path, exercise_id: str) -> list[str]:
    """Load ``root`` (holding a good exercise too): the bad one is out, the good one in, and
    the bad one's errors come back as lines."""
    catalog = load_catalog(root)
    assert "gd" in catalog.exercises, "the other exercises must still load"
    assert exercise_id not in catalog.exercises
    return [str(error) for error in catalog.errors]


@pytest.fixture
def root(tmp_path):
    _copy(tmp_path, "gd")
    return tmp_path


def test_a_good_module_loads(root):
    _module_exercise(root, MODULE)
    catalog = load_catalog(root)
    assert catalog.errors == ()
    problem = make_problem("bowl-mine/himmelblau")
    assert problem.minimum.value == 0.0


def test_a_wrong_gradient_is_refused_with_the_file_and_the_point(root):
    _module_exercise(root, MODULE.replace("6 * theta[1]", "3 * theta[1]"))
    [error] = _refused(root, "bowl-mine")
    assert error.startswith("exercises/bowl-mine/himmelblau.py: gradient: does not match the "
                            "loss: at (1, 2) gradient() gives (2, 6) but central finite "
                            "differences of loss() give (2, 12)")
    assert "bowl-mine/himmelblau" not in REGISTERED


def test_a_module_that_raises_at_import_is_refused(root):
    _module_exercise(root, "import numpy as np\n\nSCALE = 1 / 0\n")
    [error] = _refused(root, "bowl-mine")
    assert error == ("exercises/bowl-mine/himmelblau.py: line 3: raises ZeroDivisionError when "
                     "imported: division by zero")


def test_a_module_with_a_syntax_error_is_refused(root):
    _module_exercise(root, "def loss(theta:\n    return 0\n")
    [error] = _refused(root, "bowl-mine")
    assert error.startswith("exercises/bowl-mine/himmelblau.py: line 1: syntax error")


@pytest.mark.parametrize(("change", "expected"), [
    (("START = (1.0, 2.0)", "START = (1.0, 2.0, 3.0)"),
     "himmelblau.py: START: must have shape (2,), got shape (3,)"),
    (("return np.array([2 * theta[0], 6 * theta[1]])", "return np.array([2 * theta[0]])"),
     "himmelblau.py: gradient: must have shape (2,), got shape (1,) (at (1, 2))"),
    (("return float(theta[0] ** 2 + 3 * theta[1] ** 2)", "return theta * 2"),
     "himmelblau.py: loss: must return one number, got ndarray at (1, 2)"),
    (("return float(theta[0] ** 2 + 3 * theta[1] ** 2)", "return float('nan')"),
     "himmelblau.py: loss: is nan at (1, 2)"),
    (("MINIMUM = (0.0, 0.0)", "MINIMUM = (1.0, 0.0)"),
     "himmelblau.py: MINIMUM: is not a stationary point: the gradient there is (2, 0)"),
    (("MINIMUM = (0.0, 0.0)", "MINIMUM = (0.0, 0.0)\nHESSIAN = [[2.0, 0.0], [0.0, 2.0]]"),
     "himmelblau.py: HESSIAN: is not the Hessian of the gradient at (1, 2)"),
    (("def gradient(theta):", "def gradient_(theta):"),
     "himmelblau.py: gradient: define a function gradient(theta)"),
    (('PARAM_NAMES = ("x", "y")\n', ""),
     "himmelblau.py: PARAM_NAMES: define PARAM_NAMES (or DIM, a whole number)"),
])
def test_wrong_shapes_and_values_are_refused(root, change, expected):
    _module_exercise(root, MODULE.replace(*change))
    [error] = _refused(root, "bowl-mine")
    assert error.startswith(f"exercises/bowl-mine/{expected}"), error


def test_a_correct_hessian_is_kept_for_the_stability_facts(root):
    _module_exercise(root, MODULE.replace("MINIMUM = (0.0, 0.0)",
                                          "MINIMUM = (0.0, 0.0)\nHESSIAN = [[2, 0], [0, 6]]"))
    assert load_catalog(root).errors == ()
    facts = sweep(RunSpec(problem="bowl-mine/himmelblau", learning_rates=[0.1])).stability
    assert facts.gd_max_lr == pytest.approx(2 / 6)


def test_a_missing_module_is_refused(root):
    folder = _module_exercise(root, MODULE)
    (folder / "himmelblau.py").unlink()
    [error] = _refused(root, "bowl-mine")
    assert error == "exercises/bowl-mine/himmelblau.py: missing"


def _data_exercise(root: Path, csv_text: str, problem: str = "") -> Path:
    folder = _copy(root, "anscombe-gradient")
    (folder / "data" / "anscombe.csv").write_text(csv_text)
    if problem:
        toml = folder / "exercise.toml"
        toml.write_text(toml.read_text().replace('name = "set-1"\n', problem, 1))
    return folder


def test_a_csv_with_text_in_a_number_column_is_refused(root):
    text = (BUNDLED / "anscombe-gradient" / "data" / "anscombe.csv").read_text()
    _data_exercise(root, text.replace("8.81", "eight"))
    errors = _refused(root, "anscombe-gradient")
    assert errors[0] == ("exercises/anscombe-gradient/data/anscombe.csv: row 5, column y1: "
                         "'eight' is not a number")


def test_a_csv_without_the_named_column_is_refused(root):
    _data_exercise(root, "x1,y9\n1,2\n2,3\n")
    errors = _refused(root, "anscombe-gradient")
    assert errors[0] == ("exercises/anscombe-gradient/data/anscombe.csv: no column 'y1'; its "
                         "columns are x1, y9")


def test_a_missing_data_file_is_refused(root):
    folder = _copy(root, "anscombe-gradient")
    (folder / "data" / "anscombe.csv").unlink()
    errors = _refused(root, "anscombe-gradient")
    assert errors[0] == "exercises/anscombe-gradient/data/anscombe.csv: missing"


def test_a_data_file_outside_the_folder_is_refused(root):
    folder = _copy(root, "anscombe-gradient")
    toml = folder / "exercise.toml"
    toml.write_text(toml.read_text().replace('data = "data/anscombe.csv"',
                                             'data = "data/../../gd/exercise.toml"', 1))
    errors = _refused(root, "anscombe-gradient")
    assert errors[0] == ("exercises/anscombe-gradient/exercise.toml: problems.0.data: "
                         "'data/../../gd/exercise.toml' is outside the exercise folder")


def test_logistic_labels_must_be_two_classes(root):
    text = (BUNDLED / "anscombe-gradient" / "data" / "anscombe.csv").read_text()
    folder = _data_exercise(root, text)
    toml = folder / "exercise.toml"
    toml.write_text(toml.read_text().replace('model = "linear"', 'model = "logistic"'))
    errors = _refused(root, "anscombe-gradient")
    assert errors[0].startswith("exercises/anscombe-gradient/data/anscombe.csv: target: "
                                "logistic regression needs labels 0/1 or -1/+1, got 4.26,")


def test_a_npy_data_set_and_logistic_labels(tmp_path):
    folder = _copy(tmp_path, "anscombe-gradient")
    rng = np.random.default_rng(5)
    features = rng.normal(size=(40, 2))
    labels = (features[:, 0] + 0.5 * features[:, 1] + rng.normal(0, 0.5, 40) > 0).astype(float)
    np.save(folder / "data" / "blobs.npy", np.column_stack([features, labels]))
    toml = folder / "exercise.toml"
    toml.write_text(toml.read_text().replace(
        '[[problems]]\nname = "set-1"\n',
        '[[problems]]\nname = "blobs"\ndata = "data/blobs.npy"\nmodel = "logistic"\n'
        'features = [0, 1]\ntarget = 2\nlam = 0.1\n\n[[problems]]\nname = "set-1"\n', 1))
    assert load_catalog(tmp_path).errors == ()
    problem = make_problem("anscombe-gradient/blobs")
    assert set(problem.y) == {-1.0, 1.0} and problem.param_names == ("w1", "w2", "b")
    assert np.abs(problem.grad(problem.minimum.point)).max() < 1e-12


def test_a_problem_may_not_take_a_built_in_name(root):
    _data_exercise(root, (BUNDLED / "anscombe-gradient" / "data" / "anscombe.csv").read_text(),
                   'name = "quadratic"\n')
    errors = _refused(root, "anscombe-gradient")
    assert errors[0] == ("exercises/anscombe-gradient/exercise.toml: problems.0.name: "
                         "'quadratic' is a built-in problem; choose another name")


def test_a_gradient_exercise_needs_a_data_set_not_a_module(root):
    folder = _copy(root, "anscombe-gradient")
    (folder / "bowl.py").write_text(MODULE)
    toml = folder / "exercise.toml"
    toml.write_text(toml.read_text().replace(
        '[[problems]]\nname = "set-1"\n',
        '[[problems]]\nname = "bowl"\nmodule = "bowl.py"\n\n[[problems]]\nname = "set-1"\n', 1
    ).replace('problem = "set-2"', 'problem = "bowl"'))
    errors = _refused(root, "anscombe-gradient")
    assert errors == ["exercises/anscombe-gradient/exercise.toml: cases.1.problem: a gradient "
                      "exercise hands the student data: its problem must be a data set, not a "
                      "module"]
    assert "anscombe-gradient/bowl" not in REGISTERED
