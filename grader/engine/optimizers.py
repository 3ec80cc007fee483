"""The reference optimizers: torch.optim's update rules, in numpy, float64.

Each optimizer is a pair of plain functions, as in optax:

- ``init(params, **hyper) -> state``: a dict of everything the rule carries between steps;
- ``step(params, grad, lr, state, **hyper) -> new params``: one update, which also
  advances ``state`` in place.

They follow the single-tensor code paths of torch 2.13 (``torch/optim/*.py``) operation
for operation, including where torch uses ``lerp`` rather than ``b*m + (1 - b)*g``, so
that a number from gdlab and one from a student's PyTorch notebook agree to float64
precision (see ``docs/optimizer-semantics.md``; golden tests in
``tests/engine/test_torch_golden.py``). ``params``, ``grad`` and ``lr`` broadcast: the
run loop steps one row per learning rate with ``lr`` of shape ``(rows, 1)``.

Hyper-parameter names are torch's arguments, with ``betas`` split into ``beta1`` and
``beta2``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from grader.engine.options import Option, SpecError, lookup, resolve_options

Array = npt.NDArray[np.float64]
State = dict[str, Any]
Lr = float | Array


def _lerp(start: Array, end: Array, weight: float) -> Array:
    """torch.lerp's formula: the form it uses depends on whether the weight is small."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


def _signed(grad: Array, maximize: bool) -> Array:
    return -grad if maximize else grad


def _coupled_decay(grad: Array, params: Array, weight_decay: float) -> Array:
    """torch's ``weight_decay``: add ``wd * theta`` to the gradient (L2 with strength wd/2)."""
    return grad + weight_decay * params if weight_decay != 0 else grad


# --- SGD ---------------------------------------------------------------------------


def sgd_init(params: Array, **hyper: Any) -> State:
    """SGD's state: the momentum buffer, created from the first gradient."""
    return {"momentum_buffer": None}


