"""Classic variants of the reference rules: the textbook and Keras formulations and the
slips students make most, written as update rules with the students' own contract
``update(params, grad, lr, state, **hyper)``.

The grader runs them on an exercise's cases; a student's trajectory that matches one of
them step for step is diagnosed by name ("your curve matches Adam without bias
correction"). Each is the reference rule with exactly one thing changed. Schedule
variants (:data:`SCHEDULE_VARIANTS`) have the schedule contract ``lr_at(epoch, lr0,
**options)`` instead. Never imported by a sandboxed child.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from grader.engine.optimizers import adam_init, adam_step, sgd_step

Array = npt.NDArray[np.float64]


def momentum_ema(params: Array, grad: Array, lr: float, state: dict[str, Any], *,
                 momentum: float = 0.9, **hyper: Any) -> Array:
    """EMA momentum (Ng): ``v = beta*v + (1 - beta)*g`` from ``v = 0``; torch keeps
    ``v = mu*v + g`` and starts from the first gradient."""
    velocity = momentum * state.get("velocity", np.zeros_like(params)) + (1 - momentum) * grad
    state["velocity"] = velocity
    return params - lr * velocity


def nesterov_as_heavy_ball(params: Array, grad: Array, lr: float, state: dict[str, Any], *,
                           momentum: float = 0.9, **hyper: Any) -> Array:
    """Plain heavy-ball momentum where Nesterov's look-ahead ``g + mu*b`` was asked for."""
    return sgd_step(params, grad, lr, state.setdefault("sgd", {"momentum_buffer": None}),
                    momentum=momentum)


def _adam_moments(params: Array, grad: Array, lr: float, state: dict[str, Any], *,
                  beta1: float, beta2: float, weight_decay: float, decoupled: bool):
    state["step"] = state.get("step", 0) + 1
    if weight_decay and decoupled:
        params = params * (1 - lr * weight_decay)
    elif weight_decay:
        grad = grad + weight_decay * params
    m = beta1 * state.get("m", np.zeros_like(params)) + (1 - beta1) * grad
    v = beta2 * state.get("v", np.zeros_like(params)) + (1 - beta2) * grad * grad
    state["m"], state["v"] = m, v
    return params, m, v, state["step"]


def adam_no_bias_correction(params: Array, grad: Array, lr: float, state: dict[str, Any], *,
                            beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                            weight_decay: float = 0.0, decoupled: bool = False,
                            **hyper: Any) -> Array:
    """Adam with ``m`` and ``v`` used as they are: its first steps are far too small
    (``m`` starts at a tenth of the gradient) or too large."""
    params, m, v, _ = _adam_moments(params, grad, lr, state, beta1=beta1, beta2=beta2,
                                    weight_decay=weight_decay, decoupled=decoupled)
    return params - lr * m / (np.sqrt(v) + eps)


def adam_eps_inside_sqrt(params: Array, grad: Array, lr: float, state: dict[str, Any], *,
                         beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                         weight_decay: float = 0.0, decoupled: bool = False,
                         **hyper: Any) -> Array:
    """Adam with ``sqrt(v_hat + eps)`` where torch has ``sqrt(v_hat) + eps``."""
    params, m, v, t = _adam_moments(params, grad, lr, state, beta1=beta1, beta2=beta2,
                                    weight_decay=weight_decay, decoupled=decoupled)
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return params - lr * m_hat / np.sqrt(v_hat + eps)


def adam_efficient_eps(params: Array, grad: Array, lr: float, state: dict[str, Any], *,
                       beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                       weight_decay: float = 0.0, decoupled: bool = False,
                       **hyper: Any) -> Array:
    """Adam in the "efficient" form of Kingma and Ba's section 2 (TensorFlow's), with the
    bias corrections folded into the step size, ``lr_t = lr sqrt(1 - beta2^t) / (1 -
    beta1^t)``, and the plain ``eps`` added to ``sqrt(v)``: in torch's terms its eps is
    ``eps / sqrt(1 - beta2^t)``, far larger in the first steps."""
    params, m, v, t = _adam_moments(params, grad, lr, state, beta1=beta1, beta2=beta2,
                                    weight_decay=weight_decay, decoupled=decoupled)
    step_size = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    return params - step_size * m / (np.sqrt(v) + eps)


def adamw_coupled(params: Array, grad: Array, lr: float, state: dict[str, Any], *,
                  beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                  weight_decay: float = 1e-2, **hyper: Any) -> Array:
    """"AdamW" that adds ``wd*theta`` to the gradient: that is Adam with L2, whose decay
    the adaptive denominator rescales."""
    if not state:
        state.update(adam_init(params))
    return adam_step(params, grad, lr, state, beta1=beta1, beta2=beta2, eps=eps,
                     weight_decay=weight_decay)


def rmsprop_eps_inside_sqrt(params: Array, grad: Array, lr: float, state: dict[str, Any], *,
                            alpha: float = 0.99, eps: float = 1e-8, **hyper: Any) -> Array:
    """RMSprop with Keras' ``sqrt(v + eps)`` where torch has ``sqrt(v) + eps``."""
    square_avg = alpha * state.get("square_avg", np.zeros_like(params)) + (1 - alpha) * grad**2
    state["square_avg"] = square_avg
    return params - lr * grad / np.sqrt(square_avg + eps)


def adagrad_eps_inside_sqrt(params: Array, grad: Array, lr: float, state: dict[str, Any], *,
                            eps: float = 1e-10, **hyper: Any) -> Array:
    """Adagrad with ``sqrt(S + eps)`` where torch has ``sqrt(S) + eps``."""
    total = state.get("sum", np.zeros_like(params)) + grad**2
    state["sum"] = total
    return params - lr * grad / np.sqrt(total + eps)


#: diagnosis id -> (rule, reference optimizers it is a variant of)
VARIANTS = {
    "momentum-ema": (momentum_ema, ("sgd",)),
    "nesterov-as-heavy-ball": (nesterov_as_heavy_ball, ("sgd",)),
    "adam-no-bias-correction": (adam_no_bias_correction, ("adam", "adamw")),
    "adam-eps-inside-sqrt": (adam_eps_inside_sqrt, ("adam", "adamw")),
    "adam-efficient-eps": (adam_efficient_eps, ("adam", "adamw")),
    "adamw-coupled": (adamw_coupled, ("adamw",)),
    "rmsprop-eps-inside-sqrt": (rmsprop_eps_inside_sqrt, ("rmsprop",)),
    "adagrad-eps-inside-sqrt": (adagrad_eps_inside_sqrt, ("adagrad",)),
}


def step_decay_late(epoch: int, lr0: float, *, step_size: int, gamma: float,
                    **options: Any) -> float:
    """StepLR cut one epoch late, at epochs ``step_size + 1, 2 step_size + 1, ...``: the
    decay counted from epoch 1 (``range(1, epoch)``), or applied after the epoch it is
    due."""
    return lr0 * gamma ** (max(epoch - 1, 0) // step_size)


#: diagnosis id -> (schedule rule, reference schedules it is a variant of)
SCHEDULE_VARIANTS = {
    "step-decay-late": (step_decay_late, ("step",)),
}
