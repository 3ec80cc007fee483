"""Objective functions the engine minimises: the course's linear regression and friends.

Every problem works on a batch of parameter vectors at once: ``theta`` has shape
``(..., dim)`` and losses come back with shape ``(...)``. The run loop uses this to step
every learning rate of a sweep together (one row per learning rate), and every row is
computed exactly as it would be alone: only elementwise operations and reductions along
the last axis, never a matrix product whose summation order depends on the batch size.

A problem knows its data, loss, gradient, dimension, minimum, its constant Hessian where
it has one, and its starting point (the classic one, or one drawn from a seed).

:meth:`Problem.gradient` gives the gradient *alone*: a :class:`Gradient` holding only
the data its formula needs. That is what a sandbox child computes a student's steps with;
it holds no problem, so nothing there says where the minimum is (the minima that take
work to find, least squares and Newton's method, are only computed when first asked for).
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from grader.engine.options import Option, SpecError, lookup, resolve_options

Array = npt.NDArray[np.float64]
INIT_MODES = ("shared", "legacy")


@dataclass(frozen=True)
class Minimum:
    """Where a problem's loss is smallest, and the loss there."""

    point: Array
    #: None where the minimum is not known (an instructor's problem may not say).
    value: float | None


@dataclass(frozen=True)
class Gradient:
    """A problem's gradient and the data its formula needs, and nothing else: no loss,
    no minimum, no Hessian, no reference to the problem.

    Examples
    --------
    >>> gradient = make_problem("quadratic", {"condition": 4.0}).gradient()
    >>> gradient(np.array([1.0, 1.0]))
    array([1., 4.])
    """

    formula: Callable[..., Array]
    data: Mapping[str, Any]

    def __call__(self, theta: Array, batch: npt.NDArray[np.intp] | None = None) -> Array:
        """The gradient at ``theta`` (on ``batch`` when given)."""
        return self.formula(theta, batch, **self.data)


class Problem(ABC):
    """An objective: loss and gradient over batched parameters, plus what is known of it.

    Subclasses set the class attributes and implement :meth:`loss` and
    :meth:`loss_and_grad`; data problems (those with ``n_samples``) also accept a batch
    of sample indices for mini-batch gradients.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    options: ClassVar[tuple[Option, ...]] = ()
    param_names: tuple[str, ...]
    minimum: Minimum
    #: The Hessian if it is the same everywhere (quadratic losses), else None.
    hessian: Array | None = None
    #: Number of data points for data problems (mini-batches allowed), else None.
    n_samples: int | None = None
    seed: int | None = None

    @property
    def dim(self) -> int:
        """Number of parameters."""
        return len(self.param_names)

    @abstractmethod
    def loss(self, theta: Array) -> Array:
        """Loss at each parameter vector: ``(..., dim) -> (...)``."""

    @abstractmethod
    def loss_and_grad(self, theta: Array, batch: npt.NDArray[np.intp] | None = None):
        """Full loss and the gradient on ``batch`` (all data when None) at ``theta``.

        Returns
        -------
        (loss, grad) : tuple of arrays with shapes ``(...)`` and ``(..., dim)``.
        """

    def grad(self, theta: Array, batch: npt.NDArray[np.intp] | None = None) -> Array:
        """Gradient of the loss (on ``batch`` when given) at ``theta``."""
        return type(self).gradient_formula(theta, batch, **self.gradient_data())

    def gradient(self) -> Gradient:
        """The gradient alone (see :class:`Gradient`): its formula and a copy of its data."""
        return Gradient(type(self).gradient_formula, {
            name: np.array(value) if isinstance(value, np.ndarray) else value
            for name, value in self.gradient_data().items()})

    #: The gradient's formula: ``formula(theta, batch, **gradient_data())``.
    gradient_formula: ClassVar[Callable[..., Array]]

    @abstractmethod
    def gradient_data(self) -> dict[str, Any]:
        """What the gradient's formula needs besides ``theta`` and ``batch``."""

    def exercise_data(self) -> tuple[Array, Array]:
        """The data a gradient exercise hands the student: inputs ``X`` and targets ``y``.
        Only data problems have it; the others raise ValueError."""
        raise ValueError(f"{self.name} has no data for a gradient exercise")

    @abstractmethod
    def classic_start(self) -> Array:
        """The textbook starting point, used when no seed is given."""

    def seeded_start(self, rng: np.random.Generator) -> Array:
        """A starting point drawn from ``rng``: the classic one, jittered."""
        return self.classic_start() + rng.normal(0.0, 0.5, self.dim)

    def start(self, lanes: int, init: str = "shared") -> Array:
        """Starting points, one row per learning rate.

        Parameters
        ----------
        lanes : int
            Number of rows (learning rates) to start.
        init : {"shared", "legacy"}
            ``shared``: every row starts from the same point, so curves are comparable.
            ``legacy`` exists only where a course script drew one start per learning rate.
        """
        if init != "shared":
            raise SpecError("init", f"{self.name} has only the 'shared' start")
        if self.seed is None:
            point = self.classic_start()
        else:
            point = self.seeded_start(np.random.default_rng([self.seed, 1]))
        return np.tile(np.asarray(point, dtype=np.float64), (lanes, 1))

    def describe(self) -> dict[str, Any]:
        """JSON-ready facts: name, dimension, parameter names, minimum."""
        return {
            "name": self.name,
            "dim": self.dim,
            "param_names": list(self.param_names),
            "minimum": {"point": self.minimum.point.tolist(), "value": self.minimum.value},
            "n_samples": self.n_samples,
            "seed": self.seed,
        }


