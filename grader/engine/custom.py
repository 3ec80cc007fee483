"""Problems an exercise folder brings: a data set for linear or logistic regression, or an
instructor's own objective (a loss and its gradient written in numpy).

The catalog (:mod:`grader.catalog.custom`) reads and checks the files; this module holds
what the engine needs once they are read, numpy only:

- :class:`DataRegression`: least squares or L2-regularised logistic regression on a
  feature matrix ``X`` (n, d) and a target ``y``, parameters ``(w_1 .. w_d, b)``;
- :class:`ModuleProblem`: any objective given as ``loss(theta)`` and ``gradient(theta)``
  on one parameter vector, applied row by row (so each row of a sweep is computed exactly
  as it would be alone, as for the built-in problems);
- :func:`job_spec` and :func:`job_gradient`: how such a problem's *gradient alone* travels
  to an update-rule sandbox child, which cannot read the exercise's files. A data set
  travels as its numbers, an instructor's module as its source text, run again in the
  child; nothing else of the problem (its loss, its minimum) is sent.

Both are registered with :func:`grader.engine.problems.register_problem` under an
exercise-qualified name, ``"<exercise-id>/<name>"``, and from then on are problems like
any other: in runs, sweeps, the reference API, plots and grading.

Examples
--------
>>> X = np.array([[0.0], [1.0], [2.0]]); y = np.array([1.0, 3.0, 5.0])
>>> problem = DataRegression("demo/line", "linear", X, y)
>>> problem.param_names, np.round(problem.minimum.point, 12).tolist()
(('w1', 'b'), [2.0, 1.0])
>>> job_gradient(job_spec(problem), {})(np.array([0.0, 0.0])).tolist()
[-8.666666666666666, -6.0]
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from grader.engine.problems import Gradient, Minimum, Problem, make_problem

Array = npt.NDArray[np.float64]
MODELS = ("linear", "logistic")
#: The key of a job's problem spec that marks an exercise's own problem.
CUSTOM_KEY = "custom"


def _mean_last(values: Array, count: int) -> Array:
    """Pairwise sum along the last axis, then divide (as the built-in problems do)."""
    return np.add.reduce(values, axis=-1) / count


def _scores(theta: Array, X: Array) -> Array:
    """``X w + b`` for every row of ``theta`` (shape ``(..., n)``), written out per feature
    rather than as a matrix product: only elementwise operations, so a row's numbers do
    not depend on how many rows are stepped together."""
    d = X.shape[1]
    z = theta[..., d : d + 1] + np.zeros(X.shape[0])
    for j in range(d):
        z = z + theta[..., j : j + 1] * X[:, j]
    return z


def linear_data_gradient(theta: Array, batch: npt.NDArray[np.intp] | None, *, X: Array,
                         y: Array) -> Array:
    """The gradient of the mean squared error of ``X w + b`` on ``batch`` (all data when
    None): ``dw_j = -2 mean(r x_j)``, ``db = -2 mean(r)`` with ``r = y - X w - b``."""
    if batch is not None:
        X, y = X[batch], y[batch]
    residual = y - _scores(theta, X)
    count = len(y)
    grad = np.empty(theta.shape)
    for j in range(X.shape[1]):
        grad[..., j] = -2 * _mean_last(residual * X[:, j], count)
    grad[..., -1] = -2 * _mean_last(residual, count)
    return grad


def logistic_data_gradient(theta: Array, batch: npt.NDArray[np.intp] | None, *, X: Array,
                           y: Array, lam: float) -> Array:
    """The gradient of mean(log(1 + exp(-y (X w + b)))) + lam/2 ||theta||^2 (labels
    y in {-1, +1}) on ``batch`` (all data when None)."""
    if batch is not None:
        X, y = X[batch], y[batch]
    count = len(y)
    # d/dz log(1 + exp(-y z)) = -y sigmoid(-y z); exp(-logaddexp(0, m)) is sigmoid(-m)
    # without overflow.
    weights = -y * np.exp(-np.logaddexp(0.0, _scores(theta, X) * y))
    grad = np.empty(theta.shape)
    for j in range(X.shape[1]):
        grad[..., j] = _mean_last(weights * X[:, j], count)
    grad[..., -1] = _mean_last(weights, count)
    return grad + lam * theta


_DATA_GRADIENTS: dict[str, Callable[..., Array]] = {
    "linear": linear_data_gradient, "logistic": logistic_data_gradient}


def _fingerprint(*parts: Any) -> str:
    """A short hash of a problem's defining numbers and text: reference runs are kept by
    their request, so a changed data set or module must not find an old run."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(np.ascontiguousarray(part).tobytes() if isinstance(part, np.ndarray)
                      else repr(part).encode())
    return digest.hexdigest()[:16]


