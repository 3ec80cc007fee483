"""Stability facts for problems with a constant Hessian: what a learning-rate sweep teaches.

On a quadratic loss with Hessian eigenvalues ``lambda_min .. lambda_max = L``:

- plain gradient descent converges iff ``lr < 2 / L``; the best constant rate is
  ``2 / (L + lambda_min)``;
- heavy-ball momentum (torch SGD, momentum ``mu``, dampening ``tau``) iff
  ``lr < 2 (1 + mu) / ((1 - tau) L)``;
- torch's Nesterov form iff ``lr < 2 (1 + mu) / ((1 + 2 mu) L)``.

Coupled L2 (the optimizer's ``weight_decay`` or the ``l2``/``decoupled`` regulariser, which
are the same thing for SGD) adds its strength to every eigenvalue. Adaptive methods have
no sharp threshold, so none is claimed for them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from grader.engine.optimizers import OptimizerDef
from grader.engine.problems import Problem
from grader.engine.regularizers import Regularizer

#: Momentum used for the heavy-ball and Nesterov facts when the run itself has none.
USUAL_MOMENTUM = 0.9


@dataclass(frozen=True)
class Stability:
    """Curvature and the largest stable learning rates of a constant-Hessian problem.

    Attributes
    ----------
    eigenvalues : tuple of float
        Of the Hessian plus any L2 shift, ascending.
    condition_number : float
        ``lambda_max / lambda_min``.
    gd_max_lr, gd_best_lr : float
        ``2 / lambda_max`` and ``2 / (lambda_max + lambda_min)``.
    momentum : float
        The momentum used for the next two facts (the run's, or 0.9).
    heavy_ball_max_lr, nesterov_max_lr : float
        Largest stable rates of torch SGD with that momentum, plain and Nesterov.
    max_stable_lr : float or None
        The threshold for the optimizer exactly as configured, None where there is none.
    rule : str
        The formula behind ``max_stable_lr``, or why there is none.
    """

    eigenvalues: tuple[float, ...]
    condition_number: float
    gd_max_lr: float
    gd_best_lr: float
    momentum: float
    heavy_ball_max_lr: float
    nesterov_max_lr: float
    max_stable_lr: float | None
    rule: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        data = asdict(self)
        data["eigenvalues"] = list(self.eigenvalues)
        return data


def heavy_ball_limit(lambda_max: float, momentum: float, dampening: float = 0.0) -> float:
    """Largest stable lr of torch SGD momentum on a quadratic: ``2(1+mu)/((1-tau) L)``."""
    return 2 * (1 + momentum) / ((1 - dampening) * lambda_max)


def nesterov_limit(lambda_max: float, momentum: float) -> float:
    """Largest stable lr of torch's Nesterov SGD on a quadratic: ``2(1+mu)/((1+2mu) L)``."""
    return 2 * (1 + momentum) / ((1 + 2 * momentum) * lambda_max)


def stability_facts(
    problem: Problem,
    optimizer: OptimizerDef,
    hyper: dict[str, Any],
    regularizer: Regularizer,
) -> Stability | None:
    """The stability facts of a run, or None when the problem's Hessian is not constant.

    Examples
    --------
    >>> from grader.engine.problems import make_problem
    >>> from grader.engine.optimizers import OPTIMIZERS
    >>> sgd = OPTIMIZERS["sgd"]
    >>> facts = stability_facts(make_problem("linear-regression"), sgd, sgd.resolve({}),
    ...                         Regularizer())
    >>> round(facts.gd_max_lr, 6)
    0.788664
    """
    if problem.hessian is None:
        return None
    shift = float(hyper.get("weight_decay", 0.0)) if optimizer.sharp_threshold else 0.0
    if regularizer.active and regularizer.is_l2:
        shift += regularizer.lam
    eigenvalues = np.linalg.eigvalsh(problem.hessian) + shift
    low, high = float(eigenvalues[0]), float(eigenvalues[-1])
    momentum = float(hyper.get("momentum", 0.0)) if optimizer.sharp_threshold else 0.0
    facts_momentum = momentum or USUAL_MOMENTUM
    max_lr, rule = _threshold_as_configured(optimizer, hyper, regularizer, high)
    return Stability(
        eigenvalues=tuple(float(e) for e in eigenvalues),
        condition_number=high / low if low > 0 else float("inf"),
        gd_max_lr=2 / high,
        gd_best_lr=2 / (high + low),
        momentum=facts_momentum,
        heavy_ball_max_lr=heavy_ball_limit(high, facts_momentum),
        nesterov_max_lr=nesterov_limit(high, facts_momentum),
        max_stable_lr=max_lr,
        rule=rule,
    )


def _threshold_as_configured(
    optimizer: OptimizerDef, hyper: dict[str, Any], regularizer: Regularizer, high: float
) -> tuple[float | None, str]:
    if not optimizer.sharp_threshold:
        return None, f"{optimizer.name} adapts its steps: no sharp threshold"
    if hyper["maximize"]:
        return None, "maximize ascends a convex loss: no learning rate converges"
    if regularizer.active and not regularizer.is_l2:
        return None, "L1 is not smooth: no threshold from the Hessian"
    momentum, dampening = hyper["momentum"], hyper["dampening"]
    if momentum == 0:
        return 2 / high, "plain gradient descent: lr < 2 / lambda_max"
    if hyper["nesterov"]:
        return nesterov_limit(high, momentum), "Nesterov: lr < 2(1+mu) / ((1+2mu) lambda_max)"
    if dampening >= 1:
        return None, "dampening 1 freezes the momentum buffer: no threshold"
    return (
        heavy_ball_limit(high, momentum, dampening),
        "heavy ball: lr < 2(1+mu) / ((1-dampening) lambda_max)",
    )