def _mean_last(values: Array, count: int) -> Array:
    """``np.mean`` over the last axis, computed the same way (pairwise sum, then divide)
    without its Python overhead; the seed script's numbers depend on this exact order."""
    return np.add.reduce(values, axis=-1) / count


def _mse_gradient(shape: tuple[int, ...], residual: Array, x: Array, count: int) -> Array:
    """``(dw, db) = (-2 mean(residual * x), -2 mean(residual))``, the course's formulas."""
    grad = np.empty(shape)
    grad[..., 0] = -2 * _mean_last(residual * x, count)
    grad[..., 1] = -2 * _mean_last(residual, count)
    return grad


def linear_regression_gradient(theta: Array, batch: npt.NDArray[np.intp] | None, *,
                               X: Array, y: Array) -> Array:
    """The course's MSE gradient ``(dw, db)`` of y = w x + b on ``batch`` (all data when
    None), computed exactly as :meth:`LinearRegression.loss_and_grad` does."""
    w, b = theta[..., 0:1], theta[..., 1:2]
    if batch is not None:
        X, y = X[batch], y[batch]
    return _mse_gradient(theta.shape, y - (w * X + b), X, len(X))


class LinearRegression(Problem):
    """The course example: fit y = w x + b to y = 2x + 1 + N(0, noise) by mean squared error.

    Parameters
    ----------
    n_samples : int
        Points on ``linspace(0, 1, n_samples)``.
    noise : float
        Standard deviation of the Gaussian noise on y.
    seed : int or None
        Seeds the legacy ``RandomState`` stream exactly as the course script does
        (``np.random.seed(seed)``, then the noise, then the starting draws); None is 42.

    Examples
    --------
    >>> p = LinearRegression()
    >>> p.start(3, "legacy").shape
    (3, 2)
    """

    name = "linear-regression"
    summary = "Least squares fit of y = w*x + b to y = 2x + 1 + noise (the course example)."
    options = (
        Option("n_samples", int, 100, low=2, high=10_000, help="number of data points"),
        Option("noise", float, 0.1, low=0, high=100, help="standard deviation of the noise"),
    )
    param_names = ("w", "b")
    COURSE_SEED = 42

    def __init__(self, n_samples: int = 100, noise: float = 0.1, seed: int | None = None):
        self.seed = seed
        self.n_samples = n_samples
        self.noise = noise
        self.X = np.linspace(0, 1, n_samples)
        self.y = 2 * self.X + 1 + self._course_stream()[1]

    @functools.cached_property
    def hessian(self) -> Array:  # type: ignore[override]
        """The constant Hessian (computed when first asked for: with a gradient it gives
        the minimum in one Newton step)."""
        ones = np.ones_like(self.X)
        return (2.0 / self.n_samples) * np.array(
            [[np.dot(self.X, self.X), np.dot(self.X, ones)],
             [np.dot(self.X, ones), self.n_samples]])

    @functools.cached_property
    def minimum(self) -> Minimum:  # type: ignore[override]
        """The least-squares fit (computed when first asked for)."""
        design = np.column_stack([self.X, np.ones_like(self.X)])
        point = np.linalg.lstsq(design, self.y, rcond=None)[0]
        return Minimum(point, float(self.loss(point)))

    def _course_stream(self) -> tuple[np.random.RandomState, Array]:
        """Replay the course script's random stream: seed it, draw the noise, and return the
        stream (positioned for the starting draws) with the noise."""
        rs = np.random.RandomState(self.COURSE_SEED if self.seed is None else self.seed)
        noise = rs.normal(0, self.noise, size=self.X.shape)
        return rs, noise

    def _course_starts(self, count: int) -> Array:
        """The course script's first ``count`` starting draws, ``w = randn(); b = randn()``."""
        rs = self._course_stream()[0]
        return np.array([(rs.randn(), rs.randn()) for _ in range(count)], dtype=np.float64)

    def classic_start(self) -> Array:
        """The course script's first starting draw."""
        return self._course_starts(1)[0]

    def start(self, lanes: int, init: str = "shared") -> Array:
        """``shared``: every row starts at the course's first draw; ``legacy``: row i gets
        the course script's i-th draw (w, then b), so the curves match it number for number."""
        if init == "shared":
            return np.tile(self.classic_start(), (lanes, 1))
        if init == "legacy":
            return self._course_starts(lanes)
        raise SpecError("init", f"must be one of {', '.join(INIT_MODES)}, got {init!r}")

    def loss(self, theta: Array) -> Array:
        """Mean squared error at each ``(w, b)`` row."""
        residual = self.y - (theta[..., 0:1] * self.X + theta[..., 1:2])
        return _mean_last(residual * residual, self.n_samples)

    def loss_and_grad(self, theta: Array, batch=None):
        """MSE over all data and its gradient ``(dw, db)`` on ``batch``, as the course
        script writes it: ``dw = -2 mean((y - y_pred) x)``, ``db = -2 mean(y - y_pred)``."""
        w, b = theta[..., 0:1], theta[..., 1:2]
        residual = self.y - (w * self.X + b)
        loss = _mean_last(residual * residual, self.n_samples)
        if batch is None:
            return loss, _mse_gradient(theta.shape, residual, self.X, self.n_samples)
        return loss, self.grad(theta, batch)

    gradient_formula = staticmethod(linear_regression_gradient)

    def gradient_data(self) -> dict[str, Any]:
        """The data points."""
        return {"X": self.X, "y": self.y}

    def exercise_data(self) -> tuple[Array, Array]:
        """The inputs x (one feature, shape (n,)) and the targets."""
        return self.X, self.y


