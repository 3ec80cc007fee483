"""Operational limits: the one place where gdlab decides how much work a request may cost.

The engine itself only refuses what makes no sense (a negative learning rate, beta >= 1);
how much computing one request may cost is policy, set here with safe defaults and
overridable by the operator through environment variables: ``GDLAB_<NAME>`` for
:class:`Limits` (reference runs, e.g. ``GDLAB_MAX_EPOCHS``) and ``GDLAB_SANDBOX_<NAME>``
for :class:`SandboxLimits` (student code, e.g. ``GDLAB_SANDBOX_TIME_LIMIT``). The command
line, the sandbox and the service all read them from here.

This module is imported by the sandbox's runner, so it must not import the engine's
optimizers: the engine types are only needed for type checking.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, TypeVar

from grader.engine.options import SpecError

if TYPE_CHECKING:
    from grader.engine.runs import Plan, RunSpec

KiB = 1024
MiB = 1024 * KiB
_T = TypeVar("_T")


def _from_env(cls: type[_T], prefix: str, environ: Mapping[str, str] | None) -> _T:
    """Build ``cls`` from its defaults overridden by ``<prefix><FIELD>`` variables.

    Numeric fields must be positive numbers; text fields are taken as written.

    Raises
    ------
    ValueError
        Naming the variable, if a value is not a positive number.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for spec in fields(cls):  # type: ignore[arg-type]
        variable = f"{prefix}{spec.name.upper()}"
        raw = environ.get(variable)
        if raw is None:
            continue
        if spec.type in ("str", str):
            values[spec.name] = raw.strip()
            continue
        kind = int if spec.type in ("int", int) else float
        try:
            value = kind(raw)
        except ValueError:
            raise ValueError(f"{variable} must be a number, got {raw!r}") from None
        if not value > 0 or not math.isfinite(value):
            raise ValueError(f"{variable} must be a positive number, got {raw!r}")
        values[spec.name] = value
    return cls(**values)


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
        return _from_env(cls, "GDLAB_", environ)

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


def _default_slots() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class SandboxLimits:
    """What one job of student code may use, and how many run at once.

    Attributes
    ----------
    time_limit : float
        Wall-clock seconds per job; the runner kills the job after it.
    cpu_limit : int
        CPU seconds per job (RLIMIT_CPU).
    memory_limit : int
        Bytes of address space a job may add to what the runner already maps (RLIMIT_AS).
    output_limit : int
        Bytes of the student's printed output kept; what is printed beyond it is dropped
        (the result says so) and the job goes on: a ``print`` per step costs no points.
    output_ceiling : int
        Bytes of printed output (kept or dropped) beyond which the job is ended as
        ``output-limit``: a flood, not a little output per step. At least ``output_limit``.
    result_limit : int
        Bytes read back from one job; more ends it.
    request_limit : int
        Bytes of one job request (code and inputs).
    code_limit : int
        Bytes of source code.
    file_size_limit : int
        Largest file a job may write in its private /tmp (RLIMIT_FSIZE).
    tmp_size : int
        Size of a job's private /tmp.
    tmp_inodes : int
        Files and directories a job may create in its private /tmp (the tmpfs's
        ``nr_inodes``): without it, empty files cost no bytes and a job could pin kernel
        memory with hundreds of thousands of them.
    open_files : int
        Descriptors a job may hold (RLIMIT_NOFILE).
    slots : int
        Jobs running at once (default: the number of cores); each has its own user id.
    queue : int
        Jobs waiting for a slot; beyond that a job is refused at once as busy.
    uid_base : int
        User id of slot 0; slot i runs as ``uid_base + i``.
    require : str
        ``all`` refuses to start unless every isolation layer is available.
    niceness : int
        Scheduling niceness (1-19) of the runner and its jobs: student code yields the
        CPU to the web service.
    """

    time_limit: float = 5.0
    cpu_limit: int = 5
    memory_limit: int = 512 * MiB
    output_limit: int = 64 * KiB
    output_ceiling: int = 640 * KiB
    result_limit: int = 32 * MiB
    request_limit: int = 16 * MiB
    code_limit: int = 64 * KiB
    file_size_limit: int = 8 * MiB
    tmp_size: int = 16 * MiB
    tmp_inodes: int = 1024
    open_files: int = 64
    slots: int = field(default_factory=_default_slots)
    queue: int = 64
    uid_base: int = 61_000
    require: str = ""
    niceness: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SandboxLimits:
        """Defaults overridden by ``GDLAB_SANDBOX_<NAME>`` variables, e.g.
        ``GDLAB_SANDBOX_TIME_LIMIT=2`` or ``GDLAB_SANDBOX_REQUIRE=all``."""
        limits = _from_env(cls, "GDLAB_SANDBOX_", environ)
        if not 1 <= limits.niceness <= 19:
            raise ValueError(f"GDLAB_SANDBOX_NICENESS must be 1 to 19, got {limits.niceness}")
        if limits.require not in ("", "all"):
            raise ValueError(
                f"GDLAB_SANDBOX_REQUIRE must be 'all' or empty, got {limits.require!r}")
        return limits

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return asdict(self)


@dataclass(frozen=True)
class ServiceLimits:
    """What one client of the HTTP service may send, and how fast.

    Attributes
    ----------
    rate_limit : str
        Requests per client to the API, in Flask-Limiter's notation (``120/minute``,
        ``10/second;1000/hour``); ``off`` turns rate limiting off.
    max_request_bytes : int
        Bytes of one request body (beyond it: 413).
    max_page_size : int
        Items in one page of a listing.
    accepting_at_once : int
        Submissions one web process stores and queues at the same moment (with a job
        queue); more wait their turn (a couple of seconds at most), none is refused. In a
        deadline burst every thread of a process could otherwise be storing a submission,
        and a student's poll of their result would wait behind all of them for the
        interpreter lock. Measured on 2 cores, 1,000 POSTs from 16 clients: the p99 of
        ``GET /submissions/{id}`` while they were accepted fell from 78-89 ms (no turns)
        to 36-42 ms (one), and the burst was accepted sooner (6.4 s instead of 8-10 s).
    """

    rate_limit: str = "120/minute"
    max_request_bytes: int = 2 * MiB
    max_page_size: int = 200
    accepting_at_once: int = 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceLimits:
        """Defaults overridden by ``GDLAB_<NAME>`` variables, e.g. ``GDLAB_RATE_LIMIT=off``.

        Raises
        ------
        ValueError
            If a number is not positive, or the rate limit is not in the notation.
        """
        limits = _from_env(cls, "GDLAB_", environ)
        if not RATE_LIMIT_PATTERN.fullmatch(limits.rate_limit):
            raise ValueError(
                f"GDLAB_RATE_LIMIT must be like '120/minute' or '10/second;1000/hour', "
                f"or 'off'; got {limits.rate_limit!r}")
        return limits

    @property
    def rate_limited(self) -> bool:
        """Whether requests are rate limited at all."""
        return self.rate_limit != "off"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return asdict(self)


_RATE = r"\s*\d+\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day|month|year)s?\s*"
#: A rate limit setting: ``off``, or one or more rates separated by ``;`` or ``,``.
RATE_LIMIT_PATTERN = re.compile(rf"off|{_RATE}([;,]{_RATE})*")
