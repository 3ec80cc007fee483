"""Regularisers and gradient clipping: the changes to a plain update that courses teach.

A regulariser is part of the objective: its penalty is added to the recorded loss, and it
changes the update in one of three places (semantics doc, section 3):

- ``l2`` (coupled): ``g += lam*theta``; penalty ``lam/2 * ||theta||^2``.
- ``decoupled`` weight decay: ``theta *= 1 - lr*lam`` before the optimizer's step, as
  AdamW does; same penalty. For plain SGD it equals ``l2``; with momentum or an adaptive
  method it does not.
- ``l1`` (subgradient): ``g += lam*sign(theta)`` with ``sign(0) = 0``; penalty
  ``lam * ||theta||_1``.
- ``l1-prox`` (ISTA): after the step, ``theta = sign(z) * max(|z| - lr*lam, 0)``: exact
  zeros; same penalty.

Clipping acts on the gradient before the optimizer sees it (after the regulariser's
gradient term, as when the penalty is part of the loss in torch):

- ``value``: ``g = clip(g, -clip_value, clip_value)`` (``clip_grad_value_``);
- ``norm``: ``g *= min(max_norm / (||g||_2 + 1e-6), 1)`` (``clip_grad_norm_``), the norm
  over all parameters of one row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from grader.engine.options import Option, check_name, resolve_options

Array = npt.NDArray[np.float64]

REGULARIZER_NAMES = ("none", "l2", "decoupled", "l1", "l1-prox")
_REGULARIZER_HELP = {
    "none": "No regularisation.",
    "l2": "Coupled L2: add lam*theta to the gradient; penalty lam/2*||theta||^2.",
    "decoupled": "Decoupled weight decay: theta *= 1 - lr*lam before each step.",
    "l1": "L1 by subgradient: add lam*sign(theta) to the gradient; penalty lam*||theta||_1.",
    "l1-prox": "L1 by proximal step (ISTA): soft-threshold by lr*lam after each step.",
}
_LAM = Option("lam", float, None, low=0, high=1e6, help="regularisation strength")


@dataclass(frozen=True)
class Regularizer:
    """A regulariser with its strength; ``none`` changes nothing.

    Examples
    --------
    >>> r = Regularizer("l1-prox", 0.5)
    >>> r.after_step(np.array([0.3, -2.0]), 1.0)
    array([ 0. , -1.5])
    """

    kind: str = "none"
    lam: float = 0.0

    @property
    def active(self) -> bool:
        """True when the regulariser changes anything."""
        return self.kind != "none" and self.lam != 0

    @property
    def is_l2(self) -> bool:
        """True for the two forms of L2 (same penalty, same minimum for plain GD)."""
        return self.kind in ("l2", "decoupled")

    def penalty(self, theta: Array) -> Array | float:
        """The term added to the recorded loss, per row."""
        if not self.active:
            return 0.0
        if self.is_l2:
            return 0.5 * self.lam * np.add.reduce(theta * theta, axis=-1)
        return self.lam * np.add.reduce(np.abs(theta), axis=-1)

    def gradient(self, grad: Array, theta: Array) -> Array:
        """The loss gradient plus the penalty's (sub)gradient where it enters there."""
        if self.active and self.kind == "l2":
            return grad + self.lam * theta
        if self.active and self.kind == "l1":
            return grad + self.lam * np.sign(theta)
        return grad

    def before_step(self, theta: Array, lr: Array | float) -> Array:
        """Decoupled decay shrinks the parameters before the optimizer's step."""
        if self.active and self.kind == "decoupled":
            return theta * (1 - lr * self.lam)
        return theta

    def after_step(self, theta: Array, lr: Array | float) -> Array:
        """The proximal step of L1: soft-thresholding, which makes exact zeros."""
        if self.active and self.kind == "l1-prox":
            return np.sign(theta) * np.maximum(np.abs(theta) - lr * self.lam, 0.0)
        return theta

    def describe(self) -> dict[str, Any]:
        """JSON-ready: name, options, one line of help."""
        options = {} if self.kind == "none" else {"lam": self.lam}
        return {"name": self.kind, "options": options, "help": _REGULARIZER_HELP[self.kind]}


def make_regularizer(name: str, options: Mapping[str, Any] | None) -> Regularizer:
    """Build a regulariser by name with validated options (``lam``, required)."""
    check_name("regularizer", "regulariser", name, REGULARIZER_NAMES)
    if name == "none":
        resolve_options("regularizer", (), options)
        return Regularizer()
    return Regularizer(name, resolve_options("regularizer", (_LAM,), options)["lam"])


# --- clipping ----------------------------------------------------------------------


def clip_by_value(grad: Array, *, clip_value: float) -> Array:
    """Clamp each coordinate to ``[-clip_value, clip_value]`` (torch's clip_grad_value_)."""
    return np.clip(grad, -clip_value, clip_value)


def clip_by_norm(grad: Array, *, max_norm: float) -> Array:
    """Rescale each row to global 2-norm at most ``max_norm``, torch's formula:
    ``g * min(max_norm / (||g|| + 1e-6), 1)``."""
    total = np.sqrt(np.add.reduce(grad * grad, axis=-1, keepdims=True))
    return grad * np.minimum(max_norm / (total + 1e-6), 1.0)


def no_clip(grad: Array) -> Array:
    """Leave the gradient as it is."""
    return grad


CLIPS: dict[str, tuple[tuple[Option, ...], Callable[..., Array], str]] = {
    "none": ((), no_clip, "No clipping."),
    "value": (
        (Option("clip_value", float, None, low=0, low_open=True, help="largest |g_i|"),),
        clip_by_value,
        "Clamp each gradient coordinate (clip_grad_value_).",
    ),
    "norm": (
        (Option("max_norm", float, None, low=0, low_open=True, help="largest ||g||_2"),),
        clip_by_norm,
        "Rescale the gradient to a maximum global norm (clip_grad_norm_).",
    ),
}


@dataclass(frozen=True)
class Clip:
    """Gradient clipping by name with its validated options."""

    kind: str = "none"
    options: Mapping[str, float] | None = None

    def __call__(self, grad: Array) -> Array:
        """The clipped gradient."""
        return CLIPS[self.kind][1](grad, **(self.options or {}))

    def describe(self) -> dict[str, Any]:
        """JSON-ready: name, options, one line of help."""
        return {"name": self.kind, "options": dict(self.options or {}), "help": CLIPS[self.kind][2]}


def make_clip(name: str, options: Mapping[str, Any] | None) -> Clip:
    """Build gradient clipping by name (``none``, ``value``, ``norm``) with checked options."""
    check_name("clip", "clipping", name, list(CLIPS))
    return Clip(name, resolve_options("clip", CLIPS[name][0], options))