def quadratic_gradient(theta: Array, batch: Any, *, curvatures: Array) -> Array:
    """``a * theta``, the gradient of 0.5 * sum(a * theta^2)."""
    return curvatures * theta


class Quadratic(Problem):
    """An ill-conditioned bowl f = 0.5 * sum(a_i * theta_i^2), a log-spaced from 1 to
    ``condition``: the classic picture of why one learning rate cannot suit every direction.
    """

    name = "quadratic"
    summary = "0.5 * theta^T A theta with A = diag(geomspace(1, condition, dim))."
    options = (
        Option("condition", float, 25.0, low=1, high=1e8, help="largest / smallest curvature"),
        Option("dim", int, 2, low=1, high=100, help="number of parameters"),
    )

    def __init__(self, condition: float = 25.0, dim: int = 2, seed: int | None = None):
        self.seed = seed
        self.curvatures = np.geomspace(1.0, condition, dim)
        self.param_names = tuple(f"x{i + 1}" for i in range(dim))
        self.hessian = np.diag(self.curvatures)
        self.minimum = Minimum(np.zeros(dim), 0.0)

    def classic_start(self) -> Array:
        """All ones."""
        return np.ones(self.dim)

    def loss(self, theta: Array) -> Array:
        """0.5 * sum(a * theta^2) per row."""
        return 0.5 * np.add.reduce(self.curvatures * (theta * theta), axis=-1)

    def loss_and_grad(self, theta: Array, batch=None):
        """Loss and gradient ``a * theta``."""
        return self.loss(theta), quadratic_gradient(theta, batch, curvatures=self.curvatures)

    gradient_formula = staticmethod(quadratic_gradient)

    def gradient_data(self) -> dict[str, Any]:
        """The curvatures."""
        return {"curvatures": self.curvatures}


