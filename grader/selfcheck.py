"""An exercise's self-test: its own files must be graded as its author says.

- ``solution.py`` scores 100 (and gets no diagnosis);
- every ``mistakes/*.py`` gets its diagnosis and stays at or under its score ceiling;
- ``starter.py`` runs and scores below 100;
- the **hidden cases alone** separate every known mistake from the reference (see
  :func:`hidden_separation`).

``gdlab exercises check`` runs this for every exercise, and so does CI.

Why the hidden cases must separate on their own: a student sees the visible case in
detail, so a rule can be tuned (or hard-wired) to follow the reference there and do
something else everywhere else. Only the hidden runs can catch that, and they can catch a
mistake only if, on them, the mistake's trajectories leave the reference's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from grader import kinds
from grader.catalog import Exercise
from grader.grading import Grader, GradeResult
from grader.kinds.update_rule import in_process
from grader.preparation import PreparedExercise

Array = npt.NDArray[np.float64]

#: A known mistake is separated by the hidden cases when it leaves the reference on at
#: least this share of the hidden runs, and when a *visible-only cheat* built from it (a
#: rule that follows the reference on the visible runs and makes the mistake on the hidden
#: ones, as a rule hard-wired to the visible case would) scores no more than the mistake's
#: ceiling: its ``max_score`` in ``exercise.toml``, or for a catalog variant with no
#: file of its own, :data:`CATALOG_CEILING`. A ceiling under :data:`CHEAT_FLOOR` counts
#: as the floor: such a mistake is also wrong on the visible case, where the cheat is not,
#: so the cheat is only held under a pass.
HIDDEN_RUNS_APART = 0.5
CATALOG_CEILING = 80.0
CHEAT_FLOOR = 50.0
#: A rule that does nothing off the visible case (all hard-wiring, no attempt) must score
#: well under a pass: the visible runs alone must not be worth more than this.
NOTHING_CEILING = 40.0


@dataclass(frozen=True)
class Check:
    """One file's check: what was expected, what came out, whether it passed."""

    exercise: str
    file: str
    passed: bool
    expected: str
    got: str

    def line(self) -> str:
        """One line for a terminal."""
        mark = "ok  " if self.passed else "FAIL"
        return f"{mark} {self.exercise}/{self.file}: {self.got}" + (
            "" if self.passed else f" (expected {self.expected})")


@dataclass(frozen=True)
class Separation:
    """How the hidden runs alone tell one known mistake from the reference.

    ``hidden_scores``: the mistake's score on each hidden run; ``visible``: how many
    visible runs the exercise has (a visible-only cheat gets 100 on each).
    """

    mistake: str
    apart: int
    hidden_scores: tuple[float, ...]
    visible: int
    allowed: float

    @property
    def hidden(self) -> int:
        """How many hidden runs there are."""
        return len(self.hidden_scores)

    @property
    def cheat_score(self) -> float:
        """The score of a rule that follows the reference on the visible runs and makes
        this mistake on the hidden ones."""
        total = 100 * self.visible + sum(self.hidden_scores)
        return round(total / (self.visible + self.hidden), 2)

    @property
    def separated(self) -> bool:
        """True when enough hidden runs leave the reference, and the visible-only cheat
        stays at or under the mistake's ceiling."""
        return (self.hidden > 0 and self.apart >= HIDDEN_RUNS_APART * self.hidden
                and self.cheat_score <= self.allowed)

    def describe(self) -> str:
        """E.g. ``mistakes/ascent.py (apart on 8/8 hidden runs, visible-only cheat 33.33,
        allowed 50)``."""
        return (f"{self.mistake} (apart on {self.apart}/{self.hidden} hidden runs, "
                f"visible-only cheat {self.cheat_score:g}, allowed {self.allowed:g})")


def _summary(result: GradeResult) -> str:
    ids = ", ".join(d.id for d in result.diagnosis) or "no diagnosis"
    return f"score {result.score:g}, {ids}"


def separation(prepared: PreparedExercise, name: str, trajectories: Sequence[Array | None],
               allowed: float) -> Separation:
    """How the hidden runs of ``prepared`` tell a rule with these trajectories (one per
    run, None where it failed) from the reference."""
    scores = [prepared.score(run, theirs)[1]
              for run, theirs in zip(prepared.runs, trajectories, strict=True)
              if not run.case.visible]
    visible = sum(run.case.visible for run in prepared.runs)
    return _separation(name, [(score.verdict, score.score) for score in scores], visible,
                       allowed)