class DataRegression(Problem):
    """Linear (mean squared error) or logistic (L2-regularised) regression on a data set.

    Parameters
    ----------
    name : str
        The exercise-qualified name, e.g. ``"anscombe/set-1"``.
    model : {"linear", "logistic"}
    X : array, shape (n, d)
        The features (already standardised if the exercise asks for it).
    y : array, shape (n,)
        The target; for ``logistic``, labels -1 and +1.
    lam : float
        The L2 strength of the logistic loss (> 0, so that it has a finite minimum).
    feature_names : sequence of str, optional
        Names of the weights (``w_<feature>``); default ``w1 .. wd``.
    seed : int or None
        None: the classic start (all zeros); an integer jitters it.
    """

    options = ()

    def __init__(self, name: str, model: str, X: Array, y: Array, *, lam: float = 0.0,
                 feature_names: Sequence[str] | None = None, summary: str = "",
                 seed: int | None = None) -> None:
        if model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
        self.name = name  # type: ignore[misc]  (an instance's name, not the class's)
        self.model = model
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.y = np.ascontiguousarray(y, dtype=np.float64)
        self.lam = float(lam)
        self.seed = seed
        self.n_samples = len(self.y)
        self.summary = summary or (f"{model} regression on {self.n_samples} rows of "  # type: ignore[misc]
                                   f"{self.X.shape[1]} feature(s)")
        weights = (tuple(f"w_{f}" for f in feature_names) if feature_names
                   else tuple(f"w{j + 1}" for j in range(self.X.shape[1])))
        self.param_names = (*weights, "b")
        self.fingerprint = _fingerprint(model, self.X, self.y, self.lam)

    def classic_start(self) -> Array:
        """All zeros, the usual start of a regression."""
        return np.zeros(self.dim)

    def loss(self, theta: Array) -> Array:
        """Mean squared error, or the mean logistic loss plus its L2 term, per row."""
        z = _scores(theta, self.X)
        if self.model == "linear":
            residual = self.y - z
            return _mean_last(residual * residual, self.n_samples)
        data = _mean_last(np.logaddexp(0.0, -z * self.y), self.n_samples)
        return data + 0.5 * self.lam * np.add.reduce(theta * theta, axis=-1)

    def loss_and_grad(self, theta: Array, batch=None):
        """The loss on all data and the gradient on ``batch``."""
        return self.loss(theta), self.grad(theta, batch)

    def grad(self, theta: Array, batch=None) -> Array:
        """The gradient on ``batch`` (all data when None)."""
        return _DATA_GRADIENTS[self.model](theta, batch, **self.gradient_data())

    def gradient(self) -> Gradient:
        """The gradient alone: its formula and a copy of the data."""
        return Gradient(_DATA_GRADIENTS[self.model],
                        {name: np.array(value) if isinstance(value, np.ndarray) else value
                         for name, value in self.gradient_data().items()})

    def gradient_data(self) -> dict[str, Any]:
        """The features, the target and (logistic) the L2 strength."""
        data: dict[str, Any] = {"X": self.X, "y": self.y}
        if self.model == "logistic":
            data["lam"] = self.lam
        return data

    def exercise_data(self) -> tuple[Array, Array]:
        """The data set as a gradient exercise hands it: ``X`` (n, d) and ``y``."""
        return self.X, self.y

    def _design(self) -> Array:
        return np.column_stack([self.X, np.ones(self.n_samples)])

    @functools.cached_property
    def hessian(self) -> Array | None:  # type: ignore[override]
        """Least squares has a constant Hessian, ``2/n [X 1]^T [X 1]``; logistic has none."""
        if self.model != "linear":
            return None
        design = self._design()
        return (2.0 / self.n_samples) * (design.T @ design)

    @functools.cached_property
    def minimum(self) -> Minimum:  # type: ignore[override]
        """The least-squares fit, or (logistic) Newton's method from zero."""
        if self.model == "linear":
            point = np.linalg.lstsq(self._design(), self.y, rcond=None)[0]
            return Minimum(point, float(self.loss(point)))
        design, theta, eye = self._design(), np.zeros(self.dim), np.eye(self.dim)
        for _ in range(100):
            p = np.exp(-np.logaddexp(0.0, -(design @ theta)))
            curvature = (design.T * (p * (1 - p))) @ design / self.n_samples
            step = np.linalg.solve(curvature + self.lam * eye, self.grad(theta))
            theta = theta - step
            if np.max(np.abs(step)) < 1e-15:
                break
        return Minimum(theta, float(self.loss(theta)))

    def describe(self) -> dict[str, Any]:
        """As every problem's, with the model."""
        return {**super().describe(), "model": self.model}