def rosenbrock_gradient(theta: Array, batch: Any, *, a: float, b: float) -> Array:
    """The analytic gradient of (a - x)^2 + b (y - x^2)^2."""
    x, y = theta[..., 0], theta[..., 1]
    valley = y - x * x
    dx = -2 * (a - x) - 4 * b * x * valley
    dy = 2 * b * valley
    return np.stack([dx, dy], axis=-1)


class Rosenbrock(Problem):
    """The banana valley (a - x)^2 + b (y - x^2)^2, minimum (a, a^2), classic start (-1.2, 1)."""

    name = "rosenbrock"
    summary = "(a - x)^2 + b*(y - x^2)^2: a curved, narrow valley; minimum at (a, a^2)."
    options = (
        Option("a", float, 1.0, low=-10, high=10, help="position of the minimum"),
        Option("b", float, 100.0, low=0, low_open=True, high=1e4, help="steepness of the walls"),
    )
    param_names = ("x", "y")

    def __init__(self, a: float = 1.0, b: float = 100.0, seed: int | None = None):
        self.seed = seed
        self.a, self.b = a, b
        self.minimum = Minimum(np.array([a, a * a]), 0.0)

    def classic_start(self) -> Array:
        """(-1.2, 1), Rosenbrock's own."""
        return np.array([-1.2, 1.0])

    def loss(self, theta: Array) -> Array:
        """(a - x)^2 + b (y - x^2)^2 per row."""
        x, y = theta[..., 0], theta[..., 1]
        return (self.a - x) ** 2 + self.b * (y - x * x) ** 2

    def loss_and_grad(self, theta: Array, batch=None):
        """Loss and its analytic gradient."""
        return self.loss(theta), rosenbrock_gradient(theta, batch, a=self.a, b=self.b)

    gradient_formula = staticmethod(rosenbrock_gradient)

    def gradient_data(self) -> dict[str, Any]:
        """The constants a and b."""
        return {"a": self.a, "b": self.b}


_BEALE_CONSTANTS = (1.5, 2.25, 2.625)


def _beale_terms(theta: Array):
    x, y = theta[..., 0], theta[..., 1]
    return x, y, [c - x + x * y**k for k, c in enumerate(_BEALE_CONSTANTS, start=1)]


def beale_gradient(theta: Array, batch: Any) -> Array:
    """The analytic gradient of Beale's function."""
    x, y, terms = _beale_terms(theta)
    dx = sum(2 * t * (y**k - 1) for k, t in enumerate(terms, start=1))
    dy = sum(2 * t * (k * x * y ** (k - 1)) for k, t in enumerate(terms, start=1))
    return np.stack([dx, dy], axis=-1)