def _separation(name: str, hidden: Sequence[tuple[str, float]], visible: int,
                allowed: float) -> Separation:
    """From the verdict and score of each hidden run."""
    apart = sum(verdict != "match" for verdict, _ in hidden)
    return Separation(name, apart, tuple(score for _, score in hidden), visible, allowed)


def _nothing(params: Array, grad: Array, lr: float, state: dict, **hyper: object) -> Array:
    return params.copy()


def catalog_mistakes(prepared: PreparedExercise) -> dict[str, list[Array | None]]:
    """The trajectories of gdlab's generic wrong rules that apply to the exercise, by
    name: ``no-op`` for every kind (parameters that never move: an update that returns
    them, a zero gradient, a zero learning rate), and the kind's own
    (:meth:`grader.kinds.base.Kind.trusted_mistakes`: for an update rule, every candidate
    of diagnosis; for a gradient, the wrong sign). A rule that follows the reference on
    every run, visible ones included, is the reference here (e.g. ``state-reset`` for a
    stateless rule) and is left out."""
    exercise = prepared.exercise
    rules = {"no-op": _nothing} | kinds.get(exercise.kind).trusted_mistakes(exercise)
    found = {}
    for name, rule in rules.items():
        trajectories = in_process(rule, prepared.runs)
        if any(prepared.score(run, theirs)[1].verdict != "match"
               for run, theirs in zip(prepared.runs, trajectories, strict=True)):
            found[name] = trajectories
    return found


def hidden_separation(grader: Grader, exercise: Exercise,
                      graded: dict[str, GradeResult] | None = None) -> list[Separation]:
    """For every known mistake of ``exercise`` (its ``mistakes/`` files, run in the
    sandbox, and :func:`catalog_mistakes`), how its hidden runs alone tell it from the
    reference. ``graded``: the mistakes' results when already graded, by file name."""
    prepared = grader.prepare(exercise)
    graded = graded or {}
    ceilings = {m.diagnosis: max(m.max_score, CHEAT_FLOOR) for m in sorted(
        exercise.mistakes, key=lambda m: m.max_score, reverse=True)}
    ceilings["no-op"] = NOTHING_CEILING
    found = []
    for mistake in exercise.mistakes:
        result = graded.get(mistake.file) or grader.grade(exercise, mistake.source)
        found.append(_separation(
            f"mistakes/{mistake.file}",
            [(run.verdict, run.score) for run in result.runs if not run.visible],
            len(result.visible_runs), max(mistake.max_score, CHEAT_FLOOR)))
    for name, trajectories in catalog_mistakes(prepared).items():
        found.append(separation(prepared, f"catalog {name}", trajectories,
                                ceilings.get(name, CATALOG_CEILING)))
    return found


def separation_check(exercise: Exercise, separations: Sequence[Separation]) -> Check:
    """The one :class:`Check` line of an exercise's hidden-case separation."""
    missed = [s for s in separations if not s.separated]
    got = (f"hidden cases separate {len(separations) - len(missed)}/{len(separations)} "
           "known mistakes")
    if missed:
        got += "; not separated: " + "; ".join(s.describe() for s in missed)
    return Check(exercise.id, "hidden cases", not missed,
                 f"each apart on >= {HIDDEN_RUNS_APART:.0%} of the hidden runs, and a "
                 "rule right on the visible runs only and making it elsewhere at or under "
                 "its ceiling", got)


def check_exercise(grader: Grader, exercise: Exercise) -> list[Check]:
    """Grade the exercise's solution, starter and mistakes, and check that its hidden cases
    separate every known mistake; one :class:`Check` each."""
    checks = []
    solution = grader.grade(exercise, exercise.solution)
    checks.append(Check(exercise.id, "solution.py",
                        solution.score == 100 and not solution.diagnosis,
                        "score 100, no diagnosis", _summary(solution)))
    starter = grader.grade(exercise, exercise.starter)
    checks.append(Check(exercise.id, "starter.py",
                        starter.score < 100 and starter.sandbox_verdict in ("ok", "error"),
                        "runs, score below 100", _summary(starter)))
    graded = {}
    for mistake in exercise.mistakes:
        result = graded[mistake.file] = grader.grade(exercise, mistake.source)
        diagnosed = mistake.diagnosis in {d.id for d in result.diagnosis}
        checks.append(Check(
            exercise.id, f"mistakes/{mistake.file}",
            diagnosed and result.score <= mistake.max_score,
            f"{mistake.diagnosis}, score <= {mistake.max_score:g}", _summary(result)))
    checks.append(separation_check(exercise, hidden_separation(grader, exercise, graded)))
    return checks
