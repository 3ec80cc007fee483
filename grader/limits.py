"""Operational limits: the one place where gdlab decides how much work a request may ask for.

The engine itself only refuses what makes no sense (a negative learning rate, beta >= 1);
how much computing one request may cost is policy, set here with safe defaults and
overridable by the operator through environment variables (``GDLAB_MAX_EPOCHS`` ...).
The command line and the service check every request against the same :class:`Limits`,
and the service publishes them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

from grader.engine import RunSpec, SpecError
from grader.engine.run import Plan


@dataclass(frozen=True)
class Limits:
    """How much one reference run may ask for.

    Attributes
    ----------
    max_epochs : int
        Epochs per run.
    max_learning_rates : int
        Learning rates per sweep.
    max_learning_rate : float
        Largest learning rate accepted (larger ones only overflow).
    max_steps : int
        Updates per run, counting every mini-batch.
    max_work : int
        Updates x learning rates x (parameters + data points): a bound on the arithmetic
        of a whole sweep, so that big data, many rates and many epochs cannot combine.
    """

    max_epochs: int = 10_000
    max_learning_rates: int = 32
    max_learning_rate: float = 1e6
    max_steps: int = 100_000
    max_work: int = 150_000_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """Defaults overridden by ``GDLAB_<NAME>`` variables, e.g. ``GDLAB_MAX_EPOCHS=500``.

        Raises
        ------
        ValueError
            If a variable is not a positive number.
        """
        environ = os.environ if environ is None else environ
        values = {}
        for spec in fields(cls):
            raw = environ.get(f"GDLAB_{spec.name.upper()}")
            if raw is None:
                continue
            kind = int if spec.type in ("int", int) else float
            try:
                value = kind(raw)
            except ValueError:
                variable = f"GDLAB_{spec.name.upper()}"
                raise ValueError(f"{variable} must be a number, got {raw!r}") from None
            if not value > 0:
                raise ValueError(f"GDLAB_{spec.name.upper()} must be positive, got {raw!r}")
            values[spec.name] = value
        return cls(**values)

    def to_dict(self) -> dict[str, float]:
        """JSON-ready copy."""
        return asdict(self)

    def check_spec(self, spec: RunSpec) -> None:
        """Refuse a request that is too big before anything is built.

        Raises
        ------
        SpecError
            Naming the field and the limit in force.
        """
        rates = spec.learning_rates
        if isinstance(rates, list | tuple):
            if len(rates) > self.max_learning_rates:
                raise SpecError(
                    "learning_rates",
                    f"at most {self.max_learning_rates} learning rates per run, got {len(rates)}",
                )
            for i, lr in enumerate(rates):
                too_big = math.isfinite(lr) and lr > self.max_learning_rate
                if isinstance(lr, int | float) and too_big:
                    raise SpecError(
                        f"learning_rates[{i}]",
                        f"must be at most {self.max_learning_rate:g}, got {lr:g}",
                    )
        if isinstance(spec.epochs, int) and spec.epochs > self.max_epochs:
            raise SpecError(
                "epochs", f"at most {self.max_epochs} epochs per run, got {spec.epochs}"
            )

    def check_plan(self, plan: Plan) -> None:
        """Refuse a validated plan whose total work is too big (mini-batches, data size)."""
        if plan.steps > self.max_steps:
            raise SpecError(
                "epochs",
                f"{plan.spec.epochs} epochs x {plan.steps_per_epoch} batches = {plan.steps} "
                f"updates; at most {self.max_steps} per run",
            )
        size = plan.problem.dim + (plan.problem.n_samples or 0)
        work = plan.steps * len(plan.learning_rates) * size
        if work > self.max_work:
            raise SpecError(
                "epochs",
                "this run is too large (epochs x learning rates x data size); "
                "use fewer epochs, learning rates or data points",
            )