class Beale(Problem):
    """Beale's function: flat plateaus and steep walls; minimum (3, 0.5), classic start (1, 1.5)."""

    name = "beale"
    summary = "Beale's function: plateaus and steep walls; minimum at (3, 0.5)."
    param_names = ("x", "y")

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self.minimum = Minimum(np.array([3.0, 0.5]), 0.0)

    def classic_start(self) -> Array:
        """(1, 1.5)."""
        return np.array([1.0, 1.5])

    def seeded_start(self, rng: np.random.Generator) -> Array:
        """The classic start jittered less than elsewhere: Beale overflows quickly."""
        return self.classic_start() + rng.normal(0.0, 0.25, self.dim)

    def loss(self, theta: Array) -> Array:
        """Sum of the three squared terms per row."""
        return sum(t * t for t in _beale_terms(theta)[2])

    def loss_and_grad(self, theta: Array, batch=None):
        """Loss and its analytic gradient."""
        return self.loss(theta), beale_gradient(theta, batch)

    gradient_formula = staticmethod(beale_gradient)

    def gradient_data(self) -> dict[str, Any]:
        """Nothing: Beale's function has no parameters."""
        return {}


def _logistic_margins(theta: Array, features: Array, y: Array) -> Array:
    # Written out per feature rather than X @ theta: only elementwise operations, so a
    # row's result does not depend on how many rows are stepped together.
    x1, x2 = features[:, 0], features[:, 1]
    z = theta[..., 0:1] * x1 + theta[..., 1:2] * x2 + theta[..., 2:3]
    return z * y


def logistic_gradient(theta: Array, batch: npt.NDArray[np.intp] | None, *, features: Array,
                      y: Array, lam: float) -> Array:
    """The gradient of the L2-regularised mean logistic loss on ``batch`` (all data when
    None)."""
    if batch is not None:
        features, y = features[batch], y[batch]
    count = len(y)
    margins = _logistic_margins(theta, features, y)
    # d/dz log(1 + exp(-y z)) = -y * sigmoid(-y z), and exp(-logaddexp(0, m)) is
    # sigmoid(-m) without overflow.
    weights = -y * np.exp(-np.logaddexp(0.0, margins))
    data_grad = np.stack(
        [
            _mean_last(weights * features[:, 0], count),
            _mean_last(weights * features[:, 1], count),
            _mean_last(weights, count),
        ],
        axis=-1,
    )
    return data_grad + lam * theta


