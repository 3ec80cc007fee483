"""Classic variants of the reference rules: the textbook and Keras formulations and the
slips students make most, written as update rules with the students' own contract
``update(params, grad, lr, state, **hyper)``.

The grader runs them on an exercise's cases; a student's trajectory that matches one of
them step for step is diagnosed by name ("your curve matches Adam without bias
correction"). Each is the reference rule with exactly one thing changed.

Every variant is one :class:`Variant` in :data:`VARIANTS`: its diagnosis id, its rule,
the sentence the student reads, and when it applies (which reference it is a variant
of). Adding a classic mistake is adding one entry there. Schedule variants have the
schedule contract ``lr_at(epoch, lr0, **options)`` instead (``contract="schedule"``).
Never imported by a sandboxed child.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from grader.engine.optimizers import adam_init, adam_step, sgd_step

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Reference:
    """What a variant may ask of the reference it would replace.

    Attributes
    ----------
    optimizer : str
        The reference optimizer (``"sgd"`` for exercises that grade no optimizer).
    hyper : mapping
        The reference's hyper-parameter settings, as the exercise writes them (a value
        may be ``"$name"``: the case's hyper-parameter ``name``).
    names : frozenset of str
        The hyper-parameters the student's function receives.
    schedule : str
        The reference learning-rate schedule.
    """

    optimizer: str = "sgd"
    hyper: Mapping[str, Any] = field(default_factory=dict)
    names: frozenset[str] = frozenset()
    schedule: str = "constant"


def _always(reference: Reference) -> Mapping[str, Any]:
    return {}


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


def adam_textbook(params: Array, grad: Array, lr: float, state: dict[str, Any], *,
                  beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                  weight_decay: float = 0.0, decoupled: bool = False,
                  correct_m: bool = True, correct_v: bool = True, eps_inside: bool = False,
                  **hyper: Any) -> Array:
    """Adam as the paper's algorithm 1 writes it, with the slips students make as
    switches: a bias correction left out (``correct_m``, ``correct_v``; without either,
    the first steps are far too small or too large) or ``sqrt(v_hat + eps)`` where torch
    has ``sqrt(v_hat) + eps`` (``eps_inside``)."""
    params, m, v, t = _adam_moments(params, grad, lr, state, beta1=beta1, beta2=beta2,
                                    weight_decay=weight_decay, decoupled=decoupled)
    m_hat = m / (1 - beta1**t) if correct_m else m
    v_hat = v / (1 - beta2**t) if correct_v else v
    if eps_inside:
        return params - lr * m_hat / np.sqrt(v_hat + eps)
    return params - lr * m_hat / (np.sqrt(v_hat) + eps)


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


def step_decay_late(epoch: int, lr0: float, *, step_size: int, gamma: float,
                    **options: Any) -> float:
    """StepLR cut one epoch late, at epochs ``step_size + 1, 2 step_size + 1, ...``: the
    decay counted from epoch 1 (``range(1, epoch)``), or applied after the epoch it is
    due."""
    return lr0 * gamma ** (max(epoch - 1, 0) // step_size)




@dataclass(frozen=True)
class Variant:
    """A classic mistake: a rule that is the reference with one thing changed.

    Attributes
    ----------
    id : str
        The diagnosis id (``"adam-no-bias-correction"``).
    rule : callable
        The wrong rule, with the students' contract (``update(params, grad, lr, state,
        **hyper)``, or ``lr_at(epoch, lr0, **options)`` for a schedule).
    message : str
        The one sentence that says the mistake and how to fix it.
    applies : callable
        ``applies(reference) -> bool``: whether it is a variant of this reference.
    contract : {"update", "schedule"}
        Which contract ``rule`` has.
    settings : callable
        ``settings(reference) -> keyword arguments`` bound to ``rule`` (e.g. AdamW's
        decoupled decay for the Adam variants).
    """

    id: str
    rule: Callable[..., Any]
    message: str
    applies: Callable[[Reference], bool]
    contract: str = "update"
    settings: Callable[[Reference], Mapping[str, Any]] = _always

    def rule_for(self, reference: Reference) -> Callable[..., Any]:
        """The rule as it replaces ``reference`` (its settings bound)."""
        bound = self.settings(reference)
        return functools.partial(self.rule, **bound) if bound else self.rule


def of(*optimizers: str) -> Callable[[Reference], bool]:
    """A variant of these reference optimizers."""
    return lambda reference: reference.optimizer in optimizers


def _ema_momentum(reference: Reference) -> bool:
    return (reference.optimizer == "sgd" and "momentum" in reference.names
            and not reference.hyper.get("nesterov"))


def _nesterov(reference: Reference) -> bool:
    return reference.optimizer == "sgd" and bool(reference.hyper.get("nesterov"))


def _adamw_decoupled(reference: Reference) -> Mapping[str, Any]:
    """The Adam variants of AdamW keep its decoupled decay: only their one change differs."""
    return {"decoupled": True} if reference.optimizer == "adamw" else {}


def _schedule(*schedules: str) -> Callable[[Reference], bool]:
    return lambda reference: reference.schedule in schedules


ADAM = of("adam", "adamw")

#: Every classic variant gdlab diagnoses, in the order they are tried.
VARIANTS: tuple[Variant, ...] = (
    Variant("momentum-ema", momentum_ema,
            "Your curve matches EMA momentum, v = beta*v + (1-beta)*g from v = 0: "
            "torch uses v = momentum*v + g, starting from the first gradient.",
            _ema_momentum),
    Variant("nesterov-as-heavy-ball", nesterov_as_heavy_ball,
            "Your curve matches plain heavy-ball momentum: Nesterov steps "
            "along grad + momentum*buffer, not along the buffer.",
            _nesterov),
    Variant("adam-no-bias-correction",
            functools.partial(adam_textbook, correct_m=False, correct_v=False),
            "Your curve matches Adam without bias correction: divide m by "
            "(1 - beta1**t) and v by (1 - beta2**t), counting t from 1.",
            ADAM, settings=_adamw_decoupled),
    Variant("adam-eps-inside-sqrt", functools.partial(adam_textbook, eps_inside=True),
            "Your curve matches Adam with eps inside the square root: use "
            "sqrt(v_hat) + eps, not sqrt(v_hat + eps).",
            ADAM, settings=_adamw_decoupled),
    Variant("adam-v-uncorrected", functools.partial(adam_textbook, correct_v=False),
            "Your curve matches Adam with only m bias-corrected: divide v by "
            "(1 - beta2**t) too, v_hat = v / (1 - beta2**t), before its square root.",
            ADAM, settings=_adamw_decoupled),
    Variant("adam-efficient-eps", adam_efficient_eps,
            "Your curve matches Adam in the 'efficient' form, lr_t = lr * "
            "sqrt(1 - beta2**t) / (1 - beta1**t) and params - lr_t * m / "
            "(sqrt(v) + eps), with torch's eps: in that form eps must be "
            "eps_hat = eps * sqrt(1 - beta2**t), or bias-correct m and v and use "
            "sqrt(v_hat) + eps.",
            ADAM, settings=_adamw_decoupled),
    Variant("adamw-coupled", adamw_coupled,
            "Your curve matches Adam with L2 added to the gradient: AdamW shrinks the "
            "weights directly, params * (1 - lr*weight_decay), before the Adam step.",
            of("adamw")),
    Variant("rmsprop-eps-inside-sqrt", rmsprop_eps_inside_sqrt,
            "Your curve matches RMSprop with eps inside the square root "
            "(Keras' form): use sqrt(v) + eps, not sqrt(v + eps).",
            of("rmsprop")),
    Variant("adagrad-eps-inside-sqrt", adagrad_eps_inside_sqrt,
            "Your curve matches Adagrad with eps inside the square root: "
            "use sqrt(sum) + eps, not sqrt(sum + eps).",
            of("adagrad")),
    Variant("step-decay-late", step_decay_late,
            "Your rate drops one epoch late: epoch counts from 0, and the first cut "
            "comes at epoch step_size, so use gamma ** (epoch // step_size).",
            _schedule("step"), contract="schedule"),
)


def applicable(reference: Reference, contract: str = "update") -> dict[str, Callable[..., Any]]:
    """The rules of the variants of ``reference`` with this contract, by diagnosis id.

    Examples
    --------
    >>> sorted(applicable(Reference("rmsprop")))
    ['rmsprop-eps-inside-sqrt']
    >>> list(applicable(Reference(schedule="step"), "schedule"))
    ['step-decay-late']
    """
    return {variant.id: variant.rule_for(reference) for variant in VARIANTS
            if variant.contract == contract and variant.applies(reference)}


def messages() -> dict[str, str]:
    """Every variant's sentence, by diagnosis id."""
    return {variant.id: variant.message for variant in VARIANTS}
