"""The reference-run store: sweeps of the engine asked for over the API or the explorer
page, kept by their canonical request, so that asking again (in any spelling that means
the same run) costs a lookup. No HTTP here: :mod:`service.operations` is what the API
(``service/api/reference.py``) and the pages call."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
import zlib
from dataclasses import dataclass
from typing import Any

from grader.engine import Component, RunSpec, plan_run
from grader.engine.runs import ENGINE_VERSION, SweepResult, execute
from grader.limits import Limits
from grader.plots import plot_sweep
from service.db import Database
from service.models import Plot, ReferenceRun, utcnow
from service.plots import kept_plot

_COMPONENTS = ("schedule", "regularizer", "clip")


@dataclass(frozen=True)
class Stored:
    """A reference run as kept: its id, canonical request and result."""

    id: str
    request: dict[str, Any]
    result: dict[str, Any]
    cached: bool


def spec_from(data: dict[str, Any]) -> RunSpec:
    """A :class:`RunSpec` from a validated request (or a canonical one): absent or null
    fields take the engine's defaults (the course example's)."""
    given = {name: value for name, value in data.items()
             if value is not None and name not in _COMPONENTS
             and name not in ("engine", "problem_fingerprint")}
    for name in _COMPONENTS:
        if data.get(name) is not None:
            given[name] = Component(data[name]["name"], dict(data[name].get("options") or {}))
    return RunSpec(**given)


def run_id(canonical: dict[str, Any]) -> str:
    """The id of a run: a hash of its canonical request."""
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _stored(run: ReferenceRun, cached: bool) -> Stored:
    return Stored(run.id, json.loads(run.request), json.loads(zlib.decompress(run.result)),
                  cached)


def run_reference(db: Database, limits: Limits, data: dict[str, Any]) -> Stored:
    """Run the sweep ``data`` asks for, or find it already kept.

    Raises
    ------
    SpecError
        For anything the engine or the limits refuse (naming the field).
    """
    spec = spec_from(data)
    limits.check_spec(spec)
    plan = plan_run(spec)
    limits.check_plan(plan)
    canonical = plan.canonical()
    key = run_id(canonical)
    with db.session() as session:
        kept = session.get(ReferenceRun, key)
        if kept is not None:
            return _stored(kept, cached=True)
    started = time.perf_counter()
    result = execute(plan).to_dict()
    elapsed = (time.perf_counter() - started) * 1000
    text = json.dumps(result, allow_nan=False)
    with db.session() as session:
        if session.get(ReferenceRun, key) is None:
            session.add(ReferenceRun(
                id=key, request=json.dumps(canonical), result=zlib.compress(text.encode(), 6),
                engine_version=ENGINE_VERSION, created_at=utcnow(), compute_ms=elapsed))
    return Stored(key, canonical, result, cached=False)


def find(db: Database, key: str) -> Stored | None:
    """A kept run by id."""
    with db.session() as session:
        kept = session.get(ReferenceRun, key)
        return None if kept is None else _stored(kept, cached=True)


def sweep_of(stored: Stored) -> SweepResult:
    """The engine's result of a kept run, computed again (deterministic) for drawing."""
    return execute(plan_run(spec_from(stored.request)))


def plot(db: Database, stored: Stored, fmt: str) -> Plot:
    """The run's plot as ``fmt``, drawn on first request and kept."""
    return kept_plot(db, f"reference:{stored.id}:{fmt}", fmt,
                     lambda: plot_sweep(sweep_of(stored), fmt))


def to_csv(stored: Stored) -> str:
    """One row per learning rate and recorded step: lr, step, loss, then each parameter."""
    result = stored.result
    names = result["problem_info"]["param_names"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["lr", "step", "loss", *names])
    for run in result["runs"]:
        for step, (loss, params) in enumerate(zip(run["losses"], run["params"], strict=True)):
            writer.writerow([repr(run["lr"]), step, repr(loss), *map(repr, params)])
    return out.getvalue()
