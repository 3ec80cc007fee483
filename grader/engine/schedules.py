"""Learning-rate schedules: torch.optim.lr_scheduler's, in closed form.

Epoch ``e`` (counted from 0) trains with ``lr(e)``; as in torch, the scheduler steps once
per epoch, after the optimizer. Every schedule takes the initial rate ``lr0`` as an array
(one entry per learning rate of a sweep) and returns the rate for epoch ``e``. Torch
updates most schedules recursively; these closed forms agree with it to float64 rounding
(golden tests in ``tests/engine/test_torch_golden.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from grader.engine.options import Option, lookup, resolve_options

Array = npt.NDArray[np.float64]


def constant(lr0: Array, epoch: int) -> Array:
    """The same rate every epoch."""
    return lr0


def step_decay(lr0: Array, epoch: int, *, step_size: int, gamma: float = 0.1) -> Array:
    """StepLR: multiply by ``gamma`` every ``step_size`` epochs."""
    return lr0 * gamma ** (epoch // step_size)


def exponential(lr0: Array, epoch: int, *, gamma: float) -> Array:
    """ExponentialLR: multiply by ``gamma`` every epoch."""
    return lr0 * gamma**epoch


def cosine(lr0: Array, epoch: int, *, T_max: int, eta_min: float = 0.0) -> Array:
    """CosineAnnealingLR: half a cosine from ``lr0`` down to ``eta_min`` over ``T_max``
    epochs. Not clamped, as in torch: past ``T_max`` it rises again (period ``2*T_max``)."""
    return eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * epoch / T_max)) / 2


def warmup(
    lr0: Array,
    epoch: int,
    *,
    start_factor: float = 1 / 3,
    end_factor: float = 1.0,
    total_iters: int = 5,
) -> Array:
    """LinearLR: the factor goes linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` epochs, then stays."""
    progress = min(epoch, total_iters) / total_iters
    return lr0 * (start_factor + (end_factor - start_factor) * progress)


def inverse_time(lr0: Array, epoch: int, *, k: float) -> Array:
    """Inverse-time decay (LambdaLR with ``1 / (1 + k*e)``)."""
    return lr0 / (1 + k * epoch)


@dataclass(frozen=True)
class ScheduleDef:
    """A schedule in the catalog: its name, options and closed form ``rate(lr0, e, **opts)``."""

    name: str
    summary: str
    options: tuple[Option, ...]
    rate: Callable[..., Array]

    def resolve(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validated options with defaults filled in."""
        return resolve_options("schedule", self.options, options)


_GAMMA_HELP = "multiplicative factor"
SCHEDULES: dict[str, ScheduleDef] = {
    s.name: s
    for s in (
        ScheduleDef("constant", "The same learning rate every epoch.", (), constant),
        ScheduleDef(
            "step",
            "Multiply by gamma every step_size epochs (StepLR).",
            (
                Option("step_size", int, None, low=1, help="epochs between decays"),
                Option("gamma", float, 0.1, low=0, low_open=True, high=10, help=_GAMMA_HELP),
            ),
            step_decay,
        ),
        ScheduleDef(
            "exponential",
            "Multiply by gamma every epoch (ExponentialLR).",
            (Option("gamma", float, None, low=0, low_open=True, high=10, help=_GAMMA_HELP),),
            exponential,
        ),
        ScheduleDef(
            "cosine",
            "Cosine annealing to eta_min over T_max epochs (CosineAnnealingLR).",
            (
                Option("T_max", int, None, low=1, help="epochs of half a cosine period"),
                Option("eta_min", float, 0.0, low=0, help="lowest learning rate"),
            ),
            cosine,
        ),
        ScheduleDef(
            "warmup",
            "Linear warm-up of the factor from start_factor to end_factor (LinearLR).",
            (
                Option("start_factor", float, 1 / 3, low=0, low_open=True, high=1, help="first"),
                Option("end_factor", float, 1.0, low=0, high=1, help="factor after warm-up"),
                Option("total_iters", int, 5, low=1, help="epochs of warm-up"),
            ),
            warmup,
        ),
        ScheduleDef(
            "inverse-time",
            "Divide by (1 + k*epoch) (LambdaLR).",
            (Option("k", float, None, low=0, help="decay rate"),),
            inverse_time,
        ),
    )
}


def get_schedule(name: str) -> ScheduleDef:
    """The catalog entry for ``name``, or :class:`SpecError` listing the known ones."""
    return lookup("schedule", "schedule", SCHEDULES, name)


def rates_by_epoch(
    schedule: ScheduleDef, options: Mapping[str, Any], lr0: Array, epochs: int
) -> Array:
    """The learning rate of every epoch: shape ``(epochs, *lr0.shape)``."""
    return np.stack([schedule.rate(lr0, epoch, **options) for epoch in range(epochs)])
