"""An exercise's own problems: a data set (CSV or ``.npy``) or an instructor's module.

``exercise.toml`` declares them under ``[[problems]]``, each with a ``name`` local to the
exercise and either a data set::

    [[problems]]
    name = "set-1"
    data = "data/anscombe.csv"     # a CSV with a header row, or a 2-D .npy array
    model = "linear"               # or "logistic" (labels 0/1 or -1/+1)
    features = ["x1"]              # column names (CSV) or indices (.npy)
    target = "y1"
    standardize = false            # scale every feature to mean 0, standard deviation 1
    lam = 0.01                     # logistic only: the L2 strength (> 0)

or a module (trusted instructor code, never shown to students)::

    [[problems]]
    name = "himmelblau"
    module = "himmelblau.py"

A module defines ``loss(theta)`` and ``gradient(theta)`` for one parameter vector
``theta`` of shape ``(dim,)``, ``PARAM_NAMES`` (or ``DIM``) and ``START``, and may define
``MINIMUM`` (a point where the loss is smallest), ``HESSIAN`` (a constant Hessian, for the
stability facts) and ``SUMMARY``. Everything is checked here, when the catalog loads: the
files exist and parse, the numbers are finite and of the right shapes, and the gradient
agrees with central finite differences of the loss at the start and at a few seeded
points. A problem that fails is refused with its file and the reason, and its exercise
with it; the other exercises still load.

Cases name these problems by their local name; once loaded, the problem's name is
exercise-qualified, ``"<exercise-id>/<name>"``, which is also how the reference API and
``gdlab run`` reach it.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from grader.engine.custom import MODELS, DataRegression, ModuleProblem, run_module
from grader.engine.problems import PROBLEMS, REGISTERED, Problem, register_problem

#: The largest data set an exercise may carry: it travels into every sandbox job that
#: grades on it, so it stays small (a teaching data set, not a benchmark).
MAX_ROWS = 10_000
MAX_FEATURES = 50
MAX_CELLS = 20_000
MAX_FILE_BYTES = 2 * 1024 * 1024
#: Points where a module's gradient and Hessian are checked: the start and these many
#: seeded points around it.
CHECK_POINTS = 3
#: Largest difference allowed between a gradient and its finite differences, relative to
#: the larger of 1 and the largest component of either.
GRADIENT_RTOL = 1e-4

_NAME = validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,62}\Z",
                        error="must be lower-case letters, digits and dashes, e.g. 'wells'")
_FILE = validate.Regexp(r"^[A-Za-z0-9_][A-Za-z0-9_\-./]*\Z",
                        error="must be a path inside the exercise folder")


class ProblemSchema(Schema):
    """``[[problems]]``: a data set or a module, by a name local to the exercise."""

    name = fields.String(required=True, validate=_NAME)
    data = fields.String(load_default=None, validate=_FILE)
    module = fields.String(load_default=None, validate=_FILE)
    model = fields.String(load_default="linear", validate=validate.OneOf(MODELS))
    features = fields.List(fields.Raw(), load_default=None,
                           validate=validate.Length(min=1, max=MAX_FEATURES))
    target = fields.Raw(load_default=None)
    standardize = fields.Boolean(load_default=False)
    lam = fields.Float(load_default=0.01, validate=validate.Range(min=0, min_inclusive=False))
    summary = fields.String(load_default="", validate=validate.Length(max=400))

    @validates_schema
    def one_source(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("data") is None) == (data.get("module") is None):
            raise ValidationError("give exactly one of data (a .csv or .npy file) or module "
                                  "(a .py file)")
        if data.get("data") is not None:
            missing = [key for key in ("features", "target") if data.get(key) is None]
            if missing:
                raise ValidationError(f"a data set needs {' and '.join(missing)}")


class ProblemError(Exception):
    """Why an exercise's problem was refused: the file, the field, the reason."""

    def __init__(self, path: str, field: str, message: str) -> None:
        super().__init__(path, field, message)
        self.path, self.field, self.message = path, field, message

    def __str__(self) -> str:
        return ": ".join(part for part in (self.path, self.field, self.message) if part)


# --- data sets ---------------------------------------------------------------------------


def _inside(directory: Path, relative: str, label: str, field: str) -> Path:
    """The file ``relative`` of the exercise folder (never outside it)."""
    path = (directory / relative).resolve()
    if directory.resolve() not in path.parents:
        raise ProblemError(label, field, f"{relative!r} is outside the exercise folder")
    if not path.is_file():
        raise ProblemError(f"{label.rsplit('/', 1)[0]}/{relative}", "", "missing")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ProblemError(f"{label.rsplit('/', 1)[0]}/{relative}", "",
                           f"larger than {MAX_FILE_BYTES // 1024} KiB")
    return path