class ModuleProblem(Problem):
    """An instructor's objective: ``loss`` and ``gradient`` of one parameter vector.

    Parameters
    ----------
    name : str
        The exercise-qualified name, e.g. ``"himmelblau-momentum/himmelblau"``.
    loss, gradient : callables
        ``loss(theta) -> float`` and ``gradient(theta) -> array (dim,)`` for ``theta`` of
        shape ``(dim,)``; applied to each row of a batch of parameter vectors.
    start : array, shape (dim,)
        The classic start.
    param_names : sequence of str
    minimum : array or None
        A point where the loss is smallest, if known (else convergence is judged by the
        steps, and plots show no minimum).
    hessian : array or None
        The Hessian, if it is the same everywhere (it gives the stability facts).
    source : str
        The module's text: what an update-rule sandbox child runs to compute the gradient.
    seed : int or None
        None: the classic start; an integer jitters it.
    """

    options = ()

    def __init__(self, name: str, loss: Callable[[Array], Any],
                 gradient: Callable[[Array], Any], start: Array,
                 param_names: Sequence[str], *, minimum: Array | None = None,
                 hessian: Array | None = None, source: str = "", summary: str = "",
                 seed: int | None = None) -> None:
        self.name = name  # type: ignore[misc]
        self.summary = summary or f"an instructor's problem with {len(param_names)} parameters"  # type: ignore[misc]
        self._loss, self._gradient = loss, gradient
        self._start = np.array(start, dtype=np.float64)
        self.param_names = tuple(param_names)
        self.hessian = None if hessian is None else np.array(hessian, dtype=np.float64)
        self.source = source
        self.seed = seed
        point = None if minimum is None else np.array(minimum, dtype=np.float64)
        self.known_minimum = point is not None
        # Without a known minimum the value is None: the engine then judges convergence by
        # the steps, and the point is NaN, which plots leave out.
        self.minimum = (Minimum(point, float(self.loss(point))) if point is not None
                        else Minimum(np.full(self.dim, np.nan), None))  # type: ignore[arg-type]
        self.fingerprint = _fingerprint(source, self._start, self.param_names)

    def classic_start(self) -> Array:
        """The module's ``START``."""
        return self._start.copy()

    def loss(self, theta: Array) -> Array:
        """The module's loss at each row."""
        theta = np.asarray(theta, dtype=np.float64)
        rows = theta.reshape(-1, self.dim)
        values = np.array([float(self._loss(row.copy())) for row in rows])
        return values.reshape(theta.shape[:-1])

    def grad(self, theta: Array, batch=None) -> Array:
        """The module's gradient at each row."""
        return row_by_row(self._gradient, theta, self.dim)

    def loss_and_grad(self, theta: Array, batch=None):
        """Loss and gradient at each row."""
        return self.loss(theta), self.grad(theta)

    def gradient(self) -> Gradient:
        """The module's gradient alone."""
        return Gradient(_module_gradient, {"function": self._gradient, "dim": self.dim})

    def gradient_data(self) -> dict[str, Any]:
        """Nothing but the function itself (see :meth:`gradient`)."""
        return {"function": self._gradient, "dim": self.dim}

    def describe(self) -> dict[str, Any]:
        """As every problem's; ``minimum`` is None when the module gives none."""
        data = super().describe()
        if not self.known_minimum:
            data["minimum"] = None
        return data