def sgd_step(
    params: Array,
    grad: Array,
    lr: Lr,
    state: State,
    *,
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> Array:
    """torch.optim.SGD: the first momentum buffer is the gradient itself (no dampening);
    afterwards ``b = momentum*b + (1 - dampening)*g``; Nesterov steps along ``g + momentum*b``.

    Examples
    --------
    >>> s = sgd_init(np.ones(2))
    >>> sgd_step(np.ones(2), np.array([2.0, -0.5]), 0.1, s, momentum=0.9)
    array([0.8 , 1.05])
    """
    g = _coupled_decay(_signed(grad, maximize), params, weight_decay)
    if momentum != 0:
        buffer = state["momentum_buffer"]
        buffer = g.copy() if buffer is None else buffer * momentum + (1 - dampening) * g
        state["momentum_buffer"] = buffer
        g = g + momentum * buffer if nesterov else buffer
    return params - lr * g


def _check_sgd(hyper: Mapping[str, Any]) -> None:
    if hyper["nesterov"] and (hyper["momentum"] <= 0 or hyper["dampening"] != 0):
        raise SpecError(
            "hyper.nesterov", "Nesterov momentum needs momentum > 0 and dampening = 0"
        )


# --- Adagrad -----------------------------------------------------------------------


def adagrad_init(params: Array, *, initial_accumulator_value: float = 0.0, **hyper: Any) -> State:
    """Adagrad's state: the step count and the running sum of squared gradients."""
    return {"step": 0, "sum": np.full_like(params, initial_accumulator_value)}


def adagrad_step(
    params: Array,
    grad: Array,
    lr: Lr,
    state: State,
    *,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> Array:
    """torch.optim.Adagrad: ``S += g^2``; ``theta -= clr * g / (sqrt(S) + eps)`` with
    ``clr = lr / (1 + (t - 1) * lr_decay)``. eps is added after the root."""
    state["step"] += 1
    g = _coupled_decay(_signed(grad, maximize), params, weight_decay)
    clr = lr / (1 + (state["step"] - 1) * lr_decay)
    state["sum"] = state["sum"] + 1 * g * g
    std = np.sqrt(state["sum"]) + eps
    return params + (-clr * g) / std


# --- RMSprop -----------------------------------------------------------------------


def rmsprop_init(params: Array, **hyper: Any) -> State:
    """RMSprop's state: squared-gradient average, gradient average, momentum buffer."""
    zeros = np.zeros_like(params)
    return {"square_avg": zeros, "grad_avg": zeros, "momentum_buffer": zeros}


def rmsprop_step(
    params: Array,
    grad: Array,
    lr: Lr,
    state: State,
    *,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    maximize: bool = False,
) -> Array:
    """torch.optim.RMSprop: ``v = alpha*v + (1 - alpha)*g^2`` with no bias correction, so
    the first step is about ``lr / sqrt(1 - alpha)``; eps is added after the root; the
    momentum buffer starts at zero (unlike SGD's)."""
    g = _coupled_decay(_signed(grad, maximize), params, weight_decay)
    square_avg = state["square_avg"] * alpha + (1 - alpha) * g * g
    state["square_avg"] = square_avg
    if centered:
        grad_avg = _lerp(state["grad_avg"], g, 1 - alpha)
        state["grad_avg"] = grad_avg
        avg = np.sqrt(square_avg + -1 * grad_avg * grad_avg) + eps
    else:
        avg = np.sqrt(square_avg) + eps
    if momentum > 0:
        buffer = state["momentum_buffer"] * momentum + g / avg
        state["momentum_buffer"] = buffer
        return params - lr * buffer
    return params + (-lr * g) / avg


# --- Adam, AdamW -------------------------------------------------------------------


def adam_init(params: Array, **hyper: Any) -> State:
    """Adam's state: step count, first and second moments, and their running max."""
    zeros = np.zeros_like(params)
    return {"step": 0, "exp_avg": zeros, "exp_avg_sq": zeros, "max_exp_avg_sq": zeros}


def adam_step(
    params: Array,
    grad: Array,
    lr: Lr,
    state: State,
    *,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
) -> Array:
    """torch.optim.Adam: bias-corrected moments, eps added after the root *and* after the
    correction; AMSGrad keeps the max of the raw second moment. With
    ``decoupled_weight_decay`` the parameters shrink by ``lr*wd`` first (that is AdamW).

    Examples
    --------
    >>> s = adam_init(np.ones(2))
    >>> np.ones(2) - adam_step(np.ones(2), np.array([2.0, -0.5]), 0.1, s)
    array([ 0.1, -0.1])
    """
    state["step"] += 1
    step = state["step"]
    g = _signed(grad, maximize)
    if weight_decay != 0:
        if decoupled_weight_decay:
            params = params * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * params
    exp_avg = _lerp(state["exp_avg"], g, 1 - beta1)
    exp_avg_sq = state["exp_avg_sq"] * beta2 + (1 - beta2) * g * g
    state["exp_avg"], state["exp_avg_sq"] = exp_avg, exp_avg_sq
    bias_correction1 = 1 - beta1**step
    bias_correction2_sqrt = (1 - beta2**step) ** 0.5
    step_size = lr / bias_correction1
    if amsgrad:
        state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], exp_avg_sq)
        denom = np.sqrt(state["max_exp_avg_sq"]) / bias_correction2_sqrt + eps
    else:
        denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + eps
    return params + (-step_size * exp_avg) / denom


def adamw_step(
    params: Array,
    grad: Array,
    lr: Lr,
    state: State,
    *,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    maximize: bool = False,
) -> Array:
    """torch.optim.AdamW: Adam with decoupled weight decay ``theta *= 1 - lr*wd``."""
    return adam_step(
        params,
        grad,
        lr,
        state,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        weight_decay=weight_decay,
        amsgrad=amsgrad,
        maximize=maximize,
        decoupled_weight_decay=True,
    )


# --- NAdam -------------------------------------------------------------------------


def nadam_init(params: Array, **hyper: Any) -> State:
    """NAdam's state: step count, moments, and the running product of momentum factors."""
    zeros = np.zeros_like(params)
    return {"step": 0, "mu_product": 1.0, "exp_avg": zeros, "exp_avg_sq": zeros}