def _number(text: str, where: str, label: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ProblemError(label, where, f"{text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ProblemError(label, where, f"{text.strip()!r} is not a finite number")
    return value


def read_csv(path: Path, columns: Sequence[str], label: str) -> np.ndarray:
    """The named columns of a CSV with a header row, as a float64 matrix.

    Raises
    ------
    ProblemError
        A missing column, a cell that is not a finite number (with its row and column),
        no data rows.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "d.csv").write_text("x,y\\n1,2\\n3,oops\\n")
    >>> read_csv(folder / "d.csv", ["x", "y"], "d.csv")
    Traceback (most recent call last):
    ...
    grader.catalog.custom.ProblemError: d.csv: row 3, column y: 'oops' is not a number
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ProblemError(label, "", f"not UTF-8 text: {error}") from None
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader, [])]
    if not header:
        raise ProblemError(label, "", "empty: a CSV needs a header row naming its columns")
    missing = [name for name in columns if name not in header]
    if missing:
        raise ProblemError(label, "", f"no column {', '.join(map(repr, missing))}; its "
                                      f"columns are {', '.join(header)}")
    where = [header.index(name) for name in columns]
    rows = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ProblemError(label, f"row {line}",
                               f"has {len(row)} cells, the header has {len(header)}")
        rows.append([_number(row[i], f"row {line}, column {header[i]}", label) for i in where])
        if len(rows) > MAX_ROWS:
            raise ProblemError(label, "", f"more than {MAX_ROWS} rows")
    if len(rows) < 2:
        raise ProblemError(label, "", "needs at least 2 data rows")
    return np.array(rows, dtype=np.float64)


def read_npy(path: Path, columns: Sequence[Any], label: str) -> np.ndarray:
    """The given columns (by index) of a 2-D numeric ``.npy`` array (no pickles)."""
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise ProblemError(label, "", f"not a .npy array: {error}") from None
    if array.ndim != 2 or array.dtype.kind not in "iuf":
        raise ProblemError(label, "", f"must be a 2-D array of numbers, got {array.ndim}-D "
                                      f"{array.dtype}")
    bad = [c for c in columns if isinstance(c, bool) or not isinstance(c, int)
           or not 0 <= c < array.shape[1]]
    if bad:
        raise ProblemError(label, "", f"columns of a .npy file are indices 0 to "
                                      f"{array.shape[1] - 1}, got {bad}")
    picked = array[:, list(columns)].astype(np.float64)
    if not np.all(np.isfinite(picked)):
        row = int(np.argwhere(~np.isfinite(picked))[0][0])
        raise ProblemError(label, f"row {row}", "holds a value that is not a finite number")
    if not 2 <= len(picked) <= MAX_ROWS:
        raise ProblemError(label, "", f"needs 2 to {MAX_ROWS} rows, has {len(picked)}")
    return picked


def logistic_labels(target: np.ndarray, label: str) -> np.ndarray:
    """Labels as -1 and +1, from 0/1 or -1/+1."""
    values = set(np.unique(target).tolist())
    if values <= {0.0, 1.0} or values <= {-1.0, 1.0}:
        if len(values) < 2:
            raise ProblemError(label, "target", "has only one class; logistic regression "
                                                "needs both")
        return np.where(target > 0, 1.0, -1.0)
    shown = ", ".join(f"{v:g}" for v in sorted(values)[:5])
    raise ProblemError(label, "target", f"logistic regression needs labels 0/1 or -1/+1, "
                                        f"got {shown}")


def standardized(X: np.ndarray, names: Sequence[Any], label: str) -> np.ndarray:
    """Every column scaled to mean 0 and (population) standard deviation 1."""
    std = X.std(axis=0)
    flat = [str(names[j]) for j in np.flatnonzero(std == 0)]
    if flat:
        raise ProblemError(label, "standardize", f"column {', '.join(flat)} is constant")
    return (X - X.mean(axis=0)) / std


def load_data_problem(directory: Path, spec: Mapping[str, Any], qualified: str,
                      toml_label: str, field: str) -> Callable[[int | None], Problem]:
    """Read a data set and return how to build its problem for a seed."""
    path = _inside(directory, spec["data"], toml_label, f"{field}.data")
    label = f"{toml_label.rsplit('/', 1)[0]}/{spec['data']}"
    features, target = list(spec["features"]), spec["target"]
    if path.suffix == ".npy":
        table = read_npy(path, [*features, target], label)
    elif path.suffix == ".csv":
        if not all(isinstance(c, str) for c in [*features, target]):
            raise ProblemError(toml_label, f"{field}.features",
                               "columns of a CSV are named by their header")
        table = read_csv(path, [*features, target], label)
    else:
        raise ProblemError(toml_label, f"{field}.data", "must be a .csv or .npy file")
    if table.size > MAX_CELLS:
        raise ProblemError(label, "", f"{table.size} numbers used; at most {MAX_CELLS}")
    X, y = table[:, :-1], table[:, -1]
    if spec["standardize"]:
        X = standardized(X, features, label)
    if spec["model"] == "logistic":
        y = logistic_labels(y, label)
    names = [str(f) for f in features] if path.suffix == ".csv" else None
    summary = spec["summary"] or (f"{spec['model']} regression of {target} on "
                                  f"{', '.join(map(str, features))} ({len(y)} rows of "
                                  f"{spec['data']})")

    def build(seed: int | None) -> Problem:
        return DataRegression(qualified, spec["model"], X, y, lam=spec["lam"],
                              feature_names=names, summary=summary, seed=seed)

    build(None).minimum  # noqa: B018 (a singular fit fails here, at load, not when grading)
    return build


# --- modules ------------------------------------------------------------------------------


def _vector(value: Any, dim: int | None, what: str, label: str) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProblemError(label, what, f"must be numbers, got {type(value).__name__}") from None
    if array.ndim != 1 or (dim is not None and array.shape != (dim,)):
        want = f"({dim},)" if dim is not None else "a vector"
        raise ProblemError(label, what, f"must have shape {want}, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ProblemError(label, what, "must hold finite numbers only")
    return array


def _called(function: Callable[..., Any], point: np.ndarray, what: str, label: str) -> Any:
    try:
        with np.errstate(all="ignore"):
            return function(point.copy())
    except Exception as error:  # instructor code: say what it raised, and where
        raise ProblemError(label, what, f"raised {type(error).__name__} at "
                                        f"{_point(point)}: {error}") from None


def _point(values: Iterable[float]) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in values) + ")"


def _loss_at(loss: Callable[..., Any], point: np.ndarray, label: str) -> float:
    value = _called(loss, point, "loss", label)
    try:
        number = float(np.asarray(value, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise ProblemError(label, "loss", f"must return one number, got "
                                          f"{type(value).__name__} at {_point(point)}") from None
    if not math.isfinite(number):
        raise ProblemError(label, "loss", f"is {number} at {_point(point)}")
    return number


def _gradient_at(gradient: Callable[..., Any], point: np.ndarray, label: str) -> np.ndarray:
    value = _called(gradient, point, "gradient", label)
    try:
        return _vector(value, point.size, "gradient", label)
    except ProblemError as error:
        raise ProblemError(label, "gradient", f"{error.message} (at {_point(point)})") from None


def finite_differences(function: Callable[[np.ndarray], Any], point: np.ndarray) -> np.ndarray:
    """Central differences of ``function`` at ``point``, one column per coordinate.

    Examples
    --------
    >>> finite_differences(lambda t: float(t @ t), np.array([1.0, -2.0])).round(6)
    array([ 2., -4.])
    """
    columns = []
    for i in range(point.size):
        h = 1e-6 * max(1.0, abs(point[i]))
        up, down = point.copy(), point.copy()
        up[i] += h
        down[i] -= h
        columns.append((np.asarray(function(up), dtype=np.float64)
                        - np.asarray(function(down), dtype=np.float64)) / (2 * h))
    return np.stack(columns, axis=-1)


def _disagreement(given: np.ndarray, estimated: np.ndarray) -> float:
    scale = max(1.0, float(np.max(np.abs(given))), float(np.max(np.abs(estimated))))
    return float(np.max(np.abs(given - estimated))) / scale


def check_points(start: np.ndarray) -> list[np.ndarray]:
    """Where a module is checked: its start and seeded points around it (fixed seed)."""
    rng = np.random.default_rng(0)
    return [start, *(start + rng.normal(0.0, 0.5, start.size) for _ in range(CHECK_POINTS))]


def _param_names(namespace: Mapping[str, Any], label: str) -> tuple[str, ...]:
    """The module's ``PARAM_NAMES``, or ``x1 .. xd`` for its ``DIM``."""
    if "PARAM_NAMES" in namespace:
        names = namespace["PARAM_NAMES"]
        if (isinstance(names, str) or not isinstance(names, Sequence) or not names
                or not all(isinstance(n, str) and n for n in names)):
            raise ProblemError(label, "PARAM_NAMES", "must be a list of names, e.g. ['x', 'y']")
        if len(set(names)) != len(names) or len(names) > 100:
            raise ProblemError(label, "PARAM_NAMES", "must be at most 100 distinct names")
        return tuple(names)
    if isinstance(namespace.get("DIM"), int) and not isinstance(namespace["DIM"], bool):
        if not 1 <= namespace["DIM"] <= 100:
            raise ProblemError(label, "DIM", "must be between 1 and 100")
        return tuple(f"x{i + 1}" for i in range(namespace["DIM"]))
    raise ProblemError(label, "PARAM_NAMES", "define PARAM_NAMES (or DIM, a whole number)")


def check_module(namespace: Mapping[str, Any], label: str) -> dict[str, Any]:
    """The checked parts of an instructor module: names, start, minimum, Hessian.

    Raises
    ------
    ProblemError
        Naming what is missing or wrong, e.g. a gradient that disagrees with the finite
        differences of the loss (with the point and both vectors).
    """
    for name in ("loss", "gradient"):
        if not callable(namespace.get(name)):
            raise ProblemError(label, name, f"define a function {name}(theta)")
    loss, gradient = namespace["loss"], namespace["gradient"]
    names = _param_names(namespace, label)
    if "START" not in namespace:
        raise ProblemError(label, "START", "define START, the classic starting point")
    start = _vector(namespace["START"], len(names), "START", label)
    for point in check_points(start):
        value = _loss_at(loss, point, label)
        grad = _gradient_at(gradient, point, label)
        estimated = finite_differences(lambda t: _loss_at(loss, t, label), point)
        if _disagreement(grad, estimated) > GRADIENT_RTOL:
            worst = int(np.argmax(np.abs(grad - estimated)))
            raise ProblemError(label, "gradient", (
                f"does not match the loss: at {_point(point)} gradient() gives {_point(grad)} "
                f"but central finite differences of loss() give {_point(estimated)} "
                f"(largest difference in {names[worst]}; loss there {value:.6g})"))
    minimum = None
    if namespace.get("MINIMUM") is not None:
        minimum = _vector(namespace["MINIMUM"], len(names), "MINIMUM", label)
        at_minimum = _loss_at(loss, minimum, label)
        slope = _gradient_at(gradient, minimum, label)
        scale = max(1.0, float(np.max(np.abs(_gradient_at(gradient, start, label)))))
        if float(np.max(np.abs(slope))) > 1e-6 * scale:
            raise ProblemError(label, "MINIMUM", f"is not a stationary point: the gradient "
                                                 f"there is {_point(slope)}")
        if at_minimum > _loss_at(loss, start, label):
            raise ProblemError(label, "MINIMUM", "has a larger loss than START")
    hessian = None
    if namespace.get("HESSIAN") is not None:
        hessian = _hessian(namespace["HESSIAN"], gradient, start, names, label)
    summary = namespace.get("SUMMARY") or (namespace.get("__doc__") or "").strip().split("\n")[0]
    return {"names": names, "start": start, "minimum": minimum, "hessian": hessian,
            "summary": str(summary)[:400]}


def _hessian(value: Any, gradient: Callable[..., Any], start: np.ndarray,
             names: Sequence[str], label: str) -> np.ndarray:
    try:
        hessian = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProblemError(label, "HESSIAN", "must be a matrix of numbers") from None
    dim = len(names)
    if hessian.shape != (dim, dim):
        raise ProblemError(label, "HESSIAN", f"must have shape ({dim}, {dim}), got "
                                             f"{hessian.shape}")
    if not np.all(np.isfinite(hessian)) or not np.allclose(hessian, hessian.T):
        raise ProblemError(label, "HESSIAN", "must be a symmetric matrix of finite numbers")
    for point in check_points(start):
        estimated = finite_differences(lambda t: _gradient_at(gradient, t, label), point)
        if _disagreement(hessian, estimated) > GRADIENT_RTOL:
            raise ProblemError(label, "HESSIAN", f"is not the Hessian of the gradient at "
                                                 f"{_point(point)} (is the loss quadratic?)")
    return hessian


def load_module_problem(directory: Path, spec: Mapping[str, Any], qualified: str,
                        toml_label: str, field: str) -> Callable[[int | None], Problem]:
    """Run an instructor's module, check it, and return how to build its problem."""
    path = _inside(directory, spec["module"], toml_label, f"{field}.module")
    label = f"{toml_label.rsplit('/', 1)[0]}/{spec['module']}"
    if path.suffix != ".py":
        raise ProblemError(toml_label, f"{field}.module", "must be a .py file")
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ProblemError(label, "", f"not UTF-8 text: {error}") from None
    try:
        with np.errstate(all="ignore"):
            namespace = run_module(source, str(path))
    except SyntaxError as error:
        raise ProblemError(label, f"line {error.lineno}", f"syntax error: {error.msg}") from None
    except BaseException as error:  # instructor code may raise anything, even SystemExit
        line = _line_in(error, str(path))
        where = f"line {line}" if line else ""
        raise ProblemError(label, where, f"raises {type(error).__name__} when imported: "
                                         f"{error}") from None
    found = check_module(namespace, label)

    def build(seed: int | None) -> Problem:
        return ModuleProblem(qualified, namespace["loss"], namespace["gradient"],
                             found["start"], found["names"], minimum=found["minimum"],
                             hessian=found["hessian"], source=source,
                             summary=spec["summary"] or found["summary"], seed=seed)

    return build


def _line_in(error: BaseException, filename: str) -> int | None:
    """The last line of ``filename`` in the error's traceback."""
    line = None
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == filename:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


# --- an exercise's problems -----------------------------------------------------------------


def load_problems(directory: Path, exercise_id: str, specs: Sequence[Mapping[str, Any]],
                  toml_label: str) -> tuple[dict[str, Callable[[int | None], Problem]],
                                            list[ProblemError]]:
    """Read and check every ``[[problems]]`` entry; return the builders by qualified name
    and the errors (an entry with an error is left out)."""
    builders: dict[str, Callable[[int | None], Problem]] = {}
    errors: list[ProblemError] = []
    seen: set[str] = set()
    for index, spec in enumerate(specs):
        field = f"problems.{index}"
        name = spec["name"]
        if name in PROBLEMS:
            errors.append(ProblemError(toml_label, f"{field}.name",
                                       f"{name!r} is a built-in problem; choose another name"))
            continue
        if name in seen:
            errors.append(ProblemError(toml_label, f"{field}.name", f"{name!r} is defined twice"))
            continue
        seen.add(name)
        qualified = f"{exercise_id}/{name}"
        load = load_data_problem if spec.get("data") is not None else load_module_problem
        try:
            builders[qualified] = load(directory, spec, qualified, toml_label, field)
        except ProblemError as error:
            errors.append(error)
        except (np.linalg.LinAlgError, ValueError) as error:
            errors.append(ProblemError(toml_label, field, f"cannot be solved: {error}"))
    return builders, errors


def qualify(problem: str, exercise_id: str, local: Iterable[str]) -> str:
    """A case's problem name as the engine knows it: a local name gets the exercise's id.

    Examples
    --------
    >>> qualify("wells", "double-well", ["wells"]), qualify("quadratic", "x", ["wells"])
    ('double-well/wells', 'quadratic')
    """
    return f"{exercise_id}/{problem}" if problem in set(local) else problem


def register(builders: Mapping[str, Callable[[int | None], Problem]]) -> None:
    """Make the problems known to the engine by their qualified names."""
    for name, build in builders.items():
        register_problem(name, build)


def forget(exercise_id: str) -> None:
    """Forget every problem of an exercise (refused now, so its earlier problems go too)."""
    for name in [name for name in REGISTERED if name.startswith(f"{exercise_id}/")]:
        del REGISTERED[name]


def custom_checks(exercise: Any, toml_label: str) -> list[Any]:
    """What an exercise's own problems require of it: a gradient exercise hands the
    student data, so its cases' own problems must be data sets."""
    from grader.catalog.loader import CatalogError  # noqa: PLC0415 (the loader imports this)

    errors = []
    if exercise.kind != "gradient":
        return errors
    for index, case in enumerate(exercise.cases):
        build = REGISTERED.get(case.problem)
        if build is not None and not isinstance(build(None), DataRegression):
            errors.append(CatalogError(toml_label, f"cases.{index}.problem",
                                       "a gradient exercise hands the student data: its "
                                       "problem must be a data set, not a module"))
    return errors