def row_by_row(function: Callable[[Array], Any], theta: Array, dim: int) -> Array:
    """``function`` (of one vector) at every row of ``theta`` (shape ``(..., dim)``)."""
    theta = np.asarray(theta, dtype=np.float64)
    rows = theta.reshape(-1, dim)
    out = np.empty(rows.shape)
    for index, row in enumerate(rows):
        out[index] = np.asarray(function(row.copy()), dtype=np.float64).reshape(dim)
    return out.reshape(theta.shape)


def _module_gradient(theta: Array, batch: Any, *, function: Callable[[Array], Any],
                     dim: int) -> Array:
    return row_by_row(function, theta, dim)


# --- how an exercise's problem reaches an update-rule sandbox child ----------------------


def job_spec(problem: Problem) -> dict[str, Any] | None:
    """What a sandbox job carries to compute ``problem``'s gradient (JSON-ready), or None
    for a built-in problem (the child rebuilds those from their name, options and seed).

    A data set travels as its numbers (float64 written with ``repr``, which reads back
    exactly); an instructor's module as its source text.
    """
    if isinstance(problem, DataRegression):
        spec: dict[str, Any] = {CUSTOM_KEY: "data", "name": problem.name, "model": problem.model,
                                "X": problem.X.tolist(), "y": problem.y.tolist()}
        if problem.model == "logistic":
            spec["lam"] = problem.lam
        return spec
    if isinstance(problem, ModuleProblem):
        return {CUSTOM_KEY: "module", "name": problem.name, "source": problem.source,
                "dim": problem.dim}
    return None


def run_module(source: str, label: str) -> dict[str, Any]:
    """Run an instructor module's source and return its namespace (the module's own
    errors propagate)."""
    namespace: dict[str, Any] = {"__name__": "gdlab_problem"}
    exec(compile(source, label, "exec"), namespace)  # trusted instructor code
    return namespace


def job_gradient(spec: Mapping[str, Any], arrays: Mapping[str, Any]) -> Gradient:
    """The gradient a job's problem spec describes: a built-in problem by name, a data
    set from its numbers, an instructor's module from its source."""
    kind = spec.get(CUSTOM_KEY)
    if kind is None:
        return make_problem(spec["name"], spec.get("options") or {}, spec.get("seed")).gradient()
    if kind == "data":
        data: dict[str, Any] = {"X": np.array(spec["X"], dtype=np.float64),
                                "y": np.array(spec["y"], dtype=np.float64)}
        if spec["model"] == "logistic":
            data["lam"] = float(spec["lam"])
        return Gradient(_DATA_GRADIENTS[spec["model"]], data)
    if kind == "module":
        namespace = run_module(spec["source"], spec["name"])
        return Gradient(_module_gradient, {"function": namespace["gradient"],
                                           "dim": int(spec["dim"])})
    raise ValueError(f"unknown problem spec {kind!r}")