def nadam_step(
    params: Array,
    grad: Array,
    lr: Lr,
    state: State,
    *,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> Array:
    """torch.optim.NAdam (Dozat's momentum schedule ``mu_t = beta1 (1 - 0.5 * 0.96^(t psi))``)."""
    state["step"] += 1
    step = state["step"]
    g = _signed(grad, maximize)
    bias_correction2 = 1 - beta2**step
    if weight_decay != 0:
        if decoupled_weight_decay:
            params = params * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * params
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
    mu_product = state["mu_product"] * mu
    state["mu_product"] = mu_product
    exp_avg = _lerp(state["exp_avg"], g, 1 - beta1)
    exp_avg_sq = state["exp_avg_sq"] * beta2 + (1 - beta2) * g * g
    state["exp_avg"], state["exp_avg_sq"] = exp_avg, exp_avg_sq
    denom = np.sqrt(exp_avg_sq / bias_correction2) + eps
    params = params + (-lr * (1.0 - mu) / (1.0 - mu_product)) * g / denom
    return params + ((-lr * mu_next) / (1.0 - mu_product * mu_next)) * exp_avg / denom


# --- Adadelta ----------------------------------------------------------------------


def adadelta_init(params: Array, **hyper: Any) -> State:
    """Adadelta's state: running averages of squared gradients and squared updates."""
    zeros = np.zeros_like(params)
    return {"square_avg": zeros, "acc_delta": zeros}


def adadelta_step(
    params: Array,
    grad: Array,
    lr: Lr,
    state: State,
    *,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> Array:
    """torch.optim.Adadelta: ``delta = sqrt(u + eps) / sqrt(v + eps) * g``, then
    ``u = rho*u + (1 - rho)*delta^2``; ``theta -= lr * delta`` (lr defaults to 1)."""
    g = _coupled_decay(_signed(grad, maximize), params, weight_decay)
    square_avg = state["square_avg"] * rho + (1 - rho) * g * g
    delta = np.sqrt(state["acc_delta"] + eps) / np.sqrt(square_avg + eps) * g
    state["square_avg"] = square_avg
    state["acc_delta"] = state["acc_delta"] * rho + (1 - rho) * delta * delta
    return params - lr * delta


# --- the catalog -----------------------------------------------------------------


def _no_check(hyper: Mapping[str, Any]) -> None:
    """Optimizers whose options have no rules across each other."""


@dataclass(frozen=True)
class OptimizerDef:
    """An optimizer in the catalog: its rule, its options and what is known of it.

    Attributes
    ----------
    name, summary : str
        Catalog name (torch's class name, lower case) and one line about it.
    default_lr : float
        torch's default learning rate.
    options : tuple of Option
        The hyper-parameters with torch's defaults and valid ranges.
    init, step : callables
        The rule: ``init(params, **hyper) -> state`` and
        ``step(params, grad, lr, state, **hyper) -> params``.
    check : callable
        Raises :class:`SpecError` for invalid combinations of valid values.
    sharp_threshold : bool
        Whether a quadratic has a sharp largest stable learning rate for this rule (plain
        and momentum SGD) or not (the adaptive methods).
    """

    name: str
    summary: str
    default_lr: float
    options: tuple[Option, ...]
    init: Callable[..., State]
    step: Callable[..., Array]
    check: Callable[[Mapping[str, Any]], None] = field(default=_no_check)
    sharp_threshold: bool = False

    def resolve(self, hyper: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validate hyper-parameters, fill torch's defaults, check combinations."""
        resolved = resolve_options("hyper", self.options, hyper)
        self.check(resolved)
        return resolved



def _unit(name: str, default: float, help: str, *, top_open: bool = False) -> Option:
    return Option(name, float, default, low=0, high=1, high_open=top_open, help=help)


def _nonneg(name: str, default: float, help: str) -> Option:
    return Option(name, float, default, low=0, help=help)


_MAXIMIZE = Option("maximize", bool, False, help="ascend instead of descend")
_EPS_HELP = "added to the denominator for numerical stability"
_WD_HELP = "L2 penalty added to the gradient as wd*theta"


def _adam_options(weight_decay: float) -> tuple[Option, ...]:
    return (
        _unit("beta1", 0.9, "decay of the first-moment average", top_open=True),
        _unit("beta2", 0.999, "decay of the second-moment average", top_open=True),
        _nonneg("eps", 1e-8, _EPS_HELP),
        _nonneg("weight_decay", weight_decay, _WD_HELP),
        Option("amsgrad", bool, False, help="use the running max of the second moment"),
        _MAXIMIZE,
    )


OPTIMIZERS: dict[str, OptimizerDef] = {
    opt.name: opt
    for opt in (
        OptimizerDef(
            "sgd",
            "Gradient descent, with optional (Nesterov) momentum: torch.optim.SGD.",
            1e-3,
            (
                _unit("momentum", 0.0, "momentum factor"),
                _unit("dampening", 0.0, "dampening of the momentum buffer"),
                Option("nesterov", bool, False, help="Nesterov momentum"),
                _nonneg("weight_decay", 0.0, _WD_HELP),
                _MAXIMIZE,
            ),
            sgd_init,
            sgd_step,
            _check_sgd,
            sharp_threshold=True,
        ),
        OptimizerDef(
            "adagrad",
            "Per-coordinate steps shrinking with the sum of squared gradients.",
            1e-2,
            (
                _nonneg("lr_decay", 0.0, "learning-rate decay per step"),
                _nonneg("weight_decay", 0.0, _WD_HELP),
                _nonneg("initial_accumulator_value", 0.0, "starting value of the sum"),
                _nonneg("eps", 1e-10, _EPS_HELP),
                _MAXIMIZE,
            ),
            adagrad_init,
            adagrad_step,
        ),
        OptimizerDef(
            "rmsprop",
            "Steps scaled by a moving average of squared gradients: torch.optim.RMSprop.",
            1e-2,
            (
                _unit("alpha", 0.99, "smoothing constant of the squared-gradient average"),
                _nonneg("eps", 1e-8, _EPS_HELP),
                _nonneg("weight_decay", 0.0, _WD_HELP),
                _unit("momentum", 0.0, "momentum factor"),
                Option("centered", bool, False, help="normalise by the estimated variance"),
                _MAXIMIZE,
            ),
            rmsprop_init,
            rmsprop_step,
        ),
        OptimizerDef(
            "adam",
            "Adam: bias-corrected first and second moments: torch.optim.Adam.",
            1e-3,
            (
                *_adam_options(0.0),
                Option("decoupled_weight_decay", bool, False, help="decay like AdamW"),
            ),
            adam_init,
            adam_step,
        ),
        OptimizerDef(
            "adamw",
            "Adam with decoupled weight decay: torch.optim.AdamW.",
            1e-3,
            _adam_options(1e-2),
            adam_init,
            adamw_step,
        ),
        OptimizerDef(
            "nadam",
            "Adam with Nesterov momentum (Dozat): torch.optim.NAdam.",
            2e-3,
            (
                _unit("beta1", 0.9, "decay of the first-moment average", top_open=True),
                _unit("beta2", 0.999, "decay of the second-moment average", top_open=True),
                _nonneg("eps", 1e-8, _EPS_HELP),
                _nonneg("weight_decay", 0.0, _WD_HELP),
                _nonneg("momentum_decay", 4e-3, "psi in the momentum schedule"),
                Option("decoupled_weight_decay", bool, False, help="decay like AdamW"),
                _MAXIMIZE,
            ),
            nadam_init,
            nadam_step,
        ),
        OptimizerDef(
            "adadelta",
            "Adadelta: steps scaled by the ratio of update and gradient averages.",
            1.0,
            (
                _unit("rho", 0.9, "decay of the running averages"),
                _nonneg("eps", 1e-6, _EPS_HELP),
                _nonneg("weight_decay", 0.0, _WD_HELP),
                _MAXIMIZE,
            ),
            adadelta_init,
            adadelta_step,
        ),
    )
}


def get_optimizer(name: str) -> OptimizerDef:
    """The catalog entry for ``name``, or :class:`SpecError` listing the known ones."""
    return lookup("optimizer", "optimizer", OPTIMIZERS, name)
