"""What an exercise is, once its folder has been read and checked."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import kinds
from grader.engine.options import SpecError
from grader.engine.runs import Component, RunSpec
from grader.sandbox.static import Contract


def substitute(template: Mapping[str, Any], hyper: Mapping[str, Any], where: str) -> dict:
    """Replace every ``"$name"`` value of ``template`` by ``hyper[name]``.

    Raises
    ------
    SpecError
        When a ``$name`` is not among the case's hyper-parameters.

    Examples
    --------
    >>> substitute({"beta1": "$beta1", "amsgrad": False}, {"beta1": 0.8}, "reference.hyper")
    {'beta1': 0.8, 'amsgrad': False}
    """
    resolved = {}
    for key, value in template.items():
        if isinstance(value, str) and value.startswith("$"):
            name = value[1:]
            if name not in hyper:
                raise SpecError(f"{where}.{key}", f"refers to ${name}, which the case's hyper "
                                "table does not define")
            resolved[key] = hyper[name]
        else:
            resolved[key] = value
    return resolved


@dataclass(frozen=True)
class Case:
    """One problem set-up an exercise grades on: a problem, a start, learning rates and
    hyper-parameters. Visible cases are shown in detail; hidden ones only as an aggregate."""

    name: str
    visible: bool
    problem: str
    learning_rates: tuple[float, ...]
    epochs: int
    problem_options: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    x0: tuple[float, ...] | None = None
    init: str = "shared"
    hyper: dict[str, Any] = field(default_factory=dict)
    batch_size: int | None = None

    def describe(self) -> dict[str, Any]:
        """JSON-ready, for the student (visible cases only)."""
        return {
            "name": self.name,
            "problem": self.problem,
            "problem_options": self.problem_options,
            "seed": self.seed,
            "x0": None if self.x0 is None else list(self.x0),
            "learning_rates": list(self.learning_rates),
            "epochs": self.epochs,
            "hyper": self.hyper,
            "batch_size": self.batch_size,
        }


@dataclass(frozen=True)
class Reference:
    """What an exercise is graded against: an engine optimizer and components whose
    settings may refer to a case's hyper-parameters as ``"$name"``."""

    optimizer: str = "sgd"
    hyper: dict[str, Any] = field(default_factory=dict)
    schedule: dict[str, Any] = field(default_factory=lambda: {"name": "constant"})
    regularizer: dict[str, Any] = field(default_factory=lambda: {"name": "none"})
    clip: dict[str, Any] = field(default_factory=lambda: {"name": "none"})

    def component(self, part: str, hyper: Mapping[str, Any]) -> Component:
        """The schedule, regulariser or clipping of a case, with ``$names`` filled in."""
        spec = getattr(self, part)
        options = substitute(spec.get("options", {}), hyper, f"reference.{part}.options")
        return Component(spec["name"], options)


@dataclass(frozen=True)
class Mistake:
    """A known wrong solution and what grading it must produce."""

    file: str
    source: str
    diagnosis: str
    max_score: float


@dataclass(frozen=True)
class Scoring:
    """Tolerances of the step-by-step comparison and the weights of the score's parts."""

    atol: float = 1e-9
    rtol: float = 1e-7
    agreement: float = 0.6
    outcome: float = 0.2
    progress: float = 0.2

    def __post_init__(self) -> None:
        total = self.agreement + self.outcome + self.progress
        if not math.isclose(total, 1.0, rel_tol=1e-9):
            raise ValueError(f"the weights must add up to 1, they add up to {total:g}")


@dataclass(frozen=True)
class Exercise:
    """An exercise, checked: its statement, code files, cases, reference and scoring."""

    id: str
    title: str
    version: int
    kind: str
    summary: str
    statement: str
    starter: str
    solution: str
    cases: tuple[Case, ...]
    reference: Reference
    scoring: Scoring
    mistakes: tuple[Mistake, ...] = ()
    diagnoses: dict[str, str] = field(default_factory=dict)
    directory: Path | None = None
    order: int | None = None

    @property
    def entry(self) -> str:
        """The function the student writes."""
        return kinds.get(self.kind).entry

    @property
    def hyper_names(self) -> tuple[str, ...]:
        """Every hyper-parameter any case passes (the student must accept them all)."""
        names: dict[str, None] = {}
        for case in self.cases:
            names.update(dict.fromkeys(case.hyper))
        return tuple(names)

    def contract(self) -> Contract:
        """How the student's function is called (its kind's contract)."""
        return kinds.get(self.kind).contract(self.hyper_names)

    @property
    def visible_cases(self) -> tuple[Case, ...]:
        """The cases a student sees in detail."""
        return tuple(case for case in self.cases if case.visible)

    def reference_spec(self, case: Case) -> RunSpec:
        """The engine run that is the reference for ``case``.

        Raises
        ------
        SpecError
            If the exercise's reference does not fit the case.
        """
        hyper = dict(case.hyper)
        problem_options = substitute(case.problem_options, hyper, "problem_options")
        optimizer, optimizer_hyper = kinds.get(self.kind).reference_optimizer(self, hyper)
        return RunSpec(
            problem=case.problem,
            problem_options=problem_options,
            optimizer=optimizer,
            hyper=optimizer_hyper,
            learning_rates=list(case.learning_rates),
            epochs=case.epochs,
            init=case.init,
            seed=case.seed,
            x0=case.x0,
            schedule=self.reference.component("schedule", hyper),
            regularizer=self.reference.component("regularizer", hyper),
            clip=self.reference.component("clip", hyper),
            batch_size=case.batch_size,
        )

    def describe(self, *, full: bool = False) -> dict[str, Any]:
        """JSON-ready: what a student may see (never hidden cases, never the solution)."""
        data: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "version": self.version,
            "kind": self.kind,
            "summary": self.summary,
        }
        if full:
            contract = self.contract()
            data.update({
                "statement": self.statement,
                "starter": self.starter,
                "contract": {"entry": contract.entry, "signature": contract.signature(),
                             "hyper": list(self.hyper_names)},
                "visible_cases": [case.describe() for case in self.visible_cases],
                "hidden_cases": len(self.cases) - len(self.visible_cases),
                "scoring": {"atol": self.scoring.atol, "rtol": self.scoring.rtol,
                            "weights": {"agreement": self.scoring.agreement,
                                        "outcome": self.scoring.outcome,
                                        "progress": self.scoring.progress}},
            })
        return data


def course_position(exercise: Exercise) -> tuple[bool, int, str]:
    """The sort key of the course order: by ``order``, then by id; unordered ones last.

    Examples
    --------
    >>> from types import SimpleNamespace as E
    >>> found = [E(id="zeta", order=None), E(id="b", order=20), E(id="a", order=None),
    ...          E(id="c", order=10)]
    >>> [e.id for e in sorted(found, key=course_position)]
    ['c', 'b', 'a', 'zeta']
    """
    return (exercise.order is None, exercise.order or 0, exercise.id)