class LogisticRegression(Problem):
    """L2-regularised logistic regression on two Gaussian blobs (labels -1 and +1).

    Loss: mean(log(1 + exp(-y (w.x + b)))) + lam/2 * ||(w, b)||^2. With lam > 0 it is
    strongly convex, so it has one finite minimum, found here by Newton's method.
    """

    name = "logistic-regression"
    summary = "L2-regularised logistic loss on two Gaussian blobs; parameters (w1, w2, b)."
    options = (
        Option("n_samples", int, 200, low=2, high=10_000, help="number of data points"),
        Option("lam", float, 0.01, low=0, low_open=True, high=100, help="L2 strength (> 0)"),
        Option("separation", float, 2.0, low=0, high=100, help="distance between blob centres"),
    )
    param_names = ("w1", "w2", "b")
    COURSE_SEED = 0

    def __init__(
        self,
        n_samples: int = 200,
        lam: float = 0.01,
        separation: float = 2.0,
        seed: int | None = None,
    ):
        self.seed = seed
        self.n_samples = n_samples
        self.lam = lam
        rng = np.random.default_rng(self.COURSE_SEED if seed is None else seed)
        labels = np.where(np.arange(n_samples) % 2 == 0, 1.0, -1.0)
        centre = (separation / 2) * np.array([1.0, 1.0]) / math.sqrt(2)
        points = labels[:, None] * centre + rng.normal(0.0, 1.0, (n_samples, 2))
        self.y = labels
        self.features = np.column_stack([points, np.ones(n_samples)])

    def classic_start(self) -> Array:
        """All zeros, the usual start for logistic regression."""
        return np.zeros(self.dim)

    def _margins(self, theta: Array, rows=slice(None)) -> Array:
        return _logistic_margins(theta, self.features[rows], self.y[rows])

    def _penalty(self, theta: Array) -> Array:
        return 0.5 * self.lam * np.add.reduce(theta * theta, axis=-1)

    def loss(self, theta: Array) -> Array:
        """Mean logistic loss plus the L2 term, per row."""
        data = _mean_last(np.logaddexp(0.0, -self._margins(theta)), self.n_samples)
        return data + self._penalty(theta)

    def loss_and_grad(self, theta: Array, batch=None):
        """Loss over all data and the gradient on ``batch``."""
        return self.loss(theta), logistic_gradient(theta, batch, features=self.features,
                                                   y=self.y, lam=self.lam)

    gradient_formula = staticmethod(logistic_gradient)

    def gradient_data(self) -> dict[str, Any]:
        """The data points (with their constant feature), labels and L2 strength."""
        return {"features": self.features, "y": self.y, "lam": self.lam}

    def exercise_data(self) -> tuple[Array, Array]:
        """The two features (without the constant one) and the labels."""
        return self.features[:, :2], self.y

    @functools.cached_property
    def minimum(self) -> Minimum:  # type: ignore[override]
        """Found by Newton's method (when first asked for)."""
        theta = np.zeros(self.dim)
        eye = np.eye(self.dim)
        for _ in range(100):
            grad = self.grad(theta)
            p = np.exp(-np.logaddexp(0.0, -(self.features @ theta)))
            curvature = (self.features.T * (p * (1 - p))) @ self.features / self.n_samples
            step = np.linalg.solve(curvature + self.lam * eye, grad)
            theta = theta - step
            if np.max(np.abs(step)) < 1e-15:
                break
        return Minimum(theta, float(self.loss(theta)))


PROBLEMS: dict[str, type[Problem]] = {
    cls.name: cls for cls in (LinearRegression, Quadratic, Rosenbrock, Beale, LogisticRegression)
}


#: Problems an exercise folder defines (its data sets, an instructor's module), by their
#: exercise-qualified name ``"<exercise-id>/<name>"``: built for a seed. The catalog
#: registers them as it loads the folders (:mod:`grader.catalog.custom`).
REGISTERED: dict[str, Callable[[int | None], Problem]] = {}


def register_problem(name: str, build: Callable[[int | None], Problem]) -> None:
    """Make ``make_problem(name)`` build ``build(seed)``; a later registration of the same
    name replaces it (an exercise loaded again).

    Examples
    --------
    >>> register_problem("demo/bowl", lambda seed: Quadratic(4.0, seed=seed))
    >>> make_problem("demo/bowl").hessian[1, 1]
    np.float64(4.0)
    >>> del REGISTERED["demo/bowl"]
    """
    if "/" not in name:
        raise ValueError(f"a registered problem's name is exercise-qualified, got {name!r}")
    REGISTERED[name] = build


def make_problem(name: str, options: dict[str, Any] | None = None, seed: int | None = None):
    """Build a problem by name with validated options.

    Parameters
    ----------
    name : str
        One of :data:`PROBLEMS`, or an exercise's own (:data:`REGISTERED`).
    options : dict, optional
        The problem's own settings (see each class's ``options``).
    seed : int or None
        None gives the classic problem (course data, textbook start); an integer draws
        the data and the starting point from it.

    Raises
    ------
    SpecError
        For an unknown name (the known ones are listed) or a bad option.

    Examples
    --------
    >>> make_problem("quadratic", {"condition": 100}).hessian[1, 1]
    np.float64(100.0)
    """
    if isinstance(name, str) and name in REGISTERED:
        if options:
            raise SpecError("problem_options", f"{name} has no options, got {', '.join(options)}")
        return REGISTERED[name](seed)
    cls = lookup("problem", "problem", PROBLEMS, name)
    resolved = resolve_options("problem_options", cls.options, options)
    return cls(**resolved, seed=seed)
